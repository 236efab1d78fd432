// bd_test_moe_cpu: the MoE and MoD CPU twins against plain double-precision references.
//   routers     ids exact, weights / counts / statistics vs ref_route (ties, k = E, E not a power
//               of two, empty experts, one token, groups, capacity drops)
//   align       invariants of the padded expert-contiguous order; permute then unpermute = identity
//   GEMMs       grouped gate/up and down vs a per-expert loop of plain GEMMs in double; grouped,
//               decode and per-expert calls of the same entry agree bit for bit
//   SGEMM       the same GEMM and layer checks with a stand-in SGEMM registered (bd_cpu_set_sgemm),
//               so the F32 grouped path through a vendor BLAS is judged by the same references
//   layer       moe_forward vs the dense layer computed expert by expert in double
//               (FlashAttention's rule: err <= 2 * err(naive same precision) + floor)
//   MoD         capacity, scores, route (ties, NaN, -0), causal threshold, gather, scatter_add
//   arguments   bad calls return the documented status with the op named
// Prints "N passed, M failed" alone on the last line; exits 1 on any failure.
//   usage: bd_test_moe_cpu [--seed N] [--verbose] [--bench]
#include <chrono>
#include <cstdlib>
#include <functional>

#include "braindrip/cpu_runtime.h"
#include "braindrip/moe.h"
#include "moe_mma.cuh"
#include "moe_test_util.hpp"

using namespace moetest;

