// Elementwise ops on CUDA: convert, add, mul, scale, softcap, add_bias, activation, GLU (and
// Phi-3-small's clamped GeGELU).
//   a, b, x, y: (n) flat; add_bias y: (rows, cols), bias: (cols); glu x: (rows, 2F), y: (rows, F)
// All are memory bound, so the kernels are grid-stride loops that move 16 bytes per thread per
// step when every pointer is 16-byte aligned (a Pack of 4 F32 or 8 F16/BF16), and one element per
// step otherwise; a scalar tail finishes n % pack. Math is F32 with one round-to-nearest-even store,
// the CPU twin's formula, so add/mul/scale/add_bias match it exactly, softcap and activations within
// ulps (full-precision tanhf/erfcf/expf, not tanh.approx.f32: softcapped logits feed argmax and sampling).
// In place is allowed, so no pointer is __restrict__: each element is read before it is written,
// by the same thread.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "braindrip/ops.h"
#include "cuda_common.cuh"

namespace bd::cuda {

constexpr int EW_BLOCK = 256;
constexpr int64_t EW_MAX_BLOCKS = 8192;  // grid-stride beyond this (~8 waves of 256 on an H200)

template <typename T, int N>
struct alignas(sizeof(T) * N) Pack {
    T v[N];
};

// ---- kernels

struct AddOp {
    __device__ float operator()(float a, float b) const { return a + b; }
};
struct MulOp {
    __device__ float operator()(float a, float b) const { return a * b; }
};
struct ScaleOp {
    float s;
    __device__ float operator()(float x) const { return s * x; }
};
// cap * tanh(x / cap): IEEE division and tanhf, the CPU twin's formula.
struct SoftcapOp {
    float cap;
    __device__ float operator()(float x) const { return cap * tanhf(x / cap); }
};

// erfc form, as the CPU twin: no cancellation of 1 + erf for negative x.
__device__ __forceinline__ float gelu_erf(float x) { return 0.5f * x * erfcf(-x * 0.70710678118654752f); }
__device__ __forceinline__ float gelu_tanh(float x) {
    const float k = 0.79788456080286536f;  // sqrt(2/pi)
    return 0.5f * x * (1.f + tanhf(k * (x + 0.044715f * x * x * x)));
}
__device__ __forceinline__ float silu(float x) { return x / (1.f + expf(-x)); }

template <int ACT>
struct ActOp {
    __device__ float operator()(float x) const {
        if constexpr (ACT == BD_ACT_RELU) return x > 0.f ? x : 0.f;
        else if constexpr (ACT == BD_ACT_GELU) return gelu_erf(x);
        else if constexpr (ACT == BD_ACT_GELU_TANH) return gelu_tanh(x);
        else return silu(x);
    }
};

template <int GLU>
struct GluOp {
    __device__ float operator()(float gate, float up) const {
        if constexpr (GLU == BD_GLU_SWIGLU) return silu(gate) * up;
        else if constexpr (GLU == BD_GLU_GEGLU) return gelu_erf(gate) * up;
        else return gelu_tanh(gate) * up;
    }
};

// Phi-3-small's clamped GeGELU, the CPU twin's formula: infinities pass the clamps, NaN stays NaN,
// quick_gelu(g) = g / (1 + e^(-1.702 g)) with expf and an IEEE division.
struct GegeluClampedOp {
    float limit;
    __device__ float operator()(float g, float u) const {
        if (!isinf(g) && g > limit) g = limit;
        if (!isinf(u)) u = u > limit ? limit : (u < -limit ? -limit : u);
        return g / (1.f + expf(-1.702f * g)) * (u + 1.f);
    }
};

// y = op(x); N elements per step (N = 1: any alignment).
template <typename T, int N, typename Op>
static __global__ void unary_kernel(const T* x, T* y, int64_t n, Op op) {
    using P = Pack<T, N>;
    const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
    const int64_t start = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    const int64_t packs = n / N;
    for (int64_t i = start; i < packs; i += stride) {
        const P p = reinterpret_cast<const P*>(x)[i];
        P q;
#pragma unroll
        for (int j = 0; j < N; ++j) q.v[j] = from_f32<T>(op(to_f32(p.v[j])));
        reinterpret_cast<P*>(y)[i] = q;
    }
    for (int64_t i = packs * N + start; i < n; i += stride) y[i] = from_f32<T>(op(to_f32(x[i])));
}

// y = op(a, b).
template <typename T, int N, typename Op>
static __global__ void binary_kernel(const T* a, const T* b, T* y, int64_t n, Op op) {
    using P = Pack<T, N>;
    const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
    const int64_t start = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    const int64_t packs = n / N;
    for (int64_t i = start; i < packs; i += stride) {
        const P pa = reinterpret_cast<const P*>(a)[i];
        const P pb = reinterpret_cast<const P*>(b)[i];
        P q;
#pragma unroll
        for (int j = 0; j < N; ++j) q.v[j] = from_f32<T>(op(to_f32(pa.v[j]), to_f32(pb.v[j])));
        reinterpret_cast<P*>(y)[i] = q;
    }
    for (int64_t i = packs * N + start; i < n; i += stride) y[i] = from_f32<T>(op(to_f32(a[i]), to_f32(b[i])));
}

template <typename S, typename D>
static __global__ void convert_kernel(const S* __restrict__ x, D* __restrict__ y, int64_t n) {
    const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
        y[i] = from_f32<D>(to_f32(x[i]));
}

// grid: (ceil(cols / EW_BLOCK), min(rows, 65535)); each thread owns one column and walks rows.
template <typename T>
static __global__ void add_bias_kernel(T* __restrict__ y, const T* __restrict__ bias, int64_t rows, int64_t cols) {
    const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (c >= cols) return;
    const float b = to_f32(bias[c]);
    for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
        T* p = y + r * cols + c;
        *p = from_f32<T>(to_f32(*p) + b);
    }
}

