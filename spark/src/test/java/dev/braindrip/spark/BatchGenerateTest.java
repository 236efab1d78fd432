package dev.braindrip.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.braindrip.model.Architectures;
import dev.braindrip.model.Checkpoints;
import dev.braindrip.tensor.DType;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Spark job in local mode ({@code local[2,4]}: two executor threads, four attempts per task)
 * against {@code braindrip generate} on the same file and model: the same rows, line for line;
 * a task that dies once still gives every row once; malformed lines become error rows.
 */
class BatchGenerateTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final String[] WORDS = {"the", "lord", "said", "unto", "moses", "and", "light", "was", "in", "beginning", "earth", "water"};
    static final int LINES = 300;

    @TempDir
    static Path tmp;
    static Path model, prompts;
    static List<String> cli; // braindrip generate's output for prompts
    static SparkSession spark;

    @BeforeAll
    static void setUp() throws Exception {
        model = tmp.resolve("tiny");
        Checkpoints.writeRandom(Architectures.of("llama").preset("tiny"), DType.F32, 7, model);
        prompts = tmp.resolve("prompts.jsonl");
        Files.write(prompts, promptLines(LINES), StandardCharsets.UTF_8);
        Path out = tmp.resolve("cli.jsonl");
        Captured r = capture(() -> dev.braindrip.cli.Main.run("generate", "--model", model.toString(), "--prompts", prompts.toString(), "--out",
                out.toString(), "--device", "cpu", "--batch-size", "8", "--max-tokens", "10", "--temperature", "0.8", "--seed", "11"));
        assertEquals(1, r.code(), "the file has lines that cannot run: exit 1; " + r.err());
        cli = Files.readAllLines(out, StandardCharsets.UTF_8);
        assertEquals(LINES - 1, cli.size(), "one row per non-blank line");
        spark = SparkSession.builder().master("local[2,4]").appName("braindrip-spark-test").config("spark.ui.enabled", "false")
                .config("spark.sql.shuffle.partitions", "4").getOrCreate();
    }

    @AfterAll
    static void tearDown() {
        if (spark != null) spark.stop();
    }

    /** A mixed file: text, ids, per-line seeds and sampling fields, logprobs, stop strings, a blank line and three lines that cannot run. */
    static List<String> promptLines(int n) {
        Random rnd = new Random(1);
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            if (i == 100) {
                lines.add("");
                continue;
            }
            StringBuilder p = new StringBuilder();
            for (int w = 0, k = 1 + rnd.nextInt(6); w < k; w++) p.append(w == 0 ? "" : " ").append(WORDS[rnd.nextInt(WORDS.length)]);
            String text = "\"prompt\": \"" + p + "\"";
            String line = switch (i % 10) {
                case 0 -> "{\"id\": " + i + ", \"tokens\": [" + (1 + rnd.nextInt(250)) + ", " + rnd.nextInt(256) + ", " + rnd.nextInt(256) + "], \"max_tokens\": 6}";
                case 1 -> "{\"id\": \"p" + i + "\", " + text + ", \"temperature\": 0, \"max_tokens\": 8, \"ignore_eos\": true}";
                case 2 -> "{\"id\": \"p" + i + "\", " + text + ", \"seed\": " + (1000 + i) + ", \"top_k\": 20, \"top_p\": 0.9}";
                case 3 -> "{\"id\": \"p" + i + "\", " + text + ", \"logprobs\": 2, \"max_tokens\": 4}";
                case 4 -> "{\"id\": \"p" + i + "\", " + text + ", \"stop\": [\"e\"], \"repetition_penalty\": 1.2, \"min_p\": 0.05}";
                default -> "{\"id\": \"p" + i + "\", " + text + "}";
            };
            if (i == 37) line = "{\"id\": \"bad-top-p\", " + text + ", \"top_p\": 1.5}";
            if (i == 55) line = "{\"id\": \"bad-field\", " + text + ", \"colour\": \"red\"}";
            if (i == 77) line = "{\"id\": \"bad-token\", \"tokens\": [5, 100000]}";
            lines.add(line);
        }
        return lines;
    }

    @Test
    void givesExactlyWhatTheCliGives() throws Exception {
        Path out = tmp.resolve("spark-jsonl");
        int before = ExecutorEngines.loads();
        Captured r = capture(() -> BatchGenerate.run("--model", model.toString(), "--input", prompts.toString(), "--output", out.toString(),
                "--partitions", "4", "--batch-size", "16", "--max-tokens", "10", "--temperature", "0.8", "--seed", "11"));
        assertEquals(1, r.code(), "three rows cannot run: exit 1; " + r.err());
        assertTrue(r.err().contains("braindrip-spark: 299 rows (3 errors)"), r.err());
        assertEquals(4, partFiles(out).size(), "one part file per partition");
        assertSameLines(cli, readParts(out), "the Spark job's rows, in order, are the CLI's lines exactly");
        long errors = cli.stream().filter(l -> l.contains("\"error\"")).count();
        assertEquals(3, errors);
        assertTrue(cli.contains("{\"id\":\"bad-top-p\",\"error\":\"line 38: top_p must be in (0, 1], got 1.5\"}"), String.join("\n", cli));
        // the same job again: the engine loaded above is reused, not loaded again
        Path again = tmp.resolve("spark-jsonl-again");
        assertEquals(1, capture(() -> BatchGenerate.run("--model", model.toString(), "--input", prompts.toString(), "--output", again.toString(),
                "--partitions", "3", "--batch-size", "16", "--max-tokens", "10", "--temperature", "0.8", "--seed", "11")).code());
        assertSameLines(cli, readParts(again), "another partitioning, the same rows");
        assertTrue(ExecutorEngines.loads() - before <= 1, "one model load for both jobs (loads: " + (ExecutorEngines.loads() - before) + ")");
    }

    @Test
    void aTaskKilledOnceStillYieldsEveryRowExactlyOnce() throws Exception {
        List<String> failures = new CopyOnWriteArrayList<>();
        SparkListener listener = new SparkListener() {
            @Override
            public void onTaskEnd(SparkListenerTaskEnd end) {
                if (end.taskInfo().failed()) failures.add(end.reason().toString());
            }
        };
        spark.sparkContext().addSparkListener(listener);
        try {
            GenerateSpec spec = GenerateSpec.builder().model(model.toString()).batchSize(16).maxTokens(10).temperature(0.8f).seed(11).partitions(4)
                    .failOnce(2, 20).build();
            Path out = tmp.resolve("spark-retried");
            var rows = spark.sparkContext().longAccumulator();
            var errors = spark.sparkContext().longAccumulator();
            BatchGeneration.write(BatchGeneration.generateRequests(BatchGeneration.readJsonl(spark, prompts.toString()), spec, rows, errors),
                    out.toString(), "jsonl", false);
            spark.sparkContext().listenerBus().waitUntilEmpty();
            assertEquals(1, failures.size(), "one attempt failed: " + failures);
            assertTrue(failures.get(0).contains("injected failure: partition 2, attempt 0, after 20 rows"), failures.get(0));
            assertSameLines(cli, readParts(out), "every row once, in order, as the CLI gives it");
            assertEquals(LINES - 1, rows.value(), "the failed attempt's 20 rows are not counted");
            assertEquals(3, errors.value());
            // the same through the RDD path of BatchGenerate's JSONL-to-JSONL runs
            failures.clear();
            Path rdd = tmp.resolve("spark-retried-rdd");
            var rows2 = spark.sparkContext().longAccumulator();
            BatchGeneration.generateJsonl(org.apache.spark.api.java.JavaSparkContext.fromSparkContext(spark.sparkContext()), prompts.toString(),
                    spec.toBuilder().failOnce(1, 7).build(), rows2, null).saveAsTextFile(rdd.toString());
            spark.sparkContext().listenerBus().waitUntilEmpty();
            assertEquals(1, failures.size(), "one attempt failed: " + failures);
            assertTrue(failures.get(0).contains("injected failure: partition 1, attempt 0, after 7 rows"), failures.get(0));
            assertSameLines(cli, readParts(rdd), "every row once through the RDD path");
            assertEquals(LINES - 1, rows2.value());
        } finally {
            spark.sparkContext().removeSparkListener(listener);
        }
    }

    @Test
    void theJsonlPathRunsOneCountingJobAndTheWrite() throws Exception {
        AtomicInteger jobs = new AtomicInteger();
        SparkListener listener = new SparkListener() {
            @Override
            public void onJobStart(SparkListenerJobStart start) {
                jobs.incrementAndGet();
            }
        };
        spark.sparkContext().listenerBus().waitUntilEmpty();
        spark.sparkContext().addSparkListener(listener);
        try {
            GenerateSpec spec = GenerateSpec.builder().model(model.toString()).batchSize(16).maxTokens(10).temperature(0.8f).seed(11).partitions(4).build();
            Path out = tmp.resolve("spark-jobs");
            BatchGeneration.generateJsonl(org.apache.spark.api.java.JavaSparkContext.fromSparkContext(spark.sparkContext()), prompts.toString(),
                    spec, null, null).saveAsTextFile(out.toString());
            spark.sparkContext().listenerBus().waitUntilEmpty();
            assertEquals(2, jobs.get(), "numbering (one count per partition) and the write; no zipWithIndex or key-sampling jobs");
            assertEquals(4, partFiles(out).size());
            assertSameLines(cli, readParts(out), "the same rows, in order");
        } finally {
            spark.sparkContext().removeSparkListener(listener);
        }
    }

    @Test
    void malformedLinesBecomeErrorRows() throws Exception {
        Path in = tmp.resolve("malformed.jsonl");
        Files.write(in, List.of(
                "{\"id\": \"ok\", \"prompt\": \"and the earth\", \"max_tokens\": 3}",
                "{\"id\": \"broken\", \"prompt\": ",
                "[1, 2, 3]",
                "",
                "{\"id\": \"no-prompt\", \"max_tokens\": 3}",
                "{\"id\": \"two\", \"prompt\": \"x\", \"tokens\": [1]}",
                "{\"id\": \"ok2\", \"tokens\": [1, 2], \"max_tokens\": 2}"), StandardCharsets.UTF_8);
        Path out = tmp.resolve("malformed-out");
        // the model shipped through SparkFiles this time (--ship-model: SparkContext.addFile(dir, true))
        Captured r = capture(() -> BatchGenerate.run("--model", model.toString(), "--ship-model", "--input", in.toString(), "--output", out.toString(), "--partitions", "2",
                "--batch-size", "16", "--max-tokens", "10", "--temperature", "0.8", "--seed", "11"));
        assertEquals(1, r.code(), r.err());
        List<String> rows = readParts(out);
        assertEquals(6, rows.size(), String.join("\n", rows));
        JsonNode[] o = new JsonNode[6];
        for (int i = 0; i < 6; i++) o[i] = JSON.readTree(rows.get(i));
        assertEquals("ok", o[0].get("id").asText());
        assertNull(o[0].get("error"), o[0].toString());
        assertTrue(o[0].get("generated_tokens").asInt() <= 3, o[0].toString());
        assertTrue(o[1].get("id").isNull());
        assertTrue(o[1].get("error").asText().startsWith("line 2: is not valid JSON ("), o[1].toString());
        assertEquals("line 3: is not a JSON object", o[2].get("error").asText());
        assertEquals("no-prompt", o[3].get("id").asText(), "the id of a line without a prompt is kept");
        assertEquals("line 5: has none of 'prompt', 'tokens' and 'messages'", o[3].get("error").asText());
        assertEquals("line 6: give one of 'prompt', 'tokens' and 'messages', not several", o[4].get("error").asText());
        assertNull(o[5].get("error"), o[5].toString());
        assertEquals("ok2", o[5].get("id").asText());
        assertTrue(r.err().contains("braindrip-spark: 6 rows (4 errors)"), r.err());
    }

    @Test
    void parquetInAndOutThroughTheDatasetApi() throws Exception {
        // the prompts as a Parquet table (columns from the JSONL, no blank line, no bad rows), the model shipped through SparkFiles
        List<String> good = new ArrayList<>();
        List<String> cliGood = new ArrayList<>();
        for (int i = 0, row = 0; i < LINES; i++) {
            String line = promptLines(LINES).get(i);
            if (line.isEmpty()) continue;
            if (!cli.get(row).contains("\"error\"") && good.size() < 60) {
                good.add(line);
                cliGood.add(cli.get(row));
            }
            row++;
        }
        // the seeds of lines without one follow their index, which changes once lines are left out: give each its own
        List<String> seeded = new ArrayList<>();
        for (String l : good) {
            JsonNode n = JSON.readTree(l);
            if (!n.has("seed")) ((com.fasterxml.jackson.databind.node.ObjectNode) n).put("seed", 11 + promptLines(LINES).indexOf(l) - (promptLines(LINES).indexOf(l) > 100 ? 1 : 0));
            seeded.add(JSON.writeValueAsString(n));
        }
        Path jsonl = tmp.resolve("good.jsonl");
        Files.write(jsonl, seeded, StandardCharsets.UTF_8);
        Path parquet = tmp.resolve("prompts.parquet");
        spark.read().json(jsonl.toString()).write().parquet(parquet.toString());
        spark.sparkContext().addFile(model.toString(), true);
        GenerateSpec spec = GenerateSpec.builder().model(model.getFileName().toString(), true).batchSize(16).maxTokens(10).temperature(0.8f)
                .seed(11).partitions(3).build();
        Dataset<Row> out = BatchGeneration.generate(spark.read().parquet(parquet.toString()), spec);
        Path outDir = tmp.resolve("out.parquet");
        BatchGeneration.write(out, outDir.toString(), "parquet", false);
        List<Row> rows = spark.read().parquet(outDir.toString()).orderBy("index").collectAsList();
        assertEquals(cliGood.size(), rows.size());
        for (int i = 0; i < rows.size(); i++) {
            JsonNode want = JSON.readTree(cliGood.get(i));
            Row r = rows.get(i);
            String ctx = "row " + i + ": " + cliGood.get(i);
            assertEquals(i, r.getLong(r.fieldIndex("index")), ctx);
            assertEquals(want.get("id").asText(), r.getString(r.fieldIndex("id")), ctx);
            assertEquals(want.get("text").asText(), r.getString(r.fieldIndex("text")), ctx);
            assertEquals(want.get("finish_reason").asText(), r.getString(r.fieldIndex("finish_reason")), ctx);
            List<Integer> tokens = r.getList(r.fieldIndex("tokens"));
            List<Integer> wantTokens = new ArrayList<>();
            want.get("tokens").forEach(t -> wantTokens.add(t.asInt()));
            assertEquals(wantTokens, tokens, ctx);
            assertEquals(want.get("prompt_tokens").asInt(), r.getInt(r.fieldIndex("prompt_tokens")), ctx);
            if (want.has("logprobs")) {
                List<Row> lps = r.getList(r.fieldIndex("logprobs"));
                assertEquals(want.get("logprobs").size(), lps.size(), ctx);
                assertEquals(want.get("logprobs").get(0).get("logprob").asDouble(), lps.get(0).getFloat(1), 1e-5 * 10, ctx);
            }
            assertTrue(r.isNullAt(r.fieldIndex("error")), ctx);
        }
    }

    // ---------------------------------------------------------------- helpers

    /**
     * Line-by-line equality, reporting the first difference (not two whole files): every field
     * exactly, but the logprob values to float rounding (1e-5). Those are the one thing a row's
     * batch changes: the CLI itself writes different last digits for --batch-size 8 and 16, while
     * its tokens, text and the rest stay the same (CLI.md: a row's tokens do not depend on its batch).
     */
    static void assertSameLines(List<String> want, List<String> got, String what) throws IOException {
        int n = Math.min(want.size(), got.size());
        int differ = 0, rounding = 0;
        int first = -1;
        for (int i = 0; i < n; i++) {
            if (want.get(i).equals(got.get(i))) continue;
            if (sameButRounding(JSON.readTree(want.get(i)), JSON.readTree(got.get(i)))) {
                rounding++;
                continue;
            }
            differ++;
            if (first < 0) first = i;
        }
        if (first >= 0 || want.size() != got.size()) {
            throw new AssertionError(what + ": " + want.size() + " lines expected, " + got.size() + " given, " + differ + " differ"
                    + (first < 0 ? "" : "; first at row " + first + ":\n  want " + want.get(first) + "\n  got  " + got.get(first)));
        }
        assertTrue(rounding <= want.stream().filter(l -> l.contains("\"logprobs\"")).count(), "only lines with logprobs differ in rounding");
    }

    static boolean sameButRounding(JsonNode a, JsonNode b) {
        if (!a.has("logprobs") || !b.has("logprobs")) return false;
        com.fasterxml.jackson.databind.node.ObjectNode x = a.deepCopy(), y = b.deepCopy();
        JsonNode la = x.remove("logprobs"), lb = y.remove("logprobs");
        if (!x.equals(y) || la.size() != lb.size()) return false;
        for (int i = 0; i < la.size(); i++) {
            JsonNode p = la.get(i), q = lb.get(i);
            if (p.get("token").asInt() != q.get("token").asInt() || !close(p.get("logprob"), q.get("logprob"))) return false;
            if (p.get("top").size() != q.get("top").size()) return false;
            for (int k = 0; k < p.get("top").size(); k++) {
                JsonNode s = p.get("top").get(k), t = q.get("top").get(k);
                if (s.get(0).asInt() != t.get(0).asInt() || !close(s.get(1), t.get(1))) return false;
            }
        }
        return true;
    }

    static boolean close(JsonNode a, JsonNode b) {
        return Math.abs(a.asDouble() - b.asDouble()) <= 1e-5 * Math.max(1, Math.abs(a.asDouble()));
    }

    static List<Path> partFiles(Path dir) throws IOException {
        assertTrue(Files.exists(dir.resolve("_SUCCESS")), "committed: " + dir);
        try (Stream<Path> s = Files.list(dir)) {
            List<Path> parts = new ArrayList<>(s.filter(p -> p.getFileName().toString().startsWith("part-")).toList());
            Collections.sort(parts);
            return parts;
        }
    }

    static List<String> readParts(Path dir) throws IOException {
        List<String> lines = new ArrayList<>();
        for (Path p : partFiles(dir)) lines.addAll(Files.readAllLines(p, StandardCharsets.UTF_8));
        return lines;
    }

    record Captured(int code, String err) {}

    interface Job {
        int run() throws Exception;
    }

    static synchronized Captured capture(Job job) throws Exception {
        PrintStream old = System.err;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setErr(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            int code = job.run();
            return new Captured(code, buf.toString(StandardCharsets.UTF_8));
        } finally {
            System.setErr(old);
        }
    }
}
