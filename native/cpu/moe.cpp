// Mixture-of-Experts on the CPU: the twin of native/cuda/moe_*.cu, same contract (moe.h), same
// algorithm and the same rounding points, so every CUDA result has a CPU result to match.
//   router   one token at a time (OpenMP over tokens): F32 scores, k rounds of argmax with ties
//            to the lower expert id, then the routing's weights; capacity drops walk tokens in order.
//   align    sequential counting sort of the T*k slots (stable: ascending slot ids per expert).
//   GEMMs    work items of (up to 64 rows of one expert) x (one output column block), OpenMP
//            dynamic over items; F16/BF16 rows are converted to F32 once per item (F32 rows are
//            read in place) and multiplied by a 4 x 2 register-blocked dot-product kernel over GCC
//            vector types (the compiler emits AVX2 FMAs with register accumulators). Every output
//            element is the same lane-wise dot product whatever the blocking, so the grouped path,
//            the decode path (which batches the slots of each expert without sorted buffers) and a
//            per-expert loop of calls agree bit for bit. Measured on 2 loaded cores, Mixtral-shaped
//            H 1024 / F 3584: grouped 212 ms vs per-expert loop 533 ms at 16 tokens, 591 vs 1056 at
//            128 (F32); before batching the decode path by expert it was 544 ms at 16 tokens.
//   combine  k slot rows summed in slot order in F32, rounded once.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <vector>

#include "braindrip/cpu_runtime.h"
#include "braindrip/moe.h"
#include "braindrip/moe_plan.h"
#include "cpu_common.hpp"

namespace bd::cpu {

constexpr int64_t PARALLEL_MIN = 1 << 14;  // elements below which the calling thread does a loop

// The vendor SGEMM of bd_cpu_set_sgemm (NULL: the own kernel).
static std::atomic<bd_cpu_sgemm_fn> g_sgemm{nullptr};

// ---- kernels

namespace {

typedef float v8f __attribute__((vector_size(32)));

inline v8f load8(const float* p) {
    v8f v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

// Fixed-order horizontal sum (the CPU's summation order for every dot product).
inline float hsum(v8f a) { return ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7])); }

// Selection key: NaN counts as -inf, so it is never chosen before a number.
inline float sel_key(float v) { return std::isnan(v) ? -INFINITY : v; }
inline bool better(float v1, int i1, float v2, int i2) { return v1 > v2 || (v1 == v2 && i1 < i2); }

inline float sigmoidf(float x) { return 1.f / (1.f + std::exp(-x)); }

// act(gate, up) in F32 (bd_moe_act); the CUDA epilogue uses the same formulas.
inline float glu(int act, float g, float u) {
    switch (act) {
        case BD_MOE_ACT_GEGLU: return 0.5f * g * (1.f + std::erf(g * 0.70710678118654752f)) * u;
        case BD_MOE_ACT_GEGLU_TANH: {
            const float c = 0.7978845608028654f;
            return 0.5f * g * (1.f + std::tanh(c * (g + 0.044715f * g * g * g))) * u;
        }
        case BD_MOE_ACT_SWIGLU_OAI: {
            g = g > 7.f ? 7.f : g;
            u = u > 7.f ? 7.f : (u < -7.f ? -7.f : u);
            return (u + 1.f) * g * sigmoidf(1.702f * g);
        }
        default: return g * sigmoidf(g) * u;
    }
}

// n values of a float tensor of storage dt, starting at element off, into dst as F32.
void to_f32(const void* src, int dt, int64_t off, int64_t n, float* dst) {
    if (dt == BD_F32) {
        std::memcpy(dst, static_cast<const float*>(src) + off, static_cast<size_t>(n) * 4);
    } else if (dt == BD_BF16) {
        const uint16_t* s = static_cast<const uint16_t*>(src) + off;
        for (int64_t i = 0; i < n; ++i) {
            uint32_t u = static_cast<uint32_t>(s[i]) << 16;
            std::memcpy(&dst[i], &u, 4);
        }
    } else {
        const uint16_t* s = static_cast<const uint16_t*>(src) + off;
        for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(s[i]);
    }
}

// ---- router

struct RouterCtx {
    const bd_moe_router_params* p;
    int64_t E, k;
};

// Loads row t of the logits as F32, with the router bias for TOPK_SOFTMAX (the values whose
// logsumexp is the z-loss).
void load_logits(const bd_moe_router_params* p, int64_t t, float* z) {
    to_f32(p->logits, p->logits_dtype, t * p->experts, p->experts, z);
    if (p->routing == BD_MOE_ROUTE_TOPK_SOFTMAX && p->bias)
        for (int64_t e = 0; e < p->experts; ++e) z[e] += p->bias[e];
}

float row_lse(const float* z, int64_t E) {
    float m = -INFINITY;
    for (int64_t e = 0; e < E; ++e) m = std::max(m, sel_key(z[e]));
    if (m == -INFINITY) return -INFINITY;
    float s = 0.f;
    for (int64_t e = 0; e < E; ++e) s += std::exp(z[e] - m);
    return m + std::log(s);
}

