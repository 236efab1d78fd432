// The batched token sampler on the CPU (contract in braindrip/sample.h): penalties, temperature,
// top-k, top-p, min-p and the Philox exponential race per row, plus the raw logprobs.
//   logits: (rows, vocab) at row_stride; per-row parameters (rows); workspace: one F32 slot per
//   logit of every row (the penalty state, then the processed logits s).
// The CUDA twin (cuda/sample.cu) runs the same algorithm with a thread block per row: the same
// passes, the same 64-bit rank keys, and the same radix select of the kept set (8-bit digits from
// the top of the key, a count or fixed-point-mass histogram per digit, exact integer sums), so
// the kept sets are identical, and every float that decides a kept set or the draw is computed by
// the shared functions of braindrip/sample_draw.h with contraction off (CMakeLists.txt) — the two
// backends choose the same id bit for bit. Only the logprobs' log-sum-exp differs in rounding.
// Rows run in parallel (OpenMP); a row's result depends on nothing but its own inputs. The race
// skips kept ids too far below the best key so far to win (exact; on real logits most of the row).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "braindrip/sample.h"
#include "braindrip/sample_draw.h"
#include "cpu_common.hpp"

namespace bd::cpu {

namespace {

constexpr int64_t WORKSPACE_HEADER = 256;  // the CUDA twin's error words; unused here
constexpr int64_t SMALL_TOP = 32;          // top logprobs up to this many: one insertion pass

// A candidate of a radix select: its rank key and its weight (1 or the fixed-point mass).
struct Cand {
    uint64_t key;
    uint64_t weight;
};

// ---- kernels

// The kept set {key >= threshold} of a radix select over `c` (consumed): by count, the `target`
// largest keys (target <= c.size()); by mass, the largest keys up to and including the one at which
// the mass counted from the top first reaches `target`. Digit by digit from the top, the bucket
// where the running total crosses the target is refined; the walk stops early when that bucket
// is exactly filled (count) or holds a single key (mass). cuda/sample.cu's block_select mirrors it.
uint64_t radix_select(std::vector<Cand>& c, uint64_t target, bool by_mass) {
    uint64_t prefix = 0, above = 0;
    for (int shift = 56; shift >= 0; shift -= 8) {
        uint64_t cnt[256] = {}, mass[256] = {};
        for (const Cand& e : c) {
            const unsigned b = static_cast<unsigned>(e.key >> shift) & 255u;
            ++cnt[b];
            mass[b] += e.weight;
        }
        int b = 255;
        for (; b > 0; --b) {
            const uint64_t w = by_mass ? mass[b] : cnt[b];
            if (above + w >= target) break;
            above += w;
        }
        prefix |= static_cast<uint64_t>(b) << shift;
        const bool done = by_mass ? cnt[b] == 1 : above + cnt[b] == target;
        if (done || shift == 0) return prefix;
        size_t n = 0;
        for (const Cand& e : c)
            if ((static_cast<unsigned>(e.key >> shift) & 255u) == static_cast<unsigned>(b)) c[n++] = e;
        c.resize(n);
    }
    return prefix;
}

struct RowScratch {
    std::vector<Cand> cand;
    std::vector<uint64_t> top;
};

struct Row {
    const bd_sample_params& p;
    int64_t r;
    int64_t vocab;
    const void* x;  // the row's logits, element 0
    float* buf;     // (vocab) workspace slots
    RowScratch& sc;

    float logit(int64_t i) const { return bd_sample_clean(load(x, p.dtype, i)); }

    // log-sum-exp of the raw logits (-inf when they all are)
    float raw_lse() const {
        float m = -INFINITY;
        for (int64_t i = 0; i < vocab; ++i) m = std::max(m, logit(i));
        if (m == -INFINITY) return m;
        float s = 0.f;
        for (int64_t i = 0; i < vocab; ++i) s += std::exp(logit(i) - m);
        return m + std::log(s);
    }

    // top_ids / top_logprobs of this row: the n largest raw logits, then -1 / -inf
    void top_logprobs(int64_t n, float lse) {
        int32_t* ids = p.top_ids + r * p.max_logprobs;
        float* lp = p.top_logprobs + r * p.max_logprobs;
        const int64_t k = std::min(n, vocab);
        sc.top.clear();
        if (k > 0 && k <= SMALL_TOP) {
            // one pass keeping the k largest keys sorted: the same ids as the select below (keys are distinct)
            sc.top.assign(static_cast<size_t>(k), 0);
            for (int64_t i = 0; i < vocab; ++i) {
                const uint64_t key = bd_sample_rank_key(logit(i), static_cast<uint32_t>(i));
                if (key <= sc.top[k - 1]) continue;
                int64_t j = k - 1;
                for (; j > 0 && sc.top[j - 1] < key; --j) sc.top[j] = sc.top[j - 1];
                sc.top[j] = key;
            }
        } else if (k > 0) {
            uint64_t thr = 0;
            if (k < vocab) {
                sc.cand.resize(static_cast<size_t>(vocab));
                for (int64_t i = 0; i < vocab; ++i) sc.cand[i] = {bd_sample_rank_key(logit(i), static_cast<uint32_t>(i)), 1};
                thr = radix_select(sc.cand, static_cast<uint64_t>(k), false);
            }
            for (int64_t i = 0; i < vocab; ++i) {
                const uint64_t key = bd_sample_rank_key(logit(i), static_cast<uint32_t>(i));
                if (key >= thr) sc.top.push_back(key);
            }
            std::sort(sc.top.begin(), sc.top.end(), std::greater<uint64_t>());
        }
        for (int64_t j = 0; j < p.max_logprobs; ++j) {
            if (j < k) {
                const uint32_t id = bd_sample_key_index(sc.top[j]);
                ids[j] = static_cast<int32_t>(id);
                lp[j] = lse == -INFINITY ? -INFINITY : logit(id) - lse;
            } else {
                ids[j] = -1;
                lp[j] = -INFINITY;
            }
        }
    }

