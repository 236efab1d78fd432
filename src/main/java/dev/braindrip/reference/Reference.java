package dev.braindrip.reference;


import dev.braindrip.ops.Activation;
import dev.braindrip.ops.Glu;
import dev.braindrip.ops.RopeSpec;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Half;
import java.util.Arrays;

/**
 * The oracle for both backends: every op of {@code native/include/braindrip/ops.h} in plain Java,
 * computed in double precision over row-major {@code double[]} arrays. Obvious loops, shapes in
 * comments, no cleverness: a kernel (CPU twin or CUDA) is right when it agrees with this class
 * within the op's tolerance.
 *
 * <p>Inputs are the values a tensor actually holds (read them back with {@code toFloatArray()} and
 * widen with {@link #toDouble}); outputs are exact up to double rounding and are not rounded to a
 * storage type, except where the contract itself stores an intermediate ({@link #addRmsnorm},
 * {@link #addLayernorm}: the sum is stored in the storage type and normalized as stored) or the op
 * is a rounding ({@link #convert}). Use {@link #round} to compare with a 16-bit output.
 */
public final class Reference {
    private Reference() {}

    // ---- helpers

    /** Widens floats to doubles (exact). */
    public static double[] toDouble(float[] x) {
        double[] d = new double[x.length];
        for (int i = 0; i < x.length; i++) d[i] = x[i];
        return d;
    }