// Routes one token: ids/weights (k), and per-token stats (lse, sigmoid sum) when ts != NULL.
void route_token(const bd_moe_router_params* p, int64_t t, float* z, float* sel, char* allowed,
                 int32_t* ids, float* w, float* ts) {
    const int64_t E = p->experts, k = p->top_k;
    load_logits(p, t, z);
    float sigsum = 0.f;
    switch (p->routing) {
        case BD_MOE_ROUTE_SIGMOID_GROUPED:
            for (int64_t e = 0; e < E; ++e) {
                float s = sigmoidf(z[e]);
                sigsum += s;
                sel[e] = sel_key(s + (p->bias ? p->bias[e] : 0.f));
            }
            break;
        default:
            for (int64_t e = 0; e < E; ++e) sel[e] = sel_key(z[e]);
            break;
    }
    for (int64_t e = 0; e < E; ++e) allowed[e] = 1;
    if (p->routing == BD_MOE_ROUTE_SIGMOID_GROUPED && p->n_groups > 1) {
        const int64_t G = p->n_groups, gs = E / G;
        float gscore[BD_MOE_MAX_EXPERTS];
        for (int64_t g = 0; g < G; ++g) {
            float b1 = -INFINITY, b2 = -INFINITY;  // two best in the group (ties: either order sums the same)
            for (int64_t i = 0; i < gs; ++i) {
                float v = sel[g * gs + i];
                if (v > b1) { b2 = b1; b1 = v; } else if (v > b2) { b2 = v; }
            }
            gscore[g] = b1 + b2;
        }
        char keep[BD_MOE_MAX_EXPERTS] = {0};
        for (int64_t r = 0; r < p->topk_groups; ++r) {
            int64_t best = -1;
            for (int64_t g = 0; g < G; ++g)
                if (!keep[g] && (best < 0 || better(sel_key(gscore[g]), (int)g, sel_key(gscore[best]), (int)best))) best = g;
            keep[best] = 1;
        }
        for (int64_t e = 0; e < E; ++e) allowed[e] = keep[e / gs];
    }
    // k rounds of argmax; a chosen expert leaves the race.
    for (int64_t j = 0; j < k; ++j) {
        int64_t best = -1;
        for (int64_t e = 0; e < E; ++e)
            if (allowed[e] && (best < 0 || better(sel[e], (int)e, sel[best], (int)best))) best = e;
        ids[j] = static_cast<int32_t>(best);
        allowed[best] = 0;
    }
    // weights
    switch (p->routing) {
        case BD_MOE_ROUTE_SOFTMAX_TOPK:
        case BD_MOE_ROUTE_TOP1_CAPACITY: {
            float m = -INFINITY;
            for (int64_t e = 0; e < E; ++e) m = std::max(m, sel_key(z[e]));
            float s = 0.f;
            for (int64_t e = 0; e < E; ++e) s += std::exp(z[e] - m);
            float tot = 0.f;
            for (int64_t j = 0; j < k; ++j) {
                w[j] = std::exp(z[ids[j]] - m) / s;
                tot += w[j];
            }
            if (p->norm_topk)
                for (int64_t j = 0; j < k; ++j) w[j] /= tot;
            break;
        }
        case BD_MOE_ROUTE_TOPK_SOFTMAX: {
            const float m = sel[ids[0]];
            float s = 0.f;
            for (int64_t j = 0; j < k; ++j) {
                w[j] = std::exp(z[ids[j]] - m);
                s += w[j];
            }
            for (int64_t j = 0; j < k; ++j) w[j] /= s;
            break;
        }
        default: {  // SIGMOID_GROUPED: unbiased scores
            float tot = 0.f;
            for (int64_t j = 0; j < k; ++j) {
                w[j] = sigmoidf(z[ids[j]]);
                tot += w[j];
            }
            if (p->norm_topk)
                for (int64_t j = 0; j < k; ++j) w[j] /= (tot + 1e-20f);
            break;
        }
    }
    for (int64_t j = 0; j < k; ++j) w[j] *= p->scaling;
    if (ts) {
        ts[0] = row_lse(z, E);
        ts[1] = sigsum;
    }
}

int route(const bd_moe_router_params* p) {
    const int64_t T = p->tokens, E = p->experts, k = p->top_k;
    const bd_moe_router_layout lay = bd_moe_plan_router(T, E);
    char* ws = static_cast<char*>(p->workspace);
    float* tstats = p->stats ? reinterpret_cast<float*>(ws + lay.token_stats) : nullptr;
#pragma omp parallel if (T * E >= 4096)
    {
        std::vector<float> z(static_cast<size_t>(E)), sel(static_cast<size_t>(E));
        std::vector<char> allowed(static_cast<size_t>(E));
#pragma omp for schedule(static)
        for (int64_t t = 0; t < T; ++t)
            route_token(p, t, z.data(), sel.data(), allowed.data(), p->topk_ids + t * k, p->topk_weights + t * k,
                        tstats ? tstats + 2 * t : nullptr);
    }
    // counts before drops, then capacity drops in token order
    std::vector<int64_t> pre(static_cast<size_t>(E), 0), post(static_cast<size_t>(E), 0);
    int64_t dropped = 0;
    if (p->routing == BD_MOE_ROUTE_TOP1_CAPACITY) {
        const int64_t cap = bd_moe_plan_capacity(T, E, p->capacity_factor);
        for (int64_t t = 0; t < T; ++t) {
            const int32_t e = p->topk_ids[t];
            ++pre[e];
            if (post[e] >= cap) {
                p->topk_ids[t] = -1;
                p->topk_weights[t] = 0.f;
                ++dropped;
            } else {
                ++post[e];
            }
        }
    } else {
        for (int64_t s = 0; s < T * k; ++s) ++pre[p->topk_ids[s]];
        post = pre;
    }
    if (p->tokens_per_expert)
        for (int64_t e = 0; e < E; ++e) p->tokens_per_expert[e] = static_cast<int32_t>(post[e]);
    if (p->stats) {
        // P_e: mean router probability (fixed order, double accumulation)
        std::vector<double> prob(static_cast<size_t>(E), 0.0);
        std::vector<float> z(static_cast<size_t>(E));
        double zl = 0.0;
        for (int64_t t = 0; t < T; ++t) {
            load_logits(p, t, z.data());
            const float lse = tstats[2 * t], ssum = tstats[2 * t + 1];
            for (int64_t e = 0; e < E; ++e)
                prob[e] += p->routing == BD_MOE_ROUTE_SIGMOID_GROUPED ? sigmoidf(z[e]) / ssum : std::exp(z[e] - lse);
            zl += static_cast<double>(lse) * lse;
        }
        double aux = 0.0;
        for (int64_t e = 0; e < E; ++e)
            aux += (static_cast<double>(pre[e]) / static_cast<double>(T * k)) * (prob[e] / static_cast<double>(T));
        p->stats[0] = static_cast<float>(static_cast<double>(E) * aux);
        p->stats[1] = static_cast<float>(zl / static_cast<double>(T));
        p->stats[2] = static_cast<float>(dropped);
    }
    return BD_OK;
}

// ---- align

int align(const bd_moe_align_params* p) {
    const int64_t S = p->tokens * p->top_k, E = p->experts, bm = p->block_m;
    for (int64_t e = 0; e < E; ++e) p->expert_counts[e] = 0;
    for (int64_t s = 0; s < S; ++s)
        if (p->topk_ids[s] >= 0) ++p->expert_counts[p->topk_ids[s]];
    int64_t off = 0;
    for (int64_t e = 0; e < E; ++e) {
        p->expert_offsets[e] = static_cast<int32_t>(off);
        const int64_t padded = (p->expert_counts[e] + bm - 1) / bm * bm;
        for (int64_t i = 0; i < padded / bm; ++i) p->expert_ids[off / bm + i] = static_cast<int32_t>(e);
        off += padded;
    }
    p->expert_offsets[E] = static_cast<int32_t>(off);
    *p->num_tokens_post_padded = static_cast<int32_t>(off);
    for (int64_t r = 0; r < p->max_rows; ++r) p->sorted_token_ids[r] = static_cast<int32_t>(S);
    for (int64_t i = off / bm; i < p->max_rows / bm; ++i) p->expert_ids[i] = -1;
    std::vector<int64_t> next(static_cast<size_t>(E));
    for (int64_t e = 0; e < E; ++e) next[e] = p->expert_offsets[e];
    for (int64_t s = 0; s < S; ++s) {
        const int32_t e = p->topk_ids[s];
        if (e < 0) {
            p->slot_pos[s] = -1;
            continue;
        }
        const int64_t pos = next[e]++;
        p->sorted_token_ids[pos] = static_cast<int32_t>(s);
        p->slot_pos[s] = static_cast<int32_t>(pos);
    }
    return BD_OK;
}

