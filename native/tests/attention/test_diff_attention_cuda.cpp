// bd_test_diff_attention_cuda: fused differential attention on CUDA (diff_attention.h) against an
// F64 two-pass oracle and the CPU twin.
//   - the oracle: two attentions through attention_ref.hpp's reference (map 1: query heads 2h with
//     key heads floor(2h / r), map 2: 2h+1 with floor((2h+1) / r), both over V head floor(h / r)),
//     then u = o1 - lambda o2, RMSNorm over 2D, x subln x (1 - lambda_init). FlashAttention's
//     low-precision rule: max|kernel - oracle| <= 2 max|naive - oracle| + half an ulp of the output
//     scale, where "naive" is the same composition from the same-precision naive attentions;
//     NaN/Inf first, guard bytes around o, rows that see no key must be exactly 0;
//   - the CPU twin (bd_cpu_diff_attention) by NMSE when it implements the case (BD_ERR_UNSUPPORTED
//     there: the oracle only, said on the output);
//   - shapes: GQA r = 1, 2, 3, 4, causal or not, windows, Sq < Skv with seqused_k (decode over a KV
//     cache), empty rows (Sq > Skv causal, Skv = 0, a sequence with 0 used keys), F32 / BF16 / F16;
//     argument and capability errors.
//   --quick   a small subset (for compute-sanitizer memcheck / racecheck / synccheck);
//   --bench   BENCHMARKS.md's differential rows: S 2k and 8k, 16 output heads (32 Q/K heads of D 64,
//             V 128), causal, B 1 and B.S = 16k: the fused kernel vs one causal attention with 32
//             heads, D 64, Dv 128, and vs the two-pass unfused version (two attention calls, then the
//             library's scale / add / rmsnorm), cudaEvent medians, with the ratios.
// Without a usable device: prints "skipped: no usable CUDA device (...)" and exits 77.
// Last line: "N passed, M failed"; exit status 1 on any failure.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "attention_ref.hpp"
#define BD_TEST_SUPPORT_CUDA
#include "test_support.hpp"
#include "braindrip/attention.h"
#include "braindrip/cuda_runtime_api.h"
#include "braindrip/diff_attention.h"
#include "braindrip/ops.h"

namespace {



struct DCase {
    std::string name;
    int dtype = BD_F32;
    int64_t B = 1, Sq = 1, Sk = 1;
    int H = 2, Hkv = 2, D = 64;
    bool causal = false;
    int wl = -1, wr = -1;
    bool seqused = false;  // random used lengths; sequence 0 full, the last (B >= 2) empty
    float lambda = 0.8f, lambda_init = 0.2f, eps = 1e-5f;
    uint64_t seed = 1;

