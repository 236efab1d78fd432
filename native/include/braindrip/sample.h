/* braindrip C ABI: the batched token sampler, CPU (bd_cpu_*) and CUDA (bd_cuda_*), one contract.
 *
 * One call picks the next token of every row of a batch of logits (rows, vocab), each row under its
 * own parameters, so the logits never leave the device: only the chosen ids and the requested
 * logprobs are written (and, for tests, the processed logits). Per row r, in this order (Hugging
 * Face / vLLM rules, the CLI contract):
 *   x      the row's logits in F32; a NaN logit counts as -inf (never chosen) everywhere below.
 *   z      penalties: repetition_penalty[r] once for every DISTINCT id of the row's history (prompt
 *          and output ids): z = x > 0 ? x / rp : x * rp; then for every id with count c > 0 among
 *          the row's OUTPUT ids: z -= fmaf(frequency_penalty[r], c, presence_penalty[r]).
 *   greedy temperature[r] == 0: the id of the largest z, lower id on ties; nothing below applies.
 *   s      = z / temperature[r].
 *   top-k  top_k[r] > 0: keep the k largest s, lower id first on ties (k >= vocab keeps all).
 *   top-p  top_p[r] < 1: over the kept ids sorted by s descending (ties lower id first), keep id j
 *          iff the probability mass before it is < top_p (so at least one id). The mass is summed in
 *          64-bit fixed point, so the sum is exact and in no particular order: q_i =
 *          trunc(exp(s_i - s_max) * 2^S), S = 63 - ceil(log2 vocab); j kept iff
 *          sum of q over the ids before j < ceil(top_p * sum of q over the kept ids) (in double).
 *   min-p  min_p[r] > 0: keep ids with s - s_max >= ln(min_p) (p >= min_p * p_max).
 *   draw   an exponential race over the kept ids: u_i from Philox4x32-10 (key = seed[r], low word
 *          first; counter = (i, step[r] low, step[r] high, 0); output word 0 as
 *          u = ((x0 >> 8) + 0.5) * 2^-24), E_i = -ln(u_i); the chosen id is the argmax of
 *          s_i - ln(E_i), lower id on ties: a draw from softmax(s) renormalized over the kept ids,
 *          independent of summation order and of every other row of the batch.
 * A row whose s are all -inf picks its lowest kept id. exp and ln above are the portable F32
 * functions of braindrip/sample_draw.h (exactly the same bits on both backends), and every other
 * step is plain IEEE F32 arithmetic, so both backends keep the same ids and draw the same token.
 * Logprobs come from log_softmax of the RAW logits x (before penalties, temperature and
 * truncation): out_logprobs[r] at the chosen id; top_ids / top_logprobs row r the n_logprobs[r]
 * largest raw logits (lower id first on ties), most likely first, the rest of the row -1 / -inf.
 * These use expf/logf and a backend's own summation order: they agree within F32 rounding.
 * Logits are expected finite or -inf; +inf (or an s overflowing to +inf) is outside the contract
 * (memory-safe, but the result is unspecified).
 *
 * Memory: CPU takes host pointers; CUDA device pointers for every array (the per-row parameters
 * and the history included) and enqueues one kernel on `stream`. The caller allocates the
 * workspace (*_sample_workspace_bytes); neither backend allocates per call. CPU checks every
 * argument before touching memory. CUDA checks the scalars on the host; the per-row values and the
 * history ids live on the device, so the kernel checks them: with check_inputs = 1 the entry then
 * waits for the stream and fails naming the first bad value exactly as the CPU twin does (per-row
 * values first, by row then field, then the lowest bad history position); with check_inputs = 0 it
 * returns at once (the caller vouches for the values): a row holding a bad value gets out_ids -1,
 * and a bad history id is skipped. Messages name the op ("sample: ...").
 */
#ifndef BRAINDRIP_SAMPLE_H
#define BRAINDRIP_SAMPLE_H

#include "braindrip/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The most top logprobs a row may ask for (max_logprobs <= this). */
#define BD_SAMPLE_MAX_LOGPROBS 1024

