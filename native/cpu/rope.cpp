// Rotary position embedding (RoPE) on the CPU.
//   x, y: (tokens, heads, head_dim); positions: (tokens) I32 or I64
//   pair p of channels (a, b) rotates by angle = pos * inv_freq[p]:
//     y[a] = x[a] cos - x[b] sin,  y[b] = x[b] cos + x[a] sin
//   HALF (HF rotate_half): (a, b) = (p, p + rotary_dim/2); INTERLEAVED (Meta/GGUF): (2p, 2p + 1)
//   channels >= rotary_dim are copied.
// inv_freq[p] = powf(theta, -2p/rotary_dim) and angle = (float)pos * inv_freq in F32, as HF computes
// them in float32. The CUDA entry computes the same table on the host with the same expression,
// so both backends rotate by bit-identical angles; only cosf/sinf ulps differ (here: vec::sincos4,
// F64 and rounded once, so within an ulp of a correctly rounded cosf/sinf).
// Per token the cos/sin table is computed once and shared by its heads; the rotation runs 8 pairs
// at a time (HALF: the two halves as vectors; INTERLEAVED: pairs swapped in a register).
// bd_cpu_rope_freqs takes the caller's inv_freq table and an mscale on cos and sin (scaled RoPE).
// In place allowed: each pair is read whole before it is written.
#include <cmath>
#include <vector>

#include "braindrip/ops.h"
#include "cpu_common.hpp"
#include "vec.hpp"