// ---- expert GEMMs

constexpr int64_t GEMM_MB = 64;  // A rows per work item
constexpr int64_t GEMM_NB = 64;  // gate/up pairs (or down output columns) per work item

// c[i * ldc + j] = dot(a[i], w[j]) over kp (a multiple of 8; rows zero-padded), for the m x n
// block; 4 x 2 register block (8 accumulators + 6 loads fit the 16 AVX2 registers). Rows are given
// by pointer so F32 weights are read in place and converted rows come from scratch alike.
void dot_block(const float* const* a, int64_t m, const float* const* w, int64_t n, int64_t kp, float* c, int64_t ldc) {
    int64_t i = 0;
    for (; i + 4 <= m; i += 4) {
        int64_t j = 0;
        for (; j + 2 <= n; j += 2) {
            v8f acc[4][2] = {};
            const float *w0 = w[j], *w1 = w[j + 1];
            const float *a0 = a[i], *a1 = a[i + 1], *a2 = a[i + 2], *a3 = a[i + 3];
            for (int64_t kk = 0; kk < kp; kk += 8) {
                const v8f b0 = load8(w0 + kk), b1 = load8(w1 + kk);
                v8f av = load8(a0 + kk);
                acc[0][0] += av * b0;
                acc[0][1] += av * b1;
                av = load8(a1 + kk);
                acc[1][0] += av * b0;
                acc[1][1] += av * b1;
                av = load8(a2 + kk);
                acc[2][0] += av * b0;
                acc[2][1] += av * b1;
                av = load8(a3 + kk);
                acc[3][0] += av * b0;
                acc[3][1] += av * b1;
            }
            for (int r = 0; r < 4; ++r) {
                c[(i + r) * ldc + j] = hsum(acc[r][0]);
                c[(i + r) * ldc + j + 1] = hsum(acc[r][1]);
            }
        }
        for (; j < n; ++j)
            for (int r = 0; r < 4; ++r) {
                v8f acc = {};
                for (int64_t kk = 0; kk < kp; kk += 8) acc += load8(a[i + r] + kk) * load8(w[j] + kk);
                c[(i + r) * ldc + j] = hsum(acc);
            }
    }
    for (; i < m; ++i) {  // row tail: 1 x 4
        int64_t j = 0;
        for (; j + 4 <= n; j += 4) {
            v8f acc[4] = {};
            for (int64_t kk = 0; kk < kp; kk += 8) {
                const v8f av = load8(a[i] + kk);
                for (int q = 0; q < 4; ++q) acc[q] += av * load8(w[j + q] + kk);
            }
            for (int q = 0; q < 4; ++q) c[i * ldc + j + q] = hsum(acc[q]);
        }
        for (; j < n; ++j) {
            v8f acc = {};
            for (int64_t kk = 0; kk < kp; kk += 8) acc += load8(a[i] + kk) * load8(w[j] + kk);
            c[i * ldc + j] = hsum(acc);
        }
    }
}

// Element offsets of gate row f and up row f of expert e (and of their biases) by layout.
struct GateUpRows {
    int layout;
    int64_t F, H;
    int64_t gate(int64_t e, int64_t f) const {
        switch (layout) {
            case BD_MOE_GU_INTERLEAVED: return e * 2 * F + 2 * f;
            case BD_MOE_GU_CONCAT: return e * 2 * F + f;
            default: return e * F + f;
        }
    }
    int64_t up(int64_t e, int64_t f) const {
        switch (layout) {
            case BD_MOE_GU_INTERLEAVED: return e * 2 * F + 2 * f + 1;
            case BD_MOE_GU_CONCAT: return e * 2 * F + F + f;
            default: return e * F + f;
        }
    }
};

// One A row of a work item: where it comes from and where its result goes.
struct RowRef {
    int64_t a_row;   // row of x (gate/up) or of act_in (down)
    int64_t out_row; // row of act_out (gate/up) or y_slots (down)
    float weight;    // routing weight (down only)
};

struct Scratch {
    std::vector<float> a, w, c;
    std::vector<const float*> arow, wrow;
    void reserve(int64_t m, int64_t n, int64_t kp) {
        a.assign(static_cast<size_t>(m * kp), 0.f);
        w.assign(static_cast<size_t>(n * kp), 0.f);
        c.assign(static_cast<size_t>(m * n), 0.f);
        arow.assign(static_cast<size_t>(m), nullptr);
        wrow.assign(static_cast<size_t>(n), nullptr);
    }
};

// Row `row` of a (rows, K) tensor of storage dt as F32 of length kp: in place when it already is
// (F32 with K % 8 == 0), else converted into buf (whose zero padding was set by reserve()).
inline const float* f32_row(const void* src, int dt, int64_t row, int64_t K, float* buf) {
    if (dt == BD_F32 && K % 8 == 0) return static_cast<const float*>(src) + row * K;
    to_f32(src, dt, row * K, K, buf);
    return buf;
}