namespace {

double gemm_tol(int dt) { return dt == BD_F32 ? 1e-10 : dt == BD_F16 ? 1e-6 : 2e-5; }

// ---- routers


void test_routers(Report& rep, Rng& rng) {
    std::printf("routers\n");
    for (const RouteCase& c : kRouteCases) {
        std::vector<double> lv = route_logits(c, rng);
        Tensor logits(c.logits_dt, c.T * c.E);
        for (int64_t i = 0; i < logits.n; ++i) logits.set(i, lv[i]);
        std::vector<float> bias(static_cast<size_t>(c.E));
        for (auto& b : bias) b = c.bias ? static_cast<float>(rng.normal() * 0.1) : 0.f;
        std::vector<int32_t> ids(static_cast<size_t>(c.T * c.k)), counts(static_cast<size_t>(c.E));
        std::vector<float> w(static_cast<size_t>(c.T * c.k));
        float stats[BD_MOE_STATS_COUNT];
        std::vector<char> ws(static_cast<size_t>(bd_cpu_moe_router_workspace_bytes(c.T, c.E)));
        int st = bd_cpu_moe_route(logits.data(), c.logits_dt, c.bias ? bias.data() : nullptr, c.T, c.E, c.k, c.routing,
                                  c.norm, c.G, c.TG, c.scaling, c.cf, ids.data(), w.data(), counts.data(), stats,
                                  ws.data(), static_cast<int64_t>(ws.size()), nullptr);
        if (st != BD_OK) {
            rep.check(false, "route %s: status %d (%s)", c.name, st, bd_cpu_last_error());
            continue;
        }
        std::vector<int32_t> rids, rcounts;
        std::vector<double> rw;
        double rstats[3];
        ref_route(c, lv, bias, rids, rw, rcounts, rstats);
        rep.check(ids == rids, "route %s: ids exact", c.name);
        double werr = 0;
        for (size_t i = 0; i < w.size(); ++i) werr = std::max(werr, std::fabs(w[i] - rw[i]) / std::max(1.0, std::fabs(rw[i])));
        rep.check(werr <= 2e-6 * std::max(1.f, c.scaling), "route %s: weights (max rel err %.2e)", c.name, werr);
        rep.check(counts == rcounts, "route %s: tokens_per_expert", c.name);
        bool sok = true;
        for (int i = 0; i < 3; ++i) sok = sok && std::fabs(stats[i] - rstats[i]) <= 1e-4 * std::max(1.0, std::fabs(rstats[i]));
        rep.check(sok, "route %s: stats lb %.6f/%.6f z %.6f/%.6f dropped %.0f/%.0f", c.name, stats[0], rstats[0], stats[1],
                  rstats[1], stats[2], rstats[2]);
    }
}

// ---- align, permute, unpermute

struct AlignOut {
    int64_t max_rows;
    std::vector<int32_t> sorted, tiles, offsets, slot_pos, counts;
    int32_t npp = 0;
};

AlignOut run_align(const std::vector<int32_t>& ids, int64_t T, int64_t E, int64_t k, int64_t bm) {
    AlignOut a;
    a.max_rows = bd_cpu_moe_max_rows(T, k, E, bm);
    a.sorted.assign(static_cast<size_t>(a.max_rows), -7);
    a.tiles.assign(static_cast<size_t>(a.max_rows / bm), -7);
    a.offsets.assign(static_cast<size_t>(E + 1), -7);
    a.slot_pos.assign(static_cast<size_t>(T * k), -7);
    a.counts.assign(static_cast<size_t>(E), -7);
    bd_cpu_moe_align(ids.data(), T, k, E, bm, a.max_rows, a.sorted.data(), a.tiles.data(), a.offsets.data(), &a.npp,
                     a.slot_pos.data(), a.counts.data(), nullptr);
    return a;
}

bool align_invariants(const AlignOut& a, const std::vector<int32_t>& ids, int64_t T, int64_t E, int64_t k, int64_t bm,
                      std::string& why) {
    const int64_t S = T * k;
    std::vector<int32_t> cnt(static_cast<size_t>(E), 0);
    for (int32_t e : ids)
        if (e >= 0) ++cnt[e];
    if (cnt != a.counts) return why = "counts", false;
    int64_t off = 0;
    for (int64_t e = 0; e < E; ++e) {
        if (a.offsets[e] != off) return why = "offsets", false;
        int64_t prev = -1;
        for (int64_t i = 0; i < cnt[e]; ++i) {
            const int32_t s = a.sorted[off + i];
            if (s < 0 || s >= S || ids[s] != e || s <= prev) return why = "segment order", false;
            if (a.slot_pos[s] != off + i) return why = "slot_pos", false;
            prev = s;
        }
        const int64_t padded = (cnt[e] + bm - 1) / bm * bm;
        for (int64_t i = cnt[e]; i < padded; ++i)
            if (a.sorted[off + i] != S) return why = "padding sentinel", false;
        for (int64_t i = 0; i < padded / bm; ++i)
            if (a.tiles[off / bm + i] != e) return why = "expert_ids", false;
        off += padded;
    }
    if (a.offsets[E] != off || a.npp != off) return why = "total", false;
    for (int64_t r = off; r < a.max_rows; ++r)
        if (a.sorted[r] != S) return why = "tail sentinel", false;
    for (int64_t i = off / bm; i < a.max_rows / bm; ++i)
        if (a.tiles[i] != -1) return why = "tail expert_ids", false;
    for (int64_t s = 0; s < S; ++s)
        if (ids[s] < 0 && a.slot_pos[s] != -1) return why = "dropped slot_pos", false;
    return true;
}

void test_align(Report& rep, Rng& rng) {
    std::printf("align / permute\n");
    struct C { int64_t T, E, k, bm; bool drops; };
    const C cases[] = {{37, 8, 2, 16, false}, {100, 13, 3, 1, true}, {5, 64, 4, 64, false},
                       {1, 4, 1, 16, false},  {64, 256, 8, 16, true}, {300, 8, 2, 128, false}};
    for (const C& c : cases) {
        std::vector<int32_t> ids = random_ids(c.T, c.E, c.k, rng, c.drops, true);
        AlignOut a = run_align(ids, c.T, c.E, c.k, c.bm);
        std::string why;
        const bool ok = align_invariants(a, ids, c.T, c.E, c.k, c.bm, why);
        rep.check(ok, "align T=%lld E=%lld k=%lld bm=%lld drops=%d: %s", (long long)c.T, (long long)c.E, (long long)c.k,
                  (long long)c.bm, c.drops, ok ? "invariants" : why.c_str());
        for (int dt : {BD_F32, BD_BF16}) {
            const int64_t cols = 19;
            Tensor x = randn(dt, c.T * cols, rng), perm(dt, a.max_rows * cols), back(dt, c.T * c.k * cols);
            bd_cpu_moe_permute(x.data(), a.sorted.data(), &a.npp, c.T, c.k, cols, a.max_rows, perm.data(), dt, nullptr);
            bd_cpu_moe_unpermute(perm.data(), a.slot_pos.data(), c.T, c.k, cols, a.max_rows, back.data(), dt, nullptr);
            bool same = true;
            for (int64_t s = 0; s < c.T * c.k; ++s)
                for (int64_t j = 0; j < cols; ++j) {
                    const double want = ids[s] >= 0 ? x.get((s / c.k) * cols + j) : 0.0;
                    same = same && back.get(s * cols + j) == want;
                }
            for (int64_t r = 0; r < a.max_rows; ++r)
                if (a.sorted[r] == c.T * c.k)
                    for (int64_t j = 0; j < cols; ++j) same = same && perm.get(r * cols + j) == 0.0;
            rep.check(same, "permute/unpermute round trip T=%lld E=%lld bm=%lld %s", (long long)c.T, (long long)c.E,
                      (long long)c.bm, dname(dt));
        }
    }
}

// ---- grouped GEMMs vs per-expert loops

struct GemmRun {
    AlignOut a;
    Tensor act, y_slots;
};

GemmRun run_grouped(const MoeShape& s, const MoeWeights& w, const Tensor& x, const std::vector<int32_t>& ids,
                    const std::vector<float>& tw, int64_t bm) {
    GemmRun g;
    g.a = run_align(ids, s.T, s.E, s.k, bm);
    g.act = Tensor(s.dt, g.a.max_rows * s.F);
    g.y_slots = Tensor(s.dt, s.T * s.k * s.H);
    bd_cpu_moe_gate_up(x.data(), w.w_gate.data(), ptr_or_null(w.w_up), ptr_or_null(w.b_gate), ptr_or_null(w.b_up),
                       s.layout, s.act, g.a.sorted.data(), g.a.tiles.data(), &g.a.npp, s.T, s.H, s.F, s.E, s.k, bm,
                       g.a.max_rows, g.act.data(), s.dt, nullptr);
    bd_cpu_moe_down(g.act.data(), w.w_down.data(), ptr_or_null(w.b_down), tw.data(), g.a.sorted.data(), g.a.tiles.data(),
                    &g.a.npp, s.T, s.H, s.F, s.E, s.k, bm, g.a.max_rows, g.y_slots.data(), s.dt, nullptr);
    return g;
}

// vendor: a vendor SGEMM is registered (test_vendor_sgemm); the grouped path then sums in another
// order than the decode path's own kernel, so the two must agree to the GEMM tolerance, not bitwise.
void test_gemm_case(Report& rep, Rng& rng, const MoeShape& s, int64_t bm, bool drops, bool vendor = false) {
    MoeWeights w = make_weights(s, rng);
    Tensor x = randn(s.dt, s.T * s.H, rng, x_scale(s.act));
    std::vector<int32_t> ids = random_ids(s.T, s.E, s.k, rng, drops, true);
    std::vector<float> tw = random_weights(s.T * s.k, rng);
    GemmRun g = run_grouped(s, w, x, ids, tw, bm);
    char tag[160];
    std::snprintf(tag, sizeof tag, "T=%lld H=%lld F=%lld E=%lld k=%lld bm=%lld layout=%d act=%d bias=%d %s",
                  (long long)s.T, (long long)s.H, (long long)s.F, (long long)s.E, (long long)s.k, (long long)bm,
                  s.layout, s.act, s.biases, dname(s.dt));
    // per-expert loop of plain GEMMs in double: gather the expert's rows, multiply, activate
    std::vector<double> got_act, want_act, got_y, want_y;
    bool pad_zero = true;
    for (int64_t e = 0; e < s.E; ++e) {
        for (int64_t slot = 0; slot < s.T * s.k; ++slot) {
            if (ids[slot] != e) continue;
            std::vector<double> xr(static_cast<size_t>(s.H));
            for (int64_t h = 0; h < s.H; ++h) xr[h] = x.get((slot / s.k) * s.H + h);
            const std::vector<double> a = ref_act_row(s, w, e, xr.data(), false);
            const int64_t p = g.a.slot_pos[slot];
            std::vector<double> kact(static_cast<size_t>(s.F));
            for (int64_t f = 0; f < s.F; ++f) kact[f] = g.act.get(p * s.F + f);
            got_act.insert(got_act.end(), kact.begin(), kact.end());
            want_act.insert(want_act.end(), a.begin(), a.end());
            // down from the kernel's own act, so each GEMM is judged alone
            const std::vector<double> o = ref_down_row(s, w, e, kact.data(), tw[slot], false);
            for (int64_t h = 0; h < s.H; ++h) got_y.push_back(g.y_slots.get(slot * s.H + h));
            want_y.insert(want_y.end(), o.begin(), o.end());
        }
    }
    for (int64_t r = 0; r < g.a.npp; ++r)
        if (g.a.sorted[r] == s.T * s.k)
            for (int64_t f = 0; f < s.F; ++f) pad_zero = pad_zero && g.act.get(r * s.F + f) == 0.0;
    const double na = nmse(got_act, want_act), ny = nmse(got_y, want_y);
    rep.check(all_finite(got_act) && na <= gemm_tol(s.dt), "gate_up %s: nmse %.2e", tag, na);
    rep.check(all_finite(got_y) && ny <= gemm_tol(s.dt), "down %s: nmse %.2e", tag, ny);
    rep.check(pad_zero, "gate_up %s: padding rows zero", tag);
    // decode path: same per-element arithmetic, so bitwise equal
    Tensor dact(s.dt, s.T * s.k * s.F), dy(s.dt, s.T * s.k * s.H);
    bd_cpu_moe_gate_up_decode(x.data(), w.w_gate.data(), ptr_or_null(w.w_up), ptr_or_null(w.b_gate), ptr_or_null(w.b_up),
                              s.layout, s.act, ids.data(), s.T, s.H, s.F, s.E, s.k, dact.data(), s.dt, nullptr);
    bd_cpu_moe_down_decode(dact.data(), w.w_down.data(), ptr_or_null(w.b_down), tw.data(), ids.data(), s.T, s.H, s.F,
                           s.E, s.k, dy.data(), s.dt, nullptr);
    bool same = true;
    std::vector<double> dec_act, grp_act;
    for (int64_t slot = 0; slot < s.T * s.k; ++slot) {
        if (ids[slot] < 0) continue;
        const int64_t p = g.a.slot_pos[slot];
        same = same && std::memcmp(&dact.raw[slot * s.F * dsize(s.dt)], &g.act.raw[p * s.F * dsize(s.dt)], s.F * dsize(s.dt)) == 0;
        same = same && std::memcmp(&dy.raw[slot * s.H * dsize(s.dt)], &g.y_slots.raw[slot * s.H * dsize(s.dt)], s.H * dsize(s.dt)) == 0;
        for (int64_t f = 0; f < s.F; ++f) {
            dec_act.push_back(dact.get(slot * s.F + f));
            grp_act.push_back(g.act.get(p * s.F + f));
        }
    }
    if (vendor) {
        const double nd = nmse(dec_act, grp_act);
        rep.check(nd <= gemm_tol(s.dt), "decode path ~ grouped path (vendor SGEMM) %s: nmse %.2e", tag, nd);
    } else {
        rep.check(same, "decode path == grouped path bitwise %s", tag);
    }
    // per-expert calls of the same entry (sub-pointers): bitwise equal to the grouped call
    Tensor pact(s.dt, g.a.max_rows * s.F);
    for (int64_t e = 0; e < s.E; ++e) {
        const int32_t off = g.a.offsets[e], rows = g.a.offsets[e + 1] - off;
        if (rows == 0) continue;
        bd_cpu_moe_gate_up(x.data(), w.w_gate.data(), ptr_or_null(w.w_up), ptr_or_null(w.b_gate), ptr_or_null(w.b_up),
                           s.layout, s.act, g.a.sorted.data() + off, g.a.tiles.data() + off / bm, &rows, s.T, s.H, s.F,
                           s.E, s.k, bm, rows, &pact.raw[off * s.F * dsize(s.dt)], s.dt, nullptr);
    }
    rep.check(std::memcmp(pact.raw.data(), g.act.raw.data(), g.a.npp * s.F * dsize(s.dt)) == 0,
              "per-expert calls == grouped call bitwise %s", tag);
}

void test_gemm(Report& rep, Rng& rng) {
    std::printf("grouped GEMMs\n");
    int i = 0;
    for (int dt : {BD_F32, BD_BF16, BD_F16})
        for (int layout : {BD_MOE_GU_SEPARATE, BD_MOE_GU_INTERLEAVED, BD_MOE_GU_CONCAT})
            for (int act : {BD_MOE_ACT_SWIGLU, BD_MOE_ACT_GEGLU, BD_MOE_ACT_GEGLU_TANH, BD_MOE_ACT_SWIGLU_OAI}) {
                const bool bias = (i++ % 2) == 1;
                test_gemm_case(rep, rng, MoeShape{23, 40, 24, 6, 2, layout, act, dt, bias}, 16, false);
            }
    test_gemm_case(rep, rng, MoeShape{17, 37, 13, 5, 3, BD_MOE_GU_SEPARATE, BD_MOE_ACT_SWIGLU, BD_BF16, true}, 16, true);
    test_gemm_case(rep, rng, MoeShape{17, 37, 13, 5, 3, BD_MOE_GU_INTERLEAVED, BD_MOE_ACT_SWIGLU_OAI, BD_F16, true}, 1, true);
    test_gemm_case(rep, rng, MoeShape{90, 72, 136, 4, 2, BD_MOE_GU_CONCAT, BD_MOE_ACT_GEGLU, BD_F32, false}, 64, false);
    test_gemm_case(rep, rng, MoeShape{2, 64, 32, 8, 2, BD_MOE_GU_SEPARATE, BD_MOE_ACT_SWIGLU, BD_BF16, false}, 16, false);
}

// ---- whole layer vs the dense layer in double


void test_layer_case(Report& rep, Rng& rng, const LayerCase& lc) {
    {
        const MoeShape& s = lc.s;
        const RouteCase& rc = lc.r;
        MoeWeights w = make_weights(s, rng);
        Tensor x = randn(s.dt, s.T * s.H, rng, x_scale(s.act));
        std::vector<double> lv = route_logits(rc, rng);
        Tensor logits(rc.logits_dt, s.T * s.E);
        for (int64_t i = 0; i < logits.n; ++i) logits.set(i, lv[i]);
        std::vector<float> bias(static_cast<size_t>(s.E));
        for (auto& b : bias) b = rc.bias ? static_cast<float>(rng.normal() * 0.1) : 0.f;
        Tensor shared = lc.shared ? randn(s.dt, s.T * s.H, rng, 0.5) : Tensor();
        std::vector<float> gl(static_cast<size_t>(s.T));
        for (auto& g : gl) g = static_cast<float>(rng.normal());
        Tensor y(s.dt, s.T * s.H);
        std::vector<int32_t> ids(static_cast<size_t>(s.T * s.k)), counts(static_cast<size_t>(s.E));
        std::vector<float> tw(static_cast<size_t>(s.T * s.k));
        float stats[BD_MOE_STATS_COUNT];
        std::vector<char> ws(static_cast<size_t>(bd_cpu_moe_workspace_bytes(s.T, s.H, s.F, s.E, s.k, s.dt)));
        const int st = bd_cpu_moe_forward(
            logits.data(), rc.logits_dt, rc.bias ? bias.data() : nullptr, x.data(), s.T, s.H, s.F, s.E, s.k, rc.routing,
            rc.norm, rc.G, rc.TG, rc.scaling, rc.cf, w.w_gate.data(), ptr_or_null(w.w_up), ptr_or_null(w.b_gate),
            ptr_or_null(w.b_up), s.layout, s.act, w.w_down.data(), ptr_or_null(w.b_down),
            lc.shared ? shared.data() : nullptr, lc.shared == 2 ? gl.data() : nullptr, y.data(), ids.data(), tw.data(),
            counts.data(), stats, lc.path, ws.data(), static_cast<int64_t>(ws.size()), s.dt, nullptr);
        if (st != BD_OK) {
            rep.check(false, "layer %s: status %d (%s)", lc.name, st, bd_cpu_last_error());
            return;
        }
        std::vector<int32_t> rids, rcounts;
        std::vector<double> rw;
        double rstats[3];
        ref_route(rc, lv, bias, rids, rw, rcounts, rstats);
        rep.check(ids == rids, "layer %s: routing ids", lc.name);
        std::vector<double> twd(tw.begin(), tw.end());
        const std::vector<double> ref = ref_layer(s, w, x, ids, twd, lc.shared ? &shared : nullptr, lc.shared == 2 ? &gl : nullptr, false);
        const std::vector<double> naive = ref_layer(s, w, x, ids, twd, lc.shared ? &shared : nullptr, lc.shared == 2 ? &gl : nullptr, true);
        const std::vector<double> got = y.values();
        const double ek = max_abs_diff(got, ref), en = max_abs_diff(naive, ref), floor = 1e-5 * max_abs(ref);
        rep.check(all_finite(got) && ek <= 2 * en + floor, "layer %s: max err %.2e <= 2 * naive %.2e + %.1e (nmse %.2e)",
                  lc.name, ek, en, floor, nmse(got, ref));
        if (rc.routing == BD_MOE_ROUTE_TOP1_CAPACITY)
            rep.check(stats[2] > 0, "layer %s: capacity dropped %.0f tokens", lc.name, stats[2]);
    }
}

void test_layer(Report& rep, Rng& rng) {
    std::printf("whole layer\n");
    for (const LayerCase& lc : kLayerCases) test_layer_case(rep, rng, lc);
}

// ---- the grouped GEMMs through a registered vendor SGEMM (bd_cpu_set_sgemm)

// cblas_sgemm, row major, A not transposed (the only forms the MoE kernels use), summed in F32 in
// index order: a stand-in for OpenBLAS so the plumbing (layouts, leading dimensions, epilogues,
// scratch, the own-kernel fallback for small experts) is checked without a BLAS.
int g_ref_sgemm_calls = 0, g_ref_sgemm_bad = 0;
void ref_sgemm(int order, int ta, int tb, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
               int ldb, float beta, float* c, int ldc) {
    ++g_ref_sgemm_calls;
    if (order != 101 || ta != 111 || (tb != 111 && tb != 112) || beta != 0.f) {
        ++g_ref_sgemm_bad;
        return;
    }
    for (int i = 0; i < m; ++i)
        for (int j = 0; j < n; ++j) {
            float acc = 0.f;
            for (int q = 0; q < k; ++q) acc += a[i * lda + q] * (tb == 112 ? b[j * ldb + q] : b[q * ldb + j]);
            c[i * ldc + j] = alpha * acc;
        }
}

void test_vendor_sgemm(Report& rep, Rng& rng) {
    std::printf("grouped GEMMs through a registered SGEMM\n");
    rep.check(bd_cpu_has_sgemm() == 0, "no SGEMM registered by default");
    bd_cpu_set_sgemm(reinterpret_cast<void*>(&ref_sgemm));
    rep.check(bd_cpu_has_sgemm() == 1, "bd_cpu_set_sgemm registers");
    int i = 0;
    for (int layout : {BD_MOE_GU_SEPARATE, BD_MOE_GU_INTERLEAVED, BD_MOE_GU_CONCAT})
        for (int act : {BD_MOE_ACT_SWIGLU, BD_MOE_ACT_GEGLU, BD_MOE_ACT_SWIGLU_OAI}) {
            const bool bias = (i++ % 2) == 0;
            // 61 tokens x k 2 over 4 experts: most experts past the 16 rows of the SGEMM path, some maybe not
            test_gemm_case(rep, rng, MoeShape{61, 40, 24, 4, 2, layout, act, BD_F32, bias}, 16, false, true);
        }
    test_gemm_case(rep, rng, MoeShape{90, 72, 136, 4, 2, BD_MOE_GU_CONCAT, BD_MOE_ACT_GEGLU, BD_F32, true}, 64, true, true);
    test_gemm_case(rep, rng, MoeShape{40, 37, 13, 3, 3, BD_MOE_GU_INTERLEAVED, BD_MOE_ACT_GEGLU_TANH, BD_F32, true}, 1, true, true);
    // BF16 storage keeps the own kernel (bitwise with decode) even with an SGEMM registered
    const int before = g_ref_sgemm_calls;
    test_gemm_case(rep, rng, MoeShape{61, 40, 24, 4, 2, BD_MOE_GU_SEPARATE, BD_MOE_ACT_SWIGLU, BD_BF16, false}, 16, false, false);
    rep.check(g_ref_sgemm_calls == before, "BF16: no SGEMM calls (%d)", g_ref_sgemm_calls - before);
    const LayerCase big[] = {
        {"mixtral-like f32, SGEMM", {96, 64, 48, 8, 2, BD_MOE_GU_SEPARATE, BD_MOE_ACT_SWIGLU, BD_F32, false},
         {"", 96, 8, 2, BD_MOE_ROUTE_SOFTMAX_TOPK, 1, 0, 0, 1.f, 0.f, false, BD_F32, 0}, 0, BD_MOE_PATH_AUTO},
        {"gpt-oss-like f32 + shared, SGEMM", {70, 48, 32, 4, 2, BD_MOE_GU_INTERLEAVED, BD_MOE_ACT_SWIGLU_OAI, BD_F32, true},
         {"", 70, 4, 2, BD_MOE_ROUTE_TOPK_SOFTMAX, 0, 0, 0, 1.f, 0.f, true, BD_F32, 0}, 1, BD_MOE_PATH_AUTO},
    };
    for (const LayerCase& lc : big) test_layer_case(rep, rng, lc);
    rep.check(g_ref_sgemm_calls > 0 && g_ref_sgemm_bad == 0, "SGEMM path taken (%d calls, %d unexpected forms)",
              g_ref_sgemm_calls, g_ref_sgemm_bad);
    bd_cpu_set_sgemm(nullptr);
    rep.check(bd_cpu_has_sgemm() == 0, "bd_cpu_set_sgemm(NULL) unregisters");
}

// ---- Mixture of Depths

void test_mod(Report& rep, Rng& rng) {
    std::printf("mixture of depths\n");
    struct Cap { int64_t T; float C; int64_t k; };
    const Cap caps[] = {{10, 0.3f, 3}, {8, 0.125f, 1}, {7, 0.5f, 4}, {100, 1.f, 100}, {5, 0.f, 0}, {0, 0.5f, 0}, {3, 0.01f, 1}, {4096, 0.125f, 512}};
    bool capok = true;
    for (const Cap& c : caps) capok = capok && bd_cpu_mod_capacity(c.T, c.C) == c.k;
    rep.check(capok, "mod_capacity = ceil(C*T) clamped to [1, T]");
    for (int dt : {BD_F32, BD_BF16}) {
        const int64_t T = 37, H = 24;
        Tensor x = randn(dt, T * H, rng), router = randn(dt, H, rng, 0.3);
        std::vector<float> r(static_cast<size_t>(T));
        bd_cpu_mod_scores(x.data(), router.data(), T, H, r.data(), dt, nullptr);
        std::vector<double> got(r.begin(), r.end()), want(static_cast<size_t>(T), 0.0);
        for (int64_t t = 0; t < T; ++t)
            for (int64_t h = 0; h < H; ++h) want[t] += x.get(t * H + h) * router.get(h);
        rep.check(nmse(got, want) < 1e-12, "mod_scores %s nmse %.2e", dname(dt), nmse(got, want));
        const int64_t k = bd_cpu_mod_capacity(T, 0.25f);
        std::vector<int32_t> sel(static_cast<size_t>(k));
        std::vector<float> wsel(static_cast<size_t>(k));
        float thr = 0;
        bd_cpu_mod_route(r.data(), T, k, sel.data(), wsel.data(), &thr, nullptr);
        const std::vector<int32_t> rs = ref_mod_route(r, k);
        bool wok = true;
        float mn = INFINITY;
        for (int64_t i = 0; i < k; ++i) {
            wok = wok && wsel[i] == r[sel[i]];
            mn = std::min(mn, wsel[i]);
        }
        rep.check(sel == rs && wok && thr == mn, "mod_route %s T=%lld k=%lld (selection, weights, threshold)", dname(dt),
                  (long long)T, (long long)k);
        // gather and scatter-add on the residual
        Tensor g(dt, k * H), bo = randn(dt, k * H, rng), xr = x;
        bd_cpu_mod_gather(x.data(), sel.data(), k, T, H, g.data(), dt, nullptr);
        bool gok = true;
        for (int64_t i = 0; i < k; ++i)
            for (int64_t h = 0; h < H; ++h) gok = gok && g.get(i * H + h) == x.get(sel[i] * H + h);
        rep.check(gok, "mod_gather %s", dname(dt));
        bd_cpu_mod_scatter_add(xr.data(), sel.data(), wsel.data(), bo.data(), k, T, H, dt, nullptr);
        double err = 0;
        std::vector<char> touched(static_cast<size_t>(T), 0);
        for (int64_t i = 0; i < k; ++i) touched[sel[i]] = 1;
        for (int64_t t = 0; t < T; ++t)
            for (int64_t h = 0; h < H; ++h) {
                double want_v = x.get(t * H + h);
                if (touched[t]) {
                    const int64_t i = std::find(sel.begin(), sel.end(), t) - sel.begin();
                    want_v += static_cast<double>(wsel[i]) * bo.get(i * H + h);
                }
                const double ulp = dt == BD_F32 ? 1e-6 : 1.0 / 128;
                err = std::max(err, std::fabs(xr.get(t * H + h) - want_v) / (ulp * std::max(1.0, std::fabs(want_v))));
            }
        rep.check(err <= 1.0, "mod_scatter_add %s (err %.2f ulp-units)", dname(dt), err);
    }
    // ties, NaN, -0 / +0, k = T, k = 1
    std::vector<float> r = {1.f, 2.f, 2.f, NAN, -0.f, 0.f, 2.f, -INFINITY, 1.f, 0.5f, NAN, 2.f};
    for (int64_t k : {int64_t(1), int64_t(3), int64_t(5), int64_t(7), int64_t(11), int64_t(12)}) {
        std::vector<int32_t> sel(static_cast<size_t>(k));
        std::vector<float> wsel(static_cast<size_t>(k));
        bd_cpu_mod_route(r.data(), static_cast<int64_t>(r.size()), k, sel.data(), wsel.data(), nullptr, nullptr);
        rep.check(sel == ref_mod_route(r, k), "mod_route ties/NaN/-0 k=%lld", (long long)k);
    }
    // causal threshold rule
    {
        const int64_t T = 50;
        std::vector<float> sc(static_cast<size_t>(T));
        for (auto& v : sc) v = static_cast<float>(rng.normal());
        std::vector<int32_t> sel(static_cast<size_t>(T), 99);
        std::vector<float> wsel(static_cast<size_t>(T), 99.f);
        int32_t count = -1;
        bd_cpu_mod_route_threshold(sc.data(), T, 0.3f, sel.data(), wsel.data(), &count, nullptr);
        bool ok = true;
        int32_t n = 0;
        for (int64_t t = 0; t < T; ++t)
            if (sc[t] >= 0.3f) ok = ok && sel[n] == t && wsel[n] == sc[t], ++n;
        for (int64_t i = n; i < T; ++i) ok = ok && sel[i] == -1 && wsel[i] == 0.f;
        rep.check(ok && count == n, "mod_route_threshold (count %d)", count);
    }
}

// ---- the mma.m16n8k16 fragment maps and ldmatrix addressing of native/cuda/moe_mma.cuh

void test_mma_maps(Report& rep) {
    namespace m = bd::cuda::mma;
    std::printf("mma fragment maps\n");
    bool a_ok = true, b_ok = true, c_ok = true, sw_ok = true;
    int a_seen[16][16] = {}, c_seen[16][8] = {};
    for (int l = 0; l < 32; ++l)
        for (int j = 0; j < 4; ++j) {
            // ldmatrix: lanes 8j..8j+7 address the 8 rows of matrix j; thread l receives row l/4,
            // columns 2(l%4), +1 of it in register j
            for (int i = 0; i < 8; ++i) {
                a_ok = a_ok && m::ldsm_a_row(8 * j + i) == m::ldsm_a_row(8 * j) + i && m::ldsm_a_col(8 * j + i) == m::ldsm_a_col(8 * j);
                b_ok = b_ok && m::ldsm_b_row(8 * j + i) == m::ldsm_b_row(8 * j) + i && m::ldsm_b_col(8 * j + i) == m::ldsm_b_col(8 * j);
            }
            a_ok = a_ok && m::frag_a_row(l, j) == m::ldsm_a_row(8 * j) + l / 4 && m::frag_a_col(l, j) == m::ldsm_a_col(8 * j) + 2 * (l % 4);
            // B matrix j = n8 tile j / 2, register j % 2
            b_ok = b_ok && m::frag_b_n(l) + 8 * (j / 2) == m::ldsm_b_row(8 * j) + l / 4 &&
                   m::frag_b_k(l, j % 2) == m::ldsm_b_col(8 * j) + 2 * (l % 4);
            for (int h = 0; h < 2; ++h) ++a_seen[m::frag_a_row(l, j)][m::frag_a_col(l, j) + h];
            ++c_seen[m::frag_c_row(l, j)][m::frag_c_col(l, j)];
        }
    for (int r = 0; r < 16; ++r)
        for (int c = 0; c < 16; ++c) a_ok = a_ok && a_seen[r][c] == 1;
    for (int r = 0; r < 16; ++r)
        for (int c = 0; c < 8; ++c) c_ok = c_ok && c_seen[r][c] == 1;
    for (int l = 0; l < 32; ++l)  // gate/up pairing: elements 0, 1 of a C fragment are columns 2q, 2q + 1
        c_ok = c_ok && m::frag_c_col(l, 0) % 2 == 0 && m::frag_c_col(l, 1) == m::frag_c_col(l, 0) + 1 &&
               m::frag_c_row(l, 0) == m::frag_c_row(l, 1);
    for (int base = 0; base < 64; base += 8)  // 8 consecutive 128-byte rows at one logical chunk: 8 bank groups
        for (int c = 0; c < 8; ++c) {
            int seen = 0;
            for (int r = base; r < base + 8; ++r) seen |= 1 << m::swizzle_chunk(r, c);
            sw_ok = sw_ok && seen == 0xff;
        }
    rep.check(a_ok, "A fragment map = ldmatrix.x4 delivery, covers 16x16 once");
    rep.check(b_ok, "B fragment map = ldmatrix.x4 delivery for two n8 tiles");
    rep.check(c_ok, "C fragment map covers 16x8 once; (c0, c1) adjacent columns of one row");
    rep.check(sw_ok, "swizzle: 8 rows of one chunk hit 8 different bank groups");
}

// ---- arguments

void test_args(Report& rep) {
    std::printf("argument checks\n");
    float lg[16] = {0};
    int32_t ids[16];
    float w[16];
    int st = bd_cpu_moe_route(lg, BD_F32, nullptr, 2, 4, 5, BD_MOE_ROUTE_SOFTMAX_TOPK, 0, 0, 0, 1.f, 0.f, ids, w, nullptr,
                              nullptr, nullptr, 0, nullptr);
    rep.check(st == BD_ERR_INVALID_ARGUMENT && std::strstr(bd_cpu_last_error(), "moe_route") &&
                  std::strstr(bd_cpu_last_error(), "top_k"),
              "k > E rejected: %s", bd_cpu_last_error());
    st = bd_cpu_moe_route(lg, BD_F32, nullptr, 2, 4, 2, BD_MOE_ROUTE_TOP1_CAPACITY, 0, 0, 0, 1.f, 1.f, ids, w, nullptr,
                          nullptr, nullptr, 0, nullptr);
    rep.check(st == BD_ERR_INVALID_ARGUMENT, "top1_capacity with k=2 rejected: %s", bd_cpu_last_error());
    st = bd_cpu_moe_route(lg, BD_F32, nullptr, 1, 10, 2, BD_MOE_ROUTE_SIGMOID_GROUPED, 0, 4, 2, 1.f, 0.f, ids, w, nullptr,
                          nullptr, nullptr, 0, nullptr);
    rep.check(st == BD_ERR_INVALID_ARGUMENT && std::strstr(bd_cpu_last_error(), "n_groups"),
              "groups not dividing E rejected: %s", bd_cpu_last_error());
    st = bd_cpu_moe_supports(BD_BF16, 4096, 14336, 2048, 8, BD_MOE_ROUTE_SOFTMAX_TOPK, 0, 0, BD_MOE_ACT_SWIGLU, 0);
    rep.check(st == BD_ERR_UNSUPPORTED, "E = 2048 unsupported: %s", bd_cpu_last_error());
    st = bd_cpu_moe_supports(BD_BF16, 7168, 2048, 256, 8, BD_MOE_ROUTE_SIGMOID_GROUPED, 8, 4, BD_MOE_ACT_SWIGLU, 0);
    rep.check(st == BD_OK, "DeepSeek-V3 configuration supported");
    st = bd_cpu_moe_route(lg, BD_F32, nullptr, 2, 4, 2, BD_MOE_ROUTE_SOFTMAX_TOPK, 0, 0, 0, 1.f, 0.f, ids, w, nullptr, w,
                          nullptr, 0, nullptr);
    rep.check(st == BD_ERR_INVALID_ARGUMENT && std::strstr(bd_cpu_last_error(), "workspace"),
              "stats without workspace rejected: %s", bd_cpu_last_error());
    rep.check(bd_cpu_moe_route(nullptr, BD_F32, nullptr, 0, 4, 2, 0, 0, 0, 0, 1.f, 0.f, nullptr, nullptr, nullptr,
                               nullptr, nullptr, 0, nullptr) == BD_OK,
              "zero tokens is a no-op");
}

// ---- bench: grouped forward vs a per-expert loop of calls (BENCHMARKS.md CPU shape)

double median_ms(const std::function<void()>& fn, int reps) {
    fn();
    std::vector<double> t;
    for (int i = 0; i < reps; ++i) {
        auto a = std::chrono::steady_clock::now();
        fn();
        auto b = std::chrono::steady_clock::now();
        t.push_back(std::chrono::duration<double, std::milli>(b - a).count());
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

void bench(Rng& rng) {
    std::printf("bench (CPU, %d threads): Mixtral-shaped H 1024, F 3584, E 8, k 2\n", bd_cpu_threads());
    std::printf("%-6s %-5s %12s %10s %16s\n", "tokens", "dtype", "grouped ms", "GFLOP/s", "per-expert ms");
    for (int dt : {BD_F32, BD_BF16})
        for (int64_t T : {1, 16, 128}) {
            const MoeShape s{T, 1024, 3584, 8, 2, BD_MOE_GU_SEPARATE, BD_MOE_ACT_SWIGLU, dt, false};
            MoeWeights w = make_weights(s, rng);
            Tensor x = randn(dt, T * s.H, rng), y(dt, T * s.H);
            std::vector<double> lv = route_logits({"", T, 8, 2, 0, 1, 0, 0, 1.f, 0.f, false, BD_F32, 0}, rng);
            std::vector<float> lg(lv.begin(), lv.end()), tw(static_cast<size_t>(T * 2));
            std::vector<int32_t> ids(static_cast<size_t>(T * 2));
            std::vector<char> ws(static_cast<size_t>(bd_cpu_moe_workspace_bytes(T, s.H, s.F, s.E, s.k, dt)));
            auto fwd = [&] {
                bd_cpu_moe_forward(lg.data(), BD_F32, nullptr, x.data(), T, s.H, s.F, s.E, s.k, 0, 1, 0, 0, 1.f, 0.f,
                                   w.w_gate.data(), w.w_up.data(), nullptr, nullptr, 0, 0, w.w_down.data(), nullptr,
                                   nullptr, nullptr, y.data(), ids.data(), tw.data(), nullptr, nullptr, BD_MOE_PATH_AUTO,
                                   ws.data(), static_cast<int64_t>(ws.size()), dt, nullptr);
            };
            const double ms = median_ms(fwd, 5);
            // peer: route + align once, then one gate_up and one down call per expert
            const int64_t bm = bd_cpu_moe_block_m(T, 2, 8);
            AlignOut a;
            Tensor act, ys(dt, T * 2 * s.H);
            auto peer = [&] {
                bd_cpu_moe_route(lg.data(), BD_F32, nullptr, T, 8, 2, 0, 1, 0, 0, 1.f, 0.f, ids.data(), tw.data(), nullptr,
                                 nullptr, nullptr, 0, nullptr);
                a = run_align(ids, T, 8, 2, bm);
                if (act.n != a.max_rows * s.F) act = Tensor(dt, a.max_rows * s.F);
                for (int64_t e = 0; e < 8; ++e) {
                    const int32_t off = a.offsets[e], rows = a.offsets[e + 1] - off;
                    if (!rows) continue;
                    bd_cpu_moe_gate_up(x.data(), w.w_gate.data(), w.w_up.data(), nullptr, nullptr, 0, 0, a.sorted.data() + off,
                                       a.tiles.data() + off / bm, &rows, T, s.H, s.F, 8, 2, bm, rows,
                                       &act.raw[off * s.F * dsize(dt)], dt, nullptr);
                    bd_cpu_moe_down(&act.raw[off * s.F * dsize(dt)], w.w_down.data(), nullptr, tw.data(), a.sorted.data() + off,
                                    a.tiles.data() + off / bm, &rows, T, s.H, s.F, 8, 2, bm, rows, ys.data(), dt, nullptr);
                }
                bd_cpu_moe_combine(ys.data(), ids.data(), nullptr, nullptr, T, 2, s.H, y.data(), dt, nullptr);
            };
            const double pms = median_ms(peer, 5);
            const double flops = 2.0 * T * 2 * 3 * s.H * s.F;
            std::printf("%-6lld %-5s %12.3f %10.1f %16.3f\n", (long long)T, dname(dt), ms, flops / ms / 1e6, pms);
        }
}

}  // namespace

int main(int argc, char** argv) {
    Report rep;
    uint64_t seed = 1234;
    bool do_bench = false;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--seed") && i + 1 < argc) seed = std::strtoull(argv[++i], nullptr, 10);
        else if (!std::strcmp(argv[i], "--verbose")) rep.verbose = true;
        else if (!std::strcmp(argv[i], "--bench")) do_bench = true;
    }
    rep.seed = seed;
    Rng rng(seed);
    if (do_bench) {
        bench(rng);
        return 0;
    }
    test_routers(rep, rng);
    test_align(rep, rng);
    test_gemm(rep, rng);
    test_layer(rep, rng);
    test_mod(rep, rng);
    test_mma_maps(rep);
    test_args(rep);
    test_vendor_sgemm(rep, rng);
    return rep.finish();
}
