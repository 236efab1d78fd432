package dev.braindrip.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.braindrip.ops.AttentionSpec;
import dev.braindrip.ops.BlockSparseLayout;
import dev.braindrip.io.SafeTensors;
import dev.braindrip.io.SafeTensorsDType;
import dev.braindrip.io.SafeTensorsWriter;
import dev.braindrip.reference.AttentionReference;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `braindrip kernel sparse-attention` and `braindrip bench sparse-attention` end to end on the CPU. */
class SparseAttentionCliTest {
    @TempDir
    Path dir;

    private static final int B = 1, SQ = 150, SKV = 200, HQ = 2, HKV = 1, D = 16;

    private static float[] randn(SplittableRandom r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) ((r.nextDouble() + r.nextDouble() + r.nextDouble() - 1.5) * 2);
        return x;
    }

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

    private float[][] qkv;

    /** Writes q, k, v (and a layout when given) to in.safetensors. */
    private Path inputs(byte[] layout, long[] layoutShape) throws Exception {
        SplittableRandom r = new SplittableRandom(33);
        qkv = new float[][] {randn(r, B * SQ * HQ * D), randn(r, B * SKV * HKV * D), randn(r, B * SKV * HKV * D)};
        Path in = dir.resolve("in.safetensors");
        SafeTensorsWriter w = new SafeTensorsWriter().addF32("q", new long[] {B, SQ, HQ, D}, qkv[0])
                .addF32("k", new long[] {B, SKV, HKV, D}, qkv[1]).addF32("v", new long[] {B, SKV, HKV, D}, qkv[2]);
        if (layout != null) w.add("layout", SafeTensorsDType.U8, layoutShape, ByteBuffer.wrap(layout));
        w.write(in);
        return in;
    }

    private void assertMatchesOracle(Path out, BlockSparseLayout layout, AttentionSpec spec) throws Exception {
        AttentionReference.Result ref = AttentionReference.exact(
                new AttentionReference.Problem(B, SQ, SKV, HQ, HKV, D, D, qkv[0], qkv[1], qkv[2], spec).layout(layout));
        try (SafeTensors st = SafeTensors.open(out)) {
            assertArrayEquals(new long[] {B, SQ, HQ, D}, st.info("o").shape());
            assertArrayEquals(new long[] {B, HQ, SQ}, st.info("lse").shape());
            float[] o = st.toFloatArray("o"), lse = st.toFloatArray("lse");
            for (int i = 0; i < o.length; i++) assertEquals(ref.o()[i], o[i], 1e-5, "o[" + i + "]");
            for (int i = 0; i < lse.length; i++) assertEquals(ref.lse()[i], lse[i], 1e-5, "lse[" + i + "]");
        }
    }

    @Test
    void kernelSparseAttentionWithAPattern() throws Exception {
        Path in = inputs(null, null), out = dir.resolve("out.safetensors");
        Object[] res = cli("kernel", "sparse-attention", "--in", in.toString(), "--out", out.toString(), "--device", "cpu", "--causal",
                "--pattern", "local:1,sink:1", "--scale", "0.3");
        assertEquals(0, res[0], (String) res[1]);
        assertMatchesOracle(out, BlockSparseLayout.parse("local:1,sink:1", 64, SKV), AttentionSpec.causal().scale(0.3f));
    }

    @Test
    void kernelSparseAttentionWithALayoutTensor() throws Exception {
        // per-head layout over ceil(200 / 64) = 4 blocks; head 1's row 3 is empty (those queries get zeros)
        byte[] m = new byte[HQ * 4 * 4];
        for (int x = 0; x < m.length; x++) m[x] = (byte) ((x * 7) % 3 == 0 ? 1 : 0);
        for (int kb = 0; kb < 4; kb++) m[(4 + 3) * 4 + kb] = 0;
        Path in = inputs(m, new long[] {HQ, 4, 4}), out = dir.resolve("out.safetensors");
        Object[] res = cli("kernel", "sparse-attention", "--in", in.toString(), "--out", out.toString(), "--device", "cpu");
        assertEquals(0, res[0], (String) res[1]);
        assertMatchesOracle(out, BlockSparseLayout.fromMask(m, HQ, 4, 4, 64), AttentionSpec.full());
        try (SafeTensors st = SafeTensors.open(out)) {
            float[] lse = st.toFloatArray("lse");
            assertEquals(Float.NEGATIVE_INFINITY, lse[1 * SQ + SQ - 1], "head 1, last query: empty layout row");
        }
    }

    @Test
    void usageErrorsAndWrongLayoutShapes() throws Exception {
        Path in = inputs(null, null), out = dir.resolve("out.safetensors");
        Object[] neither = cli("kernel", "sparse-attention", "--in", in.toString(), "--out", out.toString(), "--device", "cpu");
        assertEquals(2, neither[0], (String) neither[1]);
        assertTrue(((String) neither[1]).contains("needs --pattern"), (String) neither[1]);
        Object[] badTerm = cli("kernel", "sparse-attention", "--in", in.toString(), "--out", out.toString(), "--device", "cpu", "--pattern",
                "local:2,diag:3");
        assertEquals(2, badTerm[0], (String) badTerm[1]);
        assertTrue(((String) badTerm[1]).contains("'diag:3' is unknown"), (String) badTerm[1]);
        Object[] badBlock = cli("kernel", "sparse-attention", "--in", in.toString(), "--out", out.toString(), "--device", "cpu", "--pattern",
                "local:2", "--block", "100");
        assertEquals(2, badBlock[0], (String) badBlock[1]);
        assertTrue(((String) badBlock[1]).contains("--block (100) must be a positive multiple of 64"), (String) badBlock[1]);
        Path wrong = inputs(new byte[HQ * 3 * 4], new long[] {HQ, 3, 4});
        Object[] shape = cli("kernel", "sparse-attention", "--in", wrong.toString(), "--out", out.toString(), "--device", "cpu");
        assertEquals(1, shape[0], (String) shape[1]);
        assertTrue(((String) shape[1]).contains("input 'layout' must be (2 or 1, 4, 4)") && ((String) shape[1]).contains("got shape [2, 3, 4]"),
                (String) shape[1]);
    }

    @Test
    void benchSparseAttentionReportsDensityAndSpeedup() throws Exception {
        Path json = dir.resolve("bench.json");
        Object[] res = cli("bench", "sparse-attention", "--device", "cpu", "--batch", "1", "--seq", "512", "--heads", "2", "--head-dim", "32",
                "--causal", "--block", "64", "--pattern", "local:2,stride:4", "--repeats", "2", "--warmup", "1", "--no-ceilings", "--json",
                json.toString());
        assertEquals(0, res[0], (String) res[1]);
        JsonNode arr = new ObjectMapper().readTree(json.toFile());
        assertEquals(1, arr.size());
        JsonNode r = arr.get(0);
        assertEquals("sparse-attention", r.get("op").asText());
        assertEquals(512, r.get("shape").get("seq_kv").asInt());
        assertEquals("local:2,stride:4", r.get("shape").get("pattern").asText());
        double density = BlockSparseLayout.parse("local:2,stride:4", 64, 512).density(512, 512, true);
        assertEquals(density, r.get("density").asDouble(), 1e-12);
        assertTrue(density < 512.0 * 513 / 2 / (512.0 * 512), "sparser than dense causal: " + density);
        double dense = r.get("dense_median_ms").asDouble(), median = r.get("median_ms").asDouble();
        assertEquals(dense / median, r.get("speedup_vs_dense").asDouble(), 1e-9);
        assertEquals(dense, r.get("peer").get("median_ms").asDouble(), 1e-12);
        assertEquals(4.0 * 2 * 32 * density * 512 * 512 / (median * 1e-3) / 1e12, r.get("tflops").asDouble(), 1e-9);
    }
}
