// Elementwise ops on the CPU: convert, add, mul, scale, softcap, add_bias, activation, GLU (and
// Phi-3-small's clamped GeGELU).
//   a, b, x, y: (n) flat; add_bias y: (rows, cols), bias: (cols); glu x: (rows, 2F), y: (rows, F)
// Every element is loaded to F32, computed in F32 and rounded once on store, so the CUDA twin
// (same F32 formula, same round-to-nearest-even store) agrees exactly for add/mul/scale/add_bias
// and within a few F32 ulps for the transcendental ones (softcap: tanhf; GELU: erfcf; SiLU and the
// tanh GELU: e^x, written here as x / (1 + e^-z)).
// The loops run 8 lanes at a time (vec.hpp: storage converted in registers, e^x as vec::vexp within
// 2 ulp; GELU's erfc stays the scalar libm call, lane by lane), SiLU and the tanh GELU (alone and as
// GLU gates) 16 at a time with AVX-512 (elem16 below), split over OpenMP threads only past a size
// where the fork costs less than the work.
#include <cmath>
#include <cstring>

#include "braindrip/ops.h"
#include "cpu_common.hpp"
#include "vec.hpp"

namespace bd::cpu {

using vec::V;
using vec::W;

static size_t dtype_bytes(int dt) { return dt == BD_F32 ? 4 : 2; }

// ---- kernels

// 1 + erf(x/sqrt2) written as erfc(-x/sqrt2): no cancellation for negative x (at x = -5 the
// erf form loses 0.5% and underflows to -0 below about -5.7; erfc keeps full relative accuracy).
static inline float gelu_erf(float x) { return 0.5f * x * std::erfc(-x * 0.70710678118654752f); }
// cap * tanh(x / cap): a true division and a full-precision tanh, as the CUDA twin (tanhf).
static inline float softcap(float x, float cap) { return cap * std::tanh(x / cap); }

// The activations, 8 lanes at a time. silu and gelu_tanh are written as x / (1 + e^-z), which
// is 0.5 x (1 + tanh(z / 2)) without tanh's cancellation; gelu_erf calls erfc per lane.
static inline V v_silu(V x) { return x / (vec::bc(1.f) + vec::vexp(-x)); }
static inline V v_gelu_tanh(V x) {
    const V z = vec::bc(2.f * 0.79788456080286536f) * (x + vec::bc(0.044715f) * x * x * x);
    return x / (vec::bc(1.f) + vec::vexp(-z));
}
static inline V v_gelu_erf(V x) {
    V y;
    for (int i = 0; i < W; ++i) y[i] = gelu_erf(x[i]);
    return y;
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

}  // namespace bd::cpu

// SiLU and the tanh GELU, alone and as GLU gates, 16 lanes (AVX-512, taken when use_avx512()):
// e^x and a division per element make them compute-bound at 8 lanes on two cores. Same operations
// per lane as v_silu / v_gelu_tanh. Everything called here is defined in this region (vec16.hpp).
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,prefer-vector-width=512")
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12's own _mm512_undefined_* in its intrinsics
#define BD_VEC16_REGION
#include "vec16.hpp"
namespace bd::cpu::elem16 {

using V = vec16::V;
constexpr int W = vec16::W;

// F: 0 = SiLU, 1 = tanh GELU
template <int F>
inline V act(V x) {
    if constexpr (F == 0) {
        return x / (vec16::bc(1.f) + vec16::vexp(-x));
    } else {
        const V z = vec16::bc(2.f * 0.79788456080286536f) * (x + vec16::bc(0.044715f) * x * x * x);
        return x / (vec16::bc(1.f) + vec16::vexp(-z));
    }
}

template <int DT, int F>
void act_range(const void* x, void* y, int64_t i0, int64_t i1) {
    int64_t i = i0;
    for (; i + W <= i1; i += W) vec16::store16<DT>(y, i, act<F>(vec16::load16<DT>(x, i)));
    if (i < i1) {
        const int k = static_cast<int>(i1 - i);
        vec16::store_part<DT>(y, i, k, act<F>(vec16::load_part<DT>(x, i, k)));
    }
}

template <int DT, int F>
void glu_row(const void* x, void* y, int64_t r, int64_t f) {
    const int64_t in = r * 2 * f, out = r * f;
    int64_t c = 0;
    for (; c + W <= f; c += W)
        vec16::store16<DT>(y, out + c, act<F>(vec16::load16<DT>(x, in + c)) * vec16::load16<DT>(x, in + f + c));
    if (c < f) {
        const int k = static_cast<int>(f - c);
        vec16::store_part<DT>(y, out + c, k, act<F>(vec16::load_part<DT>(x, in + c, k)) * vec16::load_part<DT>(x, in + f + c, k));
    }
}

}  // namespace bd::cpu::elem16
#undef BD_VEC16_REGION
#pragma GCC diagnostic pop
#pragma GCC pop_options

namespace bd::cpu {

// ---- launchers

// y[i] = f(i) over n elements, parallel when large (the scalar ops: softcap, glu_clamped).
template <typename F>
static void for_each(int64_t n, F f) {
    vec::for_range(n, [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) f(i);
    });
}

// y = f(x) (one input) or f(a, b) (two) over n elements of storage type DT, 8 at a time.
template <int DT, typename F>
static void map1(const void* x, void* y, int64_t n, F f) {
    vec::for_range(n, [&](int64_t i0, int64_t i1) {
        int64_t i = i0;
        for (; i + W <= i1; i += W) vec::store8<DT>(y, i, f(vec::load8<DT>(x, i)));
        if (i < i1) vec::store_part<DT>(y, i, static_cast<int>(i1 - i), f(vec::load_part<DT>(x, i, static_cast<int>(i1 - i))));
    });
}

template <int DT, typename F>
static void map2(const void* a, const void* b, void* y, int64_t n, F f) {
    vec::for_range(n, [&](int64_t i0, int64_t i1) {
        int64_t i = i0;
        for (; i + W <= i1; i += W) vec::store8<DT>(y, i, f(vec::load8<DT>(a, i), vec::load8<DT>(b, i)));
        if (i < i1) {
            const int k = static_cast<int>(i1 - i);
            vec::store_part<DT>(y, i, k, f(vec::load_part<DT>(a, i, k), vec::load_part<DT>(b, i, k)));
        }
    });
}

struct Add {
    template <int DT>
    static int run(const void* a, const void* b, void* y, int64_t n) {
        map2<DT>(a, b, y, n, [](V u, V v) { return u + v; });
        return BD_OK;
    }
};
struct Mul {
    template <int DT>
    static int run(const void* a, const void* b, void* y, int64_t n) {
        map2<DT>(a, b, y, n, [](V u, V v) { return u * v; });
        return BD_OK;
    }
};
struct Scale {
    template <int DT>
    static int run(const void* x, void* y, int64_t n, float s) {
        const V vs = vec::bc(s);
        map1<DT>(x, y, n, [=](V u) { return vs * u; });
        return BD_OK;
    }
};
struct Activation {
    template <int DT>
    static int run(const void* x, void* y, int64_t n, int act) {
        if (use_avx512() && (act == BD_ACT_SILU || act == BD_ACT_GELU_TANH)) {
            if (act == BD_ACT_SILU) vec::for_range(n, [=](int64_t i0, int64_t i1) { elem16::act_range<DT, 0>(x, y, i0, i1); });
            else vec::for_range(n, [=](int64_t i0, int64_t i1) { elem16::act_range<DT, 1>(x, y, i0, i1); });
            return BD_OK;
        }
        switch (act) {  // one loop per function, so the switch is not inside it
            case BD_ACT_RELU: map1<DT>(x, y, n, [](V u) { return u > vec::bc(0.f) ? u : V{}; }); break;
            case BD_ACT_GELU: map1<DT>(x, y, n, [](V u) { return v_gelu_erf(u); }); break;
            case BD_ACT_GELU_TANH: map1<DT>(x, y, n, [](V u) { return v_gelu_tanh(u); }); break;
            default: map1<DT>(x, y, n, [](V u) { return v_silu(u); }); break;
        }
        return BD_OK;
    }
};
// One storage type to another: F32 <-> F16/BF16 through F32 registers (BF16 <-> F16 via F32).
template <int SRC>
struct ConvertTo {
    template <int DST>
    static int run(const void* x, void* y, int64_t n) {
        vec::for_range(n, [&](int64_t i0, int64_t i1) {
            int64_t i = i0;
            for (; i + W <= i1; i += W) vec::store8<DST>(y, i, vec::load8<SRC>(x, i));
            if (i < i1) vec::store_part<DST>(y, i, static_cast<int>(i1 - i), vec::load_part<SRC>(x, i, static_cast<int>(i1 - i)));
        });
        return BD_OK;
    }
};
struct Convert {
    template <int SRC>
    static int run(const void* x, void* y, int dst, int64_t n) {
        return vec::dispatch<ConvertTo<SRC>>(dst, x, y, n);
    }
};
struct AddBias {
    template <int DT>
    static int run(void* y, const void* bias, int64_t rows, int64_t cols) {
        vec::for_rows(rows, rows * cols, [=](int64_t r) {
            const int64_t base = r * cols;
            int64_t c = 0;
            for (; c + W <= cols; c += W) vec::store8<DT>(y, base + c, vec::load8<DT>(y, base + c) + vec::load8<DT>(bias, c));
            if (c < cols) {
                const int k = static_cast<int>(cols - c);
                vec::store_part<DT>(y, base + c, k, vec::load_part<DT>(y, base + c, k) + vec::load_part<DT>(bias, c, k));
            }
        });
        return BD_OK;
    }
};
struct Glu {
    template <int DT, typename G>
    static void rows(const void* x, void* y, int64_t nrows, int64_t f, G gate) {
        vec::for_rows(nrows, nrows * f, [=](int64_t r) {
            const int64_t in = r * 2 * f, out = r * f;
            int64_t c = 0;
            for (; c + W <= f; c += W)
                vec::store8<DT>(y, out + c, gate(vec::load8<DT>(x, in + c)) * vec::load8<DT>(x, in + f + c));
            if (c < f) {
                const int k = static_cast<int>(f - c);
                vec::store_part<DT>(y, out + c, k, gate(vec::load_part<DT>(x, in + c, k)) * vec::load_part<DT>(x, in + f + c, k));
            }
        });
    }
    template <int DT>
    static int run(const void* x, void* y, int64_t nrows, int64_t f, int glu) {
        if (use_avx512() && glu != BD_GLU_GEGLU) {
            if (glu == BD_GLU_SWIGLU) vec::for_rows(nrows, nrows * f, [=](int64_t r) { elem16::glu_row<DT, 0>(x, y, r, f); });
            else vec::for_rows(nrows, nrows * f, [=](int64_t r) { elem16::glu_row<DT, 1>(x, y, r, f); });
            return BD_OK;
        }
        switch (glu) {
            case BD_GLU_SWIGLU: rows<DT>(x, y, nrows, f, [](V g) { return v_silu(g); }); break;
            case BD_GLU_GEGLU: rows<DT>(x, y, nrows, f, [](V g) { return v_gelu_erf(g); }); break;
            default: rows<DT>(x, y, nrows, f, [](V g) { return v_gelu_tanh(g); }); break;
        }
        return BD_OK;
    }
};

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
    return vec::dispatch<Convert>(src_dtype, x, y, dst_dtype, n);
}

