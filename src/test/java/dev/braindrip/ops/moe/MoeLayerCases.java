package dev.braindrip.ops.moe;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.braindrip.reference.MoeReference;
import dev.braindrip.reference.Reference;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import dev.braindrip.tensor.Half;
import dev.braindrip.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The whole layer (MoeLayer.forward over moe_forward) against the dense-equivalent oracle, on every
 * routing, layout, activation and path, with shared experts, capacity drops, zero and one token;
 * statistics; and BF16 under err(kernel) ≤ 2 · err(naive BF16) + floor.
 */
abstract class MoeLayerCases {
    abstract Device device();

    Arena arena;

    @BeforeEach
    void open() {
        arena = Arena.on(device(), 512L << 20);
    }

    @AfterEach
    void close() {
        arena.close();
    }

    static final MoeFixture.Extras NONE = MoeFixture.Extras.NONE;

    /** Runs the layer in F32 and checks y, ids, weights and statistics against the oracle (logits computed in double there). */
    MoeReference.Result f32Case(String what, MoeConfig c, int tokens, int h, int f, MoeFixture.Extras extras, long seed, double xScale) {
        try (MoeFixture fx = new MoeFixture(arena, DType.F32, c, h, f, seed).build(extras);
             Tensor x = fx.input(tokens, xScale);
             MoeOutput out = new MoeLayer(arena, c, fx.weights).forward(x)) {
            String at = what + " " + c + " T " + tokens + " H " + h + " F " + f + " seed " + seed;
            MoeReference.Result want = MoeReference.forward(MoeFixture.d(x), tokens, null, fx.ref, c);
            assertArrayEquals(want.route().ids(), out.topkIds().toIntArray(), at + ": topk_ids");
            MoeFixture.assertClose(at + ": topk_weights", want.route().weights(), out.topkWeights().toFloatArray(), 1e-6, 1e-5);
            MoeFixture.assertClose(at + ": y", want.y(), out.y().toFloatArray(), 1e-5, 1e-5);
            MoeStats s = out.stats();
            assertArrayEquals(want.route().tokensPerExpert(), s.tokensPerExpert(), at + ": tokens per expert");
            assertEquals(want.route().dropped(), s.tokensDropped(), at + ": dropped");
            assertEquals(want.route().lbLoss(), s.loadBalancingLoss(), 1e-4 * (1 + want.route().lbLoss()), at + ": load-balancing loss");
            assertEquals(want.route().zLoss(), s.routerZLoss(), 1e-4 * (1 + want.route().zLoss()), at + ": z-loss");
            return want;
        }
    }

    static MoeConfig.Builder mixtral() {
        return MoeConfig.builder().experts(8).topK(2).routing(Routing.SOFTMAX_TOPK).normTopk(true);
    }

    @Test
    void mixtralOnEveryPathAndBatchSize() {
        for (ExpertPath p : ExpertPath.values()) {
            for (int t : new int[] {1, 7, 16, 33, 64}) f32Case("mixtral", mixtral().path(p).build(), t, 32, 24, NONE, 100 + t, 1);
        }
    }

    @Test
    void oddSizesAndGeglu() {
        // E 12, H 20 and F 12 (not multiples of 8), k 4, no renormalisation
        MoeConfig c = MoeConfig.builder().experts(12).topK(4).activation(ExpertActivation.GEGLU).build();
        f32Case("odd", c, 50, 20, 12, NONE, 110, 1);
        f32Case("odd decode", c.toBuilder().path(ExpertPath.DECODE).build(), 5, 20, 12, NONE, 111, 1);
        f32Case("odd tanh", c.toBuilder().activation(ExpertActivation.GEGLU_TANH).build(), 9, 20, 12, NONE, 112, 1);
    }

    @Test
    void gptOssStyle() {
        // topk_softmax with the router's own bias, interleaved gate/up, expert biases, clamped activation;
        // x scaled by 4 so gates and ups pass the clamps at +-7
        MoeConfig c = MoeConfig.builder().experts(6).topK(2).routing(Routing.TOPK_SOFTMAX).activation(ExpertActivation.GPTOSS_CLAMPED)
                .gateUpLayout(GateUpLayout.INTERLEAVED).build();
        MoeFixture.Extras gptoss = new MoeFixture.Extras(true, true, 0, false);
        f32Case("gpt-oss", c, 40, 24, 16, gptoss, 120, 4);
        f32Case("gpt-oss decode", c, 3, 24, 16, gptoss, 121, 4);
    }

    @Test
    void deepSeekStyleWithSharedExpert() {
        MoeConfig c = MoeConfig.builder().experts(16).topK(4).routing(Routing.SIGMOID_GROUPED).groups(4).topkGroups(2).normTopk(true)
                .scaling(2.5f).build();
        MoeFixture.Extras ds = new MoeFixture.Extras(true, false, 20, false);
        f32Case("deepseek", c, 45, 32, 16, ds, 130, 1);
        f32Case("deepseek one token", c, 1, 32, 16, ds, 131, 1);
    }

