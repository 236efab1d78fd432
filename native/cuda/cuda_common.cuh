// Shared helpers of the CUDA kernels: the thread-local error string, argument checks that
// return before any launch, launch checks naming the kernel, and F16/BF16 <-> F32 load/store.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "braindrip/common.h"

namespace bd::cuda {

int fail(int status, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
// After a launch: cudaGetLastError(); on error records "<kernel>: <cuda message>" and returns
// BD_ERR_CUDA (BD_ERR_NO_DEVICE when the driver is missing), else BD_OK.
int check_launch(const char* kernel);
// For runtime calls: same, naming the call.
int check_cuda(cudaError_t err, const char* what);
const char* dtype_name(int dt);

inline bool is_float_dtype(int dt) { return dt == BD_F32 || dt == BD_F16 || dt == BD_BF16; }
inline bool is_index_dtype(int dt) { return dt == BD_I32 || dt == BD_I64; }

inline cudaStream_t as_stream(void* s) { return static_cast<cudaStream_t>(s); }

// ---- device load/store by storage type (compute in F32)
template <typename T> __device__ __forceinline__ float to_f32(T v);
template <> __device__ __forceinline__ float to_f32<float>(float v) { return v; }
template <> __device__ __forceinline__ float to_f32<__half>(__half v) { return __half2float(v); }
template <> __device__ __forceinline__ float to_f32<__nv_bfloat16>(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T> __device__ __forceinline__ T from_f32(float v);
template <> __device__ __forceinline__ float from_f32<float>(float v) { return v; }
template <> __device__ __forceinline__ __half from_f32<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 from_f32<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

// Round to storage precision and back (mirrors the CPU twin's round_to).
template <typename T> __device__ __forceinline__ float round_to(float v) { return to_f32<T>(from_f32<T>(v)); }

}  // namespace bd::cuda

// Dispatch a runtime dtype to a compile-time storage type T: BD_DISPATCH_FLOAT(dt, T, { ... }).
#define BD_DISPATCH_FLOAT(dt, T, ...)                             \
    switch (dt) {                                                 \
        case BD_F32: { using T = float; __VA_ARGS__; } break;      \
        case BD_F16: { using T = __half; __VA_ARGS__; } break;     \
        case BD_BF16: { using T = __nv_bfloat16; __VA_ARGS__; } break; \
        default: break;                                           \
    }

#define BD_CHECK(cond, op, ...)                                                      \
    do {                                                                             \
        if (!(cond)) return ::bd::cuda::fail(BD_ERR_INVALID_ARGUMENT, op ": " __VA_ARGS__); \
    } while (0)
