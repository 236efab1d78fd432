// Internal to the kernel library (not part of the C ABI): the plan that the CPU twin and the CUDA
// kernels of fused attention share, so that both walk exactly the same tiles. It holds
//   - the tile sizes (query tile M x key tile N) per dtype and head dim,
//   - the mask rules (bottom-right causal, window, sink tokens) and, from them, the range of key
//     tiles a query tile visits and which of those need an element mask (KERNEL-NOTES: interior
//     tiles run unmasked, only boundary tiles apply the mask),
//   - the GQA row packing used for decode (the query heads of one KV head share a block's rows),
//   - the split-KV boundaries and FlashAttention-2's num_splits heuristic,
//   - argument validation with messages that name the rule.
// Every function is usable from host and device code (BD_HD) except the host-only builders.
#pragma once

#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "braindrip/attention.h"

#ifdef __CUDACC__
#define BD_HD __host__ __device__ __forceinline__
#else
#define BD_HD inline
#endif

namespace bd::attn {

constexpr int kMaxSplits = 128;
constexpr int kMaxRopeHalf = 256;  // rope table entries: head_dim / 2 (CPU head_dim <= 512 with rope)
constexpr float kLog2e = 1.4426950408889634f;

// Query rows per block and keys per tile. F32 runs the SIMT kernel (16 x 32); BF16/F16 run the
// mma.sync kernel: 4 warps x 16 rows = 64 rows, 64 keys per tile up to head dim 128, 32 keys at 256
// (KERNEL-NOTES: 128-row tiles at hd128 sit near 255 registers and spill; at hd256 even 64 x 64
// spilled 148 bytes under ptxas -v, 64 x 32 does not).
struct Tile {
    int m, n;
};
BD_HD Tile tile_for(int dtype, int head_dim) {
    if (dtype == BD_F32) return Tile{16, 32};
    return Tile{64, head_dim <= 128 ? 64 : 32};
}

// The query heads of one KV head share a block's rows (row r -> query r / G, head hkv*G + r % G)
// when there is a group to share and few queries per sequence (decode, speculative decode):
// K and V are then read once per group instead of G times.
// A per-head block-sparse layout (block_heads > 1) keeps each query head in its own block.
BD_HD bool pack_gqa(int heads_q, int heads_kv, int64_t seqlen_q, int block_heads = 1) {
    return heads_q > heads_kv && seqlen_q <= 16 && block_heads <= 1;
}
BD_HD int layout_heads(const bd_attention_params& p) { return p.block_row_ptr ? p.block_heads : 1; }

BD_HD int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
BD_HD int64_t floor_div(int64_t a, int64_t b) {  // b > 0, a of any sign
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}
BD_HD int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
BD_HD int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

// ---- one sequence's geometry and mask

struct SeqInfo {
    int64_t q_start;  // packed row of query 0 (varlen), else 0
    int64_t k_start;  // packed row of key 0 (varlen), else 0
    int64_t sq, sk;   // this sequence's query and (used) key lengths
};

BD_HD SeqInfo seq_info(const bd_attention_params& p, int64_t b) {
    SeqInfo s;
    if (p.cu_seqlens_q) {
        s.q_start = p.cu_seqlens_q[b];
        s.sq = p.cu_seqlens_q[b + 1] - s.q_start;
    } else {
        s.q_start = 0;
        s.sq = p.seqlen_q;
    }
    if (p.cu_seqlens_k) {
        s.k_start = p.cu_seqlens_k[b];
        s.sk = p.cu_seqlens_k[b + 1] - s.k_start;
    } else {
        s.k_start = 0;
        s.sk = p.seqlen_k;
    }
    if (p.seqused_k) s.sk = p.seqused_k[b];
    return s;
}

struct Mask {
    int64_t shift;  // sk - sq: query i sits at key position i + shift (bottom-right alignment)
    int64_t sk;
    int64_t left, right;  // -1 = unbounded; right = 0 under causal
    int64_t sink;         // sink tokens

    BD_HD bool visible(int64_t i, int64_t j) const {
        if (j < 0 || j >= sk) return false;
        const int64_t ip = i + shift;
        if (right >= 0 && j > ip + right) return false;
        if (j < sink) return true;
        return left < 0 || j >= ip - left;
    }
};

BD_HD Mask make_mask(const bd_attention_params& p, const SeqInfo& s) {
    Mask m;
    m.shift = s.sk - s.sq;
    m.sk = s.sk;
    m.left = p.window_left < 0 ? -1 : p.window_left;
    m.right = p.is_causal ? 0 : (p.window_right < 0 ? -1 : p.window_right);
    m.sink = p.sink_tokens;
    return m;
}

// Key tiles visited by the query rows [i0, i1] (inclusive), in visiting order: the window tiles
// from the last (the diagonal, masked) down to the first, then the sink-token tiles that lie
// before the window, also from the last down.
struct TileRange {
    int win_lo, win_hi;  // window tiles [win_lo, win_hi)
    int sink_hi;         // sink tiles [0, sink_hi), all < win_lo

