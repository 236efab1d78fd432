/* braindrip C ABI: fused differential attention (Differential Transformer, Ye et al. 2024,
 * microsoft/unilm multihead_diffattn.py), CPU (bd_cpu_*) and CUDA (bd_cuda_*), one contract.
 *
 * Shapes (dense, innermost contiguous): q (B, Sq, 2H, D), k (B, Skv, 2Hkv, D), v (B, Skv, Hkv, 2D),
 * subln (2D), o (B, Sq, H, 2D); H % Hkv == 0, r = H / Hkv. For output head h:
 *   A1 = softmax(q[2h]   . k[floor(2h / r)]^T     * scale)   over the visible keys
 *   A2 = softmax(q[2h+1] . k[floor((2h+1) / r)]^T * scale)
 *   u  = (A1 - lambda * A2) . v[floor(h / r)]                 (2D wide)
 *   o[b, i, h, :] = u / sqrt(mean(u^2) + eps) * subln * (1 - lambda_init)
 * Visibility is attention.h's rule (bottom-right causal, window_left / window_right, -1 unbounded;
 * seqused_k (B) = keys used per sequence of a KV cache of capacity seqlen_k). A query that sees no
 * key gets o = 0. Both maps walk the same key tiles in one pass; V is read once for both.
 *
 * Storage: q, k, v, subln, o share `dtype` (BD_F32, BD_F16, BD_BF16); compute is F32; with F16/BF16
 * the probabilities are rounded to dtype before P.V (as in attention.h) and o is rounded once.
 * CPU: host pointers. CUDA: device pointers, enqueued on `stream` without synchronizing. Scalars
 * are checked before memory is touched; messages name the op ("diff_attention: ...").
 */
#ifndef BRAINDRIP_DIFF_ATTENTION_H
#define BRAINDRIP_DIFF_ATTENTION_H

#include "braindrip/common.h"

#ifdef __cplusplus
extern "C" {
#endif

int bd_cpu_diff_attention(const void* q, const void* k, const void* v, const void* subln, void* o, int dtype,
                          int64_t batch, int64_t seqlen_q, int64_t seqlen_k, int heads, int heads_kv, int head_dim,
                          const int32_t* seqused_k, float scale, int causal, int window_left, int window_right,
                          float lambda, float lambda_init, float eps, void* stream);
int bd_cuda_diff_attention(const void* q, const void* k, const void* v, const void* subln, void* o, int dtype,
                           int64_t batch, int64_t seqlen_q, int64_t seqlen_k, int heads, int heads_kv, int head_dim,
                           const int32_t* seqused_k, float scale, int causal, int window_left, int window_right,
                           float lambda, float lambda_init, float eps, void* stream);

/* BD_OK when the backend implements head dim D (V and o are 2D wide) in dtype, else
 * BD_ERR_UNSUPPORTED with a message naming the limit. CUDA: BF16/F16 with D = 64 (tensor cores;
 * 16-byte aligned q/k/v/o), F32 with D <= 256 (SIMT path). */
int bd_cpu_diff_attention_supports(int head_dim, int dtype);
int bd_cuda_diff_attention_supports(int head_dim, int dtype);

#ifdef __cplusplus
}
#endif

#endif
