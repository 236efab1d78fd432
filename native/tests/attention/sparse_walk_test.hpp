// Block-sparse test support for the CUDA kernels, on top of attention_ref.hpp's sparse cases:
//   - cuda_sparse_cases(): shapes the CUDA kernels' tiles make interesting beyond bdt::sparse_cases
//     (packed GQA decode rows straddling two query blocks, several 64x32 key tiles per block);
//   - with_junk_columns(): a layout with the junk the CUDA path must skip (attention.h);
//   - test_sparse_walk(): a CPU replay of the CUDA kernels' block-sparse tile schedule, which
//     cannot run without a GPU. For every sparse case, split count 1..4, and the kernels' tile
//     shapes (the mma kernel's 64 x 64 and 64 x 32, the F32 kernel's 16 x 32), it replays what each
//     CUDA block does with the plan (detail/attention_plan.hpp): the query tile's rows and GQA
//     packing, the SparseWalk share of its split, fwd_mma.cuh's hand-over of the walk's tiles in
//     two shared slots, the "needs the element mask" test and the per-row element rule in the form
//     each kernel evaluates it (fwd_mma.cuh reduces sparse_tile_full / sparse_row_sees to bits of
//     `which` fixed per thread; attention.cu calls them per tile). Every (query, head, key) must be
//     scored exactly once over all splits when the oracle's rule (Inputs::visible, written from
//     attention.h / CLI.md) says it is visible, never otherwise, and every visited tile must lie
//     inside the keys; the same with the junk layouts, which must mean what the clean ones mean.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "attention_ref.hpp"
#include "braindrip/detail/attention_plan.hpp"

