/* braindrip C ABI: fused attention forward (FlashAttention-2 style), CPU (bd_cpu_*) and CUDA
 * (bd_cuda_*), one contract.
 *
 *   o[b, i, h, :] = sum_j softmax_j(score(i, j)) * v[b, j, h / (Hq/Hkv), :]
 *   score(i, j)   = x = (q[b, i, h, :] . k'[b, j, h / (Hq/Hkv), :]) * scale
 *                   with softcap c > 0: x = c * tanh(x / c)            (before masking)
 *                   k' = k, or RoPE(k, k_rope_positions[b, j]) when k_rope_positions is given
 *                   + rel_bias[h, bucket(j - i')]   (T5 relative position bias, when given)
 *                   + alibi_slopes[h] * (j - i')    (ALiBi, when given)   (both after softcap)
 *   visible(i, j) = 0 <= j < Skv_b  and, with i' = i + Skv_b - Sq_b (bottom-right alignment):
 *                   j <= i' + right                 (right = 0 when is_causal; -1 = unbounded)
 *                   and (j < sink_tokens  or  j >= i' - left)          (left -1 = unbounded)
 *   lse[b, h, i]  = log(sum over visible j of exp(score) [+ exp(sinks[h])])
 * A query that sees no key gets o = 0 and lse = -inf (with learned sinks: o = 0, lse = sinks[h]).
 * Sink tokens stay under the right edge of the window (so under the causal rule when is_causal).
 *
 * Storage: q, k, v, o share `dtype` (BD_F32, BD_F16, BD_BF16); compute and accumulation are F32;
 * for F16/BF16 the probabilities are rounded to `dtype` before P.V (as FlashAttention does); lse,
 * sinks and the split-KV workspace are F32. Index tensors are int32.
 * The CPU entry points take host pointers; the CUDA ones take device pointers for every tensor
 * (cu_seqlens, seqused_k, sinks, k_rope_positions included) and enqueue on `stream` without
 * synchronizing. Both check every scalar argument before touching memory and leave a message
 * naming the op and the rule in bd_cpu_last_error() / bd_cuda_last_error().
 */
#ifndef BRAINDRIP_ATTENTION_H
#define BRAINDRIP_ATTENTION_H

