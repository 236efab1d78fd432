package dev.braindrip.ops.moe;

import dev.braindrip.ops.Activation;

import dev.braindrip.ops.Ops;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.braindrip.reference.MoeReference;
import dev.braindrip.reference.Reference;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import dev.braindrip.tensor.Tensor;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Mixture of Depths: capacity, top-k routing, ties, apply vs the oracle, the FLOPs count, and the causal threshold rule. */
abstract class MixtureOfDepthsCases {
    abstract Device device();

    Arena arena;

    @BeforeEach
    void open() {
        arena = Arena.on(device(), 256L << 20);
    }

    @AfterEach
    void close() {
        arena.close();
    }

    static float[] normal(long seed, int n, double sd) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (sd * MoeFixture.gaussian(r));
        return v;
    }

    @Test
    void capacityIsCeilOfCTimesTClampedToOneAndT() {
        try (Tensor router = arena.fromFloats(new float[4], DType.F32, 1, 4)) {
            for (double c : new double[] {0.01, 0.1, 0.125, 0.3, 0.5, 0.7, 1.0}) {
                MixtureOfDepths mod = new MixtureOfDepths(arena, router, c);
                for (int t = 0; t <= 80; t++) assertEquals(MoeReference.modCapacity(t, c), mod.capacityTokens(t), "C " + c + " T " + t);
            }
            assertEquals(3, new MixtureOfDepths(arena, router, 0.3).capacityTokens(10), "0.3 x 10 is 3, not 4");
            assertEquals(MixtureOfDepths.DEFAULT_CAPACITY, new MixtureOfDepths(arena, router).capacity());
            assertEquals(8, new MixtureOfDepths(arena, router).capacityTokens(64), "default 12.5% of 64");
        }
    }

    @Test
    void routeMatchesTheOracle() {
        int t = 50, h = 24;
        for (double c : new double[] {MixtureOfDepths.DEFAULT_CAPACITY, 0.25, 1.0}) {
            try (Tensor router = arena.fromFloats(normal(200, h, 1 / Math.sqrt(h)), DType.F32, 1, h);
                 Tensor x = arena.fromFloats(normal(201, t * h, 1), DType.F32, t, h);
                 ModRoute r = new MixtureOfDepths(arena, router, c).route(x)) {
                double[] scores = MoeReference.modScores(MoeFixture.d(x), MoeFixture.d(router), t, h);
                MoeFixture.assertClose("C " + c + ": scores", scores, r.scores().toFloatArray(), 1e-6, 1e-6);
                MoeReference.ModRoute want = MoeReference.modRoute(scores, MoeReference.modCapacity(t, c));
                assertArrayEquals(want.selected(), r.selected().toIntArray(), "C " + c + ": selected, in sequence order");
                MoeFixture.assertClose("C " + c + ": weights", want.weights(), r.weights().toFloatArray(), 1e-6, 1e-6);
                assertEquals(want.threshold(), r.threshold(), 1e-6, "C " + c + ": threshold = the k-th largest score");
            }
        }
    }

    @Test
    void tiesGoToTheEarlierToken() {
        // router = e0, so the score is column 0: 3 appears at tokens 1, 3 and 5; k = 2 takes 1 and 3
        float[] col0 = {1, 3, 2, 3, 0, 3, 1, 2};
        float[] x = new float[8 * 4];
        for (int i = 0; i < 8; i++) x[i * 4] = col0[i];
        try (Tensor router = arena.fromFloats(new float[] {1, 0, 0, 0}, DType.F32, 1, 4);
             Tensor xs = arena.fromFloats(x, DType.F32, 8, 4);
             ModRoute r = new MixtureOfDepths(arena, router, 0.25).route(xs)) {
            assertArrayEquals(new int[] {1, 3}, r.selected().toIntArray());
            assertArrayEquals(new float[] {3, 3}, r.weights().toFloatArray());
            assertArrayEquals(new int[] {1, 3}, MoeReference.modRoute(Reference.toDouble(col0), 2).selected(), "oracle tie rule");
        }
        try (Tensor router = arena.fromFloats(new float[] {1, 0, 0, 0}, DType.F32, 1, 4);
             Tensor xs = arena.fromFloats(x, DType.F32, 8, 4);
             ModRoute r = new MixtureOfDepths(arena, router, 0.5).route(xs)) {
            // k = 4: the three 3s, then the earlier of the two 2s (token 2), listed in sequence order
            assertArrayEquals(new int[] {1, 2, 3, 5}, r.selected().toIntArray());
        }
    }

    /** f(rows) = silu(rows · Wᵀ) on the device; the same in double for the oracle. */
    record Block(Tensor w, double[] wd, int h) {
        UnaryOperator<Tensor> onDevice(Arena arena, AtomicLong rowsSeen) {
            return rows -> {
                rowsSeen.addAndGet(rows.dim(0));
                try (Tensor z = Ops.on(arena).gemm(rows, w, null, true)) {
                    return Ops.on(arena).activation(z, Activation.SILU);
                }
            };
        }

        UnaryOperator<double[]> inDouble() {
            return rows -> {
                int k = rows.length / h;
                double[] out = new double[rows.length];
                for (int i = 0; i < k; i++) {
                    for (int o = 0; o < h; o++) {
                        double s = 0;
                        for (int c = 0; c < h; c++) s += rows[i * h + c] * wd[o * h + c];
                        out[i * h + o] = Reference.silu(s);
                    }
                }
                return out;
            };
        }
    }

    @Test
    void applyMatchesTheOracleAndRunsTheBlockOnTheSelectedTokensOnly() {
        int t = 40, h = 16;
        try (Tensor router = arena.fromFloats(normal(210, h, 1 / Math.sqrt(h)), DType.F32, 1, h);
             Tensor w = arena.fromFloats(normal(211, h * h, 1 / Math.sqrt(h)), DType.F32, h, h);
             Tensor x = arena.fromFloats(normal(212, t * h, 1), DType.F32, t, h)) {
            MixtureOfDepths mod = new MixtureOfDepths(arena, router, 0.25);
            Block block = new Block(w, MoeFixture.d(w), h);
            AtomicLong rowsSeen = new AtomicLong();
            try (ModRoute r = mod.route(x); Tensor y = mod.apply(x, r, block.onDevice(arena, rowsSeen))) {
                assertEquals(10, r.count());
                assertEquals(10, rowsSeen.get(), "the block saw only the 10 selected rows");
                assertEquals(30 * 1000.0, r.flopsSaved(1000), "30 skipped tokens x 1000 FLOPs");
                MoeReference.ModRoute want = new MoeReference.ModRoute(r.selected().toIntArray(), MoeFixture.d(r.weights()), r.threshold());
                double[] ref = MoeReference.modApply(MoeFixture.d(x), t, h, want, block.inDouble());
                float[] got = y.toFloatArray(), xs = x.toFloatArray();
                MoeFixture.assertClose("mod apply", ref, got, 1e-5, 1e-5);
                boolean[] chosen = new boolean[t];
                for (int s : want.selected()) chosen[s] = true;
                for (int i = 0; i < t; i++) {
                    if (chosen[i]) continue;
                    for (int c = 0; c < h; c++) assertEquals(xs[i * h + c], got[i * h + c], "skipped token " + i + " rides the residual unchanged");
                }
                assertArrayEquals(xs, x.toFloatArray(), "apply leaves x unchanged");
            }
            // the convenience form routes and applies in one call
            try (Tensor y2 = mod.apply(x, block.onDevice(arena, rowsSeen))) {
                assertEquals(20, rowsSeen.get());
                assertEquals(t, y2.dim(0));
            }
        }
    }

    @Test
    void causalRuleIsCalibratedOnPrefillAndNeverLooksAhead() {
        int t = 64, h = 16;
        try (Tensor router = arena.fromFloats(normal(220, h, 1 / Math.sqrt(h)), DType.F32, 1, h);
             Tensor prefill = arena.fromFloats(normal(221, t * h, 1), DType.F32, t, h)) {
            MixtureOfDepths mod = new MixtureOfDepths(arena, router); // C = 0.125: k = 8
            float threshold = mod.calibrate(prefill);
            int[] topk;
            try (ModRoute r = mod.route(prefill)) {
                topk = r.selected().toIntArray();
                assertEquals(threshold, r.threshold());
            }
            try (ModRoute causal = mod.routeCausal(prefill, threshold)) {
                assertArrayEquals(topk, causal.selected().toIntArray(), "on its calibration prefill the rule picks the top-k tokens");
                assertEquals(threshold, causal.threshold());
                MoeReference.ModRoute want = MoeReference.modRouteThreshold(MoeFixture.d(causal.scores()), threshold);
                assertArrayEquals(want.selected(), causal.selected().toIntArray(), "oracle: score >= threshold");
            }
            float[] xs = prefill.toFloatArray();
            // a prefix is routed the same whether or not the rest of the sequence exists
            for (int m : new int[] {1, 10, 33}) {
                try (Tensor prefix = arena.fromFloats(Arrays.copyOf(xs, m * h), DType.F32, m, h); ModRoute r = mod.routeCausal(prefix, threshold)) {
                    assertArrayEquals(Arrays.stream(topk).filter(s -> s < m).toArray(), r.selected().toIntArray(), "prefix of " + m);
                }
            }
            // decode: one token at a time gives the same decisions
            for (int i = 0; i < t; i++) {
                final int tok = i;
                try (Tensor one = arena.fromFloats(Arrays.copyOfRange(xs, i * h, (i + 1) * h), DType.F32, 1, h);
                     ModRoute r = mod.routeCausal(one, threshold)) {
                    boolean want = Arrays.stream(topk).anyMatch(s -> s == tok);
                    assertEquals(want ? 1 : 0, r.count(), "decode step " + i);
                }
            }
        }
    }

    @Test
    void oneAndZeroTokens() {
        try (Tensor router = arena.fromFloats(normal(230, 8, 1), DType.F32, 1, 8);
             Tensor one = arena.fromFloats(normal(231, 8, 1), DType.F32, 1, 8);
             Tensor none = arena.empty(DType.F32, 0, 8)) {
            MixtureOfDepths mod = new MixtureOfDepths(arena, router);
            try (ModRoute r = mod.route(one)) {
                assertArrayEquals(new int[] {0}, r.selected().toIntArray(), "k is at least 1");
            }
            try (ModRoute r = mod.route(none); Tensor y = mod.apply(none, r, rows -> {
                throw new AssertionError("the block must not run on zero tokens");
            })) {
                assertEquals(0, r.count());
                assertEquals(0, y.dim(0));
            }
        }
    }

    @Test
    void bf16ApplyWithinTwiceTheNaiveError() {
        int t = 48, h = 32;
        try (Tensor router = arena.fromFloats(normal(240, h, 1 / Math.sqrt(h)), DType.BF16, 1, h);
             Tensor w = arena.fromFloats(normal(241, h * h, 1 / Math.sqrt(h)), DType.BF16, h, h);
             Tensor x = arena.fromFloats(normal(242, t * h, 1), DType.BF16, t, h)) {
            MixtureOfDepths mod = new MixtureOfDepths(arena, router, 0.25);
            Block block = new Block(w, MoeFixture.d(w), h);
            try (ModRoute r = mod.route(x); Tensor y = mod.apply(x, r, block.onDevice(arena, new AtomicLong()))) {
                MoeReference.ModRoute sel = new MoeReference.ModRoute(r.selected().toIntArray(), MoeFixture.d(r.weights()), r.threshold());
                double[] xd = MoeFixture.d(x);
                double[] ref = MoeReference.modApply(xd, t, h, sel, block.inDouble());
                // naive BF16: the block's output rounded, the weighted update rounded, the sum rounded
                double[] naive = MoeReference.modApply(xd, t, h, sel, rows -> {
                    double[] f = block.inDouble().apply(rows);
                    for (int i = 0; i < f.length; i++) f[i] = dev.braindrip.tensor.Half.roundBf16((float) f[i]);
                    return f;
                });
                for (int i = 0; i < naive.length; i++) naive[i] = dev.braindrip.tensor.Half.roundBf16((float) naive[i]);
                double errKernel = MoeFixture.maxError(ref, y.toFloatArray());
                double errNaive = 0;
                for (int i = 0; i < ref.length; i++) errNaive = Math.max(errNaive, Math.abs(naive[i] - ref[i]));
                double floor = 1e-5 * (1 + MoeFixture.maxAbs(ref));
                assertTrue(errKernel <= 2 * errNaive + floor, "mod bf16: err(kernel) " + errKernel + " > 2 * " + errNaive + " + " + floor);
            }
        }
    }
}
