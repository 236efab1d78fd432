// Fused attention forward on the CPU: the twin of the CUDA kernels (native/cuda/attention.cu and
// native/cuda/attention/fwd_mma.cuh), running the same algorithm so that it is proven on every CI
// run (DESIGN.md, Correctness):
//   - the same tiles: query tile M x key tile N from attn::tile_for, the same visited key-tile list
//     (window tiles from the diagonal down, then sink-token tiles; with a block-sparse layout the
//     listed blocks of the tile's layout rows, from the last down) and the same "element mask only
//     on boundary tiles" rule, all from detail/attention_plan.hpp;
//   - the same online softmax: running max in raw units, exp2 with the scale folded with log2(e),
//     a max of -inf replaced by 0 before exponentiating, a zero sum giving zeros and lse = -inf;
//   - for F16/BF16 the probabilities rounded to the storage type before P.V, sums in F32;
//   - the same split-KV boundaries, F32 workspace and LSE merge (learned sink added once).
// The tile products and the softmax are vector kernels (attention_simd.hpp / .inc, AVX-512 when the
// CPU has it, else AVX2): S^T = K.Q^T over the transposed query tile (one vector = W query rows, so
// neither the score nor the softmax loop needs a horizontal sum), P.V register-blocked over 4 rows x
// 64 columns, exp2 a polynomial; blocks of a few rows (decode) take vector dot products instead.
// Memory stays O(S.D): one block's Q tile (and its transpose), the M x Dv accumulator, and K / V
// tiles only where they cannot be read in place (F16/BF16, keys rotated here) per thread.
// Blocks (batch, head block, query tile, split) run in parallel with OpenMP.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "attention_simd.hpp"
#include "attention_tile.hpp"
#include "braindrip/attention.h"
#include "braindrip/detail/attention_plan.hpp"
#include "cpu_common.hpp"

#include <cstdlib>

#include "braindrip/common.h"

// ---- the vector tile kernels, once per width (attention_simd.inc; attention_simd.hpp says why)

namespace bd::cpu::simd8 {
#define BD_SIMD_W 8
#include "attention_simd.inc"
#undef BD_SIMD_W
}  // namespace bd::cpu::simd8

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,prefer-vector-width=512")
namespace bd::cpu::simd16 {
#define BD_SIMD_W 16
#include "attention_simd.inc"
#undef BD_SIMD_W
}  // namespace bd::cpu::simd16
#pragma GCC pop_options

namespace bd::cpu {

namespace {
template <class K>
TileSimd make_tile_simd(const char* isa) {
    return TileSimd{K::W, isa, K::scores_wide, K::softmax_wide, K::scores_narrow, K::softmax_narrow,
                    K::pv, K::exp2_n, K::round_n};
}
struct Simd8 {
    static constexpr int W = simd8::W;
    static constexpr auto scores_wide = simd8::scores_wide;
    static constexpr auto softmax_wide = simd8::softmax_wide;
    static constexpr auto scores_narrow = simd8::scores_narrow;
    static constexpr auto softmax_narrow = simd8::softmax_narrow;
    static constexpr auto pv = simd8::pv;
    static constexpr auto exp2_n = simd8::exp2_n;
    static constexpr auto round_n = simd8::round_n;
};
struct Simd16 {
    static constexpr int W = simd16::W;
    static constexpr auto scores_wide = simd16::scores_wide;
    static constexpr auto softmax_wide = simd16::softmax_wide;
    static constexpr auto scores_narrow = simd16::scores_narrow;
    static constexpr auto softmax_narrow = simd16::softmax_narrow;
    static constexpr auto pv = simd16::pv;
    static constexpr auto exp2_n = simd16::exp2_n;
    static constexpr auto round_n = simd16::round_n;
};

TileSimd choose_tile_simd() {
    if (use_avx512()) return make_tile_simd<Simd16>("avx512");
    return make_tile_simd<Simd8>("avx2");
}
}  // namespace

const TileSimd& tile_simd() {
    static const TileSimd k = choose_tile_simd();
    return k;
}

}  // namespace bd::cpu