    BD_HD int count() const { return (win_hi - win_lo) + sink_hi; }
    BD_HD int tile(int t) const {
        const int w = win_hi - win_lo;
        return t < w ? win_hi - 1 - t : sink_hi - 1 - (t - w);
    }
};

BD_HD TileRange tile_range(const Mask& m, int64_t i0, int64_t i1, int n) {
    const int64_t n_total = ceil_div(m.sk, n);
    int64_t win_hi = n_total;
    if (m.right >= 0) {
        const int64_t last_key = i1 + m.shift + m.right;  // last key any row of the tile may see
        win_hi = last_key < 0 ? 0 : min64(n_total, floor_div(last_key, n) + 1);
    }
    int64_t win_lo = 0;
    if (m.left >= 0) win_lo = min64(win_hi, max64(0, floor_div(i0 + m.shift - m.left, n)));
    int64_t sink_hi = 0;
    if (m.sink > 0 && win_lo > 0) {
        int64_t sink_keys = min64(m.sink, m.sk);
        if (m.right >= 0) sink_keys = min64(sink_keys, max64(0, i1 + m.shift + m.right + 1));
        sink_hi = min64(win_lo, ceil_div(sink_keys, n));
    }
    return TileRange{static_cast<int>(win_lo), static_cast<int>(win_hi), static_cast<int>(sink_hi)};
}

// The mask of one query row in 32 bits, for the kernels' inner loops: key j (0 <= j) is visible
// iff j < sk && j <= hi && (j < sink || j >= lo). Sequence lengths are < 2^31 (validate).
struct RowLimits {
    int hi, lo;
};
BD_HD RowLimits row_limits(const Mask& m, int64_t i) {
    const int64_t ip = i + m.shift;
    int64_t hi = m.right < 0 ? INT32_MAX : ip + m.right;
    int64_t lo = m.left < 0 ? INT32_MIN : ip - m.left;
    hi = hi < -1 ? -1 : (hi > INT32_MAX ? INT32_MAX : hi);
    lo = lo < INT32_MIN ? INT32_MIN : (lo > INT32_MAX ? INT32_MAX : lo);
    return RowLimits{static_cast<int>(hi), static_cast<int>(lo)};
}
BD_HD bool visible32(const RowLimits& r, int sk, int sink, int j) {
    return j < sk && j <= r.hi && (j < sink || j >= r.lo);
}

// Whether key tile [k0, k0 + n) needs the element mask for a query tile whose first row has
// limits `first` and last row `last`: conservative, and exact on interior tiles (every (i, j) of
// an unmasked tile is visible).
BD_HD bool tile_needs_mask32(const RowLimits& first, const RowLimits& last, int sk, int sink, int k0, int n) {
    const int k1 = k0 + n - 1;
    if (k1 >= sk) return true;                        // ragged end (or zero-filled rows)
    if (k1 > first.hi) return true;                   // right edge of the first row
    if (k0 < last.lo && k1 >= sink) return true;      // left edge of the last row, not all sinks
    return false;
}

// ---- block-sparse layouts (attention.h, block_row_ptr): BSR over blocks of block_size tokens,
// block_size a multiple of every key tile, so a listed block is a run of whole key tiles. A query
// tile's rows span at most two query blocks (block_size >= 64 >= the query positions of a tile:
// 64 rows, or <= 16 queries when GQA heads are packed), so a tile merges at most two layout rows.

struct SparseRow {
    const int32_t* col;  // ascending key blocks
    int n;               // <= 0: empty
};

// Layout row (lh, qb); rows outside [0, block_rows) (negative aligned positions) are empty.
BD_HD SparseRow sparse_row(const bd_attention_params& p, int lh, int64_t qb) {
    if (qb < 0 || qb >= p.block_rows) return SparseRow{nullptr, 0};
    const int64_t r = static_cast<int64_t>(lh) * p.block_rows + qb;
    const int32_t a = p.block_row_ptr[r], e = p.block_row_ptr[r + 1];
    return SparseRow{p.block_col_idx + a, e - a};
}

BD_HD int64_t query_block(const Mask& m, int64_t i, int block_size) { return floor_div(i + m.shift, block_size); }

// Walks the key tiles of the union of two layout rows (query blocks qb_lo and qb_hi of one query
// tile) from the last down, each block's tiles from its last down, below tile_end (the right edge
// of the tile range). `which` says whose list holds the block: 1 = qb_lo's, 2 = qb_hi's, 3 = both.
// Columns out of range, repeated or out of order are skipped (the CUDA path cannot check device
// data up front); an honest layout is walked exactly.
struct SparseWalk {
    SparseRow a, b;
    int ia, ib;      // next entries to look at, walking down
    int tpb;         // key tiles per block
    int tile_end;    // tiles >= tile_end are not visited
    int last_block;  // the previous block (entries >= it are skipped)
    int which;       // the current block's lists
    int t_lo, t;     // tiles of the current block still to visit: t down to t_lo