    @Test
    void qwen2MoeStyleConcatLayoutAndGatedSharedExpert() {
        MoeConfig c = MoeConfig.builder().experts(10).topK(4).gateUpLayout(GateUpLayout.CONCAT).build();
        MoeFixture.Extras q = new MoeFixture.Extras(false, false, 24, true);
        f32Case("qwen2-moe", c, 37, 16, 8, q, 140, 1);
        f32Case("qwen2-moe decode", c.toBuilder().path(ExpertPath.DECODE).build(), 37, 16, 8, q, 141, 1);
    }

    @Test
    void capacityDropsLeaveOnlyTheSharedExpert() {
        MoeConfig c = MoeConfig.builder().experts(4).topK(1).routing(Routing.TOP1_CAPACITY).capacityFactor(1f).build();
        f32Case("top1", c, 30, 16, 8, NONE, 150, 1);
        MoeConfig tight = c.toBuilder().capacityFactor(0.5f).build(); // 4 tokens per expert of 30
        MoeReference.Result drops = f32Case("top1 tight", tight, 30, 16, 8, NONE, 151, 1);
        assertTrue(drops.route().dropped() >= 14, "capacity 4 x 4 experts keeps at most 16 of 30 tokens");
        f32Case("top1 tight shared", tight, 30, 16, 8, new MoeFixture.Extras(false, false, 8, true), 151, 1);
    }

    @Test
    void droppedTokensGiveExactlyZero() {
        MoeConfig c = MoeConfig.builder().experts(4).topK(1).routing(Routing.TOP1_CAPACITY).capacityFactor(0.25f).build();
        try (MoeFixture fx = new MoeFixture(arena, DType.F32, c, 16, 8, 152).build(NONE);
             Tensor x = fx.input(24);
             MoeOutput out = new MoeLayer(arena, c, fx.weights).forward(x)) {
            int[] ids = out.topkIds().toIntArray();
            float[] y = out.y().toFloatArray(), w = out.topkWeights().toFloatArray();
            int dropped = 0;
            for (int t = 0; t < 24; t++) {
                if (ids[t] >= 0) continue;
                dropped++;
                assertEquals(0f, w[t], "weight of dropped token " + t);
                for (int i = 0; i < 16; i++) assertEquals(0f, y[t * 16 + i], "y of dropped token " + t);
            }
            // capacity ceil(0.25 * 24 / 4) = 2 per expert: at most 8 tokens kept
            assertTrue(dropped >= 16, "dropped " + dropped);
            assertEquals(dropped, out.stats().tokensDropped());
        }
    }

    @Test
    void zeroTokensAndOneExpert() {
        MoeConfig c = mixtral().build();
        try (MoeFixture fx = new MoeFixture(arena, DType.F32, c, 16, 8, 160).build(NONE);
             Tensor x = arena.empty(DType.F32, 0, 16);
             MoeOutput out = new MoeLayer(arena, c, fx.weights).forward(x)) {
            assertArrayEquals(new long[] {0, 16}, out.y().shape());
            assertArrayEquals(new long[] {0, 2}, out.topkIds().shape());
            assertArrayEquals(new int[8], out.stats().tokensPerExpert());
        }
        f32Case("one expert", MoeConfig.builder().experts(1).topK(1).build(), 6, 16, 8, NONE, 161, 1);
    }

    // ---- BF16: err(kernel) <= 2 err(naive bf16) + floor

    /** A naive BF16 MoE, as an eager framework runs it: every GEMM output and every elementwise result rounded to BF16. */
    static double[] naiveBf16(double[] x, int tokens, MoeReference.Weights w, MoeConfig c, MoeReference.Route r) {
        int h = w.hidden(), f = w.ffn(), k = c.topK();
        double[] y = new double[tokens * h];
        for (int t = 0; t < tokens; t++) {
            float[] acc = new float[h];
            for (int j = 0; j < k; j++) {
                int e = r.ids()[t * k + j];
                if (e < 0) continue;
                float wt = bf(r.weights()[t * k + j]);
                float[] a = new float[f];
                for (int i = 0; i < f; i++) {
                    float g = bf(dot(w.wGate(), (e * f + i) * h, x, t * h, h)), u = bf(dot(w.wUp(), (e * f + i) * h, x, t * h, h));
                    a[i] = bf(bf(MoeReference.activation(c.activation(), g, 1)) * u);
                }
                for (int o = 0; o < h; o++) {
                    double s = 0;
                    for (int i = 0; i < f; i++) s += (float) (w.wDown()[(e * h + o) * f + i] * a[i]);
                    acc[o] = bf(acc[o] + bf(bf(s) * wt));
                }
            }
            if (w.sGate() != null) {
                int fs = w.sharedFfn();
                float[] a = new float[fs];
                for (int i = 0; i < fs; i++) {
                    float g = bf(dot(w.sGate(), i * h, x, t * h, h)), u = bf(dot(w.sUp(), i * h, x, t * h, h));
                    a[i] = bf(bf(MoeReference.activation(c.activation(), g, 1)) * u);
                }
                float gate = w.sRouter() == null ? 1f : bf(MoeReference.sigmoid(bf(dot(w.sRouter(), 0, x, t * h, h))));
                for (int o = 0; o < h; o++) {
                    double s = 0;
                    for (int i = 0; i < fs; i++) s += (float) (w.sDown()[o * fs + i] * a[i]);
                    acc[o] = bf(acc[o] + bf(bf(s) * gate));
                }
            }
            for (int o = 0; o < h; o++) y[t * h + o] = acc[o];
        }
        return y;
    }