extern "C" const char* bd_cpu_attention_isa(void) { return bd::cpu::tile_simd().isa; }
extern "C" void bd_cpu_attention_exp2(const float* x, float* y, int n) { bd::cpu::tile_simd().exp2_n(x, y, n); }
extern "C" void bd_cpu_attention_round(const float* x, float* y, int n, int dtype) {
    bd::cpu::tile_simd().round_n(x, y, n, dtype);
}

namespace bd::cpu {

using attn::Mask;
using attn::Plan;
using attn::SeqInfo;
using attn::TileRange;

namespace {

struct Scratch {
    std::vector<float> q;      // (M, D) query rows of the block
    std::vector<float> qt;     // (D, Mp) the same, transposed and zero-padded to Mp rows (wide mode)
    std::vector<float> kr;     // (N, D) key tile, when it cannot be read in place
    std::vector<float> vr;     // (N, Dv) value tile, likewise
    std::vector<float> s;      // (N, Mp) or (M, N) scores, then probabilities
    std::vector<float> acc;    // (Mp, Dv) unnormalised output
    std::vector<float> m, l;   // (Mp) running max (raw units) and running sum
    std::vector<float> alpha;  // (Mp) each row's rescale factor of the current tile

    void resize(const Plan& pl) {
        const size_t M = pl.tile_m, N = pl.tile_n, D = pl.p.head_dim, Dv = pl.p.head_dim_v;
        const size_t Mp = (M + 15) / 16 * 16;
        q.resize(M * D);
        qt.resize(D * Mp);
        kr.resize(N * D);
        vr.resize(N * Dv);
        s.resize(N * Mp);
        acc.resize(Mp * Dv);
        m.resize(Mp);
        l.resize(Mp);
        alpha.resize(Mp);
    }
};

// ---- kernels (load_row: attention_tile.hpp; the tile products and softmax: attention_simd.hpp)

// Split-half RoPE of one key row at position pos, rounded to the storage type (the CUDA kernel
// rotates the tile in shared memory and stores it back in the storage type).
void rope_row(float* x, int d, float pos, const float* inv_freq, int dt) {
    const int half = d / 2;
    for (int i = 0; i < half; ++i) {
        const float ang = pos * inv_freq[i];
        // sin/cos in F64, rounded to F32: libm and CUDA agree on the F32 result (their F32 sincosf
        // differ by an ulp, enough to flip an F16 rounding of the rotated key)
        const float c = static_cast<float>(std::cos(static_cast<double>(ang)));
        const float s = static_cast<float>(std::sin(static_cast<double>(ang)));
        const float x1 = x[i], x2 = x[i + half];
        x[i] = round_to(dt, std::fma(x1, c, -(x2 * s)));
        x[i + half] = round_to(dt, std::fma(x2, c, x1 * s));
    }
}

// One block: query rows [r0, r0 + M) of head block hb in sequence b, key tiles of split `split`.
// T5's relative position bias (pl.rel_lut) on one tile's scores, raw units, keys j < nk. The
// distances of one row (narrow mode), or of one key column over the tile's rows (wide mode, one
// head per tile), are consecutive, so they read the padded table contiguously: a vector add per
// row or column; a tile wholly past max_distance on one side adds one saturated value. Rows of
// GQA-packed wide tiles (heads vary by row) take the element loop.
static void add_rel_bias(const Plan& pl, const attn::Mask& mk, int64_t r0, int hb, bool wide, int nr, int Mp, int k0, int nk,
                         float* s, int64_t sj, int64_t sr) {
    const int64_t half = pl.rel_half, stride = 2 * half + 1, md = pl.p.rel_max_distance;
    if (!wide || pl.pack == 1) {
        const int rows = wide ? Mp : nr;  // wide: the padding rows too (never read), so columns stay whole vectors
        if (wide) {
            const int64_t ip0 = pl.row_query(r0) + mk.shift;  // row r sits at ip0 + r
            const float* F = pl.rel_lut + hb * stride + half;
            const int64_t dlo = k0 - (ip0 + rows - 1), dhi = k0 + nk - 1 - ip0;
            if (dhi < -md || dlo > md) {
                const float c = F[dhi < -md ? -md : md];
                for (int j = 0; j < nk; ++j)
                    for (int r = 0; r < rows; ++r) s[j * sj + r] += c;
                return;
            }
            const float* R = pl.rel_lut_rev + hb * stride + half;  // R[x] = F[-x]
            for (int j = 0; j < nk; ++j) {
                const float* col = R - (k0 + j - ip0);  // column j, row r: F[k0 + j - ip0 - r] = col[r]
                float* out = s + j * sj;
                for (int r = 0; r < rows; ++r) out[r] += col[r];
            }
            return;
        }
        for (int r = 0; r < nr; ++r) {
            const int64_t ip = pl.row_query(r0 + r) + mk.shift;
            const float* F = pl.rel_lut + pl.row_head(r0 + r, hb) * stride + half;
            float* out = s + r * sr;
            const int64_t dlo = k0 - ip, dhi = k0 + nk - 1 - ip;
            if (dhi < -md || dlo > md) {
                const float c = F[dhi < -md ? -md : md];
                for (int j = 0; j < nk; ++j) out[j] += c;
            } else {
                const float* row = F + dlo;
                for (int j = 0; j < nk; ++j) out[j] += row[j];
            }
        }
        return;
    }
    for (int r = 0; r < nr; ++r) {  // wide, GQA rows packed
        const int64_t ip = pl.row_query(r0 + r) + mk.shift;
        const float* F = pl.rel_lut + pl.row_head(r0 + r, hb) * stride + half;
        for (int j = 0; j < nk; ++j) {
            const int64_t d = k0 + j - ip;
            s[r * sr + j * sj] += F[d < -half ? -half : d > half ? half : d];
        }
    }
}

void attention_block(const Plan& pl, int64_t b, int hb, int64_t mb, int split, Scratch& w) {
    const bd_attention_params& p = pl.p;
    const int dt = p.dtype, D = p.head_dim, Dv = p.head_dim_v, M = pl.tile_m, N = pl.tile_n;
    const SeqInfo si = attn::seq_info(p, b);
    const int64_t rows = si.sq * pl.pack, r0 = mb * M;
    if (r0 >= rows) return;
    const int nr = static_cast<int>(std::min<int64_t>(M, rows - r0));
    const Mask mk = attn::make_mask(p, si);
    const int64_t i0 = pl.row_query(r0), i1 = pl.row_query(r0 + nr - 1);
    const TileRange tr = attn::tile_range(mk, i0, i1, N);
    // block-sparse: the union of the tile's (<= 2) layout rows, walked from the last block down
    // (tr is [0, win_hi): a layout comes without window_left and sink tokens)
    const bool sparse = p.block_row_ptr != nullptr;
    int64_t qb_lo = 0, qb_hi = 0;
    attn::SparseWalk walk{};
    if (sparse) {
        const int lh = p.block_heads == 1 ? 0 : hb;  // per-head layouts never pack GQA rows
        walk = attn::sparse_walk(p, mk, lh, i0, i1, N, tr.win_hi, &qb_lo, &qb_hi);
    }
    int tb, te;
    attn::split_range(sparse ? walk.count() : tr.count(), split, pl.num_splits, &tb, &te);
    if (sparse) walk.skip(tb);
    const int sk = static_cast<int>(si.sk), sink = p.sink_tokens;
    const attn::RowLimits first = attn::row_limits(mk, i0), last = attn::row_limits(mk, i1);
    const int hk = pl.kv_head(hb);

    // Q rows; in wide mode also transposed to (D, Mp), rows nr..Mp zero (their scores are 0 and
    // their softmax state is never read)
    const TileSimd& ks = tile_simd();
    const bool wide = tile_wide(nr, ks);
    const int Mp = wide ? tile_rows_padded(nr, ks) : nr;
    const int64_t sj = wide ? Mp : 1, sr = wide ? 1 : N;  // score (r, j) at s[j * sj + r * sr]
    float* q = w.q.data();
    for (int r = 0; r < nr; ++r)
        load_row(p.q, dt, pl.q_offset(b, si, pl.row_query(r0 + r), pl.row_head(r0 + r, hb)), D, q + r * D);
    if (wide)
        for (int d = 0; d < D; ++d)
            for (int r = 0; r < Mp; ++r) w.qt[static_cast<size_t>(d) * Mp + r] = r < nr ? q[r * D + d] : 0.f;
    std::fill(w.m.begin(), w.m.end(), -INFINITY);
    std::fill(w.l.begin(), w.l.end(), 0.f);
    std::fill(w.acc.begin(), w.acc.end(), 0.f);
    const bool softcap = p.softcap > 0.f;
    // F32 keys and values are read in place (row j at base + j * row stride); other storage types,
    // and keys rotated here, go through the tile scratch in F32
    const bool k_direct = dt == BD_F32 && !p.k_rope_positions, v_direct = dt == BD_F32;

    for (int t = tb; t < te; ++t) {
        int tile = 0, which = 3;  // dense: every row sees every visited tile
        if (sparse)
            walk.next(&tile, &which);
        else
            tile = tr.tile(t);
        const int k0 = tile * N;
        const int nk = std::min(N, sk - k0);
        const float* kp = w.kr.data();
        int64_t ldk = D;
        if (k_direct) {
            kp = static_cast<const float*>(p.k) + pl.k_offset(b, si, k0, hk);
            ldk = p.k_row_stride;
        } else {
            for (int j = 0; j < nk; ++j) {
                float* row = w.kr.data() + static_cast<size_t>(j) * D;
                load_row(p.k, dt, pl.k_offset(b, si, k0 + j, hk), D, row);
                if (p.k_rope_positions)
                    rope_row(row, D, static_cast<float>(p.k_rope_positions[pl.rope_offset(b, si, k0 + j)]),
                             pl.rope_inv_freq, dt);
            }
        }
        const float* vp = w.vr.data();
        int64_t ldv = Dv;
        if (v_direct) {
            vp = static_cast<const float*>(p.v) + pl.v_offset(b, si, k0, hk);
            ldv = p.v_row_stride;
        } else {
            for (int j = 0; j < nk; ++j)
                load_row(p.v, dt, pl.v_offset(b, si, k0 + j, hk), Dv, w.vr.data() + static_cast<size_t>(j) * Dv);
        }
        const bool masked = attn::tile_needs_mask32(first, last, sk, sink, k0, N) ||
                            (sparse && !attn::sparse_tile_full(which, qb_lo, qb_hi));

        // S = Q.K^T (0 for keys past the sequence, as a zero-filled key row gives)
        float* s = w.s.data();
        if (wide)
            ks.scores_wide(w.qt.data(), Mp, kp, ldk, nk, N, D, s);
        else
            ks.scores_narrow(q, nr, kp, ldk, nk, N, D, s);
        if (softcap)
            for (int r = 0; r < nr; ++r)
                for (int j = 0; j < N; ++j) s[r * sr + j * sj] = attn::softcap_tanh(s[r * sr + j * sj], pl.softcap_pre2);
        if (pl.rel_lut) add_rel_bias(pl, mk, r0, hb, wide, nr, Mp, k0, nk, s, sj, sr);
        if (p.alibi_slopes) {  // ALiBi (raw units): + slope * (j - i'); keys past nk stay 0 and masked
            for (int r = 0; r < nr; ++r) {
                float* sr0 = s + r * sr;
                const int64_t ip = pl.row_query(r0 + r) + mk.shift;  // the aligned query position
                const float slope = p.alibi_slopes[pl.row_head(r0 + r, hb)] / pl.lse_scale;
                for (int j = 0; j < nk; ++j) sr0[j * sj] += slope * static_cast<float>(k0 + j - ip);
            }
        }
        if (masked) {
            for (int r = 0; r < nr; ++r) {
                float* sr0 = s + r * sr;
                const int64_t i = pl.row_query(r0 + r);
                const attn::RowLimits lim = attn::row_limits(mk, i);
                if (sparse && !attn::sparse_row_sees(which, attn::query_block(mk, i, p.block_size), qb_lo)) {
                    for (int j = 0; j < N; ++j) sr0[j * sj] = -INFINITY;  // this row's layout lacks the block
                } else {
                    for (int j = 0; j < N; ++j)
                        if (!attn::visible32(lim, sk, sink, k0 + j)) sr0[j * sj] = -INFINITY;
                }
            }
        }
        // online softmax (raw units; exp2 with the folded scale), then acc = acc * alpha + P.V
        if (wide)
            ks.softmax_wide(s, N, Mp, pl.sl2, dt, w.m.data(), w.l.data(), w.alpha.data());
        else
            ks.softmax_narrow(s, nr, N, pl.sl2, dt, w.m.data(), w.l.data(), w.alpha.data());
        ks.pv(s, sj, sr, nr, nk, vp, ldv, Dv, w.alpha.data(), w.acc.data());
    }

    // epilogue: O = acc / l (zeros for an empty row), lse = m*scale + ln(l) (+ learned sink)
    for (int r = 0; r < nr; ++r) {
        const int64_t i = pl.row_query(r0 + r);
        const int h = pl.row_head(r0 + r, hb);
        const float* a = w.acc.data() + static_cast<size_t>(r) * Dv;
        float lse;
        if (pl.num_splits > 1) {
            const float inv = attn::finish_split(w.m[r], w.l[r], pl.lse_scale, &lse);
            const int64_t row = pl.ws_row(split, b, h, i);
            float* o = p.o_accum + row * Dv;
            for (int c = 0; c < Dv; ++c) o[c] = a[c] * inv;
            p.lse_accum[row] = lse;
        } else {
            const float sink = p.sinks ? p.sinks[h] : 0.f;
            const float inv = attn::finish_row(w.m[r], w.l[r], pl.lse_scale, sink, p.sinks != nullptr, &lse);
            const int64_t off = pl.o_offset(b, si, i, h);
            for (int c = 0; c < Dv; ++c) store(p.o, dt, off + c, a[c] * inv);
            if (p.lse) p.lse[pl.lse_offset(b, si, i, h)] = lse;
        }
    }
}

// Merge the split partials of one (b, h, i): L = log sum exp(LSE_s), O = sum exp(LSE_s - L) O_s,
// the learned sink joining L once.
void combine_row(const Plan& pl, int64_t b, int h, int64_t i, const SeqInfo& si) {
    const bd_attention_params& p = pl.p;
    const int S = pl.num_splits, Dv = p.head_dim_v;
    float lmax = -INFINITY;
    for (int s = 0; s < S; ++s) lmax = std::max(lmax, p.lse_accum[pl.ws_row(s, b, h, i)]);
    float L = -INFINITY;
    if (lmax != -INFINITY) {
        float sum = 0.f;
        for (int s = 0; s < S; ++s) sum += std::exp(p.lse_accum[pl.ws_row(s, b, h, i)] - lmax);
        L = lmax + std::log(sum);
    }
    if (p.sinks) {
        const float sink = p.sinks[h], mx = std::max(L, sink);
        L = mx + std::log(std::exp(L - mx) + std::exp(sink - mx));
    }
    const int64_t off = pl.o_offset(b, si, i, h);
    for (int c = 0; c < Dv; ++c) {
        float o = 0.f;
        for (int s = 0; s < S; ++s) {
            const int64_t row = pl.ws_row(s, b, h, i);
            const float ls = p.lse_accum[row];
            if (ls != -INFINITY) o += std::exp(ls - L) * p.o_accum[row * Dv + c];
        }
        store(p.o, p.dtype, off + c, o);
    }
    if (p.lse) p.lse[pl.lse_offset(b, si, i, h)] = L;
}

// ---- launchers

int attention_forward(const Plan& pl) {
    const bd_attention_params& p = pl.p;
    const int64_t per_b = static_cast<int64_t>(pl.head_blocks) * pl.m_blocks * pl.num_splits;
    const int64_t items = p.batch * per_b;
#pragma omp parallel
    {
        Scratch w;
        w.resize(pl);
#pragma omp for schedule(dynamic, 1)
        for (int64_t it = 0; it < items; ++it) {
            const int64_t b = it / per_b;
            int64_t rest = it % per_b;
            const int hb = static_cast<int>(rest / (pl.m_blocks * pl.num_splits));
            rest %= pl.m_blocks * pl.num_splits;
            attention_block(pl, b, hb, rest / pl.num_splits, static_cast<int>(rest % pl.num_splits), w);
        }
    }
    if (pl.num_splits > 1) {
        const int64_t rows = p.batch * p.heads_q * p.seqlen_q;
#pragma omp parallel for schedule(static)
        for (int64_t it = 0; it < rows; ++it) {
            const int64_t b = it / (static_cast<int64_t>(p.heads_q) * p.seqlen_q);
            const int h = static_cast<int>(it / p.seqlen_q % p.heads_q);
            const int64_t i = it % p.seqlen_q;
            const SeqInfo si = attn::seq_info(p, b);
            if (i < si.sq) combine_row(pl, b, h, i, si);
        }
    }
    return BD_OK;
}

}  // namespace

// num_splits = 0 on the CPU: split the keys only when the (batch, head block, query tile) blocks
// are too few to keep the threads busy (decode: B x Hkv blocks of one tile), up to 8 work items
// with at least 4 key tiles per split. A function of the shape alone, never of the thread count,
// so that a workspace query and the call it sizes always agree.
int auto_splits(const bd_attention_params& p) {
    const attn::Tile t = attn::tile_for(p.dtype, p.head_dim);
    const bool pk = attn::pack_gqa(p.heads_q, p.heads_kv, p.seqlen_q, attn::layout_heads(p));
    const int64_t group = p.heads_kv > 0 ? p.heads_q / p.heads_kv : 1;
    const int64_t items =
        p.batch * (pk ? p.heads_kv : p.heads_q) * attn::ceil_div(p.seqlen_q * (pk ? group : 1), t.m);
    constexpr int64_t kItems = 8, kTilesPerSplit = 4;
    if (items <= 0 || items >= kItems) return 1;
    const int64_t splits = attn::min64(attn::min64(attn::ceil_div(kItems, items),
                                                   attn::ceil_div(p.seqlen_k, t.n) / kTilesPerSplit),
                                       attn::kMaxSplits);
    return static_cast<int>(attn::max64(splits, 1));
}

namespace {

// for the workspace query (need_workspace): what a call with a workspace will use; for a call,
// auto without a workspace stays at one split
int resolve_splits(const bd_attention_params& p, bool need_workspace = false) {
    if (p.num_splits != 0) return p.num_splits;
    return need_workspace || p.o_accum ? auto_splits(p) : 1;
}

}  // namespace
}  // namespace bd::cpu

