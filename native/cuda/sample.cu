// The batched token sampler on CUDA (contract in braindrip/sample.h): one thread block per row runs
// the CPU twin's algorithm (cpu/sample.cpp) pass by pass over the row:
//   1. thread 0 checks the row's values; the block checks the history ids and, with a penalty,
//      builds the per-id state (bit 31: prompt id, low bits: output count) in the row's workspace
//      slots with atomics;
//   2. raw log-sum-exp (for the logprobs) and the top-N raw logits (radix select, then a rank sort
//      of the N keys in shared memory);
//   3. s = penalized / temperature into the same slots, with the block max of the rank keys;
//   4. top-k and top-p thresholds by radix select over the 64-bit rank keys (8-bit digits from the
//      top, block histograms in shared memory, exact integer counts and fixed-point masses; the
//      bucket walk of a pass runs in one warp), then min-p and the Philox race in one pass, a block
//      max of the race keys choosing the id. The race skips ids whose s is too far below the best
//      key a thread has seen to win (bd_sample_race_cannot_win): exact, and most of a real row.
// Every float that decides a kept set or the draw comes from braindrip/sample_draw.h with -fmad=false
// (CMakeLists.txt), the same bits as the CPU twin; the selects see identical histograms, so both
// backends keep the same ids and draw the same token. No allocation, no host sync unless
// check_inputs asks for the device-side checks to be reported.
// Histogram atomics are aggregated per thread over runs of one bucket: the first digit (sign and
// high exponent bits) puts most of a row in one or two buckets, which would serialize per-element
// shared atomics.
// NOT YET RUN ON A GPU: written and compiled (sm_80, sm_90; 62 registers, no spills, 11.8 KB
// static shared memory) on a machine without one. Its checks exist and were skipped there: the
// "sample" cases of native/tests/test_backend_ops.cpp (CUDA against the CPU twin, bit for bit) and
// CudaSampleTest. One block per row leaves SMs idle below ~130 rows; splitting long rows over
// several blocks is the known next step.
#include <algorithm>
#include <cstdint>

#include "block_reduce.cuh"
#include "braindrip/sample.h"
#include "braindrip/sample_draw.h"
#include "cuda_common.cuh"

namespace bd::cuda {

constexpr int SAMPLE_BLOCK_MIN = 128;
constexpr int64_t SAMPLE_WORKSPACE_HEADER = 256;  // two error words: first bad row value, first bad history id
constexpr unsigned long long SAMPLE_NO_ERROR = ~0ull;

struct SampleShared {
    unsigned int cnt[256];
    unsigned long long mass[256];
    unsigned long long top[BD_SAMPLE_MAX_LOGPROBS];  // the top-N raw keys, unsorted
    unsigned long long red[32];
    MaxSum red_ms[32];
    unsigned long long sel_prefix, sel_above;
    int sel_done;
    unsigned int top_n;
    int bad_row;      // set by thread 0 before a barrier
    int bad_history;  // set by any thread, read after the next barrier
};

struct SumU64Op {
    __device__ unsigned long long operator()(unsigned long long a, unsigned long long b) const { return a + b; }
};

// ---- kernels

// Warp 0, after a pass's histogram: the bucket where the running total (from the top bucket down)
// first reaches target, as cpu/sample.cpp's radix_select walks it (bucket 0 if none does). Lane l
// owns buckets 255 - 8l .. 248 - 8l; a warp scan gives each lane the total above its buckets.
template <bool BY_MASS>
__device__ void select_bucket(SampleShared& sh, unsigned long long prefix, unsigned long long above,
                              unsigned long long target, int shift) {
    const int lane = threadIdx.x;
    unsigned long long total = 0;
#pragma unroll
    for (int j = 0; j < 8; ++j) {
        const int b = 255 - 8 * lane - j;
        total += BY_MASS ? sh.mass[b] : sh.cnt[b];
    }
    unsigned long long incl = total;
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) {
        const unsigned long long t = __shfl_up_sync(0xffffffffu, incl, o);
        if (lane >= o) incl += t;
    }
    const unsigned hits = __ballot_sync(0xffffffffu, above + incl >= target);
    const int first = hits ? __ffs(hits) - 1 : 31;
    if (lane != first) return;
    unsigned long long acc = above + (incl - total);
    int b = 255 - 8 * lane;
    for (int j = 0; j < 7; ++j, --b) {
        const unsigned long long w = BY_MASS ? sh.mass[b] : sh.cnt[b];
        if (acc + w >= target) break;
        acc += w;
    }
    sh.sel_prefix = prefix | (static_cast<unsigned long long>(b) << shift);
    sh.sel_above = acc;
    sh.sel_done = shift == 0 || (BY_MASS ? sh.cnt[b] == 1u : acc + sh.cnt[b] == target);
}