// x: (rows, 2F), y: (rows, F); same grid as add_bias over (F, rows).
template <typename T, typename Op>
static __global__ void glu_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t rows, int64_t f, Op op) {
    const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (c >= f) return;
    for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
        const T* xr = x + r * 2 * f;
        y[r * f + c] = from_f32<T>(op(to_f32(xr[c]), to_f32(xr[f + c])));
    }
}

// ---- launchers

static inline bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

static dim3 flat_grid(int64_t work) {
    const int64_t blocks = std::max<int64_t>(1, (work + EW_BLOCK - 1) / EW_BLOCK);
    return dim3(static_cast<unsigned>(std::min(blocks, EW_MAX_BLOCKS)));
}

static dim3 column_grid(int64_t rows, int64_t cols) {
    return dim3(static_cast<unsigned>((cols + EW_BLOCK - 1) / EW_BLOCK),
                static_cast<unsigned>(std::min<int64_t>(rows, 65535)));
}

template <typename T, typename Op>
static int launch_unary(const void* x, void* y, int64_t n, Op op, cudaStream_t stream, const char* name) {
    constexpr int N = 16 / sizeof(T);
    if (aligned16(x) && aligned16(y))
        unary_kernel<T, N, Op><<<flat_grid(n / N), EW_BLOCK, 0, stream>>>(static_cast<const T*>(x),
                                                                          static_cast<T*>(y), n, op);
    else
        unary_kernel<T, 1, Op><<<flat_grid(n), EW_BLOCK, 0, stream>>>(static_cast<const T*>(x),
                                                                      static_cast<T*>(y), n, op);
    return check_launch(name);
}

template <typename T, typename Op>
static int launch_binary(const void* a, const void* b, void* y, int64_t n, Op op, cudaStream_t stream,
                         const char* name) {
    constexpr int N = 16 / sizeof(T);
    if (aligned16(a) && aligned16(b) && aligned16(y))
        binary_kernel<T, N, Op><<<flat_grid(n / N), EW_BLOCK, 0, stream>>>(
            static_cast<const T*>(a), static_cast<const T*>(b), static_cast<T*>(y), n, op);
    else
        binary_kernel<T, 1, Op><<<flat_grid(n), EW_BLOCK, 0, stream>>>(
            static_cast<const T*>(a), static_cast<const T*>(b), static_cast<T*>(y), n, op);
    return check_launch(name);
}

template <typename T>
static int launch_activation(const void* x, void* y, int64_t n, int act, cudaStream_t stream) {
    switch (act) {
        case BD_ACT_RELU: return launch_unary<T>(x, y, n, ActOp<BD_ACT_RELU>{}, stream, "activation_kernel<relu>");
        case BD_ACT_GELU: return launch_unary<T>(x, y, n, ActOp<BD_ACT_GELU>{}, stream, "activation_kernel<gelu>");
        case BD_ACT_GELU_TANH:
            return launch_unary<T>(x, y, n, ActOp<BD_ACT_GELU_TANH>{}, stream, "activation_kernel<gelu_tanh>");
        default: return launch_unary<T>(x, y, n, ActOp<BD_ACT_SILU>{}, stream, "activation_kernel<silu>");
    }
}

