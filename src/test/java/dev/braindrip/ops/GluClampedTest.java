package dev.braindrip.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.braindrip.jni.Kernels;
import dev.braindrip.ops.moe.ExpertActivation;
import dev.braindrip.reference.MoeReference;
import dev.braindrip.reference.Reference;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import dev.braindrip.tensor.Half;
import dev.braindrip.tensor.NativeStatus;
import dev.braindrip.tensor.Tensor;
import dev.braindrip.testing.GpuTest;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * glu_clamped, Phi-3-small's GeGELU y = g·σ(1.702 g)·(u + 1) with g = min(gate, L) and u =
 * clamp(up, −L, L) (±∞ pass, NaN stays), against the fp64 oracle {@link Reference#gluClamped}: on
 * the CPU everywhere, on CUDA device 0 when usable (else skipped with the probe's reason). Odd
 * shapes, limits 7 (gpt-oss's), 20 (Phi-3-small's) and +∞ (no clamp), gates and ups up to ±30 so
 * that both clamps bite. F32 within the GLUs' NMSE; F16/BF16 by FlashAttention's rule (max error ≤
 * 2·the naive eager chain's in the storage type + a floor) and correctly rounded. Also: the special
 * values, guard regions on the raw kernel, the limit check, and agreement with the gpt-oss expert
 * activation's oracle (the same math at limit 7 for finite inputs).
 */
class GluClampedTest {
    static final int[][] SHAPES = {{1, 1}, {3, 7}, {5, 127}, {7, 257}, {2, 4099}};
    static final float[] LIMITS = {7f, 20f, Float.POSITIVE_INFINITY};

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (DType dt : OpCases.FLOATS) {
            for (int[] s : SHAPES) {
                for (float limit : LIMITS) out.add(Arguments.of(dt, s[0], s[1], limit));
            }
        }
        return out.stream();
    }

    static Stream<Arguments> dtypes() {
        return Stream.of(OpCases.FLOATS).map(Arguments::of);
    }

    private static Arena arena(Device device) {
        return Arena.on(device, 1L << 28);
    }

    private static Kernels kernels(Device device) {
        return device.isCuda() ? Kernels.cuda() : Kernels.CPU;
    }

    /** (rows, 2f): gates ±[0.01, 30), ups ±[0.01, 30). */
    private static float[] input(Inputs in, int rows, int f) {
        return in.signed(rows * 2 * f, 0.01, 30);
    }

    // ---- against the oracle, through Ops

    @ParameterizedTest(name = "glu_clamped {0} [{1},2x{2}] limit {3} on cpu")
    @MethodSource("cases")
    void matchesFp64OnCpu(DType dt, int rows, int f, float limit) {
        matchesFp64(Device.cpu(), dt, rows, f, limit);
    }

    @GpuTest
    @ParameterizedTest(name = "glu_clamped {0} [{1},2x{2}] limit {3} on cuda:0")
    @MethodSource("cases")
    void matchesFp64OnCuda(DType dt, int rows, int f, float limit) {
        matchesFp64(Device.cuda(0), dt, rows, f, limit);
    }

    private static void matchesFp64(Device device, DType dt, int rows, int f, float limit) {
        String ctx = "glu_clamped " + dt + " [" + rows + "," + 2 * f + "] limit " + limit + " on " + device;
        Inputs in = new Inputs(Seeds.forCase(ctx));
        try (Arena arena = arena(device); Tensor x = arena.fromFloats(input(in, rows, f), dt, rows, 2L * f);
             Tensor y = Ops.on(arena).gluClamped(x, limit)) {
            assertEquals(dt, y.dtype(), ctx + ": output dtype");
            assertEquals(List.of((long) rows, (long) f), List.of(y.dim(0), y.dim(1)), ctx + ": output shape");
            double[] held = OpCase.held(x);
            check(ctx, y.toFloatArray(), held, rows, f, limit, dt);
        }
    }

    /** F32: NMSE; F16/BF16: within twice the naive chain's error, and correctly rounded. */
    private static void check(String ctx, float[] got, double[] held, int rows, int f, float limit, DType dt) {
        double[] ref = Reference.gluClamped(held, rows, f, limit);
        if (dt == DType.F32) {
            Check.closeRounded(ctx, "y", got, ref, dt, "glu");
            return;
        }
        Check.finite(ctx, "y", got, ref);
        double[] naive = naive(held, rows, f, limit, dt);
        double errK = 0, errN = 0, maxRef = Check.maxAbs(ref);
        for (int i = 0; i < ref.length; i++) {
            errK = Math.max(errK, Math.abs(got[i] - ref[i]));
            errN = Math.max(errN, Math.abs(naive[i] - ref[i]));
        }
        double floor = 0x1p-20 * maxRef;
        if (!(errK <= 2 * errN + floor)) {
            fail(String.format(Locale.ROOT, "%s: max|kernel - ref64| = %.3g > 2 * max|naive %s - ref64| (%.3g) + %.3g %s", ctx, errK, dt,
                    errN, floor, Seeds.tag()));
        }
        Check.closeRounded(ctx, "y", got, ref, dt, "glu");
    }

    /**
     * The eager chain in the storage type (modeling_phi3_small.py's gegelu run in BF16/F16): the clamps
     * (exact), t = 1.702·g, s = σ(t), q = g·s, v = u + 1, y = q·v, each rounded to dt.
     */
    static double[] naive(double[] x, int rows, int f, float limit, DType dt) {
        double[] y = new double[rows * f];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < f; c++) {
                float g = (float) x[r * 2 * f + c], u = (float) x[r * 2 * f + f + c];
                if (!Float.isInfinite(g) && g > limit) g = limit;
                if (!Float.isInfinite(u)) u = Math.max(-limit, Math.min(limit, u));
                g = Half.round(dt, g);
                u = Half.round(dt, u);
                float t = Half.round(dt, 1.702f * g);
                float s = Half.round(dt, (float) (1 / (1 + Math.exp(-t))));
                float q = Half.round(dt, g * s);
                float v = Half.round(dt, u + 1f);
                y[r * f + c] = Half.round(dt, q * v);
            }
        }
        return y;
    }

    // ---- the same math as gpt-oss's expert activation at limit 7 (finite inputs)

    @Test
    void limitSevenIsTheGptOssActivation() {
        int rows = 3, f = 257;
        String ctx = "glu_clamped vs gpt-oss activation";
        Inputs in = new Inputs(Seeds.forCase(ctx));
        float[] x = input(in, rows, f);
        double[] held = new double[x.length];
        for (int i = 0; i < x.length; i++) held[i] = x[i];
        double[] ours = Reference.gluClamped(held, rows, f, 7);
        double worst = 0;
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < f; c++) {
                double oss = MoeReference.activation(ExpertActivation.GPTOSS_CLAMPED, held[r * 2 * f + c], held[r * 2 * f + f + c]);
                worst = Math.max(worst, Math.abs(oss - ours[r * f + c]) / Math.max(1, Math.abs(oss)));
            }
        }
        assertTrue(worst <= 1e-14, ctx + ": the two oracles differ by " + worst);
        try (Arena arena = arena(Device.cpu()); Tensor xt = arena.fromFloats(x, DType.F32, rows, 2L * f);
             Tensor y = Ops.on(arena).gluClamped(xt, 7f)) {
            double[] oss = new double[rows * f];
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < f; c++) oss[r * f + c] = MoeReference.activation(ExpertActivation.GPTOSS_CLAMPED, held[r * 2 * f + c],
                        held[r * 2 * f + f + c]);
            }
            Check.closeRounded(ctx, "y", y.toFloatArray(), oss, DType.F32, "glu");
        }
    }

    // ---- special values: infinities pass the clamps, NaN stays NaN

    @Test
    void specialValuesOnCpu() {
        specialValues(Device.cpu());
    }

    @GpuTest
    @Test
    void specialValuesOnCuda() {
        specialValues(Device.cuda(0));
    }

    private static void specialValues(Device device) {
        float inf = Float.POSITIVE_INFINITY, nan = Float.NaN;
        // pairs (gate, up): +inf gate passes (y = +inf·(u + 1)); -inf gate gives -inf·0 = NaN; ±inf ups pass;
        // NaN propagates; the clamp boundary and far past it
        float[][] pairs = {{inf, 0.5f}, {-inf, 0.5f}, {1f, inf}, {1f, -inf}, {nan, 1f}, {1f, nan}, {7f, 7f}, {7.5f, -7.5f},
                {100f, 100f}, {-100f, -100f}, {3e38f, 3e38f}, {-3e38f, 2f}, {0f, 1f}, {-0f, -1f}};
        float limit = 7f;
        int f = pairs.length;
        float[] x = new float[2 * f];
        for (int c = 0; c < f; c++) {
            x[c] = pairs[c][0];
            x[f + c] = pairs[c][1];
        }
        double[] held = new double[x.length];
        for (int i = 0; i < x.length; i++) held[i] = x[i];
        double[] ref = Reference.gluClamped(held, 1, f, limit);
        assertTrue(ref[0] == Double.POSITIVE_INFINITY && Double.isNaN(ref[1]) && ref[2] == Double.POSITIVE_INFINITY
                && ref[3] == Double.NEGATIVE_INFINITY && Double.isNaN(ref[4]) && Double.isNaN(ref[5]), "oracle specials");
        String ctx = "glu_clamped specials on " + device;
        try (Arena arena = arena(device); Tensor xt = arena.fromFloats(x, DType.F32, 1, 2L * f);
             Tensor y = Ops.on(arena).gluClamped(xt, limit)) {
            Check.closeRounded(ctx, "y", y.toFloatArray(), ref, DType.F32, "glu");
        }
    }

    // ---- guard regions on the raw kernels

    @ParameterizedTest(name = "guard {0} on cpu")
    @MethodSource("dtypes")
    void guardRegionsStayUntouchedOnCpu(DType dt) {
        guardRegions(Device.cpu(), dt);
    }

    @GpuTest
    @ParameterizedTest(name = "guard {0} on cuda:0")
    @MethodSource("dtypes")
    void guardRegionsStayUntouchedOnCuda(DType dt) {
        guardRegions(Device.cuda(0), dt);
    }

    private static void guardRegions(Device device, DType dt) {
        int rows = 5, f = 37;
        float limit = 20f;
        String ctx = "guard glu_clamped " + dt + " [" + rows + "," + 2 * f + "] on " + device;
        Inputs in = new Inputs(Seeds.forCase(ctx));
        Kernels k = kernels(device);
        try (Arena arena = arena(device); Tensor x = arena.fromFloats(input(in, rows, f), dt, rows, 2L * f);
             Guarded y = Guarded.of(arena, dt, rows * f)) {
            int st = k.gluClamped(x.address(), y.address(), rows, f, limit, dt.code(), 0L);
            if (st != NativeStatus.OK) fail(ctx + ": status " + st + ": " + k.lastError() + " " + Seeds.tag());
            Ops.on(arena).synchronize();
            y.assertGuardsIntact(ctx);
            check(ctx, y.values(dt), OpCase.held(x), rows, f, limit, dt);
        }
    }

    // ---- the limit must be > 0 (NaN refused), the last dimension even

    @Test
    void badArgumentsAreRefusedOnCpu() {
        badArguments(Device.cpu());
    }

    @GpuTest
    @Test
    void badArgumentsAreRefusedOnCuda() {
        badArguments(Device.cuda(0));
    }

    private static void badArguments(Device device) {
        Kernels k = kernels(device);
        try (Arena arena = arena(device); Tensor x = arena.fromFloats(new float[] {1f, -2f, 3f, 4f}, DType.F32, 1, 4);
             Tensor odd = arena.fromFloats(new float[] {1f, 2f, 3f}, DType.F32, 1, 3)) {
            Ops ops = Ops.on(arena);
            for (float limit : new float[] {0f, -0f, -1f, Float.NaN, Float.NEGATIVE_INFINITY}) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ops.gluClamped(x, limit).close(),
                        "glu_clamped with limit " + limit + " on " + device);
                assertTrue(e.getMessage().startsWith("glu_clamped: limit ("), e.getMessage());
                // the raw kernel, also for a zero-sized call: the limit is checked before the size
                assertEquals(NativeStatus.INVALID_ARGUMENT, k.gluClamped(x.address(), x.address(), 0, 2, limit, DType.F32.code(), 0L));
                assertTrue(k.lastError().contains("glu_clamped: limit"), k.lastError());
            }
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ops.gluClamped(odd, 7f).close());
            assertTrue(e.getMessage().contains("glu_clamped: last dimension (3) must be even"), e.getMessage());
            assertEquals(2, arena.liveTensors(), "a refused glu_clamped leaked its output on " + device);
        }
        assertThrows(IllegalArgumentException.class, () -> Reference.gluClamped(new double[] {1, 2}, 1, 1, 0));
    }
}
