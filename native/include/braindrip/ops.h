/* braindrip C ABI: the basic ops, CPU (bd_cpu_*) and CUDA (bd_cuda_*), one contract.
 *
 * Conventions for every function below:
 *   - tensors are dense and row-major; `rows` x `cols` means rows contiguous rows of cols elements;
 *   - every floating tensor of one call has the storage type `dtype` (BD_F32, BD_F16, BD_BF16),
 *     unless the comment says otherwise; compute and accumulation are F32;
 *   - integer index tensors name their own type (BD_I32 or BD_I64);
 *   - an output may alias its input only where the comment says "in place allowed";
 *   - counts are int64_t, and zero-sized calls return BD_OK without touching memory;
 *   - NULL pointers for required tensors, negative sizes or unknown codes -> BD_ERR_INVALID_ARGUMENT.
 * The CPU functions ignore `stream`; the CUDA functions enqueue on it (NULL = default stream) and
 * return without synchronizing, except where noted.
 */
#ifndef BRAINDRIP_OPS_H
#define BRAINDRIP_OPS_H

#include "braindrip/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BD_DECLARE_OPS(P)                                                                          \
    /* y = x converted from src_dtype to dst_dtype (float types only; round to nearest even). */  \
    int P##_convert(const void* x, int src_dtype, void* y, int dst_dtype, int64_t n, void* stream); \
    /* y = a + b, elementwise over n. In place allowed (y == a or y == b). */                      \
    int P##_add(const void* a, const void* b, void* y, int64_t n, int dtype, void* stream);        \
    /* y = a * b, elementwise over n. In place allowed. */                                         \
    int P##_mul(const void* a, const void* b, void* y, int64_t n, int dtype, void* stream);        \
    /* y = s * x. In place allowed. */                                                             \
    int P##_scale(const void* x, void* y, int64_t n, float s, int dtype, void* stream);            \
    /* y = cap * tanh(x / cap), Gemma 2's logit softcap; cap finite, > 0. In place allowed. */     \
    int P##_softcap(const void* x, void* y, int64_t n, float cap, int dtype, void* stream);        \
    /* y[r, c] += bias[c] over rows x cols (GEMM epilogue). */                                     \
    int P##_add_bias(void* y, const void* bias, int64_t rows, int64_t cols, int dtype,            \
                     void* stream);                                                                \
    /* y = act(x) elementwise, act a bd_activation. In place allowed. */                           \
    int P##_activation(const void* x, void* y, int64_t n, int act, int dtype, void* stream);       \
    /* x: (rows, 2F), gate = x[:, :F], up = x[:, F:]; y: (rows, F) = glu(gate) * up. */            \
    int P##_glu(const void* x, void* y, int64_t rows, int64_t f, int glu, int dtype, void* stream); \
    /* Phi-3-small's clamped GeGELU over the same (rows, 2F) gate | up layout: g = min(gate, limit), \
     * u = clamp(up, -limit, limit), except that +-inf pass unclamped and NaN stays NaN (the model's \
     * torch.where(isinf(a), a, a.clamp(...))); y = g * sigmoid(1.702 g) * (u + 1). limit > 0, and \
     * +inf means no clamp; NaN, zero or a negative limit -> BD_ERR_INVALID_ARGUMENT. */             \
    int P##_glu_clamped(const void* x, void* y, int64_t rows, int64_t f, float limit, int dtype,  \
                        void* stream);                                                             \
    /* y = x * rsqrt(mean(x^2) + eps) * w over each row; x, y: (rows, cols), w: (cols). */          \
    int P##_rmsnorm(const void* x, const void* w, void* y, int64_t rows, int64_t cols, float eps, \
                    int dtype, void* stream);                                                      \
    /* y = (x - mean) * rsqrt(var + eps) * w + b per row (biased variance); b may be NULL. */      \
    int P##_layernorm(const void* x, const void* w, const void* b, void* y, int64_t rows,         \
                      int64_t cols, float eps, int dtype, void* stream);                          \
    /* sum = x + residual (stored in dtype); y = rmsnorm(sum as stored). */                        \
    int P##_add_rmsnorm(const void* x, const void* residual, const void* w, void* y, void* sum,   \
                        int64_t rows, int64_t cols, float eps, int dtype, void* stream);           \
    /* sum = x + residual (stored in dtype); y = layernorm(sum as stored); b may be NULL. */       \
    int P##_add_layernorm(const void* x, const void* residual, const void* w, const void* b,      \
                          void* y, void* sum, int64_t rows, int64_t cols, float eps, int dtype,   \
                          void* stream);                                                           \
    /* y = softmax(x * inv_temperature) over each row; inv_temperature > 0. */                     \
    int P##_softmax(const void* x, void* y, int64_t rows, int64_t cols, float inv_temperature,    \
                    int dtype, void* stream);                                                      \
    /* y[i, :] = table[ids[i], :]; table: (vocab, dim), ids: (n) of ids_dtype, y: (n, dim).        \
     * An id outside [0, vocab) -> BD_ERR_INVALID_ARGUMENT naming it (the CUDA entry checks after  \
     * the launch, synchronously, and leaves zeros in that row). */                                \
    int P##_embedding(const void* table, const void* ids, int ids_dtype, void* y, int64_t n,      \
                      int64_t vocab, int64_t dim, int dtype, void* stream);                        \
    /* Rotary embedding. x, y: (tokens, heads, head_dim); positions: (tokens) of pos_dtype.        \
     * The first rotary_dim (even, <= head_dim) channels rotate; the rest are copied.              \
     * inv_freq[i] = theta^(-2i/rotary_dim), angle = pos * inv_freq[i]. In place allowed. */       \
    int P##_rope(const void* x, const void* positions, int pos_dtype, void* y, int64_t tokens,    \
                 int64_t heads, int64_t head_dim, int64_t rotary_dim, float theta, int style,     \
                 int dtype, void* stream);                                                         \
    /* RoPE with the caller's frequencies (scaled RoPE: linear, Llama 3, YaRN): as P##_rope but    \
     * angle = pos * inv_freq[i] with inv_freq a HOST array of rotary_dim/2 finite floats, and     \
     * cos and sin both multiplied by mscale (YaRN's attention factor; 1 otherwise). The CUDA      \
     * entry copies the table into the launch (rotary_dim <= 512). */                              \
    int P##_rope_freqs(const void* x, const void* positions, int pos_dtype, void* y,              \
                       int64_t tokens, int64_t heads, int64_t head_dim, int64_t rotary_dim,        \
                       const float* inv_freq, float mscale, int style, int dtype, void* stream);   \
    /* out[r] = argmax over the row (first index on ties; NaN never wins); out: int32 (rows). */   \
    int P##_argmax(const void* x, int32_t* out, int64_t rows, int64_t cols, int dtype,            \
                   void* stream);                                                                  \
    /* Row top-k, sorted by value descending, lower index first on ties; 1 <= k <= cols.           \
     * values: float32 (rows, k); indices: int32 (rows, k). */                                     \
    int P##_topk(const void* x, float* values, int32_t* indices, int64_t rows, int64_t cols,      \
                 int64_t k, int dtype, void* stream);                                              \
    /* loss[r] = logsumexp(logits[r]) - logits[r, target[r]] in float32; a negative target is      \
     * ignored (loss 0, as HF's ignore_index -100); a target >= cols -> BD_ERR_INVALID_ARGUMENT     \
     * (CUDA: checked synchronously after the launch). */                                          \
    int P##_cross_entropy(const void* logits, const void* targets, int target_dtype, float* loss, \
                          int64_t rows, int64_t cols, int dtype, void* stream);

BD_DECLARE_OPS(bd_cpu)
BD_DECLARE_OPS(bd_cuda)

/* Last error message of the calling thread (empty string when none). */
const char* bd_cpu_last_error(void);
const char* bd_cuda_last_error(void);

#ifdef __cplusplus
}
#endif

#endif
