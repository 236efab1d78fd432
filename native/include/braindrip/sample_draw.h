/* braindrip: the exact arithmetic of bd_*_sample (braindrip/sample.h), header-only, for host and
 * device. The CPU twin, the CUDA kernel and the native tests include it, so the selection and the
 * draw compute the same bits on both backends:
 *   - Philox4x32-10 (Salmon et al., SC11; Random123's philox4x32_R(10, ...)) and the race's uniform;
 *   - ln and exp from +, *, fmaf and bit operations only (Cephes' logf / expf polynomials), so no
 *     libm or CUDA intrinsic with its own rounding decides a kept set or a draw. The files that use
 *     them compile with contraction off (-ffp-contract=off, nvcc -fmad=false): every fused
 *     multiply-add below is an explicit fmaf, and nothing else is fused;
 *   - the 64-bit rank keys of values (the top-k kernels' order: NaN lowest, -0 == +0, lower index
 *     higher on equal values), the fixed-point probability mass of top-p, and the per-row checks.
 * C and C++ (and CUDA, where every function is __host__ __device__). Not part of the JNI surface.
 */
#ifndef BRAINDRIP_SAMPLE_DRAW_H
#define BRAINDRIP_SAMPLE_DRAW_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "braindrip/sample.h"

#if defined(__CUDACC__)
#define BD_SAMPLE_FN static inline __host__ __device__
#else
#define BD_SAMPLE_FN static inline
#endif

/* ---- bits */

BD_SAMPLE_FN uint32_t bd_sample_f32_bits(float f) {
#if defined(__CUDA_ARCH__)
    return __float_as_uint(f);
#else
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
#endif
}

BD_SAMPLE_FN float bd_sample_f32_from_bits(uint32_t u) {
#if defined(__CUDA_ARCH__)
    return __uint_as_float(u);
#else
    float f;
    memcpy(&f, &u, 4);
    return f;
#endif
}

/* ---- Philox4x32-10: out = philox4x32_R(10, ctr, key), Random123's round and key schedule */