    std::string label() const {
        char buf[384];
        std::snprintf(buf, sizeof buf, "%s [%s B%lld Sq%lld Sk%lld H%d Hkv%d D%d%s wl%d wr%d%s lambda%g seed%llu]",
                      name.c_str(), bdt::dtype_str(dtype), (long long)B, (long long)Sq, (long long)Sk, H, Hkv, D,
                      causal ? " causal" : "", wl, wr, seqused ? " seqused" : "", (double)lambda,
                      (unsigned long long)seed);
        return buf;
    }
};

// Host tensors of one case in storage precision.
struct DInputs {
    DCase c;
    std::vector<uint8_t> q, k, v, subln;  // (B,Sq,2H,D), (B,Sk,2Hkv,D), (B,Sk,Hkv,2D), (2D)
    std::vector<int32_t> used;
    int64_t o_elems = 0;
};

DInputs make_dinputs(const DCase& c) {
    DInputs in;
    in.c = c;
    std::mt19937_64 rng(c.seed);
    bdt::fill_random(in.q, c.dtype, c.B * c.Sq * 2 * c.H * c.D, rng, 1.f);
    bdt::fill_random(in.k, c.dtype, c.B * c.Sk * 2 * c.Hkv * c.D, rng, 1.f);
    bdt::fill_random(in.v, c.dtype, c.B * c.Sk * c.Hkv * 2 * c.D, rng, 1.f);
    std::normal_distribution<float> nd(1.f, 0.2f);
    in.subln.resize((size_t)2 * c.D * bdt::dtype_size(c.dtype));
    for (int d = 0; d < 2 * c.D; ++d) bd::cpu::store(in.subln.data(), c.dtype, d, nd(rng));
    if (c.seqused) {
        in.used.resize((size_t)c.B);
        std::uniform_int_distribution<int64_t> uu(0, c.Sk);
        for (int64_t b = 0; b < c.B; ++b)
            in.used[b] = (int32_t)(b == 0 ? c.Sk : (b == c.B - 1 ? 0 : uu(rng)));
    }
    in.o_elems = c.B * c.Sq * c.H * 2 * c.D;
    return in;
}

// Map m of the case as an ordinary attention over H query heads (G = 1): q[:, :, 2h+m],
// k[:, :, floor((2h+m) / r)], v[:, :, floor(h / r)] gathered into dense buffers.
bdt::Inputs map_inputs(const DInputs& di, int m) {
    const DCase& c = di.c;
    const size_t es = bdt::dtype_size(c.dtype);
    const int r = c.H / c.Hkv, D = c.D;
    bdt::Inputs in;
    bdt::Case& a = in.c;
    a.name = "map";
    a.dtype = c.dtype;
    a.B = c.B;
    a.Sq = c.Sq;
    a.Sk = c.Sk;
    a.Hq = a.Hkv = c.H;
    a.D = D;
    a.Dv = 2 * D;
    a.causal = c.causal;
    a.wl = c.wl;
    a.wr = c.wr;
    a.seqused = c.seqused;
    in.q.resize((size_t)(c.B * c.Sq * c.H * D) * es);
    in.k.resize((size_t)(c.B * c.Sk * c.H * D) * es);
    in.v.resize((size_t)(c.B * c.Sk * c.H * 2 * D) * es);
    for (int64_t t = 0; t < c.B * c.Sq; ++t)
        for (int h = 0; h < c.H; ++h)
            std::memcpy(&in.q[((t * c.H + h) * D) * es], &di.q[((t * 2 * c.H + 2 * h + m) * D) * es], D * es);
    for (int64_t t = 0; t < c.B * c.Sk; ++t)
        for (int h = 0; h < c.H; ++h) {
            const int hk = (2 * h + m) / r, hv = h / r;
            std::memcpy(&in.k[((t * c.H + h) * D) * es], &di.k[((t * 2 * c.Hkv + hk) * D) * es], D * es);
            std::memcpy(&in.v[((t * c.H + h) * 2 * D) * es], &di.v[((t * c.Hkv + hv) * 2 * D) * es], 2 * D * es);
        }
    in.sq.assign((size_t)c.B, c.Sq);
    in.sk.assign((size_t)c.B, c.Sk);
    if (c.seqused)
        for (int64_t b = 0; b < c.B; ++b) in.sk[b] = di.used[b];
    in.q_start.assign((size_t)c.B, 0);
    in.k_start.assign((size_t)c.B, 0);
    in.total_q = c.B * c.Sq;
    in.total_k = c.B * c.Sk;
    if (c.seqused) in.used = di.used;
    bd_attention_params_init(&in.p, c.dtype, c.B, c.Sq, c.Sk, c.H, c.H, D, 2 * D);
    in.p.q = in.q.data();
    in.p.k = in.k.data();
    in.p.v = in.v.data();
    in.p.is_causal = c.causal;
    in.p.window_left = c.wl;
    in.p.window_right = c.wr;
    if (c.seqused) in.p.seqused_k = in.used.data();
    in.o_elems = in.total_q * c.H * 2 * D;
    in.lse_elems = in.total_q * c.H;
    return in;
}

// The differential output from two attention outputs: F64 (precise) from the oracle's maps, or the
// naive same-precision composition (F32 arithmetic, one rounding to storage).
struct DRef {
    std::vector<double> o;
    std::vector<uint8_t> empty;  // per (b, i, h): the row sees no key
};

DRef combine(const DInputs& di, const bdt::Inputs& m1, const bdt::Outputs& a, const bdt::Outputs& b, bool precise) {
    const DCase& c = di.c;
    const int Dv = 2 * c.D;
    DRef r;
    r.o.assign((size_t)di.o_elems, 0.0);
    r.empty.assign((size_t)(c.B * c.Sq * c.H), 0);
    for (int64_t bb = 0; bb < c.B; ++bb)
        for (int64_t i = 0; i < c.Sq; ++i)
            for (int h = 0; h < c.H; ++h) {
                const int64_t oi = m1.o_index(bb, i, h), li = m1.lse_index(bb, i, h);
                r.empty[(bb * c.Sq + i) * c.H + h] = a.empty[li];
                if (a.empty[li]) continue;  // o = 0
                if (precise) {
                    std::vector<double> u((size_t)Dv);
                    double ss = 0;
                    for (int d = 0; d < Dv; ++d) {
                        u[d] = a.o[oi + d] - (double)c.lambda * b.o[oi + d];
                        ss += u[d] * u[d];
                    }
                    const double rn = 1.0 / std::sqrt(ss / Dv + (double)c.eps) * (1.0 - (double)c.lambda_init);
                    for (int d = 0; d < Dv; ++d) r.o[oi + d] = u[d] * rn * bd::cpu::load(di.subln.data(), c.dtype, d);
                } else {
                    std::vector<float> u((size_t)Dv);
                    float ss = 0;
                    for (int d = 0; d < Dv; ++d) {
                        u[d] = (float)a.o[oi + d] - c.lambda * (float)b.o[oi + d];
                        ss += u[d] * u[d];
                    }
                    const float rn = (1.f - c.lambda_init) / std::sqrt(ss / Dv + c.eps);
                    for (int d = 0; d < Dv; ++d)
                        r.o[oi + d] = bdt::round_to(c.dtype, u[d] * rn * bd::cpu::load(di.subln.data(), c.dtype, d));
                }
            }
    return r;
}

struct DRun {
    std::vector<uint8_t> o;
    int status = BD_OK;
    std::string error;
    bool guards_ok = true;
};

DRun run_cuda(const DInputs& in) {
    const DCase& c = in.c;
    DRun r;
    DevBuf q, k, v, sub, used, o;
    upload(q, in.q);
    upload(k, in.k);
    upload(v, in.v);
    upload(sub, in.subln);
    if (c.seqused) upload(used, in.used);
    const size_t o_bytes = (size_t)in.o_elems * bdt::dtype_size(c.dtype);
    std::vector<uint8_t> o_host(o_bytes + 2 * kGuard, kPattern);
    upload(o, o_host);
    r.status = bd_cuda_diff_attention(q.p, c.Sk ? k.p : nullptr, c.Sk ? v.p : nullptr, sub.p, o.c() + kGuard, c.dtype,
                                      c.B, c.Sq, c.Sk, c.H, c.Hkv, c.D,
                                      c.seqused ? static_cast<const int32_t*>(used.p) : nullptr,
                                      1.f / std::sqrt((float)c.D), c.causal, c.wl, c.wr, c.lambda, c.lambda_init, c.eps,
                                      nullptr);
    if (r.status == BD_OK) {
        const int st = bd_cuda_device_synchronize();
        if (st != BD_OK) r.status = st;
    }
    if (r.status != BD_OK) {
        r.error = bd_cuda_last_error();
        return r;
    }
    bd_cuda_memcpy(o_host.data(), o.p, (int64_t)o_host.size());
    for (size_t g = 0; g < kGuard; ++g)
        r.guards_ok &= o_host[g] == kPattern && o_host[kGuard + o_bytes + g] == kPattern;
    r.o.assign(o_host.begin() + kGuard, o_host.begin() + kGuard + o_bytes);
    return r;
}

DRun run_cpu(const DInputs& in) {
    const DCase& c = in.c;
    DRun r;
    r.o.assign((size_t)in.o_elems * bdt::dtype_size(c.dtype), 0);
    r.status = bd_cpu_diff_attention(in.q.data(), in.k.data(), in.v.data(), in.subln.data(), r.o.data(), c.dtype, c.B,
                                     c.Sq, c.Sk, c.H, c.Hkv, c.D, c.seqused ? in.used.data() : nullptr,
                                     1.f / std::sqrt((float)c.D), c.causal, c.wl, c.wr, c.lambda, c.lambda_init, c.eps,
                                     nullptr);
    if (r.status != BD_OK) r.error = bd_cpu_last_error();
    return r;
}

// NMSE against the CPU twin: attention's tolerances (test_attention_cuda.cpp) x 4, for the RMSNorm
// that rescales u = o1 - lambda o2 (and its rounding differences) to unit RMS.
double nmse_tol(int dt) { return dt == BD_F32 ? 4e-10 : dt == BD_F16 ? 4e-6 : 4e-5; }

int g_cpu_unsupported = 0;

void run_case(const DCase& c) {
    const std::string label = c.label();
    if (bd_cuda_diff_attention_supports(c.D, c.dtype) != BD_OK) {
        std::printf("skipped %s: %s\n", label.c_str(), bd_cuda_last_error());
        return;
    }
    const DInputs in = make_dinputs(c);
    const DRun g = run_cuda(in);
    if (g.status != BD_OK) {
        report(false, label, "status " + std::to_string(g.status) + ": " + g.error);
        return;
    }
    if (!g.guards_ok) {
        report(false, label, "guard bytes around o were overwritten");
        return;
    }
    const bdt::Inputs m1 = map_inputs(in, 0), m2 = map_inputs(in, 1);
    const DRef ref = combine(in, m1, bdt::reference(m1, true), bdt::reference(m2, true), true);
    const DRef naive = combine(in, m1, bdt::reference(m1, false), bdt::reference(m2, false), false);
    const int Dv = 2 * c.D;
    double maxref = 0, ek = 0, en = 0;
    char buf[512];
    for (double x : ref.o) maxref = std::max(maxref, std::fabs(x));
    for (int64_t e = 0; e < in.o_elems; ++e) {
        const double x = bd::cpu::load(g.o.data(), c.dtype, e);
        if (!std::isfinite(x)) {
            std::snprintf(buf, sizeof buf, "o[%lld] = %g is not finite", (long long)e, x);
            report(false, label, buf);
            return;
        }
    }
    for (int64_t row = 0; row < c.B * c.Sq * c.H; ++row)
        for (int d = 0; d < Dv; ++d) {
            const int64_t e = row * Dv + d;
            const double x = bd::cpu::load(g.o.data(), c.dtype, e);
            if (ref.empty[row] && x != 0.0) {
                std::snprintf(buf, sizeof buf, "row %lld sees no key but o[%d] = %g", (long long)row, d, x);
                report(false, label, buf);
                return;
            }
            ek = std::max(ek, std::fabs(x - ref.o[e]));
            en = std::max(en, std::fabs(naive.o[e] - ref.o[e]));
        }
    const double bound = 2 * en + bdt::storage_half_ulp(c.dtype) * std::max(maxref, 1e-3) + 1e-6;
    if (ek > bound) {
        std::snprintf(buf, sizeof buf, "o: max|kernel - ref64| = %.3g > bound %.3g (naive %.3g)", ek, bound, en);
        report(false, label, buf);
        return;
    }
    const DRun cpu = run_cpu(in);
    if (cpu.status == BD_ERR_UNSUPPORTED) {
        ++g_cpu_unsupported;
        report(true, label);
        if (std::getenv("BD_TEST_VERBOSE"))
            std::printf("  %s: err %.3g (bound %.3g); CPU twin unsupported (%s): oracle only\n", label.c_str(), ek, bound,
                        cpu.error.c_str());
        return;
    }
    if (cpu.status != BD_OK) {
        report(false, label, "CPU twin status " + std::to_string(cpu.status) + ": " + cpu.error);
        return;
    }
    const double err = bdt::nmse(m1, g.o.data(), cpu.o.data());
    std::snprintf(buf, sizeof buf, "nmse vs CPU twin %.3g (tol %.1g); oracle err %.3g (bound %.3g)", err,
                  nmse_tol(c.dtype), ek, bound);
    report(err <= nmse_tol(c.dtype), label, buf);
    if (std::getenv("BD_TEST_VERBOSE")) std::printf("  %s: %s\n", label.c_str(), buf);
}

std::vector<DCase> cases(bool quick) {
    std::vector<DCase> cs;
    uint64_t seed = 500;
    auto add = [&](DCase c) {
        c.seed = ++seed;
        cs.push_back(c);
    };
    for (int dt : {BD_F32, BD_BF16, BD_F16}) {
        if (quick && dt == BD_F16) continue;
        DCase c;
        c.dtype = dt;
        c.D = 64;
        // GQA ratios r = 1, 2, 3, 4 (r = 3: some output heads' maps use two key heads, some one)
        const int hs[4][2] = {{2, 2}, {4, 2}, {3, 1}, {4, 1}};
        for (const auto& hh : hs) {
            c.H = hh[0];
            c.Hkv = hh[1];
            c.B = 2;
            c.name = "basic";
            c.causal = false;
            c.Sq = 77;
            c.Sk = 93;
            add(c);
            if (quick) continue;
            c.name = "causal";
            c.causal = true;
            c.Sq = c.Sk = 131;
            add(c);
        }
        if (quick) continue;
        c.H = 4;
        c.Hkv = 2;
        c.B = 2;
        c.causal = true;
        c.name = "causal Sq<Sk (bottom-right)";
        c.Sq = 37;
        c.Sk = 150;
        add(c);
        c.name = "causal Sq>Sk (empty rows)";
        c.Sq = 150;
        c.Sk = 37;
        add(c);
        c.name = "Sk=0 (all rows empty)";
        c.Sq = 5;
        c.Sk = 0;
        add(c);
        c.name = "window 16 causal";
        c.Sq = c.Sk = 140;
        c.wl = 16;
        add(c);
        c.name = "window 5/7 non-causal";
        c.causal = false;
        c.wl = 5;
        c.wr = 7;
        add(c);
        c.wl = c.wr = -1;
        c.causal = true;
        c.name = "decode Sq=1 over a KV cache (seqused_k, one sequence empty)";
        c.B = 3;
        c.Sq = 1;
        c.Sk = 300;
        c.seqused = true;
        add(c);
        c.name = "Sq<Sk with seqused_k (speculative decode)";
        c.Sq = 5;
        add(c);
        c.name = "prefill chunk over a cache, seqused_k, window 40";
        c.Sq = 70;
        c.wl = 40;
        add(c);
        c.seqused = false;
        c.wl = -1;
        c.B = 1;
        c.name = "lambda 0 (map 1 alone, normalised)";
        c.Sq = c.Sk = 100;
        c.lambda = 0.f;
        add(c);
        c.name = "lambda -0.3, lambda_init 0.8";
        c.lambda = -0.3f;
        c.lambda_init = 0.8f;
        add(c);
        c.name = "long causal (several tiles each way)";
        c.lambda = 0.8f;
        c.lambda_init = 0.2f;
        c.H = 2;
        c.Hkv = 1;
        c.Sq = c.Sk = 333;
        add(c);
    }
    // F32 covers other head dims (SIMT path: any D <= 256)
    for (int d : {16, 40, 128, 256}) {
        if (quick && d != 128) continue;
        DCase c;
        c.dtype = BD_F32;
        c.D = d;
        c.H = 2;
        c.Hkv = 1;
        c.B = 1;
        c.causal = true;
        c.Sq = 45;
        c.Sk = 70;
        c.name = "F32 head dim";
        add(c);
    }
    return cs;
}

void test_errors() {
    report(bd_cuda_diff_attention_supports(64, BD_BF16) == BD_OK && bd_cuda_diff_attention_supports(64, BD_F16) == BD_OK,
           "cuda diff: BF16/F16 support D 64");
    report(bd_cuda_diff_attention_supports(200, BD_F32) == BD_OK, "cuda diff: F32 supports D 200");
    int st = bd_cuda_diff_attention_supports(128, BD_BF16);
    report(st == BD_ERR_UNSUPPORTED && std::string(bd_cuda_last_error()).find("head_dim 64") != std::string::npos,
           "cuda diff: BF16 D 128 unsupported, naming the supported head dim", bd_cuda_last_error());
    st = bd_cuda_diff_attention_supports(300, BD_F32);
    report(st == BD_ERR_UNSUPPORTED && std::string(bd_cuda_last_error()).find("256") != std::string::npos,
           "cuda diff: F32 D 300 unsupported, naming the limit", bd_cuda_last_error());
    // argument errors are found before any memory is touched (no pointers needed)
    st = bd_cuda_diff_attention(nullptr, nullptr, nullptr, nullptr, nullptr, BD_BF16, 1, 4, 4, 3, 2, 64, nullptr, 0.125f,
                                1, -1, -1, 0.5f, 0.2f, 1e-5f, nullptr);
    report(st == BD_ERR_INVALID_ARGUMENT && std::string(bd_cuda_last_error()).find("divisible") != std::string::npos,
           "cuda diff: heads 3 / heads_kv 2 rejected, naming the rule", bd_cuda_last_error());
    st = bd_cuda_diff_attention(nullptr, nullptr, nullptr, nullptr, nullptr, BD_F32, 1, 4, 4, 2, 2, 64, nullptr, 0.125f,
                                1, -1, -1, NAN, 0.2f, 1e-5f, nullptr);
    report(st == BD_ERR_INVALID_ARGUMENT && std::string(bd_cuda_last_error()).find("lambda") != std::string::npos,
           "cuda diff: NaN lambda rejected", bd_cuda_last_error());
    st = bd_cuda_diff_attention(nullptr, nullptr, nullptr, nullptr, nullptr, BD_F32, 1, 4, 4, 2, 2, 64, nullptr, 0.125f,
                                1, -1, -1, 0.5f, 0.2f, 1e-5f, nullptr);
    report(st == BD_ERR_INVALID_ARGUMENT && std::string(bd_cuda_last_error()).find("null") != std::string::npos,
           "cuda diff: null tensors rejected", bd_cuda_last_error());
    // a misaligned BF16 pointer: a clear error, no launch
    DevBuf buf(4096);
    st = bd_cuda_diff_attention(buf.c() + 2, buf.c(), buf.c(), buf.c(), buf.c(), BD_BF16, 1, 1, 1, 1, 1, 64, nullptr,
                                0.125f, 0, -1, -1, 0.5f, 0.2f, 1e-5f, nullptr);
    report(st == BD_ERR_UNSUPPORTED && std::string(bd_cuda_last_error()).find("aligned") != std::string::npos,
           "cuda diff: misaligned BF16 q rejected", bd_cuda_last_error());
    report(bd_cuda_diff_attention(nullptr, nullptr, nullptr, nullptr, nullptr, BD_BF16, 0, 4, 4, 2, 2, 64, nullptr,
                                  0.125f, 1, -1, -1, 0.5f, 0.2f, 1e-5f, nullptr) == BD_OK,
           "cuda diff: batch 0 is a no-op");
}

// ---- benchmarks

uint64_t g_rng = 0x9E3779B97F4A7C15ull;
void fill_bf16_random(std::vector<uint16_t>& h) {
    for (auto& x : h) {
        g_rng ^= g_rng << 13;
        g_rng ^= g_rng >> 7;
        g_rng ^= g_rng << 17;
        const float f = ((int)(g_rng >> 40 & 0xFFFF) - 32768) / 16384.f;  // [-2, 2)
        x = bdt::f32_to_bf16(f);
    }
}

void fill_device(DevBuf& d, size_t elems) {
    std::vector<uint16_t> h(elems);
    fill_bf16_random(h);
    d.p = bd_cuda_malloc((int64_t)(elems * 2));
    bd_cuda_memcpy(d.p, h.data(), (int64_t)(elems * 2));
}


void bench() {
    Timer tm;
    const int H = 16, D = 64, Dv = 128;
    const float lambda = 0.8f, lambda_init = 0.2f, eps = 1e-5f, scale = 1.f / std::sqrt((float)D);
    std::printf("bench: differential attention BF16, H %d (%d Q/K heads of D %d, V %d), causal, median of 10 after 3 "
                "warm-up runs (cudaEvent); target fused / one-causal <= 1.3\n",
                H, 2 * H, D, Dv);
    struct Shape {
        int64_t B, S;
    };
    for (const Shape sh : {Shape{1, 2048}, Shape{1, 8192}, Shape{8, 2048}, Shape{2, 8192}}) {
        const int64_t B = sh.B, S = sh.S, T = B * S;
        DevBuf q, k, v, v32, sub, o, o32, o1, o2;
        fill_device(q, (size_t)T * 2 * H * D);  // (B, S, 32, 64): also the one-causal peer's q
        fill_device(k, (size_t)T * 2 * H * D);  // Hkv = H: 32 key heads, also the peer's k
        fill_device(v, (size_t)T * H * Dv);     // (B, S, 16, 128)
        fill_device(v32, (size_t)T * 2 * H * Dv);
        fill_device(sub, (size_t)Dv);
        o.p = bd_cuda_malloc((int64_t)T * H * Dv * 2);
        o32.p = bd_cuda_malloc((int64_t)T * 2 * H * Dv * 2);
        o1.p = bd_cuda_malloc((int64_t)T * H * Dv * 2);
        o2.p = bd_cuda_malloc((int64_t)T * H * Dv * 2);
        int st_f = BD_OK, st_a = BD_OK, st_2 = BD_OK;
        const double t_fused = tm.median_ms(
            [&] {
                st_f = bd_cuda_diff_attention(q.p, k.p, v.p, sub.p, o.p, BD_BF16, B, S, S, H, H, D, nullptr, scale, 1,
                                              -1, -1, lambda, lambda_init, eps, nullptr);
            },
            3, 10);
        const double t_one = tm.median_ms(
            [&] {
                st_a = bd_cuda_attention(q.p, k.p, v32.p, o32.p, nullptr, BD_BF16, B, S, S, 2 * H, 2 * H, D, Dv, nullptr,
                                         nullptr, nullptr, scale, 0.f, 1, -1, -1, 0, nullptr, nullptr, 0.f, 1, nullptr,
                                         nullptr);
            },
            3, 10);
        // two-pass: map m = query heads 2h+m (head stride 2D) against key heads 2h+m (r = 1), then
        // o2 *= -lambda, u = o1 + o2, o = rmsnorm(u) with weight subln x (1 - lambda_init)
        bd_attention_params pm[2];
        for (int m = 0; m < 2; ++m) {
            bd_attention_params& p = pm[m];
            bd_attention_params_init(&p, BD_BF16, B, S, S, H, H, D, Dv);
            p.q_head_stride = p.k_head_stride = 2 * D;
            p.q_row_stride = p.k_row_stride = 2 * H * D;
            p.q_batch_stride = p.k_batch_stride = S * 2 * H * D;
            p.q = q.c() + m * D * 2;
            p.k = k.c() + m * D * 2;
            p.v = v.p;
            p.o = m == 0 ? o1.p : o2.p;
            p.scale = scale;
            p.is_causal = 1;
            p.num_splits = 1;
        }
        std::vector<uint16_t> w_host((size_t)Dv);
        std::vector<uint16_t> sub_host((size_t)Dv);
        bd_cuda_memcpy(sub_host.data(), sub.p, (int64_t)Dv * 2);
        for (int d = 0; d < Dv; ++d)
            w_host[d] = bdt::f32_to_bf16(bdt::bf16_to_f32(sub_host[d]) * (1.f - lambda_init));
        DevBuf w;
        upload(w, w_host);
        const int64_t n = T * H * Dv;
        const double t_two = tm.median_ms(
            [&] {
                st_2 = bd_cuda_attention_forward(&pm[0], nullptr);
                if (st_2 == BD_OK) st_2 = bd_cuda_attention_forward(&pm[1], nullptr);
                if (st_2 == BD_OK) st_2 = bd_cuda_scale(o2.p, o2.p, n, -lambda, BD_BF16, nullptr);
                if (st_2 == BD_OK) st_2 = bd_cuda_add(o1.p, o2.p, o1.p, n, BD_BF16, nullptr);
                if (st_2 == BD_OK) st_2 = bd_cuda_rmsnorm(o1.p, w.p, o.p, T * H, Dv, eps, BD_BF16, nullptr);
            },
            3, 10);
        std::printf("bench: diff B%lld S%lld: fused %.3f ms%s, one causal (32 heads, D 64, Dv 128) %.3f ms%s, two-pass "
                    "%.3f ms%s; fused/one-causal %.2f, fused/two-pass %.2f\n",
                    (long long)B, (long long)S, t_fused, st_f == BD_OK ? "" : " (FAILED)", t_one,
                    st_a == BD_OK ? "" : " (FAILED)", t_two, st_2 == BD_OK ? "" : " (FAILED)", t_fused / t_one,
                    t_fused / t_two);
        if (st_f != BD_OK || st_a != BD_OK || st_2 != BD_OK) std::printf("bench: error: %s\n", bd_cuda_last_error());
    }
}

}  // namespace

