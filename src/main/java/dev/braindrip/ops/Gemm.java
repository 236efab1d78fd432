package dev.braindrip.ops;

import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.Tensor;

/**
 * Row-major c (M, N) = a (M, K) · b (+ c when accumulating), with b (K, N) or, transposed, (N, K).
 * Dense BLAS per backend; accumulation in F32 and one rounding to c's dtype at the end.
 */
interface Gemm {
    void run(Arena arena, Tensor a, Tensor b, Tensor c, int m, int n, int k, boolean transB, boolean accumulate);
}
