package dev.braindrip.ops;

import static org.junit.jupiter.api.Assertions.fail;

import dev.braindrip.reference.Reference;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Half;
import java.util.Arrays;

/** Assertions of the backend tests: NaN/Inf first, then NMSE; exact for integers and copies. */
final class Check {
    /** -Dbraindrip.nmse=true prints every NMSE with its tolerance (to see the margins). */
    private static final boolean REPORT = Boolean.getBoolean("braindrip.nmse");

    private Check() {}

    static double nmse(float[] out, double[] ref) {
        double num = 0, den = 0;
        for (int i = 0; i < ref.length; i++) {
            if (!Double.isFinite(ref[i])) continue;
            double d = out[i] - ref[i];
            num += d * d;
            den += ref[i] * ref[i];
        }
        return den == 0 ? num : num / den;
    }

    /** The output must be finite wherever the oracle is finite (and NaN/±Inf exactly where it is). */
    static void finite(String ctx, String what, float[] out, double[] ref) {
        if (out.length != ref.length) fail(ctx + ": " + what + " has " + out.length + " elements, expected " + ref.length + " " + Seeds.tag());
        for (int i = 0; i < ref.length; i++) {
            boolean ok = Double.isFinite(ref[i]) ? Float.isFinite(out[i])
                    : Double.isNaN(ref[i]) ? Float.isNaN(out[i]) : out[i] == ref[i];
            if (!ok) {
                fail(ctx + ": " + what + "[" + i + "] = " + out[i] + " where the oracle has " + ref[i] + " " + Seeds.tag());
            }
        }
    }

    /** NaN/Inf check, then NMSE ≤ tol. */
    static void close(String ctx, String what, float[] out, double[] ref, double tol) {
        finite(ctx, what, out, ref);
        double e = nmse(out, ref);
        if (REPORT) System.out.printf("[nmse] %.3e of %.1e (%.4f) %s: %s%n", e, tol, tol == 0 ? 0 : e / tol, ctx, what);
        if (!(e <= tol)) {
            int worst = worstIndex(out, ref);
            fail(String.format("%s: %s NMSE %.3e > tolerance %.1e (worst [%d]: got %s, expected %s) %s", ctx, what, e, tol, worst,
                    out[worst], ref[worst], Seeds.tag()));
        }
    }

    /**
     * An op that computes in F32 and rounds once to {@code dtype}: NaN/Inf first, then NMSE against
     * the reference rounded to {@code dtype}, within {@link Tolerance#nmse}. For F16/BF16, where the
     * exact value lies within the F32 error band of a rounding boundary, the kernel's F32 result may
     * fall on the other side, so either neighbour is right there: the output must be the correct
     * rounding of some value within the band. The band is the error the F32 tolerance allows an
     * element, √tolF32·(|ref_i| + rms(ref)): relative to the element (a softmax normalizer off by
     * 7e-5 moves every probability by 7e-5 relative) plus the tensor's scale (cancellations).
     */
    static void closeRounded(String ctx, String what, float[] out, double[] ref, DType dtype, String op) {
        double[] expected = Reference.round(ref, dtype);
        if (dtype != DType.F32 && out.length == ref.length) {
            double r = Math.sqrt(Tolerance.f32(op)), scale = rms(ref);
            for (int i = 0; i < ref.length; i++) {
                if (!Double.isFinite(ref[i])) continue;
                double band = r * (Math.abs(ref[i]) + scale);
                float lo = Half.round(dtype, (float) (ref[i] - band)), hi = Half.round(dtype, (float) (ref[i] + band));
                if (out[i] >= lo && out[i] <= hi) expected[i] = out[i];
            }
        }
        close(ctx, what, out, expected, Tolerance.nmse(op, dtype));
    }

    static double rms(double[] ref) {
        double s = 0;
        int n = 0;
        for (double v : ref) {
            if (!Double.isFinite(v)) continue;
            s += v * v;
            n++;
        }
        return n == 0 ? 0 : Math.sqrt(s / n);
    }

    /** Bit-for-bit equal values (as floats; -0 equals 0). */
    static void exact(String ctx, String what, float[] out, double[] ref) {
        finite(ctx, what, out, ref);
        for (int i = 0; i < ref.length; i++) {
            if (Double.isFinite(ref[i]) && out[i] != (float) ref[i]) {
                fail(ctx + ": " + what + "[" + i + "] = " + out[i] + ", expected exactly " + (float) ref[i] + " " + Seeds.tag());
            }
        }
    }

    static void exact(String ctx, String what, int[] out, int[] ref) {
        if (!Arrays.equals(out, ref)) {
            int i = Arrays.mismatch(out, ref);
            fail(ctx + ": " + what + "[" + i + "] = " + (i < out.length ? out[i] : "none") + ", expected " + ref[i] + " "
                    + Seeds.tag());
        }
    }

    static double maxAbsError(float[] out, double[] ref) {
        double m = 0;
        for (int i = 0; i < ref.length; i++) m = Math.max(m, Math.abs(out[i] - ref[i]));
        return m;
    }

    static double maxAbs(double[] ref) {
        double m = 0;
        for (double v : ref) m = Math.max(m, Math.abs(v));
        return m;
    }

    private static int worstIndex(float[] out, double[] ref) {
        int w = 0;
        double m = -1;
        for (int i = 0; i < ref.length; i++) {
            double d = Math.abs(out[i] - ref[i]);
            if (d > m || Double.isNaN(d)) {
                m = Double.isNaN(d) ? Double.POSITIVE_INFINITY : d;
                w = i;
            }
        }
        return w;
    }
}
