/* braindrip C ABI: Mixture-of-Experts dispatch and Mixture-of-Depths, CPU (bd_cpu_*) and CUDA
 * (bd_cuda_*), one contract.
 *
 * The MoE layer runs as five stages, each one entry point, or all of them through moe_forward:
 *
 *   1. route      router logits (T, E) -> topk_ids (T, k), topk_weights (T, k), tokens_per_expert (E),
 *                 statistics. The caller computes the logits x . router^T with its dense GEMM (cuBLAS /
 *                 OpenBLAS), since that GEMM is (T, H) x (H, E) and a library does it best.
 *   2. align      topk_ids -> expert-contiguous order of the T*k (token, slot) rows, each expert's
 *                 segment padded to the GEMM's M tile (block_m); deterministic: inside a segment the
 *                 slots keep ascending slot order. Everything stays on the device (no host sync).
 *   3. gate_up    ONE launch for every expert: act[p] = glu(x[token(p)] . w_gate[e]^T, x[token(p)] . w_up[e]^T)
 *                 with the activation fused, for each sorted row p (rows gathered through sorted_token_ids).
 *   4. down       ONE launch for every expert: y_slots[slot(p)] = w(slot) * (act[p] . w_down[e]^T + b_down[e]),
 *                 written to the slot's own row, so un-permuting is free.
 *   5. combine    y[t] = sum over j = 0..k-1 of y_slots[t*k + j] in that fixed order (F32, no atomics),
 *                 plus an optional gated shared expert output.
 *   For small batches (tokens*k <= BD_MOE_DECODE_MAX_SLOTS) gate_up_decode / down_decode replace
 *   stages 2-4: GEMV-style kernels over (slot, column block) that read topk_ids directly.
 *
 * Decisions: the router GEMM and the shared expert (Qwen2-MoE, DeepSeek) are the caller's dense
 * GEMMs; combine (and moe_forward) add the shared output with its sigmoid gate. Everything is
 * deterministic (no float atomics; align is a stable counting sort), nothing syncs with the host
 * (num_tokens_post_padded stays on the device, grids are sized from max_rows), and all row offsets
 * are int64. CUDA: the grouped GEMM runs on tensor cores (mma.sync m16n8k16) for F16/BF16 when
 * H and F are multiples of 8, pointers are 16-byte aligned and block_m is 16/32/64/128; otherwise
 * an F32-accumulating SIMT kernel (any block_m, any sizes).
 *
 * Conventions (as ops.h): dense row-major tensors; all pointers are device pointers for bd_cuda_*
 * and host pointers for bd_cpu_*; counts are int64_t; index tensors are int32; F32 math everywhere.
 * Float tensors of one call (x, weights, biases, act, y_slots, y) share the storage type `dtype`
 * (BD_F32, BD_F16, BD_BF16); router logits have their own `logits_dtype`; routing weights, router
 * bias, scores and statistics are always F32. The CUDA functions enqueue on `stream` and return
 * without synchronizing; the CPU ones ignore it. Every function returns a bd_status, and on failure
 * bd_cpu_last_error() / bd_cuda_last_error() names the op and the broken rule.
 * Zero tokens -> BD_OK without touching memory.
 *
 * Definitions used below:
 *   T tokens, H hidden, F expert FFN width, E experts, k experts per token (top_k).
 *   slot s = t*k + j: the j-th choice of token t; T*k slots in all. 0 <= s < T*k < 2^31.
 *   block_m: the grouped GEMM's M tile (16, 32, 64 or 128 on CUDA; any >= 1 on CPU).
 *   max_rows: capacity of the padded sorted buffers, from moe_max_rows(); rows past
 *   *num_tokens_post_padded are padding the GEMMs skip.
 *   sentinel: sorted_token_ids value T*k marking a padding row.
 *
 * Weights, in Hugging Face nn.Linear layout (out, in):
 *   w_gate (E, F, H), w_up (E, F, H), w_down (E, H, F).
 *   gate_up_layout selects how gate and up are stored (BD_MOE_GU_*):
 *     SEPARATE     w_gate (E, F, H) and w_up (E, F, H); b_gate (E, F), b_up (E, F) or NULL.
 *     INTERLEAVED  w_gate (E, 2F, H): row 2f is gate f, row 2f+1 is up f (gpt-oss); w_up unused
 *                  (NULL); b_gate (E, 2F) in the same row order or NULL; b_up unused.
 *     CONCAT       w_gate (E, 2F, H): rows 0..F-1 gate, F..2F-1 up (fused w13 checkpoints);
 *                  b_gate (E, 2F) in the same order or NULL; w_up, b_up unused.
 *   b_down (E, H) or NULL. Biases are added to the F32 accumulators (gpt-oss has them).
 *
 * Rounding points (the CPU twin mirrors them exactly): x and weights as stored; F32 accumulation;
 * act = glu(gate + b, up + b) computed in F32 and rounded to dtype when stored; a slot row
 * y_slots = w * (acc + b_down) rounded to dtype; combine sums the k stored slot rows (and the gated
 * shared row) in F32 and rounds once to dtype. Only the order of the F32 accumulation differs
 * between backends (and between the GEMM paths of one backend).
 */
