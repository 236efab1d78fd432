// Shared pieces of the MoE / MoD native tests: a seeded RNG, typed host tensors, a pass/fail
// report, error measures (NMSE, max abs), and plain double-precision references written as the
// obvious loops (the oracle both backends are checked against).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "braindrip/moe.h"
#include "braindrip/ops.h"
#include "cpu_common.hpp"

namespace moetest {

using bd::cpu::load;
using bd::cpu::round_to;
using bd::cpu::store;

// ---- randomness (seeded; the seed is printed on failure)

struct Rng {
    uint64_t s;
    explicit Rng(uint64_t seed) : s(seed * 0x9E3779B97F4A7C15ull + 1) {}
    uint64_t next() {
        uint64_t z = (s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    double uniform() { return (next() >> 11) * (1.0 / 9007199254740992.0); }
    double normal() {
        double u1 = uniform(), u2 = uniform();
        if (u1 < 1e-300) u1 = 1e-300;
        return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
    }
    int64_t range(int64_t n) { return static_cast<int64_t>(next() % static_cast<uint64_t>(n)); }
};

inline size_t dsize(int dt) { return dt == BD_F32 || dt == BD_I32 ? 4 : 2; }
inline const char* dname(int dt) { return dt == BD_F32 ? "f32" : dt == BD_F16 ? "f16" : dt == BD_BF16 ? "bf16" : "?"; }

// A host tensor of float storage type dt; values read back as double (exactly as stored).
struct Tensor {
    int dt = BD_F32;
    int64_t n = 0;
    std::vector<unsigned char> raw;
    Tensor() = default;
    Tensor(int dtype, int64_t count) : dt(dtype), n(count), raw(static_cast<size_t>(count) * dsize(dtype) + 64, 0) {}
    void* data() { return raw.data(); }
    const void* data() const { return raw.data(); }
    size_t bytes() const { return static_cast<size_t>(n) * dsize(dt); }
    double get(int64_t i) const { return load(raw.data(), dt, i); }
    void set(int64_t i, double v) { store(raw.data(), dt, i, static_cast<float>(v)); }
    std::vector<double> values() const {
        std::vector<double> v(static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i) v[i] = get(i);
        return v;
    }
};

inline Tensor randn(int dt, int64_t n, Rng& rng, double scale = 1.0) {
    Tensor t(dt, n);
    for (int64_t i = 0; i < n; ++i) t.set(i, rng.normal() * scale);
    return t;
}

// ---- report

struct Report {
    int passed = 0, failed = 0;
    uint64_t seed = 0;
    bool verbose = false;
    void check(bool ok, const char* fmt, ...) __attribute__((format(printf, 3, 4))) {
        char buf[512];
        va_list ap;
        va_start(ap, fmt);
        std::vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        if (ok) {
            ++passed;
            if (verbose) std::printf("  ok    %s\n", buf);
        } else {
            ++failed;
            std::printf("  FAIL  %s (seed %llu)\n", buf, static_cast<unsigned long long>(seed));
        }
        std::fflush(stdout);
    }
    int finish() const {
        std::printf("%d passed, %d failed\n", passed, failed);
        return failed == 0 ? 0 : 1;
    }
};

// Normalized mean squared error of a against reference b.
inline double nmse(const std::vector<double>& a, const std::vector<double>& b) {
    double num = 0, den = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        num += (a[i] - b[i]) * (a[i] - b[i]);
        den += b[i] * b[i];
    }
    return den > 0 ? num / den : num;
}

inline double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
    double m = 0;
    for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
    return m;
}

inline double max_abs(const std::vector<double>& a) {
    double m = 0;
    for (double v : a) m = std::max(m, std::fabs(v));
    return m;
}

inline bool all_finite(const std::vector<double>& a) {
    for (double v : a)
        if (!std::isfinite(v)) return false;
    return true;
}

// ---- router reference (double)

struct RouteCase {
    const char* name;
    int64_t T, E, k;
    int routing;
    int norm;
    int64_t G, TG;
    float scaling, cf;
    bool bias;
    int logits_dt;
    int kind;  // 0 random normal, 1 integer ties, 2 skewed towards expert 0
};

inline double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// ids (T, k), weights (T, k), counts (E) after drops, stats (3); mirrors the contract in moe.h.
inline void ref_route(const RouteCase& c, const std::vector<double>& logits, const std::vector<float>& bias,
                      std::vector<int32_t>& ids, std::vector<double>& w, std::vector<int32_t>& counts,
                      double stats[3]) {
    const int64_t T = c.T, E = c.E, k = c.k;
    ids.assign(static_cast<size_t>(T * k), -1);
    w.assign(static_cast<size_t>(T * k), 0.0);
    std::vector<int64_t> pre(static_cast<size_t>(E), 0);
    std::vector<double> prob(static_cast<size_t>(E), 0.0);
    double zsum = 0;
    for (int64_t t = 0; t < T; ++t) {
        std::vector<double> z(static_cast<size_t>(E)), sel(static_cast<size_t>(E)), s(static_cast<size_t>(E));
        for (int64_t e = 0; e < E; ++e) {
            z[e] = logits[t * E + e];
            if (c.routing == BD_MOE_ROUTE_TOPK_SOFTMAX && c.bias) z[e] = static_cast<float>(z[e] + bias[e]);
        }
        for (int64_t e = 0; e < E; ++e) {
            s[e] = sigmoid(z[e]);
            sel[e] = c.routing == BD_MOE_ROUTE_SIGMOID_GROUPED ? s[e] + (c.bias ? bias[e] : 0.0) : z[e];
        }
        std::vector<char> allowed(static_cast<size_t>(E), 1);
        if (c.routing == BD_MOE_ROUTE_SIGMOID_GROUPED && c.G > 1) {
            const int64_t gs = E / c.G;
            std::vector<std::pair<double, int64_t>> gsc;
            for (int64_t g = 0; g < c.G; ++g) {
                std::vector<double> v(sel.begin() + g * gs, sel.begin() + (g + 1) * gs);
                std::sort(v.begin(), v.end(), std::greater<double>());
                gsc.push_back({-(v[0] + v[1]), g});
            }
            std::sort(gsc.begin(), gsc.end());  // best first, lower id on ties
            std::vector<char> keep(static_cast<size_t>(c.G), 0);
            for (int64_t i = 0; i < c.TG; ++i) keep[gsc[i].second] = 1;
            for (int64_t e = 0; e < E; ++e) allowed[e] = keep[e / gs];
        }
        std::vector<std::pair<double, int64_t>> order;
        for (int64_t e = 0; e < E; ++e)
            if (allowed[e]) order.push_back({-sel[e], e});
        std::sort(order.begin(), order.end());
        double mx = *std::max_element(z.begin(), z.end()), se = 0;
        for (int64_t e = 0; e < E; ++e) se += std::exp(z[e] - mx);
        const double lse = mx + std::log(se);
        double tot = 0, ssum = 0;
        for (int64_t e = 0; e < E; ++e) ssum += s[e];
        for (int64_t j = 0; j < k; ++j) {
            const int64_t e = order[j].second;
            ids[t * k + j] = static_cast<int32_t>(e);
            double v;
            switch (c.routing) {
                case BD_MOE_ROUTE_TOPK_SOFTMAX: v = std::exp(z[e] - z[order[0].second]); break;
                case BD_MOE_ROUTE_SIGMOID_GROUPED: v = s[e]; break;
                default: v = std::exp(z[e] - lse); break;
            }
            w[t * k + j] = v;
            tot += v;
        }
        const bool normalize = c.routing == BD_MOE_ROUTE_TOPK_SOFTMAX || c.norm;
        for (int64_t j = 0; j < k; ++j) {
            if (normalize) w[t * k + j] /= tot;
            w[t * k + j] *= c.scaling;
            ++pre[ids[t * k + j]];
        }
        for (int64_t e = 0; e < E; ++e)
            prob[e] += c.routing == BD_MOE_ROUTE_SIGMOID_GROUPED ? s[e] / ssum : std::exp(z[e] - lse);
        zsum += lse * lse;
    }
    counts.assign(static_cast<size_t>(E), 0);
    double dropped = 0;
    if (c.routing == BD_MOE_ROUTE_TOP1_CAPACITY) {
        const int64_t cap = static_cast<int64_t>(std::ceil(static_cast<double>(c.cf) * T / E));
        for (int64_t t = 0; t < T; ++t) {
            const int32_t e = ids[t];
            if (counts[e] >= cap) {
                ids[t] = -1;
                w[t] = 0;
                ++dropped;
            } else {
                ++counts[e];
            }
        }
    } else {
        for (int64_t i = 0; i < T * k; ++i) ++counts[ids[i]];
    }
    double aux = 0;
    for (int64_t e = 0; e < E; ++e) aux += (static_cast<double>(pre[e]) / (T * k)) * (prob[e] / T);
    stats[0] = E * aux;
    stats[1] = zsum / T;
    stats[2] = dropped;
}

inline std::vector<double> route_logits(const RouteCase& c, Rng& rng) {
    std::vector<double> l(static_cast<size_t>(c.T * c.E));
    for (int64_t t = 0; t < c.T; ++t)
        for (int64_t e = 0; e < c.E; ++e) {
            double v;
            if (c.kind == 1) v = static_cast<double>(rng.range(3));          // many exact ties
            else if (c.kind == 2) v = rng.normal() + (e == 0 ? 2.5 : 0.0);  // skewed: capacity drops
            else v = rng.normal() * 2.0;
            l[t * c.E + e] = round_to(c.logits_dt, static_cast<float>(v));
        }
    return l;
}

// ---- expert reference (double; optionally rounding like a naive low-precision implementation)

struct MoeShape {
    int64_t T, H, F, E, k;
    int layout, act, dt;
    bool biases;
};

struct MoeWeights {
    Tensor w_gate, w_up, b_gate, b_up, w_down, b_down;
    bool has_bias = false;
};

inline MoeWeights make_weights(const MoeShape& s, Rng& rng) {
    MoeWeights w;
    const double sg = 1.0 / std::sqrt(static_cast<double>(s.H)), sd = 1.0 / std::sqrt(static_cast<double>(s.F));
    if (s.layout == BD_MOE_GU_SEPARATE) {
        w.w_gate = randn(s.dt, s.E * s.F * s.H, rng, sg);
        w.w_up = randn(s.dt, s.E * s.F * s.H, rng, sg);
        if (s.biases) {
            w.b_gate = randn(s.dt, s.E * s.F, rng, 0.5);
            w.b_up = randn(s.dt, s.E * s.F, rng, 0.5);
        }
    } else {
        w.w_gate = randn(s.dt, s.E * 2 * s.F * s.H, rng, sg);
        if (s.biases) w.b_gate = randn(s.dt, s.E * 2 * s.F, rng, 0.5);
    }
    w.w_down = randn(s.dt, s.E * s.H * s.F, rng, sd);
    if (s.biases) w.b_down = randn(s.dt, s.E * s.H, rng, 0.5);
    w.has_bias = s.biases;
    return w;
}

inline const void* ptr_or_null(const Tensor& t) { return t.n ? t.data() : nullptr; }

inline int64_t gate_row(const MoeShape& s, int64_t e, int64_t f) {
    return s.layout == BD_MOE_GU_INTERLEAVED ? e * 2 * s.F + 2 * f : s.layout == BD_MOE_GU_CONCAT ? e * 2 * s.F + f : e * s.F + f;
}
inline int64_t up_row(const MoeShape& s, int64_t e, int64_t f) {
    return s.layout == BD_MOE_GU_INTERLEAVED ? e * 2 * s.F + 2 * f + 1 : s.layout == BD_MOE_GU_CONCAT ? e * 2 * s.F + s.F + f : e * s.F + f;
}

inline double ref_glu(int act, double g, double u) {
    switch (act) {
        case BD_MOE_ACT_GEGLU: return 0.5 * g * (1.0 + std::erf(g / std::sqrt(2.0))) * u;
        case BD_MOE_ACT_GEGLU_TANH: return 0.5 * g * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (g + 0.044715 * g * g * g))) * u;
        case BD_MOE_ACT_SWIGLU_OAI: {
            g = std::min(g, 7.0);
            u = std::max(-7.0, std::min(u, 7.0));
            return (u + 1.0) * g * sigmoid(1.702 * g);
        }
        default: return g * sigmoid(g) * u;
    }
}