extern "C" int bd_cpu_add(const void* a, const void* b, void* y, int64_t n, int dtype, void* stream) {
    using namespace bd::cpu;
    BD_CHECK(is_float_dtype(dtype), "add", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(n >= 0, "add", "negative size n=%lld", (long long)n);
    if (n == 0) return BD_OK;
    BD_CHECK(a && b && y, "add", "null tensor pointer");
    return vec::dispatch<Add>(dtype, a, b, y, n);
}

extern "C" int bd_cpu_mul(const void* a, const void* b, void* y, int64_t n, int dtype, void* stream) {
    using namespace bd::cpu;
    BD_CHECK(is_float_dtype(dtype), "mul", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(n >= 0, "mul", "negative size n=%lld", (long long)n);
    if (n == 0) return BD_OK;
    BD_CHECK(a && b && y, "mul", "null tensor pointer");
    return vec::dispatch<Mul>(dtype, a, b, y, n);
}

extern "C" int bd_cpu_scale(const void* x, void* y, int64_t n, float s, int dtype, void* stream) {
    using namespace bd::cpu;
    BD_CHECK(is_float_dtype(dtype), "scale", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(n >= 0, "scale", "negative size n=%lld", (long long)n);
    if (n == 0) return BD_OK;
    BD_CHECK(x && y, "scale", "null tensor pointer");
    return vec::dispatch<Scale>(dtype, x, y, n, s);
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
    return vec::dispatch<AddBias>(dtype, y, bias, rows, cols);
}

extern "C" int bd_cpu_activation(const void* x, void* y, int64_t n, int act, int dtype, void* stream) {
    using namespace bd::cpu;
    BD_CHECK(is_float_dtype(dtype), "activation", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(act >= BD_ACT_RELU && act <= BD_ACT_SILU, "activation", "unknown activation code %d", act);
    BD_CHECK(n >= 0, "activation", "negative size n=%lld", (long long)n);
    if (n == 0) return BD_OK;
    BD_CHECK(x && y, "activation", "null tensor pointer");
    return vec::dispatch<Activation>(dtype, x, y, n, act);
}

extern "C" int bd_cpu_glu(const void* x, void* y, int64_t rows, int64_t f, int glu, int dtype,
                          void* stream) {
    using namespace bd::cpu;
    BD_CHECK(is_float_dtype(dtype), "glu", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(glu >= BD_GLU_SWIGLU && glu <= BD_GLU_GEGLU_TANH, "glu", "unknown glu code %d", glu);
    BD_CHECK(rows >= 0 && f >= 0, "glu", "bad shape rows=%lld f=%lld", (long long)rows, (long long)f);
    if (rows == 0 || f == 0) return BD_OK;
    BD_CHECK(x && y, "glu", "null tensor pointer");
    return vec::dispatch<Glu>(dtype, x, y, rows, f, glu);
}

extern "C" int bd_cpu_glu_clamped(const void* x, void* y, int64_t rows, int64_t f, float limit, int dtype,
                                  void* stream) {
    using namespace bd::cpu;
    BD_CHECK(is_float_dtype(dtype), "glu_clamped", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(limit > 0.f, "glu_clamped", "limit (%g) must be > 0 (+inf: no clamp)", limit);
    BD_CHECK(rows >= 0 && f >= 0, "glu_clamped", "bad shape rows=%lld f=%lld", (long long)rows, (long long)f);
    if (rows == 0 || f == 0) return BD_OK;
    BD_CHECK(x && y, "glu_clamped", "null tensor pointer");
    vec::for_rows(rows, rows * f, [=](int64_t r) {
        const int64_t in = r * 2 * f, out = r * f;
        for (int64_t c = 0; c < f; ++c)
            store(y, dtype, out + c, gegelu_clamped(load(x, dtype, in + c), load(x, dtype, in + f + c), limit));
    });
    return BD_OK;
}