// Radix select over the candidates i < n with key_of(i) >= lower: returns (to every thread) the
// threshold t such that the kept set is {key >= t}: by count the `target` largest keys, by mass the
// largest keys through the one where the mass from the top first reaches target (weight_of(i),
// called only for candidates still in the refined bucket). Every thread must call it.
template <bool BY_MASS, typename KeyOf, typename WeightOf>
__device__ unsigned long long block_select(const KeyOf& key_of, const WeightOf& weight_of, int64_t n,
                                           unsigned long long lower, unsigned long long target, SampleShared& sh) {
    unsigned long long prefix = 0, above = 0;
    for (int shift = 56; shift >= 0; shift -= 8) {
        for (int b = threadIdx.x; b < 256; b += blockDim.x) {
            sh.cnt[b] = 0u;
            sh.mass[b] = 0ull;
        }
        __syncthreads();
        const unsigned long long high = shift == 56 ? 0ull : ~0ull << (shift + 8);
        int run = -1;
        unsigned int run_cnt = 0;
        unsigned long long run_mass = 0;
        for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
            const unsigned long long key = key_of(i);
            if (key < lower || (key & high) != prefix) continue;
            const int b = static_cast<int>(key >> shift) & 255;
            if (b != run) {
                if (run >= 0) {
                    atomicAdd(&sh.cnt[run], run_cnt);
                    if constexpr (BY_MASS) atomicAdd(&sh.mass[run], run_mass);
                }
                run = b;
                run_cnt = 0;
                run_mass = 0;
            }
            ++run_cnt;
            if constexpr (BY_MASS) run_mass += weight_of(i);
        }
        if (run >= 0) {
            atomicAdd(&sh.cnt[run], run_cnt);
            if constexpr (BY_MASS) atomicAdd(&sh.mass[run], run_mass);
        }
        __syncthreads();
        if (threadIdx.x < 32) select_bucket<BY_MASS>(sh, prefix, above, target, shift);
        __syncthreads();
        prefix = sh.sel_prefix;
        above = sh.sel_above;
        if (sh.sel_done) break;  // the next writes of sel_* follow two more barriers
    }
    return prefix;
}

// The outputs of a row that failed a check: out_ids -1, logprob NaN, top row -1 / -inf.
static __device__ void sample_fail_row(const bd_sample_params& p, int64_t r) {
    if (threadIdx.x == 0) {
        p.out_ids[r] = -1;
        if (p.out_logprobs) p.out_logprobs[r] = NAN;
    }
    for (int64_t j = threadIdx.x; j < p.max_logprobs; j += blockDim.x) {
        p.top_ids[r * p.max_logprobs + j] = -1;
        p.top_logprobs[r * p.max_logprobs + j] = -INFINITY;
    }
}

