// RMSNorm and fused residual-add + RMSNorm on CUDA.
//   x, residual, sum, y: (rows, cols); w: (cols)
//   y = x * rsqrt(mean(x^2) + eps) * w, F32 math for every storage type.
// One block per row; the row's sum of squares reduces through block_reduce.cuh (warp shuffles,
// then one value per warp through shared memory, with the barriers racecheck asks for: an
// earlier private block_sum here let warp 0 overwrite shared[0] while other warps still read it).
// With a residual the stored (rounded) sum is what gets normalized, as the CPU twin does.
#include "braindrip/ops.h"
#include "block_reduce.cuh"
#include "cuda_common.cuh"

namespace bd::cuda {

constexpr int RMSNORM_BLOCK = 256;

// ---- kernels

template <typename T, bool has_residual>
static __global__ void rmsnorm_kernel(const T* __restrict__ x, const T* __restrict__ residual,
                                      const T* __restrict__ w, T* __restrict__ y, T* __restrict__ sum,
                                      int64_t cols, float eps) {
    __shared__ float red[32];
    const int64_t row = blockIdx.x;
    const T* xr = x + row * cols;
    float ss = 0.f;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
        float v = to_f32(xr[c]);
        if constexpr (has_residual) {
            v = round_to<T>(v + to_f32(residual[row * cols + c]));
            sum[row * cols + c] = from_f32<T>(v);
        }
        ss += v * v;
    }
    ss = block_reduce_sum(ss, red);
    const float inv = rsqrtf(ss / static_cast<float>(cols) + eps);
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
        float v = has_residual ? round_to<T>(to_f32(xr[c]) + to_f32(residual[row * cols + c])) : to_f32(xr[c]);
        y[row * cols + c] = from_f32<T>(v * inv * to_f32(w[c]));
    }
}

// ---- launchers

template <typename T>
static int launch_rmsnorm(const void* x, const void* residual, const void* w, void* y, void* sum,
                          int64_t rows, int64_t cols, float eps, cudaStream_t stream) {
    dim3 grid(static_cast<unsigned>(rows)), block(RMSNORM_BLOCK);
    if (residual) {
        rmsnorm_kernel<T, true><<<grid, block, 0, stream>>>(
            static_cast<const T*>(x), static_cast<const T*>(residual), static_cast<const T*>(w),
            static_cast<T*>(y), static_cast<T*>(sum), cols, eps);
        return check_launch("add_rmsnorm_kernel");
    }
    rmsnorm_kernel<T, false><<<grid, block, 0, stream>>>(static_cast<const T*>(x), nullptr,
                                                         static_cast<const T*>(w), static_cast<T*>(y),
                                                         nullptr, cols, eps);
    return check_launch("rmsnorm_kernel");
}

static int rmsnorm(const void* x, const void* residual, const void* w, void* y, void* sum, int64_t rows,
                   int64_t cols, float eps, int dtype, void* stream) {
    int st = BD_OK;
    BD_DISPATCH_FLOAT(dtype, T, st = launch_rmsnorm<T>(x, residual, w, y, sum, rows, cols, eps, as_stream(stream)));
    return st;
}

}  // namespace bd::cuda

// ---- entry points

extern "C" int bd_cuda_rmsnorm(const void* x, const void* w, void* y, int64_t rows, int64_t cols, float eps,
                               int dtype, void* stream) {
    using namespace bd::cuda;
    BD_CHECK(is_float_dtype(dtype), "rmsnorm", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(rows >= 0 && rows <= INT32_MAX && cols > 0, "rmsnorm", "bad shape rows=%lld cols=%lld",
             (long long)rows, (long long)cols);
    BD_CHECK(eps >= 0.f, "rmsnorm", "eps (%g) must be >= 0", eps);
    if (rows == 0) return BD_OK;
    BD_CHECK(x && w && y, "rmsnorm", "null tensor pointer");
    return rmsnorm(x, nullptr, w, y, nullptr, rows, cols, eps, dtype, stream);
}

extern "C" int bd_cuda_add_rmsnorm(const void* x, const void* residual, const void* w, void* y, void* sum,
                                   int64_t rows, int64_t cols, float eps, int dtype, void* stream) {
    using namespace bd::cuda;
    BD_CHECK(is_float_dtype(dtype), "add_rmsnorm", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(rows >= 0 && rows <= INT32_MAX && cols > 0, "add_rmsnorm", "bad shape rows=%lld cols=%lld",
             (long long)rows, (long long)cols);
    BD_CHECK(eps >= 0.f, "add_rmsnorm", "eps (%g) must be >= 0", eps);
    if (rows == 0) return BD_OK;
    BD_CHECK(x && residual && w && y && sum, "add_rmsnorm", "null tensor pointer");
    return rmsnorm(x, residual, w, y, sum, rows, cols, eps, dtype, stream);
}