    // buf = s (or z for greedy rows): penalties from the history state, then the temperature
    void process(float temperature, float rep, float presence, float frequency) {
        uint32_t* state = reinterpret_cast<uint32_t*>(buf);
        const bool pen = bd_sample_has_penalty(rep, presence, frequency);
        if (pen) {
            std::memset(state, 0, static_cast<size_t>(vocab) * 4);
            const int64_t a = p.history_offsets[r], b = p.history_offsets[r + 1], prompt_end = a + p.history_prompt[r];
            for (int64_t j = a; j < b; ++j) {
                const int32_t id = p.history[j];
                if (j < prompt_end) state[id] |= BD_SAMPLE_PROMPT_BIT;
                else ++state[id];
            }
        }
        for (int64_t i = 0; i < vocab; ++i) {
            const float x = logit(i);
            const float z = pen ? bd_sample_penalize(x, state[i], rep, presence, frequency) : x;
            buf[i] = temperature > 0.f ? z / temperature : z;
        }
    }

    // the chosen id of a sampling row; writes processed when asked
    uint32_t draw(int32_t top_k, float top_p, float min_p, uint64_t seed, int64_t step) {
        uint64_t best = 0;
        for (int64_t i = 0; i < vocab; ++i) best = std::max(best, bd_sample_rank_key(buf[i], static_cast<uint32_t>(i)));
        const float s_max = buf[bd_sample_key_index(best)];
        uint64_t thr = 0;
        if (top_k > 0 && top_k < vocab) {
            sc.cand.resize(static_cast<size_t>(vocab));
            for (int64_t i = 0; i < vocab; ++i) sc.cand[i] = {bd_sample_rank_key(buf[i], static_cast<uint32_t>(i)), 1};
            thr = radix_select(sc.cand, static_cast<uint64_t>(top_k), false);
        }
        const bool finite_max = s_max > -INFINITY;
        if (finite_max && top_p < 1.f) {
            const int shift = bd_sample_mass_shift(vocab);
            sc.cand.clear();
            uint64_t total = 0;
            for (int64_t i = 0; i < vocab; ++i) {
                const uint64_t key = bd_sample_rank_key(buf[i], static_cast<uint32_t>(i));
                if (key < thr) continue;
                const uint64_t q = bd_sample_mass(bd_sample_exp_nonpos(buf[i] - s_max), shift);
                sc.cand.push_back({key, q});
                total += q;
            }
            thr = std::max(thr, radix_select(sc.cand, bd_sample_top_p_target(top_p, total), true));
        }
        const bool use_min_p = finite_max && min_p > 0.f;
        const float ln_min_p = use_min_p ? bd_sample_logf(min_p) : 0.f;
        float* processed = p.processed ? p.processed + r * vocab : nullptr;
        // the race, seeded with the largest s (always kept); ids that cannot beat the best so far are skipped
        const uint32_t top = bd_sample_key_index(best);
        float pick_race = bd_sample_race(s_max, seed, step, top);
        uint64_t pick = bd_sample_rank_key(pick_race, top);
        for (int64_t i = 0; i < vocab; ++i) {
            const float s = buf[i];
            const bool kept = bd_sample_rank_key(s, static_cast<uint32_t>(i)) >= thr && (!use_min_p || s - s_max >= ln_min_p);
            if (processed) processed[i] = kept ? s : -INFINITY;
            if (!kept || i == top || bd_sample_race_cannot_win(s, pick_race)) continue;
            const float race = bd_sample_race(s, seed, step, static_cast<uint32_t>(i));
            const uint64_t key = bd_sample_rank_key(race, static_cast<uint32_t>(i));
            if (key > pick) {
                pick = key;
                pick_race = race;
            }
        }
        return bd_sample_key_index(pick);
    }

