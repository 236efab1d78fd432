package dev.braindrip.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.braindrip.cli.Main;
import dev.braindrip.model.Architectures;
import dev.braindrip.model.Checkpoints;
import dev.braindrip.model.ModelConfig;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * `bench generate` on a tiny random model: the tests it runs, their counts and fields (not their
 * timings), the steady-state memory readings, skipped tests, the peer's output parsed or skipped,
 * and the CLI's JSON and exit codes. The peer itself (transformers) is not run here.
 */
class GenerateBenchTest {
    @TempDir
    static Path dir;

    static Path model;

    private static final List<String> FIELDS = List.of("op", "device", "dtype", "shape", "test", "timed", "median_ms", "min_ms", "repeats", "tflops",
            "gbps", "prefill_tok_s", "decode_tok_s", "peer", "speedup_vs_peer", "prefill_ms", "decode_ms", "total_ms", "decode_steps", "ms_per_step",
            "kv_cache_bytes", "arena_allocated_bytes_after_1", "arena_allocated_bytes", "arena_peak_bytes_after_1", "arena_peak_bytes",
            "arena_growth_bytes", "arena_growth_bytes_per_step", "heap_bytes_per_step", "rss_bytes", "threads");

    @BeforeAll
    static void writeModel() throws Exception {
        model = dir.resolve("tiny");
        Checkpoints.writeRandom(Architectures.of("llama").preset("tiny"), DType.F32, 5, model);
    }

    private static GenerateBench.Spec spec(int prompt, int gen, List<Integer> batches, boolean split) {
        return new GenerateBench.Spec(model, "tiny", Device.cpu(), null, prompt, gen, batches, split, 0);
    }

    @Test
    void runsPpTgAndEachBatchInLockstep() throws Exception {
        List<GenerateResult> rs = GenerateBench.run(spec(12, 6, List.of(1, 3), true), new BenchOptions(1, 2, false));
        assertEquals(List.of("pp12", "tg6", "pp12+tg6", "pp12+tg6"), rs.stream().map(r -> r.shape().test()).toList());
        assertEquals(List.of(1, 1, 1, 3), rs.stream().map(r -> r.shape().batch()).toList());
        for (GenerateResult r : rs) {
            assertNull(r.skipped());
            assertNull(r.peer());
            assertEquals("f32", r.dtype());
            assertTrue(r.medianMs() > 0 && r.minMs() > 0 && r.minMs() <= r.medianMs(), r.shape() + ": " + r.medianMs() + " / " + r.minMs());
        }
        GenerateResult pp = rs.get(0), tg = rs.get(1), b3 = rs.get(3);
        assertEquals(0, pp.times().steps());
        assertTrue(pp.prefillTokS() > 0 && pp.tflops() > 0);
        assertTrue(Double.isNaN(pp.decodeTokS()) && Double.isNaN(pp.gbps()));
        assertEquals(5, tg.times().steps(), "G - 1 decode steps after the first token");
        assertTrue(Double.isNaN(tg.prefillTokS()));
        assertTrue(tg.decodeTokS() > 0 && tg.gbps() > 0 && tg.msPerStep() > 0);
        assertEquals(tg.times().decodeMs() / 5, tg.msPerStep(), 1e-9);
        assertEquals(5, b3.times().steps(), "three sequences decode in lockstep");
        assertEquals(3 * 5 / (b3.times().decodeMs() * 1e-3), b3.decodeTokS(), 1e-6 * b3.decodeTokS());
        assertEquals(3 * 12 / (b3.times().prefillMs() * 1e-3), b3.prefillTokS(), 1e-6 * b3.prefillTokS());
        assertTrue(Double.isFinite(b3.forwardStepMs()) && b3.forwardStepMs() > 0, "--split times the model's steps alone");

        ModelConfig c = Architectures.of("llama").preset("tiny");
        long kvPerToken = 2L * c.layerCount() * c.kvHeads() * c.headDim() * 4;
        long kv = b3.memory().kvCacheBytes(), slots = 3 * 18 * kvPerToken;
        assertTrue(kv >= slots && kv < slots + 1024, "a KV cache of B slots of P + G tokens (and the caches' length counters): " + kv);
        for (GenerateResult r : rs) {
            GenerateResult.Memory m = r.memory();
            assertEquals(3, m.runs());
            assertEquals(0, m.growthBytes(), r.shape() + ": steady state draws no device memory after the first run");
            assertEquals(m.peakAfter1(), m.peak(), r.shape() + ": the peak is flat after the first run");
            assertTrue(m.allocated() >= m.kvCacheBytes(), r.shape() + ": the KV cache is in the arena");
            assertTrue(m.rssBytes() > 0);
        }
        assertEquals(10, tg.memory().growthSteps(), "decode steps between the reading after run 1 and the last");

        Map<String, Object> row = b3.row();
        for (String f : FIELDS) assertTrue(row.containsKey(f), "row has " + f + ": " + row.keySet());
        assertEquals("generate", row.get("op"));
        assertEquals("total", row.get("timed"));
        assertEquals(Map.of("model", "tiny", "batch", 3, "prompt_tokens", 12, "gen_tokens", 6), row.get("shape"));
        assertNull(row.get("peer"));
        assertNull(row.get("tflops"));
    }

