// Internal to the kernel library: the plan that the CPU twin and the CUDA kernel of fused
// differential attention (diff_attention.h) share. A call is described by an attention.h
// bd_attention_params `p` over the 2H query heads and 2Hkv key heads of width D, with V of width 2D
// (head_dim_v = 2D) and Hkv V heads, plus the differential scalars. Masks, key-tile ranges and tile
// sizes come from detail/attention_plan.hpp, so both backends walk the same tiles.
#pragma once

#include "braindrip/detail/attention_plan.hpp"
#include "braindrip/diff_attention.h"

namespace bd::diff {

struct DiffParams {
    bd_attention_params p;  // q (B,Sq,2H,D), k (B,Skv,2Hkv,D), v (B,Skv,Hkv,2D), o (B,Sq,H,2D): heads_q = 2H,
                            // heads_kv = 2Hkv, head_dim = D, head_dim_v = 2D, v/o strides for Hkv / H heads
    const void* subln;      // (2D), dtype
    int heads;              // H output heads
    int heads_v;            // Hkv V heads
    float lambda, lambda_init, eps;

    // Output head h: query heads 2h, 2h+1; key heads floor(qh / r) of the 2Hkv; V head floor(h / r).
    BD_HD int ratio() const { return heads / heads_v; }
    BD_HD int q_head(int h, int map) const { return 2 * h + map; }
    BD_HD int k_head(int h, int map) const { return (2 * h + map) / ratio(); }
    BD_HD int v_head(int h) const { return h / ratio(); }
    BD_HD float out_scale() const { return 1.f - lambda_init; }
};

// Checks the scalar contract; message "diff_attention: ...". tensors = false skips pointer checks.
inline int validate(int dtype, int64_t batch, int64_t seqlen_q, int64_t seqlen_k, int heads, int heads_kv,
                    int head_dim, float scale, int causal, int window_left, int window_right, float lambda,
                    float lambda_init, float eps, char* msg, size_t n) {
#define BD_DIFF_RULE(cond, ...)                               \
    do {                                                      \
        if (!(cond)) {                                        \
            snprintf(msg, n, "diff_attention: " __VA_ARGS__); \
            return BD_ERR_INVALID_ARGUMENT;                   \
        }                                                     \
    } while (0)
    BD_DIFF_RULE(dtype == BD_F32 || dtype == BD_F16 || dtype == BD_BF16, "dtype (%d) must be F32, F16 or BF16", dtype);
    BD_DIFF_RULE(batch >= 0, "batch (%lld) must be >= 0", (long long)batch);
    BD_DIFF_RULE(seqlen_q >= 0 && seqlen_k >= 0, "sequence lengths must be >= 0 (seqlen_q %lld, seqlen_k %lld)",
                 (long long)seqlen_q, (long long)seqlen_k);
    BD_DIFF_RULE(seqlen_q < INT32_MAX && seqlen_k < INT32_MAX, "sequence lengths must be < 2^31");
    BD_DIFF_RULE(heads > 0, "heads (%d) must be > 0 (output heads H; q has 2H heads)", heads);
    BD_DIFF_RULE(heads_kv > 0, "heads_kv (%d) must be > 0 (V heads Hkv; k has 2Hkv heads)", heads_kv);
    BD_DIFF_RULE(heads % heads_kv == 0, "heads (%d) must be divisible by heads_kv (%d)", heads, heads_kv);
    BD_DIFF_RULE(heads <= (1 << 29), "heads (%d) too large", heads);
    BD_DIFF_RULE(head_dim > 0 && head_dim <= 512, "head_dim (%d) must be in [1, 512] (V is 2 * head_dim wide)",
                 head_dim);
    BD_DIFF_RULE(isfinite(scale) && scale > 0.f, "scale (%g) must be finite and > 0", (double)scale);
    BD_DIFF_RULE(causal == 0 || causal == 1, "causal (%d) must be 0 or 1", causal);
    BD_DIFF_RULE(window_left >= -1, "window_left (%d) must be >= -1 (-1 = unbounded)", window_left);
    BD_DIFF_RULE(window_right >= -1, "window_right (%d) must be >= -1 (-1 = unbounded)", window_right);
    BD_DIFF_RULE(isfinite(lambda), "lambda (%g) must be finite", (double)lambda);
    BD_DIFF_RULE(isfinite(lambda_init), "lambda_init (%g) must be finite", (double)lambda_init);
    BD_DIFF_RULE(isfinite(eps) && eps > 0.f, "eps (%g) must be finite and > 0", (double)eps);
    return BD_OK;
#undef BD_DIFF_RULE
}

// The resolved parameters of a validated flat call (dense layouts of diff_attention.h).
inline DiffParams make_params(const void* q, const void* k, const void* v, const void* subln, void* o, int dtype,
                              int64_t batch, int64_t seqlen_q, int64_t seqlen_k, int heads, int heads_kv,
                              int head_dim, const int32_t* seqused_k, float scale, int causal, int window_left,
                              int window_right, float lambda, float lambda_init, float eps) {
    DiffParams d;
    bd_attention_params& p = d.p;
    bd_attention_params_init(&p, dtype, batch, seqlen_q, seqlen_k, 2 * heads, 2 * heads_kv, head_dim, 2 * head_dim);
    // V and O have Hkv and H heads of 2D (init assumed heads_kv / heads_q heads of head_dim_v)
    p.v_head_stride = 2 * head_dim;
    p.v_row_stride = static_cast<int64_t>(heads_kv) * 2 * head_dim;
    p.v_batch_stride = seqlen_k * p.v_row_stride;
    p.o_head_stride = 2 * head_dim;
    p.o_row_stride = static_cast<int64_t>(heads) * 2 * head_dim;
    p.o_batch_stride = seqlen_q * p.o_row_stride;
    p.q = q;
    p.k = k;
    p.v = v;
    p.o = o;
    p.lse = nullptr;
    p.seqused_k = seqused_k;
    p.scale = scale;
    p.is_causal = causal;
    p.window_left = window_left;
    p.window_right = window_right;
    d.subln = subln;
    d.heads = heads;
    d.heads_v = heads_kv;
    d.lambda = lambda;
    d.lambda_init = lambda_init;
    d.eps = eps;
    return d;
}

}  // namespace bd::diff
