package dev.braindrip.spark;

import dev.braindrip.cli.OptionParsers;
import dev.braindrip.cli.SamplingOptions;
import dev.braindrip.generate.GeneratorOptions;
import dev.braindrip.model.Session;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.util.LongAccumulator;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The Spark job (docs/spark.md): {@code spark-submit --class dev.braindrip.spark.BatchGenerate
 * braindrip-spark.jar --model DIR|demo --input PROMPTS --output OUT [sampling options]}. Reads
 * JSONL or Parquet prompts with CLI.md's fields, generates with one model per executor, and writes
 * CLI.md's output rows (JSONL or Parquet) through Spark's committer. Exit codes as the CLI: 0, 1
 * when a row could not run (its error row is written) or the job failed, 2 on bad usage.
 */
@Command(name = "BatchGenerate", mixinStandardHelpOptions = true,
        description = "Batch generation as a Spark job: CLI.md's generate input fields in, its output rows out, one model per executor.")
public final class BatchGenerate implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "DIR|demo",
            description = "'demo', a model directory every executor can read, or with --ship-model a local directory sent to the executors.")
    String model;

    @Option(names = "--ship-model", description = "Send the --model directory to the executors (SparkContext.addFile) instead of reading a shared path.")
    boolean shipModel;

    @Option(names = "--shipped-model",
            description = "--model names a file or directory already shipped with spark-submit --files/--archives (read through SparkFiles.get).")
    boolean shipped;

    @Option(names = "--input", required = true, paramLabel = "PROMPTS", description = "JSONL or Parquet prompts (a file, directory or glob).")
    String input;

    @Option(names = "--output", required = true, paramLabel = "OUT", description = "Output directory (JSONL part files, or Parquet).")
    String output;

    @Option(names = "--input-format", paramLabel = "jsonl|parquet", description = "Default: parquet for a path ending in .parquet, else jsonl.")
    String inputFormat;

    @Option(names = "--output-format", paramLabel = "jsonl|parquet", description = "Default: parquet for a path ending in .parquet, else jsonl.")
    String outputFormat;

    @Option(names = "--overwrite", description = "Replace an existing output directory.")
    boolean overwrite;

    @Option(names = "--partitions", defaultValue = "0", paramLabel = "N", description = "Partitions of the prompts (default: the default parallelism).")
    int partitions;

    @Option(names = "--master", paramLabel = "URL", description = "Spark master when spark-submit gives none (e.g. local[2]; default local[*]).")
    String master;

    @Option(names = "--device", paramLabel = "cpu|cuda[:N]", description = "Default: the GPU Spark's resource scheduler gave the task, else cpu.")
    String device;

    @Option(names = "--dtype", paramLabel = "f32|bf16|f16", description = "Default: f32 on cpu, bf16 on cuda.")
    String dtype;

    @Option(names = "--seed", defaultValue = "0", description = "A line without a seed uses seed + its index (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--batch-size", defaultValue = "64", paramLabel = "N", description = "Sequences decoded together per executor engine (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--kv-budget", paramLabel = "BYTES", description = "KV-cache memory per executor engine, e.g. 2G (default: 4G).")
    String kvBudget;

    @Option(names = "--max-sequence-length", defaultValue = "0", paramLabel = "N",
            description = "Tokens one sequence may hold, prompt and output (default: the model's context).")
    int maxSequenceLength;

    @Option(names = "--streaming", paramLabel = "SINKS,WINDOW", description = "StreamingLLM caches (any RoPE model).")
    String streaming;

    @Mixin
    SamplingOptions sampling; // braindrip generate's own options, defaults and checks (CLI.md)

    public static void main(String[] args) {
        int code = run(args);
        if (code != 0) System.exit(code);
    }

    /** Runs the job and returns its exit code (errors print as one line "braindrip-spark: ..."). */
    public static int run(String... args) {
        CommandLine cl = new CommandLine(new BatchGenerate());
        cl.setExecutionExceptionHandler((ex, c, p) -> {
            System.err.println("braindrip-spark: " + message(ex));
            if (System.getenv("BRAINDRIP_DEBUG") != null) ex.printStackTrace();
            return ex instanceof IllegalArgumentException && ex.getMessage() != null && ex.getMessage().startsWith("usage:") ? 2 : 1;
        });
        cl.setParameterExceptionHandler((ex, argv) -> {
            System.err.println("braindrip-spark: " + ex.getMessage());
            System.err.println("Try 'BatchGenerate --help' for more information.");
            return 2;
        });
        return cl.execute(args);
    }

    /**
     * One line for a failure: the innermost cause's message that is not Spark's own (a task's
     * exception arrives wrapped in SparkExceptions whose messages hold whole stack traces), its first line.
     */
    static String message(Throwable t) {
        Throwable m = t;
        for (Throwable c = t; c != null && c.getCause() != c; c = c.getCause()) {
            if (!(c instanceof org.apache.spark.SparkException) && c.getMessage() != null && !c.getMessage().isBlank()) m = c;
        }
        String s = m.getMessage() == null || m.getMessage().isBlank() ? m.getClass().getSimpleName() : m.getMessage();
        int nl = s.indexOf('\n');
        return (nl < 0 ? s : s.substring(0, nl)).strip();
    }

    GenerateSpec spec() {
        GenerateSpec.Builder b = GenerateSpec.builder().model(shipModel ? Path.of(model).getFileName().toString() : model, shipModel || shipped)
                .device(device).dtype(dtype).seed(seed).batchSize(batchSize).maxSequenceLength(maxSequenceLength).partitions(partitions)
                .kvBudgetBytes(kvBudget == null ? GeneratorOptions.DEFAULT_KV_BUDGET : OptionParsers.bytes("--kv-budget", kvBudget))
                .sampling(sampling.params());
        Session.Streaming s = OptionParsers.streaming("--streaming", streaming);
        if (s != null) b.streaming(s.sinks(), s.window());
        try {
            return b.build();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("usage: " + e.getMessage());
        }
    }

    @Override
    public Integer call() throws Exception {
        GenerateSpec spec = spec();
        String inFormat = BatchGeneration.format(inputFormat, input);
        String outFormat = BatchGeneration.format(outputFormat, output);
        if (shipModel && !Files.isDirectory(Path.of(model))) throw new IllegalArgumentException("usage: --ship-model needs a local model directory, got " + model);
        SparkConf conf = new SparkConf().setAppName("braindrip BatchGenerate");
        if (!conf.contains("spark.master")) conf.setMaster(master != null ? master : "local[*]");
        if (conf.get("spark.master").startsWith("local") && !shipModel && !shipped && !dev.braindrip.model.DemoModel.isName(model) && !Files.isDirectory(Path.of(model))) {
            // local mode: the executors are this JVM, so a missing model is a usage error, before Spark starts
            throw new IllegalArgumentException("usage: --model " + model + ": model directory not found");
        }
        long t0 = System.nanoTime();
        boolean ours = SparkSession.getDefaultSession().isEmpty(); // a session that was running before (a test, a notebook) stays up
        SparkSession spark = SparkSession.builder().config(conf).getOrCreate();
        long t1 = System.nanoTime();
        try {
            if (shipModel) spark.sparkContext().addFile(Path.of(model).toAbsolutePath().toString(), true);
            LongAccumulator rowCount = spark.sparkContext().longAccumulator("braindrip rows");
            LongAccumulator errorCount = spark.sparkContext().longAccumulator("braindrip error rows");
            if (inFormat.equals("jsonl") && outFormat.equals("jsonl")) {
                // JSONL to JSONL: the RDD path, the same rows without the SQL planner's start-up
                if (overwrite) {
                    org.apache.hadoop.fs.Path p = new org.apache.hadoop.fs.Path(output);
                    p.getFileSystem(spark.sparkContext().hadoopConfiguration()).delete(p, true);
                }
                BatchGeneration.generateJsonl(JavaSparkContext.fromSparkContext(spark.sparkContext()), input, spec, rowCount, errorCount)
                        .saveAsTextFile(output);
            } else {
                Dataset<Row> out = BatchGeneration.generateRequests(BatchGeneration.read(spark, input, inFormat), spec, rowCount, errorCount);
                BatchGeneration.write(out, output, outFormat, overwrite);
            }
            long t2 = System.nanoTime();
            long rows = rowCount.value(), errors = errorCount.value();
            double job = (t2 - t1) / 1e9;
            System.err.printf(Locale.ROOT, "braindrip-spark: %d rows (%d errors) to %s, %.2f s (session start %.2f s, job %.2f s: %.1f rows/s), master %s%n",
                    rows, errors, output, (System.nanoTime() - t0) / 1e9, (t1 - t0) / 1e9, job, rows / job, spark.sparkContext().master());
            return errors > 0 ? 1 : 0;
        } finally {
            if (ours) {
                boolean local = spark.sparkContext().isLocal();
                spark.stop();
                if (local) ExecutorEngines.closeAll(); // this JVM was the executor
            }
        }
    }
}
