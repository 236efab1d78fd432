/* braindrip C ABI: host memory for CPU tensors (64-byte aligned so vector loads never split lines),
 * a thread-count control for the CPU kernels, and the registration of a vendor SGEMM. */
#ifndef BRAINDRIP_CPU_RUNTIME_H
#define BRAINDRIP_CPU_RUNTIME_H

#include "braindrip/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 64-byte aligned allocation; NULL on failure (message in bd_cpu_last_error). bytes may be 0. */
void* bd_cpu_malloc(int64_t bytes);
void bd_cpu_free(void* p);
int bd_cpu_memcpy(void* dst, const void* src, int64_t bytes);
int bd_cpu_memset(void* p, int value, int64_t bytes);
/* Threads the CPU kernels use (OpenMP); <= 0 restores the default. */
void bd_cpu_set_threads(int n);
int bd_cpu_threads(void);

/* A vendor SGEMM with cblas_sgemm's signature (row major = 101, no-trans = 111, trans = 112), the
 * one the JavaCPP OpenBLAS preset loads: the CPU MoE grouped expert GEMMs (F32) run each expert's
 * gate/up and down as calls to it over contiguous row blocks. NULL (the default) unregisters it,
 * and the library's own blocked kernel runs instead, so native tests need no BLAS. */
typedef void (*bd_cpu_sgemm_fn)(int order, int trans_a, int trans_b, int m, int n, int k, float alpha,
                                const float* a, int lda, const float* b, int ldb, float beta, float* c,
                                int ldc);
void bd_cpu_set_sgemm(void* fn);
/* 1 when a vendor SGEMM is registered, else 0. */
int bd_cpu_has_sgemm(void);

#ifdef __cplusplus
}
#endif

#endif