// grid: (rows); flags: the two error words; slots: (rows, vocab) 4-byte workspace slots.
template <typename T>
static __global__ void __launch_bounds__(1024, 1) sample_kernel(const bd_sample_params p, unsigned long long* flags, float* slots) {
    __shared__ SampleShared sh;
    const int64_t r = blockIdx.x, vocab = p.vocab;
    const T* x = static_cast<const T*>(p.logits) + r * p.row_stride;
    float* buf = slots + r * vocab;
    unsigned int* state = reinterpret_cast<unsigned int*>(buf);
    const auto logit = [&](int64_t i) { return bd_sample_clean(to_f32(x[i])); };

    const float temperature = p.temperature[r], top_p = p.top_p[r], min_p = p.min_p[r];
    const float rep = p.repetition_penalty[r], presence = p.presence_penalty[r], frequency = p.frequency_penalty[r];
    const int32_t top_k = p.top_k[r], n_top = p.n_logprobs[r], prompt = p.history_prompt[r];
    const int64_t start = p.history_offsets[r], end = p.history_offsets[r + 1];

    // 1. checks, penalty state
    if (threadIdx.x == 0) {
        const int field = bd_sample_check_row(temperature, top_p, min_p, rep, presence, frequency, n_top, p.max_logprobs,
                                              start, end, prompt, p.history_len);
        sh.bad_row = field != BD_SAMPLE_OK;
        sh.bad_history = 0;
        if (sh.bad_row) atomicMin(&flags[0], static_cast<unsigned long long>(r) * BD_SAMPLE_FIELDS + field);
    }
    __syncthreads();
    if (sh.bad_row) {
        sample_fail_row(p, r);
        return;
    }
    const bool pen = bd_sample_has_penalty(rep, presence, frequency);
    if (pen) {
        for (int64_t i = threadIdx.x; i < vocab; i += blockDim.x) state[i] = 0u;
        __syncthreads();
    }
    for (int64_t j = start + threadIdx.x; j < end; j += blockDim.x) {
        const int32_t id = p.history[j];
        if (id < 0 || id >= vocab) {
            atomicMin(&flags[1], static_cast<unsigned long long>(j));
            sh.bad_history = 1;
            continue;
        }
        if (!pen) continue;
        if (j < start + prompt) atomicOr(&state[id], BD_SAMPLE_PROMPT_BIT);
        else atomicAdd(&state[id], 1u);
    }
    __syncthreads();
    if (sh.bad_history) {
        sample_fail_row(p, r);
        return;
    }

    // 2. raw logprobs
    const bool want_lse = p.out_logprobs || (p.max_logprobs > 0 && n_top > 0);
    float lse = 0.f;
    if (want_lse) {
        MaxSum ms{-INFINITY, 0.f};
        for (int64_t i = threadIdx.x; i < vocab; i += blockDim.x) maxsum_add(ms, logit(i));
        ms = block_reduce_maxsum(ms, sh.red_ms);
        lse = ms.m == -INFINITY ? -INFINITY : ms.m + logf(ms.s);
    }
    const auto raw_key = [&](int64_t i) { return bd_sample_rank_key(logit(i), static_cast<uint32_t>(i)); };
    const auto no_weight = [](int64_t) { return 0ull; };
    if (p.max_logprobs > 0) {
        int32_t* ids = p.top_ids + r * p.max_logprobs;
        float* lp = p.top_logprobs + r * p.max_logprobs;
        const int64_t k = n_top < vocab ? static_cast<int64_t>(n_top) : vocab;
        if (k > 0) {
            const unsigned long long thr =
                k < vocab ? block_select<false>(raw_key, no_weight, vocab, 0ull, static_cast<unsigned long long>(k), sh) : 0ull;
            if (threadIdx.x == 0) sh.top_n = 0u;
            __syncthreads();
            for (int64_t i = threadIdx.x; i < vocab; i += blockDim.x) {
                const unsigned long long key = raw_key(i);
                if (key < thr) continue;
                const unsigned slot = atomicAdd(&sh.top_n, 1u);
                if (slot < k) sh.top[slot] = key;  // exactly k keys pass
            }
            __syncthreads();
            for (int64_t j = threadIdx.x; j < k; j += blockDim.x) {
                const unsigned long long key = sh.top[j];
                int64_t rank = 0;
                for (int64_t t = 0; t < k; ++t) rank += sh.top[t] > key;
                const uint32_t id = bd_sample_key_index(key);
                ids[rank] = static_cast<int32_t>(id);
                lp[rank] = lse == -INFINITY ? -INFINITY : logit(id) - lse;
            }
        }
        for (int64_t j = k + threadIdx.x; j < p.max_logprobs; j += blockDim.x) {
            ids[j] = -1;
            lp[j] = -INFINITY;
        }
    }

    // 3. s (z for greedy rows) into the slots, and the largest
    const bool greedy = temperature == 0.f;
    float* processed = p.processed ? p.processed + r * vocab : nullptr;
    unsigned long long best = 0ull;
    for (int64_t i = threadIdx.x; i < vocab; i += blockDim.x) {
        const float xi = logit(i);
        const float z = pen ? bd_sample_penalize(xi, __ldcg(&state[i]), rep, presence, frequency) : xi;
        const float s = greedy ? z : z / temperature;
        buf[i] = s;  // this thread's own slot: read back only by this thread, or after a barrier
        if (greedy && processed) processed[i] = s;
        const unsigned long long key = bd_sample_rank_key(s, static_cast<uint32_t>(i));
        if (key > best) best = key;
    }
    best = block_reduce_max(best, sh.red);

    // 4. truncation and the draw
    uint32_t id = bd_sample_key_index(best);
    if (!greedy) {
        const float s_max = buf[id];
        const auto key_of = [&](int64_t i) { return bd_sample_rank_key(buf[i], static_cast<uint32_t>(i)); };
        unsigned long long thr = 0ull;
        if (top_k > 0 && top_k < vocab)
            thr = block_select<false>(key_of, no_weight, vocab, 0ull, static_cast<unsigned long long>(top_k), sh);
        const bool finite_max = s_max > -INFINITY;
        if (finite_max && top_p < 1.f) {
            const int shift = bd_sample_mass_shift(vocab);
            const auto weight_of = [&](int64_t i) { return bd_sample_mass(bd_sample_exp_nonpos(buf[i] - s_max), shift); };
            unsigned long long total = 0ull;
            for (int64_t i = threadIdx.x; i < vocab; i += blockDim.x)
                if (key_of(i) >= thr) total += weight_of(i);
            total = block_reduce(total, 0ull, sh.red, SumU64Op{});
            const unsigned long long pthr =
                block_select<true>(key_of, weight_of, vocab, thr, bd_sample_top_p_target(top_p, total), sh);
            if (pthr > thr) thr = pthr;
        }
        const bool use_min_p = finite_max && min_p > 0.f;
        const float ln_min_p = use_min_p ? bd_sample_logf(min_p) : 0.f;
        const uint64_t seed = p.seed[r];
        const int64_t step = p.step[r];
        // every thread seeds its race with the largest s (always kept) and skips ids that cannot beat its best
        const uint32_t top = id;
        float pick_race = bd_sample_race(s_max, seed, step, top);
        unsigned long long pick = bd_sample_rank_key(pick_race, top);
        for (int64_t i = threadIdx.x; i < vocab; i += blockDim.x) {
            const float s = buf[i];
            const bool kept = bd_sample_rank_key(s, static_cast<uint32_t>(i)) >= thr && (!use_min_p || s - s_max >= ln_min_p);
            if (processed) processed[i] = kept ? s : -INFINITY;
            if (!kept || i == top || bd_sample_race_cannot_win(s, pick_race)) continue;
            const float race = bd_sample_race(s, seed, step, static_cast<uint32_t>(i));
            const unsigned long long key = bd_sample_rank_key(race, static_cast<uint32_t>(i));
            if (key > pick) {
                pick = key;
                pick_race = race;
            }
        }
        pick = block_reduce_max(pick, sh.red);
        id = bd_sample_key_index(pick);
    }
    if (threadIdx.x == 0) {
        p.out_ids[r] = static_cast<int32_t>(id);
        if (p.out_logprobs) p.out_logprobs[r] = lse == -INFINITY ? -INFINITY : logit(id) - lse;
    }
}

