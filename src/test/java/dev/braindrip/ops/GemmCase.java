package dev.braindrip.ops;

import static org.junit.jupiter.api.Assertions.fail;

import dev.braindrip.reference.Reference;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Half;
import dev.braindrip.tensor.Tensor;

/**
 * gemm: a (m, k) · b ((k, n), or (n, k) with transB) + bias (n). F32, and F16/BF16 without bias
 * (one rounding), are held to an NMSE tolerance; F16/BF16 always to FlashAttention's rule (STYLE 14): max|kernel − ref64| ≤ 2·max|naive − ref64| +
 * floor, where naive is {@link #naive}: inputs as stored, products and sums in float, the output
 * rounded to the storage type (and the bias added in float and rounded again, as the unfused chain
 * gemm → add_bias does). The floor is one unit roundoff of the largest output.
 */
record GemmCase(DType dtype, int m, int k, int n, boolean transB, boolean bias) implements OpCase {
    public String op() {
        return "gemm";
    }

    public String params() {
        return "m=" + m + " k=" + k + " n=" + n + (transB ? " transB" : "") + (bias ? " bias" : "");
    }

    public void check(Ops ops, Inputs in) {
        Arena arena = ops.arena();
        String ctx = OpCase.ctx(this, ops);
        long[] bShape = transB ? new long[] {n, k} : new long[] {k, n};
        try (Tensor a = arena.fromFloats(in.normal(m * k, 0, 1), dtype, m, k);
             Tensor b = arena.fromFloats(in.normal(k * n, 0, 1), dtype, bShape);
             Tensor bv = bias ? arena.fromFloats(in.normal(n, 0, 1), dtype, n) : null;
             Tensor c = ops.gemm(a, b, bv, transB)) {
            double[] as = OpCase.held(a), bs = OpCase.held(b), biasS = bias ? OpCase.held(bv) : null;
            double[] ref = Reference.gemm(as, bs, biasS, m, k, n, transB);
            float[] got = c.toFloatArray();
            // In F16/BF16 a bias makes two roundings (gemm, then the add_bias epilogue): only the ratio rule applies.
            if (dtype == DType.F32 || !bias) Check.closeRounded(ctx, "c", got, ref, dtype, op());
            if (dtype != DType.F32) {
                float[] naive = naive(as, bs, biasS, m, k, n, transB, dtype);
                double errKernel = Check.maxAbsError(got, ref), errNaive = Check.maxAbsError(naive, ref);
                double floor = Tolerance.unitRoundoff(dtype) * Check.maxAbs(ref);
                if (!(errKernel <= 2 * errNaive + floor)) {
                    fail(String.format("%s: max|kernel − ref64| = %.4e > 2·max|naive − ref64| + floor = 2·%.4e + %.4e %s", ctx, errKernel,
                            errNaive, floor, Seeds.tag()));
                }
            }
        }
    }

    /** The simple same-precision gemm: float products and sums, output rounded to dtype, bias added after and rounded. */
    static float[] naive(double[] a, double[] b, double[] bias, int m, int k, int n, boolean transB, DType dtype) {
        float[] c = new float[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                float acc = 0f;
                for (int p = 0; p < k; p++) {
                    float bv = (float) (transB ? b[j * k + p] : b[p * n + j]);
                    acc += (float) a[i * k + p] * bv;
                }
                float v = Half.round(dtype, acc);
                if (bias != null) v = Half.round(dtype, v + (float) bias[j]);
                c[i * n + j] = v;
            }
        }
        return c;
    }

    @Override
    public String toString() {
        return name();
    }
}