#include "braindrip/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bd_attention_params {
    /* ---- tensors (element strides below; the innermost dimension is contiguous) */
    const void* q; /* (B, Sq, Hq, D), or packed (total_q, Hq, D) with cu_seqlens_q */
    const void* k; /* (B, Skv, Hkv, D), or packed (total_k, Hkv, D) with cu_seqlens_k */
    const void* v; /* (B, Skv, Hkv, Dv), or packed (total_k, Hkv, Dv) */
    void* o;       /* (B, Sq, Hq, Dv), or packed (total_q, Hq, Dv); fully written, never read */
    float* lse;    /* may be NULL; (B, Hq, Sq) by default; element at lse_*_stride below */
    int dtype;     /* storage type of q, k, v, o: BD_F32, BD_F16 or BD_BF16 */

    /* ---- shape */
    int64_t batch;     /* B >= 0 */
    int64_t seqlen_q;  /* Sq; with cu_seqlens_q: the maximum per-sequence query length */
    int64_t seqlen_k;  /* Skv; with cu_seqlens_k: the maximum per-sequence key length; without it,
                          the capacity of the (B, Skv, ...) cache that seqused_k indexes into */
    int heads_q;       /* Hq > 0 */
    int heads_kv;      /* Hkv > 0, Hq % Hkv == 0: query head h reads KV head h / (Hq / Hkv) (GQA/MQA) */
    int head_dim;      /* D of q and k */
    int head_dim_v;    /* Dv of v and o (D normally; 2D for differential attention) */

    /* ---- element strides (int64). Batch strides are ignored for packed (varlen) tensors. */
    int64_t q_batch_stride, q_row_stride, q_head_stride;
    int64_t k_batch_stride, k_row_stride, k_head_stride;
    int64_t v_batch_stride, v_row_stride, v_head_stride;
    int64_t o_batch_stride, o_row_stride, o_head_stride;
    /* lse[b, h, i] at b * lse_batch_stride + h * lse_head_stride + i * lse_row_stride; packed:
       token t = cu_seqlens_q[b] + i at h * lse_head_stride + t * lse_row_stride. */
    int64_t lse_batch_stride, lse_head_stride, lse_row_stride;

    /* ---- variable lengths (all optional, int32) */
    const int32_t* cu_seqlens_q; /* (B + 1) prefix sums: sequence b's queries are packed rows
                                    [cu_seqlens_q[b], cu_seqlens_q[b + 1]) */
    const int32_t* cu_seqlens_k; /* (B + 1) prefix sums of the packed keys/values */
    const int32_t* seqused_k;    /* (B): keys actually used by sequence b (<= its capacity); the
                                    causal/window alignment uses this length */

    /* ---- score transform and masks */
    float scale;      /* softmax scale, > 0 (the caller chooses; usually 1 / sqrt(D)) */
    float softcap;    /* 0 = off; else scores become softcap * tanh(scaled score / softcap) */
    int is_causal;    /* 1: window_right is forced to 0 (bottom-right aligned) */
    int window_left;  /* -1 = unbounded, else >= 0 keys before the diagonal */
    int window_right; /* -1 = unbounded, else >= 0 keys after the diagonal */
    int sink_tokens;  /* >= 0: the first sink_tokens keys are always visible (StreamingLLM),
                         in addition to the window, still under the right edge / causal rule */
    const float* sinks; /* (Hq) learned sink logits (gpt-oss), natural units, not scaled; they
                           only enlarge the softmax denominator; may be NULL */

    /* ---- position biases, natural units (not scaled), added after softcap and before masking;
       positions: key j and the bottom-right aligned query i' = i + Skv_b - Sq_b, so decoding over a
       KV cache applies them by absolute position. No (Hq, Sq, Skv) bias is ever materialized. */
    const float* rel_bias; /* NULL = off; else (Hq, rel_num_buckets) F32: T5's bucketed relative
                              position bias (HF T5Attention._relative_position_bucket of rp = j - i',
                              in its F32 arithmetic: |rp| below the exact range maps to itself, past it
                              max_exact + (int)(logf(rp / max_exact) / (float)log(max_distance /
                              max_exact) * (buckets - max_exact)), capped at the last bucket) */
    int rel_num_buckets;   /* >= 2 (>= 4 when bidirectional); T5: 32 */
    int rel_max_distance;  /* > the exact range (num_buckets/2, halved again when bidirectional); T5: 128 */
    int rel_bidirectional; /* 1: encoder (keys after the query get their own buckets); 0: decoder
                              (causal: j > i' shares bucket 0 with j == i') */
    const float* alibi_slopes; /* NULL = off; else (Hq) F32 slopes: + slope[h] * (j - i') (<= 0 for
                                  the keys a causal query sees; equal under softmax to Bloom's
                                  slope * j) */

    /* ---- RoPE applied to K on load (StreamingLLM cache that stores keys before RoPE) */
    const int32_t* k_rope_positions; /* NULL = off; else int32 position of every key slot:
                                        (B, seqlen_k) dense, or (total_k) packed with cu_seqlens_k.
                                        Split-half (HF rotate_half) over the whole head_dim (even):
                                        inv_freq[p] = theta^(-2p/D), angle = pos * inv_freq[p] in F32,
                                        and the rotated key is rounded to dtype before Q.K. */
    float rope_theta; /* > 0 when k_rope_positions is given (e.g. 10000) */

    /* ---- split-KV ("flash-decoding") */
    int num_splits;   /* 0 = auto (CPU: 1; CUDA: occupancy heuristic, bd_cuda_attention_num_splits,
                         used only when a workspace is given); 1 = no split; 2..128 = split each
                         query tile's visible key tiles into that many chunks, then merge by LSE */
    float* o_accum;   /* workspace, needed when num_splits > 1 (and for auto splitting): one buffer
                         of *_attention_workspace_bytes bytes, 16-byte aligned, holding o_accum
                         (num_splits, B, Hq, Sq, Dv) F32 then lse_accum (num_splits, B, Hq, Sq) F32
                         at a 256-byte aligned offset */
    float* lse_accum; /* NULL: carved from the o_accum buffer as above (use this with auto);
                         or a separate (num_splits, B, Hq, Sq) F32 buffer */

    /* ---- block-sparse layout (NULL block_row_ptr = dense). BSR over blocks of block_size tokens:
       query block qb = floor((i + Skv_b - Sq_b) / block_size) (the bottom-right aligned position,
       absolute within the sequence), key block kb = floor(j / block_size). Key j is visible to
       query i when kb is listed in row qb of the query head's layout, and the causal / right-edge
       rule above also holds. Queries with a negative aligned position (Sq > Skv) see nothing.
       The kernels visit only the listed blocks (block_size is a multiple of every key tile).
       CUDA reads the layout in device memory and cannot check it up front; what is guarded there:
       a column that is negative, not below ceil(Skv_b / block_size), or not below the entry taken
       before it (rows are walked from their last entry down: repeats and out-of-order entries) is
       skipped, so no column makes a kernel read K/V out of bounds, and a row whose offsets fall is
       empty. Not guarded: block_row_ptr must have its block_heads * block_rows + 1 entries and
       offsets within block_col_idx (others read outside it; a huge row also makes a long walk). */
    const int32_t* block_row_ptr; /* (block_heads * block_rows + 1) offsets into block_col_idx:
                                     row (lh, qb) lists block_col_idx[row_ptr[lh*rows+qb] ..
                                     row_ptr[lh*rows+qb+1]) */
    const int32_t* block_col_idx; /* strictly ascending key-block indices of each row */
    int block_size;      /* tokens per block: a positive multiple of 64 */
    int block_heads;     /* 1 (one layout for every head) or heads_q (query head h uses layout h) */
    int64_t block_rows;  /* query blocks per layout head, >= ceil(seqlen_k / block_size) */
} bd_attention_params;