template <typename T, typename Op>
static int launch_glu_op(const void* x, void* y, int64_t rows, int64_t f, Op op, cudaStream_t stream,
                         const char* name) {
    glu_kernel<T, Op><<<column_grid(rows, f), EW_BLOCK, 0, stream>>>(static_cast<const T*>(x), static_cast<T*>(y),
                                                                     rows, f, op);
    return check_launch(name);
}

template <typename T>
static int launch_glu(const void* x, void* y, int64_t rows, int64_t f, int glu, cudaStream_t stream) {
    switch (glu) {
        case BD_GLU_SWIGLU: return launch_glu_op<T>(x, y, rows, f, GluOp<BD_GLU_SWIGLU>{}, stream, "glu_kernel<swiglu>");
        case BD_GLU_GEGLU: return launch_glu_op<T>(x, y, rows, f, GluOp<BD_GLU_GEGLU>{}, stream, "glu_kernel<geglu>");
        default:
            return launch_glu_op<T>(x, y, rows, f, GluOp<BD_GLU_GEGLU_TANH>{}, stream, "glu_kernel<geglu_tanh>");
    }
}

template <typename T>
static int launch_add_bias(void* y, const void* bias, int64_t rows, int64_t cols, cudaStream_t stream) {
    add_bias_kernel<T><<<column_grid(rows, cols), EW_BLOCK, 0, stream>>>(static_cast<T*>(y),
                                                                         static_cast<const T*>(bias), rows, cols);
    return check_launch("add_bias_kernel");
}

template <typename S, typename D>
static int launch_convert(const void* x, void* y, int64_t n, cudaStream_t stream) {
    convert_kernel<S, D><<<flat_grid(n), EW_BLOCK, 0, stream>>>(static_cast<const S*>(x), static_cast<D*>(y), n);
    return check_launch("convert_kernel");
}

static size_t dtype_bytes(int dt) { return dt == BD_F32 ? 4 : 2; }

}  // namespace bd::cuda

// ---- entry points

extern "C" int bd_cuda_convert(const void* x, int src_dtype, void* y, int dst_dtype, int64_t n, void* stream) {
    using namespace bd::cuda;
    BD_CHECK(is_float_dtype(src_dtype), "convert", "unsupported source dtype %s", dtype_name(src_dtype));
    BD_CHECK(is_float_dtype(dst_dtype), "convert", "unsupported destination dtype %s", dtype_name(dst_dtype));
    BD_CHECK(n >= 0, "convert", "negative size n=%lld", (long long)n);
    if (n == 0) return BD_OK;
    BD_CHECK(x && y, "convert", "null tensor pointer");
    if (src_dtype == dst_dtype)
        return check_cuda(cudaMemcpyAsync(y, x, static_cast<size_t>(n) * dtype_bytes(src_dtype),
                                          cudaMemcpyDeviceToDevice, as_stream(stream)),
                          "convert: cudaMemcpyAsync");
    int st = BD_OK;
    BD_DISPATCH_FLOAT(src_dtype, S, BD_DISPATCH_FLOAT(dst_dtype, D, st = launch_convert<S, D>(x, y, n, as_stream(stream))));
    return st;
}

