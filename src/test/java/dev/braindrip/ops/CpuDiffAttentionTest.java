package dev.braindrip.ops;

import dev.braindrip.nn.DenseKvCache;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import dev.braindrip.tensor.Tensor;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The fused differential attention kernel of the CPU backend against the two-pass oracle
 * (DiffAttentionHarness), the λ / λinit formulas, the KV cache form through DenseKvCache, and the
 * error paths with their messages.
 */
class CpuDiffAttentionTest {
    private static Arena arena;

    @BeforeAll
    static void open() {
        arena = Arena.on(Device.cpu(), 1L << 30);
    }

    @AfterAll
    static void close() {
        arena.close(); // throws if a case leaked a tensor
    }

    static List<DiffAttentionHarness.Case> cases() {
        return DiffAttentionHarness.standardCases();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void matchesOracle(DiffAttentionHarness.Case c) {
        DiffAttentionHarness.check(arena, c);
    }

    @Test
    void lambdaInitFollowsTheDepthSchedule() {
        assertEquals(0.2f, DiffAttentionSpec.lambdaInit(0), 1e-7f);
        assertEquals((float) (0.8 - 0.6 * Math.exp(-0.3 * 5)), DiffAttentionSpec.lambdaInit(5), 1e-7f);
        assertEquals(0.8f, DiffAttentionSpec.lambdaInit(200), 1e-6f);
        assertThrows(IllegalArgumentException.class, () -> DiffAttentionSpec.lambdaInit(-1));
    }

    @Test
    void lambdaIsTheDifferenceOfTwoExponentialsPlusLambdaInit() {
        float[] q1 = {0.1f, -0.2f, 0.3f}, k1 = {0.5f, 0.5f, -1f}, q2 = {0.05f, 0f, 0.2f}, k2 = {1f, 2f, 3f};
        double s1 = 0.1 * 0.5 - 0.2 * 0.5 - 0.3, s2 = 0.05 + 0.6;
        float want = (float) (Math.exp(s1) - Math.exp(s2) + 0.2);
        assertEquals(want, DiffAttentionSpec.lambda(q1, k1, q2, k2, 0.2f), 1e-6f);
        // zero vectors (the module's λ at q·k = 0): exp(0) − exp(0) + λinit = λinit
        float[] z = new float[4];
        assertEquals(0.37f, DiffAttentionSpec.lambda(z, z, z, z, 0.37f), 0f);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> DiffAttentionSpec.lambda(q1, new float[2], q2, k2, 0.2f));
        assertTrue(e.getMessage().contains("share a length"), e.getMessage());
    }

    @Test
    void specRejectsWhatDifferentialAttentionDoesNotHave() {
        message(() -> DiffAttentionSpec.causal(Float.NaN, 0.2f), "lambda (NaN) must be finite");
        message(() -> DiffAttentionSpec.causal(0.5f, 0.2f).withEps(0f), "eps (0.0) must be finite and > 0");
        message(() -> DiffAttentionSpec.causal(0.5f, 0.2f).withMask(AttentionSpec.causal().softcap(30f)), "softcap (30.0)");
        message(() -> DiffAttentionSpec.causal(0.5f, 0.2f).withMask(AttentionSpec.causal().sinkTokens(4)), "sinkTokens (4)");
        message(() -> DiffAttentionSpec.causal(0.5f, 0.2f).withMask(null), "mask must be given");
    }