    private static float bf(double v) {
        return Half.roundBf16((float) v);
    }

    /** F32 accumulation of a dot product, as a BF16 GEMM does. */
    private static double dot(double[] a, int aOff, double[] b, int bOff, int n) {
        float s = 0;
        for (int i = 0; i < n; i++) s += (float) (a[aOff + i] * b[bOff + i]);
        return s;
    }

    void bf16Case(String what, MoeConfig c, int tokens, int h, int f, MoeFixture.Extras extras, long seed) {
        try (MoeFixture fx = new MoeFixture(arena, DType.BF16, c, h, f, seed).build(extras);
             Tensor x = fx.input(tokens);
             MoeOutput out = new MoeLayer(arena, c, fx.weights).forward(x);
             Tensor logits = new MoeRouter(arena, c).logits(x, fx.weights.router())) {
            String at = what + " " + c + " T " + tokens + " seed " + seed;
            double[] xd = MoeFixture.d(x);
            // the oracle routes on the BF16 logits the layer routed on, so both pick the same experts
            MoeReference.Result want = MoeReference.forward(xd, tokens, MoeFixture.d(logits), fx.ref, c);
            assertArrayEquals(want.route().ids(), out.topkIds().toIntArray(), at + ": topk_ids");
            double[] naive = naiveBf16(xd, tokens, fx.ref, c, want.route());
            float[] got = out.y().toFloatArray();
            for (float v : got) assertTrue(Float.isFinite(v), at + ": non-finite output");
            double errKernel = MoeFixture.maxError(want.y(), got);
            double errNaive = 0;
            for (int i = 0; i < naive.length; i++) errNaive = Math.max(errNaive, Math.abs(naive[i] - want.y()[i]));
            double floor = 1e-5 * (1 + MoeFixture.maxAbs(want.y()));
            System.out.printf(java.util.Locale.ROOT, "[bf16] %s: err(kernel) %.3g, err(naive bf16) %.3g, max|ref| %.3g%n", at, errKernel, errNaive,
                    MoeFixture.maxAbs(want.y()));
            assertTrue(errKernel <= 2 * errNaive + floor, at + ": err(kernel) " + errKernel + " > 2 * err(naive bf16) " + errNaive + " + " + floor);
        }
    }

    @Test
    void bf16WithinTwiceTheNaiveError() {
        bf16Case("bf16 mixtral grouped", mixtral().build(), 40, 64, 48, NONE, 170);
        bf16Case("bf16 mixtral decode", mixtral().build(), 4, 64, 48, NONE, 171);
        bf16Case("bf16 mixtral simt", mixtral().path(ExpertPath.GROUPED_SIMT).build(), 40, 64, 48, NONE, 172);
        MoeConfig ds = MoeConfig.builder().experts(16).topK(4).routing(Routing.SIGMOID_GROUPED).groups(4).topkGroups(2).normTopk(true)
                .scaling(2.5f).build();
        bf16Case("bf16 deepseek", ds, 24, 32, 16, new MoeFixture.Extras(true, false, 32, false), 173);
        bf16Case("bf16 qwen2-moe", MoeConfig.builder().experts(8).topK(2).build(), 24, 32, 16, new MoeFixture.Extras(false, false, 32, true), 174);
    }

    @Test
    void pathForFollowsTheKernelPlan() {
        MoeConfig c = mixtral().build();
        try (MoeFixture fx = new MoeFixture(arena, DType.F32, c, 32, 24, 180).build(NONE)) {
            MoeLayer layer = new MoeLayer(arena, c, fx.weights);
            assertEquals(ExpertPath.DECODE, layer.pathFor(4), "4 tokens x k 2 = 8 slots: decode");
            assertEquals(ExpertPath.GROUPED_SIMT, layer.pathFor(5), "F32 storage: the SIMT grouped kernel");
            assertEquals(ExpertPath.GROUPED, new MoeLayer(arena, c.toBuilder().path(ExpertPath.GROUPED).build(), fx.weights).pathFor(1));
        }
    }
}