namespace bdt {

inline std::vector<Case> cuda_sparse_cases(bool quick) {
    std::vector<Case> cs;
    uint64_t seed = 6000;
    auto add = [&](Case c) {
        c.seed = ++seed;
        cs.push_back(c);
    };
    for (int dt : {BD_BF16, BD_F32}) {
        Case c;
        c.dtype = dt;
        c.D = c.Dv = 128;
        c.B = 2;
        c.Hq = 8;
        c.Hkv = 2;
        c.block = 64;
        c.causal = true;
        c.name = "sparse few queries straddling two query blocks, GQA packed";
        c.Sq = 5;
        c.Sk = 322;  // positions 317..321: query blocks 4 and 5
        c.layout = "random:50";
        add(c);
        c.name = "sparse few queries straddling two query blocks, GQA packed, seqused, split 3";
        c.seqused = true;
        c.num_splits = 3;
        c.Sk = 900;
        c.layout = "local:2,vstride:3";
        add(c);
    }
    for (int dt : {BD_BF16, BD_F16}) {
        if (quick && dt == BD_F16) continue;
        Case c;
        c.dtype = dt;
        c.D = c.Dv = 256;
        c.B = 1;
        c.Hq = 2;
        c.Hkv = 1;
        c.block = 128;
        c.causal = true;
        c.name = "sparse block 128 at head dim 256 (four 32-key tiles per block), Sq<Sk";
        c.Sq = 300;
        c.Sk = 700;
        c.layout = "local:2,stride:4";
        add(c);
    }
    return cs;
}

// The BSR arrays of a layout with junk: each row [c0 .. cn] becomes [cn, -3, c0 .. cn, cn, cols,
// 2^30] (a copy of the last out of order at the front, a negative, a repeat, two past the keys); an
// empty row becomes [-1, cols + 5]. Walked down (attn::SparseWalk), the junk is skipped and every
// row means what the clean one does.
struct Bsr {
    std::vector<int32_t> row_ptr, col_idx;
};
inline Bsr with_junk_columns(const std::vector<int32_t>& row_ptr, const std::vector<int32_t>& col_idx, int32_t cols) {
    Bsr J;
    J.row_ptr.assign(1, 0);
    for (size_t r = 0; r + 1 < row_ptr.size(); ++r) {
        const int32_t a = row_ptr[r], e = row_ptr[r + 1];
        if (a == e) {
            J.col_idx.insert(J.col_idx.end(), {-1, cols + 5});
        } else {
            const int32_t last = col_idx[(size_t)e - 1];
            J.col_idx.insert(J.col_idx.end(), {last, -3});
            J.col_idx.insert(J.col_idx.end(), col_idx.begin() + a, col_idx.begin() + e);
            J.col_idx.insert(J.col_idx.end(), {last, cols, 1 << 30});
        }
        J.row_ptr.push_back((int32_t)J.col_idx.size());
    }
    return J;
}
inline Bsr with_junk_columns(const Inputs& in) {
    return with_junk_columns(in.row_ptr, in.col_idx, (int32_t)((in.c.Sk + in.c.block - 1) / in.c.block));
}

struct WalkReport {
    int passed = 0, failed = 0;
    void check(bool ok, const std::string& what, const std::string& why) {
        if (ok) {
            ++passed;
        } else {
            ++failed;
            std::printf("FAIL sparse walk: %s: %s\n", what.c_str(), why.c_str());
        }
    }
};

// One replay of case `in` with the layout arrays `lay` (the case's own or junk): tile shape m x n,
// `mma` selects the mma kernel's form (slots, bits) over the F32 kernel's. "" when it holds.
inline std::string replay_sparse_schedule(const Inputs& in, const Bsr& lay, int m, int n, bool mma, int splits) {
    using namespace bd::attn;
    const Case& c = in.c;
    bd_attention_params p = in.p;
    p.block_row_ptr = lay.row_ptr.data();
    p.block_col_idx = lay.col_idx.data();
    Plan pl = make_plan(p, splits);
    pl.m_blocks = ceil_div(p.seqlen_q * pl.pack, m);  // the tile shape under test
    char buf[256];
    for (int64_t b = 0; b < c.B; ++b) {
        const SeqInfo si = seq_info(p, b);
        const Mask mk = make_mask(p, si);
        const int64_t sq = si.sq, sk = si.sk;
        // hits[(i * Hq + h) * sk + j]: times (query i, head h, key j) was scored as visible
        std::vector<int> hits((size_t)(sq * c.Hq * sk), 0);
        for (int hb = 0; hb < pl.head_blocks; ++hb)
            for (int64_t mb = 0; mb < pl.m_blocks; ++mb)
                for (int split = 0; split < splits; ++split) {
                    const int64_t rows = sq * pl.pack, r0 = mb * m;
                    if (r0 >= rows) continue;
                    const int64_t i0 = pl.row_query(r0), i1 = pl.row_query(min64(r0 + m, rows) - 1);
                    const TileRange tr = tile_range(mk, i0, i1, n);
                    int64_t qb_lo, qb_hi;
                    SparseWalk w = sparse_walk(p, mk, p.block_heads == 1 ? 0 : hb, i0, i1, n, tr.win_hi, &qb_lo, &qb_hi);
                    int tb, te;
                    split_range(w.count(), split, splits, &tb, &te);
                    w.skip(tb);
                    // fwd_mma.cuh's hand-over: slots 0 and 1 filled up front, tile t read from slot
                    // (t - tb) & 1 at the prefetch of tile t - 1 (or in the prologue), and the other
                    // slot refilled with tile t + 2 right after that read
                    int slot[2][2] = {{-1, -1}, {-1, -1}};
                    if (mma)
                        for (int u = 0; u < 2 && tb + u < te; ++u) w.next(&slot[u][0], &slot[u][1]);
                    int next_tile = -1, next_which = 0;
                    if (mma && tb < te) {
                        next_tile = slot[0][0];
                        next_which = slot[0][1];
                    }
                    const RowLimits first = row_limits(mk, i0), last = row_limits(mk, i1);
                    const int full_bits = qb_lo == qb_hi ? 0 : 3;
                    for (int t = tb; t < te; ++t) {
                        int tile = -1, which = 0;
                        if (mma) {
                            tile = next_tile;
                            which = next_which;
                            if (t + 1 < te) {  // the prefetch point of tile t
                                const int u1 = (t + 1 - tb) & 1;
                                next_tile = slot[u1][0];
                                next_which = slot[u1][1];
                                slot[u1][0] = slot[u1][1] = -1;  // consumed
                                if (t + 2 < te && !w.next(&slot[u1 ^ 1][0], &slot[u1 ^ 1][1]))
                                    return "the walk ended before its count";
                            }
                        } else if (!w.next(&tile, &which)) {
                            return "the walk ended before its count";
                        }
                        const int64_t k0 = (int64_t)tile * n;
                        if (k0 < 0 || k0 >= sk) {
                            std::snprintf(buf, sizeof buf, "b%lld hb%d mb%lld: tile %d outside the %lld keys", (long long)b,
                                          hb, (long long)mb, tile, (long long)sk);
                            return buf;
                        }
                        const bool full = mma ? (which & full_bits) == full_bits : sparse_tile_full(which, qb_lo, qb_hi);
                        const bool masked = tile_needs_mask32(first, last, (int)sk, p.sink_tokens, (int)k0, n) || !full;
                        for (int64_t r = r0; r < std::min(r0 + m, rows); ++r) {
                            const int64_t i = pl.row_query(r);
                            const int h = pl.row_head(r, hb);
                            const RowLimits lim = row_limits(mk, i);
                            const int64_t qb = query_block(mk, i, p.block_size);
                            const int sees = qb == qb_lo ? 1 : 2;
                            for (int64_t j = k0; j < k0 + n; ++j) {
                                bool vis = true;
                                if (masked)
                                    vis = visible32(lim, (int)sk, p.sink_tokens, (int)j) &&
                                          (mma ? (which & sees) != 0 : sparse_row_sees(which, qb, qb_lo));
                                if (!vis) continue;
                                if (j >= sk) return "an unmasked tile scores a key past the sequence";
                                ++hits[(size_t)((i * c.Hq + h) * sk + j)];
                            }
                        }
                    }
                }
        for (int64_t i = 0; i < sq; ++i)
            for (int h = 0; h < c.Hq; ++h)
                for (int64_t j = 0; j < sk; ++j) {
                    const int want = in.visible(h, sq, sk, i, j) ? 1 : 0;
                    const int got = hits[(size_t)((i * c.Hq + h) * sk + j)];
                    if (got != want) {
                        std::snprintf(buf, sizeof buf, "(b%lld i%lld h%d key %lld) scored %d times, want %d", (long long)b,
                                      (long long)i, h, (long long)j, got, want);
                        return buf;
                    }
                }
    }
    return "";
}

inline void test_sparse_walk(WalkReport& rep) {
    struct Shape {
        int m, n;
        bool mma;
        const char* name;
    };
    const Shape shapes[3] = {{64, 64, true, "mma 64x64"}, {64, 32, true, "mma 64x32 (hd256)"}, {16, 32, false, "f32 16x32"}};
    std::vector<Case> cases = sparse_cases(false);
    for (const Case& c : cuda_sparse_cases(false)) cases.push_back(c);
    for (const Case& c : cases) {
        if (c.dtype == BD_F16) continue;  // the schedule depends on the tile shape only, replayed for each below
        const Inputs in = make_inputs(c);
        const Bsr clean{in.row_ptr, in.col_idx}, junk = with_junk_columns(in);
        for (const Shape& s : shapes) {
            std::string why;
            for (int splits = 1; splits <= 4 && why.empty(); ++splits)
                why = replay_sparse_schedule(in, clean, s.m, s.n, s.mma, splits);
            rep.check(why.empty(), c.label() + " " + s.name + ", splits 1..4", why);
            why = replay_sparse_schedule(in, junk, s.m, s.n, s.mma, 3);
            rep.check(why.empty(), c.label() + " " + s.name + ", junk columns, split 3", why);
        }
    }
}

}  // namespace bdt