/* Fills the dense defaults: (B, S, H, D) strides for q/k/v/o, (B, Hq, Sq) for lse, every
 * optional pointer NULL, windows -1, num_splits 1, rope_theta 10000, scale 1/sqrt(head_dim).
 * A header-only helper; set the tensor pointers (and anything else) afterwards. */
static inline void bd_attention_params_init(bd_attention_params* p, int dtype, int64_t batch,
                                            int64_t seqlen_q, int64_t seqlen_k, int heads_q,
                                            int heads_kv, int head_dim, int head_dim_v) {
    __builtin_memset(p, 0, sizeof *p);
    p->dtype = dtype;
    p->batch = batch;
    p->seqlen_q = seqlen_q;
    p->seqlen_k = seqlen_k;
    p->heads_q = heads_q;
    p->heads_kv = heads_kv;
    p->head_dim = head_dim;
    p->head_dim_v = head_dim_v;
    p->q_head_stride = head_dim;
    p->q_row_stride = (int64_t)heads_q * head_dim;
    p->q_batch_stride = seqlen_q * p->q_row_stride;
    p->k_head_stride = head_dim;
    p->k_row_stride = (int64_t)heads_kv * head_dim;
    p->k_batch_stride = seqlen_k * p->k_row_stride;
    p->v_head_stride = head_dim_v;
    p->v_row_stride = (int64_t)heads_kv * head_dim_v;
    p->v_batch_stride = seqlen_k * p->v_row_stride;
    p->o_head_stride = head_dim_v;
    p->o_row_stride = (int64_t)heads_q * head_dim_v;
    p->o_batch_stride = seqlen_q * p->o_row_stride;
    p->lse_row_stride = 1;
    p->lse_head_stride = seqlen_q;
    p->lse_batch_stride = (int64_t)heads_q * seqlen_q;
    p->window_left = -1;
    p->window_right = -1;
    p->num_splits = 1;
    p->rope_theta = 10000.f;
    p->block_heads = 1;
    p->scale = head_dim > 0 ? 1.f / __builtin_sqrtf((float)head_dim) : 1.f;
}

/* ---- entry points (each returns a bd_status) */

int bd_cpu_attention_forward(const bd_attention_params* p, void* stream);
int bd_cuda_attention_forward(const bd_attention_params* p, void* stream);