// act_out[out_row, f0:f1) for rows of expert e.
void gate_up_item(const bd_moe_expert_params* p, const void* x, void* act_out, int64_t e, const RowRef* rows,
                  int64_t m, int64_t f0, int64_t f1, Scratch& sc) {
    const int64_t H = p->hidden, F = p->ffn, kp = (H + 7) / 8 * 8, nf = f1 - f0;
    const int dt = p->dtype;
    const GateUpRows gr{p->gate_up_layout, F, H};
    const void* wu = p->gate_up_layout == BD_MOE_GU_SEPARATE ? p->w_up : p->w_gate;
    const void* bu = p->gate_up_layout == BD_MOE_GU_SEPARATE ? p->b_up : p->b_gate;
    for (int64_t i = 0; i < m; ++i) sc.arow[i] = f32_row(x, dt, rows[i].a_row, H, &sc.a[i * kp]);
    for (int64_t f = 0; f < nf; ++f) {  // W rows: gate f, up f, gate f+1, ...
        sc.wrow[2 * f] = f32_row(p->w_gate, dt, gr.gate(e, f0 + f), H, &sc.w[(2 * f) * kp]);
        sc.wrow[2 * f + 1] = f32_row(wu, dt, gr.up(e, f0 + f), H, &sc.w[(2 * f + 1) * kp]);
    }
    dot_block(sc.arow.data(), m, sc.wrow.data(), 2 * nf, kp, sc.c.data(), 2 * nf);
    for (int64_t i = 0; i < m; ++i)
        for (int64_t f = 0; f < nf; ++f) {
            float g = sc.c[i * 2 * nf + 2 * f], u = sc.c[i * 2 * nf + 2 * f + 1];
            if (p->b_gate) {
                g += load(p->b_gate, dt, gr.gate(e, f0 + f));
                u += load(bu, dt, gr.up(e, f0 + f));
            }
            store(act_out, dt, rows[i].out_row * F + f0 + f, glu(p->act, g, u));
        }
}

// y_slots[out_row, h0:h1) = weight * (act_in[a_row] . w_down[e, h]^T + b_down[e, h]).
void down_item(const bd_moe_expert_params* p, const void* act_in, void* y_slots, int64_t e, const RowRef* rows,
               int64_t m, int64_t h0, int64_t h1, Scratch& sc) {
    const int64_t H = p->hidden, F = p->ffn, kp = (F + 7) / 8 * 8, nh = h1 - h0;
    const int dt = p->dtype;
    for (int64_t i = 0; i < m; ++i) sc.arow[i] = f32_row(act_in, dt, rows[i].a_row, F, &sc.a[i * kp]);
    for (int64_t h = 0; h < nh; ++h) sc.wrow[h] = f32_row(p->w_down, dt, e * H + h0 + h, F, &sc.w[h * kp]);
    dot_block(sc.arow.data(), m, sc.wrow.data(), nh, kp, sc.c.data(), nh);
    for (int64_t i = 0; i < m; ++i)
        for (int64_t h = 0; h < nh; ++h) {
            float v = sc.c[i * nh + h];
            if (p->b_down) v += load(p->b_down, dt, e * H + h0 + h);
            store(y_slots, dt, rows[i].out_row * H + h0 + h, rows[i].weight * v);
        }
}

// A work item: a run of rows of one expert times one column block.
struct Item {
    int64_t e, row0, nrows, col0, col1;
};

// Runs the work items (a run of rows of one expert x one column block) in parallel.
void run_items(const bd_moe_expert_params* p, const void* in, void* out, bool down, const std::vector<RowRef>& refs,
               const std::vector<Item>& items) {
    const int64_t kp = ((down ? p->ffn : p->hidden) + 7) / 8 * 8;
#pragma omp parallel if (items.size() > 1)
    {
        Scratch sc;
        sc.reserve(GEMM_MB, 2 * GEMM_NB, kp);
#pragma omp for schedule(dynamic, 1)
        for (int64_t i = 0; i < static_cast<int64_t>(items.size()); ++i) {
            const Item& it = items[i];
            if (down)
                down_item(p, in, out, it.e, &refs[it.row0], it.nrows, it.col0, it.col1, sc);
            else
                gate_up_item(p, in, out, it.e, &refs[it.row0], it.nrows, it.col0, it.col1, sc);
        }
    }
}

// Splits refs[first, end) (rows of expert e) into items of GEMM_MB rows x one column block.
void add_items(const bd_moe_expert_params* p, bool down, int64_t e, int64_t first, int64_t end, std::vector<Item>& items) {
    const int64_t cols = down ? p->hidden : p->ffn, nb = down ? 2 * GEMM_NB : GEMM_NB;
    for (int64_t r0 = first; r0 < end; r0 += GEMM_MB)
        for (int64_t c0 = 0; c0 < cols; c0 += nb)
            items.push_back({e, r0, std::min(GEMM_MB, end - r0), c0, std::min(cols, c0 + nb)});
}

// ---- expert GEMMs through the vendor SGEMM (F32, bd_cpu_set_sgemm)
//
// Each expert's rows are one GEMM: gate/up C = A · W^T over the expert's (F or 2F, H) block of
// weights, A the expert's x rows gathered into scratch; down C = act · Wd^T with the expert's act
// rows (contiguous in the sorted order, read in place). The SGEMM runs with the vendor's own
// threads from the calling thread, one expert after another; the epilogue (bias, activation,
// routing weight, scatter to slots) runs on the OpenMP team. Same F32 products, another summation
// order than dot_block, so results agree with the own kernel to rounding, not bit for bit.

constexpr int CBLAS_ROW_MAJOR = 101, CBLAS_NO_TRANS = 111, CBLAS_TRANS = 112;
// Experts with fewer rows take the own kernel (their GEMMs are weight-streaming GEMVs, where
// dot_block reads each weight once and the SGEMM packs it first).
constexpr int64_t SGEMM_MIN_ROWS = 16;

// Scratch of the calling thread, kept between calls (grows, never shrinks): no page faults per call.
struct BlasScratch {
    std::vector<float> a, c;
};
thread_local BlasScratch t_blas;

float* grown(std::vector<float>& v, int64_t n) {
    if (static_cast<int64_t>(v.size()) < n) v.resize(static_cast<size_t>(n));
    return v.data();
}

