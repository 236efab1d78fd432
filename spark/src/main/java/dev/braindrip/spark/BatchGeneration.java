package dev.braindrip.spark;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.struct;
import static org.apache.spark.sql.functions.to_json;

import dev.braindrip.generate.JsonlBatch;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import org.apache.spark.Partitioner;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.util.LongAccumulator;
import scala.Tuple2;

/**
 * Batch generation over Spark datasets (docs/spark.md), the API under
 * {@link BatchGenerate}: requests in, {@link OutputRows} out, one row per request, in request
 * order, each row the same as {@code braindrip generate} writes for that line.
 *
 * <p>A request is {@code (index, line, request)}: its position among the input's JSON lines
 * (0-based: a line without {@code seed} samples with {@code seed + index}, as in the CLI, so a row
 * does not depend on its partition or on the rows it is batched with), its line number for error
 * messages, and the request as a JSON object text. {@link #readJsonl} and {@link #requestsOf} make
 * them from a JSONL file or from any dataset with CLI.md's columns (Parquet, or your own).
 */
public final class BatchGeneration {
    private BatchGeneration() {}

    /** The columns of a request dataset. */
    public static final StructType REQUESTS = new StructType(new StructField[] {
            DataTypes.createStructField("index", DataTypes.LongType, false),
            DataTypes.createStructField("line", DataTypes.LongType, false),
            DataTypes.createStructField("request", DataTypes.StringType, false)});

    /**
     * The requests of JSONL files (a file, directory or glob; several files count on in name
     * order): one per non-blank line, numbered as the CLI numbers them. Lines are kept as text, so
     * a malformed one reaches the generation and becomes an error row there.
     */
    public static Dataset<Row> readJsonl(SparkSession spark, String path) {
        JavaRDD<Row> rows = numbered(spark.read().textFile(path).javaRDD(), new long[1]).map(t -> RowFactory.create(t._1(), t._2()._1(), t._2()._2()));
        return spark.createDataFrame(rows, REQUESTS);
    }

    /**
     * The non-blank lines as {@code (index, (line number, text))}, numbered as the CLI numbers
     * them, with one Spark job that counts each partition's lines (two {@code zipWithIndex} ran
     * two); {@code total[0]} gets the number of requests.
     */
    static JavaPairRDD<Long, Tuple2<Long, String>> numbered(JavaRDD<String> lines, long[] total) {
        List<long[]> counts = lines.mapPartitions(it -> {
            long all = 0, requests = 0;
            for (; it.hasNext(); all++) {
                if (!JsonlBatch.isBlank(it.next())) requests++;
            }
            return List.of(new long[] {all, requests}).iterator();
        }).collect(); // in partition order
        long[] firstLine = new long[counts.size()], firstIndex = new long[counts.size()];
        long line = 0, index = 0;
        for (int p = 0; p < counts.size(); p++) {
            firstLine[p] = line;
            firstIndex[p] = index;
            line += counts.get(p)[0];
            index += counts.get(p)[1];
        }
        total[0] = index;
        return JavaPairRDD.fromJavaRDD(lines.mapPartitionsWithIndex((p, it) -> new Iterator<Tuple2<Long, Tuple2<Long, String>>>() {
            long nextLine = firstLine[p], nextIndex = firstIndex[p];
            String ahead; // the next non-blank line, read ahead
            long aheadLine;

            @Override
            public boolean hasNext() {
                while (ahead == null && it.hasNext()) {
                    String s = it.next();
                    nextLine++;
                    if (!JsonlBatch.isBlank(s)) {
                        ahead = s;
                        aheadLine = nextLine;
                    }
                }
                return ahead != null;
            }

            @Override
            public Tuple2<Long, Tuple2<Long, String>> next() {
                if (!hasNext()) throw new java.util.NoSuchElementException();
                Tuple2<Long, Tuple2<Long, String>> t = new Tuple2<>(nextIndex++, new Tuple2<>(aheadLine, ahead));
                ahead = null;
                return t;
            }
        }, true));
    }

    /**
     * Request index to partition when the number of requests is known: consecutive ranges of equal
     * size, so part files come out in request order without sampling the keys (RangePartitioner's
     * extra job). A pure function of the index, as a retried shuffle needs.
     */
    static final class IndexPartitioner extends Partitioner {
        private static final long serialVersionUID = 1L;
        private final int partitions;
        private final long total;

        IndexPartitioner(int partitions, long total) {
            this.partitions = partitions;
            this.total = total;
        }

        @Override
        public int numPartitions() {
            return partitions;
        }

        @Override
        public int getPartition(Object key) {
            long i = (Long) key;
            return total == 0 ? 0 : (int) Math.min(partitions - 1, i * partitions / total);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof IndexPartitioner x && x.partitions == partitions && x.total == total;
        }

        @Override
        public int hashCode() {
            return Long.hashCode(total) * 31 + partitions;
        }
    }

