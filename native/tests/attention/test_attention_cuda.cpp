// bd_test_attention_cuda: the fused attention CUDA kernels against the CPU twin and the F64 oracle.
//   - every standard case (attention_ref.hpp) the device supports: NaN/Inf first, guard regions
//     around o and lse, then FlashAttention's low-precision rule against the oracle and the NMSE
//     against the CPU twin; unsupported shapes print why they were skipped;
//   - automatic split-KV (num_splits 0 with a workspace) and the capability messages;
//   - block-sparse layouts (bdt::sparse_cases and bdt::cuda_sparse_cases: patterns and random,
//     per-head, decode with packed GQA rows, split-KV and auto), and device layouts with
//     out-of-range, negative, repeated or out-of-order columns, which the kernels must skip;
//   --quick   a small subset (for compute-sanitizer memcheck / racecheck / synccheck);
//   --bench   TFLOP/s of BF16 hd128 prefill (causal and not, B.S = 16384, S 512..16k), sliding
//             window 4k vs full causal at 32k (Hq 32 / Hkv 8), decode GB/s over 1k..32k caches
//             with split-KV; block-sparse at BENCHMARKS.md's shape (S 16k causal, block 64,
//             local:4 + stride:8) against dense causal, and a sparse decode (local:4 + vstride:8);
//             cudaEvent timing after warm-up, median of repeats.
// Without a usable device: prints "skipped: no usable CUDA device (...)" and exits 77.
// Last line: "N passed, M failed"; exit status 1 on any failure.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "attention_ref.hpp"
#define BD_TEST_SUPPORT_CUDA
#include "test_support.hpp"
#include "braindrip/attention.h"
#include "braindrip/cuda_runtime_api.h"
#include "braindrip/ops.h"
#include "braindrip/detail/attention_plan.hpp"
#include "sparse_walk_test.hpp"  // cuda_sparse_cases, with_junk_columns

