// Row softmax with temperature on CUDA.
//   x, y: (rows, cols); y = softmax(x * inv_temperature) over each row
// One block per row. The first sweep keeps an online (max, sum of exp(z - max)) per thread, so the
// row is read twice in all rather than three times; the pairs merge across the block by shuffles.
// The second sweep writes exp(z - max) * (1 / sum), the CPU twin's formula. A row that is entirely
// -inf (fully masked) gives zeros, never NaN. Precise expf (no fast-math) keeps the CPU twin within
// F32 rounding at vocabulary-sized rows.
#include "block_reduce.cuh"
#include "braindrip/ops.h"
#include "cuda_common.cuh"

namespace bd::cuda {

// ---- kernels

template <typename T>
static __global__ void softmax_kernel(const T* x, T* y, int64_t cols, float inv_t) {
    __shared__ MaxSum red[32];
    const int64_t base = static_cast<int64_t>(blockIdx.x) * cols;
    MaxSum acc{-INFINITY, 0.f};
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) maxsum_add(acc, to_f32(x[base + c]) * inv_t);
    acc = block_reduce_maxsum(acc, red);
    const bool empty = acc.m == -INFINITY;
    const float inv = 1.f / acc.s;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
        const float z = to_f32(x[base + c]) * inv_t;
        y[base + c] = from_f32<T>(empty ? 0.f : expf(z - acc.m) * inv);
    }
}

// ---- launchers

template <typename T>
static int launch_softmax(const void* x, void* y, int64_t rows, int64_t cols, float inv_t, cudaStream_t stream) {
    softmax_kernel<T><<<static_cast<unsigned>(rows), row_block_size(cols), 0, stream>>>(
        static_cast<const T*>(x), static_cast<T*>(y), cols, inv_t);
    return check_launch("softmax_kernel");
}

}  // namespace bd::cuda

// ---- entry points

extern "C" int bd_cuda_softmax(const void* x, void* y, int64_t rows, int64_t cols, float inv_temperature, int dtype,
                               void* stream) {
    using namespace bd::cuda;
    BD_CHECK(is_float_dtype(dtype), "softmax", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(rows >= 0 && rows <= INT32_MAX && cols > 0, "softmax", "bad shape rows=%lld cols=%lld",
             (long long)rows, (long long)cols);
    BD_CHECK(inv_temperature > 0.f && inv_temperature <= 3.402823466e38f, "softmax",
             "inv_temperature (%g) must be finite and > 0", inv_temperature);
    if (rows == 0) return BD_OK;
    BD_CHECK(x && y, "softmax", "null tensor pointer");
    int st = BD_OK;
    BD_DISPATCH_FLOAT(dtype, T, st = launch_softmax<T>(x, y, rows, cols, inv_temperature, as_stream(stream)));
    return st;
}
