package dev.braindrip.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.braindrip.ops.AttentionSpec;
import dev.braindrip.ops.DiffAttentionSpec;
import dev.braindrip.bench.OpBench;
import dev.braindrip.io.SafeTensors;
import dev.braindrip.io.SafeTensorsWriter;
import dev.braindrip.reference.DiffAttentionReference;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `braindrip kernel diff-attention` and `braindrip bench diff-attention` end to end on the CPU. */
class DiffAttentionCliTest {
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
    void kernelDiffAttentionMatchesTheOracle() throws Exception {
        int b = 2, s = 9, h = 4, hkv = 2, d = 8;
        SplittableRandom r = new SplittableRandom(31);
        float[] q = randn(r, b * s * 2 * h * d), k = randn(r, b * s * 2 * hkv * d), v = randn(r, b * s * hkv * 2 * d);
        float[] subln = new float[2 * d];
        for (int i = 0; i < subln.length; i++) subln[i] = (float) (0.5 + r.nextDouble());
        Path in = dir.resolve("in.safetensors"), out = dir.resolve("out.safetensors");
        new SafeTensorsWriter().addF32("q", new long[] {b, s, 2 * h, d}, q).addF32("k", new long[] {b, s, 2 * hkv, d}, k)
                .addF32("v", new long[] {b, s, hkv, 2 * d}, v).addF32("subln", new long[] {2 * d}, subln).write(in);
        Object[] res = cli("kernel", "diff-attention", "--in", in.toString(), "--out", out.toString(), "--device", "cpu", "--lambda", "0.6",
                "--lambda-init", "0.35", "--causal", "--eps", "1e-4", "--scale", "0.3");
        assertEquals(0, res[0], (String) res[1]);
        DiffAttentionSpec spec = new DiffAttentionSpec(AttentionSpec.causal().scale(0.3f), 0.6f, 0.35f, 1e-4f);
        DiffAttentionReference.Result ref = DiffAttentionReference.exact(
                new DiffAttentionReference.Problem(b, s, s, h, hkv, d, q, k, v, subln, spec));
        try (SafeTensors st = SafeTensors.open(out)) {
            assertArrayEquals(new long[] {b, s, h, 2 * d}, st.info("o").shape());
            float[] o = st.toFloatArray("o");
            for (int i = 0; i < o.length; i++) assertEquals(ref.o()[i], o[i], 1e-5, "o[" + i + "]");
        }
    }

    @Test
    void kernelDiffAttentionNamesTheBadTensorAndOption() throws Exception {
        int b = 1, s = 3, d = 4;
        Path in = dir.resolve("in.safetensors"), out = dir.resolve("out.safetensors");
        new SafeTensorsWriter().addF32("q", new long[] {b, s, 2, d}, new float[b * s * 2 * d]).addF32("k", new long[] {b, s, 2, d},
                new float[b * s * 2 * d]).addF32("v", new long[] {b, s, 1, d}, new float[b * s * d]).addF32("subln", new long[] {2 * d},
                new float[2 * d]).write(in);
        Object[] badV = cli("kernel", "diff-attention", "--in", in.toString(), "--out", out.toString(), "--device", "cpu", "--lambda", "0.5",
                "--lambda-init", "0.2");
        assertEquals(1, badV[0]);
        assertTrue(((String) badV[1]).contains("v must be [1, 3, 1, 8] (B, Skv, Hkv, 2D), got shape [1, 3, 1, 4]"), (String) badV[1]);
        Object[] badEps = cli("kernel", "diff-attention", "--in", in.toString(), "--out", out.toString(), "--device", "cpu", "--lambda", "0.5",
                "--lambda-init", "0.2", "--eps", "0");
        assertEquals(2, badEps[0]);
        assertTrue(((String) badEps[1]).contains("eps (0.0) must be finite and > 0"), (String) badEps[1]);
        Object[] noLambda = cli("kernel", "diff-attention", "--in", in.toString(), "--out", out.toString(), "--device", "cpu");
        assertEquals(2, noLambda[0]);
        assertTrue(((String) noLambda[1]).contains("--lambda"), (String) noLambda[1]);
        Path in2 = dir.resolve("in2.safetensors");
        new SafeTensorsWriter().addF32("q", new long[] {b, s, 2, d}, new float[b * s * 2 * d]).write(in2);
        Object[] missing = cli("kernel", "diff-attention", "--in", in2.toString(), "--out", out.toString(), "--device", "cpu", "--lambda",
                "0.5", "--lambda-init", "0.2");
        assertEquals(1, missing[0]);
        assertTrue(((String) missing[1]).startsWith("braindrip: diff-attention: input 'k' not found"), (String) missing[1]);
    }

    @Test
    void benchDiffAttentionComparesTheThreeVersions() throws Exception {
        assertTrue(OpBench.OPS.contains("diff-attention"));
        Path json = dir.resolve("bench.json");
        Object[] res = cli("bench", "diff-attention", "--device", "cpu", "--batch", "1", "--seq", "96", "--heads", "2", "--kv-heads", "1",
                "--head-dim", "16", "--causal", "--repeats", "2", "--warmup", "1", "--no-ceilings", "--json", json.toString());
        assertEquals(0, res[0], (String) res[1]);
        JsonNode arr = new ObjectMapper().readTree(json.toFile());
        assertEquals(1, arr.size());
        JsonNode r = arr.get(0);
        assertEquals("diff-attention", r.get("op").asText());
        assertEquals(96, r.get("shape").get("seq_q").asInt());
        assertEquals(1, r.get("shape").get("kv_heads").asInt());
        assertTrue(r.get("shape").get("causal").asBoolean());
        // 2·B·Hq·pairs·(D + Dv) with Hq = 2H = 4, D 16, Dv 32 and 96·97/2 causal pairs
        double flops = 2.0 * 4 * (96 * 97 / 2) * (16 + 32);
        assertEquals(flops / (r.get("median_ms").asDouble() * 1e-3) / 1e12, r.get("tflops").asDouble(), 1e-9);
        double one = r.get("one_causal_ms").asDouble(), two = r.get("two_pass_ms").asDouble();
        assertTrue(one > 0 && two > 0, r.toString());
        assertEquals(r.get("median_ms").asDouble() / one, r.get("fused_over_one_causal").asDouble(), 1e-9);
        assertEquals(r.get("median_ms").asDouble() / two, r.get("fused_over_two_pass").asDouble(), 1e-9);
        assertEquals("one attention call, Dv = 2D", r.get("one_causal_form").asText()); // the CPU implements Dv = 2D
        assertEquals(two, r.get("peer").get("median_ms").asDouble(), 0);
    }
}
