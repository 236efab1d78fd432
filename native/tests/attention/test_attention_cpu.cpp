// bd_test_attention_cpu: the fused attention CPU twin against the F64 oracle (no GPU needed).
//   - the tensor-core fragment maps (CPU unit test of mma_layout.hpp);
//   - the CUDA kernels' block-sparse tile schedule, replayed on the CPU (sparse_walk_test.hpp);
//   - the C ABI: messages naming the rule, capability query, workspace sizes, flat == struct;
//   - every standard case (attention_ref.hpp) with FlashAttention's low-precision rule;
//   - split-KV 1..8 agreeing with each other;
//   - block-sparse layouts: the shared sparse walk against the contract's rule, the layout checks,
//     and the sparse cases (attention_ref.hpp) against the oracle under the layout's element mask;
//   - memory and speed: a 16k-token causal attention with its peak RSS (< 1 GB), and the twin
//     against a naive materialised version at 4k tokens (times printed; information only).
// Options: --quick (fewer cases), --no-perf (skip the memory/speed check), --perf-heads H.
// Last line: "N passed, M failed"; exit status 1 on any failure.
#include <omp.h>
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <random>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "attention_ref.hpp"
#include "attention_simd.hpp"
#include "cpu_common.hpp"
#include "test_support.hpp"
#include "braindrip/attention.h"
#include "braindrip/cpu_runtime.h"
#include "braindrip/detail/attention_plan.hpp"
#include "braindrip/ops.h"
#include "mma_layout_test.hpp"
#include "sparse_walk_test.hpp"