// ---- launchers

template <typename T>
static int launch_sample(const bd_sample_params& p, unsigned long long* flags, float* slots, cudaStream_t stream) {
    const int block = std::max(SAMPLE_BLOCK_MIN, row_block_size(p.vocab));
    sample_kernel<T><<<static_cast<unsigned>(p.rows), block, 0, stream>>>(p, flags, slots);
    return check_launch("sample_kernel");
}

static int fetch(void* host, const void* device, size_t bytes, cudaStream_t stream) {
    int st = check_cuda(cudaMemcpyAsync(host, device, bytes, cudaMemcpyDeviceToHost, stream), "sample: reading a checked value");
    const int st_sync = check_cuda(cudaStreamSynchronize(stream), "sample: reading a checked value");
    return st != BD_OK ? st : st_sync;
}

// After the launch (check_inputs): the kernel's first bad row value or history id, reported as the
// CPU twin words it.
static int report(const bd_sample_params& p, const unsigned long long* flags, cudaStream_t stream) {
    unsigned long long words[2] = {SAMPLE_NO_ERROR, SAMPLE_NO_ERROR};
    int st = fetch(words, flags, sizeof words, stream);
    if (st != BD_OK) return st;
    char msg[256];
    if (words[0] != SAMPLE_NO_ERROR) {
        const int64_t r = static_cast<int64_t>(words[0] / BD_SAMPLE_FIELDS);
        const int field = static_cast<int>(words[0] % BD_SAMPLE_FIELDS);
        int64_t offsets[2] = {0, 0};
        double value = 0;
        float f = 0;
        int32_t i = 0;
        const float* floats[] = {p.temperature, p.top_p, p.min_p, p.repetition_penalty, p.presence_penalty,
                                 p.frequency_penalty};
        if (field <= BD_SAMPLE_FREQUENCY_PENALTY) {
            st = fetch(&f, floats[field] + r, 4, stream);
            value = f;
        } else if (field == BD_SAMPLE_N_LOGPROBS || field == BD_SAMPLE_HISTORY_PROMPT) {
            st = fetch(&i, (field == BD_SAMPLE_N_LOGPROBS ? p.n_logprobs : p.history_prompt) + r, 4, stream);
            value = i;
        }
        if (st == BD_OK) st = fetch(offsets, p.history_offsets + r, sizeof offsets, stream);
        if (st != BD_OK) return st;
        bd_sample_format_row_error(msg, sizeof msg, field, r, value, p.max_logprobs, offsets[0], offsets[1], p.history_len);
        return fail(BD_ERR_INVALID_ARGUMENT, "sample: %s", msg);
    }
    if (words[1] != SAMPLE_NO_ERROR) {
        int32_t id = 0;
        st = fetch(&id, p.history + words[1], 4, stream);
        if (st != BD_OK) return st;
        bd_sample_format_history_error(msg, sizeof msg, static_cast<int64_t>(words[1]), id, p.vocab);
        return fail(BD_ERR_INVALID_ARGUMENT, "sample: %s", msg);
    }
    return BD_OK;
}

}  // namespace bd::cuda