// rnd: storage type to round intermediates to (BD_F32 with lowp=false: pure double).
inline double rd(bool lowp, int dt, double v) { return lowp ? round_to(dt, static_cast<float>(v)) : v; }

// act (F) of expert e for one input row xr (H values as stored).
inline std::vector<double> ref_act_row(const MoeShape& s, const MoeWeights& w, int64_t e, const double* xr, bool lowp) {
    std::vector<double> a(static_cast<size_t>(s.F));
    const Tensor& wu = s.layout == BD_MOE_GU_SEPARATE ? w.w_up : w.w_gate;
    const Tensor& bu = s.layout == BD_MOE_GU_SEPARATE ? w.b_up : w.b_gate;
    for (int64_t f = 0; f < s.F; ++f) {
        double g = 0, u = 0;
        const int64_t gr = gate_row(s, e, f), ur = up_row(s, e, f);
        for (int64_t h = 0; h < s.H; ++h) {
            g += xr[h] * w.w_gate.get(gr * s.H + h);
            u += xr[h] * wu.get(ur * s.H + h);
        }
        if (w.has_bias) {
            g += w.b_gate.get(gr);
            u += bu.get(ur);
        }
        a[f] = rd(lowp, s.dt, ref_glu(s.act, rd(lowp, s.dt, g), rd(lowp, s.dt, u)));
    }
    return a;
}