namespace {

int g_sms = 0;  // SMs of device 0 (the auto split choice depends on it)


struct Run {
    std::vector<uint8_t> o;
    std::vector<float> lse;
    int status = BD_OK;
    std::string error;
    bool guards_ok = true;
    int splits_used = 1;
};

Run run_cpu(const bdt::Inputs& in, int num_splits) {
    Run r;
    r.o.assign((size_t)in.o_elems * bdt::dtype_size(in.c.dtype), 0);
    r.lse.assign((size_t)in.lse_elems, 0.f);
    bd_attention_params p = in.p;
    p.o = r.o.data();
    p.lse = r.lse.data();
    p.num_splits = num_splits;
    std::vector<float> ws;
    if (num_splits > 1) {
        ws.assign((size_t)(bd_cpu_attention_workspace_bytes(&p) / 4 + 64), 0.f);
        p.o_accum = ws.data();
        p.lse_accum =
            ws.data() + bd::attn::workspace_lse_offset(p.batch, p.seqlen_q, p.heads_q, p.head_dim_v, num_splits) / 4;
    }
    r.status = bd_cpu_attention_forward(&p, nullptr);
    if (r.status != BD_OK) r.error = bd_cpu_last_error();
    return r;
}

// num_splits as the case says, or 0 = auto (with a workspace). `layout`: the block-sparse layout to
// upload instead of the case's own (the garbage-column test).
Run run_cuda(const bdt::Inputs& in, int num_splits, const bdt::Bsr* layout = nullptr) {
    Run r;
    const bdt::Case& c = in.c;
    DevBuf qkv, q, k, v, cu_q, cu_k, used, pos, sinks, row_ptr, col_idx, rel, alibi;
    bd_attention_params p = in.p;
    if (c.fused_qkv) {
        upload(qkv, in.qkv);
        p.q = qkv.c();
        p.k = qkv.c() + (static_cast<const char*>(in.p.k) - reinterpret_cast<const char*>(in.qkv.data()));
        p.v = qkv.c() + (static_cast<const char*>(in.p.v) - reinterpret_cast<const char*>(in.qkv.data()));
    } else {
        upload(q, in.q);
        upload(k, in.k);
        upload(v, in.v);
        p.q = q.p;
        p.k = in.k.empty() ? nullptr : k.p;
        p.v = in.v.empty() ? nullptr : v.p;
    }
    if (in.p.cu_seqlens_q) {
        upload(cu_q, in.cu_q);
        upload(cu_k, in.cu_k);
        p.cu_seqlens_q = static_cast<const int32_t*>(cu_q.p);
        p.cu_seqlens_k = static_cast<const int32_t*>(cu_k.p);
    }
    if (in.p.seqused_k) {
        upload(used, in.used);
        p.seqused_k = static_cast<const int32_t*>(used.p);
    }
    if (in.p.k_rope_positions) {
        upload(pos, in.pos);
        p.k_rope_positions = static_cast<const int32_t*>(pos.p);
    }
    if (in.p.sinks) {
        upload(sinks, in.sinks);
        p.sinks = static_cast<const float*>(sinks.p);
    }
    if (in.p.rel_bias) {
        upload(rel, in.rel_table);
        p.rel_bias = static_cast<const float*>(rel.p);
    }
    if (in.p.alibi_slopes) {
        upload(alibi, in.alibi_slopes);
        p.alibi_slopes = static_cast<const float*>(alibi.p);
    }
    if (in.p.block_row_ptr) {
        upload(row_ptr, layout ? layout->row_ptr : in.row_ptr);
        upload(col_idx, layout ? layout->col_idx : in.col_idx);
        p.block_row_ptr = static_cast<const int32_t*>(row_ptr.p);
        p.block_col_idx = static_cast<const int32_t*>(col_idx.p);
    }
    const size_t o_bytes = (size_t)in.o_elems * bdt::dtype_size(c.dtype), lse_bytes = (size_t)in.lse_elems * 4;
    std::vector<uint8_t> o_host(o_bytes + 2 * kGuard, kPattern), lse_host(lse_bytes + 2 * kGuard, kPattern);
    DevBuf o, lse;
    upload(o, o_host);
    upload(lse, lse_host);
    p.o = o.c() + kGuard;
    p.lse = reinterpret_cast<float*>(lse.c() + kGuard);
    p.num_splits = num_splits;
    p.o_accum = p.lse_accum = nullptr;
    DevBuf ws;
    const int64_t ws_bytes = bd_cuda_attention_workspace_bytes(&p);
    if (ws_bytes > 0) {
        std::vector<uint8_t> nan_fill((size_t)ws_bytes, 0xFF);  // NaN: a missed partial would show
        upload(ws, nan_fill);
        // one buffer; the call carves lse_accum for the split count it resolves to
        r.splits_used = num_splits > 0 ? num_splits : bd::attn::auto_num_splits(p, g_sms);
        p.o_accum = reinterpret_cast<float*>(ws.c());
        p.lse_accum = nullptr;
    }
    r.status = bd_cuda_attention_forward(&p, nullptr);
    if (r.status == BD_OK) {
        const int st = bd_cuda_device_synchronize();
        if (st != BD_OK) r.status = st;
    }
    if (r.status != BD_OK) {
        r.error = bd_cuda_last_error();
        return r;
    }
    bd_cuda_memcpy(o_host.data(), o.p, (int64_t)o_host.size());
    bd_cuda_memcpy(lse_host.data(), lse.p, (int64_t)lse_host.size());
    for (size_t g = 0; g < kGuard; ++g)
        r.guards_ok &= o_host[g] == kPattern && o_host[kGuard + o_bytes + g] == kPattern && lse_host[g] == kPattern &&
                       lse_host[kGuard + lse_bytes + g] == kPattern;
    r.o.assign(o_host.begin() + kGuard, o_host.begin() + kGuard + o_bytes);
    r.lse.resize(in.lse_elems);
    std::memcpy(r.lse.data(), lse_host.data() + kGuard, lse_bytes);
    return r;
}

double nmse_tol(int dt) { return dt == BD_F32 ? 1e-10 : dt == BD_F16 ? 1e-6 : 1e-5; }

void run_case(const bdt::Case& c, int num_splits_override = -1, const bdt::Bsr* device_layout = nullptr,
              const char* suffix = "") {
    std::string label = c.label() + suffix;
    if (num_splits_override == 0) label += " (auto splits)";
    if (bd_cuda_attention_supports(c.D, c.Dv, c.dtype) != BD_OK) {
        std::printf("skipped %s: %s\n", label.c_str(), bd_cuda_last_error());
        return;
    }
    const bdt::Inputs in = bdt::make_inputs(c);
    const int splits = num_splits_override >= 0 ? num_splits_override : c.num_splits;
    const Run g = run_cuda(in, splits, device_layout);
    if (g.status != BD_OK) {
        report(false, label, "status " + std::to_string(g.status) + ": " + g.error);
        return;
    }
    if (!g.guards_ok) {
        report(false, label, "guard bytes around o or lse were overwritten");
        return;
    }
    const bdt::Outputs ref = bdt::reference(in, true), naive = bdt::reference(in, false);
    const bdt::Check chk = bdt::check_outputs(in, g.o.data(), g.lse.data(), ref, naive);
    if (!chk.ok) {
        report(false, label, chk.msg);
        return;
    }
    const Run cpu = run_cpu(in, c.num_splits);
    double lse_diff = 0;
    for (int64_t b = 0; b < c.B; ++b)
        for (int64_t i = 0; i < in.sq[b]; ++i)
            for (int h = 0; h < c.Hq; ++h) {
                const int64_t li = in.lse_index(b, i, h);
                const float a = g.lse[li], e = cpu.lse[li];
                if (a == e) continue;  // -inf == -inf included
                lse_diff = std::max(lse_diff, (double)std::fabs(a - e) / (1.0 + std::fabs(e)));
            }
    const double err = bdt::nmse(in, g.o.data(), cpu.o.data());
    char why[256];
    std::snprintf(why, sizeof why, "nmse vs CPU twin %.3g (tol %.1g), lse rel diff %.3g", err, nmse_tol(c.dtype), lse_diff);
    if (cpu.status != BD_OK) {
        report(false, label, "CPU twin: status " + std::to_string(cpu.status) + ": " + cpu.error);
        return;
    }
    report(err <= nmse_tol(c.dtype) && lse_diff <= 1e-5, label, why);
    if (std::getenv("BD_TEST_VERBOSE"))
        std::printf("  %s: err_o %.3g (bound %.3g), %s, splits %d\n", label.c_str(), chk.err_o, chk.bound_o, why,
                    g.splits_used);
}

void test_capabilities() {
    report(bd_cuda_attention_supports(128, 128, BD_BF16) == BD_OK, "cuda: supports hd128 BF16");
    int st = bd_cuda_attention_supports(72, 72, BD_BF16);
    report(st == BD_ERR_UNSUPPORTED && std::string(bd_cuda_last_error()).find("64, 80, 96, 128, 256") != std::string::npos,
           "cuda: hd72 BF16 unsupported, naming the head dims", bd_cuda_last_error());
    st = bd_cuda_attention_supports(128, 256, BD_F16);
    report(st == BD_ERR_UNSUPPORTED && std::string(bd_cuda_last_error()).find("head_dim_v") != std::string::npos,
           "cuda: D 128 / Dv 256 on F16 unsupported, naming the rule", bd_cuda_last_error());
    report(bd_cuda_attention_supports(64, 128, BD_F16) == BD_OK && bd_cuda_attention_supports(64, 128, BD_BF16) == BD_OK,
           "cuda: BF16/F16 support D 64 with Dv 128 (V width 2D)");
    report(bd_cuda_attention_supports(64, 128, BD_F32) == BD_OK, "cuda: F32 supports Dv = 2D");
    report(bd_cuda_attention_num_splits(1, 8, 1, 32768, 128, 132) > 1, "cuda: heuristic splits a 32k decode");
    report(bd_cuda_attention_num_splits(4, 16, 4096, 4096, 128, 132) == 1, "cuda: heuristic does not split prefill");
    // the layout's scalar rules are checked before any device memory is read
    const int32_t dummy = 0;
    st = bd_cuda_sparse_attention(nullptr, nullptr, nullptr, nullptr, nullptr, BD_BF16, 1, 128, 128, 2, 2, 64, 64,
                                  nullptr, 0.125f, 1, 96, 1, 2, &dummy, &dummy, 1, nullptr, nullptr);
    report(st == BD_ERR_INVALID_ARGUMENT && std::string(bd_cuda_last_error()).find("block_size") != std::string::npos,
           "cuda: sparse block_size 96 rejected, naming the rule", bd_cuda_last_error());
    st = bd_cuda_sparse_attention(nullptr, nullptr, nullptr, nullptr, nullptr, BD_BF16, 1, 128, 128, 4, 2, 64, 64,
                                  nullptr, 0.125f, 1, 64, 3, 2, &dummy, &dummy, 1, nullptr, nullptr);
    report(st == BD_ERR_INVALID_ARGUMENT && std::string(bd_cuda_last_error()).find("block_heads") != std::string::npos,
           "cuda: sparse block_heads 3 of 4 heads rejected, naming the rule", bd_cuda_last_error());
}

// ---- block-sparse layouts with junk in device memory (bdt::with_junk_columns): the CUDA path
// cannot check the layout and must skip the junk; the result must match the oracle and the CPU twin
// on the clean layout (the walk itself is unit-tested on the CPU: sparse_walk_test.hpp).
void test_sparse_junk_columns(bool quick) {
    bdt::Case c;
    c.name = "sparse junk columns in device memory";
    c.dtype = BD_BF16;
    c.D = c.Dv = 128;
    c.B = 2;
    c.Hq = 4;
    c.Hkv = 2;
    c.Sq = c.Sk = 300;
    c.causal = true;
    c.block = 64;
    c.layout = "local:2,stride:3,hole:1";
    c.seed = 7001;
    std::vector<bdt::Case> cs = {c};
    c.dtype = BD_F32;
    c.D = c.Dv = 64;
    c.causal = false;
    c.block_heads = c.Hq;
    c.layout = "random:40";
    c.seed = 7002;
    if (!quick) cs.push_back(c);
    c.dtype = BD_F16;
    c.name = "sparse junk columns in device memory, decode split 3";
    c.Sq = 1;
    c.Sk = 700;
    c.num_splits = 3;
    c.block_heads = 1;
    c.seed = 7003;
    cs.push_back(c);
    for (const bdt::Case& k : cs) {
        const bdt::Bsr junk = bdt::with_junk_columns(bdt::make_inputs(k));
        run_case(k, -1, &junk);
    }
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


// visible (query, key) pairs of one (batch, head) with bottom-right causal and a left window
double visible_pairs(int64_t sq, int64_t sk, bool causal, int64_t wl) {
    double n = 0;
    for (int64_t i = 0; i < sq; ++i) {
        const int64_t ip = i + sk - sq;
        int64_t hi = causal ? std::min(ip, sk - 1) : sk - 1;
        int64_t lo = wl >= 0 ? std::max<int64_t>(0, ip - wl) : 0;
        if (hi >= lo) n += (double)(hi - lo + 1);
    }
    return n;
}

// Visible (query, key) pairs of one (batch, head) under a block layout (head 0), Sq = Skv = S,
// with or without the causal rule.
// One shared layout over S keys in blocks of `blk`: the union of two CLI.md pattern terms (bdt::layout_term).
struct BenchLayout {
    int blk = 64;
    int64_t rows = 0;
    bdt::Bsr bsr;
    BenchLayout(int block, int64_t S, const char* t1, int n1, const char* t2, int n2) : blk(block) {
        std::mt19937_64 rng(1);  // unused by the pattern terms
        rows = (S + blk - 1) / blk;
        bsr.row_ptr.assign(1, 0);
        for (int64_t qb = 0; qb < rows; ++qb) {
            for (int64_t kb = 0; kb < rows; ++kb)
                if (bdt::layout_term(t1, n1, 0, 1, qb, kb, rng) || bdt::layout_term(t2, n2, 0, 1, qb, kb, rng))
                    bsr.col_idx.push_back((int32_t)kb);
            bsr.row_ptr.push_back((int32_t)bsr.col_idx.size());
        }
    }
};

double layout_pairs(const BenchLayout& L, int64_t S, bool causal) {
    double n = 0;
    for (int64_t qb = 0; qb * L.blk < S; ++qb)
        for (int32_t x = L.bsr.row_ptr[(size_t)qb]; x < L.bsr.row_ptr[(size_t)qb + 1]; ++x) {
            const int64_t k0 = (int64_t)L.bsr.col_idx[(size_t)x] * L.blk, k1 = std::min<int64_t>(k0 + L.blk, S);
            for (int64_t i = qb * L.blk; i < std::min<int64_t>((qb + 1) * L.blk, S); ++i) {
                const int64_t hi = causal ? std::min(k1, i + 1) : k1;  // keys [k0, hi)
                if (hi > k0) n += (double)(hi - k0);
            }
        }
    return n;
}

struct DevLayout {
    DevBuf row_ptr, col_idx;
    explicit DevLayout(const BenchLayout& L) {
        upload(row_ptr, L.bsr.row_ptr);
        upload(col_idx, L.bsr.col_idx);
    }
    const int32_t* rp() const { return static_cast<const int32_t*>(row_ptr.p); }
    const int32_t* ci() const { return static_cast<const int32_t*>(col_idx.p); }
};

// BENCHMARKS.md "sparse": BF16, S 16k causal, block 64, local:4 + stride:8, D 128, Hq = Hkv = 16,
// B 1, against dense causal of the same shape; FLOPs counted on the visible pairs. Then a decode
// over a 32k cache (B 8, Hq 32 / Hkv 8) with a shared local:4 + vstride:8 layout: GB/s of the K/V
// blocks actually read, against the dense decode.
void bench_sparse(Timer& tm) {
    const int D = 128, H = 16, blk = 64;
    const int64_t S = 16384;
    const float scale = 1.f / std::sqrt((float)D);
    {
        const BenchLayout L(blk, S, "local", 4, "stride", 8);
        const DevLayout dl(L);
        const size_t n = (size_t)S * H * D;
        std::vector<uint16_t> h(n);
        DevBuf q(n * 2), k(n * 2), v(n * 2), o(n * 2);
        fill_bf16_random(h);
        bd_cuda_memcpy(q.p, h.data(), (int64_t)n * 2);
        fill_bf16_random(h);
        bd_cuda_memcpy(k.p, h.data(), (int64_t)n * 2);
        fill_bf16_random(h);
        bd_cuda_memcpy(v.p, h.data(), (int64_t)n * 2);
        int st_dense = BD_OK, st_sparse = BD_OK;
        const double ms_dense = tm.median_ms(
            [&] {
                st_dense = bd_cuda_attention(q.p, k.p, v.p, o.p, nullptr, BD_BF16, 1, S, S, H, H, D, D, nullptr, nullptr,
                                             nullptr, scale, 0.f, 1, -1, -1, 0, nullptr, nullptr, 0.f, 1, nullptr, nullptr);
            },
            3, 10);
        const double ms_sparse = tm.median_ms(
            [&] {
                st_sparse = bd_cuda_sparse_attention(q.p, k.p, v.p, o.p, nullptr, BD_BF16, 1, S, S, H, H, D, D, nullptr,
                                                     scale, 1, blk, 1, L.rows, dl.rp(), dl.ci(), 1, nullptr, nullptr);
            },
            3, 10);
        const double causal_pairs = visible_pairs(S, S, true, -1), pairs = layout_pairs(L, S, true);
        const double f_dense = 4.0 * H * D * causal_pairs, f_sparse = 4.0 * H * D * pairs;
        std::printf("bench: dense  causal B1 S%lld Hq%d D%d: %.3f ms, %.1f TFLOP/s%s\n", (long long)S, H, D, ms_dense,
                    f_dense / ms_dense * 1e-9, st_dense == BD_OK ? "" : bd_cuda_last_error());
        std::printf("bench: sparse causal B1 S%lld Hq%d D%d block %d local:4,stride:8: density %.4f of S^2, %.4f of causal; "
                    "%.3f ms, %.1f TFLOP/s on visible pairs, %.2fx faster than dense causal%s\n",
                    (long long)S, H, D, blk, pairs / ((double)S * S), pairs / causal_pairs, ms_sparse,
                    f_sparse / ms_sparse * 1e-9, ms_dense / ms_sparse, st_sparse == BD_OK ? "" : bd_cuda_last_error());
    }
    {
        const int64_t B = 8, L = 32768;
        const int Hq = 32, Hkv = 8;
        const BenchLayout lay(blk, L, "local", 4, "vstride", 8);
        const DevLayout dl(lay);
        const size_t nk = (size_t)B * L * Hkv * D, nq = (size_t)B * Hq * D;
        std::vector<uint16_t> h(nk);
        fill_bf16_random(h);
        DevBuf q(nq * 2), k(nk * 2), v(nk * 2), o(nq * 2);
        bd_cuda_memcpy(q.p, h.data(), (int64_t)nq * 2);
        bd_cuda_memcpy(k.p, h.data(), (int64_t)nk * 2);
        bd_cuda_memcpy(v.p, h.data(), (int64_t)nk * 2);
        const int64_t wsd = bd_cuda_attention_workspace_bytes_flat(BD_BF16, B, 1, L, Hq, Hkv, D, D, 0);
        const int64_t wss = bd_cuda_sparse_attention_workspace_bytes_flat(BD_BF16, B, 1, L, Hq, Hkv, D, D, 1, 0);
        DevBuf ws((size_t)std::max<int64_t>(std::max(wsd, wss), 1));
        int st_dense = BD_OK, st_sparse = BD_OK;
        const double ms_dense = tm.median_ms(
            [&] {
                st_dense = bd_cuda_attention(q.p, k.p, v.p, o.p, nullptr, BD_BF16, B, 1, L, Hq, Hkv, D, D, nullptr, nullptr,
                                             nullptr, scale, 0.f, 1, -1, -1, 0, nullptr, nullptr, 0.f, 0, ws.p, nullptr);
            },
            3, 20);
        const double ms_sparse = tm.median_ms(
            [&] {
                st_sparse = bd_cuda_sparse_attention(q.p, k.p, v.p, o.p, nullptr, BD_BF16, B, 1, L, Hq, Hkv, D, D, nullptr,
                                                     scale, 1, blk, 1, lay.rows, dl.rp(), dl.ci(), 0, ws.p, nullptr);
            },
            3, 20);
        // keys the decode query (position L - 1) reads: its row's listed blocks
        const int64_t qb = (L - 1) / blk;
        const int64_t keys = (int64_t)(lay.bsr.row_ptr[(size_t)qb + 1] - lay.bsr.row_ptr[(size_t)qb]) * blk;
        const double bytes_dense = 2.0 * nk * 2, bytes_sparse = 2.0 * B * keys * Hkv * D * 2;
        std::printf("bench: dense  decode B%lld cache %lld Hq%d Hkv%d D%d auto splits: %.4f ms, %.0f GB/s of K+V%s\n",
                    (long long)B, (long long)L, Hq, Hkv, D, ms_dense, bytes_dense / ms_dense * 1e-6,
                    st_dense == BD_OK ? "" : bd_cuda_last_error());
        std::printf("bench: sparse decode B%lld cache %lld Hq%d Hkv%d D%d block %d local:4,vstride:8 auto splits: %lld of %lld "
                    "keys read, %.4f ms, %.0f GB/s of K+V read, %.2fx faster than dense%s\n",
                    (long long)B, (long long)L, Hq, Hkv, D, blk, (long long)keys, (long long)L, ms_sparse,
                    bytes_sparse / ms_sparse * 1e-6, ms_dense / ms_sparse, st_sparse == BD_OK ? "" : bd_cuda_last_error());
    }
}

void bench(int sms) {
    Timer tm;
    const int D = 128;
    std::printf("bench: BF16, D %d, median of 10 after 3 warm-up runs (cudaEvent)\n", D);
    // device-to-device copy bandwidth, the ceiling for decode
    {
        const size_t bytes = (size_t)1 << 30;
        DevBuf a(bytes), b(bytes);
        const double ms = tm.median_ms([&] { bd_cuda_memcpy_async(b.p, a.p, (int64_t)bytes, nullptr); }, 2, 10);
        std::printf("bench: copy 1 GiB device-to-device: %.3f ms, %.0f GB/s (read + write)\n", ms, 2.0 * bytes / ms * 1e-6);
    }
    // prefill sweep: model width 2048 -> Hq = 16 at D 128, B.S = 16384
    {
        const size_t n = (size_t)16384 * 16 * D;
        std::vector<uint16_t> h(n);
        fill_bf16_random(h);
        DevBuf q(n * 2), k(n * 2), v(n * 2), o(n * 2);
        bd_cuda_memcpy(q.p, h.data(), (int64_t)n * 2);
        fill_bf16_random(h);
        bd_cuda_memcpy(k.p, h.data(), (int64_t)n * 2);
        fill_bf16_random(h);
        bd_cuda_memcpy(v.p, h.data(), (int64_t)n * 2);
        for (int causal = 1; causal >= 0; --causal)
            for (int64_t S : {512, 1024, 2048, 4096, 8192, 16384}) {
                const int64_t B = 16384 / S;
                int st = BD_OK;
                const double ms = tm.median_ms(
                    [&] {
                        st = bd_cuda_attention(q.p, k.p, v.p, o.p, nullptr, BD_BF16, B, S, S, 16, 16, D, D, nullptr, nullptr,
                                               nullptr, 1.f / std::sqrt((float)D), 0.f, causal, -1, -1, 0, nullptr, nullptr,
                                               0.f, 1, nullptr, nullptr);
                    },
                    3, 10);
                const double flops = 4.0 * B * 16 * D * visible_pairs(S, S, causal, -1);
                std::printf("bench: prefill %s B%lld S%lld Hq16 D%d: %.3f ms, %.1f TFLOP/s%s\n", causal ? "causal" : "full  ",
                            (long long)B, (long long)S, D, ms, flops / ms * 1e-9, st == BD_OK ? "" : bd_cuda_last_error());
            }
    }
    // sliding window 4k vs full causal at 32k, Hq 32 / Hkv 8
    {
        const int64_t S = 32768;
        const size_t nq = (size_t)S * 32 * D, nk = (size_t)S * 8 * D;
        std::vector<uint16_t> h(nq);
        fill_bf16_random(h);
        DevBuf q(nq * 2), k(nk * 2), v(nk * 2), o(nq * 2);
        bd_cuda_memcpy(q.p, h.data(), (int64_t)nq * 2);
        bd_cuda_memcpy(k.p, h.data(), (int64_t)nk * 2);
        bd_cuda_memcpy(v.p, h.data() + nk, (int64_t)nk * 2);
        for (int64_t wl : {(int64_t)-1, (int64_t)4095}) {
            int st = BD_OK;
            const double ms = tm.median_ms(
                [&] {
                    st = bd_cuda_attention(q.p, k.p, v.p, o.p, nullptr, BD_BF16, 1, S, S, 32, 8, D, D, nullptr, nullptr, nullptr,
                                           1.f / std::sqrt((float)D), 0.f, 1, (int)wl, -1, 0, nullptr, nullptr, 0.f, 1, nullptr,
                                           nullptr);
                },
                2, 5);
            const double flops = 4.0 * 32 * D * visible_pairs(S, S, true, wl);
            std::printf("bench: S32k Hq32 Hkv8 causal %s: %.3f ms, %.1f TFLOP/s%s\n",
                        wl < 0 ? "full      " : "window 4k ", ms, flops / ms * 1e-9, st == BD_OK ? "" : bd_cuda_last_error());
        }
    }
    // decode: one query per sequence over a cache, split-KV chosen automatically
    for (int64_t B : {1, 8})
        for (int64_t L : {1024, 8192, 32768}) {
            const size_t nk = (size_t)B * L * 8 * D, nq = (size_t)B * 32 * D;
            std::vector<uint16_t> h(nk);
            fill_bf16_random(h);
            DevBuf q(nq * 2), k(nk * 2), v(nk * 2), o(nq * 2);
            bd_cuda_memcpy(q.p, h.data(), (int64_t)nq * 2);
            bd_cuda_memcpy(k.p, h.data(), (int64_t)nk * 2);
            bd_cuda_memcpy(v.p, h.data(), (int64_t)nk * 2);
            const int64_t wsb = bd_cuda_attention_workspace_bytes_flat(BD_BF16, B, 1, L, 32, 8, D, D, 0);
            DevBuf ws((size_t)std::max<int64_t>(wsb, 1));
            bd_attention_params shape;
            bd_attention_params_init(&shape, BD_BF16, B, 1, L, 32, 8, D, D);
            const int splits = wsb > 0 ? bd::attn::auto_num_splits(shape, sms) : 1;
            for (int use_split : {0, 1}) {
                int st = BD_OK;
                const double ms = tm.median_ms(
                    [&] {
                        st = bd_cuda_attention(q.p, k.p, v.p, o.p, nullptr, BD_BF16, B, 1, L, 32, 8, D, D, nullptr, nullptr,
                                               nullptr, 1.f / std::sqrt((float)D), 0.f, 1, -1, -1, 0, nullptr, nullptr, 0.f,
                                               use_split ? 0 : 1, use_split ? ws.p : nullptr, nullptr);
                    },
                    3, 20);
                const double bytes = 2.0 * nk * 2;
                std::printf("bench: decode B%lld cache %lld Hq32 Hkv8 D%d splits %d: %.4f ms, %.0f GB/s of K+V%s\n",
                            (long long)B, (long long)L, D, use_split ? splits : 1, ms, bytes / ms * 1e-6,
                            st == BD_OK ? "" : bd_cuda_last_error());
            }
        }
    bench_sparse(tm);
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
    g_sms = sms;
    if (do_bench) {
        bench(sms);
        return 0;
    }
    test_capabilities();
    const std::vector<bdt::Case> cases = bdt::standard_cases(quick);
    for (const bdt::Case& c : cases) run_case(c);
    std::vector<bdt::Case> sparse = bdt::sparse_cases(quick);
    for (const bdt::Case& c : bdt::cuda_sparse_cases(quick)) sparse.push_back(c);
    for (const bdt::Case& c : sparse) {
        if (quick && c.dtype == BD_F16) continue;  // --quick (compute-sanitizer): BF16 runs the same kernel code
        run_case(c);
        if (c.Sq <= 16 && c.num_splits == 1) run_case(c, 0);  // decode: the automatic split choice
    }
    test_sparse_junk_columns(quick);
    // V width 2D (D 64, Dv 128): the tensor-core instance with a wider V/O than Q/K
    for (int dt : {BD_BF16, BD_F16}) {
        bdt::Case c;
        c.dtype = dt;
        c.D = 64;
        c.Dv = 128;
        c.B = 2;
        c.Hq = 4;
        c.Hkv = 2;
        c.seed = 7000 + dt;
        c.name = "Dv=2D basic";
        c.Sq = 77;
        c.Sk = 93;
        run_case(c);
        c.name = "Dv=2D causal";
        c.causal = true;
        c.Sq = c.Sk = 131;
        run_case(c);
        c.name = "Dv=2D window 16 causal, seqused";
        c.wl = 16;
        c.seqused = true;
        run_case(c);
        c.name = "Dv=2D decode (packed GQA rows), 3 splits";
        c.wl = -1;
        c.seqused = false;
        c.Sq = 1;
        c.Sk = quick ? 300 : 1000;
        c.num_splits = 3;
        run_case(c);
    }
    // automatic split choice over a long decode cache
    for (int dt : {BD_BF16, BD_F32}) {
        bdt::Case c;
        c.name = "auto split decode";
        c.dtype = dt;
        c.B = 1;
        c.Sq = 1;
        c.Sk = quick ? 1500 : 5000;
        c.Hq = 8;
        c.Hkv = 2;
        c.D = c.Dv = 128;
        c.causal = true;
        c.learned_sinks = true;
        c.seed = 99;
        run_case(c, 0);
    }
    std::printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed == 0 ? 0 : 1;
}