    @Test
    void eachRunsTotalCoversItsPrefillAndDecode() throws Exception {
        GenerateBench.Shape sh = new GenerateBench.Shape("pp10+tg5", 2, 10, 5, GenerateBench.Timed.TOTAL);
        try (dev.braindrip.model.Transformer m = dev.braindrip.model.Transformer.load(model, Device.cpu(), null)) {
            GenerateRun.Figures f = GenerateRun.measure(m, sh, GenerateBench.prompts(sh, m.config().vocabSize(), 1), new BenchOptions(0, 3, false), 1);
            assertEquals(3, f.timed().size());
            for (GenerateRun.RunFigures r : f.timed()) {
                assertEquals(4, r.steps());
                assertTrue(r.prefillS() > 0 && r.decodeS() > 0 && r.totalS() >= r.prefillS() + r.decodeS(), r.toString());
            }
        }
    }

    @Test
    void testsPastThePositionsAreSkipped() throws Exception {
        // tiny llama has 512 positions: pp512 (one token made) and tg4 fit, 512 + 4 does not
        List<GenerateResult> rs = GenerateBench.run(spec(512, 4, List.of(2), false), new BenchOptions(0, 1, false));
        assertNull(rs.get(0).skipped());
        assertNull(rs.get(1).skipped());
        assertTrue(rs.get(2).skipped().contains("exceeds the model's 512 positions"), rs.get(2).skipped());
        assertTrue(Double.isNaN(rs.get(1).forwardStepMs()), "no split without --split");
    }

    @Test
    void peerLinesAreParsedOrSkipped() {
        GenerateBench.Shape tg = new GenerateBench.Shape("tg8", 1, 1, 8, GenerateBench.Timed.DECODE);
        GenerateBench.Shape b4 = new GenerateBench.Shape("pp16+tg8", 4, 16, 8, GenerateBench.Timed.TOTAL);
        GeneratePeer.Outcome o = GeneratePeer.parse(List.of(
                "{\"peer\": \"transformers 4.47.1\", \"device\": \"cpu (2 threads)\", \"dtype\": \"f32\", \"attn\": \"eager\", \"test\": \"tg8/b1\", "
                        + "\"batch\": 1, \"prompt_tokens\": 1, \"gen_tokens\": 8, \"repeats\": 3, \"warmup\": 1, \"prefill_ms\": 2.0, "
                        + "\"prefill_min_ms\": 1.5, \"decode_ms\": 7.0, \"decode_min_ms\": 6.5, \"total_ms\": 9.5, \"total_min_ms\": 8.0, "
                        + "\"prefill_tok_s\": 500.0, \"decode_tok_s\": 1000.0}",
                "{\"test\": \"pp16+tg8/b4\", \"skipped\": \"generate failed (out of memory)\"}"));
        GeneratePeer.Figures f = o.peer(tg);
        assertNotNull(f);
        assertEquals(7.0, f.medianMs(GenerateBench.Timed.DECODE));
        assertEquals(9.5, f.medianMs(GenerateBench.Timed.TOTAL));
        assertEquals(1000.0, f.decodeTokS());
        assertNull(o.skipped(tg));
        assertNull(o.peer(b4));
        assertEquals("generate failed (out of memory)", o.skipped(b4));

        GeneratePeer.Outcome none = GeneratePeer.parse(List.of("{\"skipped\": \"torch cannot be imported\"}"));
        assertEquals("torch cannot be imported", none.skipped(tg));
        assertNotNull(ForwardBench.home(), "the peer scripts are found from the build output");
        assertTrue(Files.isRegularFile(ForwardBench.home().resolve(GeneratePeer.SCRIPT)));
    }

