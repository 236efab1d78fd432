// Rotary position embedding (RoPE) on the CPU.
//   x, y: (tokens, heads, head_dim); positions: (tokens) I32 or I64
//   pair p of channels (a, b) rotates by angle = pos * inv_freq[p]:
//     y[a] = x[a] cos - x[b] sin,  y[b] = x[b] cos + x[a] sin
//   HALF (HF rotate_half): (a, b) = (p, p + rotary_dim/2); INTERLEAVED (Meta/GGUF): (2p, 2p + 1)
//   channels >= rotary_dim are copied.
// inv_freq[p] = powf(theta, -2p/rotary_dim) and angle = (float)pos * inv_freq in F32, as HF computes
// them in float32. The CUDA entry computes the same table on the host with the same expression,
// so both backends rotate by bit-identical angles; only cosf/sinf ulps differ.
// bd_cpu_rope_freqs takes the caller's inv_freq table and an mscale on cos and sin (scaled RoPE).
// In place allowed: each pair is read whole before it is written.
#include <cmath>
#include <vector>

#include "braindrip/ops.h"
#include "cpu_common.hpp"

namespace bd::cpu {

// ---- kernels

static inline float rope_inv_freq(float theta, int64_t p, int64_t rotary_dim) {
    return std::pow(theta, -static_cast<float>(2 * p) / static_cast<float>(rotary_dim));
}

static void rope_head(const void* x, void* y, int dt, int64_t base, int64_t head_dim, int64_t rotary_dim,
                      int style, float pos, const float* inv_freq, float mscale) {
    const int64_t half = rotary_dim / 2;
    for (int64_t p = 0; p < half; ++p) {
        const int64_t a = style == BD_ROPE_HALF ? p : 2 * p;
        const int64_t b = style == BD_ROPE_HALF ? p + half : 2 * p + 1;
        const float angle = pos * inv_freq[p];
        const float c = std::cos(angle) * mscale, s = std::sin(angle) * mscale;
        const float xa = load(x, dt, base + a), xb = load(x, dt, base + b);
        store(y, dt, base + a, xa * c - xb * s);
        store(y, dt, base + b, xb * c + xa * s);
    }
    if (x != y)
        for (int64_t ch = rotary_dim; ch < head_dim; ++ch) store(y, dt, base + ch, load(x, dt, base + ch));
}

// ---- launchers

static int rope(const void* x, const void* positions, int pos_dt, void* y, int64_t tokens, int64_t heads,
                int64_t head_dim, int64_t rotary_dim, const float* inv_freq, float mscale, int style, int dt) {
#pragma omp parallel for schedule(static) if (tokens * heads * head_dim >= (1 << 14))
    for (int64_t t = 0; t < tokens; ++t) {
        const float pos = static_cast<float>(load_index(positions, pos_dt, t));
        for (int64_t h = 0; h < heads; ++h)
            rope_head(x, y, dt, (t * heads + h) * head_dim, head_dim, rotary_dim, style, pos, inv_freq, mscale);
    }
    return BD_OK;
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
