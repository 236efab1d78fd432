// Fused differential attention, CPU twin (native/include/braindrip/diff_attention.h): the same
// algorithm as the CUDA kernel, so that it is proven on every CI run (DESIGN.md, Correctness).
// One pass per (batch, output head h, query tile of M rows), over the tiles of attention.cpp:
//   - tile sizes from attn::tile_for(dtype, D), the visited key tiles from attn::tile_range (the
//     diagonal first), the element mask only on tiles where attn::tile_needs_mask32 says so;
//   - per key tile: K1 = k[k_head(h, 0)] and K2 = k[k_head(h, 1)] (loaded once when they are the
//     same head: every head for even r), V = v[v_head(h)] (2D wide) loaded once for both maps;
//     S1 = Q1.K1^T, S2 = Q2.K2^T, two online softmaxes (attention.cpp's step), P rounded to the
//     storage type before P.V for F16/BF16, O1 += P1.V, O2 += P2.V;
//   - epilogue per row: u = O1 / l1 - lambda * O2 / l2 (a map with no visible key gives 0), then
//     RMSNorm over 2D in F32, times subln and (1 - lambda_init), rounded once to the storage type.
// The tile products and the softmax are attention.cpp's vector kernels (attention_simd.hpp).
// Memory stays O(S.D): per thread two Q tiles (and their transposes), two K tiles, one V tile
// (F32 K and V are read in place) and two M x 2D accumulators. Blocks (batch, head, query tile) run in parallel with OpenMP.
#include "braindrip/diff_attention.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "attention_simd.hpp"
#include "attention_tile.hpp"
#include "braindrip/detail/diff_plan.hpp"
#include "cpu_common.hpp"

namespace bd::cpu {

using attn::Mask;
using attn::SeqInfo;
using attn::TileRange;
using diff::DiffParams;

namespace {

struct DiffScratch {
    std::vector<float> q1, q2;      // (M, D) query rows of the two maps
    std::vector<float> qt1, qt2;    // (D, Mp) the same, transposed and zero-padded (wide mode)
    std::vector<float> kr1, kr2;    // (N, D) key tiles, when they cannot be read in place
    std::vector<float> vr;          // (N, 2D) value tile, likewise
    std::vector<float> s;           // (N, Mp) or (M, N) scores, then probabilities, of one map
    std::vector<float> acc1, acc2;  // (Mp, 2D) unnormalised outputs of the two maps
    std::vector<float> m1, l1, m2, l2;  // (Mp) running max (raw units) and sum per map
    std::vector<float> alpha;       // (Mp) the rows' rescale factors of the current map and tile
    std::vector<float> g;           // (2D) subln * (1 - lambda_init)

