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
// Memory stays O(S.D): one block's Q tile, one K tile (transposed, so the score loop is a stream
// of FMAs over N keys that the compiler vectorizes), one V tile and the M x Dv accumulator per
// thread. Blocks (batch, head block, query tile, split) run in parallel with OpenMP.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "attention_tile.hpp"
#include "braindrip/attention.h"
#include "braindrip/detail/attention_plan.hpp"
#include "cpu_common.hpp"

namespace bd::cpu {

using attn::Mask;
using attn::Plan;
using attn::SeqInfo;
using attn::TileRange;

namespace {

struct Scratch {
    std::vector<float> q;    // (M, D) query rows of the block
    std::vector<float> kt;   // (D, N) key tile, transposed
    std::vector<float> vt;   // (N, Dv) value tile
    std::vector<float> row;  // (D) one key row before transposing
    std::vector<float> acc;  // (M, Dv) unnormalised output
    std::vector<float> m, l; // (M) running max (raw units) and running sum
    std::vector<float> s;    // (N) scores, then probabilities, of one row

    void resize(const Plan& pl) {
        const size_t M = pl.tile_m, N = pl.tile_n, D = pl.p.head_dim, Dv = pl.p.head_dim_v;
        q.resize(M * D);
        kt.resize(D * N);
        vt.resize(N * Dv);
        row.resize(D);
        acc.resize(M * Dv);
        m.resize(M);
        l.resize(M);
        s.resize(N);
    }
};

// ---- kernels (load_row, scores_row_any, pv_row: attention_tile.hpp)

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

    float* q = w.q.data();
    for (int r = 0; r < nr; ++r)
        load_row(p.q, dt, pl.q_offset(b, si, pl.row_query(r0 + r), pl.row_head(r0 + r, hb)), D, q + r * D);
    std::fill(w.m.begin(), w.m.end(), -INFINITY);
    std::fill(w.l.begin(), w.l.end(), 0.f);
    std::fill(w.acc.begin(), w.acc.end(), 0.f);
    const bool softcap = p.softcap > 0.f;