// act_out[rows[i].out_row, :] = act(x W_g^T + b_g, x W_u^T + b_u) for the m rows of expert e.
void gate_up_blas(bd_cpu_sgemm_fn gemm, const bd_moe_expert_params* p, const float* x, float* act_out, int64_t e,
                  const RowRef* rows, int64_t m) {
    const int64_t H = p->hidden, F = p->ffn;
    float* a = grown(t_blas.a, m * H);
    float* c = grown(t_blas.c, m * 2 * F);
#pragma omp parallel for schedule(static) if (m * H >= PARALLEL_MIN)
    for (int64_t i = 0; i < m; ++i) std::memcpy(a + i * H, x + rows[i].a_row * H, static_cast<size_t>(H) * 4);
    const float* wg = static_cast<const float*>(p->w_gate);
    const int M = static_cast<int>(m), N = static_cast<int>(F), K = static_cast<int>(H), ldc = static_cast<int>(2 * F);
    // C columns: SEPARATE / CONCAT gate f at f, up f at F + f; INTERLEAVED gate f at 2f, up f at 2f + 1
    if (p->gate_up_layout == BD_MOE_GU_SEPARATE) {
        gemm(CBLAS_ROW_MAJOR, CBLAS_NO_TRANS, CBLAS_TRANS, M, N, K, 1.f, a, K, wg + e * F * H, K, 0.f, c, ldc);
        gemm(CBLAS_ROW_MAJOR, CBLAS_NO_TRANS, CBLAS_TRANS, M, N, K, 1.f, a, K,
             static_cast<const float*>(p->w_up) + e * F * H, K, 0.f, c + F, ldc);
    } else {
        gemm(CBLAS_ROW_MAJOR, CBLAS_NO_TRANS, CBLAS_TRANS, M, 2 * N, K, 1.f, a, K, wg + e * 2 * F * H, K, 0.f, c, ldc);
    }
    const bool inter = p->gate_up_layout == BD_MOE_GU_INTERLEAVED;
    const GateUpRows gr{p->gate_up_layout, F, H};
    const float* bg = static_cast<const float*>(p->b_gate);
    const float* bu = static_cast<const float*>(p->gate_up_layout == BD_MOE_GU_SEPARATE ? p->b_up : p->b_gate);
    const int act = p->act;
#pragma omp parallel for schedule(static) if (m * F >= PARALLEL_MIN)
    for (int64_t i = 0; i < m; ++i) {
        const float* ci = c + i * 2 * F;
        float* out = act_out + rows[i].out_row * F;
        for (int64_t f = 0; f < F; ++f) {
            float g = inter ? ci[2 * f] : ci[f], u = inter ? ci[2 * f + 1] : ci[F + f];
            if (bg) {
                g += bg[gr.gate(e, f)];
                u += bu[gr.up(e, f)];
            }
            out[f] = glu(act, g, u);
        }
    }
}

// y_slots[rows[i].out_row, :] = weight * (act_in[rows[i].a_row] · Wd^T + b_d) for the m rows of expert e.
void down_blas(bd_cpu_sgemm_fn gemm, const bd_moe_expert_params* p, const float* act_in, float* y_slots, int64_t e,
               const RowRef* rows, int64_t m) {
    const int64_t H = p->hidden, F = p->ffn;
    bool contiguous = true;  // the sorted order keeps an expert's rows together: read them in place
    for (int64_t i = 1; i < m && contiguous; ++i) contiguous = rows[i].a_row == rows[0].a_row + i;
    const float* a = act_in + rows[0].a_row * F;
    if (!contiguous) {
        float* g = grown(t_blas.a, m * F);
#pragma omp parallel for schedule(static) if (m * F >= PARALLEL_MIN)
        for (int64_t i = 0; i < m; ++i) std::memcpy(g + i * F, act_in + rows[i].a_row * F, static_cast<size_t>(F) * 4);
        a = g;
    }
    float* c = grown(t_blas.c, m * H);
    gemm(CBLAS_ROW_MAJOR, CBLAS_NO_TRANS, CBLAS_TRANS, static_cast<int>(m), static_cast<int>(H), static_cast<int>(F), 1.f,
         a, static_cast<int>(F), static_cast<const float*>(p->w_down) + e * H * F, static_cast<int>(F), 0.f, c,
         static_cast<int>(H));
    const float* bd = static_cast<const float*>(p->b_down);
#pragma omp parallel for schedule(static) if (m * H >= PARALLEL_MIN)
    for (int64_t i = 0; i < m; ++i) {
        const float* ci = c + i * H;
        float* out = y_slots + rows[i].out_row * H;
        const float wt = rows[i].weight;
        for (int64_t h = 0; h < H; ++h) out[h] = wt * (bd ? ci[h] + bd[e * H + h] : ci[h]);
    }
}

// Grouped stages: the expert segments of the sorted order. down == false: gate/up (act_out rows =
// sorted rows; padding rows zeroed), else down (y_slots rows = slots; padding rows skipped).
int grouped(const bd_moe_expert_params* p, const void* in, void* out, bool down) {
    const int64_t S = p->tokens * p->top_k, k = p->top_k, bm = p->block_m;
    const int64_t npp = std::min<int64_t>(*p->num_tokens_post_padded, p->max_rows);
    const bd_cpu_sgemm_fn gemm = p->dtype == BD_F32 ? g_sgemm.load(std::memory_order_acquire) : nullptr;
    std::vector<RowRef> refs;
    std::vector<Item> items;
    struct Block {
        int64_t e, first, end;
    };
    std::vector<Block> blas;  // experts whose GEMMs go to the vendor SGEMM
    refs.reserve(static_cast<size_t>(npp));
    for (int64_t tile = 0; tile * bm < npp;) {
        const int32_t e = p->expert_ids[tile];
        int64_t t1 = tile;
        while (t1 * bm < npp && p->expert_ids[t1] == e) ++t1;  // the expert's segment
        if (e >= 0 && e < p->experts) {
            const int64_t first = static_cast<int64_t>(refs.size());
            for (int64_t r = tile * bm; r < std::min(t1 * bm, npp); ++r) {
                const int32_t s = p->sorted_token_ids[r];
                if (s < 0 || s >= S) {
                    if (!down)
                        for (int64_t c = 0; c < p->ffn; ++c) store(out, p->dtype, r * p->ffn + c, 0.f);
                    continue;
                }
                refs.push_back(down ? RowRef{r, s, p->topk_weights[s]} : RowRef{s / k, r, 0.f});
            }
            const int64_t end = static_cast<int64_t>(refs.size());
            if (gemm && end - first >= SGEMM_MIN_ROWS)
                blas.push_back({e, first, end});
            else
                add_items(p, down, e, first, end, items);
        }
        tile = t1;
    }
    if (!items.empty()) run_items(p, in, out, down, refs, items);
    for (const Block& b : blas) {
        if (down)
            down_blas(gemm, p, static_cast<const float*>(in), static_cast<float*>(out), b.e, &refs[b.first], b.end - b.first);
        else
            gate_up_blas(gemm, p, static_cast<const float*>(in), static_cast<float*>(out), b.e, &refs[b.first], b.end - b.first);
    }
    return BD_OK;
}