    /** Each value rounded to float, then to the precision of {@code dtype} (a kernel's single rounding at its output). */
    public static double[] round(double[] x, DType dtype) {
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) y[i] = Half.round(dtype, (float) x[i]);
        return y;
    }

    // ---- gemm

    /**
     * c = a · b (+ bias).
     * a: (m, k); b: (k, n), or (n, k) when transB; bias: (n) or null; returns c: (m, n).
     */
    public static double[] gemm(double[] a, double[] b, double[] bias, int m, int k, int n, boolean transB) {
        double[] c = new double[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double acc = 0;
                for (int p = 0; p < k; p++) {
                    double bv = transB ? b[j * k + p] : b[p * n + j];
                    acc += a[i * k + p] * bv;
                }
                c[i * n + j] = acc + (bias == null ? 0 : bias[j]);
            }
        }
        return c;
    }

    // ---- elementwise

    /** y = x converted to {@code dtype}: round to nearest even (via {@link Half}); x: (n). */
    public static double[] convert(double[] x, DType dtype) {
        if (!dtype.isFloat()) throw new IllegalArgumentException("convert: target " + dtype + " must be a float type");
        return round(x, dtype);
    }

    /** y = a + b; a, b, y: (n). */
    public static double[] add(double[] a, double[] b) {
        double[] y = new double[a.length];
        for (int i = 0; i < a.length; i++) y[i] = a[i] + b[i];
        return y;
    }

    /** y = a * b; a, b, y: (n). */
    public static double[] mul(double[] a, double[] b) {
        double[] y = new double[a.length];
        for (int i = 0; i < a.length; i++) y[i] = a[i] * b[i];
        return y;
    }

    /** y = s * x; x, y: (n). */
    public static double[] scale(double[] x, double s) {
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) y[i] = s * x[i];
        return y;
    }

    /** y = cap · tanh(x / cap) (Gemma 2's logit softcap), cap > 0; x, y: (n). */
    public static double[] softcap(double[] x, double cap) {
        if (!(cap > 0) || Double.isInfinite(cap)) throw new IllegalArgumentException("softcap: cap (" + cap + ") must be finite and > 0");
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) y[i] = cap * Math.tanh(x[i] / cap);
        return y;
    }

    /** y[r, c] + bias[c]; y: (rows, cols), bias: (cols). Returns a new array (the kernel works in place). */
    public static double[] addBias(double[] y, double[] bias, int rows, int cols) {
        double[] out = new double[rows * cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) out[r * cols + c] = y[r * cols + c] + bias[c];
        }
        return out;
    }

    // ---- activations

    /** y = act(x) elementwise; x, y: (n). */
    public static double[] activation(double[] x, Activation act) {
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) y[i] = activation(x[i], act);
        return y;
    }

    public static double activation(double x, Activation act) {
        return switch (act) {
            case RELU -> relu(x);
            case GELU -> gelu(x);
            case GELU_TANH -> geluTanh(x);
            case SILU -> silu(x);
        };
    }

    public static double relu(double x) {
        return x > 0 ? x : 0;
    }

    /** Exact GELU: 0.5 x (1 + erf(x / sqrt 2)), written as 0.5 x erfc(-x / sqrt 2) so negative x keeps its precision. */
    public static double gelu(double x) {
        return 0.5 * x * erfc(-x / Math.sqrt(2));
    }

    /** 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
    public static double geluTanh(double x) {
        return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
    }

    /** x sigmoid(x). */
    public static double silu(double x) {
        return x / (1 + Math.exp(-x));
    }

    /**
     * The error function, to about 1e-16 relative. For |x| < 2.5 the everywhere-convergent series
     * erf(x) = 2/sqrt(pi) exp(-x^2) sum_n 2^n x^(2n+1) / (1·3·…·(2n+1)) (all terms positive, so no
     * cancellation); beyond, 1 - erfc(|x|) from the continued fraction.
     */
    public static double erf(double x) {
        if (Double.isNaN(x)) return x;
        double ax = Math.abs(x);
        if (ax < 2.5) return erfSeries(x);
        double v = 1 - erfcContinuedFraction(ax);
        return x < 0 ? -v : v;
    }

    /**
     * The complementary error function 1 - erf(x), to about 1e-15 relative also where it is tiny
     * (large x): 1 - erf(x) below 1 (erf(x) <= 0.843 there, so the subtraction loses at most one
     * digit), the continued fraction from 1 on.
     */
    public static double erfc(double x) {
        if (Double.isNaN(x)) return x;
        if (x < 1) return 1 - erf(x);
        return erfcContinuedFraction(x);
    }

    /** 2/sqrt(pi) exp(-x^2) sum_n (2x^2)^n x / (2n+1)!!, summed until the terms stop changing the sum. */
    private static double erfSeries(double x) {
        double x2 = x * x;
        double term = x; // n = 0: x / 1
        double sum = term;
        for (int n = 1; n < 500; n++) {
            term *= 2 * x2 / (2 * n + 1);
            double next = sum + term;
            if (next == sum) break;
            sum = next;
        }
        return 2 / Math.sqrt(Math.PI) * Math.exp(-x2) * sum;
    }

    /**
     * erfc(x) = exp(-x^2)/sqrt(pi) · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + …))))), x >= 1,
     * evaluated from the tail with partial numerators n/2.
     */
    private static double erfcContinuedFraction(double x) {
        double t = x;
        for (int n = 400; n >= 1; n--) t = x + (n / 2.0) / t; // 400 terms: converged to 2e-16 for x >= 1
        return Math.exp(-x * x) / Math.sqrt(Math.PI) / t;
    }

    // ---- gated linear units

    /**
     * y = act(gate) * up. x: (rows, 2f), gate = x[:, :f], up = x[:, f:]; returns y: (rows, f).
     * SWIGLU: silu; GEGLU: exact gelu; GEGLU_TANH: tanh gelu.
     */
    public static double[] glu(double[] x, int rows, int f, Glu glu) {
        Activation act = switch (glu) {
            case SWIGLU -> Activation.SILU;
            case GEGLU -> Activation.GELU;
            case GEGLU_TANH -> Activation.GELU_TANH;
        };
        double[] y = new double[rows * f];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < f; c++) {
                double gate = x[r * 2 * f + c];
                double up = x[r * 2 * f + f + c];
                y[r * f + c] = activation(gate, act) * up;
            }
        }
        return y;
    }

    /**
     * Phi-3-small's clamped GeGELU (modeling_phi3_small.py, {@code gegelu}): x (rows, 2f) with
     * gate = x[:, :f], up = x[:, f:] (the checkpoint's interleaved columns already split);
     * g = min(gate, limit) and u = clamp(up, −limit, limit), each left as is when ±∞ (NaN stays
     * NaN); y = g·σ(1.702 g)·(u + 1), σ(z) = 1 / (1 + e^(−z)). limit > 0, +∞ for no clamp.
     */
    public static double[] gluClamped(double[] x, int rows, int f, double limit) {
        if (!(limit > 0)) throw new IllegalArgumentException("gluClamped: limit (" + limit + ") must be > 0");
        double[] y = new double[rows * f];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < f; c++) {
                double g = x[r * 2 * f + c];
                double u = x[r * 2 * f + f + c];
                if (!Double.isInfinite(g) && g > limit) g = limit;
                if (!Double.isInfinite(u)) u = u > limit ? limit : u < -limit ? -limit : u;
                double sigmoid = 1 / (1 + Math.exp(-1.702 * g));
                y[r * f + c] = g * sigmoid * (u + 1);
            }
        }
        return y;
    }

    // ---- normalization

    /** y = x / sqrt(mean(x^2) + eps) * w over each row; x, y: (rows, cols), w: (cols). */
    public static double[] rmsnorm(double[] x, double[] w, int rows, int cols, double eps) {
        double[] y = new double[rows * cols];
        for (int r = 0; r < rows; r++) {
            double ss = 0;
            for (int c = 0; c < cols; c++) ss += x[r * cols + c] * x[r * cols + c];
            double inv = 1 / Math.sqrt(ss / cols + eps);
            for (int c = 0; c < cols; c++) y[r * cols + c] = x[r * cols + c] * inv * w[c];
        }
        return y;
    }

    /**
     * y = (x - mean) / sqrt(var + eps) * w + b over each row, var the biased (1/cols) variance;
     * x, y: (rows, cols), w: (cols), b: (cols) or null.
     */
    public static double[] layernorm(double[] x, double[] w, double[] b, int rows, int cols, double eps) {
        double[] y = new double[rows * cols];
        for (int r = 0; r < rows; r++) {
            double mean = 0;
            for (int c = 0; c < cols; c++) mean += x[r * cols + c];
            mean /= cols;
            double var = 0;
            for (int c = 0; c < cols; c++) {
                double d = x[r * cols + c] - mean;
                var += d * d;
            }
            var /= cols;
            double inv = 1 / Math.sqrt(var + eps);
            for (int c = 0; c < cols; c++) {
                y[r * cols + c] = (x[r * cols + c] - mean) * inv * w[c] + (b == null ? 0 : b[c]);
            }
        }
        return y;
    }

    /** The two outputs of a fused residual-add + norm: {@code sum} as stored in the storage type, {@code normed} exact. */
    public record Fused(double[] normed, double[] sum) {}

    /**
     * sum = x + residual rounded to {@code dtype} (the kernel stores it, then normalizes what it stored);
     * normed = rmsnorm(sum). x, residual: (rows, cols), w: (cols).
     */
    public static Fused addRmsnorm(double[] x, double[] residual, double[] w, int rows, int cols, double eps, DType dtype) {
        double[] sum = round(add(x, residual), dtype);
        return new Fused(rmsnorm(sum, w, rows, cols, eps), sum);
    }

    /** As {@link #addRmsnorm} with layernorm; b may be null. */
    public static Fused addLayernorm(double[] x, double[] residual, double[] w, double[] b, int rows, int cols, double eps,
            DType dtype) {
        double[] sum = round(add(x, residual), dtype);
        return new Fused(layernorm(sum, w, b, rows, cols, eps), sum);
    }

    // ---- softmax

    /** y = softmax(x / temperature) over each row; x, y: (rows, cols), temperature > 0. */
    public static double[] softmax(double[] x, int rows, int cols, double temperature) {
        double[] y = new double[rows * cols];
        for (int r = 0; r < rows; r++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int c = 0; c < cols; c++) max = Math.max(max, x[r * cols + c] / temperature);
            double sum = 0;
            for (int c = 0; c < cols; c++) {
                y[r * cols + c] = Math.exp(x[r * cols + c] / temperature - max);
                sum += y[r * cols + c];
            }
            for (int c = 0; c < cols; c++) y[r * cols + c] /= sum;
        }
        return y;
    }

    // ---- embedding

    /**
     * y[i, :] = table[ids[i], :]. table: (vocab, dim), ids: (n); returns y: (n, dim).
     * An id outside [0, vocab) throws IllegalArgumentException naming it.
     */
    public static double[] embedding(double[] table, int vocab, int dim, long[] ids) {
        double[] y = new double[ids.length * dim];
        for (int i = 0; i < ids.length; i++) {
            long id = ids[i];
            if (id < 0 || id >= vocab) {
                throw new IllegalArgumentException("embedding: id " + id + " at " + i + " is outside [0, " + vocab + ")");
            }
            System.arraycopy(table, (int) id * dim, y, i * dim, dim);
        }
        return y;
    }

    // ---- rotary embedding

    /**
     * Rotary embedding. x: (tokens, heads, headDim), positions: (tokens); returns y of x's shape.
     * The first {@code rotaryDim} channels (even, <= headDim) rotate; the rest are copied.
     * inv_freq[i] = theta^(-2i/rotaryDim), angle = pos * inv_freq[i], both in double.
     * HALF pairs channel i with i + rotaryDim/2; INTERLEAVED pairs 2i with 2i + 1.
     * For each pair (a, b): a' = a cos - b sin, b' = b cos + a sin.
     */
    public static double[] rope(double[] x, long[] positions, int tokens, int heads, int headDim, int rotaryDim, double theta,
            RopeSpec.Style style) {
        if (rotaryDim % 2 != 0 || rotaryDim > headDim) {
            throw new IllegalArgumentException("rope: rotary dim " + rotaryDim + " must be even and <= head dim " + headDim);
        }
        double[] y = x.clone();
        int half = rotaryDim / 2;
        for (int t = 0; t < tokens; t++) {
            for (int h = 0; h < heads; h++) {
                int base = (t * heads + h) * headDim;
                for (int i = 0; i < half; i++) {
                    double invFreq = Math.pow(theta, -2.0 * i / rotaryDim);
                    double angle = positions[t] * invFreq;
                    double cos = Math.cos(angle), sin = Math.sin(angle);
                    int ia = style == RopeSpec.Style.HALF ? base + i : base + 2 * i;
                    int ib = style == RopeSpec.Style.HALF ? base + i + half : base + 2 * i + 1;
                    double a = x[ia], b = x[ib];
                    y[ia] = a * cos - b * sin;
                    y[ib] = b * cos + a * sin;
                }
            }
        }
        return y;
    }

    // ---- selection

    /**
     * Row argmax. x: (rows, cols); returns (rows). The first index wins ties; NaN never wins
     * (a row of NaN only gives 0, which the contract leaves open).
     */
    public static int[] argmax(double[] x, int rows, int cols) {
        int[] out = new int[rows];
        for (int r = 0; r < rows; r++) {
            int best = -1;
            for (int c = 0; c < cols; c++) {
                double v = x[r * cols + c];
                if (Double.isNaN(v)) continue;
                if (best < 0 || v > x[r * cols + best]) best = c;
            }
            out[r] = Math.max(best, 0);
        }
        return out;
    }

    /** Row top-k: values (rows, k) descending, indices (rows, k), the lower index first on ties. */
    public record TopK(double[] values, int[] indices) {}

    /** Row top-k of x: (rows, cols), 1 <= k <= cols. NaN ranks below every number (the contract leaves it open). */
    public static TopK topk(double[] x, int rows, int cols, int k) {
        if (k < 1 || k > cols) throw new IllegalArgumentException("topk: k (" + k + ") must be in [1, " + cols + "]");
        double[] values = new double[rows * k];
        int[] indices = new int[rows * k];
        for (int r = 0; r < rows; r++) {
            final int row = r;
            Integer[] order = new Integer[cols];
            for (int c = 0; c < cols; c++) order[c] = c;
            Arrays.sort(order, (i, j) -> {
                double vi = x[row * cols + i], vj = x[row * cols + j];
                boolean ni = Double.isNaN(vi), nj = Double.isNaN(vj);
                if (ni != nj) return ni ? 1 : -1;
                if (!ni && vi != vj) return vi > vj ? -1 : 1;
                return Integer.compare(i, j);
            });
            for (int j = 0; j < k; j++) {
                indices[r * k + j] = order[j];
                values[r * k + j] = x[r * cols + order[j]];
            }
        }
        return new TopK(values, indices);
    }

    // ---- loss

    /**
     * Per-row cross-entropy: loss[r] = logsumexp(logits[r, :]) - logits[r, target[r]].
     * logits: (rows, cols), targets: (rows); a negative target gives loss 0 (ignored, as HF's -100);
     * a target >= cols throws IllegalArgumentException naming it.
     */
    public static double[] crossEntropy(double[] logits, long[] targets, int rows, int cols) {
        double[] loss = new double[rows];
        for (int r = 0; r < rows; r++) {
            long t = targets[r];
            if (t >= cols) throw new IllegalArgumentException("cross_entropy: target " + t + " of row " + r + " is >= " + cols);
            if (t < 0) continue;
            double max = Double.NEGATIVE_INFINITY;
            for (int c = 0; c < cols; c++) max = Math.max(max, logits[r * cols + c]);
            double sum = 0;
            for (int c = 0; c < cols; c++) sum += Math.exp(logits[r * cols + c] - max);
            loss[r] = max + Math.log(sum) - logits[r * cols + (int) t];
        }
        return loss;
    }
}
