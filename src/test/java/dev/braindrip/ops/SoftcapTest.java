package dev.braindrip.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.braindrip.jni.Kernels;
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
 * softcap, y = cap · tanh(x / cap) (Gemma 2's final logit softcap), against the fp64 oracle: on the
 * CPU everywhere, on CUDA device 0 when it is usable (else skipped with the probe's reason). Inputs
 * span |x| up to 5·cap, so both the linear middle and the saturated tails are covered. F32 must
 * reach NMSE ≤ 1e-12; F16/BF16 follow FlashAttention's rule, max|kernel − ref64| ≤
 * 2·max|naive same precision − ref64| + floor, where the naive chain is what an eager framework
 * runs (x / cap, tanh, · cap, each rounded to the storage type), and must also be the correct
 * rounding of the exact value as the other elementwise ops ({@link Check#closeRounded}, held to the
 * activations' tolerance: softcap is a tanh).
 */
class SoftcapTest {
    static final int[] SIZES = {1, 7, 257, 4099};
    static final float[] CAPS = {30f, 50f, 0.75f}; // Gemma 2's final and attention caps, and one below 1
    static final double F32_NMSE = 1e-12;

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (DType dt : OpCases.FLOATS) {
            for (int n : SIZES) {
                for (float cap : CAPS) out.add(Arguments.of(dt, n, cap));
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

    /** |x| uniform in [1e-3·cap, 5·cap), random signs. */
    private static float[] input(Inputs in, int n, float cap) {
        return in.signed(n, 1e-3 * cap, 5.0 * cap);
    }

    // ---- against the oracle, through Ops

    @ParameterizedTest(name = "softcap {0} n={1} cap={2} on cpu")
    @MethodSource("cases")
    void matchesFp64OnCpu(DType dt, int n, float cap) {
        matchesFp64(Device.cpu(), dt, n, cap);
    }

    @GpuTest
    @ParameterizedTest(name = "softcap {0} n={1} cap={2} on cuda:0")
    @MethodSource("cases")
    void matchesFp64OnCuda(DType dt, int n, float cap) {
        matchesFp64(Device.cuda(0), dt, n, cap);
    }

    private static void matchesFp64(Device device, DType dt, int n, float cap) {
        String ctx = "softcap " + dt + " n=" + n + " cap=" + cap + " on " + device;
        Inputs in = new Inputs(Seeds.forCase(ctx));
        try (Arena arena = arena(device); Tensor x = arena.fromFloats(input(in, n, cap), dt, n); Tensor y = Ops.on(arena).softcap(x, cap)) {
            assertEquals(dt, y.dtype(), ctx + ": output dtype");
            double[] held = OpCase.held(x);
            double[] ref = Reference.softcap(held, cap);
            check(ctx, y.toFloatArray(), held, ref, cap, dt);
        }
    }

    /** F32: NMSE; F16/BF16: within twice the naive chain's error, and correctly rounded. */
    private static void check(String ctx, float[] got, double[] held, double[] ref, float cap, DType dt) {
        if (dt == DType.F32) {
            Check.close(ctx, "y", got, ref, F32_NMSE);
            return;
        }
        Check.finite(ctx, "y", got, ref);
        double[] naive = naive(held, cap, dt);
        double errK = 0, errN = 0, maxRef = Check.maxAbs(ref);
        for (int i = 0; i < ref.length; i++) {
            errK = Math.max(errK, Math.abs(got[i] - ref[i]));
            errN = Math.max(errN, Math.abs(naive[i] - ref[i]));
        }
        double floor = 0x1p-20 * maxRef; // a few F32 ulps: the kernel's own F32 math
        if (!(errK <= 2 * errN + floor)) {
            fail(String.format(Locale.ROOT, "%s: max|kernel - ref64| = %.3g > 2 * max|naive %s - ref64| (%.3g) + %.3g %s", ctx, errK, dt, errN,
                    floor, Seeds.tag()));
        }
        Check.closeRounded(ctx, "y", got, ref, dt, "activation");
    }

    /** The eager chain in the storage type: t = x / cap, t = tanh(t), y = t · cap, each rounded to dt. */
    static double[] naive(double[] x, float cap, DType dt) {
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            float t = Half.round(dt, (float) (x[i] / cap));
            t = Half.round(dt, (float) Math.tanh(t));
            y[i] = Half.round(dt, t * cap);
        }
        return y;
    }

    // ---- special values: NaN stays NaN, ±Inf and huge values saturate at ±cap, zeros keep their sign

    @ParameterizedTest(name = "specials {0} on cpu")
    @MethodSource("dtypes")
    void specialValuesOnCpu(DType dt) {
        specialValues(Device.cpu(), dt);
    }

    @GpuTest
    @ParameterizedTest(name = "specials {0} on cuda:0")
    @MethodSource("dtypes")
    void specialValuesOnCuda(DType dt) {
        specialValues(Device.cuda(0), dt);
    }

    private static void specialValues(Device device, DType dt) {
        float cap = 30f, big = dt == DType.F16 ? 65504f : 3e38f;
        float[] x = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 0f, -0f, big, -big};
        float[] want = {Float.NaN, cap, -cap, 0f, -0f, cap, -cap};
        try (Arena arena = arena(device); Tensor xt = arena.fromFloats(x, dt, x.length); Tensor y = Ops.on(arena).softcap(xt, cap)) {
            float[] got = y.toFloatArray();
            for (int i = 0; i < x.length; i++) {
                boolean ok = Float.isNaN(want[i]) ? Float.isNaN(got[i]) : Float.floatToIntBits(got[i]) == Float.floatToIntBits(want[i]);
                assertTrue(ok, "softcap " + dt + " on " + device + ": softcap(" + x[i] + ") = " + got[i] + ", expected " + want[i]);
            }
        }
    }

    // ---- guard regions and in place, on the raw kernels

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

    /** An odd size into a guarded output, from an aligned input and from one off by an element (the scalar path on CUDA). */
    private static void guardRegions(Device device, DType dt) {
        int n = 257;
        float cap = 50f;
        for (int offset : new int[] {0, 1}) {
            String ctx = "guard softcap " + dt + " n=" + n + (offset > 0 ? " unaligned input" : "") + " on " + device;
            Inputs in = new Inputs(Seeds.forCase(ctx));
            Kernels k = kernels(device);
            try (Arena arena = arena(device); Tensor x = arena.fromFloats(input(in, n + offset, cap), dt, n + offset);
                 Guarded y = Guarded.of(arena, dt, n)) {
                double[] all = OpCase.held(x), held = new double[n];
                System.arraycopy(all, offset, held, 0, n);
                int st = k.softcap(x.address() + (long) offset * dt.bytes(), y.address(), n, cap, dt.code(), 0L);
                if (st != NativeStatus.OK) fail(ctx + ": status " + st + ": " + k.lastError() + " " + Seeds.tag());
                Ops.on(arena).synchronize();
                y.assertGuardsIntact(ctx);
                check(ctx, y.values(dt), held, Reference.softcap(held, cap), cap, dt);
            }
        }
    }

    @ParameterizedTest(name = "in place {0} on cpu")
    @MethodSource("dtypes")
    void inPlaceOnCpu(DType dt) {
        inPlace(Device.cpu(), dt);
    }

    @GpuTest
    @ParameterizedTest(name = "in place {0} on cuda:0")
    @MethodSource("dtypes")
    void inPlaceOnCuda(DType dt) {
        inPlace(Device.cuda(0), dt);
    }

    /** y == x: the input, placed in a guarded buffer, is overwritten by its softcap. */
    private static void inPlace(Device device, DType dt) {
        int n = 4099;
        float cap = 30f;
        String ctx = "softcap in place " + dt + " n=" + n + " on " + device;
        Inputs in = new Inputs(Seeds.forCase(ctx));
        Kernels k = kernels(device);
        float[] x0 = input(in, n, cap);
        try (Arena arena = arena(device); Tensor held = arena.fromFloats(x0, dt, n); Guarded xy = Guarded.of(arena, dt, n)) {
            xy.set(x0, dt);
            double[] h = OpCase.held(held);
            int st = k.softcap(xy.address(), xy.address(), n, cap, dt.code(), 0L);
            if (st != NativeStatus.OK) fail(ctx + ": status " + st + ": " + k.lastError() + " " + Seeds.tag());
            Ops.on(arena).synchronize();
            xy.assertGuardsIntact(ctx);
            check(ctx, xy.values(dt), h, Reference.softcap(h, cap), cap, dt);
        }
    }

    // ---- the cap must be finite and > 0

    @Test
    void badCapsAreRefusedOnCpu() {
        badCaps(Device.cpu());
    }

    @GpuTest
    @Test
    void badCapsAreRefusedOnCuda() {
        badCaps(Device.cuda(0));
    }

    private static void badCaps(Device device) {
        Kernels k = kernels(device);
        try (Arena arena = arena(device); Tensor x = arena.fromFloats(new float[] {1f, -2f, 3f}, DType.F32, 3)) {
            Ops ops = Ops.on(arena);
            for (float cap : new float[] {0f, -0f, -1f, Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ops.softcap(x, cap).close(),
                        "softcap with cap " + cap + " on " + device);
                assertTrue(e.getMessage().startsWith("softcap: cap (") && e.getMessage().contains("must be finite and > 0"), e.getMessage());
                // the raw kernel, also for a zero-sized call: the cap is checked before the size
                assertEquals(NativeStatus.INVALID_ARGUMENT, k.softcap(x.address(), x.address(), 0, cap, DType.F32.code(), 0L));
                assertTrue(k.lastError().contains("softcap: cap"), k.lastError());
            }
            assertEquals(1, arena.liveTensors(), "a refused softcap leaked its output on " + device);
        }
        assertThrows(IllegalArgumentException.class, () -> Reference.softcap(new double[] {1}, 0));
        assertThrows(IllegalArgumentException.class, () -> Reference.softcap(new double[] {1}, Double.NaN));
    }

    @Test
    void integerInputsAreRefused() {
        try (Arena arena = arena(Device.cpu()); Tensor x = arena.fromInts(new int[] {1, 2, 3}, 3)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Ops.on(arena).softcap(x, 30f).close());
            assertTrue(e.getMessage().startsWith("softcap"), e.getMessage());
        }
    }
}