/* BD_OK when the backend implements (head_dim, head_dim_v, dtype), else BD_ERR_UNSUPPORTED with
 * a message naming the limit. CPU: any float dtype, 1 <= D, Dv <= 1024. CUDA: BF16/F16 with
 * D == Dv in {64, 80, 96, 128, 256}, or D 64 with Dv 128 (tensor cores); F32 with D <= 256,
 * Dv <= 512 (SIMT path). */
int bd_cpu_attention_supports(int head_dim, int head_dim_v, int dtype);
int bd_cuda_attention_supports(int head_dim, int head_dim_v, int dtype);

/* Bytes of split-KV workspace (o_accum then lse_accum) that a call with these parameters needs:
 * 0 when it will not split; -1 on invalid parameters (message set). num_splits 0 resolves the
 * automatic choice exactly as the forward call does (CUDA: for the current device). */
int64_t bd_cpu_attention_workspace_bytes(const bd_attention_params* p);
int64_t bd_cuda_attention_workspace_bytes(const bd_attention_params* p);

/* FlashAttention-2's occupancy heuristic: the number of KV splits (1..128) that best fills
 * num_sms with batch * heads * ceil(seqlen_q / 64) blocks over the key tiles (BF16/F16 tiles:
 * 64 keys, 32 at head dim 256). Prefill that fills 80% of the SMs gets 1. `heads` counts the
 * blocks per batch row: Hq, or Hkv when the query heads of a GQA group share a block (decode,
 * seqlen_q <= 16), which is what the automatic mode (num_splits = 0) passes. */
int bd_cuda_attention_num_splits(int64_t batch, int heads, int64_t seqlen_q, int64_t seqlen_k,
                                 int head_dim, int num_sms);

/* Flat-argument forms for bindings that do not map structs. Dense layout: q (B, Sq, Hq, D),
 * k (B, Skv, Hkv, D), v (B, Skv, Hkv, Dv), o (B, Sq, Hq, Dv), lse (B, Hq, Sq). With cu_seqlens_q
 * (and cu_seqlens_k) the tensors are packed (total, H, D), Sq / Skv are the maximum lengths, and
 * lse is (total_q, Hq). k_rope_positions is (B, Skv) dense or (total_k) packed. `workspace` holds
 * o_accum then lse_accum (at a 256-byte aligned offset); size it with *_workspace_bytes_flat. */
int bd_cpu_attention(const void* q, const void* k, const void* v, void* o, float* lse, int dtype,
                     int64_t batch, int64_t seqlen_q, int64_t seqlen_k, int heads_q, int heads_kv,
                     int head_dim, int head_dim_v, const int32_t* cu_seqlens_q,
                     const int32_t* cu_seqlens_k, const int32_t* seqused_k, float scale, float softcap,
                     int causal, int window_left, int window_right, int sink_tokens,
                     const float* sinks, const int32_t* k_rope_positions, float rope_theta,
                     int num_splits, void* workspace, void* stream);
int bd_cuda_attention(const void* q, const void* k, const void* v, void* o, float* lse, int dtype,
                      int64_t batch, int64_t seqlen_q, int64_t seqlen_k, int heads_q, int heads_kv,
                      int head_dim, int head_dim_v, const int32_t* cu_seqlens_q,
                      const int32_t* cu_seqlens_k, const int32_t* seqused_k, float scale,
                      float softcap, int causal, int window_left, int window_right, int sink_tokens,
                      const float* sinks, const int32_t* k_rope_positions, float rope_theta,
                      int num_splits, void* workspace, void* stream);

/* The flat form with the position biases (rel_bias ... alibi_slopes as in bd_attention_params;
 * NULL rel_bias and alibi_slopes give bd_*_attention); with cu_seqlens, positions are each
 * sequence's own. The CUDA form is compiled but unverified on a GPU (docs/perf/). */
int bd_cpu_attention_biased(const void* q, const void* k, const void* v, void* o, float* lse, int dtype,
                            int64_t batch, int64_t seqlen_q, int64_t seqlen_k, int heads_q, int heads_kv,
                            int head_dim, int head_dim_v, const int32_t* cu_seqlens_q,
                            const int32_t* cu_seqlens_k, const int32_t* seqused_k, float scale, float softcap,
                            int causal, int window_left, int window_right, int sink_tokens,
                            const float* sinks, const int32_t* k_rope_positions, float rope_theta,
                            const float* rel_bias, int rel_num_buckets, int rel_max_distance,
                            int rel_bidirectional, const float* alibi_slopes,
                            int num_splits, void* workspace, void* stream);