// ---- entry points

extern "C" int bd_cpu_attention_supports(int head_dim, int head_dim_v, int dtype) {
    using namespace bd::cpu;
    if (!is_float_dtype(dtype))
        return fail(BD_ERR_UNSUPPORTED, "attention: dtype %s not supported (F32, F16, BF16)", dtype_name(dtype));
    if (head_dim < 1 || head_dim > 1024 || head_dim_v < 1 || head_dim_v > 1024)
        return fail(BD_ERR_UNSUPPORTED, "attention: CPU supports 1 <= head_dim, head_dim_v <= 1024 (got %d, %d)",
                    head_dim, head_dim_v);
    return BD_OK;
}

extern "C" int bd_cpu_attention_forward(const bd_attention_params* p, void* stream) {
    using namespace bd::cpu;
    char msg[512];
    int st = bd::attn::validate(p, msg, sizeof msg);
    if (st != BD_OK) return fail(st, "%s", msg);
    st = bd_cpu_attention_supports(p->head_dim, p->head_dim_v, p->dtype);
    if (st != BD_OK) return st;
    st = bd::attn::validate_layout_host(p, msg, sizeof msg);  // BD_OK without a layout
    if (st != BD_OK) return fail(st, "%s", msg);
    if (p->batch == 0 || p->seqlen_q == 0) return BD_OK;
    const int splits = resolve_splits(*p);
    BD_CHECK(splits <= 1 || p->o_accum, "attention", "num_splits (%d) > 1 needs the o_accum workspace", splits);
    bd::attn::Plan pl = bd::attn::make_plan(*p, splits);
    std::vector<float> rel_lut;
    if (p->rel_bias) {  // rel_bias by distance, saturated past max_distance out to the padding
        const int md = p->rel_max_distance, nb = p->rel_num_buckets;
        const int64_t half = md + pl.tile_m + pl.tile_n + 32, stride = 2 * half + 1;  // a tile's distances span < M + N
        rel_lut.resize(static_cast<size_t>(2 * p->heads_q * stride));
        float* fwd = rel_lut.data();
        float* rev = fwd + p->heads_q * stride;
        for (int64_t d = -half; d <= half; ++d) {
            const int64_t dc = d < -md ? -md : d > md ? md : d;
            const int bucket = bd::attn::t5_bucket(dc, p->rel_bidirectional, nb, pl.rel_log_ratio);
            for (int h = 0; h < p->heads_q; ++h) {
                const float v = p->rel_bias[h * nb + bucket] / pl.lse_scale;
                fwd[h * stride + half + d] = v;
                rev[h * stride + half - d] = v;
            }
        }
        pl.rel_half = half;
        pl.rel_lut_rev = rev;
        pl.rel_lut = rel_lut.data();
    }
    return attention_forward(pl);
}

