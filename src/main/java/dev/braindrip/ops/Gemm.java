package dev.braindrip.ops;

import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.Tensor;

/** Row-major c (M, N) = a (M, K) · b, with b (K, N) or, transposed, (N, K). Dense BLAS per backend. */
interface Gemm {
    void run(Arena arena, Tensor a, Tensor b, Tensor c, int m, int n, int k, boolean transB);
}