#ifndef BRAINDRIP_MOE_H
#define BRAINDRIP_MOE_H

#include "braindrip/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Routing functions (bd_moe_router_params.routing). Selection and weights in F32; ties in the
 * selection go to the lower expert id; NaN scores count as -inf (never chosen before a number).
 * topk_ids lists a token's experts in selection order (best first).
 *   SOFTMAX_TOPK    p = softmax(logits) over all E; the k largest logits win; w_j = p[id_j];
 *                   with norm_topk: w_j /= sum of the k chosen p (Mixtral, Qwen2/3-MoE).
 *                   bias must be NULL.
 *   TOPK_SOFTMAX    z = logits + bias (bias = the router's own bias, optional); the k largest z win;
 *                   w = softmax over the k chosen z (gpt-oss). norm_topk has no effect.
 *   SIGMOID_GROUPED s = sigmoid(logits); selection score b = s + bias (bias = DeepSeek-V3's
 *                   selection-only correction bias, optional). With n_groups G > 1 the E experts form
 *                   G groups of E/G consecutive ids; a group's score is the sum of the two best b in
 *                   it (the one b when E/G == 1 is not allowed: E/G >= 2); the topk_groups best groups
 *                   are kept (ties -> lower group id) and the k best b among their experts win.
 *                   w_j = s[id_j] (UNBIASED); with norm_topk: w_j /= sum of the k chosen s.
 *   TOP1_CAPACITY   Switch Transformer: k must be 1; p = softmax(logits); id = argmax; w = p[id];
 *                   capacity C = ceil(capacity_factor * T / E) per expert; walking tokens in order,
 *                   a token whose expert already holds C tokens is DROPPED: topk_ids = -1 and
 *                   topk_weights = 0. A dropped token's MoE output is 0, so it passes through on
 *                   the residual the caller adds. bias must be NULL.
 * Every routing finally multiplies the weights by `scaling` (DeepSeek-V3's routed_scaling_factor;
 * 1 elsewhere). */
typedef enum bd_moe_routing {
    BD_MOE_ROUTE_SOFTMAX_TOPK = 0,
    BD_MOE_ROUTE_TOPK_SOFTMAX = 1,
    BD_MOE_ROUTE_SIGMOID_GROUPED = 2,
    BD_MOE_ROUTE_TOP1_CAPACITY = 3
} bd_moe_routing;

/* Expert activations: act(gate, up). The first three equal the bd_glu codes. */
typedef enum bd_moe_act {
    BD_MOE_ACT_SWIGLU = 0,     /* silu(gate) * up */
    BD_MOE_ACT_GEGLU = 1,      /* gelu_erf(gate) * up */
    BD_MOE_ACT_GEGLU_TANH = 2, /* gelu_tanh(gate) * up */
    BD_MOE_ACT_SWIGLU_OAI = 3  /* gpt-oss: g = min(gate, 7), u = clamp(up, -7, 7);
                                  (u + 1) * g * sigmoid(1.702 g) */
} bd_moe_act;

/* Storage of the gate and up projections (see the header comment). */
typedef enum bd_moe_gate_up_layout {
    BD_MOE_GU_SEPARATE = 0,
    BD_MOE_GU_INTERLEAVED = 1,
    BD_MOE_GU_CONCAT = 2
} bd_moe_gate_up_layout;

/* Which expert-GEMM path a call takes (moe_gemm_path, moe_forward's `path`). */
typedef enum bd_moe_path {
    BD_MOE_PATH_AUTO = -1,   /* moe_forward only: let moe_gemm_path decide */
    BD_MOE_PATH_DECODE = 0,  /* gate_up_decode + down_decode (no permutation) */
    BD_MOE_PATH_GROUPED = 1, /* align + gate_up + down: tensor cores (mma.sync) for F16/BF16 with
                                H and F multiples of 8 and 16-byte aligned pointers, else F32 SIMT */
    BD_MOE_PATH_GROUPED_SIMT = 2 /* reported by moe_gemm_path when the grouped GEMM falls back to
                                    its F32 SIMT kernel (F32 storage, or H or F not a multiple of 8);
                                    given to moe_forward it forces that kernel (tests, peers) */
} bd_moe_path;

#define BD_MOE_MAX_EXPERTS 1024    /* E limit of the routers and the align kernels */
/* The decode path is chosen when tokens * k <= this. Measured on an H200 (BF16, 2026-11-28):
 * at 2-8 slots the decode GEMV wins (Mixtral 1 token 0.215 vs 0.451 ms grouped; Qwen3-30B-A3B
 * 0.056 vs 0.101; DeepSeek-V3 0.252 vs 0.274), at 32 slots it loses 3x (Mixtral 16 tokens
 * 2.570 vs 0.855 ms); 32 was the threshold before that run. */
#define BD_MOE_DECODE_MAX_SLOTS 8
#define BD_MOE_STATS_COUNT 3       /* floats written to `stats` */

/* ---- parameter structs (the flat functions below fill them; both forms are stable) */

/* Router: see bd_moe_routing. */
typedef struct bd_moe_router_params {
    const void* logits;          /* (T, E) of logits_dtype, row-major */
    int logits_dtype;            /* BD_F32, BD_F16 or BD_BF16 */
    const float* bias;           /* (E) F32 or NULL; meaning depends on routing */
    int64_t tokens, experts, top_k;
    int routing;                 /* bd_moe_routing */
    int norm_topk;               /* 0 or 1 (SOFTMAX_TOPK and SIGMOID_GROUPED) */
    int64_t n_groups;            /* SIGMOID_GROUPED: G (<= 1: no grouping); E % G == 0, E / G >= 2 */
    int64_t topk_groups;         /* SIGMOID_GROUPED with G > 1: groups kept, 1..G; k <= topk_groups * E / G */
    float scaling;               /* multiplies the final weights; 1 for most models; must be finite */
    float capacity_factor;       /* TOP1_CAPACITY: > 0 */
    int32_t* topk_ids;           /* out (T, k) */
    float* topk_weights;         /* out (T, k) */
    int32_t* tokens_per_expert;  /* out (E) or NULL: slots routed to each expert (after drops) */
    /* out (BD_MOE_STATS_COUNT) or NULL:
     *   [0] load-balancing loss E * sum_e f_e * P_e (Switch / Mixtral aux loss, before its coefficient):
     *       f_e = fraction of the T*k slots routed to e (for TOP1_CAPACITY counted BEFORE drops, as
     *       Switch does), P_e = mean over tokens of the router probability of e: softmax(logits) for
     *       SOFTMAX_TOPK and TOP1_CAPACITY, softmax(logits + bias) for TOPK_SOFTMAX, and for
     *       SIGMOID_GROUPED the sigmoid scores normalised to sum 1 per token (DeepSeek-V3's
     *       sequence-wise balance loss, before its alpha);
     *   [1] router z-loss: mean over tokens of logsumexp(z)^2, z = logits (+ bias for TOPK_SOFTMAX);
     *   [2] slots dropped by capacity (exact below 2^24; 0 for the other routings). */
    float* stats;
    void* workspace;             /* moe_router_workspace_bytes(T, E) bytes; may be NULL when that is 0 */
    int64_t workspace_bytes;
} bd_moe_router_params;

/* Align: expert-contiguous, padded order of the slots. */
typedef struct bd_moe_align_params {
    const int32_t* topk_ids;     /* (T, k); -1 = dropped slot (placed nowhere) */
    int64_t tokens, top_k, experts;
    int64_t block_m;             /* M tile every segment is padded to */
    int64_t max_rows;            /* capacity of sorted_token_ids: >= moe_max_rows(T, k, E, block_m) */
    int32_t* sorted_token_ids;   /* out (max_rows): slot ids, expert by expert, ascending inside an
                                    expert; padding rows and every row past the end = T*k */
    int32_t* expert_ids;         /* out (max_rows / block_m): expert of each M tile; -1 past the end */
    int32_t* expert_offsets;     /* out (E + 1): first padded row of each expert; [E] = total rows */
    int32_t* num_tokens_post_padded; /* out (1): total padded rows (kept on the device) */
    int32_t* slot_pos;           /* out (T*k): sorted row of each slot (the inverse map); -1 if dropped */
    int32_t* expert_counts;      /* out (E): slots per expert (unpadded) */
} bd_moe_align_params;

/* Expert weights and the grouped / decode GEMM stages. */
typedef struct bd_moe_expert_params {
    int64_t tokens, hidden, ffn, experts, top_k;
    const void* w_gate;          /* see the header comment for the three layouts */
    const void* w_up;
    const void* b_gate;
    const void* b_up;
    const void* w_down;          /* (E, H, F) */
    const void* b_down;          /* (E, H) or NULL */
    int gate_up_layout;          /* bd_moe_gate_up_layout */
    int act;                     /* bd_moe_act */
    int dtype;                   /* storage of x, weights, biases, act, y_slots */
    /* grouped path (from align): */
    const int32_t* sorted_token_ids;
    const int32_t* expert_ids;
    const int32_t* num_tokens_post_padded;
    int64_t block_m, max_rows;
    /* decode path and combine: */
    const int32_t* topk_ids;     /* (T, k) */
    const float* topk_weights;   /* (T, k) */
} bd_moe_expert_params;

/* Whole layer: route -> (align -> gate_up -> down | decode GEMVs) -> combine, in the workspace. */
typedef struct bd_moe_forward_params {
    bd_moe_router_params router; /* its topk_ids, topk_weights outputs are required; its workspace
                                    fields are ignored (forward carves them from `workspace`) */
    bd_moe_expert_params experts;/* the sorted/topk pointers and block_m/max_rows are ignored
                                    (forward fills them); tokens/experts/top_k must match router */
    const void* x;               /* (T, H) */
    const void* shared_out;      /* (T, H) or NULL: shared expert output s_down(act(s_gate x) * s_up x),
                                    computed by the caller's dense GEMMs */
    const float* shared_gate_logits; /* (T) F32 or NULL: y += sigmoid(logit_t) * shared_out[t]
                                        (Qwen2-MoE); NULL with shared_out: gate 1 (DeepSeek) */
    void* y;                     /* out (T, H) */
    int path;                    /* bd_moe_path: AUTO, DECODE, GROUPED or GROUPED_SIMT */
    void* workspace;             /* moe_workspace_bytes(T, H, F, E, k, dtype) bytes */
    int64_t workspace_bytes;
} bd_moe_forward_params;

#define BD_DECLARE_MOE(P)                                                                          \
    /* ---- planning: host arithmetic, same values on both backends */                            \
    /* M tile the grouped GEMM uses for T*k slots over E experts: 16, 32, 64 or 128 by the mean    \
     * slots per expert (<= 16, <= 48, <= 192, more). */                                          \
    int64_t P##_moe_block_m(int64_t tokens, int64_t top_k, int64_t experts);                      \
    /* Rows of the padded sorted buffers: T*k + min(E, T*k)*(block_m - 1), rounded up to block_m. */ \
    int64_t P##_moe_max_rows(int64_t tokens, int64_t top_k, int64_t experts, int64_t block_m);    \
    /* bd_moe_path the expert GEMMs take at this size with 16-byte aligned pointers (DECODE when   \
     * T*k <= BD_MOE_DECODE_MAX_SLOTS, else GROUPED or GROUPED_SIMT); negative on bad arguments. */ \
    int P##_moe_gemm_path(int64_t tokens, int64_t top_k, int64_t hidden, int64_t ffn, int dtype); \
    /* Scratch bytes of moe_route (0 unless stats are asked for or routing is TOP1_CAPACITY;      \
     * this returns the bound for both). */                                                       \
    int64_t P##_moe_router_workspace_bytes(int64_t tokens, int64_t experts);                      \
    /* Scratch bytes of moe_forward (router scratch, sorted buffers, act (max_rows, F) and          \
     * y_slots (T*k, H) in dtype), valid for every path. */                                       \
    int64_t P##_moe_workspace_bytes(int64_t tokens, int64_t hidden, int64_t ffn, int64_t experts, \
                                    int64_t top_k, int dtype);                                    \
    /* Capability: BD_OK when the backend runs this configuration, else BD_ERR_UNSUPPORTED or      \
     * BD_ERR_INVALID_ARGUMENT with the limit named in last_error (E <= BD_MOE_MAX_EXPERTS,        \
     * 1 <= k <= E, group rules, dtype F32/F16/BF16, known act/layout/routing codes). */           \
    int P##_moe_supports(int dtype, int64_t hidden, int64_t ffn, int64_t experts, int64_t top_k,  \
                         int routing, int64_t n_groups, int64_t topk_groups, int act,             \
                         int gate_up_layout);                                                     \
    /* ---- struct forms */                                                                      \
    int P##_moe_router(const bd_moe_router_params* p, void* stream);                              \
    int P##_moe_align_p(const bd_moe_align_params* p, void* stream);                              \
    int P##_moe_forward_p(const bd_moe_forward_params* p, void* stream);                          \
    /* ---- 1. route (flat form of moe_router; arguments are the struct's fields in order) */     \
    int P##_moe_route(const void* logits, int logits_dtype, const float* bias, int64_t tokens,    \
                      int64_t experts, int64_t top_k, int routing, int norm_topk,                 \
                      int64_t n_groups, int64_t topk_groups, float scaling,                       \
                      float capacity_factor, int32_t* topk_ids, float* topk_weights,              \
                      int32_t* tokens_per_expert, float* stats, void* workspace,                  \
                      int64_t workspace_bytes, void* stream);                                     \
    /* ---- 2. align (flat form of moe_align_p) */                                               \
    int P##_moe_align(const int32_t* topk_ids, int64_t tokens, int64_t top_k, int64_t experts,    \
                      int64_t block_m, int64_t max_rows, int32_t* sorted_token_ids,               \
                      int32_t* expert_ids, int32_t* expert_offsets,                               \
                      int32_t* num_tokens_post_padded, int32_t* slot_pos,                         \
                      int32_t* expert_counts, void* stream);                                      \
    /* Explicit permutation, for callers that run their own GEMMs (and for tests):               \
     * out (max_rows, cols): row p = x[sorted_token_ids[p] / k] for p < *num_tokens_post_padded   \
     * and a real slot; zero for padding rows and rows past the end. x: (T, cols). */             \
    int P##_moe_permute(const void* x, const int32_t* sorted_token_ids,                           \
                        const int32_t* num_tokens_post_padded, int64_t tokens, int64_t top_k,     \
                        int64_t cols, int64_t max_rows, void* out, int dtype, void* stream);      \
    /* Inverse: out (T*k, cols): row s = in[slot_pos[s]]; zero where slot_pos[s] < 0.             \
     * in: (max_rows, cols). */                                                                   \
    int P##_moe_unpermute(const void* in, const int32_t* slot_pos, int64_t tokens, int64_t top_k, \
                          int64_t cols, int64_t max_rows, void* out, int dtype, void* stream);    \
    /* ---- 3. grouped gate/up GEMM with the activation fused; one launch for all experts.        \
     * x (T, H); act_out (max_rows, F): row p = act(x[tok] . w_gate[e]^T + b, x[tok] . w_up[e]^T + b) \
     * for the expert e = expert_ids[p / block_m] of its tile; zero rows for padding; rows past    \
     * *num_tokens_post_padded untouched. */                                                      \
    int P##_moe_gate_up(const void* x, const void* w_gate, const void* w_up, const void* b_gate,  \
                        const void* b_up, int gate_up_layout, int act,                            \
                        const int32_t* sorted_token_ids, const int32_t* expert_ids,               \
                        const int32_t* num_tokens_post_padded, int64_t tokens, int64_t hidden,    \
                        int64_t ffn, int64_t experts, int64_t top_k, int64_t block_m,             \
                        int64_t max_rows, void* act_out, int dtype, void* stream);                \
    /* ---- 4. grouped down GEMM; one launch for all experts.                                     \
     * act_in (max_rows, F) from gate_up; y_slots (T*k, H): row s = topk_weights[s] *             \
     * (act_in[p] . w_down[e]^T + b_down[e]) for the sorted row p of slot s. Rows of dropped slots \
     * are untouched (combine skips them). */                                                     \
    int P##_moe_down(const void* act_in, const void* w_down, const void* b_down,                  \
                     const float* topk_weights, const int32_t* sorted_token_ids,                  \
                     const int32_t* expert_ids, const int32_t* num_tokens_post_padded,            \
                     int64_t tokens, int64_t hidden, int64_t ffn, int64_t experts, int64_t top_k, \
                     int64_t block_m, int64_t max_rows, void* y_slots, int dtype, void* stream);  \
    /* ---- 3'/4'. decode path: no permutation, one GEMV row block per (slot, column block).      \
     * act_out (T*k, F) in slot order (zero rows for dropped slots); y_slots as moe_down. */      \
    int P##_moe_gate_up_decode(const void* x, const void* w_gate, const void* w_up,               \
                               const void* b_gate, const void* b_up, int gate_up_layout, int act, \
                               const int32_t* topk_ids, int64_t tokens, int64_t hidden,           \
                               int64_t ffn, int64_t experts, int64_t top_k, void* act_out,        \
                               int dtype, void* stream);                                          \
    int P##_moe_down_decode(const void* act_in, const void* w_down, const void* b_down,           \
                            const float* topk_weights, const int32_t* topk_ids, int64_t tokens,   \
                            int64_t hidden, int64_t ffn, int64_t experts, int64_t top_k,          \
                            void* y_slots, int dtype, void* stream);                              \
    /* ---- 5. combine: y (T, H) = sum_{j<k, topk_ids[t,j] >= 0} y_slots[t*k+j]                   \
     *        (+ sigmoid(shared_gate_logits[t]) * shared_out[t] when shared_out is given; gate 1   \
     *        when shared_gate_logits is NULL). F32 sum in slot order, rounded once. */           \
    int P##_moe_combine(const void* y_slots, const int32_t* topk_ids, const void* shared_out,     \
                        const float* shared_gate_logits, int64_t tokens, int64_t top_k,           \
                        int64_t hidden, void* y, int dtype, void* stream);                        \
    /* ---- the whole layer (flat form of moe_forward_p). logits: (T, E) router logits the      \
     * caller computed; x (T, H); outputs y (T, H), topk_ids, topk_weights, and the optional      \
     * tokens_per_expert (E) and stats (BD_MOE_STATS_COUNT). path: bd_moe_path. */                 \
    int P##_moe_forward(const void* logits, int logits_dtype, const float* router_bias,           \
                        const void* x, int64_t tokens, int64_t hidden, int64_t ffn,               \
                        int64_t experts, int64_t top_k, int routing, int norm_topk,               \
                        int64_t n_groups, int64_t topk_groups, float scaling,                     \
                        float capacity_factor, const void* w_gate, const void* w_up,              \
                        const void* b_gate, const void* b_up, int gate_up_layout, int act,        \
                        const void* w_down, const void* b_down, const void* shared_out,           \
                        const float* shared_gate_logits, void* y, int32_t* topk_ids,              \
                        float* topk_weights, int32_t* tokens_per_expert, float* stats, int path,  \
                        void* workspace, int64_t workspace_bytes, int dtype, void* stream);