// Decode stages: no sorted buffers; the slots of each expert are still batched (ascending slot
// order) so an expert's weights are read once per column block, as in the grouped path.
int decode(const bd_moe_expert_params* p, const void* in, void* out, bool down) {
    const int64_t S = p->tokens * p->top_k, k = p->top_k;
    std::vector<std::vector<int64_t>> by_expert(static_cast<size_t>(p->experts));
    for (int64_t s = 0; s < S; ++s) {
        const int32_t e = p->topk_ids[s];
        if (e >= 0 && e < p->experts)
            by_expert[e].push_back(s);
        else if (!down)
            for (int64_t c = 0; c < p->ffn; ++c) store(out, p->dtype, s * p->ffn + c, 0.f);
    }
    std::vector<RowRef> refs;
    std::vector<Item> items;
    refs.reserve(static_cast<size_t>(S));
    for (int64_t e = 0; e < p->experts; ++e) {
        const int64_t first = static_cast<int64_t>(refs.size());
        for (int64_t s : by_expert[e]) refs.push_back(down ? RowRef{s, s, p->topk_weights[s]} : RowRef{s / k, s, 0.f});
        add_items(p, down, e, first, static_cast<int64_t>(refs.size()), items);
    }
    run_items(p, in, out, down, refs, items);
    return BD_OK;
}

int combine(const void* y_slots, const int32_t* ids, const void* shared, const float* gate_logits, int64_t T,
            int64_t k, int64_t H, void* y, int dt) {
#pragma omp parallel for schedule(static) if (T * k * H >= PARALLEL_MIN)
    for (int64_t t = 0; t < T; ++t) {
        const float g = shared ? (gate_logits ? sigmoidf(gate_logits[t]) : 1.f) : 0.f;
        for (int64_t h = 0; h < H; ++h) {
            float acc = 0.f;
            for (int64_t j = 0; j < k; ++j)
                if (ids[t * k + j] >= 0) acc += load(y_slots, dt, (t * k + j) * H + h);
            if (shared) acc += g * load(shared, dt, t * H + h);
            store(y, dt, t * H + h, acc);
        }
    }
    return BD_OK;
}

}  // namespace

// ---- launchers

static int check_plan(int st, const char* msg) { return st ? fail(st, "%s", msg) : BD_OK; }

static int run_router(const bd_moe_router_params* p) {
    char msg[256];
    if (int st = bd_moe_plan_check_router(p, msg, sizeof msg)) return check_plan(st, msg);
    if (p->tokens == 0) {
        if (p->tokens_per_expert) std::memset(p->tokens_per_expert, 0, static_cast<size_t>(p->experts) * 4);
        if (p->stats) std::memset(p->stats, 0, BD_MOE_STATS_COUNT * 4);
        return BD_OK;
    }
    return route(p);
}

static int run_align(const bd_moe_align_params* p) {
    char msg[256];
    if (int st = bd_moe_plan_check_align(p, msg, sizeof msg)) return check_plan(st, msg);
    if (p->tokens == 0) return BD_OK;
    return align(p);
}

static int run_experts(const bd_moe_expert_params* p, int stage, const void* in, void* out) {
    char msg[256];
    if (int st = bd_moe_plan_check_experts(p, stage, msg, sizeof msg)) return check_plan(st, msg);
    if (p->tokens == 0) return BD_OK;
    BD_CHECK(in && out, "moe_experts", "null input or output tensor");
    switch (stage) {
        case 0: return grouped(p, in, out, false);
        case 1: return grouped(p, in, out, true);
        case 2: return decode(p, in, out, false);
        default: return decode(p, in, out, true);
    }
}

static int run_forward(const bd_moe_forward_params* f) {
    const bd_moe_expert_params& x = f->experts;
    const bd_moe_router_params& r = f->router;
    BD_CHECK(x.tokens == r.tokens && x.experts == r.experts && x.top_k == r.top_k, "moe_forward",
             "router and expert sizes differ (tokens %lld/%lld, experts %lld/%lld, top_k %lld/%lld)",
             (long long)r.tokens, (long long)x.tokens, (long long)r.experts, (long long)x.experts,
             (long long)r.top_k, (long long)x.top_k);
    BD_CHECK(f->path >= BD_MOE_PATH_AUTO && f->path <= BD_MOE_PATH_GROUPED_SIMT, "moe_forward", "unknown path %d", f->path);
    const int64_t T = x.tokens, H = x.hidden, F = x.ffn, E = x.experts, k = x.top_k;
    const bd_moe_forward_layout lay = bd_moe_plan_forward(T, H, F, E, k, x.dtype);
    if (T == 0) return BD_OK;
    BD_CHECK(f->x && f->y && f->workspace, "moe_forward", "null x, y or workspace");
    BD_CHECK(f->workspace_bytes >= lay.bytes, "moe_forward", "workspace (%lld bytes) must hold moe_workspace_bytes = %lld",
             (long long)f->workspace_bytes, (long long)lay.bytes);
    char* ws = static_cast<char*>(f->workspace);
    bd_moe_router_params rp = r;
    rp.workspace = ws + lay.router;
    rp.workspace_bytes = lay.sorted_token_ids - lay.router;
    if (int st = run_router(&rp)) return st;
    bd_moe_expert_params ep = x;
    ep.topk_ids = r.topk_ids;
    ep.topk_weights = r.topk_weights;
    void* act = ws + lay.act;
    void* y_slots = ws + lay.y_slots;
    int path = f->path == BD_MOE_PATH_AUTO ? bd_moe_plan_gemm_path(T, k, H, F, x.dtype) : f->path;
    if (path == BD_MOE_PATH_DECODE) {
        if (int st = run_experts(&ep, 2, f->x, act)) return st;
        if (int st = run_experts(&ep, 3, act, y_slots)) return st;
    } else {
        bd_moe_align_params ap{};
        ap.topk_ids = r.topk_ids;
        ap.tokens = T;
        ap.top_k = k;
        ap.experts = E;
        ap.block_m = lay.block_m;
        ap.max_rows = lay.max_rows;
        ap.sorted_token_ids = reinterpret_cast<int32_t*>(ws + lay.sorted_token_ids);
        ap.expert_ids = reinterpret_cast<int32_t*>(ws + lay.expert_ids);
        ap.expert_offsets = reinterpret_cast<int32_t*>(ws + lay.expert_offsets);
        ap.num_tokens_post_padded = reinterpret_cast<int32_t*>(ws + lay.num_post_padded);
        ap.slot_pos = reinterpret_cast<int32_t*>(ws + lay.slot_pos);
        ap.expert_counts = reinterpret_cast<int32_t*>(ws + lay.expert_counts);
        if (int st = run_align(&ap)) return st;
        ep.sorted_token_ids = ap.sorted_token_ids;
        ep.expert_ids = ap.expert_ids;
        ep.num_tokens_post_padded = ap.num_tokens_post_padded;
        ep.block_m = lay.block_m;
        ep.max_rows = lay.max_rows;
        if (int st = run_experts(&ep, 0, f->x, act)) return st;
        if (int st = run_experts(&ep, 1, act, y_slots)) return st;
    }
    return combine(y_slots, r.topk_ids, f->shared_out, f->shared_gate_logits, T, k, H, f->y, x.dtype);
}

}  // namespace bd::cpu

