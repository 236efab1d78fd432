package dev.braindrip.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.braindrip.ops.AttentionSpec;
import dev.braindrip.io.SafeTensors;
import dev.braindrip.io.SafeTensorsWriter;
import dev.braindrip.reference.AttentionReference;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `braindrip kernel attention` and `braindrip bench attention` end to end on the CPU. */
class AttentionCliTest {
    @TempDir
    Path dir;

    private static float[] randn(SplittableRandom r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) ((r.nextDouble() + r.nextDouble() + r.nextDouble() - 1.5) * 2);
        return x;
    }

    /** Runs the CLI capturing stderr; returns {exit code, stderr}. */
    private static Object[] cli(String... args) {
        PrintStream err = System.err;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setErr(new PrintStream(buf, true));
        try {
            int rc = Main.run(args);
            return new Object[] {rc, buf.toString()};
        } finally {
            System.setErr(err);
        }
    }

    @Test
    void kernelAttentionMatchesTheOracle() throws Exception {
        int b = 2, sq = 5, skv = 7, hq = 4, hkv = 2, d = 16;
        SplittableRandom r = new SplittableRandom(21);
        float[] q = randn(r, b * sq * hq * d), k = randn(r, b * skv * hkv * d), v = randn(r, b * skv * hkv * d);
        float[] sinks = {0.5f, -1f, 2f, 0f};
        Path in = dir.resolve("in.safetensors"), out = dir.resolve("out.safetensors");
        new SafeTensorsWriter().addF32("q", new long[] {b, sq, hq, d}, q).addF32("k", new long[] {b, skv, hkv, d}, k)
                .addF32("v", new long[] {b, skv, hkv, d}, v).addF32("sinks", new long[] {hq}, sinks).write(in);
        Object[] res = cli("kernel", "attention", "--in", in.toString(), "--out", out.toString(), "--device", "cpu", "--causal",
                "--window-left", "3", "--softcap", "20", "--scale", "0.3", "--sink-tokens", "1");
        assertEquals(0, res[0], (String) res[1]);
        AttentionSpec spec = AttentionSpec.causal().windowLeft(3).softcap(20f).scale(0.3f).sinkTokens(1);
        AttentionReference.Result ref = AttentionReference.exact(
                new AttentionReference.Problem(b, sq, skv, hq, hkv, d, d, q, k, v, spec).sinks(sinks));
        try (SafeTensors st = SafeTensors.open(out)) {
            assertArrayEquals(new long[] {b, sq, hq, d}, st.info("o").shape());
            assertArrayEquals(new long[] {b, hq, sq}, st.info("lse").shape());
            float[] o = st.toFloatArray("o"), lse = st.toFloatArray("lse");
            for (int i = 0; i < o.length; i++) assertEquals(ref.o()[i], o[i], 1e-5, "o[" + i + "]");
            for (int i = 0; i < lse.length; i++) assertEquals(ref.lse()[i], lse[i], 1e-5, "lse[" + i + "]");
        }
    }

    @Test
    void kernelAttentionReportsBadUsageAndMissingInputs() throws Exception {
        Path in = dir.resolve("in.safetensors"), out = dir.resolve("out.safetensors");
        new SafeTensorsWriter().addF32("q", new long[] {1, 2, 2, 4}, new float[16]).write(in);
        Object[] bad = cli("kernel", "attention", "--in", in.toString(), "--out", out.toString(), "--device", "cpu", "--causal",
                "--window-right", "2");
        assertEquals(2, bad[0]);
        assertTrue(((String) bad[1]).contains("windowRight (2) must be -1 or 0 under causal"), (String) bad[1]);
        Object[] missing = cli("kernel", "attention", "--in", in.toString(), "--out", out.toString(), "--device", "cpu");
        assertEquals(1, missing[0]);
        assertTrue(((String) missing[1]).startsWith("braindrip: attention: input 'k' not found"), (String) missing[1]);
    }

    @Test
    void benchAttentionWritesJsonWithPeer() throws Exception {
        Path json = dir.resolve("bench.json");
        Object[] res = cli("bench", "attention", "--device", "cpu", "--batch", "1", "--seq", "96", "--heads", "4", "--kv-heads", "2",
                "--head-dim", "32", "--causal", "--repeats", "2", "--warmup", "1", "--no-ceilings", "--peer", "--json", json.toString());
        assertEquals(0, res[0], (String) res[1]);
        JsonNode arr = new ObjectMapper().readTree(json.toFile());
        assertEquals(1, arr.size());
        JsonNode r = arr.get(0);
        assertEquals("attention", r.get("op").asText());
        assertEquals(96, r.get("shape").get("seq_q").asInt());
        assertEquals(2, r.get("shape").get("kv_heads").asInt());
        assertTrue(r.get("shape").get("causal").asBoolean());
        // 4·B·Hq·D·pairs with 96·97/2 causal pairs
        double flops = 4.0 * 4 * 32 * (96 * 97 / 2);
        assertEquals(flops / (r.get("median_ms").asDouble() * 1e-3) / 1e12, r.get("tflops").asDouble(), 1e-9);
        assertTrue(r.get("peer").has("median_ms"), r.toString());
    }
}