    void run() {
        const float temperature = p.temperature[r];
        const int32_t n_top = p.max_logprobs > 0 ? p.n_logprobs[r] : 0;
        const bool want_lse = p.out_logprobs || n_top > 0;
        const float lse = want_lse ? raw_lse() : 0.f;
        if (p.max_logprobs > 0) top_logprobs(n_top, lse);
        process(temperature, p.repetition_penalty[r], p.presence_penalty[r], p.frequency_penalty[r]);
        uint32_t id;
        if (temperature == 0.f) {
            uint64_t best = 0;
            for (int64_t i = 0; i < vocab; ++i) best = std::max(best, bd_sample_rank_key(buf[i], static_cast<uint32_t>(i)));
            id = bd_sample_key_index(best);
            if (p.processed) std::memcpy(p.processed + r * vocab, buf, static_cast<size_t>(vocab) * 4);
        } else {
            id = draw(p.top_k[r], p.top_p[r], p.min_p[r], p.seed[r], p.step[r]);
        }
        p.out_ids[r] = static_cast<int32_t>(id);
        if (p.out_logprobs) p.out_logprobs[r] = lse == -INFINITY ? -INFINITY : logit(id) - lse;
    }
};

// ---- launchers

int sample(const bd_sample_params& p) {
    float* slots = reinterpret_cast<float*>(static_cast<char*>(p.workspace) + WORKSPACE_HEADER);
    const size_t elem = static_cast<size_t>(p.dtype == BD_F32 ? 4 : 2);
#pragma omp parallel if (p.rows > 1 && p.rows * p.vocab >= (1 << 14))
    {
        RowScratch sc;
#pragma omp for schedule(dynamic, 1)
        for (int64_t r = 0; r < p.rows; ++r) {
            Row row{p, r, p.vocab, static_cast<const char*>(p.logits) + static_cast<size_t>(r * p.row_stride) * elem,
                    slots + r * p.vocab, sc};
            row.run();
        }
    }
    return BD_OK;
}

// Every argument before any memory is touched: the scalars, then each row's values (by row, then
// field), then the history ids (lowest position first); the CUDA entry reports the same first error.
int check(const bd_sample_params* p) {
    if (!p) return fail(BD_ERR_INVALID_ARGUMENT, "sample: null params");
    char msg[256];
    if (bd_sample_check_call(p, msg, sizeof msg)) return fail(BD_ERR_INVALID_ARGUMENT, "sample: %s", msg);
    if (p->rows == 0) return BD_OK;
    for (int64_t r = 0; r < p->rows; ++r) {
        const int64_t a = p->history_offsets[r], b = p->history_offsets[r + 1];
        const int field = bd_sample_check_row(p->temperature[r], p->top_p[r], p->min_p[r], p->repetition_penalty[r],
                                              p->presence_penalty[r], p->frequency_penalty[r], p->n_logprobs[r],
                                              p->max_logprobs, a, b, p->history_prompt[r], p->history_len);
        if (field == BD_SAMPLE_OK) continue;
        const double values[] = {p->temperature[r], p->top_p[r], p->min_p[r], p->repetition_penalty[r], p->presence_penalty[r],
                                 p->frequency_penalty[r], static_cast<double>(p->n_logprobs[r]), 0.0,
                                 static_cast<double>(p->history_prompt[r])};
        bd_sample_format_row_error(msg, sizeof msg, field, r, values[field], p->max_logprobs, a, b, p->history_len);
        return fail(BD_ERR_INVALID_ARGUMENT, "sample: %s", msg);
    }
    for (int64_t j = p->history_offsets[0]; j < p->history_offsets[p->rows]; ++j) {
        if (p->history[j] >= 0 && p->history[j] < p->vocab) continue;
        bd_sample_format_history_error(msg, sizeof msg, j, p->history[j], p->vocab);
        return fail(BD_ERR_INVALID_ARGUMENT, "sample: %s", msg);
    }
    return BD_OK;
}

}  // namespace

}  // namespace bd::cpu

// ---- entry points

extern "C" int64_t bd_cpu_sample_workspace_bytes(int64_t rows, int64_t vocab, int64_t max_logprobs) {
    using namespace bd::cpu;
    if (rows < 0 || rows > INT32_MAX || vocab < 1 || vocab > INT32_MAX || max_logprobs < 0 ||
        max_logprobs > BD_SAMPLE_MAX_LOGPROBS) {
        fail(BD_ERR_INVALID_ARGUMENT, "sample_workspace_bytes: bad sizes rows=%lld vocab=%lld max_logprobs=%lld",
             (long long)rows, (long long)vocab, (long long)max_logprobs);
        return -1;
    }
    return bd_sample_workspace_size(rows, vocab);
}

extern "C" int bd_cpu_sample(const bd_sample_params* p, void* stream) {
    using namespace bd::cpu;
    const int st = check(p);
    if (st != BD_OK || p->rows == 0) return st;
    return sample(*p);
}

extern "C" int bd_cpu_sample_flat(const void* logits, int dtype, int64_t rows, int64_t vocab, int64_t row_stride,
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
    return bd_cpu_sample(&p, stream);
}