// down (H) of expert e for an act row, times weight.
inline std::vector<double> ref_down_row(const MoeShape& s, const MoeWeights& w, int64_t e, const double* ar,
                                        double weight, bool lowp) {
    std::vector<double> o(static_cast<size_t>(s.H));
    for (int64_t h = 0; h < s.H; ++h) {
        double v = 0;
        for (int64_t f = 0; f < s.F; ++f) v += ar[f] * w.w_down.get((e * s.H + h) * s.F + f);
        if (w.has_bias) v += w.b_down.get(e * s.H + h);
        o[h] = rd(lowp, s.dt, weight * rd(lowp, s.dt, v));
    }
    return o;
}

// The dense MoE layer, expert by expert: y[t] = sum_j w_tj * expert_{id_tj}(x[t]) (+ gated shared).
inline std::vector<double> ref_layer(const MoeShape& s, const MoeWeights& w, const Tensor& x, const std::vector<int32_t>& ids,
                                     const std::vector<double>& wts, const Tensor* shared, const std::vector<float>* gate_logits,
                                     bool lowp) {
    std::vector<double> y(static_cast<size_t>(s.T * s.H), 0.0);
    std::vector<double> xr(static_cast<size_t>(s.H));
    for (int64_t t = 0; t < s.T; ++t) {
        for (int64_t h = 0; h < s.H; ++h) xr[h] = x.get(t * s.H + h);
        for (int64_t j = 0; j < s.k; ++j) {
            const int32_t e = ids[t * s.k + j];
            if (e < 0) continue;
            std::vector<double> a = ref_act_row(s, w, e, xr.data(), lowp);
            std::vector<double> o = ref_down_row(s, w, e, a.data(), wts[t * s.k + j], lowp);
            for (int64_t h = 0; h < s.H; ++h) y[t * s.H + h] += o[h];
        }
        if (shared) {
            const double g = gate_logits ? sigmoid((*gate_logits)[t]) : 1.0;
            for (int64_t h = 0; h < s.H; ++h) y[t * s.H + h] += g * shared->get(t * s.H + h);
        }
        if (lowp)
            for (int64_t h = 0; h < s.H; ++h) y[t * s.H + h] = rd(true, s.dt, y[t * s.H + h]);
    }
    return y;
}