/* ---- Mixture of Depths (Raposo et al. 2024): a per-layer router lets only k = ceil(C*T) tokens
 * of a sequence through the block; the rest ride the residual.
 *   mod_capacity   k = ceil(C*T), clamped to [1, T] for C > 0 and T > 0 (0 otherwise). C is a float,
 *                  so the product is taken as C*T*(1 - 2^-22) in double: 0.3f*10 gives 3, not 4.
 *                  Java uses this function to agree on k.
 *   mod_scores     scores (T) F32 = x . router, x (T, H), router (H) (the (1, H) router weight).
 *   mod_route      training-style (non-causal) top-k over ONE sequence: the k tokens with the
 *                  largest score (ties -> earlier token; NaN ranks lowest) listed in sequence
 *                  order in selected (k) int32, their scores in weights (k) F32, and the k-th
 *                  largest score in *threshold (F32, optional): the calibration value of the causal rule.
 *   mod_route_threshold  the causal rule for generation: token t is selected iff
 *                  scores[t] >= threshold; selected (T) lists the chosen tokens in order, then -1
 *                  up to T; weights (T) their scores (0 past the end); *count (int32, on the device) how
 *                  many. The decision needs no future token. Trade-off: a threshold calibrated on
 *                  prefill data (e.g. a running mean of mod_route's *threshold at capacity C) costs
 *                  nothing and matches C on average, but the fraction processed drifts with the
 *                  text; a small predictor trained to imitate the top-k decisions (the paper's
 *                  auxiliary MLP) tracks it better but needs training and weights. Either feeds
 *                  this function: pass the predictor's logits as scores with threshold 0.
 *   mod_gather     out (k, H): row i = x[selected[i]]; zero for selected[i] < 0.
 *   mod_scatter_add  in place on the residual: x[selected[i]] += weights[i] * block_out[i] for
 *                  every i < k with selected[i] >= 0, in F32, rounded once to dtype. block_out is
 *                  the block's update f(x) (its output minus its input), as in the paper:
 *                  x_{l+1} = x + r * f(x) for routed tokens. selected must not repeat a token.
 * FLOPs saved (for Java): the block runs on k of T tokens. */
#define BD_DECLARE_MOD(P)                                                                          \
    int64_t P##_mod_capacity(int64_t tokens, float capacity);                                     \
    int P##_mod_scores(const void* x, const void* router, int64_t tokens, int64_t hidden,         \
                       float* scores, int dtype, void* stream);                                   \
    int P##_mod_route(const float* scores, int64_t tokens, int64_t k, int32_t* selected,          \
                      float* weights, float* threshold, void* stream);                            \
    int P##_mod_route_threshold(const float* scores, int64_t tokens, float threshold,             \
                                int32_t* selected, float* weights, int32_t* count, void* stream); \
    int P##_mod_gather(const void* x, const int32_t* selected, int64_t k, int64_t tokens,         \
                       int64_t hidden, void* out, int dtype, void* stream);                       \
    int P##_mod_scatter_add(void* x, const int32_t* selected, const float* weights,               \
                            const void* block_out, int64_t k, int64_t tokens, int64_t hidden,     \
                            int dtype, void* stream);

BD_DECLARE_MOE(bd_cpu)
BD_DECLARE_MOE(bd_cuda)
BD_DECLARE_MOD(bd_cpu)
BD_DECLARE_MOD(bd_cuda)

#ifdef __cplusplus
}
#endif

#endif