    void resize(int M, int N, int D) {
        const size_t m = M, n = N, d = D, dv = 2 * static_cast<size_t>(D), mp = (m + 15) / 16 * 16;
        q1.resize(m * d);
        q2.resize(m * d);
        qt1.resize(d * mp);
        qt2.resize(d * mp);
        kr1.resize(n * d);
        kr2.resize(n * d);
        vr.resize(n * dv);
        s.resize(n * mp);
        acc1.resize(mp * dv);
        acc2.resize(mp * dv);
        for (auto* v : {&m1, &l1, &m2, &l2, &alpha}) v->resize(mp);
        g.resize(dv);
    }
};

// Key rows [k0, k0 + nk) of head hk: in place for F32 (row j at *ldk * j), else converted into kr.
const float* key_tile(const attn::Plan& pl, int64_t b, const SeqInfo& si, int k0, int nk, int hk, float* kr,
                      int64_t* ldk) {
    const int D = pl.p.head_dim;
    if (pl.p.dtype == BD_F32) {
        *ldk = pl.p.k_row_stride;
        return static_cast<const float*>(pl.p.k) + pl.k_offset(b, si, k0, hk);
    }
    for (int j = 0; j < nk; ++j) load_row(pl.p.k, pl.p.dtype, pl.k_offset(b, si, k0 + j, hk), D, kr + static_cast<size_t>(j) * D);
    *ldk = D;
    return kr;
}

// One block: query rows [r0, r0 + M) of output head h in sequence b.
void diff_block(const DiffParams& dp, const attn::Plan& pl, int64_t b, int h, int64_t mb, DiffScratch& w) {
    const bd_attention_params& p = pl.p;
    const int dt = p.dtype, D = p.head_dim, Dv = p.head_dim_v, M = pl.tile_m, N = pl.tile_n;
    const SeqInfo si = attn::seq_info(p, b);
    const int64_t r0 = mb * M;
    if (r0 >= si.sq) return;
    const int nr = static_cast<int>(std::min<int64_t>(M, si.sq - r0));
    const Mask mk = attn::make_mask(p, si);
    const int64_t i0 = r0, i1 = r0 + nr - 1;
    const TileRange tr = attn::tile_range(mk, i0, i1, N);
    const int sk = static_cast<int>(si.sk);
    const attn::RowLimits first = attn::row_limits(mk, i0), last = attn::row_limits(mk, i1);
    const int qh1 = dp.q_head(h, 0), qh2 = dp.q_head(h, 1);
    const int kh1 = dp.k_head(h, 0), kh2 = dp.k_head(h, 1), vh = dp.v_head(h);
    const bool shared_k = kh1 == kh2;
    const TileSimd& ks = tile_simd();
    const bool wide = tile_wide(nr, ks);
    const int Mp = wide ? tile_rows_padded(nr, ks) : nr;
    const int64_t sj = wide ? Mp : 1, sr = wide ? 1 : N;  // score (r, j) at s[j * sj + r * sr]

    float* q1 = w.q1.data();
    float* q2 = w.q2.data();
    for (int r = 0; r < nr; ++r) {
        load_row(p.q, dt, pl.q_offset(b, si, i0 + r, qh1), D, q1 + r * D);
        load_row(p.q, dt, pl.q_offset(b, si, i0 + r, qh2), D, q2 + r * D);
    }
    if (wide)
        for (int d = 0; d < D; ++d)
            for (int r = 0; r < Mp; ++r) {
                w.qt1[static_cast<size_t>(d) * Mp + r] = r < nr ? q1[r * D + d] : 0.f;
                w.qt2[static_cast<size_t>(d) * Mp + r] = r < nr ? q2[r * D + d] : 0.f;
            }
    std::fill(w.m1.begin(), w.m1.end(), -INFINITY);
    std::fill(w.m2.begin(), w.m2.end(), -INFINITY);
    std::fill(w.l1.begin(), w.l1.end(), 0.f);
    std::fill(w.l2.begin(), w.l2.end(), 0.f);
    std::fill(w.acc1.begin(), w.acc1.end(), 0.f);
    std::fill(w.acc2.begin(), w.acc2.end(), 0.f);

    for (int t = 0; t < tr.count(); ++t) {
        const int k0 = tr.tile(t) * N;
        const int nk = std::min(N, sk - k0);
        int64_t ldk1 = 0, ldk2 = 0;
        const float* k1 = key_tile(pl, b, si, k0, nk, kh1, w.kr1.data(), &ldk1);
        const float* k2 = shared_k ? k1 : key_tile(pl, b, si, k0, nk, kh2, w.kr2.data(), &ldk2);
        if (shared_k) ldk2 = ldk1;
        const float* vp = w.vr.data();
        int64_t ldv = Dv;
        if (dt == BD_F32) {
            vp = static_cast<const float*>(p.v) + pl.v_offset(b, si, k0, vh);
            ldv = p.v_row_stride;
        } else {
            for (int j = 0; j < nk; ++j)
                load_row(p.v, dt, pl.v_offset(b, si, k0 + j, vh), Dv, w.vr.data() + static_cast<size_t>(j) * Dv);
        }
        const bool masked = attn::tile_needs_mask32(first, last, sk, 0, k0, N);

        for (int map = 0; map < 2; ++map) {
            float* s = w.s.data();
            const float* kp = map == 0 ? k1 : k2;
            const int64_t ldk = map == 0 ? ldk1 : ldk2;
            if (wide)
                ks.scores_wide((map == 0 ? w.qt1 : w.qt2).data(), Mp, kp, ldk, nk, N, D, s);
            else
                ks.scores_narrow(map == 0 ? q1 : q2, nr, kp, ldk, nk, N, D, s);
            if (masked)
                for (int r = 0; r < nr; ++r) {
                    const attn::RowLimits lim = attn::row_limits(mk, i0 + r);
                    for (int j = 0; j < N; ++j)
                        if (!attn::visible32(lim, sk, 0, k0 + j)) s[j * sj + r * sr] = -INFINITY;
                }
            float* m = (map == 0 ? w.m1 : w.m2).data();
            float* l = (map == 0 ? w.l1 : w.l2).data();
            if (wide)
                ks.softmax_wide(s, N, Mp, pl.sl2, dt, m, l, w.alpha.data());
            else
                ks.softmax_narrow(s, nr, N, pl.sl2, dt, m, l, w.alpha.data());
            ks.pv(s, sj, sr, nr, nk, vp, ldv, Dv, w.alpha.data(), (map == 0 ? w.acc1 : w.acc2).data());
        }
    }

    // epilogue: u = O1 / l1 - lambda O2 / l2, RMSNorm over 2D, times subln (1 - lambda_init)
    const float* g = w.g.data();
    for (int r = 0; r < nr; ++r) {
        float* a1 = w.acc1.data() + static_cast<size_t>(r) * Dv;
        const float* a2 = w.acc2.data() + static_cast<size_t>(r) * Dv;
        const float inv1 = w.l1[r] > 0.f ? 1.f / w.l1[r] : 0.f;  // zero or NaN sum -> zeros
        const float inv2 = w.l2[r] > 0.f ? dp.lambda / w.l2[r] : 0.f;
        float ss = 0.f;
        for (int c = 0; c < Dv; ++c) {
            const float u = a1[c] * inv1 - a2[c] * inv2;
            a1[c] = u;
            ss += u * u;
        }
        const float rms = 1.f / std::sqrt(ss / static_cast<float>(Dv) + dp.eps);
        const int64_t off = pl.o_offset(b, si, i0 + r, h);
        for (int c = 0; c < Dv; ++c) store(p.o, dt, off + c, a1[c] * rms * g[c]);
    }
}

int diff_forward(const DiffParams& dp) {
    // the attention plan of the 2H query heads supplies offsets, tiles and the folded scale; rows
    // are never GQA-packed here (one block per output head reads both of its query heads)
    attn::Plan pl = attn::make_plan(dp.p, 1);
    const attn::Tile tile = attn::tile_for(dp.p.dtype, dp.p.head_dim);
    pl.tile_m = tile.m;
    pl.tile_n = tile.n;
    const int64_t m_blocks = attn::ceil_div(dp.p.seqlen_q, tile.m);
    const int64_t per_b = static_cast<int64_t>(dp.heads) * m_blocks;
    const int64_t items = dp.p.batch * per_b;
    const int Dv = dp.p.head_dim_v;
#pragma omp parallel
    {
        DiffScratch w;
        w.resize(tile.m, tile.n, dp.p.head_dim);
        for (int c = 0; c < Dv; ++c) w.g[c] = load(dp.subln, dp.p.dtype, c) * dp.out_scale();
#pragma omp for schedule(dynamic, 1)
        for (int64_t it = 0; it < items; ++it) {
            const int64_t b = it / per_b;
            const int64_t rest = it % per_b;
            diff_block(dp, pl, b, static_cast<int>(rest / m_blocks), rest % m_blocks, w);
        }
    }
    return BD_OK;
}

}  // namespace
}  // namespace bd::cpu

