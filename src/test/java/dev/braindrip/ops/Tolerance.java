package dev.braindrip.ops;

import dev.braindrip.tensor.DType;

/**
 * NMSE = Σ(out − ref)² / Σref² allowed per op, derived from the precision and kept fixed.
 *
 * <p>F32 (u = 2^-24, u² ≈ 3.6e-15):
 * <ul>
 *   <li>exact ops (add, mul, scale, add_bias, embedding): one correctly rounded F32 operation,
 *       compared with the reference rounded to F32, so 0 is expected; 1e-14 ≈ 3u².</li>
 *   <li>activations and GLUs: F32 exp/tanh/erf are good to a few ulp, fast intrinsics to a few tens;
 *       1e-11 ≈ (50 ulp)².</li>
 *   <li>norms: an F32 reduction over ≤ 4096 columns has a relative error near √n·u ≈ 4e-6
 *       at worst (NMSE ≈ 1.6e-11); 1e-10.</li>
 *   <li>softmax, cross-entropy: a sequential F32 sum of n exponentials drops the addends below half
 *       an ulp of the running sum, so the normalizer is biased low by a fraction of n·u (≈ 1.9e-3
 *       at n = 32000); for N(0, 3) logits that is up to 7e-5 (NMSE up to 5e-9, 200 seeds
 *       simulated); 3e-8. Pairwise or tree sums (the CUDA reductions) stay near 1e-12.</li>
 *   <li>gemm: F32 accumulation over K ≤ 4096 gives NMSE ≈ K·u²/6 ≈ 2.5e-12; 1e-10.</li>
 *   <li>rope: angles pos·inv_freq in F32 (as HF computes them) are off by up to pos·u ≈ 2.4e-4
 *       rad at pos 4096, on the fast-turning pairs; NMSE ≈ 1e-9 on average; 1e-8.</li>
 * </ul>
 * F16/BF16 outputs are compared with the reference rounded to the storage type (see
 * {@link Check#closeRounded}: where the exact value lies within the F32 error of a rounding
 * boundary, either neighbour is right). Allowed on top of the F32 tolerance: u²/2 (BF16 u = 2^-8:
 * 7.6e-6; F16 u = 2^-11: 1.2e-7). Truncating instead of rounding to nearest costs about u², so it
 * fails.
 */
final class Tolerance {
    private Tolerance() {}

    /** Unit roundoff 2^-p of a float dtype (p = significand bits with the implicit one). */
    static double unitRoundoff(DType dtype) {
        return switch (dtype) {
            case F32 -> 0x1p-24;
            case BF16 -> 0x1p-8;
            case F16 -> 0x1p-11;
            default -> throw new IllegalArgumentException(dtype + " is not a float type");
        };
    }

    /** NMSE tolerance of an op computed in F32 against the F64 oracle. */
    static double f32(String op) {
        return switch (op) {
            case "add", "mul", "scale", "add_bias", "embedding", "sum" -> 1e-14;
            case "activation", "glu" -> 1e-11;
            case "rmsnorm", "layernorm", "add_rmsnorm", "add_layernorm" -> 1e-10;
            case "softmax", "cross_entropy" -> 3e-8;
            case "gemm" -> 1e-10;
            case "rope" -> 1e-8;
            default -> throw new IllegalArgumentException("no tolerance for op " + op);
        };
    }

    /** NMSE tolerance of an op whose output is stored in {@code out} (rounded once from F32). */
    static double nmse(String op, DType out) {
        double u = unitRoundoff(out);
        return f32(op) + (out == DType.F32 ? 0 : u * u / 2);
    }

    /** Fused versus the unfused chain: the chain rounds to the storage type once more. */
    static double fusedVsUnfused(String op, DType out) {
        double u = unitRoundoff(out);
        return nmse(op, out) + (out == DType.F32 ? 3 * u * u : u * u);
    }
}