// Random routing for GEMM tests: k distinct experts per token, a few slots dropped when asked.
inline std::vector<int32_t> random_ids(int64_t T, int64_t E, int64_t k, Rng& rng, bool drops, bool skew) {
    std::vector<int32_t> ids(static_cast<size_t>(T * k));
    for (int64_t t = 0; t < T; ++t) {
        std::vector<int32_t> pool;
        for (int64_t e = 0; e < E; ++e) pool.push_back(static_cast<int32_t>(e));
        for (int64_t j = 0; j < k; ++j) {
            int64_t pick = skew ? std::min<int64_t>(rng.range(pool.size()), rng.range(pool.size())) : rng.range(pool.size());
            ids[t * k + j] = pool[pick];
            pool.erase(pool.begin() + pick);
        }
    }
    if (drops)
        for (int64_t i = 0; i < T * k; ++i)
            if (rng.range(7) == 0) ids[i] = -1;
    return ids;
}

inline std::vector<float> random_weights(int64_t n, Rng& rng) {
    std::vector<float> w(static_cast<size_t>(n));
    for (auto& v : w) v = static_cast<float>(0.1 + rng.uniform());
    return w;
}

// ---- MoD reference

inline std::vector<int32_t> ref_mod_route(const std::vector<float>& r, int64_t k) {
    std::vector<int64_t> idx(r.size());
    for (size_t i = 0; i < r.size(); ++i) idx[i] = static_cast<int64_t>(i);
    auto key = [&](int64_t i) { return std::isnan(r[i]) ? -INFINITY : static_cast<double>(r[i]); };
    std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) {
        if (std::isnan(r[a]) != std::isnan(r[b])) return std::isnan(r[b]);  // NaN ranks lowest
        return key(a) > key(b);
    });
    std::vector<int32_t> sel(idx.begin(), idx.begin() + k);
    std::sort(sel.begin(), sel.end());
    return sel;
}