// ---- entry points

extern "C" int bd_cpu_diff_attention_supports(int head_dim, int dtype) {
    using namespace bd::cpu;
    if (!is_float_dtype(dtype))
        return fail(BD_ERR_UNSUPPORTED, "diff_attention: dtype %s not supported (F32, F16, BF16)", dtype_name(dtype));
    if (head_dim < 1 || head_dim > 512)
        return fail(BD_ERR_UNSUPPORTED, "diff_attention: CPU supports 1 <= head_dim <= 512 (V is 2 * head_dim wide; got %d)",
                    head_dim);
    return BD_OK;
}

extern "C" int bd_cpu_diff_attention(const void* q, const void* k, const void* v, const void* subln, void* o, int dtype,
                                     int64_t batch, int64_t seqlen_q, int64_t seqlen_k, int heads, int heads_kv,
                                     int head_dim, const int32_t* seqused_k, float scale, int causal, int window_left,
                                     int window_right, float lambda, float lambda_init, float eps, void* stream) {
    using namespace bd::cpu;
    (void)stream;
    char msg[512];
    int st = bd::diff::validate(dtype, batch, seqlen_q, seqlen_k, heads, heads_kv, head_dim, scale, causal, window_left,
                                window_right, lambda, lambda_init, eps, msg, sizeof msg);
    if (st != BD_OK) return fail(st, "%s", msg);
    st = bd_cpu_diff_attention_supports(head_dim, dtype);
    if (st != BD_OK) return st;
    if (batch == 0 || seqlen_q == 0) return BD_OK;
    BD_CHECK(q && o && subln, "diff_attention", "null tensor pointer (q, subln and o are required)");
    BD_CHECK((k && v) || seqlen_k == 0, "diff_attention",
             "null tensor pointer (k and v are required when seqlen_k > 0)");
    if (seqused_k)
        for (int64_t b = 0; b < batch; ++b)
            BD_CHECK(seqused_k[b] >= 0 && seqused_k[b] <= seqlen_k, "diff_attention",
                     "seqused_k[%lld] (%d) must be in [0, seqlen_k = %lld]", (long long)b, seqused_k[b],
                     (long long)seqlen_k);
    const bd::diff::DiffParams dp =
        bd::diff::make_params(q, k, v, subln, o, dtype, batch, seqlen_q, seqlen_k, heads, heads_kv, head_dim,
                              seqused_k, scale, causal, window_left, window_right, lambda, lambda_init, eps);
    return diff_forward(dp);
}