// ---- entry points

using namespace bd::cpu;

extern "C" void bd_cpu_set_sgemm(void* fn) {
    g_sgemm.store(reinterpret_cast<bd_cpu_sgemm_fn>(fn), std::memory_order_release);
}

extern "C" int bd_cpu_has_sgemm(void) { return g_sgemm.load(std::memory_order_acquire) != nullptr; }

extern "C" int64_t bd_cpu_moe_block_m(int64_t tokens, int64_t top_k, int64_t experts) {
    return bd_moe_plan_block_m(tokens, top_k, experts);
}

extern "C" int64_t bd_cpu_moe_max_rows(int64_t tokens, int64_t top_k, int64_t experts, int64_t block_m) {
    return block_m < 1 ? -1 : bd_moe_plan_max_rows(tokens, top_k, experts, block_m);
}

extern "C" int bd_cpu_moe_gemm_path(int64_t tokens, int64_t top_k, int64_t hidden, int64_t ffn, int dtype) {
    if (tokens < 0 || top_k < 1 || hidden < 1 || ffn < 1 || !is_float_dtype(dtype)) return -1;
    return bd_moe_plan_gemm_path(tokens, top_k, hidden, ffn, dtype);
}

extern "C" int64_t bd_cpu_moe_router_workspace_bytes(int64_t tokens, int64_t experts) {
    return bd_moe_plan_router(tokens, experts).bytes;
}

extern "C" int64_t bd_cpu_moe_workspace_bytes(int64_t tokens, int64_t hidden, int64_t ffn, int64_t experts,
                                              int64_t top_k, int dtype) {
    return bd_moe_plan_forward(tokens, hidden, ffn, experts, top_k, dtype).bytes;
}

extern "C" int bd_cpu_moe_supports(int dtype, int64_t hidden, int64_t ffn, int64_t experts, int64_t top_k,
                                   int routing, int64_t n_groups, int64_t topk_groups, int act, int gate_up_layout) {
    char msg[256];
    if (int st = bd_moe_plan_check_supports(dtype, hidden, ffn, experts, top_k, routing, n_groups, topk_groups, act,
                                            gate_up_layout, msg, sizeof msg))
        return fail(st, "%s", msg);
    return BD_OK;
}

extern "C" int bd_cpu_moe_router(const bd_moe_router_params* p, void* stream) { return run_router(p); }

extern "C" int bd_cpu_moe_align_p(const bd_moe_align_params* p, void* stream) { return run_align(p); }

extern "C" int bd_cpu_moe_forward_p(const bd_moe_forward_params* p, void* stream) {
    BD_CHECK(p, "moe_forward", "null params");
    return run_forward(p);
}

extern "C" int bd_cpu_moe_route(const void* logits, int logits_dtype, const float* bias, int64_t tokens,
                                int64_t experts, int64_t top_k, int routing, int norm_topk, int64_t n_groups,
                                int64_t topk_groups, float scaling, float capacity_factor, int32_t* topk_ids,
                                float* topk_weights, int32_t* tokens_per_expert, float* stats, void* workspace,
                                int64_t workspace_bytes, void* stream) {
    const bd_moe_router_params p{logits,      logits_dtype,    bias,         tokens,   experts,
                                 top_k,       routing,         norm_topk,    n_groups, topk_groups,
                                 scaling,     capacity_factor, topk_ids,     topk_weights,
                                 tokens_per_expert, stats,     workspace,    workspace_bytes};
    return run_router(&p);
}

extern "C" int bd_cpu_moe_align(const int32_t* topk_ids, int64_t tokens, int64_t top_k, int64_t experts,
                                int64_t block_m, int64_t max_rows, int32_t* sorted_token_ids, int32_t* expert_ids,
                                int32_t* expert_offsets, int32_t* num_tokens_post_padded, int32_t* slot_pos,
                                int32_t* expert_counts, void* stream) {
    const bd_moe_align_params p{topk_ids,       tokens,         top_k,    experts,      block_m,
                                max_rows,       sorted_token_ids, expert_ids, expert_offsets,
                                num_tokens_post_padded, slot_pos, expert_counts};
    return run_align(&p);
}