namespace {


double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double cpu_s() {  // user + system CPU time of the process (the build machines are shared)
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + 1e-6 * (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

long peak_rss_mb() {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024;  // Linux: KiB
}

// Runs the CPU twin on a case; o in storage type, lse F32.
struct Run {
    std::vector<uint8_t> o;
    std::vector<float> lse;
    int status = BD_OK;
    std::string error;
};

Run run_cpu(const bdt::Inputs& in, int num_splits) {
    Run r;
    r.o.assign((size_t)in.o_elems * bdt::dtype_size(in.c.dtype), 0xCD);  // garbage: the kernel must write all
    r.lse.assign((size_t)in.lse_elems, 12345.f);
    bd_attention_params p = in.p;
    p.o = r.o.data();
    p.lse = r.lse.data();
    p.num_splits = num_splits;
    std::vector<float> ws;
    if (num_splits > 1) {
        const int64_t bytes = bd_cpu_attention_workspace_bytes(&p);
        ws.assign((size_t)(bytes / 4 + 64), NAN);  // NaN: a missed partial would show
        p.o_accum = ws.data();
        p.lse_accum = ws.data() + bd::attn::workspace_lse_offset(p.batch, p.seqlen_q, p.heads_q, p.head_dim_v,
                                                                 num_splits) / 4;
    }
    r.status = bd_cpu_attention_forward(&p, nullptr);
    if (r.status != BD_OK) r.error = bd_cpu_last_error();
    return r;
}

void test_abi() {
    bd_attention_params p;
    bd_attention_params_init(&p, BD_F32, 1, 4, 4, 12, 5, 64, 64);
    float dummy[16];
    p.q = p.k = p.v = dummy;
    p.o = dummy;
    int st = bd_cpu_attention_forward(&p, nullptr);
    const std::string msg = bd_cpu_last_error();
    report(st == BD_ERR_INVALID_ARGUMENT && msg.find("attention: heads_q (12) must be divisible by heads_kv (5)") !=
                                                std::string::npos,
           "abi: heads_q 12 / heads_kv 5 is rejected with a message naming the rule", msg);
    bd_attention_params_init(&p, BD_BF16, 1, 4, 4, 4, 4, 64, 64);
    p.q = p.k = p.v = dummy;
    p.o = dummy;
    p.num_splits = 4;
    st = bd_cpu_attention_forward(&p, nullptr);
    report(st == BD_ERR_INVALID_ARGUMENT && std::string(bd_cpu_last_error()).find("workspace") != std::string::npos,
           "abi: num_splits 4 without workspace is rejected", bd_cpu_last_error());
    p.num_splits = 1;
    p.window_left = -2;
    st = bd_cpu_attention_forward(&p, nullptr);
    report(st == BD_ERR_INVALID_ARGUMENT && std::string(bd_cpu_last_error()).find("window_left (-2)") != std::string::npos,
           "abi: window_left -2 is rejected", bd_cpu_last_error());
    p.window_left = -1;
    p.batch = 0;
    p.q = p.k = p.v = nullptr;
    p.o = nullptr;
    report(bd_cpu_attention_forward(&p, nullptr) == BD_OK, "abi: batch 0 is a no-op");
    report(bd_cpu_attention_supports(40, 72, BD_BF16) == BD_OK, "abi: CPU supports D40 Dv72 BF16");
    st = bd_cpu_attention_supports(2048, 64, BD_F32);
    report(st == BD_ERR_UNSUPPORTED && std::string(bd_cpu_last_error()).find("1024") != std::string::npos,
           "abi: CPU head_dim 2048 is unsupported, naming the limit", bd_cpu_last_error());
    report(bd_cpu_attention_supports(64, 64, BD_I32) == BD_ERR_UNSUPPORTED, "abi: I32 attention is unsupported");
    const int64_t ws = bd_cpu_attention_workspace_bytes_flat(BD_BF16, 2, 3, 100, 8, 2, 128, 128, 4);
    const int64_t rows = 4 * 2 * 8 * 3;
    report(ws == (rows * 128 * 4 + 255) / 256 * 256 + rows * 4, "abi: workspace bytes for 4 splits",
           std::to_string(ws));
    report(bd_cpu_attention_workspace_bytes_flat(BD_BF16, 2, 3, 100, 8, 2, 128, 128, 1) == 0,
           "abi: no workspace without splits");
    report(bd_cpu_attention_workspace_bytes_flat(BD_BF16, 2, 3, 100, 8, 3, 128, 128, 1) == -1,
           "abi: workspace query validates (heads 8 / 3)");
    const bd::attn::Tile t16 = bd::attn::tile_for(BD_BF16, 128), t32 = bd::attn::tile_for(BD_F32, 128);
    const bd::attn::Tile t256 = bd::attn::tile_for(BD_F16, 256);
    report(t16.m == 64 && t16.n == 64 && t256.m == 64 && t256.n == 32 && t32.m == 16 && t32.n == 32,
           "abi: tiles match the CUDA kernels (64x64, 64x32 at hd256, 16x32 F32)");
    // FA2 heuristic: decode B1 H8 over 32k keys on 132 SMs splits, prefill does not
    const int s_dec = bd::attn::num_splits_heuristic(8, 132, 512, 128);
    const int s_pre = bd::attn::num_splits_heuristic(16 * 64, 132, 64, 128);
    report(s_dec > 1 && s_pre == 1, "abi: num_splits heuristic splits decode only",
           std::to_string(s_dec) + " / " + std::to_string(s_pre));
}

// The plan the CPU twin and the kernels share, against the contract's rule (attention_ref.hpp):
// 32-bit row limits give the same visibility; every visible pair lies in exactly one visited tile;
// tiles said to need no mask are fully visible; split ranges partition the visited list.
void test_plan() {
    std::mt19937_64 rng(2024);
    bool ok_vis = true, ok_cover = true, ok_interior = true, ok_split = true;
    std::string why;
    for (int iter = 0; iter < 3000; ++iter) {
        bdt::Case c;
        std::uniform_int_distribution<int> len(0, 150), small(-1, 40), coin(0, 1);
        c.Sq = len(rng) + (iter % 3 == 0 ? 0 : 1);
        c.Sk = len(rng);
        c.causal = coin(rng);
        c.wl = coin(rng) ? small(rng) : -1;
        c.wr = coin(rng) ? small(rng) : -1;
        c.sink_tokens = coin(rng) ? std::uniform_int_distribution<int>(0, 70)(rng) : 0;
        const int M = iter % 2 ? 64 : 16, N = iter % 4 < 2 ? 64 : 32;
        bd_attention_params p;
        bd_attention_params_init(&p, BD_F32, 1, c.Sq, c.Sk, 1, 1, 64, 64);
        p.is_causal = c.causal;
        p.window_left = c.wl;
        p.window_right = c.wr;
        p.sink_tokens = c.sink_tokens;
        const bd::attn::SeqInfo si = bd::attn::seq_info(p, 0);
        const bd::attn::Mask mk = bd::attn::make_mask(p, si);
        const int sk = (int)c.Sk;
        for (int64_t i0 = 0; i0 < c.Sq; i0 += M) {
            const int64_t i1 = std::min<int64_t>(i0 + M, c.Sq) - 1;
            const bd::attn::TileRange tr = bd::attn::tile_range(mk, i0, i1, N);
            const bd::attn::RowLimits first = bd::attn::row_limits(mk, i0), last = bd::attn::row_limits(mk, i1);
            std::vector<int> visits((size_t)(c.Sk / N + 2), 0);
            for (int t = 0; t < tr.count(); ++t) {
                const int n = tr.tile(t);
                if (n < 0 || n * N >= std::max<int64_t>(c.Sk, 1)) {
                    ok_cover = false;
                    why = "tile out of range";
                    continue;
                }
                ++visits[n];
                if (!bd::attn::tile_needs_mask32(first, last, sk, c.sink_tokens, n * N, N))
                    for (int64_t i = i0; i <= i1; ++i)
                        for (int j = n * N; j < n * N + N; ++j) ok_interior &= bdt::visible_ref(c, c.Sq, c.Sk, i, j) && j < sk;
            }
            for (int64_t i = i0; i <= i1; ++i) {
                const bd::attn::RowLimits lim = bd::attn::row_limits(mk, i);
                for (int j = 0; j < sk; ++j) {
                    const bool v = bdt::visible_ref(c, c.Sq, c.Sk, i, j);
                    if (v != bd::attn::visible32(lim, sk, c.sink_tokens, j) || v != mk.visible(i, j)) {
                        ok_vis = false;
                        why = c.label() + " i" + std::to_string(i) + " j" + std::to_string(j);
                    }
                    if (v && visits[j / N] != 1) {
                        ok_cover = false;
                        why = c.label() + " visible pair outside the visited tiles";
                    }
                }
            }
            for (int S = 1; S <= 9; ++S) {
                int prev = 0;
                for (int sp = 0; sp < S; ++sp) {
                    int b0, b1;
                    bd::attn::split_range(tr.count(), sp, S, &b0, &b1);
                    ok_split &= b0 == prev && b1 >= b0;
                    prev = b1;
                }
                ok_split &= prev == tr.count();
            }
        }
    }
    report(ok_vis, "plan: 32-bit row limits match the contract's visibility rule", why);
    report(ok_cover, "plan: every visible pair lies in exactly one visited key tile", why);
    report(ok_interior, "plan: tiles without the element mask are fully visible");
    report(ok_split, "plan: split ranges partition the visited tiles");
}

// Flat wrapper == struct call (bitwise), dense and packed, with a split workspace.
void test_flat() {
    for (bool varlen : {false, true}) {
        bdt::Case c;
        c.name = varlen ? "flat varlen" : "flat dense";
        c.dtype = BD_BF16;
        c.B = 3;
        c.Sq = 5;
        c.Sk = 90;
        c.Hq = 4;
        c.Hkv = 2;
        c.D = c.Dv = 64;
        c.causal = true;
        c.varlen = varlen;
        c.seqused = true;
        c.learned_sinks = true;
        c.wl = 40;
        c.sink_tokens = 2;
        c.rope = true;
        c.seed = varlen ? 77 : 78;
        const bdt::Inputs in = bdt::make_inputs(c);
        const Run ref = run_cpu(in, 3);
        std::vector<uint8_t> o(ref.o.size(), 0);
        std::vector<float> lse(ref.lse.size(), 0.f);
        const int64_t wsb =
            bd_cpu_attention_workspace_bytes_flat(c.dtype, c.B, c.Sq, c.Sk, c.Hq, c.Hkv, c.D, c.Dv, 3);
        std::vector<float> ws((size_t)wsb / 4 + 1);
        const int st = bd_cpu_attention(in.p.q, in.p.k, in.p.v, o.data(), lse.data(), c.dtype, c.B, c.Sq, c.Sk, c.Hq,
                                        c.Hkv, c.D, c.Dv, in.p.cu_seqlens_q, in.p.cu_seqlens_k, in.p.seqused_k,
                                        in.p.scale, 0.f, 1, 40, -1, 2, in.p.sinks, in.p.k_rope_positions, 10000.f, 3,
                                        ws.data(), nullptr);
        report(st == BD_OK && ref.status == BD_OK && o == ref.o && std::memcmp(lse.data(), ref.lse.data(), lse.size() * 4) == 0,
               std::string("abi: ") + c.name + " wrapper equals the struct call", st == BD_OK ? "" : bd_cpu_last_error());
    }
}

// The sparse walk the CPU twin and the kernels share, against the contract's rule with a layout:
// every visible pair lies in exactly one visited tile, tiles the plan leaves unmasked (whole
// block listed for every row, no causal / ragged edge) are fully visible, the per-row test
// (sparse_row_sees + visible32) is exact, and count / skip agree with next.
void test_sparse_plan() {
    std::mt19937_64 rng(2025);
    bool ok_cover = true, ok_interior = true, ok_rows = true, ok_skip = true;
    std::string why;
    for (int iter = 0; iter < 1500; ++iter) {
        bdt::Case c;
        std::uniform_int_distribution<int> len(0, 400), coin(0, 1), pct(0, 100);
        c.Sq = len(rng) + (iter % 3 == 0 ? 0 : 1);
        c.Sk = len(rng) + 1;
        if (iter % 4 == 0) c.Sq = std::min<int64_t>(c.Sq, 16);  // decode-sized query tiles
        c.causal = coin(rng);
        c.wr = !c.causal && coin(rng) ? std::uniform_int_distribution<int>(0, 100)(rng) : -1;
        c.block = iter % 3 == 0 ? 128 : 64;
        c.layout = "random:" + std::to_string(pct(rng));
        if (coin(rng)) c.layout += ",hole:1";
        c.seed = 900 + iter;
        const bdt::Inputs in = bdt::make_inputs(c);
        const int M = iter % 2 ? 64 : 16, N = iter % 4 < 2 ? 64 : 32;
        const bd_attention_params& p = in.p;
        const bd::attn::SeqInfo si = bd::attn::seq_info(p, 0);
        const bd::attn::Mask mk = bd::attn::make_mask(p, si);
        const int sk = (int)c.Sk;
        for (int64_t i0 = 0; i0 < c.Sq; i0 += M) {
            const int64_t i1 = std::min<int64_t>(i0 + M, c.Sq) - 1;
            const bd::attn::TileRange tr = bd::attn::tile_range(mk, i0, i1, N);
            const bd::attn::RowLimits first = bd::attn::row_limits(mk, i0), last = bd::attn::row_limits(mk, i1);
            int64_t qb_lo, qb_hi;
            bd::attn::SparseWalk w = bd::attn::sparse_walk(p, mk, 0, i0, i1, N, tr.win_hi, &qb_lo, &qb_hi);
            const int count = w.count();
            std::vector<int> visits((size_t)(c.Sk / N + 2), 0), tiles;
            int tile, which, prev = INT32_MAX;
            while (w.next(&tile, &which)) {
                tiles.push_back(tile);
                if (tile < 0 || tile * N >= c.Sk || tile >= prev) {
                    ok_cover = false;
                    why = c.label() + ": tile out of range or out of order";
                    break;
                }
                prev = tile;
                ++visits[tile];
                const bool masked = bd::attn::tile_needs_mask32(first, last, sk, 0, tile * N, N) ||
                                    !bd::attn::sparse_tile_full(which, qb_lo, qb_hi);
                for (int64_t i = i0; i <= i1; ++i) {
                    const bool sees = bd::attn::sparse_row_sees(which, bd::attn::query_block(mk, i, c.block), qb_lo);
                    const bd::attn::RowLimits lim = bd::attn::row_limits(mk, i);
                    for (int j = tile * N; j < tile * N + N; ++j) {
                        const bool v = j < sk && in.visible(0, c.Sq, c.Sk, i, j);
                        if (!masked) ok_interior &= v;
                        if (v != (sees && bd::attn::visible32(lim, sk, 0, j))) {
                            ok_rows = false;
                            why = c.label() + " i" + std::to_string(i) + " j" + std::to_string(j);
                        }
                    }
                }
            }
            ok_skip &= (int)tiles.size() == count;
            for (int64_t i = i0; i <= i1; ++i)
                for (int j = 0; j < sk; ++j)
                    if (in.visible(0, c.Sq, c.Sk, i, j) && visits[j / N] != 1) {
                        ok_cover = false;
                        why = c.label() + " visible pair outside the visited tiles";
                    }
            for (int sp = 1; sp < count; sp += 3) {  // skip(n) lands on the n-th tile
                bd::attn::SparseWalk w2 = bd::attn::sparse_walk(p, mk, 0, i0, i1, N, tr.win_hi, &qb_lo, &qb_hi);
                w2.skip(sp);
                ok_skip &= w2.next(&tile, &which) && tile == tiles[(size_t)sp] && w2.count() == count - sp - 1;
            }
        }
    }
    report(ok_cover, "sparse plan: every visible pair lies in exactly one visited key tile, tiles descending", why);
    report(ok_interior, "sparse plan: tiles without the element mask are fully visible");
    report(ok_rows, "sparse plan: sparse_row_sees + visible32 match the contract's rule per element", why);
    report(ok_skip, "sparse plan: count and skip agree with the walk");
}

// A layout's scalar and data checks name the rule; the flat form equals the struct call.
void test_sparse_abi() {
    bdt::Case c;
    c.name = "sparse abi";
    c.dtype = BD_BF16;
    c.B = 2;
    c.Sq = 3;
    c.Sk = 300;
    c.Hq = 4;
    c.Hkv = 2;
    c.causal = true;
    c.seqused = true;
    c.block = 64;
    c.layout = "local:2,stride:2";
    c.seed = 31;
    const bdt::Inputs in = bdt::make_inputs(c);
    auto expect = [&](const std::string& what, const std::string& needle, auto&& edit) {
        bdt::Inputs bad = in;  // own copies of the layout arrays
        bd_attention_params& p = bad.p;
        p.q = p.k = p.v = in.p.q;
        p.seqused_k = bad.used.data();
        p.block_row_ptr = bad.row_ptr.data();
        p.block_col_idx = bad.col_idx.data();
        std::vector<uint8_t> o((size_t)in.o_elems * 2);
        p.o = o.data();
        edit(bad);
        const int st = bd_cpu_attention_forward(&p, nullptr);
        const std::string msg = bd_cpu_last_error();
        report(st == BD_ERR_INVALID_ARGUMENT && msg.find(needle) != std::string::npos, "sparse abi: " + what,
               std::to_string(st) + " " + msg);
    };
    expect("block_size 96 is rejected", "block_size (96) must be a positive multiple of 64",
           [](bdt::Inputs& b) { b.p.block_size = 96; });
    expect("block_size 0 is rejected", "block_size (0)", [](bdt::Inputs& b) { b.p.block_size = 0; });
    expect("block_heads 2 of 4 is rejected", "block_heads (2) must be 1", [](bdt::Inputs& b) { b.p.block_heads = 2; });
    expect("too few block_rows", "block_rows (4) must cover seqlen_k", [](bdt::Inputs& b) { b.p.block_rows = 4; });
    expect("window_left with a layout", "replaces window_left", [](bdt::Inputs& b) { b.p.window_left = 8; });
    expect("sink_tokens with a layout", "replaces window_left and sink_tokens",
           [](bdt::Inputs& b) { b.p.sink_tokens = 4; });
    expect("col_idx without row_ptr", "come together", [](bdt::Inputs& b) { b.p.block_row_ptr = nullptr; });
    expect("row_ptr[0] != 0", "block_row_ptr[0] (1) must be 0", [](bdt::Inputs& b) { b.row_ptr[0] = 1; });
    expect("decreasing row_ptr", "must not decrease", [](bdt::Inputs& b) {
        b.row_ptr[2] = b.row_ptr[1] - 1;
    });
    expect("unsorted columns", "strictly above the previous one", [](bdt::Inputs& b) {
        // row 3 (query block 3) lists 1, 2, 3 under local:2,stride:2: swap two
        std::swap(b.col_idx[(size_t)b.row_ptr[3]], b.col_idx[(size_t)b.row_ptr[3] + 1]);
    });
    expect("repeated column", "strictly above the previous one", [](bdt::Inputs& b) {
        b.col_idx[(size_t)b.row_ptr[3] + 1] = b.col_idx[(size_t)b.row_ptr[3]];
    });
    expect("column out of range", "must be in [0, 5)", [](bdt::Inputs& b) {
        b.col_idx[(size_t)b.row_ptr[4] - 1] = 5;
    });
    expect("negative column", "column -1", [](bdt::Inputs& b) { b.col_idx[0] = -1; });
    // flat == struct (bitwise), with 3 splits
    const Run ref = run_cpu(in, 3);
    std::vector<uint8_t> o(ref.o.size(), 0);
    std::vector<float> lse(ref.lse.size(), 0.f);
    const int64_t wsb = bd_cpu_sparse_attention_workspace_bytes_flat(c.dtype, c.B, c.Sq, c.Sk, c.Hq, c.Hkv, c.D, c.Dv, 1, 3);
    std::vector<float> ws((size_t)wsb / 4 + 1);
    const int st = bd_cpu_sparse_attention(in.p.q, in.p.k, in.p.v, o.data(), lse.data(), c.dtype, c.B, c.Sq, c.Sk, c.Hq,
                                           c.Hkv, c.D, c.Dv, in.p.seqused_k, in.p.scale, 1, 64, 1, in.lay_rows,
                                           in.row_ptr.data(), in.col_idx.data(), 3, ws.data(), nullptr);
    report(wsb > 0 && st == BD_OK && ref.status == BD_OK && o == ref.o &&
               std::memcmp(lse.data(), ref.lse.data(), lse.size() * 4) == 0,
           "sparse abi: flat form equals the struct call (3 splits)", st == BD_OK ? ref.error : bd_cpu_last_error());
    const int st2 = bd_cpu_sparse_attention(in.p.q, in.p.k, in.p.v, o.data(), lse.data(), c.dtype, c.B, c.Sq, c.Sk,
                                            c.Hq, c.Hkv, c.D, c.Dv, in.p.seqused_k, in.p.scale, 1, 100, 1, in.lay_rows,
                                            in.row_ptr.data(), in.col_idx.data(), 1, nullptr, nullptr);
    report(st2 == BD_ERR_INVALID_ARGUMENT && std::string(bd_cpu_last_error()).find("block_size (100)") != std::string::npos,
           "sparse abi: flat form validates block_size", bd_cpu_last_error());
}

void run_case(const bdt::Case& c) {
    const std::string label = c.label();
    if (bd_cpu_attention_supports(c.D, c.Dv, c.dtype) != BD_OK) {
        std::printf("skipped %s: %s\n", label.c_str(), bd_cpu_last_error());
        return;
    }
    const bdt::Inputs in = bdt::make_inputs(c);
    const Run r = run_cpu(in, c.num_splits);
    if (r.status != BD_OK) {
        report(false, label, "status " + std::to_string(r.status) + ": " + r.error);
        return;
    }
    const bdt::Outputs ref = bdt::reference(in, true), naive = bdt::reference(in, false);
    const bdt::Check chk = bdt::check_outputs(in, r.o.data(), r.lse.data(), ref, naive);
    report(chk.ok, label, chk.msg);
    if (std::getenv("BD_TEST_VERBOSE"))
        std::printf("  %s: err_o %.3g (bound %.3g) err_lse %.3g (bound %.3g)\n", label.c_str(), chk.err_o, chk.bound_o,
                    chk.err_lse, chk.bound_lse);
}

// The vector exp2 and probability rounding of the tile kernels (attention_simd.inc), in the ISA this
// process uses (ctest runs the file once as chosen and once with BRAINDRIP_CPU_ISA=avx2):
//   - exp2 within 2^-22 relative of the F64 value wherever that is a normal F32, exactly 0 at and
//     below -127 and at -inf, exactly 1 at 0, NaN for NaN;
//   - rounding of probabilities to BF16 / F16 bit-identical to the scalar round_to (cpu_common.hpp)
//     on random values in [0, 1], F16 subnormals, the 2^-14 boundary and ties.
void test_simd_math() {
    std::printf("tile kernels: %s\n", bd_cpu_attention_isa());
    std::vector<float> x;
    for (int i = 0; i <= 140000; ++i) x.push_back(-140.f + i * 1e-3f);
    for (float v : {0.f, -0.f, -1e-30f, -126.f, -126.5f, -127.f, -127.5f, -1e30f, -INFINITY, NAN}) x.push_back(v);
    std::vector<float> y(x.size());
    bd_cpu_attention_exp2(x.data(), y.data(), static_cast<int>(x.size()));
    int bad = 0;
    std::string first;
    for (size_t i = 0; i < x.size(); ++i) {
        const double want = std::exp2(static_cast<double>(x[i]));
        bool ok;
        if (std::isnan(x[i])) ok = std::isnan(y[i]);
        else if (x[i] <= -127.f) ok = y[i] == 0.f;
        else if (x[i] == 0.f) ok = y[i] == 1.f;
        else if (want < 0x1p-126) ok = y[i] >= 0.f && y[i] < 0x1p-125;
        else ok = std::fabs(y[i] / want - 1.0) <= 0x1p-22;
        if (!ok && bad++ == 0) first = "x " + std::to_string(x[i]) + " got " + std::to_string(y[i]);
    }
    report(bad == 0, "vector exp2 on " + std::to_string(x.size()) + " values", first);

    std::mt19937 rng(7);
    std::uniform_real_distribution<float> u01(0.f, 1.f);
    std::vector<float> e;
    for (int i = 0; i < 100000; ++i) e.push_back(u01(rng));
    for (int i = 0; i < 20000; ++i) e.push_back(u01(rng) * 0x1p-13f);  // F16 subnormals and the boundary
    for (int i = 0; i <= 2048; ++i) e.push_back(i * 0x1p-25f);          // ties on the subnormal grid
    for (float v : {0.f, 1.f, 0x1p-14f, 0x1p-24f, 0x1.ffep-15f, 0x1.002p-14f, 0.99999994f}) e.push_back(v);
    for (int dt : {BD_BF16, BD_F16}) {
        std::vector<float> r(e.size());
        bd_cpu_attention_round(e.data(), r.data(), static_cast<int>(e.size()), dt);
        int wrong = 0;
        std::string why;
        for (size_t i = 0; i < e.size(); ++i) {
            const float want = bd::cpu::round_to(dt, e[i]);
            if (std::memcmp(&want, &r[i], 4) != 0 && wrong++ == 0)
                why = "value " + std::to_string(e[i]) + " got " + std::to_string(r[i]) + " want " + std::to_string(want);
        }
        report(wrong == 0, std::string("vector rounding to ") + (dt == BD_BF16 ? "BF16" : "F16"), why);
    }
}

// num_splits = 0 (auto) on the CPU: a decode shape (B1, one query, 8 query heads over 2 KV heads:
// 2 blocks) asks for a split workspace and, given it, agrees with one split; a prefill shape asks
// for none; without a workspace auto runs one split.
void test_auto_splits() {
    bdt::Case c;
    c.dtype = BD_F32;
    c.B = 1;
    c.Sq = 1;
    c.Sk = 1000;
    c.Hq = 8;
    c.Hkv = 2;
    c.D = c.Dv = 128;
    c.causal = true;
    c.seed = 99;
    const bdt::Inputs in = bdt::make_inputs(c);
    const Run one = run_cpu(in, 1);
    bd_attention_params p = in.p;
    p.num_splits = 0;
    const int64_t bytes = bd_cpu_attention_workspace_bytes(&p);
    report(bytes > 0, "auto splits: a decode shape asks for a split workspace", std::to_string(bytes));
    Run r;
    r.o.assign(one.o.size(), 0xCD);
    r.lse.assign(one.lse.size(), 12345.f);
    std::vector<float> ws((size_t)(bytes / 4 + 64), NAN);
    p.o = r.o.data();
    p.lse = r.lse.data();
    p.o_accum = ws.data();
    p.lse_accum = nullptr;
    const int st = bd_cpu_attention_forward(&p, nullptr);
    double lse_diff = 0;
    for (size_t e = 0; e < r.lse.size(); ++e) lse_diff = std::max(lse_diff, (double)std::fabs(r.lse[e] - one.lse[e]));
    const double err = bdt::nmse(in, r.o.data(), one.o.data());
    char why[128];
    std::snprintf(why, sizeof why, "status %d, nmse %.3g, lse difference %.3g", st, err, lse_diff);
    report(st == BD_OK && err <= 1e-12 && lse_diff <= 1e-5, "auto splits: decode with the workspace agrees with 1 split", why);
    p.o_accum = nullptr;
    report(bd_cpu_attention_forward(&p, nullptr) == BD_OK && bdt::nmse(in, r.o.data(), one.o.data()) <= 1e-12,
           "auto splits: no workspace runs one split");
    report(bd_cpu_attention_workspace_bytes_flat(BD_F32, 1, 512, 1000, 8, 2, 128, 128, 0) == 0,
           "auto splits: a prefill shape asks for no workspace");
}

// 1..8 splits of the same call agree with one another (not only each with the oracle).
void test_split_agreement() {
    for (int dt : {BD_F32, BD_BF16}) {
        bdt::Case c;
        c.dtype = dt;
        c.B = 2;
        c.Sq = 3;
        c.Sk = 777;
        c.Hq = 8;
        c.Hkv = 2;
        c.D = c.Dv = 128;
        c.causal = true;
        c.learned_sinks = true;
        c.seed = 4242;
        const bdt::Inputs in = bdt::make_inputs(c);
        const Run one = run_cpu(in, 1);
        double worst = 0, worst_lse = 0;
        for (int s = 2; s <= 8; ++s) {
            const Run r = run_cpu(in, s);
            worst = std::max(worst, bdt::nmse(in, r.o.data(), one.o.data()));
            for (size_t e = 0; e < r.lse.size(); ++e)
                worst_lse = std::max(worst_lse, (double)std::fabs(r.lse[e] - one.lse[e]) / (1.0 + std::fabs(one.lse[e])));
        }
        const double tol = dt == BD_F32 ? 1e-12 : 1e-5;
        char why[128];
        std::snprintf(why, sizeof why, "worst nmse %.3g, worst relative lse difference %.3g", worst, worst_lse);
        report(worst <= tol && worst_lse <= 1e-6, std::string("split-KV 2..8 agree with 1 split (") + bdt::dtype_str(dt) + ")",
               why);
        std::printf("split-KV agreement %s: %s\n", bdt::dtype_str(dt), why);
    }
}

// Naive materialised attention (F32): S = Q K^T for a whole head, mask, softmax, O = P V.
void naive_materialized(const float* q, const float* k, const float* v, float* o, int64_t S, int H, int D) {
#pragma omp parallel for schedule(static)
    for (int h = 0; h < H; ++h) {
        std::vector<float> s((size_t)(S * S));
        const float scale = 1.f / std::sqrt((float)D);
        for (int64_t i = 0; i < S; ++i)
            for (int64_t j = 0; j < S; ++j) {
                float acc = 0.f;
                for (int d = 0; d < D; ++d) acc += q[(i * H + h) * D + d] * k[(j * H + h) * D + d];
                s[i * S + j] = j <= i ? acc * scale : -INFINITY;
            }
        std::vector<float> acc((size_t)D);
        for (int64_t i = 0; i < S; ++i) {
            float mx = -INFINITY, sum = 0.f;
            for (int64_t j = 0; j < S; ++j) mx = std::max(mx, s[i * S + j]);
            for (int64_t j = 0; j < S; ++j) sum += (s[i * S + j] = std::exp(s[i * S + j] - mx));
            std::fill(acc.begin(), acc.end(), 0.f);
            for (int64_t j = 0; j < S; ++j)
                for (int d = 0; d < D; ++d) acc[d] += s[i * S + j] * v[(j * H + h) * D + d];
            for (int d = 0; d < D; ++d) o[(i * H + h) * D + d] = acc[d] / sum;
        }
    }
}

void perf_check(int heads) {
    const int D = 128;
    // 16k causal on the twin: memory must stay O(S D)
    {
        const int64_t S = 16384;
        const size_t n = (size_t)S * heads * D;
        std::vector<float> q(n), k(n), v(n), o(n);
        std::vector<float> lse((size_t)S * heads);
        std::mt19937_64 rng(7);
        std::normal_distribution<float> nd;
        for (size_t i = 0; i < n; ++i) {
            q[i] = nd(rng);
            k[i] = nd(rng);
            v[i] = nd(rng);
        }
        const long rss0 = peak_rss_mb();
        const double t0 = now_s(), c0 = cpu_s();
        const int st = bd_cpu_attention(q.data(), k.data(), v.data(), o.data(), lse.data(), BD_F32, 1, S, S, heads,
                                        heads, D, D, nullptr, nullptr, nullptr, 1.f / std::sqrt((float)D), 0.f, 1, -1,
                                        -1, 0, nullptr, nullptr, 0.f, 1, nullptr, nullptr);
        const double dt = now_s() - t0, dc = cpu_s() - c0;
        const long rss = peak_rss_mb();
        const double flops = 4.0 * heads * D * (double)S * (S + 1) / 2;
        std::printf("perf: CPU twin F32 causal B1 H%d S%lld D%d: %.2f s wall (%.1f GFLOP/s on %d threads), %.2f s CPU "
                    "(%.1f GFLOP per CPU-second); peak RSS %ld MB (tensors %zu MB, %ld MB before the call)\n",
                    heads, (long long)S, D, dt, flops / dt * 1e-9, omp_get_max_threads(), dc, flops / dc * 1e-9, rss,
                    4 * n * 4 / (1 << 20), rss0);
        bool finite = st == BD_OK;
        for (size_t i = 0; i < n && finite; i += 4099) finite = std::isfinite(o[i]);
        report(st == BD_OK && finite && rss < 1024, "memory: 16k causal attention on the CPU twin under 1 GB",
               "peak RSS " + std::to_string(rss) + " MB");
    }
    // 4k: twin vs naive materialised (both F32, same threads)
    {
        const int64_t S = 4096;
        const size_t n = (size_t)S * heads * D;
        std::vector<float> q(n), k(n), v(n), o1(n), o2(n);
        std::mt19937_64 rng(8);
        std::normal_distribution<float> nd;
        for (size_t i = 0; i < n; ++i) {
            q[i] = nd(rng);
            k[i] = nd(rng);
            v[i] = nd(rng);
        }
        double t0 = now_s(), c0 = cpu_s();
        bd_cpu_attention(q.data(), k.data(), v.data(), o1.data(), nullptr, BD_F32, 1, S, S, heads, heads, D, D, nullptr,
                         nullptr, nullptr, 1.f / std::sqrt((float)D), 0.f, 1, -1, -1, 0, nullptr, nullptr, 0.f, 1,
                         nullptr, nullptr);
        const double t_twin = now_s() - t0, c_twin = cpu_s() - c0;
        t0 = now_s();
        c0 = cpu_s();
        naive_materialized(q.data(), k.data(), v.data(), o2.data(), S, heads, D);
        const double t_naive = now_s() - t0, c_naive = cpu_s() - c0;
        double num = 0, den = 0;
        for (size_t i = 0; i < n; ++i) {
            num += (o1[i] - o2[i]) * (double)(o1[i] - o2[i]);
            den += (double)o2[i] * o2[i];
        }
        std::printf("perf: causal B1 H%d S4096 D%d F32: CPU twin %.3f s wall / %.3f s CPU, naive materialised %.3f s wall "
                    "/ %.3f s CPU (%.1fx wall, %.1fx CPU), nmse %.2g, %d threads\n",
                    heads, D, t_twin, c_twin, t_naive, c_naive, t_naive / t_twin, c_naive / c_twin, num / den,
                    omp_get_max_threads());
        report(num / den < 1e-10, "perf: twin and naive materialised agree at 4k", std::to_string(num / den));
    }
}

}  // namespace

int main(int argc, char** argv) {
    bool quick = false, perf = true;
    int perf_heads = 4;  // the brief's shape is H8: --perf-heads 8
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--quick")) quick = true;
        else if (!std::strcmp(argv[i], "--no-perf")) perf = false;
        else if (!std::strcmp(argv[i], "--perf-heads") && i + 1 < argc) perf_heads = std::atoi(argv[++i]);
        else {
            std::fprintf(stderr, "usage: %s [--quick] [--no-perf] [--perf-heads H]\n", argv[0]);
            return 2;
        }
    }
    bdt::LayoutReport lr;
    bdt::test_mma_layout(lr);
    g_passed += lr.passed;
    g_failed += lr.failed;
    bdt::WalkReport wr;
    bdt::test_sparse_walk(wr);
    g_passed += wr.passed;
    g_failed += wr.failed;
    test_abi();
    test_plan();
    test_flat();
    test_sparse_plan();
    test_sparse_abi();
    test_simd_math();
    const double t0 = now_s();
    std::vector<bdt::Case> cases = bdt::standard_cases(quick);
    const std::vector<bdt::Case> sparse = bdt::sparse_cases(quick);
    cases.insert(cases.end(), sparse.begin(), sparse.end());
    for (const bdt::Case& c : cases) run_case(c);
    test_split_agreement();
    test_auto_splits();
    std::printf("cases: %zu in %.1f s\n", cases.size(), now_s() - t0);
    if (perf) perf_check(perf_heads);
    std::printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed == 0 ? 0 : 1;
}
