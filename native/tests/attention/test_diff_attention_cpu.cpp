// bd_test_diff_attention_cpu: the fused differential attention CPU twin (diff_attention.h) against
// an F64 two-pass reference written from the header's math, independently of the kernel's plan:
// two softmax attentions A1 . V and A2 . V in F64 (visibility from attention_ref.hpp's rule),
// u = A1.V - lambda A2.V, RMSNorm over 2D, times subln and (1 - lambda_init).
//   - cases: GQA r = 1, 2, 3, 4 (r >= 2 makes both maps of a head read one key head), causal or
//     not, windows, Sq < Skv and Sq > Skv (rows that see no key), seqused_k (decode over a cache),
//     D 64 / 128 / odd sizes, F32 / BF16 / F16 with the attention tests' low-precision rule
//     (max|kernel - ref64| <= 2 max|naive - ref64| + half an ulp of storage x max|ref|);
//   - the C ABI: messages naming the rule, capability query, batch 0 a no-op.
// Options: --quick (fewer cases). Last line: "N passed, M failed"; exit status 1 on any failure.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "attention_ref.hpp"
#include "test_support.hpp"
#include "braindrip/cpu_runtime.h"
#include "braindrip/diff_attention.h"
#include "braindrip/ops.h"

namespace {


struct DCase {
    std::string name;
    int dtype = BD_F32;
    int64_t B = 1, Sq = 1, Sk = 1;
    int H = 1, Hkv = 1, D = 64;
    bool causal = false;
    int wl = -1, wr = -1;
    bool seqused = false;
    float lambda = 0.3f, lambda_init = 0.2f, eps = 1e-5f;
    float q_amp = 1.f;
    uint64_t seed = 1;

