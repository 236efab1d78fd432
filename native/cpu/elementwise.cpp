// Elementwise ops on the CPU: convert, add, mul, scale, softcap, add_bias, activation, GLU (and
// Phi-3-small's clamped GeGELU).
//   a, b, x, y: (n) flat; add_bias y: (rows, cols), bias: (cols); glu x: (rows, 2F), y: (rows, F)
// Every element is loaded to F32, computed in F32 and rounded once on store, so the CUDA twin
// (same F32 formula, same round-to-nearest-even store) agrees exactly for add/mul/scale/add_bias
// and within a few F32 ulps for the transcendental ones (softcap and activations: erfcf, tanhf, expf).
// Loops are split over OpenMP threads only past a size where the fork costs less than the work.
#include <cmath>
#include <cstring>

#include "braindrip/ops.h"
#include "cpu_common.hpp"

namespace bd::cpu {

constexpr int64_t PARALLEL_MIN = 1 << 14;  // elements below which one thread does the loop

static size_t dtype_bytes(int dt) { return dt == BD_F32 ? 4 : 2; }

// ---- kernels

static inline float relu(float x) { return x > 0.f ? x : 0.f; }
// 1 + erf(x/sqrt2) written as erfc(-x/sqrt2): no cancellation for negative x (at x = -5 the
// erf form loses 0.5% and underflows to -0 below about -5.7; erfc keeps full relative accuracy).
static inline float gelu_erf(float x) { return 0.5f * x * std::erfc(-x * 0.70710678118654752f); }
static inline float gelu_tanh(float x) {
    const float k = 0.79788456080286536f;  // sqrt(2/pi)
    return 0.5f * x * (1.f + std::tanh(k * (x + 0.044715f * x * x * x)));
}
static inline float silu(float x) { return x / (1.f + std::exp(-x)); }
// cap * tanh(x / cap): a true division and a full-precision tanh, as the CUDA twin (tanhf).
static inline float softcap(float x, float cap) { return cap * std::tanh(x / cap); }

static inline float activate(int act, float x) {
    switch (act) {
        case BD_ACT_RELU: return relu(x);
        case BD_ACT_GELU: return gelu_erf(x);
        case BD_ACT_GELU_TANH: return gelu_tanh(x);
        default: return silu(x);
    }
}

static inline float glu_gate(int glu, float g) {
    switch (glu) {
        case BD_GLU_SWIGLU: return silu(g);
        case BD_GLU_GEGLU: return gelu_erf(g);
        default: return gelu_tanh(g);
    }
}

// Phi-3-small's gegelu (modeling_phi3_small.py, gegelu with gegelu_limit): the gate is clamped from
// above and the linear half to [-limit, limit], but infinities pass unclamped (the model's
// torch.where(isinf(a), a, a.clamp(...))) and NaN stays NaN (every comparison with it is false).
// quick_gelu(g) = g * sigmoid(1.702 g), written as one division: g / (1 + e^(-1.702 g)).
static inline float quick_gelu(float g) { return g / (1.f + std::exp(-1.702f * g)); }
static inline float gegelu_clamped(float g, float u, float limit) {
    if (!std::isinf(g) && g > limit) g = limit;
    if (!std::isinf(u)) u = u > limit ? limit : (u < -limit ? -limit : u);
    return quick_gelu(g) * (u + 1.f);
}

// ---- launchers

// y[i] = f(i) over n elements, parallel when large. f computes and stores one element.
template <typename F>
static void for_each(int64_t n, F f) {
#pragma omp parallel for schedule(static) if (n >= PARALLEL_MIN)
    for (int64_t i = 0; i < n; ++i) f(i);
}

}  // namespace bd::cpu

// ---- entry points

extern "C" int bd_cpu_convert(const void* x, int src_dtype, void* y, int dst_dtype, int64_t n,
                              void* stream) {
    using namespace bd::cpu;
    BD_CHECK(is_float_dtype(src_dtype), "convert", "unsupported source dtype %s", dtype_name(src_dtype));
    BD_CHECK(is_float_dtype(dst_dtype), "convert", "unsupported destination dtype %s", dtype_name(dst_dtype));
    BD_CHECK(n >= 0, "convert", "negative size n=%lld", (long long)n);
    if (n == 0) return BD_OK;
    BD_CHECK(x && y, "convert", "null tensor pointer");
    if (src_dtype == dst_dtype) {
        std::memmove(y, x, static_cast<size_t>(n) * dtype_bytes(src_dtype));
        return BD_OK;
    }
    for_each(n, [=](int64_t i) { store(y, dst_dtype, i, load(x, src_dtype, i)); });
    return BD_OK;
}

