/* braindrip internal: the MoE planning arithmetic both backends share (M tile, padded row count,
 * GEMM path, workspace layout). Header-only and pure, so libbraindrip_cpu and libbraindrip_cuda
 * cannot disagree; the exported bd_*_moe_block_m / _max_rows / _gemm_path / _workspace_bytes
 * functions return these values. Not part of the stable ABI: use the functions in moe.h.
 */
#ifndef BRAINDRIP_MOE_PLAN_H
#define BRAINDRIP_MOE_PLAN_H

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "braindrip/moe.h"

#ifdef __cplusplus
extern "C" {
#endif

static inline int64_t bd_moe_plan_align256(int64_t bytes) { return (bytes + 255) & ~(int64_t)255; }

static inline int64_t bd_moe_plan_dtype_size(int dtype) { return dtype == BD_F32 ? 4 : 2; }

/* M tile by the mean slots per expert (vLLM's tuned Mixtral configs on H100 use 16 up to ~32
 * tokens, then 32, 64, and 128 from ~1024 tokens). */
static inline int64_t bd_moe_plan_block_m(int64_t tokens, int64_t top_k, int64_t experts) {
    int64_t slots = tokens * top_k;
    int64_t mean = experts > 0 ? (slots + experts - 1) / experts : slots;
    if (mean <= 16) return 16;
    if (mean <= 48) return 32;
    if (mean <= 192) return 64;
    return 128;
}

/* Every non-empty expert wastes at most block_m - 1 padding rows. */
static inline int64_t bd_moe_plan_max_rows(int64_t tokens, int64_t top_k, int64_t experts,
                                           int64_t block_m) {
    int64_t slots = tokens * top_k;
    int64_t busy = experts < slots ? experts : slots;
    int64_t rows = slots + busy * (block_m - 1);
    return (rows + block_m - 1) / block_m * block_m;
}

static inline int bd_moe_plan_gemm_path(int64_t tokens, int64_t top_k, int64_t hidden, int64_t ffn,
                                        int dtype) {
    if (tokens * top_k <= BD_MOE_DECODE_MAX_SLOTS) return BD_MOE_PATH_DECODE;
    if (dtype == BD_F32 || hidden % 8 != 0 || ffn % 8 != 0) return BD_MOE_PATH_GROUPED_SIMT;
    return BD_MOE_PATH_GROUPED;
}

/* Switch capacity per expert: ceil(capacity_factor * T / E), in double on the host. */
static inline int64_t bd_moe_plan_capacity(int64_t tokens, int64_t experts, float capacity_factor) {
    double c = (double)capacity_factor * (double)tokens / (double)experts;
    int64_t ci = (int64_t)c;
    if ((double)ci < c) ++ci;
    return ci;
}

/* Mixture of Depths: k = ceil(C*T) with a relative slack of 2^-22 for the float C, in [1, T]. */
static inline int64_t bd_moe_plan_mod_capacity(int64_t tokens, float capacity) {
    if (tokens <= 0 || !(capacity > 0.f)) return 0;
    double k = ceil((double)capacity * (double)tokens * (1.0 - 0x1p-22));
    if (k < 1.0) k = 1.0;
    return k > (double)tokens ? tokens : (int64_t)k;
}

/* Router scratch: per-token (logsumexp, sigmoid sum), per-expert mean probability, per-expert
 * counts before capacity drops, and a few counters. */
typedef struct bd_moe_router_layout {
    int64_t token_stats; /* float (T, 2) */
    int64_t expert_prob; /* float (E) */
    int64_t pre_counts;  /* int32 (E) */
    int64_t misc;        /* int32 (64) */
    int64_t bytes;
} bd_moe_router_layout;

static inline bd_moe_router_layout bd_moe_plan_router(int64_t tokens, int64_t experts) {
    bd_moe_router_layout l;
    l.token_stats = 0;
    l.expert_prob = l.token_stats + bd_moe_plan_align256(tokens * 2 * 4);
    l.pre_counts = l.expert_prob + bd_moe_plan_align256(experts * 4);
    l.misc = l.pre_counts + bd_moe_plan_align256(experts * 4);
    l.bytes = l.misc + 256;
    return l;
}

/* moe_forward scratch, every offset 256-byte aligned. */
typedef struct bd_moe_forward_layout {
    int64_t block_m, max_rows;
    int64_t router;          /* router scratch */
    int64_t sorted_token_ids;/* int32 (max_rows) */
    int64_t expert_ids;      /* int32 (max_rows / block_m) */
    int64_t expert_offsets;  /* int32 (E + 1) */
    int64_t num_post_padded; /* int32 (1) */
    int64_t slot_pos;        /* int32 (T*k) */
    int64_t expert_counts;   /* int32 (E) */
    int64_t act;             /* dtype (max_rows, F) */
    int64_t y_slots;         /* dtype (T*k, H) */
    int64_t bytes;
} bd_moe_forward_layout;

static inline bd_moe_forward_layout bd_moe_plan_forward(int64_t tokens, int64_t hidden, int64_t ffn,
                                                        int64_t experts, int64_t top_k, int dtype) {
    bd_moe_forward_layout l;
    int64_t es = bd_moe_plan_dtype_size(dtype);
    int64_t slots = tokens * top_k;
    l.block_m = bd_moe_plan_block_m(tokens, top_k, experts);
    l.max_rows = bd_moe_plan_max_rows(tokens, top_k, experts, l.block_m);
    l.router = 0;
    l.sorted_token_ids = l.router + bd_moe_plan_align256(bd_moe_plan_router(tokens, experts).bytes);
    l.expert_ids = l.sorted_token_ids + bd_moe_plan_align256(l.max_rows * 4);
    l.expert_offsets = l.expert_ids + bd_moe_plan_align256(l.max_rows / l.block_m * 4 + 4);
    l.num_post_padded = l.expert_offsets + bd_moe_plan_align256((experts + 1) * 4);
    l.slot_pos = l.num_post_padded + 256;
    l.expert_counts = l.slot_pos + bd_moe_plan_align256(slots * 4);
    l.act = l.expert_counts + bd_moe_plan_align256(experts * 4);
    l.y_slots = l.act + bd_moe_plan_align256(l.max_rows * ffn * es);
    l.bytes = l.y_slots + bd_moe_plan_align256(slots * hidden * es);
    return l;
}


/* ---- argument checks shared by both backends: 0 when fine, else a bd_status with the rule in msg
 * ("op: rule (value)"), so the two libraries reject exactly the same calls. */

static inline int bd_moe_plan_is_float(int dt) { return dt == BD_F32 || dt == BD_F16 || dt == BD_BF16; }

#define BD_MOE_PLAN_FAIL(st, ...) do { snprintf(msg, (size_t)len, __VA_ARGS__); return (st); } while (0)

static inline int bd_moe_plan_check_sizes(const char* op, int64_t tokens, int64_t experts,
                                          int64_t top_k, char* msg, int len) {
    if (tokens < 0) BD_MOE_PLAN_FAIL(BD_ERR_INVALID_ARGUMENT, "%s: tokens (%lld) must be >= 0", op, (long long)tokens);
    if (experts < 1) BD_MOE_PLAN_FAIL(BD_ERR_INVALID_ARGUMENT, "%s: experts (%lld) must be >= 1", op, (long long)experts);
    if (experts > BD_MOE_MAX_EXPERTS)
        BD_MOE_PLAN_FAIL(BD_ERR_UNSUPPORTED, "%s: experts (%lld) must be <= %d", op, (long long)experts, BD_MOE_MAX_EXPERTS);
    if (top_k < 1 || top_k > experts)
        BD_MOE_PLAN_FAIL(BD_ERR_INVALID_ARGUMENT, "%s: top_k (%lld) must be in [1, experts (%lld)]", op,
                         (long long)top_k, (long long)experts);
    if (tokens > (int64_t)(INT32_MAX / 2) / top_k)
        BD_MOE_PLAN_FAIL(BD_ERR_UNSUPPORTED, "%s: tokens * top_k (%lld) must be < 2^30 (int32 slot ids)", op,
                         (long long)(tokens * top_k));
    return 0;
}

static inline int bd_moe_plan_check_router(const bd_moe_router_params* p, char* msg, int len) {
    const char* op = "moe_route";
    if (!p) BD_MOE_PLAN_FAIL(BD_ERR_INVALID_ARGUMENT, "%s: null params", op);
    int st = bd_moe_plan_check_sizes(op, p->tokens, p->experts, p->top_k, msg, len);
    if (st) return st;
    if (!bd_moe_plan_is_float(p->logits_dtype))
        BD_MOE_PLAN_FAIL(BD_ERR_INVALID_ARGUMENT, "%s: logits_dtype (%d) must be F32, F16 or BF16", op, p->logits_dtype);
    if (p->routing < BD_MOE_ROUTE_SOFTMAX_TOPK || p->routing > BD_MOE_ROUTE_TOP1_CAPACITY)
        BD_MOE_PLAN_FAIL(BD_ERR_INVALID_ARGUMENT, "%s: unknown routing code %d", op, p->routing);
    if (p->norm_topk != 0 && p->norm_topk != 1)
        BD_MOE_PLAN_FAIL(BD_ERR_INVALID_ARGUMENT, "%s: norm_topk (%d) must be 0 or 1", op, p->norm_topk);
    if (!isfinite(p->scaling)) BD_MOE_PLAN_FAIL(BD_ERR_INVALID_ARGUMENT, "%s: scaling (%g) must be finite", op, p->scaling);
    if (p->bias && (p->routing == BD_MOE_ROUTE_SOFTMAX_TOPK || p->routing == BD_MOE_ROUTE_TOP1_CAPACITY))
        BD_MOE_PLAN_FAIL(BD_ERR_INVALID_ARGUMENT, "%s: a router bias is only defined for topk_softmax and sigmoid_grouped", op);
    if (p->routing == BD_MOE_ROUTE_TOP1_CAPACITY) {
        if (p->top_k != 1) BD_MOE_PLAN_FAIL(BD_ERR_INVALID_ARGUMENT, "%s: top1_capacity needs top_k 1 (got %lld)", op, (long long)p->top_k);
        if (!(p->capacity_factor > 0.f) || !isfinite(p->capacity_factor))
            BD_MOE_PLAN_FAIL(BD_ERR_INVALID_ARGUMENT, "%s: capacity_factor (%g) must be > 0 and finite", op, p->capacity_factor);
    }
    if (p->routing == BD_MOE_ROUTE_SIGMOID_GROUPED && p->n_groups > 1) {
        int64_t g = p->n_groups, e = p->experts;
        if (e % g != 0) BD_MOE_PLAN_FAIL(BD_ERR_INVALID_ARGUMENT, "%s: experts (%lld) must be divisible by n_groups (%lld)", op, (long long)e, (long long)g);
        if (e / g < 2) BD_MOE_PLAN_FAIL(BD_ERR_INVALID_ARGUMENT, "%s: experts / n_groups (%lld) must be >= 2 (group score = sum of the two best)", op, (long long)(e / g));
        if (p->topk_groups < 1 || p->topk_groups > g)
            BD_MOE_PLAN_FAIL(BD_ERR_INVALID_ARGUMENT, "%s: topk_groups (%lld) must be in [1, n_groups (%lld)]", op, (long long)p->topk_groups, (long long)g);
        if (p->top_k > p->topk_groups * (e / g))
            BD_MOE_PLAN_FAIL(BD_ERR_INVALID_ARGUMENT, "%s: top_k (%lld) must be <= topk_groups * experts / n_groups (%lld)", op,
                             (long long)p->top_k, (long long)(p->topk_groups * (e / g)));
    }
    if (p->tokens == 0) return 0;
    if (!p->logits || !p->topk_ids || !p->topk_weights) BD_MOE_PLAN_FAIL(BD_ERR_INVALID_ARGUMENT, "%s: null logits, topk_ids or topk_weights", op);
    if (p->stats || p->routing == BD_MOE_ROUTE_TOP1_CAPACITY) {
        int64_t need = bd_moe_plan_router(p->tokens, p->experts).bytes;
        if (!p->workspace || p->workspace_bytes < need)
            BD_MOE_PLAN_FAIL(BD_ERR_INVALID_ARGUMENT, "%s: workspace (%lld bytes) must hold moe_router_workspace_bytes = %lld", op,
                             (long long)(p->workspace ? p->workspace_bytes : 0), (long long)need);
    }
    return 0;
}

static inline int bd_moe_plan_check_align(const bd_moe_align_params* p, char* msg, int len) {
    const char* op = "moe_align";
    if (!p) BD_MOE_PLAN_FAIL(BD_ERR_INVALID_ARGUMENT, "%s: null params", op);
    int st = bd_moe_plan_check_sizes(op, p->tokens, p->experts, p->top_k, msg, len);
    if (st) return st;
    if (p->block_m < 1 || p->block_m > 1024)
        BD_MOE_PLAN_FAIL(BD_ERR_INVALID_ARGUMENT, "%s: block_m (%lld) must be in [1, 1024]", op, (long long)p->block_m);
    int64_t need = bd_moe_plan_max_rows(p->tokens, p->top_k, p->experts, p->block_m);
    if (p->max_rows < need || p->max_rows % p->block_m != 0 || p->max_rows > INT32_MAX)
        BD_MOE_PLAN_FAIL(BD_ERR_INVALID_ARGUMENT, "%s: max_rows (%lld) must be a multiple of block_m (%lld), >= moe_max_rows = %lld, < 2^31", op,
                         (long long)p->max_rows, (long long)p->block_m, (long long)need);
    if (p->tokens == 0) return 0;
    if (!p->topk_ids || !p->sorted_token_ids || !p->expert_ids || !p->expert_offsets || !p->num_tokens_post_padded ||
        !p->slot_pos || !p->expert_counts)
        BD_MOE_PLAN_FAIL(BD_ERR_INVALID_ARGUMENT, "%s: null tensor pointer (every output is required)", op);
    return 0;
}

/* stage: 0 gate_up, 1 down, 2 gate_up_decode, 3 down_decode, 4 combine */
static inline int bd_moe_plan_check_experts(const bd_moe_expert_params* p, int stage, char* msg, int len) {
    static const char* names[] = {"moe_gate_up", "moe_down", "moe_gate_up_decode", "moe_down_decode", "moe_combine"};
    const char* op = names[stage];
    if (!p) BD_MOE_PLAN_FAIL(BD_ERR_INVALID_ARGUMENT, "%s: null params", op);
    int st = bd_moe_plan_check_sizes(op, p->tokens, p->experts, p->top_k, msg, len);
    if (st) return st;
    if (!bd_moe_plan_is_float(p->dtype)) BD_MOE_PLAN_FAIL(BD_ERR_INVALID_ARGUMENT, "%s: dtype (%d) must be F32, F16 or BF16", op, p->dtype);
    if (p->hidden < 1) BD_MOE_PLAN_FAIL(BD_ERR_INVALID_ARGUMENT, "%s: hidden (%lld) must be >= 1", op, (long long)p->hidden);
    if (stage == 4) return 0;
    if (p->ffn < 1) BD_MOE_PLAN_FAIL(BD_ERR_INVALID_ARGUMENT, "%s: ffn (%lld) must be >= 1", op, (long long)p->ffn);
    if (stage == 0 || stage == 2) {
        if (p->gate_up_layout < BD_MOE_GU_SEPARATE || p->gate_up_layout > BD_MOE_GU_CONCAT)
            BD_MOE_PLAN_FAIL(BD_ERR_INVALID_ARGUMENT, "%s: unknown gate_up_layout %d", op, p->gate_up_layout);
        if (p->act < BD_MOE_ACT_SWIGLU || p->act > BD_MOE_ACT_SWIGLU_OAI)
            BD_MOE_PLAN_FAIL(BD_ERR_INVALID_ARGUMENT, "%s: unknown act %d", op, p->act);
    }
    if (stage == 0 || stage == 1) {
        if (p->block_m < 1 || p->block_m > 1024)
            BD_MOE_PLAN_FAIL(BD_ERR_INVALID_ARGUMENT, "%s: block_m (%lld) must be in [1, 1024]", op, (long long)p->block_m);
        if (p->max_rows < 0 || p->max_rows % p->block_m != 0 || p->max_rows > INT32_MAX)
            BD_MOE_PLAN_FAIL(BD_ERR_INVALID_ARGUMENT, "%s: max_rows (%lld) must be a non-negative multiple of block_m (%lld), < 2^31", op,
                             (long long)p->max_rows, (long long)p->block_m);
    }
    if (p->tokens == 0) return 0;
    if ((stage == 0 || stage == 2) && (!p->w_gate || (p->gate_up_layout == BD_MOE_GU_SEPARATE && !p->w_up)))
        BD_MOE_PLAN_FAIL(BD_ERR_INVALID_ARGUMENT, "%s: null w_gate (or w_up with the separate layout)", op);
    if ((stage == 0 || stage == 2) && p->gate_up_layout == BD_MOE_GU_SEPARATE && (!p->b_gate != !p->b_up))
        BD_MOE_PLAN_FAIL(BD_ERR_INVALID_ARGUMENT, "%s: b_gate and b_up must both be given or both NULL (separate layout)", op);
    if ((stage == 1 || stage == 3) && (!p->w_down || !p->topk_weights))
        BD_MOE_PLAN_FAIL(BD_ERR_INVALID_ARGUMENT, "%s: null w_down or topk_weights", op);
    if ((stage == 0 || stage == 1) && (!p->sorted_token_ids || !p->expert_ids || !p->num_tokens_post_padded))
        BD_MOE_PLAN_FAIL(BD_ERR_INVALID_ARGUMENT, "%s: null sorted_token_ids, expert_ids or num_tokens_post_padded", op);
    if (stage >= 2 && !p->topk_ids) BD_MOE_PLAN_FAIL(BD_ERR_INVALID_ARGUMENT, "%s: null topk_ids", op);
    return 0;
}

/* The capability query of both backends (bd_*_moe_supports): the router checks and the
 * gate_up_decode checks on a representative call of that configuration. */
static inline int bd_moe_plan_check_supports(int dtype, int64_t hidden, int64_t ffn, int64_t experts, int64_t top_k,
                                             int routing, int64_t n_groups, int64_t topk_groups, int act,
                                             int gate_up_layout, char* msg, int len) {
    bd_moe_router_params r;
    memset(&r, 0, sizeof r);
    r.logits_dtype = BD_F32;
    r.experts = experts;
    r.top_k = top_k;
    r.routing = routing;
    r.n_groups = n_groups;
    r.topk_groups = topk_groups;
    r.scaling = 1.f;
    r.capacity_factor = 1.f;
    int st = bd_moe_plan_check_router(&r, msg, len);
    if (st) return st;
    bd_moe_expert_params x;
    memset(&x, 0, sizeof x);
    x.hidden = hidden;
    x.ffn = ffn;
    x.experts = experts;
    x.top_k = top_k;
    x.dtype = dtype;
    x.act = act;
    x.gate_up_layout = gate_up_layout;
    x.block_m = 16;
    return bd_moe_plan_check_experts(&x, 2, msg, len);
}

#undef BD_MOE_PLAN_FAIL

#ifdef __cplusplus
}
#endif

#endif