extern "C" int64_t bd_cpu_attention_workspace_bytes(const bd_attention_params* p) {
    using namespace bd::cpu;
    char msg[512];
    const int st = bd::attn::validate(p, msg, sizeof msg, /*tensors=*/false);
    if (st != BD_OK) {
        fail(st, "%s", msg);
        return -1;
    }
    return bd::attn::workspace_bytes(p->batch, p->seqlen_q, p->heads_q, p->head_dim_v, resolve_splits(*p, true));
}

extern "C" int64_t bd_cpu_attention_workspace_bytes_flat(int dtype, int64_t batch, int64_t seqlen_q,
                                                         int64_t seqlen_k, int heads_q, int heads_kv,
                                                         int head_dim, int head_dim_v, int num_splits) {
    bd_attention_params p;
    bd_attention_params_init(&p, dtype, batch, seqlen_q, seqlen_k, heads_q, heads_kv, head_dim, head_dim_v);
    p.num_splits = num_splits;
    return bd_cpu_attention_workspace_bytes(&p);
}


extern "C" int bd_cpu_attention(const void* q, const void* k, const void* v, void* o, float* lse, int dtype,
                                int64_t batch, int64_t seqlen_q, int64_t seqlen_k, int heads_q, int heads_kv,
                                int head_dim, int head_dim_v, const int32_t* cu_seqlens_q,
                                const int32_t* cu_seqlens_k, const int32_t* seqused_k, float scale, float softcap,
                                int causal, int window_left, int window_right, int sink_tokens, const float* sinks,
                                const int32_t* k_rope_positions, float rope_theta, int num_splits, void* workspace,
                                void* stream) {
    return bd_cpu_attention_biased(q, k, v, o, lse, dtype, batch, seqlen_q, seqlen_k, heads_q, heads_kv, head_dim,
                                   head_dim_v, cu_seqlens_q, cu_seqlens_k, seqused_k, scale, softcap, causal,
                                   window_left, window_right, sink_tokens, sinks, k_rope_positions, rope_theta,
                                   nullptr, 0, 0, 0, nullptr, num_splits, workspace, stream);
}