extern "C" int bd_cpu_add(const void* a, const void* b, void* y, int64_t n, int dtype, void* stream) {
    using namespace bd::cpu;
    BD_CHECK(is_float_dtype(dtype), "add", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(n >= 0, "add", "negative size n=%lld", (long long)n);
    if (n == 0) return BD_OK;
    BD_CHECK(a && b && y, "add", "null tensor pointer");
    for_each(n, [=](int64_t i) { store(y, dtype, i, load(a, dtype, i) + load(b, dtype, i)); });
    return BD_OK;
}

extern "C" int bd_cpu_mul(const void* a, const void* b, void* y, int64_t n, int dtype, void* stream) {
    using namespace bd::cpu;
    BD_CHECK(is_float_dtype(dtype), "mul", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(n >= 0, "mul", "negative size n=%lld", (long long)n);
    if (n == 0) return BD_OK;
    BD_CHECK(a && b && y, "mul", "null tensor pointer");
    for_each(n, [=](int64_t i) { store(y, dtype, i, load(a, dtype, i) * load(b, dtype, i)); });
    return BD_OK;
}

extern "C" int bd_cpu_scale(const void* x, void* y, int64_t n, float s, int dtype, void* stream) {
    using namespace bd::cpu;
    BD_CHECK(is_float_dtype(dtype), "scale", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(n >= 0, "scale", "negative size n=%lld", (long long)n);
    if (n == 0) return BD_OK;
    BD_CHECK(x && y, "scale", "null tensor pointer");
    for_each(n, [=](int64_t i) { store(y, dtype, i, s * load(x, dtype, i)); });
    return BD_OK;
}

extern "C" int bd_cpu_softcap(const void* x, void* y, int64_t n, float cap, int dtype, void* stream) {
    using namespace bd::cpu;
    BD_CHECK(is_float_dtype(dtype), "softcap", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(cap > 0.f && std::isfinite(cap), "softcap", "cap (%g) must be finite and > 0", cap);
    BD_CHECK(n >= 0, "softcap", "negative size n=%lld", (long long)n);
    if (n == 0) return BD_OK;
    BD_CHECK(x && y, "softcap", "null tensor pointer");
    for_each(n, [=](int64_t i) { store(y, dtype, i, softcap(load(x, dtype, i), cap)); });
    return BD_OK;
}

extern "C" int bd_cpu_add_bias(void* y, const void* bias, int64_t rows, int64_t cols, int dtype,
                               void* stream) {
    using namespace bd::cpu;
    BD_CHECK(is_float_dtype(dtype), "add_bias", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(rows >= 0 && cols >= 0, "add_bias", "bad shape rows=%lld cols=%lld", (long long)rows,
             (long long)cols);
    if (rows == 0 || cols == 0) return BD_OK;
    BD_CHECK(y && bias, "add_bias", "null tensor pointer");
#pragma omp parallel for schedule(static) if (rows * cols >= PARALLEL_MIN)
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c)
            store(y, dtype, r * cols + c, load(y, dtype, r * cols + c) + load(bias, dtype, c));
    return BD_OK;
}

extern "C" int bd_cpu_activation(const void* x, void* y, int64_t n, int act, int dtype, void* stream) {
    using namespace bd::cpu;
    BD_CHECK(is_float_dtype(dtype), "activation", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(act >= BD_ACT_RELU && act <= BD_ACT_SILU, "activation", "unknown activation code %d", act);
    BD_CHECK(n >= 0, "activation", "negative size n=%lld", (long long)n);
    if (n == 0) return BD_OK;
    BD_CHECK(x && y, "activation", "null tensor pointer");
    for_each(n, [=](int64_t i) { store(y, dtype, i, activate(act, load(x, dtype, i))); });
    return BD_OK;
}

extern "C" int bd_cpu_glu(const void* x, void* y, int64_t rows, int64_t f, int glu, int dtype,
                          void* stream) {
    using namespace bd::cpu;
    BD_CHECK(is_float_dtype(dtype), "glu", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(glu >= BD_GLU_SWIGLU && glu <= BD_GLU_GEGLU_TANH, "glu", "unknown glu code %d", glu);
    BD_CHECK(rows >= 0 && f >= 0, "glu", "bad shape rows=%lld f=%lld", (long long)rows, (long long)f);
    if (rows == 0 || f == 0) return BD_OK;
    BD_CHECK(x && y, "glu", "null tensor pointer");
#pragma omp parallel for schedule(static) if (rows * f >= PARALLEL_MIN)
    for (int64_t r = 0; r < rows; ++r) {
        const int64_t in = r * 2 * f, out = r * f;
        for (int64_t c = 0; c < f; ++c)
            store(y, dtype, out + c, glu_gate(glu, load(x, dtype, in + c)) * load(x, dtype, in + f + c));
    }
    return BD_OK;
}

extern "C" int bd_cpu_glu_clamped(const void* x, void* y, int64_t rows, int64_t f, float limit, int dtype,
                                  void* stream) {
    using namespace bd::cpu;
    BD_CHECK(is_float_dtype(dtype), "glu_clamped", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(limit > 0.f, "glu_clamped", "limit (%g) must be > 0 (+inf: no clamp)", limit);
    BD_CHECK(rows >= 0 && f >= 0, "glu_clamped", "bad shape rows=%lld f=%lld", (long long)rows, (long long)f);
    if (rows == 0 || f == 0) return BD_OK;
    BD_CHECK(x && y, "glu_clamped", "null tensor pointer");
#pragma omp parallel for schedule(static) if (rows * f >= PARALLEL_MIN)
    for (int64_t r = 0; r < rows; ++r) {
        const int64_t in = r * 2 * f, out = r * f;
        for (int64_t c = 0; c < f; ++c)
            store(y, dtype, out + c, gegelu_clamped(load(x, dtype, in + c), load(x, dtype, in + f + c), limit));
    }
    return BD_OK;
}
