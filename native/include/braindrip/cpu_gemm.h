/* braindrip C ABI, CPU only: the GEMM for few rows (decode) that reads F16/BF16 weights in their
 * storage type. The CPU backend runs its other GEMMs through OpenBLAS (F32); converting a BF16
 * weight matrix to F32 on every decode step cost more than the product itself.
 */
#ifndef BRAINDRIP_CPU_GEMM_H
#define BRAINDRIP_CPU_GEMM_H

#include "braindrip/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The most rows bd_cpu_gemm_small takes. */
#define BD_CPU_GEMM_SMALL_MAX_M 16

/* c (m, n) = a (m, k) . b^T, plus c when accumulate != 0; b is (n, k) row-major (a Linear's
 * weight). a, b and c share dtype (F32, F16, BF16); products and sums in F32, each result rounded
 * once to dtype. 1 <= m <= BD_CPU_GEMM_SMALL_MAX_M; n, k >= 0 (k = 0 gives c = 0, or c unchanged
 * when accumulating). c must not overlap a or b. Rows of c are split across the OpenMP threads
 * when the product is large enough to pay for them. */
int bd_cpu_gemm_small(const void* a, const void* b, void* c, int64_t m, int64_t n, int64_t k, int accumulate,
                      int dtype);

#ifdef __cplusplus
}
#endif

#endif