    BD_HD void init(SparseRow ra, SparseRow rb, int tiles_per_block, int tile_end_) {
        a = ra;
        b = rb;
        ia = ra.n - 1;
        ib = rb.n - 1;
        tpb = tiles_per_block;
        tile_end = tile_end_;
        last_block = INT32_MAX;
        which = 0;
        t_lo = 0;
        t = -1;
    }
    // The next usable entry of a row at or below index i (moves i onto it); -1 when none.
    BD_HD int peek(const SparseRow& r, int& i) const {
        for (; i >= 0; --i) {
            const int c = r.col[i];
            if (c >= 0 && c < last_block && static_cast<int64_t>(c) * tpb < tile_end) return c;
        }
        return -1;
    }
    BD_HD bool next(int* tile, int* in) {
        if (t < t_lo) {
            const int ca = peek(a, ia), cb = peek(b, ib);
            if (ca < 0 && cb < 0) return false;
            const int blk = ca > cb ? ca : cb;
            which = (ca == blk ? 1 : 0) | (cb == blk ? 2 : 0);
            last_block = blk;
            t_lo = blk * tpb;
            t = (t_lo + tpb < tile_end ? t_lo + tpb : tile_end) - 1;
        }
        *tile = t--;
        *in = which;
        return true;
    }
    // Tiles left to walk (a copy walks to the end).
    BD_HD int count() const {
        SparseWalk w = *this;
        int n = 0, tile, in;
        while (w.next(&tile, &in)) ++n;
        return n;
    }
    BD_HD void skip(int n) {
        int tile, in;
        for (int s = 0; s < n && next(&tile, &in); ++s) {
        }
    }
};

// Whether a row of query block qb sees a block of a walk's `which` (qb_lo: the tile's first).
BD_HD bool sparse_row_sees(int which, int64_t qb, int64_t qb_lo) { return (which & (qb == qb_lo ? 1 : 2)) != 0; }
// Whether every row of the tile sees the block (then only the causal / right-edge mask applies).
BD_HD bool sparse_tile_full(int which, int64_t qb_lo, int64_t qb_hi) { return qb_lo == qb_hi || which == 3; }

// The walk of one query tile: rows [i0, i1] of layout head lh, key tiles below tile_end
// (TileRange::win_hi), n keys per tile.
BD_HD SparseWalk sparse_walk(const bd_attention_params& p, const Mask& m, int lh, int64_t i0, int64_t i1, int n,
                             int tile_end, int64_t* qb_lo, int64_t* qb_hi) {
    *qb_lo = query_block(m, i0, p.block_size);
    *qb_hi = query_block(m, i1, p.block_size);
    SparseWalk w;
    w.init(sparse_row(p, lh, *qb_lo), *qb_hi != *qb_lo ? sparse_row(p, lh, *qb_hi) : SparseRow{nullptr, 0},
           p.block_size / n, tile_end);
    return w;
}

// Visited tiles [t_begin, t_end) of split s out of S: an even share of this tile's own list.
BD_HD void split_range(int count, int s, int num_splits, int* t_begin, int* t_end) {
    *t_begin = static_cast<int>(static_cast<int64_t>(count) * s / num_splits);
    *t_end = static_cast<int>(static_cast<int64_t>(count) * (s + 1) / num_splits);
}

// FlashAttention-2's num_splits_heuristic (flash_api.cpp), rewritten: with `blocks` blocks on
// `num_sms` SMs over `n_tiles` key tiles, take the smallest split count whose wave efficiency
// (blocks*s / num_sms / ceil of that) is within 85% of the best; 1 when blocks fill 80% of the SMs.
inline int num_splits_heuristic(int64_t blocks, int num_sms, int64_t n_tiles, int max_splits) {
    if (num_sms <= 0 || blocks <= 0 || n_tiles <= 1) return 1;
    if (static_cast<double>(blocks) >= 0.8 * num_sms) return 1;
    int64_t cap = min64(min64(max_splits, num_sms), n_tiles);
    float eff[kMaxSplits + 1] = {0.f};
    float best = 0.f;
    auto eligible = [&](int64_t s) {  // a split count that changes the tiles per split
        return s == 1 || ceil_div(n_tiles, s) != ceil_div(n_tiles, s - 1);
    };
    for (int64_t s = 1; s <= cap; ++s) {
        if (!eligible(s)) continue;
        const float waves = static_cast<float>(blocks * s) / static_cast<float>(num_sms);
        eff[s] = waves / ceilf(waves);
        if (eff[s] > best) best = eff[s];
    }
    for (int64_t s = 1; s <= cap; ++s)
        if (eligible(s) && eff[s] >= 0.85f * best) return static_cast<int>(s);
    return 1;
}

// ---- the resolved plan of one call (passed by value to the CUDA kernels)

struct Plan {
    bd_attention_params p;
    int group;          // Hq / Hkv
    int pack;           // rows per query position: group when GQA heads share a block, else 1
    int head_blocks;    // blocks per batch row: Hkv when packed, else Hq
    int tile_m, tile_n;
    int num_splits;     // >= 1
    int64_t m_blocks;   // ceil(seqlen_q * pack / tile_m) (seqlen_q = the maximum when varlen)
    float softcap_pre2; // softcap > 0: raw = softcap_tanh(q.k, softcap_pre2), pre2 = 2 log2e scale / softcap
    float sl2;          // exp2 factor on raw units: scale * log2e, or softcap * log2e
    float lse_scale;    // raw units -> natural logits: scale, or softcap
    // CPU: rel_bias by distance d in raw units, (Hq, 2 rel_half + 1) with d = 0 at rel_half and the
    // saturated values past max_distance repeated out to rel_half (a tile's distances then read it
    // contiguously); rel_lut_rev the same rows reversed (element rel_half + x is d = -x)
    const float* rel_lut = nullptr;
    const float* rel_lut_rev = nullptr;
    int64_t rel_half = 0;
    bool has_bias;      // rel_bias or alibi_slopes
    float bias_to_raw;  // natural units -> raw: 1 / lse_scale
    float rel_log_ratio; // (float) log(rel_max_distance / max_exact), as HF's math.log scalar
    float rope_inv_freq[kMaxRopeHalf];  // theta^(-2p/D) in F32, as the rope op computes it