    /** Decode steps through a differential DenseKvCache equal the rows of one causal prefill. */
    @Test
    void cacheDecodeStepsMatchPrefill() {
        int b = 2, s = 40, h = 4, hkv = 2, d = 32;
        DiffAttentionSpec spec = DiffAttentionSpec.causal(0.6f, 0.3f);
        DiffAttentionHarness.Case c = DiffAttentionHarness.Case.of("prefill", DType.F32, b, s, s, h, hkv, d, spec);
        DiffAttentionHarness.Inputs in = DiffAttentionHarness.inputs(c);
        float[] prefill = DiffAttentionHarness.run(arena, c, in);
        Ops ops = Ops.on(arena);
        try (DenseKvCache cache = DenseKvCache.differential(arena, b, 64, hkv, d, DType.F32);
             Tensor q = arena.fromFloats(in.q(), DType.F32, b, s, 2L * h, d);
             Tensor k = arena.fromFloats(in.k(), DType.F32, b, s, 2L * hkv, d);
             Tensor v = arena.fromFloats(in.v(), DType.F32, b, s, hkv, 2L * d);
             Tensor subln = arena.fromFloats(in.subln(), DType.F32, 2L * d)) {
            float[] q1 = new float[2 * h * d], k1 = new float[2 * hkv * d], v1 = new float[hkv * 2 * d];
            for (int t = 0; t < s; t++) {
                float[] qa = new float[b * q1.length], ka = new float[b * k1.length], va = new float[b * v1.length];
                for (int bb = 0; bb < b; bb++) {
                    System.arraycopy(in.q(), (bb * s + t) * q1.length, qa, bb * q1.length, q1.length);
                    System.arraycopy(in.k(), (bb * s + t) * k1.length, ka, bb * k1.length, k1.length);
                    System.arraycopy(in.v(), (bb * s + t) * v1.length, va, bb * v1.length, v1.length);
                }
                try (Tensor qt = arena.fromFloats(qa, DType.F32, b, 1, 2L * h, d); Tensor kt = arena.fromFloats(ka, DType.F32, b, 1, 2L * hkv, d);
                     Tensor vt = arena.fromFloats(va, DType.F32, b, 1, hkv, 2L * d)) {
                    cache.append(kt, vt);
                    try (Tensor o = cache.attendDifferential(qt, subln, spec)) {
                        float[] got = o.toFloatArray();
                        int row = h * 2 * d;
                        for (int bb = 0; bb < b; bb++) {
                            float[] want = new float[row], have = new float[row];
                            System.arraycopy(prefill, (bb * s + t) * row, want, 0, row);
                            System.arraycopy(got, bb * row, have, 0, row);
                            assertArrayEquals(want, have, 1e-5f, "sequence " + bb + " token " + t);
                        }
                    }
                }
            }
            assertEquals(s, cache.length(1));
            // a plain cache cannot run differential attention
            try (DenseKvCache plain = new DenseKvCache(arena, b, 8, 2, d, d, DType.F32)) {
                IllegalStateException e = assertThrows(IllegalStateException.class, () -> plain.attendDifferential(q, subln, spec));
                assertTrue(e.getMessage().contains("DenseKvCache.differential"), e.getMessage());
            }
            assertTrue(k.numel() > 0 && v.numel() > 0);
        }
    }

    @Test
    void badArgumentsNameTheTensorAndTheShape() {
        DiffAttentionSpec spec = DiffAttentionSpec.causal(0.5f, 0.2f);
        Ops ops = Ops.on(arena);
        try (Tensor q = arena.zeros(DType.F32, 1, 4, 4, 8); Tensor k = arena.zeros(DType.F32, 1, 6, 2, 8);
             Tensor v = arena.zeros(DType.F32, 1, 6, 1, 16); Tensor subln = arena.zeros(DType.F32, 16);
             Tensor qOdd = arena.zeros(DType.F32, 1, 4, 3, 8); Tensor vBad = arena.zeros(DType.F32, 1, 6, 1, 8);
             Tensor sublnBad = arena.zeros(DType.F32, 8); Tensor kBf = arena.zeros(DType.BF16, 1, 6, 2, 8);
             Tensor kGqa = arena.zeros(DType.F32, 1, 6, 6, 8); Tensor vGqa = arena.zeros(DType.F32, 1, 6, 3, 16);
             Tensor used = arena.fromInts(new int[] {7}, 1); Tensor q3 = arena.zeros(DType.F32, 4, 4, 8)) {
            message(() -> ops.diffAttention(qOdd, k, v, subln, spec), "even number of heads");
            message(() -> ops.diffAttention(q, k, vBad, subln, spec), "v must be [1, 6, 1, 16]");
            message(() -> ops.diffAttention(q, k, v, sublnBad, spec), "subln must be [16] (2D)");
            message(() -> ops.diffAttention(q, kBf, v, subln, spec), "must share a dtype");
            message(() -> ops.diffAttention(q, kGqa, vGqa, subln, spec), "heads H (2, q has 2H) must be divisible by kvHeads Hkv (3");
            message(() -> ops.diffAttention(q3, k, v, subln, spec), "q must be (B, Sq, 2H, D)");
            message(() -> ops.diffAttention(q, k, v, subln, null), "spec must be given");
            message(() -> ops.diffAttentionKvCache(q, k, v, used, subln, spec), "seqUsedK[0] (7) must be in [0, 6]");
            message(() -> ops.diffAttentionKvCache(q, k, v, null, subln, spec), "needs seqUsedK");
            // a valid call through the same tensors works (the failures above are the arguments, not the setup)
            try (Tensor o = ops.diffAttention(q, k, v, subln, spec)) {
                assertArrayEquals(new long[] {1, 4, 2, 16}, o.shape());
            }
        }
        // the native layer names its own limit: head dim above 512 is unsupported on the CPU
        try (Tensor q = arena.zeros(DType.F32, 1, 1, 2, 600); Tensor k = arena.zeros(DType.F32, 1, 1, 2, 600);
             Tensor v = arena.zeros(DType.F32, 1, 1, 1, 1200); Tensor subln = arena.zeros(DType.F32, 1200)) {
            UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class, () -> ops.diffAttention(q, k, v, subln, spec));
            assertTrue(e.getMessage().startsWith("diff_attention") && e.getMessage().contains("512"), e.getMessage());
        }
    }

    static void message(Executable call, String fragment) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call::execute);
        assertTrue(e.getMessage().contains(fragment), "message '" + e.getMessage() + "' should contain '" + fragment + "'");
    }

    interface Executable {
        void execute() throws Throwable;
    }
}