    for (int t = tb; t < te; ++t) {
        int tile = 0, which = 3;  // dense: every row sees every visited tile
        if (sparse)
            walk.next(&tile, &which);
        else
            tile = tr.tile(t);
        const int k0 = tile * N;
        const int nk = std::min(N, sk - k0);
        // K tile, transposed, zero beyond the sequence (0 x garbage can be NaN)
        float* kt = w.kt.data();
        for (int j = 0; j < nk; ++j) {
            load_row(p.k, dt, pl.k_offset(b, si, k0 + j, hk), D, w.row.data());
            if (p.k_rope_positions)
                rope_row(w.row.data(), D, static_cast<float>(p.k_rope_positions[pl.rope_offset(b, si, k0 + j)]),
                         pl.rope_inv_freq, dt);
            for (int d = 0; d < D; ++d) kt[d * N + j] = w.row[d];
        }
        for (int d = 0; d < D; ++d)
            for (int j = nk; j < N; ++j) kt[d * N + j] = 0.f;
        float* vt = w.vt.data();
        for (int j = 0; j < nk; ++j) load_row(p.v, dt, pl.v_offset(b, si, k0 + j, hk), Dv, vt + j * Dv);
        std::fill(vt + static_cast<size_t>(nk) * Dv, vt + static_cast<size_t>(N) * Dv, 0.f);
        const bool masked = attn::tile_needs_mask32(first, last, sk, sink, k0, N) ||
                            (sparse && !attn::sparse_tile_full(which, qb_lo, qb_hi));

        for (int r = 0; r < nr; ++r) {
            float* s = w.s.data();
            scores_row_any(q + r * D, kt, D, N, s);  // S = Q.K^T as N-wide FMA streams
            if (softcap)
                for (int j = 0; j < N; ++j) s[j] = attn::softcap_tanh(s[j], pl.softcap_pre2);
            if (masked) {
                const int64_t i = pl.row_query(r0 + r);
                const attn::RowLimits lim = attn::row_limits(mk, i);
                if (sparse && !attn::sparse_row_sees(which, attn::query_block(mk, i, p.block_size), qb_lo)) {
                    for (int j = 0; j < N; ++j) s[j] = -INFINITY;  // this row's layout lacks the block
                } else {
                    for (int j = 0; j < N; ++j)
                        if (!attn::visible32(lim, sk, sink, k0 + j)) s[j] = -INFINITY;
                }
            }
            // online softmax (raw units; exp2 with the folded scale)
            float mx = w.m[r];
            for (int j = 0; j < N; ++j) mx = std::max(mx, s[j]);
            const float m_use = mx == -INFINITY ? 0.f : mx;
            const float alpha = std::exp2((w.m[r] - m_use) * pl.sl2);
            w.m[r] = mx;
            const float ms = m_use * pl.sl2;
            float lsum = 0.f;
            for (int j = 0; j < N; ++j) {
                const float e = std::exp2(std::fma(s[j], pl.sl2, -ms));
                lsum += e;
                s[j] = round_to(dt, e);  // P in the storage precision before P.V
            }
            w.l[r] = w.l[r] * alpha + lsum;
            float* a = w.acc.data() + static_cast<size_t>(r) * Dv;
            for (int c = 0; c < Dv; ++c) a[c] *= alpha;
            pv_row(s, vt, nk, Dv, a);
        }
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

int resolve_splits(const bd_attention_params& p) {
    if (p.num_splits == 0) return 1;  // auto on the CPU: parallelism comes from query tiles
    return p.num_splits;
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
    const bd::attn::Plan pl = bd::attn::make_plan(*p, splits);
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
    return bd::attn::workspace_bytes(p->batch, p->seqlen_q, p->heads_q, p->head_dim_v, resolve_splits(*p));
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
    const int resolved = num_splits == 0 ? 1 : num_splits;  // auto on the CPU: 1
    const bd_attention_params p =
        bd::attn::flat_params(q, k, v, o, lse, dtype, batch, seqlen_q, seqlen_k, heads_q, heads_kv, head_dim, head_dim_v,
                    cu_seqlens_q, cu_seqlens_k, seqused_k, scale, softcap, causal, window_left, window_right,
                    sink_tokens, sinks, k_rope_positions, rope_theta, resolved, workspace);
    return bd_cpu_attention_forward(&p, stream);
}

extern "C" int bd_cpu_sparse_attention(const void* q, const void* k, const void* v, void* o, float* lse, int dtype,
                                       int64_t batch, int64_t seqlen_q, int64_t seqlen_k, int heads_q, int heads_kv,
                                       int head_dim, int head_dim_v, const int32_t* seqused_k, float scale, int causal,
                                       int block_size, int block_heads, int64_t block_rows,
                                       const int32_t* block_row_ptr, const int32_t* block_col_idx, int num_splits,
                                       void* workspace, void* stream) {
    const int resolved = num_splits == 0 ? 1 : num_splits;  // auto on the CPU: 1
    const bd_attention_params p = bd::attn::sparse_flat_params(
        q, k, v, o, lse, dtype, batch, seqlen_q, seqlen_k, heads_q, heads_kv, head_dim, head_dim_v, seqused_k, scale,
        causal, block_size, block_heads, block_rows, block_row_ptr, block_col_idx, resolved, workspace);
    return bd_cpu_attention_forward(&p, stream);
}

extern "C" int64_t bd_cpu_sparse_attention_workspace_bytes_flat(int dtype, int64_t batch, int64_t seqlen_q,
                                                                int64_t seqlen_k, int heads_q, int heads_kv,
                                                                int head_dim, int head_dim_v, int block_heads,
                                                                int num_splits) {
    (void)block_heads;  // the CPU never packs heads differently for the size: splits decide it
    return bd_cpu_attention_workspace_bytes_flat(dtype, batch, seqlen_q, seqlen_k, heads_q, heads_kv, head_dim,
                                                 head_dim_v, num_splits);
}