extern "C" int bd_cpu_attention_biased(const void* q, const void* k, const void* v, void* o, float* lse, int dtype,
                                       int64_t batch, int64_t seqlen_q, int64_t seqlen_k, int heads_q, int heads_kv,
                                       int head_dim, int head_dim_v, const int32_t* cu_seqlens_q,
                                       const int32_t* cu_seqlens_k, const int32_t* seqused_k, float scale,
                                       float softcap, int causal, int window_left, int window_right, int sink_tokens,
                                       const float* sinks, const int32_t* k_rope_positions, float rope_theta,
                                       const float* rel_bias, int rel_num_buckets, int rel_max_distance,
                                       int rel_bidirectional, const float* alibi_slopes, int num_splits,
                                       void* workspace, void* stream) {
    // auto (0): bd::cpu::auto_splits when a workspace came (sized by the flat workspace query of the
    // same shape), else one split
    bd_attention_params p =
        bd::attn::flat_params(q, k, v, o, lse, dtype, batch, seqlen_q, seqlen_k, heads_q, heads_kv, head_dim, head_dim_v,
                    cu_seqlens_q, cu_seqlens_k, seqused_k, scale, softcap, causal, window_left, window_right,
                    sink_tokens, sinks, k_rope_positions, rope_theta, num_splits == 0 ? 1 : num_splits, workspace);
    bd::attn::set_position_biases(&p, rel_bias, rel_num_buckets, rel_max_distance, rel_bidirectional, alibi_slopes);
    if (num_splits == 0 && workspace && heads_q > 0 && heads_kv > 0 && heads_q % heads_kv == 0) {
        p.num_splits = bd::cpu::auto_splits(p);
        if (p.num_splits > 1) p.o_accum = static_cast<float*>(workspace);
    }
    return bd_cpu_attention_forward(&p, stream);
}

