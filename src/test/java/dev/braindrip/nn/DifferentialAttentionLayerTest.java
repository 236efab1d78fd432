package dev.braindrip.nn;

import dev.braindrip.ops.DiffAttentionSpec;

import dev.braindrip.ops.Ops;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.braindrip.reference.DiffAttentionReference;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import dev.braindrip.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The differential attention layer on the CPU backend against the whole-layer reference
 * (DiffAttentionReference.layer: the reference module's forward in double), its decode path over
 * a KV cache against its own prefill, and its constructor checks.
 */
class DifferentialAttentionLayerTest {
    private static Arena arena;

    @BeforeAll
    static void open() {
        arena = Arena.on(Device.cpu(), 1L << 30);
    }

    @AfterAll
    static void close() {
        arena.close();
    }

    /** A layer's weights as host arrays (scaled like an initialised nn.Linear) and as tensors. */
    private record Fixture(DiffAttentionReference.LayerWeights w, List<Tensor> tensors, DifferentialAttention layer) implements AutoCloseable {
        @Override
        public void close() {
            for (Tensor t : tensors) t.close();
        }
    }

    private static double gauss(SplittableRandom rng) {
        double u1 = 1.0 - rng.nextDouble(), u2 = rng.nextDouble();
        return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }

    private static float[] randn(SplittableRandom rng, int n, double sd) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (sd * gauss(rng));
        return x;
    }

    private static Fixture fixture(int e, int h, int hkv, int depth, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        int d = e / h / 2, ekv = 2 * hkv * d;
        double sd = 1 / Math.sqrt(e);
        float[] subln = new float[2 * d];
        for (int i = 0; i < subln.length; i++) subln[i] = (float) (0.75 + 0.5 * rng.nextDouble());
        DiffAttentionReference.LayerWeights w = new DiffAttentionReference.LayerWeights(randn(rng, e * e, sd), randn(rng, ekv * e, sd),
                randn(rng, ekv * e, sd), randn(rng, e * e, sd), randn(rng, d, 0.1), randn(rng, d, 0.1), randn(rng, d, 0.1),
                randn(rng, d, 0.1), subln);
        List<Tensor> ts = new ArrayList<>();
        Tensor q = add(ts, arena.fromFloats(w.qProj(), DType.F32, e, e));
        Tensor k = add(ts, arena.fromFloats(w.kProj(), DType.F32, ekv, e));
        Tensor v = add(ts, arena.fromFloats(w.vProj(), DType.F32, ekv, e));
        Tensor o = add(ts, arena.fromFloats(w.outProj(), DType.F32, e, e));
        Tensor s = add(ts, arena.fromFloats(subln, DType.F32, 2L * d));
        DifferentialAttention layer = new DifferentialAttention(Ops.on(arena), e, h, hkv, depth, q, k, v, o, w.lambdaQ1(), w.lambdaK1(),
                w.lambdaQ2(), w.lambdaK2(), s, 10000f);
        return new Fixture(w, ts, layer);
    }

    private static Tensor add(List<Tensor> ts, Tensor t) {
        ts.add(t);
        return t;
    }

    @Test
    void forwardMatchesTheWholeLayerReference() {
        for (int hkv : new int[] {4, 2}) {
            int b = 2, s = 50, e = 128, h = 4, depth = 2;
            try (Fixture f = fixture(e, h, hkv, depth, 11 + hkv)) {
                SplittableRandom rng = new SplittableRandom(7);
                float[] x = randn(rng, b * s * e, 1.0);
                int[] pos = new int[b * s];
                for (int bb = 0; bb < b; bb++) for (int t = 0; t < s; t++) pos[bb * s + t] = t + 3 * bb; // sequence 1 starts at 3
                double[] want = DiffAttentionReference.layer(x, b, s, e, h, hkv, depth, pos, 10000f, f.w());
                assertEquals(DiffAttentionSpec.lambdaInit(depth), f.layer().lambdaInit(), 0f);
                assertEquals(16, f.layer().headDim());
                try (Tensor xt = arena.fromFloats(x, DType.F32, b, s, e); Tensor pt = arena.fromInts(pos, b, s);
                     Tensor y = f.layer().forward(xt, pt)) {
                    assertArrayEquals(new long[] {b, s, e}, y.shape());
                    float[] got = y.toFloatArray();
                    double maxRef = 0, err = 0;
                    for (int i = 0; i < got.length; i++) {
                        maxRef = Math.max(maxRef, Math.abs(want[i]));
                        err = Math.max(err, Math.abs(got[i] - want[i]));
                    }
                    // F32 end to end: projections, RoPE, the fused kernel and out_proj each round at ~1e-7
                    assertTrue(maxRef > 0.1, "the layer output is not trivially small: " + maxRef);
                    assertTrue(err <= 2e-5 * maxRef, "Hkv " + hkv + ": max|layer - reference| = " + err + " (max|ref| " + maxRef + ")");
                }
            }
        }
    }

    @Test
    void decodeStepsOverTheCacheMatchPrefill() {
        int b = 1, s = 24, e = 64, h = 2, hkv = 1;
        try (Fixture f = fixture(e, h, hkv, 0, 5)) {
            SplittableRandom rng = new SplittableRandom(9);
            float[] x = randn(rng, b * s * e, 1.0);
            int[] pos = new int[s];
            for (int t = 0; t < s; t++) pos[t] = t;
            try (Tensor xt = arena.fromFloats(x, DType.F32, b, s, e); Tensor pt = arena.fromInts(pos, b, s);
                 Tensor y = f.layer().forward(xt, pt); DenseKvCache cache = f.layer().newCache(b, 32)) {
                float[] full = y.toFloatArray();
                // a 10-token chunk of prefill, then one token at a time
                int t = 0;
                for (int n : new int[] {10, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}) {
                    float[] xc = new float[n * e];
                    int[] pc = new int[n];
                    System.arraycopy(x, t * e, xc, 0, n * e);
                    for (int i = 0; i < n; i++) pc[i] = t + i;
                    try (Tensor xs = arena.fromFloats(xc, DType.F32, b, n, e); Tensor ps = arena.fromInts(pc, b, n);
                         Tensor ys = f.layer().step(xs, ps, cache)) {
                        float[] got = ys.toFloatArray();
                        for (int i = 0; i < n * e; i++) {
                            assertEquals(full[t * e + i], got[i], 1e-5f, "token " + (t + i / e) + " column " + i % e);
                        }
                    }
                    t += n;
                }
                assertEquals(s, cache.length(0));
            }
        }
    }

    @Test
    void constructorNamesTheBadWeight() {
        try (Fixture f = fixture(64, 2, 1, 0, 3)) {
            List<Tensor> t = f.tensors();
            float[] l = new float[16];
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new DifferentialAttention(Ops.on(arena), 64, 2, 1, 0,
                    t.get(0), t.get(0), t.get(2), t.get(3), l, l, l, l, t.get(4), 10000f));
            assertTrue(e.getMessage().contains("k_proj.weight must be [32, 64]"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> new DifferentialAttention(Ops.on(arena), 64, 3, 1, 0, t.get(0), t.get(1),
                    t.get(2), t.get(3), l, l, l, l, t.get(4), 10000f));
            assertTrue(e.getMessage().contains("embed dim (64) must be a positive multiple of 2 * heads (6)"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> new DifferentialAttention(Ops.on(arena), 64, 2, 1, 0, t.get(0), t.get(1),
                    t.get(2), t.get(3), new float[3], l, l, l, t.get(4), 10000f));
            assertTrue(e.getMessage().contains("head dim 16 entries"), e.getMessage());
        }
    }
}