int bd_cuda_attention_biased(const void* q, const void* k, const void* v, void* o, float* lse, int dtype,
                             int64_t batch, int64_t seqlen_q, int64_t seqlen_k, int heads_q, int heads_kv,
                             int head_dim, int head_dim_v, const int32_t* cu_seqlens_q,
                             const int32_t* cu_seqlens_k, const int32_t* seqused_k, float scale, float softcap,
                             int causal, int window_left, int window_right, int sink_tokens,
                             const float* sinks, const int32_t* k_rope_positions, float rope_theta,
                             const float* rel_bias, int rel_num_buckets, int rel_max_distance,
                             int rel_bidirectional, const float* alibi_slopes,
                             int num_splits, void* workspace, void* stream);

/* Block-sparse flat forms: dense (B, S, H, D) tensors as bd_*_attention, lse (B, Hq, Sq), an
 * optional seqused_k (B) (decode over a KV cache of capacity seqlen_k), and the BSR layout fields
 * of bd_attention_params (block_rows = ceil(seqlen_k / block_size) or more). No window, sink
 * tokens, learned sinks, softcap or RoPE here: those are the struct form's. The CPU form checks
 * the layout itself (monotonic row_ptr, strictly ascending columns in range); the CUDA form reads
 * device pointers it cannot check and skips out-of-range or out-of-order columns instead. */
int bd_cpu_sparse_attention(const void* q, const void* k, const void* v, void* o, float* lse, int dtype,
                            int64_t batch, int64_t seqlen_q, int64_t seqlen_k, int heads_q, int heads_kv,
                            int head_dim, int head_dim_v, const int32_t* seqused_k, float scale, int causal,
                            int block_size, int block_heads, int64_t block_rows, const int32_t* block_row_ptr,
                            const int32_t* block_col_idx, int num_splits, void* workspace, void* stream);
int bd_cuda_sparse_attention(const void* q, const void* k, const void* v, void* o, float* lse, int dtype,
                             int64_t batch, int64_t seqlen_q, int64_t seqlen_k, int heads_q, int heads_kv,
                             int head_dim, int head_dim_v, const int32_t* seqused_k, float scale, int causal,
                             int block_size, int block_heads, int64_t block_rows, const int32_t* block_row_ptr,
                             const int32_t* block_col_idx, int num_splits, void* workspace, void* stream);
/* Workspace bytes of a sparse flat call (num_splits 0 = auto resolves as the call does; a per-head
 * layout, block_heads > 1, keeps GQA heads in separate blocks). -1 on invalid arguments. */
int64_t bd_cpu_sparse_attention_workspace_bytes_flat(int dtype, int64_t batch, int64_t seqlen_q, int64_t seqlen_k,
                                                     int heads_q, int heads_kv, int head_dim, int head_dim_v,
                                                     int block_heads, int num_splits);
int64_t bd_cuda_sparse_attention_workspace_bytes_flat(int dtype, int64_t batch, int64_t seqlen_q, int64_t seqlen_k,
                                                      int heads_q, int heads_kv, int head_dim, int head_dim_v,
                                                      int block_heads, int num_splits);

/* Workspace bytes of the flat forms (same meaning as *_workspace_bytes; varlen or not does not
 * change the size). -1 on invalid arguments. */
int64_t bd_cpu_attention_workspace_bytes_flat(int dtype, int64_t batch, int64_t seqlen_q,
                                              int64_t seqlen_k, int heads_q, int heads_kv,
                                              int head_dim, int head_dim_v, int num_splits);
int64_t bd_cuda_attention_workspace_bytes_flat(int dtype, int64_t batch, int64_t seqlen_q,
                                               int64_t seqlen_k, int heads_q, int heads_kv,
                                               int head_dim, int head_dim_v, int num_splits);

#ifdef __cplusplus
}
#endif

#endif