    std::string label() const {
        char buf[384];
        std::snprintf(buf, sizeof buf, "%s [%s B%lld Sq%lld Sk%lld H%d Hkv%d D%d%s wl%d wr%d%s lambda %g seed%llu]",
                      name.c_str(), bdt::dtype_str(dtype), (long long)B, (long long)Sq, (long long)Sk, H, Hkv, D,
                      causal ? " causal" : "", wl, wr, seqused ? " seqused" : "", (double)lambda,
                      (unsigned long long)seed);
        return buf;
    }
};

struct DInputs {
    DCase c;
    std::vector<uint8_t> q, k, v, subln;
    std::vector<int32_t> used;
    std::vector<int64_t> sk;  // keys used per batch row
    double ld(const std::vector<uint8_t>& t, int64_t i) const { return bd::cpu::load(t.data(), c.dtype, i); }
    double qe(int64_t b, int64_t i, int hq, int d) const { return ld(q, ((b * c.Sq + i) * 2 * c.H + hq) * c.D + d); }
    double ke(int64_t b, int64_t j, int hk, int d) const { return ld(k, ((b * c.Sk + j) * 2 * c.Hkv + hk) * c.D + d); }
    double ve(int64_t b, int64_t j, int hv, int d) const {
        return ld(v, ((b * c.Sk + j) * c.Hkv + hv) * 2 * c.D + d);
    }
    int64_t o_elems() const { return c.B * c.Sq * c.H * 2 * c.D; }
    int64_t o_index(int64_t b, int64_t i, int h) const { return ((b * c.Sq + i) * c.H + h) * 2 * c.D; }
};

DInputs make_inputs(const DCase& c) {
    DInputs in;
    in.c = c;
    std::mt19937_64 rng(c.seed);
    bdt::fill_random(in.q, c.dtype, c.B * c.Sq * 2 * c.H * c.D, rng, c.q_amp);
    bdt::fill_random(in.k, c.dtype, c.B * c.Sk * 2 * c.Hkv * c.D, rng, 1.f);
    bdt::fill_random(in.v, c.dtype, c.B * c.Sk * c.Hkv * 2 * c.D, rng, 1.f);
    in.subln.resize((size_t)(2 * c.D) * bdt::dtype_size(c.dtype));
    std::uniform_real_distribution<float> ug(0.5f, 1.5f);
    for (int d = 0; d < 2 * c.D; ++d) bd::cpu::store(in.subln.data(), c.dtype, d, ug(rng));
    in.sk.assign((size_t)c.B, c.Sk);
    if (c.seqused) {
        in.used.resize((size_t)c.B);
        for (int64_t b = 0; b < c.B; ++b) {
            in.used[b] = b == 0 ? (int32_t)c.Sk : std::uniform_int_distribution<int32_t>(0, (int32_t)c.Sk)(rng);
            in.sk[b] = in.used[b];
        }
    }
    return in;
}

// The two-pass reference: precise = true in F64; false the naive same-precision version (scores
// and softmax in F32, normalised P rounded to storage, each map's P.V in F32, u and the RMSNorm
// in F32, o rounded to storage). `empty` marks rows that see no key.
struct DRef {
    std::vector<double> o;
    std::vector<uint8_t> empty;  // per (b, i, h)
};

DRef reference(const DInputs& in, bool precise) {
    const DCase& c = in.c;
    const int dt = c.dtype, D = c.D, Dv = 2 * c.D, r = c.H / c.Hkv;
    bdt::Case vc;  // the visibility rule of attention_ref.hpp
    vc.causal = c.causal;
    vc.wl = c.wl;
    vc.wr = c.wr;
    const double scale = (double)(1.f / std::sqrt((float)D));
    DRef out;
    out.o.assign((size_t)in.o_elems(), 0.0);
    out.empty.assign((size_t)(c.B * c.Sq * c.H), 0);
#pragma omp parallel for collapse(2) schedule(dynamic, 1)
    for (int64_t b = 0; b < c.B; ++b)
        for (int h = 0; h < c.H; ++h) {
            const int64_t sk = in.sk[b];
            const int hv = h / r;
            std::vector<double> s((size_t)std::max<int64_t>(sk, 1)), u((size_t)Dv);
            std::vector<char> vis((size_t)std::max<int64_t>(sk, 1));
            for (int64_t i = 0; i < c.Sq; ++i) {
                bool any = false;
                for (int64_t j = 0; j < sk; ++j) any |= (vis[j] = bdt::visible_ref(vc, c.Sq, sk, i, j)) != 0;
                if (!any) {
                    out.empty[(b * c.Sq + i) * c.H + h] = 1;
                    continue;  // o stays 0
                }
                std::fill(u.begin(), u.end(), 0.0);
                for (int map = 0; map < 2; ++map) {
                    const int hq = 2 * h + map, hk = hq / r;
                    const double w = map == 0 ? 1.0 : -(double)c.lambda;
                    double mx = -INFINITY;
                    for (int64_t j = 0; j < sk; ++j) {
                        if (!vis[j]) continue;
                        if (precise) {
                            double acc = 0;
                            for (int d = 0; d < D; ++d) acc += in.qe(b, i, hq, d) * in.ke(b, j, hk, d);
                            s[j] = acc * scale;
                        } else {
                            float acc = 0;
                            for (int d = 0; d < D; ++d) acc += (float)in.qe(b, i, hq, d) * (float)in.ke(b, j, hk, d);
                            s[j] = acc * (float)scale;
                        }
                        mx = std::max(mx, s[j]);
                    }
                    if (precise) {
                        double sum = 0;
                        for (int64_t j = 0; j < sk; ++j)
                            if (vis[j]) sum += std::exp(s[j] - mx);
                        for (int64_t j = 0; j < sk; ++j) {
                            if (!vis[j]) continue;
                            const double pj = w * std::exp(s[j] - mx) / sum;
                            for (int d = 0; d < Dv; ++d) u[d] += pj * in.ve(b, j, hv, d);
                        }
                    } else {
                        const float fm = (float)mx;
                        float sum = 0.f;
                        for (int64_t j = 0; j < sk; ++j)
                            if (vis[j]) sum += std::exp((float)s[j] - fm);
                        std::vector<float> acc((size_t)Dv, 0.f);
                        for (int64_t j = 0; j < sk; ++j) {
                            if (!vis[j]) continue;
                            const float pj = bdt::round_to(dt, std::exp((float)s[j] - fm) / sum);
                            for (int d = 0; d < Dv; ++d) acc[d] += pj * (float)in.ve(b, j, hv, d);
                        }
                        for (int d = 0; d < Dv; ++d) u[d] = (float)u[d] + (float)w * acc[d];
                    }
                }
                const int64_t oi = in.o_index(b, i, h);
                if (precise) {
                    double ss = 0;
                    for (int d = 0; d < Dv; ++d) ss += u[d] * u[d];
                    const double inv = 1.0 / std::sqrt(ss / Dv + (double)c.eps);
                    for (int d = 0; d < Dv; ++d)
                        out.o[oi + d] = u[d] * inv * in.ld(in.subln, d) * (1.0 - (double)c.lambda_init);
                } else {
                    float ss = 0;
                    for (int d = 0; d < Dv; ++d) ss += (float)u[d] * (float)u[d];
                    const float inv = 1.f / std::sqrt(ss / (float)Dv + c.eps);
                    for (int d = 0; d < Dv; ++d)
                        out.o[oi + d] =
                            bdt::round_to(dt, (float)u[d] * inv * (float)in.ld(in.subln, d) * (1.f - c.lambda_init));
                }
            }
        }
    return out;
}

int run_kernel(const DInputs& in, std::vector<uint8_t>& o) {
    const DCase& c = in.c;
    o.assign((size_t)in.o_elems() * bdt::dtype_size(c.dtype), 0xCD);  // garbage: the kernel must write all
    return bd_cpu_diff_attention(in.q.data(), in.k.data(), in.v.data(), in.subln.data(), o.data(), c.dtype, c.B, c.Sq,
                                 c.Sk, c.H, c.Hkv, c.D, c.seqused ? in.used.data() : nullptr, 1.f / std::sqrt((float)c.D),
                                 c.causal, c.wl, c.wr, c.lambda, c.lambda_init, c.eps, nullptr);
}

void run_case(const DCase& c) {
    const std::string label = c.label();
    const DInputs in = make_inputs(c);
    std::vector<uint8_t> o;
    const int st = run_kernel(in, o);
    if (st != BD_OK) {
        report(false, label, "status " + std::to_string(st) + ": " + bd_cpu_last_error());
        return;
    }
    const DRef ref = reference(in, true), naive = reference(in, false);
    double maxref = 0, ek = 0, en = 0;
    for (double x : ref.o) maxref = std::max(maxref, std::fabs(x));
    char buf[512];
    for (int64_t b = 0; b < c.B; ++b)
        for (int64_t i = 0; i < c.Sq; ++i)
            for (int h = 0; h < c.H; ++h) {
                const int64_t oi = in.o_index(b, i, h);
                const bool empty = ref.empty[(b * c.Sq + i) * c.H + h];
                for (int d = 0; d < 2 * c.D; ++d) {
                    const double x = bd::cpu::load(o.data(), c.dtype, oi + d);
                    if (!std::isfinite(x) || (empty && x != 0.0)) {
                        std::snprintf(buf, sizeof buf, "o (b%lld i%lld h%d d%d) = %g%s", (long long)b, (long long)i, h,
                                      d, x, empty ? " on a row that sees no key (want 0)" : " is not finite");
                        report(false, label, buf);
                        return;
                    }
                    ek = std::max(ek, std::fabs(x - ref.o[oi + d]));
                    en = std::max(en, std::fabs(naive.o[oi + d] - ref.o[oi + d]));
                }
            }
    const double bound = 2 * en + bdt::storage_half_ulp(c.dtype) * std::max(maxref, 1e-3) + 1e-6;
    std::snprintf(buf, sizeof buf, "max|kernel - ref64| = %.3g > bound %.3g (naive %.3g)", ek, bound, en);
    report(ek <= bound, label, buf);
    if (std::getenv("BD_TEST_VERBOSE"))
        std::printf("  %s: err %.3g (bound %.3g, naive %.3g)\n", label.c_str(), ek, bound, en);
}

std::vector<DCase> cases(bool quick) {
    std::vector<DCase> cs;
    uint64_t seed = 5000;
    auto add = [&](DCase c) {
        c.seed = ++seed;
        cs.push_back(c);
    };
    const int dts[3] = {BD_F32, BD_BF16, BD_F16};
    // head dims per dtype, full and causal, lengths not a multiple of any tile
    for (int dt : dts)
        for (int hd : {64, 128, 32, 40, 96, 256}) {
            if (quick && hd != 64 && hd != 128) continue;
            DCase c;
            c.name = "basic";
            c.dtype = dt;
            c.D = hd;
            c.B = 2;
            c.Sq = 77;
            c.Sk = 93;
            c.H = 2;
            c.Hkv = 2;
            add(c);
            c.name = "causal";
            c.causal = true;
            c.Sq = c.Sk = 131;
            add(c);
        }
    // odd head dims (F32 and BF16)
    for (int dt : {BD_F32, BD_BF16})
        for (int hd : {1, 7, 33, 65}) {
            DCase c;
            c.name = "odd head dim";
            c.dtype = dt;
            c.D = hd;
            c.H = 2;
            c.Hkv = 1;
            c.Sq = 45;
            c.Sk = 70;
            c.causal = true;
            add(c);
        }
    // GQA r = 1, 2, 3, 4 (prefill and decode), causal or not
    for (int dt : dts)
        for (int hkv : {4, 2, 1})
            for (int64_t sq : {1, 5, 70})
                for (bool causal : {true, false}) {
                    if (quick && (dt != BD_BF16 || !causal)) continue;
                    DCase c;
                    c.name = "gqa";
                    c.dtype = dt;
                    c.D = 64;
                    c.B = 2;
                    c.H = 4;
                    c.Hkv = hkv;
                    c.Sq = sq;
                    c.Sk = 129;
                    c.causal = causal;
                    add(c);
                }
    for (int dt : dts) {
        DCase c;
        c.name = "gqa r3";
        c.dtype = dt;
        c.H = 6;
        c.Hkv = 2;
        c.Sq = c.Sk = 100;
        c.causal = true;
        add(c);
        c.H = 4;
        c.Hkv = 2;
        c.name = "causal Sq<Sk (bottom-right)";
        c.Sq = 37;
        c.Sk = 150;
        add(c);
        c.name = "causal Sq>Sk (rows that see no key)";
        c.Sq = 150;
        c.Sk = 37;
        add(c);
        c.name = "Sk=0 (all rows empty)";
        c.Sq = 5;
        c.Sk = 0;
        add(c);
        c.name = "decode over a cache (seqused_k)";
        c.B = 3;
        c.Sq = 1;
        c.Sk = 300;
        c.seqused = true;
        add(c);
        c.name = "speculative decode over a cache (Sq 4, seqused_k)";
        c.Sq = 4;
        add(c);
        c.B = 1;
        c.seqused = false;
        c.causal = false;
        c.name = "window 5/7 non-causal";
        c.Sq = c.Sk = 140;
        c.wl = 5;
        c.wr = 7;
        add(c);
        c.causal = true;
        c.name = "window 16 causal";
        c.wl = 16;
        c.wr = -1;
        add(c);
        c.name = "window left 3, Sq>Sk (rows that see no key)";
        c.Sq = 100;
        c.Sk = 20;
        c.wl = 3;
        add(c);
        c.wl = -1;
        c.name = "peaky scores (q x6)";
        c.Sq = c.Sk = 90;
        c.q_amp = 6.f;
        add(c);
        c.q_amp = 1.f;
        c.name = "lambda 0.8, lambda_init 0.8";
        c.lambda = 0.8f;
        c.lambda_init = 0.8f;
        add(c);
        c.name = "lambda -0.5";
        c.lambda = -0.5f;
        add(c);
    }
    return cs;
}

void expect_error(int st, const char* want, const std::string& what) {
    const std::string msg = bd_cpu_last_error();
    report(st == BD_ERR_INVALID_ARGUMENT && msg.find(want) != std::string::npos, "abi: " + what, msg);
}

void test_abi() {
    float d[64] = {0};
    int32_t used[2] = {3, 9};
    const float sc = 0.125f;
    auto call = [&](int dt, int64_t B, int64_t sq, int64_t sk, int h, int hkv, int hd, const int32_t* u, float scale,
                    int causal, int wl, int wr, float lam, float lam0, float eps, const void* q = nullptr) {
        return bd_cpu_diff_attention(q ? q : d, d, d, d, d, dt, B, sq, sk, h, hkv, hd, u, scale, causal, wl, wr, lam,
                                     lam0, eps, nullptr);
    };
    expect_error(call(BD_F32, 1, 1, 1, 3, 2, 4, nullptr, sc, 0, -1, -1, .5f, .2f, 1e-5f),
                 "diff_attention: heads (3) must be divisible by heads_kv (2)", "heads 3 / heads_kv 2 is rejected");
    expect_error(call(BD_I32, 1, 1, 1, 2, 2, 4, nullptr, sc, 0, -1, -1, .5f, .2f, 1e-5f), "dtype",
                 "an I32 dtype is rejected");
    expect_error(call(BD_F32, 1, 1, 1, 2, 2, 600, nullptr, sc, 0, -1, -1, .5f, .2f, 1e-5f),
                 "head_dim (600) must be in [1, 512]", "head_dim 600 is rejected");
    expect_error(call(BD_F32, 1, 1, 1, 2, 2, 4, nullptr, sc, 0, -1, -1, NAN, .2f, 1e-5f), "lambda (nan) must be finite",
                 "a NaN lambda is rejected");
    expect_error(call(BD_F32, 1, 1, 1, 2, 2, 4, nullptr, sc, 0, -1, -1, .5f, .2f, 0.f), "eps (0) must be finite and > 0",
                 "eps 0 is rejected");
    expect_error(call(BD_F32, 1, 1, 1, 2, 2, 4, nullptr, -1.f, 0, -1, -1, .5f, .2f, 1e-5f), "scale (-1)",
                 "a negative scale is rejected");
    expect_error(call(BD_F32, 1, 1, 1, 2, 2, 4, nullptr, sc, 0, -2, -1, .5f, .2f, 1e-5f), "window_left (-2)",
                 "window_left -2 is rejected");
    expect_error(call(BD_F32, 2, 1, 4, 1, 1, 4, used, sc, 1, -1, -1, .5f, .2f, 1e-5f),
                 "seqused_k[1] (9) must be in [0, seqlen_k = 4]", "seqused_k beyond the cache is rejected");
    expect_error(bd_cpu_diff_attention(d, d, d, nullptr, d, BD_F32, 1, 1, 1, 1, 1, 4, nullptr, sc, 0, -1, -1, .5f, .2f,
                                       1e-5f, nullptr),
                 "null tensor pointer", "a null subln is rejected");
    report(bd_cpu_diff_attention(nullptr, nullptr, nullptr, nullptr, nullptr, BD_F32, 0, 4, 4, 2, 1, 64, nullptr, sc, 1,
                                 -1, -1, .5f, .2f, 1e-5f, nullptr) == BD_OK,
           "abi: batch 0 is a no-op");
    report(bd_cpu_diff_attention_supports(64, BD_BF16) == BD_OK && bd_cpu_diff_attention_supports(512, BD_F32) == BD_OK,
           "abi: CPU supports D64 BF16 and D512 F32");
    int st = bd_cpu_diff_attention_supports(513, BD_F16);
    report(st == BD_ERR_UNSUPPORTED && std::string(bd_cpu_last_error()).find("512") != std::string::npos,
           "abi: CPU head_dim 513 is unsupported, naming the limit", bd_cpu_last_error());
    report(bd_cpu_diff_attention_supports(64, BD_I32) == BD_ERR_UNSUPPORTED, "abi: I32 is unsupported");
}

// lambda = 0: the first map alone, so o must equal RMSNorm(attention o) x subln x (1 - lambda_init)
// of the plain attention twin with heads 2h (an independent path through attention.cpp).
void test_lambda_zero_matches_attention() {
    DCase c;
    c.name = "lambda 0 = RMSNorm(attention)";
    c.B = 2;
    c.Sq = 40;
    c.Sk = 60;
    c.H = 2;
    c.Hkv = 1;
    c.D = 32;
    c.causal = true;
    c.lambda = 0.f;
    c.seed = 99;
    const DInputs in = make_inputs(c);
    std::vector<uint8_t> o;
    int st = run_kernel(in, o);
    // plain attention: 2H query heads of D over 2Hkv key heads, with V widened to 2Hkv heads of 2D.
    // Query 2h reads key head 2h / r there and here; for r = 1 or even that key head is h' with
    // h' / 2 = h / r, the V head map 0 of head h reads, so V head hk of the widened copy is V head hk / 2.
    const int Hq = 2 * c.H, Hk = 2 * c.Hkv, Dv = 2 * c.D;
    std::vector<float> v2((size_t)(c.B * c.Sk * Hk * Dv)), ao((size_t)(c.B * c.Sq * Hq * Dv));
    for (int64_t t = 0; t < c.B * c.Sk; ++t)
        for (int hk = 0; hk < Hk; ++hk)
            for (int d = 0; d < Dv; ++d)
                v2[((size_t)t * Hk + hk) * Dv + d] = (float)in.ld(in.v, (t * c.Hkv + hk / 2) * Dv + d);
    st |= bd_cpu_attention(in.q.data(), in.k.data(), v2.data(), ao.data(), nullptr, BD_F32, c.B, c.Sq, c.Sk, Hq, Hk,
                           c.D, Dv, nullptr, nullptr, nullptr, 1.f / std::sqrt((float)c.D), 0.f, 1, -1, -1, 0, nullptr,
                           nullptr, 0.f, 1, nullptr, nullptr);
    double worst = 0;
    for (int64_t t = 0; t < c.B * c.Sq; ++t)
        for (int h = 0; h < c.H; ++h) {
            const float* a = ao.data() + ((size_t)t * Hq + 2 * h) * Dv;
            float ss = 0;
            for (int d = 0; d < Dv; ++d) ss += a[d] * a[d];
            const float inv = 1.f / std::sqrt(ss / Dv + c.eps);
            for (int d = 0; d < Dv; ++d) {
                const double want = a[d] * inv * in.ld(in.subln, d) * (1.f - c.lambda_init);
                const double got = bd::cpu::load(o.data(), BD_F32, ((size_t)t * c.H + h) * Dv + d);
                worst = std::max(worst, std::fabs(got - want));
            }
        }
    report(st == BD_OK && worst < 1e-5, c.label() + ": lambda 0 equals RMSNorm of the attention twin's map 0",
           "max diff " + std::to_string(worst));
}

}  // namespace

int main(int argc, char** argv) {
    bool quick = false;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--quick")) quick = true;
        else {
            std::fprintf(stderr, "usage: %s [--quick]\n", argv[0]);
            return 2;
        }
    }
    test_abi();
    test_lambda_zero_matches_attention();
    const std::vector<DCase> cs = cases(quick);
    for (const DCase& c : cs) run_case(c);
    std::printf("cases: %zu\n", cs.size());
    std::printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed == 0 ? 0 : 1;
}