    /**
     * The requests of a dataset whose columns are CLI.md's fields ({@code id}, one of
     * {@code prompt}, {@code tokens}, {@code messages}, optional sampling fields; a null column
     * counts as absent), in the dataset's order; {@code line} is the row's 1-based position.
     */
    public static Dataset<Row> requestsOf(Dataset<Row> input) {
        Dataset<String> json = input.select(to_json(struct(col("*")))).as(Encoders.STRING());
        JavaRDD<Row> rows = json.javaRDD().zipWithIndex().map(t -> RowFactory.create(t._2(), t._2() + 1, t._1()));
        return input.sparkSession().createDataFrame(rows, REQUESTS);
    }

    /** Generates for a dataset with CLI.md's columns: {@link #requestsOf} then {@link #generateRequests}. */
    public static Dataset<Row> generate(Dataset<Row> input, GenerateSpec spec) {
        return generateRequests(requestsOf(input), spec);
    }

    /**
     * Output rows for requests: range-partitioned by index into {@code spec.partitions()} (0: the
     * default parallelism), each partition generated in order by its executor's engine, so the
     * partitions hold consecutive rows and a writer's part files come out in request order.
     * Lazy, like any transformation; every action on it generates again (cache it, or write it once).
     */
    public static Dataset<Row> generateRequests(Dataset<Row> requests, GenerateSpec spec) {
        return generateRequests(requests, spec, null, null);
    }

    /**
     * {@link #generateRequests(Dataset, GenerateSpec)} counting the rows made and the error rows
     * among them. Written by one action (a write), each row counts once: Spark applies a task's
     * accumulator updates in a result stage once, whatever failed or retried before.
     */
    public static Dataset<Row> generateRequests(Dataset<Row> requests, GenerateSpec spec, LongAccumulator rows, LongAccumulator errors) {
        int n = spec.partitions() > 0 ? spec.partitions() : requests.sparkSession().sparkContext().defaultParallelism();
        Dataset<Row> parts = requests.repartitionByRange(n, col("index")).sortWithinPartitions(col("index"));
        return parts.mapPartitions(new PartitionGeneration(spec, rows, errors), Encoders.row(OutputRows.SCHEMA));
    }

    /**
     * JSONL in, the CLI's output lines out, on Spark's RDD API: the same requests and rows as
     * {@link #readJsonl} + {@link #generateRequests} + {@link #write} to JSONL, without the SQL
     * planner (whose start-up costs seconds on a small machine). The requests are counted while
     * they are numbered, so they split into equal index ranges with no sampling job. Lazy; save it
     * once ({@code saveAsTextFile} commits through the same Hadoop committer).
     */
    public static JavaRDD<String> generateJsonl(JavaSparkContext sc, String path, GenerateSpec spec, LongAccumulator rows, LongAccumulator errors) {
        int n = spec.partitions() > 0 ? spec.partitions() : sc.defaultParallelism();
        long[] total = new long[1];
        JavaPairRDD<Long, Tuple2<Long, String>> requests = numbered(sc.textFile(path), total);
        PartitionGeneration generation = new PartitionGeneration(spec, rows, errors);
        return requests.repartitionAndSortWithinPartitions(new IndexPartitioner(n, total[0])).mapPartitions(it -> {
            Iterator<Row> in = new Iterator<>() {
                @Override
                public boolean hasNext() {
                    return it.hasNext();
                }

                @Override
                public Row next() {
                    Tuple2<Long, Tuple2<Long, String>> t = it.next();
                    return RowFactory.create(t._1(), t._2()._1(), t._2()._2());
                }
            };
            Iterator<Row> out = generation.call(in);
            int json = OutputRows.SCHEMA.fieldIndex("json");
            return new Iterator<String>() {
                @Override
                public boolean hasNext() {
                    return out.hasNext();
                }

                @Override
                public String next() {
                    return out.next().getString(json);
                }
            };
        });
    }

    /** The output format a path or a format name means: parquet for "parquet" or a path ending in .parquet, else jsonl. */
    public static String format(String explicit, String path) {
        String f = explicit != null ? explicit.toLowerCase(Locale.ROOT) : path.toLowerCase(Locale.ROOT).replaceAll("/+$", "").endsWith(".parquet") ? "parquet" : "jsonl";
        if (!f.equals("jsonl") && !f.equals("parquet")) throw new IllegalArgumentException("usage: format must be jsonl or parquet, got '" + explicit + "'");
        return f;
    }

    /** The requests of a JSONL or Parquet input. */
    public static Dataset<Row> read(SparkSession spark, String path, String format) {
        return format.equals("parquet") ? requestsOf(spark.read().parquet(path)) : readJsonl(spark, path);
    }

    /**
     * Writes output rows through Spark's committer (a failed or retried task's files never reach
     * the output): JSONL part files holding exactly the CLI's lines, or Parquet with the columns
     * of {@link OutputRows} but {@code json}. Part files are in request order.
     */
    public static void write(Dataset<Row> out, String path, String format, boolean overwrite) {
        SaveMode mode = overwrite ? SaveMode.Overwrite : SaveMode.ErrorIfExists;
        if (format.equals("parquet")) {
            out.drop("json").write().mode(mode).parquet(path);
        } else {
            out.select("json").write().mode(mode).option("compression", "none").text(path);
        }
    }
}
