// bd_test_moe_cuda: every MoE / MoD CUDA entry point against its CPU twin on the same inputs.
// Outputs are pre-filled with 0xFF bytes (NaN for floats, -1 for ints) and framed by guard regions
// that must stay untouched; each comparison checks for NaN first, then ids exactly and floats by
// NMSE (per-dtype tolerance: the two backends differ only in F32 summation order, which can flip
// the last bit of a 16-bit rounding).
//   usage: bd_test_moe_cuda [--quick] [--bench] [--seed N] [--verbose]
//   --quick  a small subset (for compute-sanitizer)
//   --bench  BENCHMARKS.md MoE shapes: the layer, its grouped GEMMs, and a per-expert loop of the
//            same kernels (the peer), median of cudaEvent timings after warm-up
// Without a usable GPU: prints "skipped: no usable CUDA device (...)" and exits 77.
#include <algorithm>
#include <cstdlib>
#include <functional>

#include "braindrip/cpu_runtime.h"
#include "braindrip/cuda_runtime_api.h"
#include "braindrip/moe.h"
#include "moe_test_util.hpp"

using namespace moetest;

namespace {

constexpr size_t GUARD = 256;  // bytes each side; keeps the data 256-byte aligned
constexpr unsigned char GUARD_BYTE = 0xA5;

// A device buffer framed by guard bytes; data() is 256-byte aligned.
struct Dev {
    char* base = nullptr;
    size_t bytes = 0;
    Dev() = default;
    explicit Dev(size_t n, bool fill_nan = true) : bytes(n) {
        base = static_cast<char*>(bd_cuda_malloc(static_cast<int64_t>(n + 2 * GUARD)));
        if (!base) {
            std::printf("bd_cuda_malloc(%zu) failed: %s\n", n, bd_cuda_last_error());
            std::exit(1);
        }
        bd_cuda_memset_async(base, GUARD_BYTE, static_cast<int64_t>(n + 2 * GUARD), nullptr);
        if (fill_nan && n) bd_cuda_memset_async(base + GUARD, 0xFF, static_cast<int64_t>(n), nullptr);
    }
    Dev(const Dev&) = delete;
    Dev& operator=(const Dev&) = delete;
    Dev(Dev&& o) noexcept : base(o.base), bytes(o.bytes) { o.base = nullptr; }
    Dev& operator=(Dev&& o) noexcept {
        std::swap(base, o.base);
        std::swap(bytes, o.bytes);
        return *this;
    }
    ~Dev() {
        if (base) bd_cuda_free(base);
    }
    void* data() const { return base + GUARD; }
    template <typename V> V* as() const { return reinterpret_cast<V*>(base + GUARD); }
    void upload(const void* host, size_t n) { bd_cuda_memcpy(data(), host, static_cast<int64_t>(n)); }
    void download(void* host, size_t n) const { bd_cuda_memcpy(host, data(), static_cast<int64_t>(n)); }
    bool guards_ok() const {
        std::vector<unsigned char> h(bytes + 2 * GUARD);
        bd_cuda_memcpy(h.data(), base, static_cast<int64_t>(h.size()));
        for (size_t i = 0; i < GUARD; ++i)
            if (h[i] != GUARD_BYTE || h[GUARD + bytes + i] != GUARD_BYTE) return false;
        return true;
    }
};

Dev to_dev(const Tensor& t) {
    Dev d(t.bytes(), false);
    d.upload(t.data(), t.bytes());
    return d;
}
template <typename V>
Dev to_dev(const std::vector<V>& v) {
    Dev d(v.size() * sizeof(V), false);
    if (!v.empty()) d.upload(v.data(), v.size() * sizeof(V));
    return d;
}
template <typename V>
std::vector<V> from_dev(const Dev& d, size_t n) {
    std::vector<V> v(n);
    if (n) d.download(v.data(), n * sizeof(V));
    return v;
}
Tensor from_dev_t(const Dev& d, int dt, int64_t n) {
    Tensor t(dt, n);
    if (n) d.download(t.data(), t.bytes());
    return t;
}
Dev dev_or_empty(const Tensor& t) { return t.n ? to_dev(t) : Dev(); }
const void* dptr(const Dev& d) { return d.base ? d.data() : nullptr; }

double tol(int dt) { return dt == BD_F32 ? 1e-10 : dt == BD_F16 ? 1e-6 : 1e-4; }

bool has_nan(const std::vector<double>& v) {
    for (double x : v)
        if (std::isnan(x)) return true;
    return false;
}

// Compares float tensors: NaN first, then NMSE.
void check_close(Report& rep, const std::vector<double>& got, const std::vector<double>& want, double t, const char* what,
                 const char* tag) {
    if (has_nan(got)) {
        rep.check(false, "%s %s: NaN in output", what, tag);
        return;
    }
    const double n = nmse(got, want);
    rep.check(n <= t, "%s %s: nmse %.2e (<= %.0e)", what, tag, n, t);
}

int sync_status(const char* what, Report& rep) {
    const int st = bd_cuda_device_synchronize();
    if (st != BD_OK) rep.check(false, "%s: CUDA error %s", what, bd_cuda_last_error());
    return st;
}

// ---- routers

void test_routers(Report& rep, Rng& rng, bool quick) {
    std::printf("routers\n");
    std::vector<RouteCase> cases(std::begin(kRouteCases), std::end(kRouteCases));
    if (!quick) {
        cases.push_back({"softmax_topk qwen3 4096 tokens", 4096, 128, 8, BD_MOE_ROUTE_SOFTMAX_TOPK, 1, 0, 0, 1.f, 0.f, false, BD_BF16, 0});
        cases.push_back({"sigmoid_grouped deepseek 4096 tokens", 4096, 256, 8, BD_MOE_ROUTE_SIGMOID_GROUPED, 1, 8, 4, 2.5f, 0.f, true, BD_F32, 0});
        cases.push_back({"top1_capacity 3000 tokens", 3000, 16, 1, BD_MOE_ROUTE_TOP1_CAPACITY, 0, 0, 0, 1.f, 1.f, false, BD_F32, 2});
    }
    size_t i = 0;
    for (const RouteCase& c : cases) {
        if (quick && i++ % 4 != 0) continue;
        std::vector<double> lv = route_logits(c, rng);
        Tensor logits(c.logits_dt, c.T * c.E);
        for (int64_t j = 0; j < logits.n; ++j) logits.set(j, lv[j]);
        std::vector<float> bias(static_cast<size_t>(c.E));
        for (auto& b : bias) b = c.bias ? static_cast<float>(rng.normal() * 0.1) : 0.f;
        const size_t S = static_cast<size_t>(c.T * c.k);
        std::vector<int32_t> ids(S), counts(static_cast<size_t>(c.E));
        std::vector<float> w(S);
        float stats[BD_MOE_STATS_COUNT];
        std::vector<char> ws(static_cast<size_t>(bd_cpu_moe_router_workspace_bytes(c.T, c.E)));
        bd_cpu_moe_route(logits.data(), c.logits_dt, c.bias ? bias.data() : nullptr, c.T, c.E, c.k, c.routing, c.norm,
                         c.G, c.TG, c.scaling, c.cf, ids.data(), w.data(), counts.data(), stats, ws.data(),
                         static_cast<int64_t>(ws.size()), nullptr);
        Dev dl = to_dev(logits), db = to_dev(bias), dids(S * 4), dw(S * 4), dc(c.E * 4), ds(BD_MOE_STATS_COUNT * 4);
        Dev dws(static_cast<size_t>(bd_cuda_moe_router_workspace_bytes(c.T, c.E)));
        const int st = bd_cuda_moe_route(dl.data(), c.logits_dt, c.bias ? db.as<float>() : nullptr, c.T, c.E, c.k,
                                         c.routing, c.norm, c.G, c.TG, c.scaling, c.cf, dids.as<int32_t>(), dw.as<float>(),
                                         dc.as<int32_t>(), ds.as<float>(), dws.data(), static_cast<int64_t>(dws.bytes),
                                         nullptr);
        if (st != BD_OK || sync_status(c.name, rep) != BD_OK) {
            rep.check(false, "route %s: status %d (%s)", c.name, st, bd_cuda_last_error());
            continue;
        }
        const auto gids = from_dev<int32_t>(dids, S);
        const auto gw = from_dev<float>(dw, S);
        const auto gc = from_dev<int32_t>(dc, static_cast<size_t>(c.E));
        const auto gs = from_dev<float>(ds, BD_MOE_STATS_COUNT);
        size_t bad_tokens = 0;
        for (int64_t t = 0; t < c.T; ++t)
            if (!std::equal(gids.begin() + t * c.k, gids.begin() + (t + 1) * c.k, ids.begin() + t * c.k)) ++bad_tokens;
        // sigmoid_grouped: CUDA's and glibc's expf may differ in the last ulp, which can flip a
        // near-tie of selection scores; allow 0.1% of tokens there, exact elsewhere.
        const size_t allowed = c.routing == BD_MOE_ROUTE_SIGMOID_GROUPED ? static_cast<size_t>(c.T) / 1000 : 0;
        rep.check(bad_tokens <= allowed, "route %s: ids vs CPU (%zu tokens differ, %zu allowed)", c.name, bad_tokens, allowed);
        double werr = 0;
        bool nan = false;
        for (size_t j = 0; j < S; ++j) {
            nan = nan || std::isnan(gw[j]);
            if (gids[j] == ids[j]) werr = std::max<double>(werr, std::fabs(gw[j] - w[j]) / std::max(1.f, std::fabs(w[j])));
        }
        rep.check(!nan && werr <= 1e-5 * std::max(1.f, c.scaling), "route %s: weights (max rel err %.2e)", c.name, werr);
        rep.check(bad_tokens > 0 || gc == counts, "route %s: tokens_per_expert", c.name);
        bool sok = true;
        for (int j = 0; j < 3; ++j) sok = sok && std::fabs(gs[j] - stats[j]) <= 1e-4 * std::max(1.f, std::fabs(stats[j]));
        rep.check(sok, "route %s: stats %.6f/%.6f %.6f/%.6f %.0f/%.0f", c.name, gs[0], stats[0], gs[1], stats[1], gs[2],
                  stats[2]);
        rep.check(dids.guards_ok() && dw.guards_ok() && dc.guards_ok() && ds.guards_ok(), "route %s: guards", c.name);
    }
}

// ---- align / permute / unpermute

void test_align(Report& rep, Rng& rng, bool quick) {
    std::printf("align / permute\n");
    struct C { int64_t T, E, k, bm; bool drops; };
    std::vector<C> cases = {{37, 8, 2, 16, false}, {100, 13, 3, 1, true}, {5, 64, 4, 64, false}, {1, 4, 1, 16, false},
                            {64, 256, 8, 16, true}, {300, 8, 2, 128, false}};
    if (!quick) cases.push_back({4096, 256, 8, 64, true});
    if (quick) cases.resize(2);
    for (const C& c : cases) {
        const int64_t S = c.T * c.k, mr = bd_cuda_moe_max_rows(c.T, c.k, c.E, c.bm);
        std::vector<int32_t> ids = random_ids(c.T, c.E, c.k, rng, c.drops, true);
        std::vector<int32_t> sorted(mr), tiles(mr / c.bm), offs(c.E + 1), pos(S), cnt(c.E);
        int32_t npp = 0;
        bd_cpu_moe_align(ids.data(), c.T, c.k, c.E, c.bm, mr, sorted.data(), tiles.data(), offs.data(), &npp, pos.data(),
                         cnt.data(), nullptr);
        Dev di = to_dev(ids), ds(mr * 4), dt(mr / c.bm * 4), doff((c.E + 1) * 4), dn(4), dp(S * 4), dc(c.E * 4);
        const int st = bd_cuda_moe_align(di.as<int32_t>(), c.T, c.k, c.E, c.bm, mr, ds.as<int32_t>(), dt.as<int32_t>(),
                                         doff.as<int32_t>(), dn.as<int32_t>(), dp.as<int32_t>(), dc.as<int32_t>(), nullptr);
        char tag[96];
        std::snprintf(tag, sizeof tag, "T=%lld E=%lld k=%lld bm=%lld drops=%d", (long long)c.T, (long long)c.E,
                      (long long)c.k, (long long)c.bm, c.drops);
        if (st != BD_OK || sync_status("align", rep) != BD_OK) {
            rep.check(false, "align %s: status %d (%s)", tag, st, bd_cuda_last_error());
            continue;
        }
        const bool same = from_dev<int32_t>(ds, mr) == sorted && from_dev<int32_t>(dt, mr / c.bm) == tiles &&
                          from_dev<int32_t>(doff, c.E + 1) == offs && from_dev<int32_t>(dn, 1)[0] == npp &&
                          from_dev<int32_t>(dp, S) == pos && from_dev<int32_t>(dc, c.E) == cnt;
        rep.check(same, "align %s: every output equals the CPU twin", tag);
        rep.check(ds.guards_ok() && dt.guards_ok() && doff.guards_ok() && dn.guards_ok() && dp.guards_ok() && dc.guards_ok(),
                  "align %s: guards", tag);
        const int dt16 = BD_BF16;
        const int64_t cols = 72;
        Tensor x = randn(dt16, c.T * cols, rng), perm(dt16, mr * cols), back(dt16, S * cols);
        bd_cpu_moe_permute(x.data(), sorted.data(), &npp, c.T, c.k, cols, mr, perm.data(), dt16, nullptr);
        bd_cpu_moe_unpermute(perm.data(), pos.data(), c.T, c.k, cols, mr, back.data(), dt16, nullptr);
        Dev dx = to_dev(x), dperm(perm.bytes()), dback(back.bytes());
        bd_cuda_moe_permute(dx.data(), ds.as<int32_t>(), dn.as<int32_t>(), c.T, c.k, cols, mr, dperm.data(), dt16, nullptr);
        bd_cuda_moe_unpermute(dperm.data(), dp.as<int32_t>(), c.T, c.k, cols, mr, dback.data(), dt16, nullptr);
        sync_status("permute", rep);
        const Tensor gp = from_dev_t(dperm, dt16, perm.n), gb = from_dev_t(dback, dt16, back.n);
        rep.check(gp.raw == perm.raw && gb.raw == back.raw && dperm.guards_ok() && dback.guards_ok(),
                  "permute/unpermute %s: equal to the CPU twin, guards", tag);
    }
}

// ---- expert GEMMs: grouped (mma and SIMT) and decode

struct GemmCase {
    MoeShape s;
    int64_t bm;
    bool drops;
};

void test_gemm_case(Report& rep, Rng& rng, const GemmCase& gc) {
    const MoeShape& s = gc.s;
    const int64_t S = s.T * s.k, bm = gc.bm, mr = bd_cuda_moe_max_rows(s.T, s.k, s.E, bm);
    MoeWeights w = make_weights(s, rng);
    Tensor x = randn(s.dt, s.T * s.H, rng, x_scale(s.act));
    std::vector<int32_t> ids = random_ids(s.T, s.E, s.k, rng, gc.drops, true);
    std::vector<float> tw = random_weights(S, rng);
    char tag[192];
    std::snprintf(tag, sizeof tag, "T=%lld H=%lld F=%lld E=%lld k=%lld bm=%lld layout=%d act=%d bias=%d %s",
                  (long long)s.T, (long long)s.H, (long long)s.F, (long long)s.E, (long long)s.k, (long long)bm, s.layout,
                  s.act, s.biases, dname(s.dt));
    // CPU twin
    std::vector<int32_t> sorted(mr), tiles(mr / bm), offs(s.E + 1), pos(S), cnt(s.E);
    int32_t npp = 0;
    bd_cpu_moe_align(ids.data(), s.T, s.k, s.E, bm, mr, sorted.data(), tiles.data(), offs.data(), &npp, pos.data(),
                     cnt.data(), nullptr);
    Tensor act(s.dt, mr * s.F), ys(s.dt, S * s.H);
    bd_cpu_moe_gate_up(x.data(), w.w_gate.data(), ptr_or_null(w.w_up), ptr_or_null(w.b_gate), ptr_or_null(w.b_up),
                       s.layout, s.act, sorted.data(), tiles.data(), &npp, s.T, s.H, s.F, s.E, s.k, bm, mr, act.data(),
                       s.dt, nullptr);
    bd_cpu_moe_down(act.data(), w.w_down.data(), ptr_or_null(w.b_down), tw.data(), sorted.data(), tiles.data(), &npp,
                    s.T, s.H, s.F, s.E, s.k, bm, mr, ys.data(), s.dt, nullptr);
    // CUDA
    Dev dx = to_dev(x), dwg = to_dev(w.w_gate), dwu = dev_or_empty(w.w_up), dbg = dev_or_empty(w.b_gate),
        dbu = dev_or_empty(w.b_up), dwd = to_dev(w.w_down), dbd = dev_or_empty(w.b_down), dids = to_dev(ids),
        dtw = to_dev(tw), dsorted = to_dev(sorted), dtiles = to_dev(tiles), dnpp = to_dev(std::vector<int32_t>{npp});
    Dev dact(act.bytes()), dys(ys.bytes());
    int st = bd_cuda_moe_gate_up(dx.data(), dwg.data(), dptr(dwu), dptr(dbg), dptr(dbu), s.layout, s.act,
                                 dsorted.as<int32_t>(), dtiles.as<int32_t>(), dnpp.as<int32_t>(), s.T, s.H, s.F, s.E,
                                 s.k, bm, mr, dact.data(), s.dt, nullptr);
    if (st == BD_OK)
        st = bd_cuda_moe_down(dact.data(), dwd.data(), dptr(dbd), dtw.as<float>(), dsorted.as<int32_t>(),
                              dtiles.as<int32_t>(), dnpp.as<int32_t>(), s.T, s.H, s.F, s.E, s.k, bm, mr, dys.data(), s.dt,
                              nullptr);
    if (st != BD_OK || sync_status(tag, rep) != BD_OK) {
        rep.check(false, "grouped %s: status %d (%s)", tag, st, bd_cuda_last_error());
        return;
    }
    const Tensor gact = from_dev_t(dact, s.dt, act.n), gys = from_dev_t(dys, s.dt, ys.n);
    std::vector<double> a_got, a_want, y_got, y_want;
    for (int64_t i = 0; i < npp * s.F; ++i) {
        a_got.push_back(gact.get(i));
        a_want.push_back(act.get(i));
    }
    for (int64_t slot = 0; slot < S; ++slot)
        if (ids[slot] >= 0)
            for (int64_t h = 0; h < s.H; ++h) {
                y_got.push_back(gys.get(slot * s.H + h));
                y_want.push_back(ys.get(slot * s.H + h));
            }
    const char* path = (s.dt != BD_F32 && s.H % 8 == 0 && (bm == 16 || bm == 32 || bm == 64 || bm == 128)) ? "mma" : "simt";
    char what[32];
    std::snprintf(what, sizeof what, "gate_up[%s]", path);
    check_close(rep, a_got, a_want, tol(s.dt), what, tag);
    std::snprintf(what, sizeof what, "down[%s]", s.dt != BD_F32 && s.F % 8 == 0 && std::strcmp(path, "mma") == 0 ? "mma" : "simt");
    check_close(rep, y_got, y_want, tol(s.dt), what, tag);
    rep.check(dact.guards_ok() && dys.guards_ok(), "grouped %s: guards", tag);
    // decode path vs the CPU decode path (small slot counts only: its grid has one row per slot)
    if (S <= 256) {
        Tensor cda(s.dt, S * s.F), cdy(s.dt, S * s.H);
        bd_cpu_moe_gate_up_decode(x.data(), w.w_gate.data(), ptr_or_null(w.w_up), ptr_or_null(w.b_gate), ptr_or_null(w.b_up),
                                  s.layout, s.act, ids.data(), s.T, s.H, s.F, s.E, s.k, cda.data(), s.dt, nullptr);
        bd_cpu_moe_down_decode(cda.data(), w.w_down.data(), ptr_or_null(w.b_down), tw.data(), ids.data(), s.T, s.H, s.F,
                               s.E, s.k, cdy.data(), s.dt, nullptr);
        Dev dda(cda.bytes()), ddy(cdy.bytes());
        st = bd_cuda_moe_gate_up_decode(dx.data(), dwg.data(), dptr(dwu), dptr(dbg), dptr(dbu), s.layout, s.act,
                                        dids.as<int32_t>(), s.T, s.H, s.F, s.E, s.k, dda.data(), s.dt, nullptr);
        if (st == BD_OK)
            st = bd_cuda_moe_down_decode(dda.data(), dwd.data(), dptr(dbd), dtw.as<float>(), dids.as<int32_t>(), s.T, s.H,
                                         s.F, s.E, s.k, ddy.data(), s.dt, nullptr);
        if (st != BD_OK || sync_status(tag, rep) != BD_OK) {
            rep.check(false, "decode %s: status %d (%s)", tag, st, bd_cuda_last_error());
            return;
        }
        const Tensor ga = from_dev_t(dda, s.dt, cda.n), gy = from_dev_t(ddy, s.dt, cdy.n);
        std::vector<double> dg, dw2, yg, yw;
        for (int64_t slot = 0; slot < S; ++slot) {
            for (int64_t f = 0; f < s.F; ++f) {
                dg.push_back(ga.get(slot * s.F + f));
                dw2.push_back(cda.get(slot * s.F + f));
            }
            if (ids[slot] >= 0)
                for (int64_t h = 0; h < s.H; ++h) {
                    yg.push_back(gy.get(slot * s.H + h));
                    yw.push_back(cdy.get(slot * s.H + h));
                }
        }
        check_close(rep, dg, dw2, tol(s.dt), "gate_up_decode", tag);
        check_close(rep, yg, yw, tol(s.dt), "down_decode", tag);
        rep.check(dda.guards_ok() && ddy.guards_ok(), "decode %s: guards", tag);
    }
}

void test_gemm(Report& rep, Rng& rng, bool quick) {
    std::printf("expert GEMMs\n");
    std::vector<GemmCase> cases;
    int i = 0;
    for (int dt : {BD_BF16, BD_F16, BD_F32})
        for (int layout : {BD_MOE_GU_SEPARATE, BD_MOE_GU_INTERLEAVED, BD_MOE_GU_CONCAT})
            for (int act : {BD_MOE_ACT_SWIGLU, BD_MOE_ACT_GEGLU, BD_MOE_ACT_GEGLU_TANH, BD_MOE_ACT_SWIGLU_OAI}) {
                const bool bias = (i % 2) == 1;
                const int64_t bm = std::vector<int64_t>{16, 32, 64, 128}[i % 4];
                ++i;
                cases.push_back({{45, 72, 40, 6, 2, layout, act, dt, bias}, bm, i % 3 == 0});
            }
    // K tails (H, F not multiples of the 64-wide K tile), N tails, many experts, odd sizes (SIMT)
    cases.push_back({{200, 136, 200, 5, 3, BD_MOE_GU_SEPARATE, BD_MOE_ACT_SWIGLU, BD_BF16, true}, 64, true});
    cases.push_back({{300, 256, 96, 64, 8, BD_MOE_GU_CONCAT, BD_MOE_ACT_SWIGLU, BD_BF16, false}, 16, false});
    cases.push_back({{17, 37, 13, 5, 3, BD_MOE_GU_SEPARATE, BD_MOE_ACT_SWIGLU, BD_BF16, true}, 16, true});
    cases.push_back({{17, 37, 13, 5, 3, BD_MOE_GU_INTERLEAVED, BD_MOE_ACT_SWIGLU_OAI, BD_F16, true}, 7, true});
    cases.push_back({{90, 72, 136, 4, 2, BD_MOE_GU_CONCAT, BD_MOE_ACT_GEGLU, BD_F32, false}, 64, false});
    if (!quick) {
        cases.push_back({{512, 1024, 512, 8, 2, BD_MOE_GU_SEPARATE, BD_MOE_ACT_SWIGLU, BD_BF16, false}, 128, false});
        cases.push_back({{256, 512, 256, 32, 4, BD_MOE_GU_INTERLEAVED, BD_MOE_ACT_SWIGLU_OAI, BD_BF16, true}, 32, false});
        cases.push_back({{8, 512, 768, 16, 4, BD_MOE_GU_SEPARATE, BD_MOE_ACT_SWIGLU, BD_F16, false}, 16, false});
    }
    i = 0;
    for (const GemmCase& c : cases) {
        if (quick && i++ % 5 != 0) continue;
        test_gemm_case(rep, rng, c);
    }
}

// ---- whole layer, every path

void test_layer(Report& rep, Rng& rng, bool quick) {
    std::printf("whole layer\n");
    int i = 0;
    for (const LayerCase& lc : kLayerCases) {
        if (quick && i++ % 3 != 0) continue;
        const MoeShape& s = lc.s;
        const RouteCase& rc = lc.r;
        MoeWeights w = make_weights(s, rng);
        Tensor x = randn(s.dt, s.T * s.H, rng, x_scale(s.act));
        std::vector<double> lv = route_logits(rc, rng);
        Tensor logits(rc.logits_dt, s.T * s.E);
        for (int64_t j = 0; j < logits.n; ++j) logits.set(j, lv[j]);
        std::vector<float> bias(static_cast<size_t>(s.E));
        for (auto& b : bias) b = rc.bias ? static_cast<float>(rng.normal() * 0.1) : 0.f;
        Tensor shared = lc.shared ? randn(s.dt, s.T * s.H, rng, 0.5) : Tensor();
        std::vector<float> gl(static_cast<size_t>(s.T));
        for (auto& g : gl) g = static_cast<float>(rng.normal());
        const int64_t S = s.T * s.k;
        Tensor y(s.dt, s.T * s.H);
        std::vector<int32_t> ids(S), counts(s.E);
        std::vector<float> tw(S);
        float stats[BD_MOE_STATS_COUNT];
        std::vector<char> ws(static_cast<size_t>(bd_cpu_moe_workspace_bytes(s.T, s.H, s.F, s.E, s.k, s.dt)));
        bd_cpu_moe_forward(logits.data(), rc.logits_dt, rc.bias ? bias.data() : nullptr, x.data(), s.T, s.H, s.F, s.E, s.k,
                           rc.routing, rc.norm, rc.G, rc.TG, rc.scaling, rc.cf, w.w_gate.data(), ptr_or_null(w.w_up),
                           ptr_or_null(w.b_gate), ptr_or_null(w.b_up), s.layout, s.act, w.w_down.data(),
                           ptr_or_null(w.b_down), lc.shared ? shared.data() : nullptr, lc.shared == 2 ? gl.data() : nullptr,
                           y.data(), ids.data(), tw.data(), counts.data(), stats, BD_MOE_PATH_AUTO, ws.data(),
                           static_cast<int64_t>(ws.size()), s.dt, nullptr);
        Dev dl = to_dev(logits), db = to_dev(bias), dx = to_dev(x), dwg = to_dev(w.w_gate), dwu = dev_or_empty(w.w_up),
            dbg = dev_or_empty(w.b_gate), dbu = dev_or_empty(w.b_up), dwd = to_dev(w.w_down), dbd = dev_or_empty(w.b_down),
            dsh = dev_or_empty(shared), dgl = to_dev(gl);
        for (int path : {BD_MOE_PATH_AUTO, BD_MOE_PATH_DECODE, BD_MOE_PATH_GROUPED, BD_MOE_PATH_GROUPED_SIMT}) {
            if (quick && path != BD_MOE_PATH_AUTO) continue;
            Dev dy(y.bytes()), dids(S * 4), dtw(S * 4), dc(s.E * 4), ds(BD_MOE_STATS_COUNT * 4);
            Dev dws(static_cast<size_t>(bd_cuda_moe_workspace_bytes(s.T, s.H, s.F, s.E, s.k, s.dt)));
            const int st = bd_cuda_moe_forward(
                dl.data(), rc.logits_dt, rc.bias ? db.as<float>() : nullptr, dx.data(), s.T, s.H, s.F, s.E, s.k,
                rc.routing, rc.norm, rc.G, rc.TG, rc.scaling, rc.cf, dwg.data(), dptr(dwu), dptr(dbg), dptr(dbu),
                s.layout, s.act, dwd.data(), dptr(dbd), lc.shared ? dsh.data() : nullptr,
                lc.shared == 2 ? dgl.as<float>() : nullptr, dy.data(), dids.as<int32_t>(), dtw.as<float>(),
                dc.as<int32_t>(), ds.as<float>(), path, dws.data(), static_cast<int64_t>(dws.bytes), s.dt, nullptr);
            char tag[128];
            std::snprintf(tag, sizeof tag, "%s path=%d", lc.name, path);
            if (st != BD_OK || sync_status(tag, rep) != BD_OK) {
                rep.check(false, "layer %s: status %d (%s)", tag, st, bd_cuda_last_error());
                continue;
            }
            rep.check(from_dev<int32_t>(dids, S) == ids && from_dev<int32_t>(dc, s.E) == counts, "layer %s: ids, counts",
                      tag);
            check_close(rep, from_dev_t(dy, s.dt, y.n).values(), y.values(), tol(s.dt), "layer y", tag);
            rep.check(dy.guards_ok() && dids.guards_ok() && dtw.guards_ok() && dws.guards_ok(), "layer %s: guards", tag);
        }
    }
}

// ---- Mixture of Depths

void test_mod(Report& rep, Rng& rng, bool quick) {
    std::printf("mixture of depths\n");
    std::vector<int64_t> lengths = {37, 1, 4096};
    if (quick) lengths = {37};
    for (int dt : {BD_F32, BD_BF16})
        for (int64_t T : lengths) {
            const int64_t H = 96;
            Tensor x = randn(dt, T * H, rng), router = randn(dt, H, rng, 0.3);
            std::vector<float> r(static_cast<size_t>(T));
            bd_cpu_mod_scores(x.data(), router.data(), T, H, r.data(), dt, nullptr);
            Dev dx = to_dev(x), dr = to_dev(router), dsc(T * 4);
            bd_cuda_mod_scores(dx.data(), dr.data(), T, H, dsc.as<float>(), dt, nullptr);
            sync_status("mod_scores", rep);
            const auto gsc = from_dev<float>(dsc, T);
            char tag[64];
            std::snprintf(tag, sizeof tag, "T=%lld %s", (long long)T, dname(dt));
            check_close(rep, std::vector<double>(gsc.begin(), gsc.end()), std::vector<double>(r.begin(), r.end()), 1e-10,
                        "mod_scores", tag);
            // route on identical scores (with planted ties): identical selection
            for (int64_t t = 0; t < T; t += 5) r[t] = std::round(r[t]);
            const int64_t k = bd_cuda_mod_capacity(T, 0.125f);
            std::vector<int32_t> sel(k);
            std::vector<float> wsel(k);
            float thr = 0;
            bd_cpu_mod_route(r.data(), T, k, sel.data(), wsel.data(), &thr, nullptr);
            Dev dsr = to_dev(r), dsel(k * 4), dwsel(k * 4), dthr(4);
            bd_cuda_mod_route(dsr.as<float>(), T, k, dsel.as<int32_t>(), dwsel.as<float>(), dthr.as<float>(), nullptr);
            sync_status("mod_route", rep);
            rep.check(from_dev<int32_t>(dsel, k) == sel && from_dev<float>(dwsel, k) == wsel && from_dev<float>(dthr, 1)[0] == thr &&
                          dsel.guards_ok() && dwsel.guards_ok(),
                      "mod_route %s k=%lld: selection, weights, threshold equal the CPU twin", tag, (long long)k);
            // causal threshold rule
            std::vector<int32_t> tsel(T);
            std::vector<float> tw(T);
            int32_t cnt = 0;
            bd_cpu_mod_route_threshold(r.data(), T, thr, tsel.data(), tw.data(), &cnt, nullptr);
            Dev dts(T * 4), dtw(T * 4), dcnt(4);
            bd_cuda_mod_route_threshold(dsr.as<float>(), T, thr, dts.as<int32_t>(), dtw.as<float>(), dcnt.as<int32_t>(), nullptr);
            sync_status("mod_route_threshold", rep);
            rep.check(from_dev<int32_t>(dts, T) == tsel && from_dev<float>(dtw, T) == tw && from_dev<int32_t>(dcnt, 1)[0] == cnt,
                      "mod_route_threshold %s (count %d)", tag, cnt);
            // gather, scatter-add
            Tensor bo = randn(dt, k * H, rng), g(dt, k * H), xr = x;
            bd_cpu_mod_gather(x.data(), sel.data(), k, T, H, g.data(), dt, nullptr);
            bd_cpu_mod_scatter_add(xr.data(), sel.data(), wsel.data(), bo.data(), k, T, H, dt, nullptr);
            Dev dg(g.bytes()), dbo = to_dev(bo);
            bd_cuda_mod_gather(dx.data(), dsel.as<int32_t>(), k, T, H, dg.data(), dt, nullptr);
            bd_cuda_mod_scatter_add(dx.data(), dsel.as<int32_t>(), dwsel.as<float>(), dbo.data(), k, T, H, dt, nullptr);
            sync_status("mod_gather/scatter", rep);
            rep.check(from_dev_t(dg, dt, g.n).raw == g.raw && dg.guards_ok(), "mod_gather %s", tag);
            check_close(rep, from_dev_t(dx, dt, x.n).values(), xr.values(), dt == BD_F32 ? 1e-12 : 1e-6, "mod_scatter_add", tag);
            rep.check(dx.guards_ok(), "mod_scatter_add %s: guards", tag);
        }
}

// ---- bench

struct Events {
    void* a = bd_cuda_event_create();
    void* b = bd_cuda_event_create();
    ~Events() {
        bd_cuda_event_destroy(a);
        bd_cuda_event_destroy(b);
    }
};

double median_ms(const std::function<void()>& fn, int warmup, int reps) {
    Events ev;
    for (int i = 0; i < warmup; ++i) fn();
    std::vector<double> t;
    for (int i = 0; i < reps; ++i) {
        bd_cuda_event_record(ev.a, nullptr);
        fn();
        bd_cuda_event_record(ev.b, nullptr);
        bd_cuda_event_synchronize(ev.b);
        t.push_back(bd_cuda_event_elapsed_ms(ev.a, ev.b));
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

// Fills n bytes of device memory with random BF16 values of scale ~ sc: one random 16 MB block
// uploaded, then doubled by device-to-device copies (the period is far above any cache line reuse).
void fill_random(void* d, size_t n, Rng& rng, double sc) {
    const size_t blk = std::min<size_t>(n, 16u << 20) & ~size_t(1);
    Tensor h(BD_BF16, static_cast<int64_t>(blk / 2));
    for (int64_t i = 0; i < h.n; ++i) h.set(i, rng.normal() * sc);
    bd_cuda_memcpy(d, h.data(), static_cast<int64_t>(blk));
    for (size_t done = blk; done < n;) {
        const size_t c = std::min(done, n - done);
        bd_cuda_memcpy(static_cast<char*>(d) + done, d, static_cast<int64_t>(c));
        done += c;
    }
}

struct BenchShape {
    const char* name;
    int64_t H, F, E, k;
    int routing;
    int64_t G, TG;
    float scaling;
};

void bench(Rng& rng) {
    char dev[128] = {0};
    int major = 0, minor = 0, sms = 0;
    int64_t mem = 0;
    bd_cuda_device_info(0, dev, sizeof dev, &major, &minor, &sms, &mem);
    std::printf("bench: %s (sm_%d%d, %d SMs), BF16, median of 10 after 3 warm-ups, cudaEvents\n", dev, major, minor, sms);
    std::printf("  layer = route + align + gate_up + down + combine (moe_forward); grouped = the 2 expert GEMM launches;\n"
                "  peer = per-expert loop of the same GEMM kernels (2E launches, host-known segments)\n");
    std::printf("%-10s %6s %6s %10s %10s %10s %9s %9s %10s\n", "model", "tokens", "path", "layer ms", "grouped ms",
                "peer ms", "TFLOP/s", "GB/s", "experts");
    const BenchShape shapes[] = {
        {"mixtral", 4096, 14336, 8, 2, BD_MOE_ROUTE_SOFTMAX_TOPK, 0, 0, 1.f},
        {"qwen3-30b", 2048, 768, 128, 8, BD_MOE_ROUTE_SOFTMAX_TOPK, 0, 0, 1.f},
        {"deepseek3", 7168, 2048, 256, 8, BD_MOE_ROUTE_SIGMOID_GROUPED, 8, 4, 2.5f},
    };
    const int dt = BD_BF16;
    for (const BenchShape& b : shapes) {
        const size_t wbytes = static_cast<size_t>(b.E * b.F * b.H) * 2;
        Dev wg(wbytes, false), wu(wbytes, false), wd(wbytes, false);
        fill_random(wg.data(), wbytes, rng, 1.0 / std::sqrt(static_cast<double>(b.H)));
        fill_random(wu.data(), wbytes, rng, 1.0 / std::sqrt(static_cast<double>(b.H)));
        fill_random(wd.data(), wbytes, rng, 1.0 / std::sqrt(static_cast<double>(b.F)));
        for (int64_t T : {1, 16, 128, 4096}) {
            const int64_t S = T * b.k;
            std::vector<float> lg(static_cast<size_t>(T * b.E));
            for (auto& v : lg) v = static_cast<float>(rng.normal());
            Dev dx(static_cast<size_t>(T * b.H) * 2, false), dl = to_dev(lg), dy(T * b.H * 2), dids(S * 4), dtw(S * 4),
                dc(b.E * 4);
            fill_random(dx.data(), dx.bytes, rng, 1.0);
            Dev dws(static_cast<size_t>(bd_cuda_moe_workspace_bytes(T, b.H, b.F, b.E, b.k, dt)));
            const int auto_path = bd_cuda_moe_gemm_path(T, b.k, b.H, b.F, dt);
            std::vector<int> paths = {auto_path};
            if (auto_path == BD_MOE_PATH_DECODE) paths.push_back(BD_MOE_PATH_GROUPED);  // decode vs grouped at small T
            for (int path : paths) {
                auto layer = [&] {
                    bd_cuda_moe_forward(dl.data(), BD_F32, nullptr, dx.data(), T, b.H, b.F, b.E, b.k, b.routing, 1, b.G,
                                        b.TG, b.scaling, 0.f, wg.data(), wu.data(), nullptr, nullptr, 0, 0, wd.data(),
                                        nullptr, nullptr, nullptr, dy.data(), dids.as<int32_t>(), dtw.as<float>(),
                                        dc.as<int32_t>(), nullptr, path, dws.data(), static_cast<int64_t>(dws.bytes), dt,
                                        nullptr);
                };
                const double ms = median_ms(layer, 3, 10);
                if (bd_cuda_device_synchronize() != BD_OK) {
                    std::printf("%-10s %6lld error: %s\n", b.name, (long long)T, bd_cuda_last_error());
                    return;
                }
                const auto counts = from_dev<int32_t>(dc, b.E);
                int64_t touched = 0;
                for (int32_t c : counts) touched += c > 0;
                // grouped GEMMs alone and the per-expert loop peer, on the routing just made
                double gms = 0, pms = 0;
                if (path == BD_MOE_PATH_GROUPED) {
                    const int64_t bm = bd_cuda_moe_block_m(T, b.k, b.E), mr = bd_cuda_moe_max_rows(T, b.k, b.E, bm);
                    Dev ds(mr * 4), dt2(mr / bm * 4), doff((b.E + 1) * 4), dn(4), dp(S * 4), dcc(b.E * 4);
                    Dev dact(static_cast<size_t>(mr * b.F) * 2), dys(static_cast<size_t>(S * b.H) * 2);
                    bd_cuda_moe_align(dids.as<int32_t>(), T, b.k, b.E, bm, mr, ds.as<int32_t>(), dt2.as<int32_t>(),
                                      doff.as<int32_t>(), dn.as<int32_t>(), dp.as<int32_t>(), dcc.as<int32_t>(), nullptr);
                    const auto off = from_dev<int32_t>(doff, b.E + 1);
                    std::vector<int32_t> seg(static_cast<size_t>(b.E));
                    for (int64_t e = 0; e < b.E; ++e) seg[e] = off[e + 1] - off[e];
                    Dev dseg = to_dev(seg);
                    auto grouped = [&] {
                        bd_cuda_moe_gate_up(dx.data(), wg.data(), wu.data(), nullptr, nullptr, 0, 0, ds.as<int32_t>(),
                                            dt2.as<int32_t>(), dn.as<int32_t>(), T, b.H, b.F, b.E, b.k, bm, mr,
                                            dact.data(), dt, nullptr);
                        bd_cuda_moe_down(dact.data(), wd.data(), nullptr, dtw.as<float>(), ds.as<int32_t>(),
                                         dt2.as<int32_t>(), dn.as<int32_t>(), T, b.H, b.F, b.E, b.k, bm, mr, dys.data(),
                                         dt, nullptr);
                    };
                    auto peer = [&] {
                        for (int64_t e = 0; e < b.E; ++e) {
                            if (!seg[e]) continue;
                            char* act = static_cast<char*>(dact.data()) + static_cast<size_t>(off[e]) * b.F * 2;
                            bd_cuda_moe_gate_up(dx.data(), wg.data(), wu.data(), nullptr, nullptr, 0, 0,
                                                ds.as<int32_t>() + off[e], dt2.as<int32_t>() + off[e] / bm,
                                                dseg.as<int32_t>() + e, T, b.H, b.F, b.E, b.k, bm, seg[e], act, dt, nullptr);
                            bd_cuda_moe_down(act, wd.data(), nullptr, dtw.as<float>(), ds.as<int32_t>() + off[e],
                                             dt2.as<int32_t>() + off[e] / bm, dseg.as<int32_t>() + e, T, b.H, b.F, b.E,
                                             b.k, bm, seg[e], dys.data(), dt, nullptr);
                        }
                    };
                    gms = median_ms(grouped, 3, 10);
                    pms = median_ms(peer, 2, 5);
                }
                const double flops = 2.0 * S * 3.0 * b.H * b.F;
                const double bytes = static_cast<double>(touched) * 3.0 * b.H * b.F * 2;
                const char* pname = path == BD_MOE_PATH_DECODE ? "decode" : "grouped";
                std::printf("%-10s %6lld %6s %10.3f %10s %10s %9.1f %9.0f %7lld/%lld\n", b.name, (long long)T, pname, ms,
                            gms > 0 ? std::to_string(gms).substr(0, 8).c_str() : "-",
                            pms > 0 ? std::to_string(pms).substr(0, 8).c_str() : "-", flops / ms / 1e9, bytes / ms / 1e6,
                            (long long)touched, (long long)b.E);
                std::fflush(stdout);
            }
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    Report rep;
    uint64_t seed = 1234;
    bool quick = false, do_bench = false;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--seed") && i + 1 < argc) seed = std::strtoull(argv[++i], nullptr, 10);
        else if (!std::strcmp(argv[i], "--quick")) quick = true;
        else if (!std::strcmp(argv[i], "--verbose")) rep.verbose = true;
        else if (!std::strcmp(argv[i], "--bench")) do_bench = true;
    }
    const int n = bd_cuda_device_count();
    if (n <= 0) {
        std::printf("skipped: no usable CUDA device (%s)\n", n < 0 ? bd_cuda_last_error() : "device count is 0");
        return 77;
    }
    rep.seed = seed;
    Rng rng(seed);
    if (do_bench) {
        bench(rng);
        return 0;
    }
    test_routers(rep, rng, quick);
    test_align(rep, rng, quick);
    test_gemm(rep, rng, quick);
    test_layer(rep, rng, quick);
    test_mod(rep, rng, quick);
    return rep.finish();
}
