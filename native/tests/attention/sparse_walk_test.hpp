// CPU unit test of the CUDA kernels' block-sparse tile schedule, which cannot run without a GPU:
// for every block-sparse case (bdt::sparse_cases), split count 1..4, and the kernels' tile shapes
// (the mma kernel's 64 x 64 and 64 x 32, the F32 kernel's 16 x 32), it replays what each CUDA block
// does with the plan (detail/attention_plan.hpp): the query tile's rows and GQA packing, the
// SparseWalk share of its split, the "needs the element mask" test and the per-row element rule in
// the form each kernel evaluates it (fwd_mma.cuh reduces sparse_tile_full / sparse_row_sees to bits
// of `which` fixed per thread and hands the walk's tiles over in two shared slots, replayed here
// step by step; attention.cu calls them per tile). Every (query, head, key) must be
// scored exactly once over all splits when the oracle's rule (attention_ref.hpp, written from
// CLI.md) says it is visible, never otherwise, and every visited tile must lie inside the keys.
// The same with bdt::with_junk_columns layouts (negative, repeated, out-of-order, out-of-range
// columns), which must mean what the clean layout means.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "attention_ref.hpp"
#include "braindrip/detail/attention_plan.hpp"

namespace bdt {

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

// One replay: tile shape m x n, `mma_bits` selects the mma kernel's form of the sparse mask.
inline std::string replay_sparse_schedule(const Inputs& in, const BlockLayout& device_layout, int m, int n,
                                          bool mma_bits, int splits) {
    using namespace bd::attn;
    const Case& c = in.c;
    bd_attention_params p = in.p;
    p.block_row_ptr = device_layout.row_ptr.data();
    p.block_col_idx = device_layout.col_idx.data();
    Plan pl = make_plan(p, splits);
    pl.tile_m = m;  // the shape under test (make_plan picks the one of the case's dtype)
    pl.tile_n = n;
    pl.m_blocks = ceil_div(p.seqlen_q * pl.pack, m);
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
                    // (t - tb) & 1 at the prefetch of tile t - 1 (or the prologue), and slot
                    // (t - tb + 1) & 1 refilled with tile t + 2 right after that read
                    int slot[2][2] = {{-1, -1}, {-1, -1}};
                    if (mma_bits)
                        for (int u = 0; u < 2 && tb + u < te; ++u) w.next(&slot[u][0], &slot[u][1]);
                    int next_tile = -1, next_which = 0;
                    if (mma_bits && tb < te) {
                        next_tile = slot[0][0];
                        next_which = slot[0][1];
                    }
                    const RowLimits first = row_limits(mk, i0), last = row_limits(mk, i1);
                    const int full_bits = qb_lo == qb_hi ? 0 : 3;
                    for (int t = tb; t < te; ++t) {
                        int tile = -1, which = 0;
                        if (mma_bits) {
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
                        const bool full = mma_bits ? (which & full_bits) == full_bits : sparse_tile_full(which, qb_lo, qb_hi);
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
                                          (mma_bits ? (which & sees) != 0 : sparse_row_sees(which, qb, qb_lo));
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
                    const int want = visible_ref(c, sq, sk, i, j) && layout_visible_ref(in.layout, h, sq, sk, i, j);
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
        bool mma_bits;
        const char* name;
    };
    const Shape shapes[3] = {{64, 64, true, "mma 64x64"}, {64, 32, true, "mma 64x32 (hd256)"}, {16, 32, false, "f32 16x32"}};
    for (const Case& c0 : sparse_cases(false)) {
        if (c0.D != 64 && c0.D != 128) continue;  // the geometry does not depend on the head dim
        const Inputs in = make_inputs(c0);
        const BlockLayout junk = with_junk_columns(in.layout, c0.Sk);
        for (const Shape& s : shapes) {
            std::string why;
            for (int splits = 1; splits <= 4 && why.empty(); ++splits) why = replay_sparse_schedule(in, in.layout, s.m, s.n, s.mma_bits, splits);
            rep.check(why.empty(), c0.label() + " " + s.name + ", splits 1..4", why);
            why = replay_sparse_schedule(in, junk, s.m, s.n, s.mma_bits, 3);
            rep.check(why.empty(), c0.label() + " " + s.name + ", junk columns, split 3", why);
        }
    }
}

}  // namespace bdt