// gpt-oss's clamps (gate <= 7, |up| <= 7) only bite on large pre-activations: scale x up for it.
inline double x_scale(int act) { return act == BD_MOE_ACT_SWIGLU_OAI ? 8.0 : 1.0; }

// ---- shared case tables (both test binaries run them)

inline const RouteCase kRouteCases[] = {
    {"softmax_topk mixtral", 37, 8, 2, BD_MOE_ROUTE_SOFTMAX_TOPK, 1, 0, 0, 1.f, 0.f, false, BD_F32, 0},
    {"softmax_topk one token", 1, 8, 2, BD_MOE_ROUTE_SOFTMAX_TOPK, 1, 0, 0, 1.f, 0.f, false, BD_F32, 0},
    {"softmax_topk k=E E=7", 5, 7, 7, BD_MOE_ROUTE_SOFTMAX_TOPK, 0, 0, 0, 1.f, 0.f, false, BD_F32, 0},
    {"softmax_topk ties", 16, 6, 3, BD_MOE_ROUTE_SOFTMAX_TOPK, 1, 0, 0, 1.f, 0.f, false, BD_F32, 1},
    {"softmax_topk empty experts E=64", 3, 64, 2, BD_MOE_ROUTE_SOFTMAX_TOPK, 1, 0, 0, 1.f, 0.f, false, BD_F32, 0},
    {"softmax_topk qwen3 bf16 logits", 29, 128, 8, BD_MOE_ROUTE_SOFTMAX_TOPK, 1, 0, 0, 1.f, 0.f, false, BD_BF16, 0},
    {"softmax_topk E=1000 f16 logits", 7, 1000, 5, BD_MOE_ROUTE_SOFTMAX_TOPK, 0, 0, 0, 1.f, 0.f, false, BD_F16, 0},
    {"topk_softmax gpt-oss bias", 19, 32, 4, BD_MOE_ROUTE_TOPK_SOFTMAX, 0, 0, 0, 1.f, 0.f, true, BD_F32, 0},
    {"topk_softmax k=E", 4, 5, 5, BD_MOE_ROUTE_TOPK_SOFTMAX, 0, 0, 0, 1.f, 0.f, true, BD_F32, 0},
    {"topk_softmax ties", 9, 10, 3, BD_MOE_ROUTE_TOPK_SOFTMAX, 0, 0, 0, 1.f, 0.f, false, BD_F32, 1},
    {"sigmoid_grouped deepseek-v3", 23, 64, 8, BD_MOE_ROUTE_SIGMOID_GROUPED, 1, 8, 4, 2.5f, 0.f, true, BD_F32, 0},
    {"sigmoid_grouped E=12 G=3", 11, 12, 5, BD_MOE_ROUTE_SIGMOID_GROUPED, 1, 3, 2, 1.f, 0.f, true, BD_F32, 0},
    {"sigmoid no groups", 13, 20, 6, BD_MOE_ROUTE_SIGMOID_GROUPED, 0, 1, 1, 1.f, 0.f, true, BD_F32, 0},
    {"sigmoid_grouped ties", 8, 16, 4, BD_MOE_ROUTE_SIGMOID_GROUPED, 1, 4, 2, 1.f, 0.f, false, BD_F32, 1},
    {"sigmoid_grouped one token E=256", 1, 256, 8, BD_MOE_ROUTE_SIGMOID_GROUPED, 1, 8, 4, 2.5f, 0.f, true, BD_BF16, 0},
    {"top1_capacity drops cf=1", 50, 5, 1, BD_MOE_ROUTE_TOP1_CAPACITY, 0, 0, 0, 1.f, 1.f, false, BD_F32, 2},
    {"top1_capacity cf=0.5", 40, 4, 1, BD_MOE_ROUTE_TOP1_CAPACITY, 0, 0, 0, 1.f, 0.5f, false, BD_F32, 2},
    {"top1_capacity one token", 1, 8, 1, BD_MOE_ROUTE_TOP1_CAPACITY, 0, 0, 0, 1.f, 1.25f, false, BD_F32, 0},
    {"top1_capacity E=3 cf=2", 10, 3, 1, BD_MOE_ROUTE_TOP1_CAPACITY, 0, 0, 0, 1.f, 2.f, false, BD_F32, 0},
};

