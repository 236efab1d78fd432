// Mixture-of-Depths on the CPU: the twin of native/cuda/mod.cu (contract in moe.h).
//   scores      r = x . router per token, F32.
//   route       top-k of one sequence by an order-preserving uint32 key of the score (NaN lowest,
//               -0 taken as +0): the k-th largest key K is the threshold; every token with a key
//               above K is selected, then the earliest tokens with key == K until k are chosen;
//               the list comes out in sequence order. The CUDA kernel finds K by a bitwise
//               radix select and the same in-order fill, so the two pick identical tokens.
//   threshold   the causal rule: r >= threshold, decided per token.
//   gather / scatter_add   row copies and the in-place weighted residual update (F32, one rounding).
// Loops go to an OpenMP team only past PARALLEL_MIN elements: waking a team costs ~1 us with
// spinning threads and ~80 us with OMP_WAIT_POLICY=passive (the launcher's) on the 2-core machine
// (docs/perf/overhead-cpu.md), more than a decode step's whole gather.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "braindrip/moe.h"
#include "braindrip/moe_plan.h"
#include "cpu_common.hpp"

namespace bd::cpu {

constexpr int64_t PARALLEL_MIN = 1 << 14;  // elements below which the calling thread does the loop

// ---- kernels

namespace {

// Larger score -> larger key; NaN -> 0 (below -inf); -0 -> +0.
inline uint32_t score_key(float v) {
    if (std::isnan(v)) return 0u;
    uint32_t u;
    std::memcpy(&u, &v, 4);
    if ((u & 0x7fffffffu) == 0) u = 0;  // -0 -> +0
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

}  // namespace

// ---- launchers

static int mod_route_impl(const float* scores, int64_t T, int64_t k, int32_t* selected, float* weights,
                          float* threshold) {
    std::vector<uint32_t> keys(static_cast<size_t>(T));
    for (int64_t t = 0; t < T; ++t) keys[t] = score_key(scores[t]);
    std::vector<uint32_t> sorted = keys;
    std::nth_element(sorted.begin(), sorted.begin() + (k - 1), sorted.end(), std::greater<uint32_t>());
    const uint32_t kth = sorted[k - 1];
    int64_t above = 0;
    for (int64_t t = 0; t < T; ++t) above += keys[t] > kth;
    int64_t ties_left = k - above, n = 0;
    float thr = NAN;
    for (int64_t t = 0; t < T; ++t) {
        bool take = keys[t] > kth;
        if (!take && keys[t] == kth && ties_left > 0) {
            take = true;
            --ties_left;
        }
        if (take) {
            selected[n] = static_cast<int32_t>(t);
            weights[n] = scores[t];
            ++n;
            if (keys[t] == kth) thr = scores[t];
        }
    }
    if (threshold) *threshold = thr;
    return BD_OK;
}

}  // namespace bd::cpu

// ---- entry points

using namespace bd::cpu;

extern "C" int64_t bd_cpu_mod_capacity(int64_t tokens, float capacity) {
    return bd_moe_plan_mod_capacity(tokens, capacity);
}

extern "C" int bd_cpu_mod_scores(const void* x, const void* router, int64_t tokens, int64_t hidden, float* scores,
                                 int dtype, void* stream) {
    BD_CHECK(is_float_dtype(dtype), "mod_scores", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(tokens >= 0 && hidden >= 1, "mod_scores", "bad sizes tokens=%lld hidden=%lld", (long long)tokens,
             (long long)hidden);
    if (tokens == 0) return BD_OK;
    BD_CHECK(x && router && scores, "mod_scores", "null tensor pointer");
#pragma omp parallel for schedule(static) if (tokens * hidden >= PARALLEL_MIN)
    for (int64_t t = 0; t < tokens; ++t) {
        float acc = 0.f;
        for (int64_t h = 0; h < hidden; ++h) acc += load(x, dtype, t * hidden + h) * load(router, dtype, h);
        scores[t] = acc;
    }
    return BD_OK;
}

extern "C" int bd_cpu_mod_route(const float* scores, int64_t tokens, int64_t k, int32_t* selected, float* weights,
                                float* threshold, void* stream) {
    BD_CHECK(tokens >= 0 && tokens <= INT32_MAX, "mod_route", "tokens (%lld) must be in [0, 2^31)", (long long)tokens);
    BD_CHECK(k >= 0 && k <= tokens, "mod_route", "k (%lld) must be in [0, tokens (%lld)]", (long long)k,
             (long long)tokens);
    if (k == 0) {
        if (threshold) *threshold = NAN;
        return BD_OK;
    }
    BD_CHECK(scores && selected && weights, "mod_route", "null scores, selected or weights");
    return mod_route_impl(scores, tokens, k, selected, weights, threshold);
}

extern "C" int bd_cpu_mod_route_threshold(const float* scores, int64_t tokens, float threshold, int32_t* selected,
                                          float* weights, int32_t* count, void* stream) {
    BD_CHECK(tokens >= 0 && tokens <= INT32_MAX, "mod_route_threshold", "tokens (%lld) must be in [0, 2^31)",
             (long long)tokens);
    BD_CHECK(count, "mod_route_threshold", "null count");
    if (tokens == 0) {
        *count = 0;
        return BD_OK;
    }
    BD_CHECK(scores && selected && weights, "mod_route_threshold", "null scores, selected or weights");
    int32_t n = 0;
    for (int64_t t = 0; t < tokens; ++t)
        if (scores[t] >= threshold) {
            selected[n] = static_cast<int32_t>(t);
            weights[n] = scores[t];
            ++n;
        }
    for (int64_t i = n; i < tokens; ++i) {
        selected[i] = -1;
        weights[i] = 0.f;
    }
    *count = n;
    return BD_OK;
}

extern "C" int bd_cpu_mod_gather(const void* x, const int32_t* selected, int64_t k, int64_t tokens, int64_t hidden,
                                 void* out, int dtype, void* stream) {
    BD_CHECK(is_float_dtype(dtype), "mod_gather", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(k >= 0 && tokens >= 0 && hidden >= 1, "mod_gather", "bad sizes k=%lld tokens=%lld hidden=%lld",
             (long long)k, (long long)tokens, (long long)hidden);
    if (k == 0) return BD_OK;
    BD_CHECK(x && selected && out, "mod_gather", "null tensor pointer");
    const size_t es = dtype == BD_F32 ? 4 : 2;
#pragma omp parallel for schedule(static) if (k * hidden >= PARALLEL_MIN)
    for (int64_t i = 0; i < k; ++i) {
        const int64_t t = selected[i];
        char* dst = static_cast<char*>(out) + i * hidden * es;
        if (t >= 0 && t < tokens)
            std::memcpy(dst, static_cast<const char*>(x) + t * hidden * es, hidden * es);
        else
            std::memset(dst, 0, hidden * es);
    }
    return BD_OK;
}

extern "C" int bd_cpu_mod_scatter_add(void* x, const int32_t* selected, const float* weights, const void* block_out,
                                      int64_t k, int64_t tokens, int64_t hidden, int dtype, void* stream) {
    BD_CHECK(is_float_dtype(dtype), "mod_scatter_add", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(k >= 0 && tokens >= 0 && hidden >= 1, "mod_scatter_add", "bad sizes k=%lld tokens=%lld hidden=%lld",
             (long long)k, (long long)tokens, (long long)hidden);
    if (k == 0) return BD_OK;
    BD_CHECK(x && selected && weights && block_out, "mod_scatter_add", "null tensor pointer");
#pragma omp parallel for schedule(static) if (k * hidden >= PARALLEL_MIN)
    for (int64_t i = 0; i < k; ++i) {
        const int64_t t = selected[i];
        if (t < 0 || t >= tokens) continue;
        for (int64_t h = 0; h < hidden; ++h)
            store(x, dtype, t * hidden + h,
                  load(x, dtype, t * hidden + h) + weights[i] * load(block_out, dtype, i * hidden + h));
    }
    return BD_OK;
}