extern "C" int bd_cpu_sparse_attention(const void* q, const void* k, const void* v, void* o, float* lse, int dtype,
                                       int64_t batch, int64_t seqlen_q, int64_t seqlen_k, int heads_q, int heads_kv,
                                       int head_dim, int head_dim_v, const int32_t* seqused_k, float scale, int causal,
                                       int block_size, int block_heads, int64_t block_rows,
                                       const int32_t* block_row_ptr, const int32_t* block_col_idx, int num_splits,
                                       void* workspace, void* stream) {
    // auto (0) is one split here: the flat workspace query does not see the layout (block_heads
    // changes the GQA packing, hence the blocks that auto_splits counts)
    const bd_attention_params p = bd::attn::sparse_flat_params(
        q, k, v, o, lse, dtype, batch, seqlen_q, seqlen_k, heads_q, heads_kv, head_dim, head_dim_v, seqused_k, scale,
        causal, block_size, block_heads, block_rows, block_row_ptr, block_col_idx, num_splits == 0 ? 1 : num_splits,
        workspace);
    return bd_cpu_attention_forward(&p, stream);
}

extern "C" int64_t bd_cpu_sparse_attention_workspace_bytes_flat(int dtype, int64_t batch, int64_t seqlen_q,
                                                                int64_t seqlen_k, int heads_q, int heads_kv,
                                                                int head_dim, int head_dim_v, int block_heads,
                                                                int num_splits) {
    (void)block_heads;  // the CPU never packs heads differently for the size: splits decide it
    return bd_cpu_attention_workspace_bytes_flat(dtype, batch, seqlen_q, seqlen_k, heads_q, heads_kv, head_dim,
                                                 head_dim_v, num_splits == 0 ? 1 : num_splits);
}