int main(int argc, char** argv) {
    bool quick = false, do_bench = false;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--quick")) quick = true;
        else if (!std::strcmp(argv[i], "--bench")) do_bench = true;
        else {
            std::fprintf(stderr, "usage: %s [--quick] [--bench]\n", argv[0]);
            return 2;
        }
    }
    const int n = bd_cuda_device_count();
    if (n <= 0) {
        std::printf("skipped: no usable CUDA device (%s)\n", n < 0 ? bd_cuda_last_error() : "0 devices");
        return 77;
    }
    char name[256] = {0};
    int major = 0, minor = 0, sms = 0;
    int64_t mem = 0;
    bd_cuda_device_info(0, name, sizeof name, &major, &minor, &sms, &mem);
    std::printf("device: %s, sm_%d%d, %d SMs, %.0f GiB\n", name, major, minor, sms, mem / 1073741824.0);
    if (do_bench) {
        bench();
        return 0;
    }
    test_errors();
    for (const DCase& c : cases(quick)) run_case(c);
    if (g_cpu_unsupported > 0)
        std::printf("note: the CPU twin returned BD_ERR_UNSUPPORTED for %d case(s): compared with the oracle only\n",
                    g_cpu_unsupported);
    std::printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed == 0 ? 0 : 1;
}