// ---- entry points

extern "C" int64_t bd_cuda_sample_workspace_bytes(int64_t rows, int64_t vocab, int64_t max_logprobs) {
    using namespace bd::cuda;
    if (rows < 0 || rows > INT32_MAX || vocab < 1 || vocab > INT32_MAX || max_logprobs < 0 ||
        max_logprobs > BD_SAMPLE_MAX_LOGPROBS) {
        fail(BD_ERR_INVALID_ARGUMENT, "sample_workspace_bytes: bad sizes rows=%lld vocab=%lld max_logprobs=%lld",
             (long long)rows, (long long)vocab, (long long)max_logprobs);
        return -1;
    }
    return bd_sample_workspace_size(rows, vocab);
}

extern "C" int bd_cuda_sample(const bd_sample_params* p, void* stream) {
    using namespace bd::cuda;
    if (!p) return fail(BD_ERR_INVALID_ARGUMENT, "sample: null params");
    char msg[256];
    if (bd_sample_check_call(p, msg, sizeof msg)) return fail(BD_ERR_INVALID_ARGUMENT, "sample: %s", msg);
    if (p->rows == 0) return BD_OK;
    BD_CHECK(reinterpret_cast<uintptr_t>(p->workspace) % 8 == 0, "sample", "workspace must be 8-byte aligned");
    const cudaStream_t s = as_stream(stream);
    auto* flags = static_cast<unsigned long long*>(p->workspace);
    auto* slots = reinterpret_cast<float*>(static_cast<char*>(p->workspace) + SAMPLE_WORKSPACE_HEADER);
    if (p->check_inputs) {
        const int st = check_cuda(cudaMemsetAsync(flags, 0xff, 2 * sizeof(unsigned long long), s), "sample: cudaMemsetAsync");
        if (st != BD_OK) return st;
    }
    int st = BD_OK;
    BD_DISPATCH_FLOAT(p->dtype, T, st = launch_sample<T>(*p, flags, slots, s));
    if (st != BD_OK || !p->check_inputs) return st;
    return report(*p, flags, s);
}

extern "C" int bd_cuda_sample_flat(const void* logits, int dtype, int64_t rows, int64_t vocab, int64_t row_stride,
                                   const float* temperature, const int32_t* top_k, const float* top_p, const float* min_p,
                                   const float* repetition_penalty, const float* presence_penalty,
                                   const float* frequency_penalty, const uint64_t* seed, const int64_t* step,
                                   const int32_t* n_logprobs, const int32_t* history, const int64_t* history_offsets,
                                   const int32_t* history_prompt, int64_t history_len, int32_t* out_ids,
                                   float* out_logprobs, int32_t* top_ids, float* top_logprobs, int64_t max_logprobs,
                                   float* processed, void* workspace, int64_t workspace_bytes, int check_inputs,
                                   void* stream) {
    bd_sample_params p = {logits, dtype, rows, vocab, row_stride, temperature, top_k, top_p, min_p,
                          repetition_penalty, presence_penalty, frequency_penalty, seed, step, n_logprobs,
                          history, history_offsets, history_prompt, history_len, out_ids, out_logprobs,
                          top_ids, top_logprobs, max_logprobs, processed, workspace, workspace_bytes, check_inputs};
    return bd_cuda_sample(&p, stream);
}