extern "C" int bd_cuda_add(const void* a, const void* b, void* y, int64_t n, int dtype, void* stream) {
    using namespace bd::cuda;
    BD_CHECK(is_float_dtype(dtype), "add", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(n >= 0, "add", "negative size n=%lld", (long long)n);
    if (n == 0) return BD_OK;
    BD_CHECK(a && b && y, "add", "null tensor pointer");
    int st = BD_OK;
    BD_DISPATCH_FLOAT(dtype, T, st = launch_binary<T>(a, b, y, n, AddOp{}, as_stream(stream), "add_kernel"));
    return st;
}

extern "C" int bd_cuda_mul(const void* a, const void* b, void* y, int64_t n, int dtype, void* stream) {
    using namespace bd::cuda;
    BD_CHECK(is_float_dtype(dtype), "mul", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(n >= 0, "mul", "negative size n=%lld", (long long)n);
    if (n == 0) return BD_OK;
    BD_CHECK(a && b && y, "mul", "null tensor pointer");
    int st = BD_OK;
    BD_DISPATCH_FLOAT(dtype, T, st = launch_binary<T>(a, b, y, n, MulOp{}, as_stream(stream), "mul_kernel"));
    return st;
}

extern "C" int bd_cuda_scale(const void* x, void* y, int64_t n, float s, int dtype, void* stream) {
    using namespace bd::cuda;
    BD_CHECK(is_float_dtype(dtype), "scale", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(n >= 0, "scale", "negative size n=%lld", (long long)n);
    if (n == 0) return BD_OK;
    BD_CHECK(x && y, "scale", "null tensor pointer");
    int st = BD_OK;
    BD_DISPATCH_FLOAT(dtype, T, st = launch_unary<T>(x, y, n, ScaleOp{s}, as_stream(stream), "scale_kernel"));
    return st;
}

extern "C" int bd_cuda_softcap(const void* x, void* y, int64_t n, float cap, int dtype, void* stream) {
    using namespace bd::cuda;
    BD_CHECK(is_float_dtype(dtype), "softcap", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(cap > 0.f && std::isfinite(cap), "softcap", "cap (%g) must be finite and > 0", cap);
    BD_CHECK(n >= 0, "softcap", "negative size n=%lld", (long long)n);
    if (n == 0) return BD_OK;
    BD_CHECK(x && y, "softcap", "null tensor pointer");
    int st = BD_OK;
    BD_DISPATCH_FLOAT(dtype, T, st = launch_unary<T>(x, y, n, SoftcapOp{cap}, as_stream(stream), "softcap_kernel"));
    return st;
}

extern "C" int bd_cuda_add_bias(void* y, const void* bias, int64_t rows, int64_t cols, int dtype, void* stream) {
    using namespace bd::cuda;
    BD_CHECK(is_float_dtype(dtype), "add_bias", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(rows >= 0 && cols >= 0 && cols <= (int64_t)INT32_MAX * EW_BLOCK, "add_bias",
             "bad shape rows=%lld cols=%lld", (long long)rows, (long long)cols);
    if (rows == 0 || cols == 0) return BD_OK;
    BD_CHECK(y && bias, "add_bias", "null tensor pointer");
    int st = BD_OK;
    BD_DISPATCH_FLOAT(dtype, T, st = launch_add_bias<T>(y, bias, rows, cols, as_stream(stream)));
    return st;
}

extern "C" int bd_cuda_activation(const void* x, void* y, int64_t n, int act, int dtype, void* stream) {
    using namespace bd::cuda;
    BD_CHECK(is_float_dtype(dtype), "activation", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(act >= BD_ACT_RELU && act <= BD_ACT_SILU, "activation", "unknown activation code %d", act);
    BD_CHECK(n >= 0, "activation", "negative size n=%lld", (long long)n);
    if (n == 0) return BD_OK;
    BD_CHECK(x && y, "activation", "null tensor pointer");
    int st = BD_OK;
    BD_DISPATCH_FLOAT(dtype, T, st = launch_activation<T>(x, y, n, act, as_stream(stream)));
    return st;
}

extern "C" int bd_cuda_glu(const void* x, void* y, int64_t rows, int64_t f, int glu, int dtype, void* stream) {
    using namespace bd::cuda;
    BD_CHECK(is_float_dtype(dtype), "glu", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(glu >= BD_GLU_SWIGLU && glu <= BD_GLU_GEGLU_TANH, "glu", "unknown glu code %d", glu);
    BD_CHECK(rows >= 0 && f >= 0 && f <= (int64_t)INT32_MAX * EW_BLOCK, "glu", "bad shape rows=%lld f=%lld",
             (long long)rows, (long long)f);
    if (rows == 0 || f == 0) return BD_OK;
    BD_CHECK(x && y, "glu", "null tensor pointer");
    int st = BD_OK;
    BD_DISPATCH_FLOAT(dtype, T, st = launch_glu<T>(x, y, rows, f, glu, as_stream(stream)));
    return st;
}

extern "C" int bd_cuda_glu_clamped(const void* x, void* y, int64_t rows, int64_t f, float limit, int dtype,
                                   void* stream) {
    using namespace bd::cuda;
    BD_CHECK(is_float_dtype(dtype), "glu_clamped", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(limit > 0.f, "glu_clamped", "limit (%g) must be > 0 (+inf: no clamp)", limit);
    BD_CHECK(rows >= 0 && f >= 0 && f <= (int64_t)INT32_MAX * EW_BLOCK, "glu_clamped", "bad shape rows=%lld f=%lld",
             (long long)rows, (long long)f);
    if (rows == 0 || f == 0) return BD_OK;
    BD_CHECK(x && y, "glu_clamped", "null tensor pointer");
    int st = BD_OK;
    BD_DISPATCH_FLOAT(dtype, T, st = launch_glu_op<T>(x, y, rows, f, GegeluClampedOp{limit}, as_stream(stream),
                                                      "glu_kernel<gegelu_clamped>"));
    return st;
}