struct LayerCase {
    const char* name;
    MoeShape s;
    RouteCase r;
    int shared;  // 0 none, 1 shared without gate, 2 shared with sigmoid gate
    int path;
};

inline const LayerCase kLayerCases[] = {
    {"mixtral-like bf16", {19, 64, 48, 8, 2, BD_MOE_GU_SEPARATE, BD_MOE_ACT_SWIGLU, BD_BF16, false},
     {"", 19, 8, 2, BD_MOE_ROUTE_SOFTMAX_TOPK, 1, 0, 0, 1.f, 0.f, false, BD_F32, 0}, 0, BD_MOE_PATH_AUTO},
    {"mixtral-like f32", {19, 64, 48, 8, 2, BD_MOE_GU_SEPARATE, BD_MOE_ACT_SWIGLU, BD_F32, false},
     {"", 19, 8, 2, BD_MOE_ROUTE_SOFTMAX_TOPK, 1, 0, 0, 1.f, 0.f, false, BD_F32, 0}, 0, BD_MOE_PATH_AUTO},
    {"gpt-oss-like bf16", {13, 48, 32, 16, 4, BD_MOE_GU_INTERLEAVED, BD_MOE_ACT_SWIGLU_OAI, BD_BF16, true},
     {"", 13, 16, 4, BD_MOE_ROUTE_TOPK_SOFTMAX, 0, 0, 0, 1.f, 0.f, true, BD_BF16, 0}, 0, BD_MOE_PATH_AUTO},
    {"deepseek-like f16 + shared", {21, 56, 24, 32, 6, BD_MOE_GU_CONCAT, BD_MOE_ACT_SWIGLU, BD_F16, false},
     {"", 21, 32, 6, BD_MOE_ROUTE_SIGMOID_GROUPED, 1, 8, 3, 2.5f, 0.f, true, BD_F32, 0}, 1, BD_MOE_PATH_AUTO},
    {"qwen2-moe-like bf16 + gated shared", {9, 40, 16, 12, 4, BD_MOE_GU_SEPARATE, BD_MOE_ACT_GEGLU, BD_BF16, false},
     {"", 9, 12, 4, BD_MOE_ROUTE_SOFTMAX_TOPK, 0, 0, 0, 1.f, 0.f, false, BD_F32, 0}, 2, BD_MOE_PATH_AUTO},
    {"switch top1 capacity f32", {40, 32, 24, 4, 1, BD_MOE_GU_SEPARATE, BD_MOE_ACT_GEGLU_TANH, BD_F32, false},
     {"", 40, 4, 1, BD_MOE_ROUTE_TOP1_CAPACITY, 0, 0, 0, 1.f, 1.f, false, BD_F32, 2}, 0, BD_MOE_PATH_AUTO},
    {"decode 3 tokens bf16", {3, 64, 48, 8, 2, BD_MOE_GU_SEPARATE, BD_MOE_ACT_SWIGLU, BD_BF16, false},
     {"", 3, 8, 2, BD_MOE_ROUTE_SOFTMAX_TOPK, 1, 0, 0, 1.f, 0.f, false, BD_F32, 0}, 0, BD_MOE_PATH_AUTO},
    {"decode 3 tokens bf16 forced grouped", {3, 64, 48, 8, 2, BD_MOE_GU_SEPARATE, BD_MOE_ACT_SWIGLU, BD_BF16, false},
     {"", 3, 8, 2, BD_MOE_ROUTE_SOFTMAX_TOPK, 1, 0, 0, 1.f, 0.f, false, BD_F32, 0}, 0, BD_MOE_PATH_GROUPED},
    {"odd sizes f16", {33, 37, 13, 5, 2, BD_MOE_GU_INTERLEAVED, BD_MOE_ACT_SWIGLU, BD_F16, true},
     {"", 33, 5, 2, BD_MOE_ROUTE_SOFTMAX_TOPK, 1, 0, 0, 1.f, 0.f, false, BD_F32, 0}, 1, BD_MOE_PATH_AUTO},
};

}  // namespace moetest
