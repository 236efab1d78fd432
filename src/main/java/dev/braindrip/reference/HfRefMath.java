package dev.braindrip.reference;

/** Scalar functions for {@link HfReference}, in double precision. */
final class HfRefMath {
    private HfRefMath() {}

    private static final double TWO_OVER_SQRT_PI = 1.1283791670955125738961589031215452;

    /**
     * The error function. For |x| ≤ 6 it sums the series
     * erf(x) = 2/√π · e^(−x²) · Σₙ 2ⁿ x^(2n+1) / (1·3·5···(2n+1)), whose terms are all of one sign
     * (no cancellation), to full double precision; beyond, |erf(x)| rounds to 1 (erfc(6) ≈ 2e−17).
     */
    static double erf(double x) {
        if (Double.isNaN(x)) {
            return x;
        }
        double ax = Math.abs(x);
        if (ax > 6.0) {
            return Math.signum(x);
        }
        double x2 = ax * ax;
        double term = ax; // n = 0: x / 1
        double sum = term;
        for (int n = 1; n < 10_000; n++) {
            term *= 2.0 * x2 / (2 * n + 1);
            sum += term;
            if (term < sum * 1e-18) {
                break;
            }
        }
        double r = TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
        if (r > 1.0) {
            r = 1.0;
        }
        return x < 0 ? -r : r;
    }

    static double sigmoid(double x) {
        return 1.0 / (1.0 + Math.exp(-x));
    }

    /** Exact GELU: x·Φ(x) = x/2·(1 + erf(x/√2)). */
    static double geluErf(double x) {
        return 0.5 * x * (1.0 + erf(x / Math.sqrt(2.0)));
    }

    /** Tanh-approximated GELU (HF gelu_new, gelu_pytorch_tanh, gelu_fast). */
    static double geluTanh(double x) {
        return 0.5 * x * (1.0 + Math.tanh(Math.sqrt(2.0 / Math.PI) * (x + 0.044715 * x * x * x)));
    }

    /** An HF ACT2FN activation by name. */
    static double act(String name, double x) {
        switch (name) {
            case "silu":
            case "swish":
                return x * sigmoid(x);
            case "gelu":
                return geluErf(x);
            case "gelu_new":
            case "gelu_pytorch_tanh":
            case "gelu_fast":
                return geluTanh(x);
            case "quick_gelu":
                return x * sigmoid(1.702 * x);
            case "relu":
                return Math.max(0.0, x);
            default:
                throw new IllegalArgumentException("unsupported activation: " + name);
        }
    }

    static void checkActivation(String name) {
        act(name, 0.0);
    }
}