    // Query position and head of block row r (0 <= r < sq * pack) for head block hb.
    BD_HD int64_t row_query(int64_t r) const { return pack > 1 ? r / pack : r; }
    BD_HD int row_head(int64_t r, int hb) const {
        return pack > 1 ? hb * group + static_cast<int>(r % pack) : hb;
    }
    BD_HD int kv_head(int hb) const { return pack > 1 ? hb : hb / group; }

    BD_HD int64_t q_offset(int64_t b, const SeqInfo& s, int64_t i, int h) const {
        return (p.cu_seqlens_q ? (s.q_start + i) * p.q_row_stride
                               : b * p.q_batch_stride + i * p.q_row_stride) +
               static_cast<int64_t>(h) * p.q_head_stride;
    }
    BD_HD int64_t o_offset(int64_t b, const SeqInfo& s, int64_t i, int h) const {
        return (p.cu_seqlens_q ? (s.q_start + i) * p.o_row_stride
                               : b * p.o_batch_stride + i * p.o_row_stride) +
               static_cast<int64_t>(h) * p.o_head_stride;
    }
    BD_HD int64_t k_offset(int64_t b, const SeqInfo& s, int64_t j, int hk) const {
        return (p.cu_seqlens_k ? (s.k_start + j) * p.k_row_stride
                               : b * p.k_batch_stride + j * p.k_row_stride) +
               static_cast<int64_t>(hk) * p.k_head_stride;
    }
    BD_HD int64_t v_offset(int64_t b, const SeqInfo& s, int64_t j, int hk) const {
        return (p.cu_seqlens_k ? (s.k_start + j) * p.v_row_stride
                               : b * p.v_batch_stride + j * p.v_row_stride) +
               static_cast<int64_t>(hk) * p.v_head_stride;
    }
    BD_HD int64_t lse_offset(int64_t b, const SeqInfo& s, int64_t i, int h) const {
        return (p.cu_seqlens_q ? (s.q_start + i) * p.lse_row_stride
                               : b * p.lse_batch_stride + i * p.lse_row_stride) +
               static_cast<int64_t>(h) * p.lse_head_stride;
    }
    BD_HD int64_t rope_offset(int64_t b, const SeqInfo& s, int64_t j) const {
        return p.cu_seqlens_k ? s.k_start + j : b * p.seqlen_k + j;
    }
    // Split-KV workspace row (split, b, h, i) over (num_splits, B, Hq, seqlen_q).
    BD_HD int64_t ws_row(int split, int64_t b, int h, int64_t i) const {
        return ((static_cast<int64_t>(split) * p.batch + b) * p.heads_q + h) * p.seqlen_q + i;
    }
};

// Bytes of split-KV workspace for S splits (o_accum, then lse_accum at a 256-byte offset).
inline int64_t workspace_bytes(int64_t batch, int64_t seqlen_q, int heads_q, int head_dim_v, int splits) {
    if (splits <= 1) return 0;
    const int64_t rows = static_cast<int64_t>(splits) * batch * heads_q * seqlen_q;
    const int64_t o_bytes = (rows * head_dim_v * 4 + 255) / 256 * 256;
    return o_bytes + rows * 4;
}
inline int64_t workspace_lse_offset(int64_t batch, int64_t seqlen_q, int heads_q, int head_dim_v,
                                    int splits) {
    const int64_t rows = static_cast<int64_t>(splits) * batch * heads_q * seqlen_q;
    return (rows * head_dim_v * 4 + 255) / 256 * 256;
}

// The automatic split count of a call, given the SM count (CPU passes 0 -> 1).
inline int auto_num_splits(const bd_attention_params& p, int num_sms) {
    const Tile t = tile_for(p.dtype, p.head_dim);
    const bool pk = pack_gqa(p.heads_q, p.heads_kv, p.seqlen_q, layout_heads(p));
    const int group = p.heads_q / p.heads_kv;
    const int64_t head_blocks = pk ? p.heads_kv : p.heads_q;
    const int64_t m_blocks = ceil_div(p.seqlen_q * (pk ? group : 1), t.m);
    return num_splits_heuristic(p.batch * head_blocks * m_blocks, num_sms, ceil_div(p.seqlen_k, t.n),
                                kMaxSplits);
}

// Checks the scalar contract of a call (no tensor memory is read). Returns a bd_status and
// writes a message "attention: ..." into msg. tensors = false skips the pointer checks (workspace
// size queries are made before any tensor exists).
inline int validate(const bd_attention_params* p, char* msg, size_t n, bool tensors = true) {
#define BD_ATTN_RULE(cond, ...)                          \
    do {                                                 \
        if (!(cond)) {                                   \
            snprintf(msg, n, "attention: " __VA_ARGS__); \
            return BD_ERR_INVALID_ARGUMENT;              \
        }                                                \
    } while (0)
    BD_ATTN_RULE(p != nullptr, "null params");
    BD_ATTN_RULE(p->dtype == BD_F32 || p->dtype == BD_F16 || p->dtype == BD_BF16,
                 "dtype (%d) must be F32, F16 or BF16", p->dtype);
    BD_ATTN_RULE(p->batch >= 0, "batch (%lld) must be >= 0", (long long)p->batch);
    BD_ATTN_RULE(p->seqlen_q >= 0, "seqlen_q (%lld) must be >= 0", (long long)p->seqlen_q);
    BD_ATTN_RULE(p->seqlen_k >= 0, "seqlen_k (%lld) must be >= 0", (long long)p->seqlen_k);
    BD_ATTN_RULE(p->seqlen_q < INT32_MAX && p->seqlen_k < INT32_MAX,
                 "sequence lengths must be < 2^31 (seqlen_q %lld, seqlen_k %lld)", (long long)p->seqlen_q,
                 (long long)p->seqlen_k);
    BD_ATTN_RULE(p->heads_q > 0, "heads_q (%d) must be > 0", p->heads_q);
    BD_ATTN_RULE(p->heads_kv > 0, "heads_kv (%d) must be > 0", p->heads_kv);
    BD_ATTN_RULE(p->heads_q % p->heads_kv == 0, "heads_q (%d) must be divisible by heads_kv (%d)",
                 p->heads_q, p->heads_kv);
    BD_ATTN_RULE(p->head_dim > 0, "head_dim (%d) must be > 0", p->head_dim);
    BD_ATTN_RULE(p->head_dim_v > 0, "head_dim_v (%d) must be > 0", p->head_dim_v);
    BD_ATTN_RULE(isfinite(p->scale) && p->scale > 0.f, "scale (%g) must be finite and > 0",
                 (double)p->scale);
    BD_ATTN_RULE(isfinite(p->softcap) && p->softcap >= 0.f, "softcap (%g) must be >= 0 (0 = off)",
                 (double)p->softcap);
    BD_ATTN_RULE(p->window_left >= -1, "window_left (%d) must be >= -1 (-1 = unbounded)",
                 p->window_left);
    BD_ATTN_RULE(p->window_right >= -1, "window_right (%d) must be >= -1 (-1 = unbounded)",
                 p->window_right);
    BD_ATTN_RULE(p->sink_tokens >= 0, "sink_tokens (%d) must be >= 0", p->sink_tokens);
    BD_ATTN_RULE(p->num_splits >= 0 && p->num_splits <= kMaxSplits,
                 "num_splits (%d) must be in [0, %d] (0 = auto)", p->num_splits, kMaxSplits);
    BD_ATTN_RULE(!p->cu_seqlens_k || p->cu_seqlens_q,
                 "cu_seqlens_k needs cu_seqlens_q (packed keys come with packed queries)");
    if (p->k_rope_positions) {
        BD_ATTN_RULE(p->head_dim % 2 == 0, "k_rope_positions needs an even head_dim (%d)",
                     p->head_dim);
        BD_ATTN_RULE(p->head_dim / 2 <= kMaxRopeHalf, "k_rope_positions supports head_dim <= %d (got %d)",
                     2 * kMaxRopeHalf, p->head_dim);
        BD_ATTN_RULE(isfinite(p->rope_theta) && p->rope_theta > 0.f, "rope_theta (%g) must be > 0",
                     (double)p->rope_theta);
    }
    if (p->rel_bias) {
        const int half = p->rel_bidirectional ? p->rel_num_buckets / 2 : p->rel_num_buckets;
        BD_ATTN_RULE(p->rel_bidirectional == 0 || p->rel_bidirectional == 1,
                     "rel_bidirectional (%d) must be 0 or 1", p->rel_bidirectional);
        BD_ATTN_RULE(half >= 2, "rel_num_buckets (%d) must be >= %d (%s)", p->rel_num_buckets,
                     p->rel_bidirectional ? 4 : 2, p->rel_bidirectional ? "bidirectional" : "causal");
        BD_ATTN_RULE(p->rel_max_distance > half / 2 && p->rel_max_distance <= (1 << 24),
                     "rel_max_distance (%d) must be in (%d, 2^24] (past the exact buckets)",
                     p->rel_max_distance, half / 2);
        BD_ATTN_RULE(!p->block_row_ptr, "a relative position bias with a block-sparse layout is not supported");
    }
    if (p->block_row_ptr || p->block_col_idx) {
        BD_ATTN_RULE(p->block_row_ptr && p->block_col_idx,
                     "block_row_ptr and block_col_idx come together (a block-sparse layout needs both)");
        BD_ATTN_RULE(p->block_size > 0 && p->block_size % 64 == 0,
                     "block_size (%d) must be a positive multiple of 64 (the kernels' key tiles divide it)",
                     p->block_size);
        BD_ATTN_RULE(p->block_heads == 1 || p->block_heads == p->heads_q,
                     "block_heads (%d) must be 1 (shared layout) or heads_q (%d)", p->block_heads, p->heads_q);
        BD_ATTN_RULE(p->block_rows >= ceil_div(p->seqlen_k, p->block_size) && p->block_rows < INT32_MAX,
                     "block_rows (%lld) must cover seqlen_k: at least ceil(%lld / %d) = %lld",
                     (long long)p->block_rows, (long long)p->seqlen_k, p->block_size,
                     (long long)ceil_div(p->seqlen_k, p->block_size));
        BD_ATTN_RULE(p->window_left == -1 && p->sink_tokens == 0,
                     "a block-sparse layout replaces window_left and sink_tokens (list local and sink blocks "
                     "in the layout instead; got window_left %d, sink_tokens %d)",
                     p->window_left, p->sink_tokens);
    }
    const bool work = p->batch > 0 && p->seqlen_q > 0;
    if (work && tensors) {
        BD_ATTN_RULE(p->q && p->o, "null tensor pointer (q and o are required)");
        BD_ATTN_RULE((p->k && p->v) || p->seqlen_k == 0, "null tensor pointer (k and v are required when seqlen_k > 0)");
        BD_ATTN_RULE(p->num_splits <= 1 || p->o_accum, "num_splits (%d) > 1 needs the o_accum workspace",
                     p->num_splits);
        BD_ATTN_RULE((reinterpret_cast<uintptr_t>(p->o_accum) & 15) == 0 &&
                         (reinterpret_cast<uintptr_t>(p->lse_accum) & 3) == 0,
                     "the workspace (o_accum) must be 16-byte aligned");
    }
    return BD_OK;
#undef BD_ATTN_RULE
}

// Host-side check of a block-sparse layout's data (host pointers): row offsets start at 0 and never
// fall, columns are strictly ascending within a row and below ceil(seqlen_k / block_size).
inline int validate_layout_host(const bd_attention_params* p, char* msg, size_t n) {
    if (!p->block_row_ptr) return BD_OK;
    const int64_t rows = static_cast<int64_t>(p->block_heads) * p->block_rows;
    const int64_t cols = ceil_div(p->seqlen_k, p->block_size);
    if (p->block_row_ptr[0] != 0) {
        snprintf(msg, n, "attention: block_row_ptr[0] (%d) must be 0", p->block_row_ptr[0]);
        return BD_ERR_INVALID_ARGUMENT;
    }
    for (int64_t r = 0; r < rows; ++r) {
        const int32_t a = p->block_row_ptr[r], e = p->block_row_ptr[r + 1];
        if (e < a) {
            snprintf(msg, n, "attention: block_row_ptr must not decrease (row %lld: %d then %d)", (long long)r, a, e);
            return BD_ERR_INVALID_ARGUMENT;
        }
        for (int32_t x = a; x < e; ++x) {
            const int32_t c = p->block_col_idx[x];
            if (c < 0 || c >= cols || (x > a && c <= p->block_col_idx[x - 1])) {
                snprintf(msg, n,
                         "attention: block layout row %lld (head %lld, query block %lld): column %d must be in "
                         "[0, %lld) and strictly above the previous one",
                         (long long)r, (long long)(r / p->block_rows), (long long)(r % p->block_rows), c,
                         (long long)cols);
                return BD_ERR_INVALID_ARGUMENT;
            }
        }
    }
    return BD_OK;
}

// The flat sparse form's parameters (attention.h): dense tensors, lse (B, Hq, Sq), BSR layout.
inline bd_attention_params sparse_flat_params(const void* q, const void* k, const void* v, void* o, float* lse,
                                              int dtype, int64_t batch, int64_t seqlen_q, int64_t seqlen_k,
                                              int heads_q, int heads_kv, int head_dim, int head_dim_v,
                                              const int32_t* seqused_k, float scale, int causal, int block_size,
                                              int block_heads, int64_t block_rows, const int32_t* block_row_ptr,
                                              const int32_t* block_col_idx, int splits, void* workspace) {
    bd_attention_params p;
    bd_attention_params_init(&p, dtype, batch, seqlen_q, seqlen_k, heads_q, heads_kv, head_dim, head_dim_v);
    p.q = q;
    p.k = k;
    p.v = v;
    p.o = o;
    p.lse = lse;
    p.seqused_k = seqused_k;
    p.scale = scale;
    p.is_causal = causal;
    p.block_size = block_size;
    p.block_heads = block_heads;
    p.block_rows = block_rows;
    p.block_row_ptr = block_row_ptr;
    p.block_col_idx = block_col_idx;
    p.num_splits = splits;
    if (workspace && splits > 1) p.o_accum = static_cast<float*>(workspace);
    return p;
}

// Host-side: the resolved plan of a validated call with `splits` >= 1 (a NULL lse_accum is
// carved from the o_accum buffer).
inline Plan make_plan(const bd_attention_params& p, int splits) {
    Plan pl;
    pl.p = p;
    if (splits > 1 && p.o_accum && !p.lse_accum)
        pl.p.lse_accum = reinterpret_cast<float*>(reinterpret_cast<char*>(p.o_accum) +
                                                  workspace_lse_offset(p.batch, p.seqlen_q, p.heads_q, p.head_dim_v, splits));
    pl.group = p.heads_q / p.heads_kv;
    const bool pk = pack_gqa(p.heads_q, p.heads_kv, p.seqlen_q, layout_heads(p));
    pl.pack = pk ? pl.group : 1;
    pl.head_blocks = pk ? p.heads_kv : p.heads_q;
    const Tile t = tile_for(p.dtype, p.head_dim);
    pl.tile_m = t.m;
    pl.tile_n = t.n;
    pl.num_splits = splits < 1 ? 1 : splits;
    pl.m_blocks = ceil_div(p.seqlen_q * pl.pack, t.m);
    if (p.softcap > 0.f) {
        pl.softcap_pre2 = 2.f * kLog2e * (p.scale / p.softcap);
        pl.sl2 = p.softcap * kLog2e;
        pl.lse_scale = p.softcap;
    } else {
        pl.softcap_pre2 = 0.f;
        pl.sl2 = p.scale * kLog2e;
        pl.lse_scale = p.scale;
    }
    pl.has_bias = p.rel_bias != nullptr || p.alibi_slopes != nullptr;
    pl.bias_to_raw = 1.f / pl.lse_scale;
    pl.rel_log_ratio = 0.f;
    if (p.rel_bias) {
        const int half = p.rel_bidirectional ? p.rel_num_buckets / 2 : p.rel_num_buckets;
        pl.rel_log_ratio = static_cast<float>(log(static_cast<double>(p.rel_max_distance) / (half / 2)));
    }
    for (int i = 0; i < kMaxRopeHalf; ++i) pl.rope_inv_freq[i] = 0.f;
    if (p.k_rope_positions) {
        // the rope op's expression (native/cpu/rope.cpp): powf(theta, -2p / rotary_dim) in F32
        for (int i = 0; i < p.head_dim / 2; ++i)
            pl.rope_inv_freq[i] = powf(p.rope_theta, -static_cast<float>(2 * i) / static_cast<float>(p.head_dim));
    }
    return pl;
}

// T5's relative position bucket (HF T5Attention._relative_position_bucket) of rp = key - query
// position with its F32 arithmetic; log_ratio = (float) log(max_distance / max_exact) (Plan).
BD_HD int t5_bucket(int64_t rp, int bidirectional, int num_buckets, float log_ratio) {
    int nb = num_buckets, base = 0;
    if (bidirectional) {
        nb /= 2;
        if (rp > 0) base = nb;
        if (rp < 0) rp = -rp;
    } else {
        rp = rp < 0 ? -rp : 0;
    }
    const int max_exact = nb / 2;
    if (rp < max_exact) return base + static_cast<int>(rp);
    const float v = logf(static_cast<float>(rp) / static_cast<float>(max_exact)) / log_ratio *
                    static_cast<float>(nb - max_exact);
    const int large = max_exact + static_cast<int>(v);  // v < 64 for any rp < 2^31
    return base + (large < nb - 1 ? large : nb - 1);
}

// The position biases of query head h at distance d = key - aligned query position, raw units
// (the kernels' score units): (rel_bias[h, bucket(d)] + alibi_slopes[h] * d) / lse_scale.
BD_HD float position_bias_raw(const Plan& pl, int h, int64_t d) {
    const bd_attention_params& p = pl.p;
    float x = 0.f;
    if (p.rel_bias) {
        const int64_t md = p.rel_max_distance, dc = d < -md ? -md : d > md ? md : d;  // buckets saturate past md
        x += p.rel_bias[h * p.rel_num_buckets + t5_bucket(dc, p.rel_bidirectional, p.rel_num_buckets, pl.rel_log_ratio)];
    }
    if (p.alibi_slopes) x += p.alibi_slopes[h] * static_cast<float>(d);
    return x * pl.bias_to_raw;
}

// softcap: tanh(raw * scale / softcap) as 1 - 2 / (1 + 2^(raw * pre2)), pre2 = 2 log2(e) scale / softcap.
// Cheap on the GPU (one exp2 and one correctly rounded reciprocal: an inlined accurate tanhf per
// score cost the hd64 kernel ~46 registers) and identical on the CPU; absolute error ~1e-7.
BD_HD float softcap_tanh(float raw, float pre2) {
    const float e = exp2f(raw * pre2);
#ifdef __CUDA_ARCH__
    return 1.f - 2.f * __frcp_rn(1.f + e);
#else
    return 1.f - 2.f * (1.f / (1.f + e));
#endif
}

// Final normalisation of one row (no split): returns 1/denominator for the accumulator and writes
// the row's lse. m_raw: running max in raw units (-inf when nothing was visible); l: the sum of
// exp2((raw - m) * sl2); sink: learned sink logit or NAN when none.
BD_HD float finish_row(float m_raw, float l, float lse_scale, float sink, bool has_sink, float* lse) {
    const bool empty = !(l > 0.f);  // zero or NaN sum -> zeros
    if (!has_sink) {
        *lse = empty ? -INFINITY : m_raw * lse_scale + logf(l);
        return empty ? 0.f : 1.f / l;
    }
    // denominator l * e^ms + e^sink, computed around M = max(ms, sink) so neither overflows
    const float ms = empty ? -INFINITY : m_raw * lse_scale;
    const float mx = fmaxf(ms, sink);
    const float a = empty ? 0.f : expf(ms - mx);
    const float den = l * a + expf(sink - mx);
    *lse = mx + logf(den);
    return empty ? 0.f : a / den;
}

// Split partial: o_i normalised by its own sum, lse_i (-inf for an empty split); no sink here.
BD_HD float finish_split(float m_raw, float l, float lse_scale, float* lse) {
    const bool empty = !(l > 0.f);
    *lse = empty ? -INFINITY : m_raw * lse_scale + logf(l);
    return empty ? 0.f : 1.f / l;
}

// The flat entry points' layouts (attention.h): dense (B, S, H, D) or packed (total, H, D), lse
// (B, Hq, Sq) or (total_q, Hq) when packed; the workspace split into o_accum then lse_accum.
// `splits` is the already resolved split count (>= 1).
// The position-bias fields of the flat *_attention_biased entries.
inline void set_position_biases(bd_attention_params* p, const float* rel_bias, int rel_num_buckets, int rel_max_distance,
                                int rel_bidirectional, const float* alibi_slopes) {
    p->rel_bias = rel_bias;
    p->rel_num_buckets = rel_num_buckets;
    p->rel_max_distance = rel_max_distance;
    p->rel_bidirectional = rel_bidirectional;
    p->alibi_slopes = alibi_slopes;
}

inline bd_attention_params flat_params(const void* q, const void* k, const void* v, void* o, float* lse, int dtype,
                                       int64_t batch, int64_t seqlen_q, int64_t seqlen_k, int heads_q,
                                       int heads_kv, int head_dim, int head_dim_v, const int32_t* cu_seqlens_q,
                                       const int32_t* cu_seqlens_k, const int32_t* seqused_k, float scale,
                                       float softcap, int causal, int window_left, int window_right,
                                       int sink_tokens, const float* sinks, const int32_t* k_rope_positions,
                                       float rope_theta, int splits, void* workspace) {
    bd_attention_params p;
    bd_attention_params_init(&p, dtype, batch, seqlen_q, seqlen_k, heads_q, heads_kv, head_dim, head_dim_v);
    p.q = q;
    p.k = k;
    p.v = v;
    p.o = o;
    p.lse = lse;
    p.cu_seqlens_q = cu_seqlens_q;
    p.cu_seqlens_k = cu_seqlens_k;
    p.seqused_k = seqused_k;
    if (cu_seqlens_q) {  // packed lse: (total_q, Hq)
        p.lse_row_stride = heads_q;
        p.lse_head_stride = 1;
        p.lse_batch_stride = 0;
    }
    p.scale = scale;
    p.softcap = softcap;
    p.is_causal = causal;
    p.window_left = window_left;
    p.window_right = window_right;
    p.sink_tokens = sink_tokens;
    p.sinks = sinks;
    p.k_rope_positions = k_rope_positions;
    p.rope_theta = rope_theta;
    p.num_splits = splits;
    if (workspace && splits > 1) p.o_accum = static_cast<float*>(workspace);  // lse_accum carved by make_plan
    return p;
}

}  // namespace bd::attn
