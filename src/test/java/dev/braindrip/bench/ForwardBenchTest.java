package dev.braindrip.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
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
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `bench forward` on a tiny random model: the row's fields and counts, and --json through the CLI. The peer is not run here. */
class ForwardBenchTest {
    @TempDir
    Path dir;

    private static final List<String> FIELDS = List.of("op", "device", "dtype", "shape", "median_ms", "min_ms", "repeats", "tflops", "tokens_per_s",
            "peer", "activation_peak_bytes", "activation_peak_bytes_after_1", "forwards", "rss_bytes");

    @Test
    void rowHasTheFieldsAndCountsTheWork() throws Exception {
        ModelConfig c = Architectures.of("llama").preset("tiny");
        Path model = dir.resolve("tiny");
        Checkpoints.writeRandom(c, DType.F32, 3, model);
        ForwardBench.Result r = ForwardBench.run(new ForwardBench.Spec(model, "tiny", Device.cpu(), null, 2, 24, 0), new BenchOptions(1, 3, false));
        assertEquals("f32", r.dtype());
        assertEquals(48, r.tokens());
        assertTrue(r.medianMs() > 0 && r.minMs() > 0 && r.minMs() <= r.medianMs(), r.medianMs() + " / " + r.minMs());
        assertTrue(r.tokensPerS() > 0);
        assertNull(r.peer());
        assertNull(r.peerSkipped());
        // tiny llama is untied: the input embedding is a lookup, the rest (head included) is multiplied through
        long embed = (long) c.vocabSize() * c.hidden();
        assertEquals(r.parameters() - embed, r.flopParameters());
        double attention = 4.0 * c.layerCount() * c.heads() * c.headDim() * 24 * 24 / 2 * 2;
        assertEquals(2.0 * r.flopParameters() * 48 + attention, r.flops(), 1e-6 * r.flops());
        assertTrue(r.tflops() > 0);
        assertEquals(4, r.forwards());
        assertTrue(r.activationPeakAfter1() > 0 && r.activationPeak() >= r.activationPeakAfter1());
        assertEquals(r.activationPeakAfter1(), r.activationPeak(), "the activation pool keeps the peak flat over repeated forwards");

        Map<String, Object> row = r.row();
        for (String f : FIELDS) assertTrue(row.containsKey(f), "row has " + f + ": " + row.keySet());
        assertEquals("forward", row.get("op"));
        assertEquals(Map.of("model", "tiny", "batch", 2, "seq", 24), row.get("shape"));
    }

    @Test
    void peerOutputIsParsedOrSkipped() {
        ForwardBench.PeerOutcome ok = ForwardBench.parsePeer("{\"peer\": \"transformers 4.47.1\", \"device\": \"cpu (2 threads)\", \"dtype\": \"f32\", "
                + "\"batch\": 1, \"seq\": 8, \"median_ms\": 4.0, \"min_ms\": 3.5, \"repeats\": 3, \"tokens_per_s\": 2000.0}");
        assertNotNull(ok.peer());
        assertEquals("transformers 4.47.1", ok.peer().name());
        assertEquals(4.0, ok.peer().medianMs());
        assertEquals(2000.0, ok.peer().tokensPerS());
        ForwardBench.PeerOutcome skipped = ForwardBench.parsePeer("{\"skipped\": \"torch cannot be imported\"}");
        assertNull(skipped.peer());
        assertEquals("torch cannot be imported", skipped.skipped());
        assertNotNull(ForwardBench.home(), "the peer script is found from the build output");
    }

    @Test
    void cliWritesTheJsonRow() throws Exception {
        Path json = dir.resolve("out/forward.json");
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int code;
        System.setOut(new PrintStream(out, true));
        System.setErr(new PrintStream(err, true));
        try {
            code = Main.run("bench", "forward", "--arch", "llama", "--preset", "tiny", "--device", "cpu", "--batch", "1", "--seq", "16",
                    "--repeats", "2", "--warmup", "1", "--json", json.toString());
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
        assertEquals(0, code, err.toString());
        assertTrue(out.toString().contains("forward"), out.toString());
        assertTrue(out.toString().contains("activation_peak_bytes"), out.toString());
        JsonNode arr = new ObjectMapper().readTree(json.toFile());
        assertEquals(1, arr.size());
        JsonNode row = arr.get(0);
        for (String f : FIELDS) assertTrue(row.has(f), "json has " + f + ": " + row);
        assertEquals("forward", row.get("op").asText());
        assertEquals("llama/tiny", row.get("shape").get("model").asText());
        assertEquals(16, row.get("shape").get("seq").asInt());
        assertEquals(1, row.get("shape").get("batch").asInt());
        assertEquals(2, row.get("repeats").asInt());
        assertTrue(row.get("tokens_per_s").asDouble() > 0);
        assertTrue(row.get("tflops").asDouble() > 0);
        assertTrue(row.get("peer").isNull());

        StringBuilder usage = new StringBuilder();
        System.setErr(new PrintStream(err = new ByteArrayOutputStream(), true));
        try {
            code = Main.run("bench", "forward", "--device", "cpu");
        } finally {
            System.setErr(oldErr);
        }
        usage.append(err);
        assertEquals(2, code, usage.toString());
    }
}