namespace bd::cpu {

using namespace vec;

// ---- kernels

static inline float rope_inv_freq(float theta, int64_t p, int64_t rotary_dim) {
    return std::pow(theta, -static_cast<float>(2 * p) / static_cast<float>(rotary_dim));
}

// cos and sin (times mscale) of pos * inv_freq[p] for p < half, into cs[0..half) and sn[0..half);
// the arrays have room for half rounded up to 4.
static void rope_table(float pos, const float* inv_freq, int64_t half, float mscale, float* cs, float* sn) {
    float angle[4];
    for (int64_t p = 0; p < half; p += 4) {
        for (int k = 0; k < 4; ++k) angle[k] = p + k < half ? pos * inv_freq[p + k] : 0.f;
        sincos4(angle, sn + p, cs + p);
    }
    for (int64_t p = 0; p < half; ++p) {
        cs[p] *= mscale;
        sn[p] *= mscale;
    }
}

template <int DT>
static void rope_head(const void* x, void* y, int64_t base, int64_t head_dim, int64_t rotary_dim, int style,
                      const float* cs, const float* sn) {
    const int64_t half = rotary_dim / 2;
    int64_t p = 0;
    if (style == BD_ROPE_HALF) {
        for (; p + W <= half; p += W) {
            const V xa = load8<DT>(x, base + p), xb = load8<DT>(x, base + half + p);
            const V c = ld(cs + p), s = ld(sn + p);
            store8<DT>(y, base + p, xa * c - xb * s);
            store8<DT>(y, base + half + p, xb * c + xa * s);
        }
    } else {
        // 4 pairs per vector: (x0 x1 x2 x3 ...) * (c0 c0 c1 c1 ...) + (x1 x0 x3 x2 ...) * (-s0 s0 -s1 s1 ...)
        const VI swap = {1, 0, 3, 2, 5, 4, 7, 6};
        const V sign = {-1.f, 1.f, -1.f, 1.f, -1.f, 1.f, -1.f, 1.f};
        for (; p + W / 2 <= half; p += W / 2) {
            const V v = load8<DT>(x, base + 2 * p);
            const V c = {cs[p], cs[p], cs[p + 1], cs[p + 1], cs[p + 2], cs[p + 2], cs[p + 3], cs[p + 3]};
            const V s = {sn[p], sn[p], sn[p + 1], sn[p + 1], sn[p + 2], sn[p + 2], sn[p + 3], sn[p + 3]};
            store8<DT>(y, base + 2 * p, v * c + __builtin_shuffle(v, swap) * (s * sign));
        }
    }
    for (; p < half; ++p) {
        const int64_t a = style == BD_ROPE_HALF ? p : 2 * p;
        const int64_t b = style == BD_ROPE_HALF ? p + half : 2 * p + 1;
        const float xa = load(x, DT, base + a), xb = load(x, DT, base + b);
        store(y, DT, base + a, xa * cs[p] - xb * sn[p]);
        store(y, DT, base + b, xb * cs[p] + xa * sn[p]);
    }
    if (x != y) {
        int64_t ch = rotary_dim;
        for (; ch + W <= head_dim; ch += W) store8<DT>(y, base + ch, load8<DT>(x, base + ch));
        for (; ch < head_dim; ++ch) store(y, DT, base + ch, load(x, DT, base + ch));
    }
}

// ---- launchers

struct Rope {
    template <int DT>
    static int run(const void* x, const void* positions, int pos_dt, void* y, int64_t tokens, int64_t heads,
                   int64_t head_dim, int64_t rotary_dim, const float* inv_freq, float mscale, int style) {
        const int64_t half = rotary_dim / 2, room = (half + 3) / 4 * 4;
        auto token = [=](int64_t t, float* cs, float* sn) {
            rope_table(static_cast<float>(load_index(positions, pos_dt, t)), inv_freq, half, mscale, cs, sn);
            for (int64_t h = 0; h < heads; ++h) rope_head<DT>(x, y, (t * heads + h) * head_dim, head_dim, rotary_dim, style, cs, sn);
        };
        if (tokens * heads * head_dim < PARALLEL_MIN || tokens < 2) {
            std::vector<float> tab(static_cast<size_t>(2 * room));
            for (int64_t t = 0; t < tokens; ++t) token(t, tab.data(), tab.data() + room);
            return BD_OK;
        }
#pragma omp parallel
        {
            std::vector<float> tab(static_cast<size_t>(2 * room));
#pragma omp for schedule(static)
            for (int64_t t = 0; t < tokens; ++t) token(t, tab.data(), tab.data() + room);
        }
        return BD_OK;
    }
};

static int rope(const void* x, const void* positions, int pos_dt, void* y, int64_t tokens, int64_t heads,
                int64_t head_dim, int64_t rotary_dim, const float* inv_freq, float mscale, int style, int dt) {
    return dispatch<Rope>(dt, x, positions, pos_dt, y, tokens, heads, head_dim, rotary_dim, inv_freq, mscale, style);
}

static int check_rope(const void* x, const void* positions, int pos_dtype, void* y, int64_t tokens, int64_t heads,
                      int64_t head_dim, int64_t rotary_dim, int style, int dtype) {
    BD_CHECK(is_float_dtype(dtype), "rope", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(is_index_dtype(pos_dtype), "rope", "positions dtype %s must be I32 or I64", dtype_name(pos_dtype));
    BD_CHECK(style == BD_ROPE_HALF || style == BD_ROPE_INTERLEAVED, "rope", "unknown style %d", style);
    BD_CHECK(tokens >= 0 && heads > 0 && head_dim > 0, "rope", "bad shape tokens=%lld heads=%lld head_dim=%lld",
             (long long)tokens, (long long)heads, (long long)head_dim);
    BD_CHECK(rotary_dim > 0 && rotary_dim % 2 == 0 && rotary_dim <= head_dim, "rope",
             "rotary_dim (%lld) must be even, > 0 and <= head_dim (%lld)", (long long)rotary_dim,
             (long long)head_dim);
    BD_CHECK(tokens == 0 || (x && positions && y), "rope", "null tensor pointer");
    return BD_OK;
}

}  // namespace bd::cpu

// ---- entry points

extern "C" int bd_cpu_rope(const void* x, const void* positions, int pos_dtype, void* y, int64_t tokens,
                           int64_t heads, int64_t head_dim, int64_t rotary_dim, float theta, int style,
                           int dtype, void* stream) {
    using namespace bd::cpu;
    if (int st = check_rope(x, positions, pos_dtype, y, tokens, heads, head_dim, rotary_dim, style, dtype)) return st;
    BD_CHECK(theta > 0.f && std::isfinite(theta), "rope", "theta (%g) must be finite and > 0", theta);
    if (tokens == 0) return BD_OK;
    std::vector<float> inv_freq(static_cast<size_t>(rotary_dim / 2));
    for (int64_t p = 0; p < rotary_dim / 2; ++p) inv_freq[p] = rope_inv_freq(theta, p, rotary_dim);
    return rope(x, positions, pos_dtype, y, tokens, heads, head_dim, rotary_dim, inv_freq.data(), 1.f, style, dtype);
}

extern "C" int bd_cpu_rope_freqs(const void* x, const void* positions, int pos_dtype, void* y, int64_t tokens,
                                 int64_t heads, int64_t head_dim, int64_t rotary_dim, const float* inv_freq,
                                 float mscale, int style, int dtype, void* stream) {
    using namespace bd::cpu;
    if (int st = check_rope(x, positions, pos_dtype, y, tokens, heads, head_dim, rotary_dim, style, dtype)) return st;
    BD_CHECK(inv_freq, "rope", "null inv_freq table");
    for (int64_t p = 0; p < rotary_dim / 2; ++p)
        BD_CHECK(std::isfinite(inv_freq[p]), "rope", "inv_freq[%lld] (%g) is not finite", (long long)p, inv_freq[p]);
    BD_CHECK(std::isfinite(mscale), "rope", "mscale (%g) is not finite", mscale);
    if (tokens == 0) return BD_OK;
    return rope(x, positions, pos_dtype, y, tokens, heads, head_dim, rotary_dim, inv_freq, mscale, style, dtype);
}