typedef struct bd_sample_params {
    /* ---- logits */
    const void* logits;  /* (rows, vocab) at row_stride elements per row; never written */
    int dtype;           /* BD_F32, BD_F16 or BD_BF16 */
    int64_t rows;        /* >= 0 */
    int64_t vocab;       /* in [1, 2^31) */
    int64_t row_stride;  /* >= vocab */

    /* ---- per-row parameters, each (rows) */
    const float* temperature;        /* finite, >= 0; 0 = greedy */
    const int32_t* top_k;            /* <= 0 = off */
    const float* top_p;              /* in (0, 1]; 1 = off */
    const float* min_p;              /* in [0, 1]; 0 = off */
    const float* repetition_penalty; /* finite, > 0; 1 = off */
    const float* presence_penalty;   /* finite; 0 = off */
    const float* frequency_penalty;  /* finite; 0 = off */
    const uint64_t* seed;            /* the request's seed (Philox key) */
    const int64_t* step;             /* the request's generation step (Philox counter) */
    const int32_t* n_logprobs;       /* in [0, max_logprobs]; 0 = none */

    /* ---- token history for the penalties: row r's ids are history[history_offsets[r] ..
       history_offsets[r + 1]), its first history_prompt[r] ids the prompt, the rest its output ids
       so far. Every id in [0, vocab), whether or not the row has penalties (a row without may have
       an empty segment). history may be NULL when history_len is 0. */
    const int32_t* history;          /* (history_len) */
    const int64_t* history_offsets;  /* (rows + 1): 0 <= offsets[r] <= offsets[r + 1] <= history_len */
    const int32_t* history_prompt;   /* (rows): in [0, the row's segment length] */
    int64_t history_len;             /* in [0, 2^31) */

    /* ---- outputs */
    int32_t* out_ids;       /* (rows) */
    float* out_logprobs;    /* (rows) log_softmax(x)[chosen id], or NULL */
    int32_t* top_ids;       /* (rows, max_logprobs), or NULL when max_logprobs is 0 */
    float* top_logprobs;    /* (rows, max_logprobs), or NULL when max_logprobs is 0 */
    int64_t max_logprobs;   /* in [0, BD_SAMPLE_MAX_LOGPROBS]: the stride of top_ids / top_logprobs */
    float* processed;       /* (rows, vocab) F32, or NULL: the logits the draw used (s, -inf for every
                               removed id); greedy rows: z */

    /* ---- workspace and checks */
    void* workspace;          /* *_sample_workspace_bytes(rows, vocab, max_logprobs) bytes, 256-byte aligned */
    int64_t workspace_bytes;  /* its size (checked) */
    int check_inputs;         /* CUDA: 1 = wait and report bad per-row values / history ids (above);
                                 0 = do not wait. The CPU twin always checks. */
} bd_sample_params;

/* Zeroes the struct and sets the shape, row_stride = vocab and check_inputs = 1. Header-only; set
 * the pointers afterwards. */
static inline void bd_sample_params_init(bd_sample_params* p, int dtype, int64_t rows, int64_t vocab) {
    __builtin_memset(p, 0, sizeof *p);
    p->dtype = dtype;
    p->rows = rows;
    p->vocab = vocab;
    p->row_stride = vocab;
    p->check_inputs = 1;
}

/* ---- entry points (each returns a bd_status) */

int bd_cpu_sample(const bd_sample_params* p, void* stream);
int bd_cuda_sample(const bd_sample_params* p, void* stream);

/* Workspace bytes of a call (the same on both backends); -1 on invalid sizes (message set). */
int64_t bd_cpu_sample_workspace_bytes(int64_t rows, int64_t vocab, int64_t max_logprobs);
int64_t bd_cuda_sample_workspace_bytes(int64_t rows, int64_t vocab, int64_t max_logprobs);

/* Flat-argument form for bindings that do not map structs: the fields of bd_sample_params in order. */
int bd_cpu_sample_flat(const void* logits, int dtype, int64_t rows, int64_t vocab, int64_t row_stride,
                       const float* temperature, const int32_t* top_k, const float* top_p, const float* min_p,
                       const float* repetition_penalty, const float* presence_penalty,
                       const float* frequency_penalty, const uint64_t* seed, const int64_t* step,
                       const int32_t* n_logprobs, const int32_t* history, const int64_t* history_offsets,
                       const int32_t* history_prompt, int64_t history_len, int32_t* out_ids, float* out_logprobs,
                       int32_t* top_ids, float* top_logprobs, int64_t max_logprobs, float* processed,
                       void* workspace, int64_t workspace_bytes, int check_inputs, void* stream);
int bd_cuda_sample_flat(const void* logits, int dtype, int64_t rows, int64_t vocab, int64_t row_stride,
                        const float* temperature, const int32_t* top_k, const float* top_p, const float* min_p,
                        const float* repetition_penalty, const float* presence_penalty,
                        const float* frequency_penalty, const uint64_t* seed, const int64_t* step,
                        const int32_t* n_logprobs, const int32_t* history, const int64_t* history_offsets,
                        const int32_t* history_prompt, int64_t history_len, int32_t* out_ids, float* out_logprobs,
                        int32_t* top_ids, float* top_logprobs, int64_t max_logprobs, float* processed,
                        void* workspace, int64_t workspace_bytes, int check_inputs, void* stream);

#ifdef __cplusplus
}
#endif

#endif