extern "C" int bd_cpu_moe_permute(const void* x, const int32_t* sorted_token_ids,
                                  const int32_t* num_tokens_post_padded, int64_t tokens, int64_t top_k, int64_t cols,
                                  int64_t max_rows, void* out, int dtype, void* stream) {
    BD_CHECK(is_float_dtype(dtype), "moe_permute", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(tokens >= 0 && top_k >= 1 && cols >= 1 && max_rows >= 0, "moe_permute",
             "bad sizes tokens=%lld top_k=%lld cols=%lld max_rows=%lld", (long long)tokens, (long long)top_k,
             (long long)cols, (long long)max_rows);
    if (tokens == 0 || max_rows == 0) return BD_OK;
    BD_CHECK(x && sorted_token_ids && num_tokens_post_padded && out, "moe_permute", "null tensor pointer");
    const int64_t S = tokens * top_k, npp = *num_tokens_post_padded;
#pragma omp parallel for schedule(static) if (max_rows * cols >= PARALLEL_MIN)
    for (int64_t r = 0; r < max_rows; ++r) {
        const int32_t s = r < npp ? sorted_token_ids[r] : -1;
        for (int64_t c = 0; c < cols; ++c)
            store(out, dtype, r * cols + c, (s >= 0 && s < S) ? load(x, dtype, (s / top_k) * cols + c) : 0.f);
    }
    return BD_OK;
}

extern "C" int bd_cpu_moe_unpermute(const void* in, const int32_t* slot_pos, int64_t tokens, int64_t top_k,
                                    int64_t cols, int64_t max_rows, void* out, int dtype, void* stream) {
    BD_CHECK(is_float_dtype(dtype), "moe_unpermute", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(tokens >= 0 && top_k >= 1 && cols >= 1 && max_rows >= 0, "moe_unpermute",
             "bad sizes tokens=%lld top_k=%lld cols=%lld max_rows=%lld", (long long)tokens, (long long)top_k,
             (long long)cols, (long long)max_rows);
    if (tokens == 0) return BD_OK;
    BD_CHECK(in && slot_pos && out, "moe_unpermute", "null tensor pointer");
#pragma omp parallel for schedule(static) if (tokens * top_k * cols >= PARALLEL_MIN)
    for (int64_t s = 0; s < tokens * top_k; ++s) {
        const int64_t r = slot_pos[s];
        const bool ok = r >= 0 && r < max_rows;
        for (int64_t c = 0; c < cols; ++c) store(out, dtype, s * cols + c, ok ? load(in, dtype, r * cols + c) : 0.f);
    }
    return BD_OK;
}

static bd_moe_expert_params expert_params(int64_t tokens, int64_t hidden, int64_t ffn, int64_t experts, int64_t top_k,
                                          int dtype) {
    bd_moe_expert_params p{};
    p.tokens = tokens;
    p.hidden = hidden;
    p.ffn = ffn;
    p.experts = experts;
    p.top_k = top_k;
    p.dtype = dtype;
    return p;
}

extern "C" int bd_cpu_moe_gate_up(const void* x, const void* w_gate, const void* w_up, const void* b_gate,
                                  const void* b_up, int gate_up_layout, int act, const int32_t* sorted_token_ids,
                                  const int32_t* expert_ids, const int32_t* num_tokens_post_padded, int64_t tokens,
                                  int64_t hidden, int64_t ffn, int64_t experts, int64_t top_k, int64_t block_m,
                                  int64_t max_rows, void* act_out, int dtype, void* stream) {
    bd_moe_expert_params p = expert_params(tokens, hidden, ffn, experts, top_k, dtype);
    p.w_gate = w_gate; p.w_up = w_up; p.b_gate = b_gate; p.b_up = b_up;
    p.gate_up_layout = gate_up_layout; p.act = act;
    p.sorted_token_ids = sorted_token_ids; p.expert_ids = expert_ids; p.num_tokens_post_padded = num_tokens_post_padded;
    p.block_m = block_m; p.max_rows = max_rows;
    return run_experts(&p, 0, x, act_out);
}

extern "C" int bd_cpu_moe_down(const void* act_in, const void* w_down, const void* b_down, const float* topk_weights,
                               const int32_t* sorted_token_ids, const int32_t* expert_ids,
                               const int32_t* num_tokens_post_padded, int64_t tokens, int64_t hidden, int64_t ffn,
                               int64_t experts, int64_t top_k, int64_t block_m, int64_t max_rows, void* y_slots,
                               int dtype, void* stream) {
    bd_moe_expert_params p = expert_params(tokens, hidden, ffn, experts, top_k, dtype);
    p.w_down = w_down; p.b_down = b_down; p.topk_weights = topk_weights;
    p.sorted_token_ids = sorted_token_ids; p.expert_ids = expert_ids; p.num_tokens_post_padded = num_tokens_post_padded;
    p.block_m = block_m; p.max_rows = max_rows;
    return run_experts(&p, 1, act_in, y_slots);
}

extern "C" int bd_cpu_moe_gate_up_decode(const void* x, const void* w_gate, const void* w_up, const void* b_gate,
                                         const void* b_up, int gate_up_layout, int act, const int32_t* topk_ids,
                                         int64_t tokens, int64_t hidden, int64_t ffn, int64_t experts, int64_t top_k,
                                         void* act_out, int dtype, void* stream) {
    bd_moe_expert_params p = expert_params(tokens, hidden, ffn, experts, top_k, dtype);
    p.w_gate = w_gate; p.w_up = w_up; p.b_gate = b_gate; p.b_up = b_up;
    p.gate_up_layout = gate_up_layout; p.act = act; p.topk_ids = topk_ids;
    return run_experts(&p, 2, x, act_out);
}

extern "C" int bd_cpu_moe_down_decode(const void* act_in, const void* w_down, const void* b_down,
                                      const float* topk_weights, const int32_t* topk_ids, int64_t tokens,
                                      int64_t hidden, int64_t ffn, int64_t experts, int64_t top_k, void* y_slots,
                                      int dtype, void* stream) {
    bd_moe_expert_params p = expert_params(tokens, hidden, ffn, experts, top_k, dtype);
    p.w_down = w_down; p.b_down = b_down; p.topk_weights = topk_weights; p.topk_ids = topk_ids;
    return run_experts(&p, 3, act_in, y_slots);
}

extern "C" int bd_cpu_moe_combine(const void* y_slots, const int32_t* topk_ids, const void* shared_out,
                                  const float* shared_gate_logits, int64_t tokens, int64_t top_k, int64_t hidden,
                                  void* y, int dtype, void* stream) {
    BD_CHECK(is_float_dtype(dtype), "moe_combine", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(tokens >= 0 && top_k >= 1 && hidden >= 1, "moe_combine", "bad sizes tokens=%lld top_k=%lld hidden=%lld",
             (long long)tokens, (long long)top_k, (long long)hidden);
    if (tokens == 0) return BD_OK;
    BD_CHECK(y_slots && topk_ids && y, "moe_combine", "null y_slots, topk_ids or y");
    return combine(y_slots, topk_ids, shared_out, shared_gate_logits, tokens, top_k, hidden, y, dtype);
}

extern "C" int bd_cpu_moe_forward(const void* logits, int logits_dtype, const float* router_bias, const void* x,
                                  int64_t tokens, int64_t hidden, int64_t ffn, int64_t experts, int64_t top_k,
                                  int routing, int norm_topk, int64_t n_groups, int64_t topk_groups, float scaling,
                                  float capacity_factor, const void* w_gate, const void* w_up, const void* b_gate,
                                  const void* b_up, int gate_up_layout, int act, const void* w_down,
                                  const void* b_down, const void* shared_out, const float* shared_gate_logits,
                                  void* y, int32_t* topk_ids, float* topk_weights, int32_t* tokens_per_expert,
                                  float* stats, int path, void* workspace, int64_t workspace_bytes, int dtype,
                                  void* stream) {
    bd_moe_forward_params f{};
    f.router = bd_moe_router_params{logits,   logits_dtype, router_bias, tokens,      experts,
                                    top_k,    routing,      norm_topk,   n_groups,    topk_groups,
                                    scaling,  capacity_factor, topk_ids, topk_weights, tokens_per_expert,
                                    stats,    nullptr,      0};
    f.experts = expert_params(tokens, hidden, ffn, experts, top_k, dtype);
    f.experts.w_gate = w_gate; f.experts.w_up = w_up; f.experts.b_gate = b_gate; f.experts.b_up = b_up;
    f.experts.w_down = w_down; f.experts.b_down = b_down;
    f.experts.gate_up_layout = gate_up_layout; f.experts.act = act;
    f.x = x; f.shared_out = shared_out; f.shared_gate_logits = shared_gate_logits; f.y = y;
    f.path = path; f.workspace = workspace; f.workspace_bytes = workspace_bytes;
    return run_forward(&f);
}
