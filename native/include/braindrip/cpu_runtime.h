/* braindrip C ABI: host memory for CPU tensors (64-byte aligned so vector loads never split lines)
 * and a thread-count control for the CPU kernels. */
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

#ifdef __cplusplus
}
#endif

#endif