BD_SAMPLE_FN void bd_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3], k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; ++round) {
        if (round > 0) {  /* the key is bumped before every round but the first */
            k0 += 0x9E3779B9u;
            k1 += 0xBB67AE85u;
        }
        const uint64_t p0 = (uint64_t)0xD2511F53u * c0, p1 = (uint64_t)0xCD9E8D57u * c2;
        const uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        const uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

/* Word 0 of Philox4x32-10 at key = (seed low, seed high), counter = (id, step low, step high, 0). */
BD_SAMPLE_FN uint32_t bd_sample_random_bits(uint64_t seed, int64_t step, uint32_t id) {
    const uint64_t st = (uint64_t)step;
    const uint32_t ctr[4] = {id, (uint32_t)st, (uint32_t)(st >> 32), 0u};
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    uint32_t out[4];
    bd_philox4x32_10(ctr, key, out);
    return out[0];
}

/* ---- portable ln and exp (Cephes logf / expf; about 1 F32 ulp) */

/* ln(1 + f) + e ln 2 for f in [sqrt(1/2) - 1, sqrt(2) - 1], e an integer; ln 2 split in two. */
BD_SAMPLE_FN float bd_sample_log_kernel(float f, float e) {
    const float z = f * f;
    float p = 7.0376836292e-2f;
    p = fmaf(p, f, -1.1514610310e-1f);
    p = fmaf(p, f, 1.1676998740e-1f);
    p = fmaf(p, f, -1.2420140846e-1f);
    p = fmaf(p, f, 1.4249322787e-1f);
    p = fmaf(p, f, -1.6668057665e-1f);
    p = fmaf(p, f, 2.0000714765e-1f);
    p = fmaf(p, f, -2.4999993993e-1f);
    p = fmaf(p, f, 3.3333331174e-1f);
    float y = f * z * p;
    y = fmaf(e, -2.12194440e-4f, y);
    y = fmaf(-0.5f, z, y);
    const float r = f + y;
    return fmaf(e, 0.693359375f, r);
}

/* ln x; x > 0 (subnormals included); ln 0 = -inf, ln +inf = +inf, NaN or x < 0 -> NaN. ln 1 == 0. */
BD_SAMPLE_FN float bd_sample_logf(float x) {
    if (!(x > 0.f)) return x == 0.f ? -INFINITY : NAN;
    if (x == INFINITY) return x;
    uint32_t u = bd_sample_f32_bits(x);
    int e = 0;
    if (u < 0x00800000u) {  /* subnormal: scale by 2^23 (exact) */
        u = bd_sample_f32_bits(x * 8388608.f);
        e = -23;
    }
    e += (int)(u >> 23) - 126;  /* x = m 2^e, m in [1/2, 1) */
    const float m = bd_sample_f32_from_bits((u & 0x007fffffu) | 0x3f000000u);
    float f;
    if (m < 0.70710678f) {
        e -= 1;
        f = m + m - 1.f;  /* exact */
    } else {
        f = m - 1.f;      /* exact */
    }
    return bd_sample_log_kernel(f, (float)e);
}

/* e^d for d <= 0 (d = s - s_max); 0 below -87 (where e^d < 2^-125), for -inf and for NaN. e^0 == 1. */
BD_SAMPLE_FN float bd_sample_exp_nonpos(float d) {
    if (!(d >= -87.f)) return 0.f;
    const float n = floorf(fmaf(d, 1.44269504088896341f, 0.5f)); /* in [-125, 0] */
    float x = fmaf(n, -0.693359375f, d);
    x = fmaf(n, 2.12194440e-4f, x);
    const float z = x * x;
    float p = 1.9875691500e-4f;
    p = fmaf(p, x, 1.3981999507e-3f);
    p = fmaf(p, x, 8.3334519073e-3f);
    p = fmaf(p, x, 4.1665795894e-2f);
    p = fmaf(p, x, 1.6666665459e-1f);
    p = fmaf(p, x, 5.0000001201e-1f);
    const float r = fmaf(p, z, x) + 1.f;
    return r * bd_sample_f32_from_bits((uint32_t)((int)n + 127) << 23); /* times 2^n, a normal float */
}

/* E = -ln(u), u = ((x0 >> 8) + 0.5) 2^-24 = (2m + 1) 2^-25. u needs 25 bits, one more than F32 has
 * (u near 1 would round to 1 and E to 0), so ln u is formed from exactly representable parts:
 * u < 1/2: u itself; u in [1/2, sqrt(1/2)): -ln 2 + ln(1 + (2u - 1)); above: ln(1 + (u - 1)). */
BD_SAMPLE_FN float bd_sample_neg_log_uniform(uint32_t x0) {
    const uint32_t m = x0 >> 8, odd = 2u * m + 1u;  /* odd < 2^25 */
    if (odd < (1u << 24)) return -bd_sample_logf((float)odd * 2.98023223876953125e-8f); /* 2^-25 */
    if (odd < 23726566u)                                            /* sqrt(1/2) 2^25 */
        return -bd_sample_log_kernel((float)(odd - (1u << 24)) * 5.9604644775390625e-8f, -1.f); /* 2^-24 */
    return -bd_sample_log_kernel(-(float)((1u << 25) - odd) * 2.98023223876953125e-8f, 0.f);
}

/* The race key of a kept id: s - ln(E), E = -ln(u) of its Philox word. */
BD_SAMPLE_FN float bd_sample_race(float s, uint64_t seed, int64_t step, uint32_t id) {
    return s - bd_sample_logf(bd_sample_neg_log_uniform(bd_sample_random_bits(seed, step, id)));
}

/* Whether a kept id with processed logit s cannot beat a race key `best` already drawn: its key
 * s - ln E is at most s + 17.33 (the smallest E, at u = 1 - 2^-25, is 2^-25 = e^-17.33), plus F32
 * rounding, which the 2^-21 relative term more than covers. Skipping such ids leaves the chosen id
 * unchanged. */
BD_SAMPLE_FN int bd_sample_race_cannot_win(float s, float best) {
    if (s == -INFINITY) return best > -INFINITY;
    const float slack = (fabsf(s) + 17.34f) * 4.76837158203125e-7f;
    return s + 17.34f + slack < best;
}

/* ---- ranking: one 64-bit key per (value, index), distinct within a row */

BD_SAMPLE_FN uint32_t bd_sample_value_key(float v) {
    const uint32_t u = bd_sample_f32_bits(v);
    if (v != v) return 0u;             /* NaN: lowest */
    if (v == 0.f) return 0x80000000u;  /* -0 == +0 */
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

BD_SAMPLE_FN uint64_t bd_sample_rank_key(float v, uint32_t index) {
    return ((uint64_t)bd_sample_value_key(v) << 32) | (0xffffffffu - index);
}

BD_SAMPLE_FN uint32_t bd_sample_key_index(uint64_t key) { return 0xffffffffu - (uint32_t)key; }

/* A logit as the sampler sees it: NaN becomes -inf. */
BD_SAMPLE_FN float bd_sample_clean(float v) { return v != v ? -INFINITY : v; }

/* ---- penalties (braindrip/sample.h): state = bit 31 for a prompt id, low 31 bits the output count */

#define BD_SAMPLE_PROMPT_BIT 0x80000000u

BD_SAMPLE_FN float bd_sample_penalize(float x, uint32_t state, float rep, float presence, float frequency) {
    if (state == 0u) return x;
    float z = x;
    if (rep != 1.f) z = z > 0.f ? z / rep : z * rep;
    const uint32_t count = state & ~BD_SAMPLE_PROMPT_BIT;
    if (count != 0u) z = z - fmaf(frequency, (float)count, presence);
    return z;
}

BD_SAMPLE_FN int bd_sample_has_penalty(float rep, float presence, float frequency) {
    return rep != 1.f || presence != 0.f || frequency != 0.f;
}

/* ---- top-p mass in fixed point: q = trunc(e 2^S), S = 63 - ceil(log2 vocab), so the sum of a
   whole row stays below 2^64 and is exact in any order. */

BD_SAMPLE_FN int bd_sample_mass_shift(int64_t vocab) {
    int c = 0;
    while (((int64_t)1 << c) < vocab) ++c;
    return 63 - c;
}

BD_SAMPLE_FN uint64_t bd_sample_mass(float e, int shift) {
    return (uint64_t)(e * bd_sample_f32_from_bits((uint32_t)(shift + 127) << 23));
}

/* ceil(top_p * total) in double, within [1, total] (total > 0: the top id's mass is 2^S). */
BD_SAMPLE_FN uint64_t bd_sample_top_p_target(float top_p, uint64_t total) {
    const double t = ceil((double)top_p * (double)total);
    uint64_t target = t < 1.0 ? 1u : (uint64_t)t;
    if (target > total) target = total;
    return target;
}

/* ---- per-row checks, in this order (the first failing field is reported) */

enum bd_sample_field {
    BD_SAMPLE_OK = -1,
    BD_SAMPLE_TEMPERATURE = 0,
    BD_SAMPLE_TOP_P = 1,
    BD_SAMPLE_MIN_P = 2,
    BD_SAMPLE_REPETITION_PENALTY = 3,
    BD_SAMPLE_PRESENCE_PENALTY = 4,
    BD_SAMPLE_FREQUENCY_PENALTY = 5,
    BD_SAMPLE_N_LOGPROBS = 6,
    BD_SAMPLE_HISTORY_OFFSETS = 7,
    BD_SAMPLE_HISTORY_PROMPT = 8,
    BD_SAMPLE_FIELDS = 16  /* error code = row * BD_SAMPLE_FIELDS + field */
};

BD_SAMPLE_FN int bd_sample_finite(float v) { return v == v && v != INFINITY && v != -INFINITY; }

BD_SAMPLE_FN int bd_sample_check_row(float temperature, float top_p, float min_p, float rep, float presence,
                                     float frequency, int32_t n_logprobs, int64_t max_logprobs, int64_t start,
                                     int64_t end, int32_t prompt, int64_t history_len) {
    if (!(temperature >= 0.f) || !bd_sample_finite(temperature)) return BD_SAMPLE_TEMPERATURE;
    if (!(top_p > 0.f && top_p <= 1.f)) return BD_SAMPLE_TOP_P;
    if (!(min_p >= 0.f && min_p <= 1.f)) return BD_SAMPLE_MIN_P;
    if (!(rep > 0.f) || !bd_sample_finite(rep)) return BD_SAMPLE_REPETITION_PENALTY;
    if (!bd_sample_finite(presence)) return BD_SAMPLE_PRESENCE_PENALTY;
    if (!bd_sample_finite(frequency)) return BD_SAMPLE_FREQUENCY_PENALTY;
    if (n_logprobs < 0 || n_logprobs > max_logprobs) return BD_SAMPLE_N_LOGPROBS;
    if (!(0 <= start && start <= end && end <= history_len)) return BD_SAMPLE_HISTORY_OFFSETS;
    if (prompt < 0 || prompt > end - start) return BD_SAMPLE_HISTORY_PROMPT;
    return BD_SAMPLE_OK;
}

/* ---- host side of both entry points (host functions: visible to, but not compiled by, nvcc's device pass) */

/* Bytes of the workspace: 256 bytes of error words (CUDA), then one 4-byte slot per logit. */
static inline int64_t bd_sample_workspace_size(int64_t rows, int64_t vocab) {
    return 256 + ((rows * vocab * 4 + 255) & ~(int64_t)255);
}

/* The checks of a call's scalars and pointers, before anything is read: 0, or 1 with the reason in
 * msg. The per-row values and the history ids are checked separately (the CUDA kernel reads them). */
static inline int bd_sample_check_call(const bd_sample_params* p, char* msg, size_t n) {
    const char* dt = p->dtype == BD_F32 ? "F32" : p->dtype == BD_F16 ? "F16" : p->dtype == BD_BF16 ? "BF16" : NULL;
    if (!dt) return snprintf(msg, n, "unsupported dtype %d (F32, F16 or BF16)", p->dtype), 1;
    if (p->rows < 0 || p->rows > INT32_MAX) return snprintf(msg, n, "rows (%lld) must be in [0, 2^31)", (long long)p->rows), 1;
    if (p->vocab < 1 || p->vocab > INT32_MAX)
        return snprintf(msg, n, "vocab (%lld) must be in [1, 2^31)", (long long)p->vocab), 1;
    if (p->row_stride < p->vocab)
        return snprintf(msg, n, "row_stride (%lld) must be >= vocab (%lld)", (long long)p->row_stride, (long long)p->vocab), 1;
    if (p->max_logprobs < 0 || p->max_logprobs > BD_SAMPLE_MAX_LOGPROBS)
        return snprintf(msg, n, "max_logprobs (%lld) must be in [0, %d]", (long long)p->max_logprobs, BD_SAMPLE_MAX_LOGPROBS), 1;
    if (p->history_len < 0 || p->history_len > INT32_MAX)
        return snprintf(msg, n, "history_len (%lld) must be in [0, 2^31)", (long long)p->history_len), 1;
    if (p->rows == 0) return 0;
    if (!p->logits || !p->out_ids) return snprintf(msg, n, "null logits or out_ids"), 1;
    if (!p->temperature || !p->top_k || !p->top_p || !p->min_p || !p->repetition_penalty || !p->presence_penalty ||
        !p->frequency_penalty || !p->seed || !p->step || !p->n_logprobs)
        return snprintf(msg, n, "null per-row parameter array"), 1;
    if (!p->history_offsets || !p->history_prompt || (!p->history && p->history_len > 0))
        return snprintf(msg, n, "null history array"), 1;
    if (p->max_logprobs > 0 && (!p->top_ids || !p->top_logprobs))
        return snprintf(msg, n, "null top_ids or top_logprobs with max_logprobs %lld", (long long)p->max_logprobs), 1;
    if (!p->workspace) return snprintf(msg, n, "null workspace"), 1;
    const int64_t need = bd_sample_workspace_size(p->rows, p->vocab);
    if (p->workspace_bytes < need)
        return snprintf(msg, n, "workspace_bytes (%lld) is below the %lld bytes this call needs", (long long)p->workspace_bytes,
                        (long long)need), 1;
    return 0;
}

/* The message of a failed row check (host only; both backends print the same text). `value` is the
 * field's value (an integer field is passed as a double), start / end the row's history offsets. */
static inline void bd_sample_format_row_error(char* buf, size_t n, int field, int64_t row, double value,
                                              int64_t max_logprobs, int64_t start, int64_t end,
                                              int64_t history_len) {
    const long long r = (long long)row;
    switch (field) {
        case BD_SAMPLE_TEMPERATURE: snprintf(buf, n, "temperature[%lld] (%g) must be finite and >= 0", r, value); break;
        case BD_SAMPLE_TOP_P: snprintf(buf, n, "top_p[%lld] (%g) must be in (0, 1]", r, value); break;
        case BD_SAMPLE_MIN_P: snprintf(buf, n, "min_p[%lld] (%g) must be in [0, 1]", r, value); break;
        case BD_SAMPLE_REPETITION_PENALTY:
            snprintf(buf, n, "repetition_penalty[%lld] (%g) must be finite and > 0", r, value);
            break;
        case BD_SAMPLE_PRESENCE_PENALTY: snprintf(buf, n, "presence_penalty[%lld] (%g) must be finite", r, value); break;
        case BD_SAMPLE_FREQUENCY_PENALTY: snprintf(buf, n, "frequency_penalty[%lld] (%g) must be finite", r, value); break;
        case BD_SAMPLE_N_LOGPROBS:
            snprintf(buf, n, "n_logprobs[%lld] (%.0f) must be in [0, max_logprobs=%lld]", r, value, (long long)max_logprobs);
            break;
        case BD_SAMPLE_HISTORY_OFFSETS:
            snprintf(buf, n, "history_offsets[%lld..%lld] = [%lld, %lld] must satisfy 0 <= start <= end <= history_len (%lld)",
                     r, r + 1, (long long)start, (long long)end, (long long)history_len);
            break;
        default:
            snprintf(buf, n, "history_prompt[%lld] (%.0f) must be in [0, %lld] (the row's history length)", r, value,
                     (long long)(end - start));
            break;
    }
}

static inline void bd_sample_format_history_error(char* buf, size_t n, int64_t position, int32_t id, int64_t vocab) {
    snprintf(buf, n, "history[%lld] (%d) is outside [0, vocab=%lld)", (long long)position, (int)id, (long long)vocab);
}

#endif
