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
// Memory stays O(S.D): per thread two Q tiles, two transposed K tiles, one V tile and two M x 2D
// accumulators. Blocks (batch, head, query tile) run in parallel with OpenMP.
#include "braindrip/diff_attention.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

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
    std::vector<float> q1, q2;    // (M, D) query rows of the two maps
    std::vector<float> kt1, kt2;  // (D, N) key tiles, transposed
    std::vector<float> vt;        // (N, 2D) value tile
    std::vector<float> row;       // (D) one key row before transposing
    std::vector<float> acc1, acc2;  // (M, 2D) unnormalised outputs of the two maps
    std::vector<float> m1, l1, m2, l2;  // (M) running max (raw units) and sum per map
    std::vector<float> s;         // (N) scores, then probabilities, of one row
    std::vector<float> g;         // (2D) subln * (1 - lambda_init)

    void resize(int M, int N, int D) {
        const size_t m = M, n = N, d = D, dv = 2 * static_cast<size_t>(D);
        q1.resize(m * d);
        q2.resize(m * d);
        kt1.resize(d * n);
        kt2.resize(d * n);
        vt.resize(n * dv);
        row.resize(d);
        acc1.resize(m * dv);
        acc2.resize(m * dv);
        m1.resize(m);
        l1.resize(m);
        m2.resize(m);
        l2.resize(m);
        s.resize(n);
        g.resize(dv);
    }
};

// Key rows [k0, k0 + nk) of head hk into the transposed (D, N) tile, zero beyond nk (0 x garbage
// can be NaN).
void load_k_tile(const attn::Plan& pl, int64_t b, const SeqInfo& si, int k0, int nk, int hk, DiffScratch& w,
                 float* kt) {
    const int D = pl.p.head_dim, N = pl.tile_n;
    for (int j = 0; j < nk; ++j) {
        load_row(pl.p.k, pl.p.dtype, pl.k_offset(b, si, k0 + j, hk), D, w.row.data());
        for (int d = 0; d < D; ++d) kt[d * N + j] = w.row[d];
    }
    for (int d = 0; d < D; ++d)
        for (int j = nk; j < N; ++j) kt[d * N + j] = 0.f;
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

    float* q1 = w.q1.data();
    float* q2 = w.q2.data();
    for (int r = 0; r < nr; ++r) {
        load_row(p.q, dt, pl.q_offset(b, si, i0 + r, qh1), D, q1 + r * D);
        load_row(p.q, dt, pl.q_offset(b, si, i0 + r, qh2), D, q2 + r * D);
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
        float* kt1 = w.kt1.data();
        float* kt2 = shared_k ? kt1 : w.kt2.data();
        load_k_tile(pl, b, si, k0, nk, kh1, w, kt1);
        if (!shared_k) load_k_tile(pl, b, si, k0, nk, kh2, w, kt2);
        float* vt = w.vt.data();
        for (int j = 0; j < nk; ++j) load_row(p.v, dt, pl.v_offset(b, si, k0 + j, vh), Dv, vt + j * Dv);
        std::fill(vt + static_cast<size_t>(nk) * Dv, vt + static_cast<size_t>(N) * Dv, 0.f);
        const bool masked = attn::tile_needs_mask32(first, last, sk, 0, k0, N);

        for (int r = 0; r < nr; ++r) {
            const attn::RowLimits lim = masked ? attn::row_limits(mk, i0 + r) : attn::RowLimits{0, 0};
            for (int map = 0; map < 2; ++map) {
                float* s = w.s.data();
                scores_row_any((map == 0 ? q1 : q2) + r * D, map == 0 ? kt1 : kt2, D, N, s);
                if (masked)
                    for (int j = 0; j < N; ++j)
                        if (!attn::visible32(lim, sk, 0, k0 + j)) s[j] = -INFINITY;
                float* m = (map == 0 ? w.m1 : w.m2).data() + r;
                float* l = (map == 0 ? w.l1 : w.l2).data() + r;
                const float alpha = online_softmax_row(s, N, pl.sl2, dt, m, l);
                float* a = (map == 0 ? w.acc1 : w.acc2).data() + static_cast<size_t>(r) * Dv;
                for (int c = 0; c < Dv; ++c) a[c] *= alpha;
                pv_row(s, vt, nk, Dv, a);
            }
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
