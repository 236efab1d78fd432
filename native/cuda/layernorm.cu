// LayerNorm and fused residual-add + LayerNorm on CUDA.
//   x, residual, sum, y: (rows, cols); w, b: (cols); b may be NULL
//   y = (x - mean) * rsqrt(var + eps) * w + b, var biased, F32 math for every storage type
// One block per row, three sweeps over the row (it stays in L1/L2 between them): the mean, then the
// mean of squared deviations (two-pass, like the CPU twin, so a large offset does not cancel), then
// the output. Residual and bias are compile-time flags; with a residual the first sweep stores the
// rounded sum and the later sweeps read that stored sum back (same thread, same element), so what
// gets normalized is the sum as stored, as in the CPU twin and rmsnorm.cu.
#include "block_reduce.cuh"
#include "braindrip/ops.h"
#include "cuda_common.cuh"

namespace bd::cuda {

// Turns a runtime bool into a constexpr one for a template argument.
#define LN_BOOL_SWITCH(cond, NAME, ...)   \
    if (cond) {                           \
        constexpr bool NAME = true;       \
        __VA_ARGS__;                      \
    } else {                              \
        constexpr bool NAME = false;      \
        __VA_ARGS__;                      \
    }

// ---- kernels

template <typename T, bool has_residual, bool has_bias>
static __global__ void layernorm_kernel(const T* __restrict__ x, const T* __restrict__ residual,
                                        const T* __restrict__ w, const T* __restrict__ b, T* __restrict__ y,
                                        T* __restrict__ sum, int64_t cols, float eps) {
    __shared__ float red[32];
    const int64_t base = static_cast<int64_t>(blockIdx.x) * cols;
    const T* in = has_residual ? sum + base : x + base;  // what the second and third sweeps read

    float s = 0.f;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
        float v = to_f32(x[base + c]);
        if constexpr (has_residual) {
            const T stored = from_f32<T>(v + to_f32(residual[base + c]));
            sum[base + c] = stored;
            v = to_f32(stored);
        }
        s += v;
    }
    const float mean = block_reduce_sum(s, red) / static_cast<float>(cols);

    float ss = 0.f;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
        const float d = to_f32(in[c]) - mean;
        ss += d * d;
    }
    const float rstd = rsqrtf(block_reduce_sum(ss, red) / static_cast<float>(cols) + eps);

    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
        float v = (to_f32(in[c]) - mean) * rstd * to_f32(w[c]);
        if constexpr (has_bias) v += to_f32(b[c]);
        y[base + c] = from_f32<T>(v);
    }
}

// ---- launchers

template <typename T>
static int launch_layernorm(const void* x, const void* residual, const void* w, const void* b, void* y, void* sum,
                            int64_t rows, int64_t cols, float eps, cudaStream_t stream) {
    const dim3 grid(static_cast<unsigned>(rows)), block(row_block_size(cols));
    LN_BOOL_SWITCH(residual != nullptr, HAS_RESIDUAL, LN_BOOL_SWITCH(b != nullptr, HAS_BIAS, {
        layernorm_kernel<T, HAS_RESIDUAL, HAS_BIAS><<<grid, block, 0, stream>>>(
            static_cast<const T*>(x), static_cast<const T*>(residual), static_cast<const T*>(w),
            static_cast<const T*>(b), static_cast<T*>(y), static_cast<T*>(sum), cols, eps);
    }));
    return check_launch(residual ? "add_layernorm_kernel" : "layernorm_kernel");
}

static int layernorm(const void* x, const void* residual, const void* w, const void* b, void* y, void* sum,
                     int64_t rows, int64_t cols, float eps, int dtype, void* stream) {
    int st = BD_OK;
    BD_DISPATCH_FLOAT(dtype, T,
                      st = launch_layernorm<T>(x, residual, w, b, y, sum, rows, cols, eps, as_stream(stream)));
    return st;
}

}  // namespace bd::cuda

// ---- entry points

extern "C" int bd_cuda_layernorm(const void* x, const void* w, const void* b, void* y, int64_t rows, int64_t cols,
                                 float eps, int dtype, void* stream) {
    using namespace bd::cuda;
    BD_CHECK(is_float_dtype(dtype), "layernorm", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(rows >= 0 && rows <= INT32_MAX && cols > 0, "layernorm", "bad shape rows=%lld cols=%lld",
             (long long)rows, (long long)cols);
    BD_CHECK(eps >= 0.f, "layernorm", "eps (%g) must be >= 0", eps);
    if (rows == 0) return BD_OK;
    BD_CHECK(x && w && y, "layernorm", "null tensor pointer");
    return layernorm(x, nullptr, w, b, y, nullptr, rows, cols, eps, dtype, stream);
}

extern "C" int bd_cuda_add_layernorm(const void* x, const void* residual, const void* w, const void* b, void* y,
                                     void* sum, int64_t rows, int64_t cols, float eps, int dtype, void* stream) {
    using namespace bd::cuda;
    BD_CHECK(is_float_dtype(dtype), "add_layernorm", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(rows >= 0 && rows <= INT32_MAX && cols > 0, "add_layernorm", "bad shape rows=%lld cols=%lld",
             (long long)rows, (long long)cols);
    BD_CHECK(eps >= 0.f, "add_layernorm", "eps (%g) must be >= 0", eps);
    if (rows == 0) return BD_OK;
    BD_CHECK(x && residual && w && y && sum, "add_layernorm", "null tensor pointer");
    return layernorm(x, residual, w, b, y, sum, rows, cols, eps, dtype, stream);
}