    @Test
    void aPeerThatCannotRunSaysWhy() throws Exception {
        GenerateBench.Shape tg = new GenerateBench.Shape("tg4", 1, 1, 4, GenerateBench.Timed.DECODE);
        BenchOptions o = new BenchOptions(0, 1, true);
        assertTrue(GeneratePeer.run(model, List.of(tg), "f16", 1, o).skipped(tg).contains("f32 or bf16"));
        Path empty = Files.createDirectories(dir.resolve("empty"));
        String why = GeneratePeer.run(empty, List.of(tg), "f32", 1, o).skipped(tg); // no config.json: the script skips before importing torch
        assertNotNull(why);
        assertTrue(why.contains("config.json") || why.contains("python3"), why);
    }

    @Test
    void specRejectsBadValues() {
        assertThrows(IllegalArgumentException.class, () -> spec(0, 8, List.of(1), false));
        assertThrows(IllegalArgumentException.class, () -> spec(8, 1, List.of(1), false));
        assertThrows(IllegalArgumentException.class, () -> spec(8, 8, List.of(1, 0), false));
        assertThrows(IllegalArgumentException.class, () -> new GenerateBench.Spec(model, "t", Device.cpu(), null, 8, 8, List.of(1), List.of("pp", "xx"), false, 0));
        GenerateBench.Spec onlyTg = new GenerateBench.Spec(model, "t", Device.cpu(), null, 8, 8, List.of(1, 2), List.of("tg"), false, 0);
        assertEquals(List.of("tg8"), GenerateBench.shapes(onlyTg).stream().map(GenerateBench.Shape::test).toList());
    }

    @Test
    void cliWritesTheJsonRowsAndRejectsBadOptions() throws Exception {
        Path json = dir.resolve("out/generate.json");
        String[] out = new String[2];
        int code = run(out, "bench", "generate", "--model", model.toString(), "--device", "cpu", "--prompt-tokens", "8", "--gen-tokens", "4", "--batch",
                "2", "--repeats", "1", "--warmup", "0", "--json", json.toString());
        assertEquals(0, code, out[1]);
        assertTrue(out[0].contains("pp8+tg4") && out[0].contains("tg4") && out[0].contains("arena"), out[0]);
        JsonNode arr = new ObjectMapper().readTree(json.toFile());
        assertEquals(3, arr.size());
        for (JsonNode row : arr) {
            for (String f : FIELDS) assertTrue(row.has(f), "json has " + f + ": " + row);
            assertEquals("generate", row.get("op").asText());
            assertEquals("tiny", row.get("shape").get("model").asText());
            assertTrue(row.get("peer").isNull());
        }
        assertEquals("pp8", arr.get(0).get("test").asText());
        assertTrue(arr.get(0).get("prefill_tok_s").asDouble() > 0 && arr.get(0).get("decode_tok_s").isNull());
        assertTrue(arr.get(1).get("decode_tok_s").asDouble() > 0 && arr.get(1).get("gbps").asDouble() > 0);
        assertEquals(2, arr.get(2).get("shape").get("batch").asInt());

        assertEquals(2, run(out, "bench", "generate", "--device", "cpu"), "neither --model nor --arch: " + out[1]);
        assertEquals(2, run(out, "bench", "generate", "--model", model.toString(), "--arch", "llama", "--device", "cpu"), out[1]);
        assertEquals(2, run(out, "bench", "generate", "--model", model.toString(), "--gen-tokens", "1", "--device", "cpu"), out[1]);
        assertTrue(out[1].contains("--gen-tokens"), out[1]);
        assertEquals(2, run(out, "bench", "generate", "--model", model.toString(), "--batch", "1,0", "--device", "cpu"), out[1]);
        assertEquals(2, run(out, "bench", "generate", "--model", model.toString(), "--repeats", "0", "--device", "cpu"), out[1]);
        assertEquals(2, run(out, "bench", "generate", "--model", model.toString(), "--batch", "x", "--device", "cpu"), out[1]);
        assertEquals(2, run(out, "bench", "generate", "--arch", "llama", "--preset", "huge", "--device", "cpu"), out[1]);
        assertEquals(2, run(out, "bench", "generate", "--model", model.toString(), "--tests", "pp,decode", "--device", "cpu"), out[1]);
        assertTrue(out[1].contains("--tests"), out[1]);
        assertEquals(1, run(out, "bench", "generate", "--model", dir.resolve("missing").toString(), "--device", "cpu"), out[1]);
    }

    /** Runs the CLI with stdout and stderr captured into out[0] and out[1]. */
    private static int run(String[] out, String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream(), e = new ByteArrayOutputStream();
        System.setOut(new PrintStream(o, true));
        System.setErr(new PrintStream(e, true));
        try {
            return Main.run(args);
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
            out[0] = o.toString();
            out[1] = e.toString();
        }
    }
}
