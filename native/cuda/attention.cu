// Fused attention forward on CUDA: the entry points, the F32 path, and the split-KV combine.
//   q: (B, Sq, Hq, D)  k: (B, Skv, Hkv, D)  v: (B, Skv, Hkv, Dv)  o: (B, Sq, Hq, Dv)  lse: (B, Hq, Sq)
//   (or packed (total, H, D) with cu_seqlens; any element strides, innermost contiguous)
// BF16/F16 run the tensor-core kernel (attention/fwd_mma.cuh, one generated instance per head
// dim and dtype); F32 runs a simpler SIMT kernel here with the same tiles-from-the-plan walk and the
// same online softmax — correctness over speed. When batch x heads x query tiles cannot fill the
// GPU (decode over a long cache), the key range of each query tile is split (flash-decoding): each
// split writes an F32 partial O normalised by its own sum and its LSE to the workspace, and the
// combine kernel merges them by LSE, adding the learned sink once. The plan (tiles, masks, split
// boundaries, GQA row packing) is shared with the CPU twin (detail/attention_plan.hpp); so is the
// block-sparse walk (attn::SparseWalk) that both kernels follow instead of the tile range when a
// layout is given (a compile-time flag: the dense kernels are untouched by it).
#include "attention/attention.cuh"
#include "braindrip/attention.h"
#include "cuda_common.cuh"

namespace bd::cuda {

using bd::attn::Mask;
using bd::attn::Plan;
using bd::attn::SeqInfo;
using bd::attn::TileRange;

constexpr int F32_M = 16, F32_N = 32, F32_THREADS = 128;  // must match attn::tile_for(BD_F32)
constexpr int COMBINE_ROWS = 4;                           // one warp per output row

// ---- kernels

// F32 SIMT forward. Block: 16 query rows x 32-key tiles, 4 warps of 4 rows; a lane owns one key
// of the tile for the scores and columns lane + 32c of the output.
//   shared: Q (16, D), K (32, D + 1) (padded: lanes read different rows), V (32, Dv)
// kSparse: the key tiles come from the block-sparse layout's walk (attn::SparseWalk, as in the CPU
// twin and the mma kernel) instead of the tile range; there is no prefetch, so it stays in registers.
template <int DVC, bool kRopeK, bool kSparse>
static __global__ void __launch_bounds__(F32_THREADS) attention_fwd_f32_kernel(const __grid_constant__ Plan pl) {
    extern __shared__ float fsm[];
    const bd_attention_params& p = pl.p;
    const int D = p.head_dim, Dv = p.head_dim_v, KS = D + 1;
    float* sQ = fsm;
    float* sK = sQ + F32_M * D;
    float* sV = sK + F32_N * KS;
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const int split = static_cast<int>(blockIdx.x % pl.num_splits);
    const int64_t mb = pl.m_blocks - 1 - static_cast<int64_t>(blockIdx.x / pl.num_splits);
    const int hb = blockIdx.y;
    const int64_t b = blockIdx.z;
    const SeqInfo si = bd::attn::seq_info(p, b);
    const int64_t rows = si.sq * pl.pack, r0 = mb * F32_M;
    if (r0 >= rows) return;
    const Mask mk = bd::attn::make_mask(p, si);
    const int64_t i0 = pl.row_query(r0), i1 = pl.row_query(bd::attn::min64(r0 + F32_M, rows) - 1);
    const TileRange tr = bd::attn::tile_range(mk, i0, i1, F32_N);  // a layout has no window: [0, win_hi)
    bd::attn::SparseWalk walk;
    int64_t qb_lo = 0, qb_hi = 0;
    if constexpr (kSparse)
        walk = bd::attn::sparse_walk(p, mk, p.block_heads == 1 ? 0 : hb, i0, i1, F32_N, tr.win_hi, &qb_lo, &qb_hi);
    int tb, te;
    bd::attn::split_range(kSparse ? walk.count() : tr.count(), split, pl.num_splits, &tb, &te);
    if constexpr (kSparse) walk.skip(tb);
    const int sk = static_cast<int>(si.sk), sink = p.sink_tokens;
    const bd::attn::RowLimits first = bd::attn::row_limits(mk, i0), last = bd::attn::row_limits(mk, i1);
    const int hk = pl.kv_head(hb);
    const float* qg = static_cast<const float*>(p.q);
    const float* kg = static_cast<const float*>(p.k);
    const float* vg = static_cast<const float*>(p.v);

    for (int idx = tid; idx < F32_M * D; idx += F32_THREADS) {
        const int r = idx / D, d = idx % D;
        const int64_t rr = r0 + r;
        sQ[idx] = rr < rows ? qg[pl.q_offset(b, si, pl.row_query(rr), pl.row_head(rr, hb)) + d] : 0.f;
    }
    bd::attn::RowLimits lim[4];  // this warp's rows
    int64_t qb[4];               // and their query blocks (sparse)
#pragma unroll
    for (int k = 0; k < 4; ++k) {
        lim[k] = bd::attn::row_limits(mk, pl.row_query(r0 + warp * 4 + k));
        qb[k] = kSparse ? bd::attn::query_block(mk, pl.row_query(r0 + warp * 4 + k), p.block_size) : 0;
    }
    float m_run[4], l_run[4], o[4][DVC];
#pragma unroll
    for (int k = 0; k < 4; ++k) {
        m_run[k] = -INFINITY;
        l_run[k] = 0.f;
#pragma unroll
        for (int c = 0; c < DVC; ++c) o[k][c] = 0.f;
    }

    for (int t = tb; t < te; ++t) {
        int tile = 0, which = 3;  // dense: every row's list
        if constexpr (kSparse) walk.next(&tile, &which);
        else tile = tr.tile(t);
        const int k0 = tile * F32_N;
        __syncthreads();  // the previous tile is consumed (and sQ is written, first time)
        for (int idx = tid; idx < F32_N * D; idx += F32_THREADS) {
            const int r = idx / D, d = idx % D;
            const int j = k0 + r;
            float x = 0.f;
            if (j < sk) {
                const float* kr = kg + pl.k_offset(b, si, j, hk);
                if constexpr (kRopeK) {
                    const int half = D / 2, i = d < half ? d : d - half;
                    const float ang = static_cast<float>(p.k_rope_positions[pl.rope_offset(b, si, j)]) * pl.rope_inv_freq[i];
                    double sd, cd;  // F64 then rounded, as the CPU twin: both backends get the same F32 values
                    sincos(static_cast<double>(ang), &sd, &cd);
                    const float sn = static_cast<float>(sd), cs = static_cast<float>(cd);
                    const float x1 = kr[i], x2 = kr[i + half];
                    x = d < half ? fmaf(x1, cs, -(x2 * sn)) : fmaf(x2, cs, x1 * sn);
                } else {
                    x = kr[d];
                }
            }
            sK[r * KS + d] = x;
        }
        for (int idx = tid; idx < F32_N * Dv; idx += F32_THREADS) {
            const int r = idx / Dv, d = idx % Dv;
            const int j = k0 + r;
            sV[idx] = j < sk ? vg[pl.v_offset(b, si, j, hk) + d] : 0.f;
        }
        __syncthreads();

        float s[4] = {0.f, 0.f, 0.f, 0.f};
        for (int d = 0; d < D; ++d) {
            const float kd = sK[lane * KS + d];
#pragma unroll
            for (int k = 0; k < 4; ++k) s[k] = fmaf(sQ[(warp * 4 + k) * D + d], kd, s[k]);
        }
        if (pl.softcap_pre2 > 0.f) {
#pragma unroll
            for (int k = 0; k < 4; ++k) s[k] = bd::attn::softcap_tanh(s[k], pl.softcap_pre2);
        }
        if (pl.has_bias) {  // position biases by key - aligned query position (rows past the call are discarded)
#pragma unroll
            for (int k = 0; k < 4; ++k) {
                const int64_t rr = r0 + warp * 4 + k;
                s[k] += bd::attn::position_bias_raw(pl, pl.row_head(rr, hb), k0 + lane - (pl.row_query(rr) + mk.shift));
            }
        }
        if (bd::attn::tile_needs_mask32(first, last, sk, sink, k0, F32_N) ||
            (kSparse && !bd::attn::sparse_tile_full(which, qb_lo, qb_hi))) {
#pragma unroll
            for (int k = 0; k < 4; ++k)
                if (!bd::attn::visible32(lim[k], sk, sink, k0 + lane) ||
                    (kSparse && !bd::attn::sparse_row_sees(which, qb[k], qb_lo)))
                    s[k] = -INFINITY;
        }
#pragma unroll
        for (int k = 0; k < 4; ++k) {
            float mx = s[k];
#pragma unroll
            for (int off = 16; off > 0; off >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, off));
            mx = fmaxf(mx, m_run[k]);
            const float m_use = mx == -INFINITY ? 0.f : mx;
            const float alpha = exp2f((m_run[k] - m_use) * pl.sl2);
            m_run[k] = mx;
            l_run[k] *= alpha;
#pragma unroll
            for (int c = 0; c < DVC; ++c) o[k][c] *= alpha;
            s[k] = exp2f(fmaf(s[k], pl.sl2, -m_use * pl.sl2));
            l_run[k] += s[k];
        }
        for (int j = 0; j < F32_N; ++j) {
            float pj[4];
#pragma unroll
            for (int k = 0; k < 4; ++k) pj[k] = __shfl_sync(0xffffffffu, s[k], j);
            const float* vr = sV + j * Dv;
#pragma unroll
            for (int c = 0; c < DVC; ++c) {
                const int dv = lane + 32 * c;
                if (dv < Dv) {
                    const float vv = vr[dv];
#pragma unroll
                    for (int k = 0; k < 4; ++k) o[k][c] = fmaf(pj[k], vv, o[k][c]);
                }
            }
        }
    }

#pragma unroll
    for (int k = 0; k < 4; ++k)
#pragma unroll
        for (int off = 16; off > 0; off >>= 1) l_run[k] += __shfl_xor_sync(0xffffffffu, l_run[k], off);
#pragma unroll
    for (int k = 0; k < 4; ++k) {
        const int64_t rr = r0 + warp * 4 + k;
        if (rr >= rows) continue;
        const int64_t i = pl.row_query(rr);
        const int h = pl.row_head(rr, hb);
        float lse;
        if (pl.num_splits > 1) {
            const float inv = bd::attn::finish_split(m_run[k], l_run[k], pl.lse_scale, &lse);
            const int64_t wrow = pl.ws_row(split, b, h, i);
#pragma unroll
            for (int c = 0; c < DVC; ++c)
                if (lane + 32 * c < Dv) p.o_accum[wrow * Dv + lane + 32 * c] = o[k][c] * inv;
            if (lane == 0) p.lse_accum[wrow] = lse;
        } else {
            const bool has_sink = p.sinks != nullptr;
            const float inv = bd::attn::finish_row(m_run[k], l_run[k], pl.lse_scale, has_sink ? p.sinks[h] : 0.f,
                                                   has_sink, &lse);
            float* dst = static_cast<float*>(p.o) + pl.o_offset(b, si, i, h);
#pragma unroll
            for (int c = 0; c < DVC; ++c)
                if (lane + 32 * c < Dv) dst[lane + 32 * c] = o[k][c] * inv;
            if (lane == 0 && p.lse) p.lse[pl.lse_offset(b, si, i, h)] = lse;
        }
    }
}

// Split-KV merge, one warp per (b, h, i) row of (B, Hq, seqlen_q):
//   L = log sum_s exp(LSE_s) (+ the learned sink once), O = sum_s exp(LSE_s - L) O_s
template <typename T>
static __global__ void __launch_bounds__(32 * COMBINE_ROWS) attention_combine_kernel(const __grid_constant__ Plan pl) {
    __shared__ float wsm[COMBINE_ROWS][bd::attn::kMaxSplits];
    const bd_attention_params& p = pl.p;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int64_t row = static_cast<int64_t>(blockIdx.x) * COMBINE_ROWS + warp;
    if (row >= p.batch * p.heads_q * p.seqlen_q) return;  // whole warp
    const int64_t b = row / (static_cast<int64_t>(p.heads_q) * p.seqlen_q);
    const int h = static_cast<int>(row / p.seqlen_q % p.heads_q);
    const int64_t i = row % p.seqlen_q;
    const SeqInfo si = bd::attn::seq_info(p, b);
    if (i >= si.sq) return;  // whole warp
    const int S = pl.num_splits, Dv = p.head_dim_v;
    float lmax = -INFINITY;
    for (int s = lane; s < S; s += 32) lmax = fmaxf(lmax, p.lse_accum[pl.ws_row(s, b, h, i)]);
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) lmax = fmaxf(lmax, __shfl_xor_sync(0xffffffffu, lmax, off));
    float sum = 0.f;
    if (lmax != -INFINITY)
        for (int s = lane; s < S; s += 32) sum += expf(p.lse_accum[pl.ws_row(s, b, h, i)] - lmax);
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, off);
    float L = lmax == -INFINITY ? -INFINITY : lmax + logf(sum);
    if (p.sinks) {
        const float sink = p.sinks[h], mx = fmaxf(L, sink);
        L = mx + logf(expf(L - mx) + expf(sink - mx));
    }
    for (int s = lane; s < S; s += 32) {
        const float ls = p.lse_accum[pl.ws_row(s, b, h, i)];
        wsm[warp][s] = ls == -INFINITY ? 0.f : expf(ls - L);
    }
    __syncwarp();
    T* dst = static_cast<T*>(p.o) + pl.o_offset(b, si, i, h);
    for (int d = lane; d < Dv; d += 32) {
        float acc = 0.f;
        for (int s = 0; s < S; ++s) acc += wsm[warp][s] * p.o_accum[pl.ws_row(s, b, h, i) * Dv + d];
        dst[d] = from_f32<T>(acc);
    }
    if (lane == 0 && p.lse) p.lse[pl.lse_offset(b, si, i, h)] = L;
}

// ---- launchers

static int f32_smem_bytes(int D, int Dv) { return (F32_M * D + F32_N * (D + 1) + F32_N * Dv) * 4; }

template <int DVC, bool kRopeK, bool kSparse>
static int launch_f32(const Plan& pl, cudaStream_t stream) {
    auto kernel = attention_fwd_f32_kernel<DVC, kRopeK, kSparse>;
    const int smem = f32_smem_bytes(pl.p.head_dim, pl.p.head_dim_v);
    if (smem > 48 * 1024) {
        const int st = check_cuda(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem),
                                  "attention_fwd_f32_kernel: cudaFuncSetAttribute");
        if (st != BD_OK) return st;
    }
    const dim3 grid(static_cast<unsigned>(pl.m_blocks * pl.num_splits), static_cast<unsigned>(pl.head_blocks),
                    static_cast<unsigned>(pl.p.batch));
    kernel<<<grid, F32_THREADS, smem, stream>>>(pl);
    return check_launch("attention_fwd_f32_kernel");
}

static int run_f32(const Plan& pl, cudaStream_t stream) {
    const int dv = pl.p.head_dim_v;
    int st = BD_OK;
    BD_ATTN_BOOL_SWITCH(pl.p.k_rope_positions != nullptr, kRopeK, {
        BD_ATTN_BOOL_SWITCH(pl.p.block_row_ptr != nullptr, kSparse, {
            if (dv <= 64) st = launch_f32<2, kRopeK, kSparse>(pl, stream);
            else if (dv <= 128) st = launch_f32<4, kRopeK, kSparse>(pl, stream);
            else if (dv <= 256) st = launch_f32<8, kRopeK, kSparse>(pl, stream);
            else st = launch_f32<16, kRopeK, kSparse>(pl, stream);
        });
    });
    return st;
}

template <typename T>
static int run_mma(const Plan& pl, cudaStream_t stream) {
    if (pl.p.head_dim == 64 && pl.p.head_dim_v == 128) return attn_mma::run_attention_mma<T, 64, 128>(pl, stream);
    switch (pl.p.head_dim) {
        case 64: return attn_mma::run_attention_mma<T, 64>(pl, stream);
        case 80: return attn_mma::run_attention_mma<T, 80>(pl, stream);
        case 96: return attn_mma::run_attention_mma<T, 96>(pl, stream);
        case 128: return attn_mma::run_attention_mma<T, 128>(pl, stream);
        case 256: return attn_mma::run_attention_mma<T, 256>(pl, stream);
        default: return fail(BD_ERR_UNSUPPORTED, "attention: no CUDA instance for head_dim %d", pl.p.head_dim);
    }
}

template <typename T>
static int launch_combine(const Plan& pl, cudaStream_t stream) {
    const int64_t rows = pl.p.batch * pl.p.heads_q * pl.p.seqlen_q;
    const dim3 grid(static_cast<unsigned>((rows + COMBINE_ROWS - 1) / COMBINE_ROWS));
    attention_combine_kernel<T><<<grid, 32 * COMBINE_ROWS, 0, stream>>>(pl);
    return check_launch("attention_combine_kernel");
}

static int attention_forward(const Plan& pl, cudaStream_t stream) {
    int st = pl.p.dtype == BD_F32 ? run_f32(pl, stream)
             : pl.p.dtype == BD_BF16 ? run_mma<__nv_bfloat16>(pl, stream)
                                     : run_mma<__half>(pl, stream);
    if (st != BD_OK || pl.num_splits <= 1) return st;
    BD_DISPATCH_FLOAT(pl.p.dtype, T, st = launch_combine<T>(pl, stream));
    return st;
}

static int device_sms() {
    int dev = 0, sms = 0;
    if (cudaGetDevice(&dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess) {
        cudaGetLastError();  // leave no sticky-free error behind; no device -> no split
        return 0;
    }
    return sms;
}

// The split count a call will use: explicit, or auto (only when a workspace is given).
static int resolve_splits(const bd_attention_params& p, bool have_workspace) {
    if (p.num_splits > 0) return p.num_splits;
    return have_workspace ? bd::attn::auto_num_splits(p, device_sms()) : 1;
}

static bool aligned16(const void* ptr) { return (reinterpret_cast<uintptr_t>(ptr) & 15) == 0; }

}  // namespace bd::cuda

// ---- entry points

extern "C" int bd_cuda_attention_supports(int head_dim, int head_dim_v, int dtype) {
    using namespace bd::cuda;
    if (dtype == BD_F32) {
        if (head_dim < 1 || head_dim > 256 || head_dim_v < 1 || head_dim_v > 512)
            return fail(BD_ERR_UNSUPPORTED,
                        "attention: the CUDA F32 path supports head_dim <= 256 and head_dim_v <= 512 (got %d, %d)",
                        head_dim, head_dim_v);
        return BD_OK;
    }
    if (dtype != BD_F16 && dtype != BD_BF16)
        return fail(BD_ERR_UNSUPPORTED, "attention: dtype %s not supported (F32, F16, BF16)", dtype_name(dtype));
    if (head_dim != head_dim_v && !attn_mma::mma_head_dims_supported(head_dim, head_dim_v))
        return fail(BD_ERR_UNSUPPORTED,
                    "attention: the CUDA %s path needs head_dim_v == head_dim, or head_dim 64 with head_dim_v 128 "
                    "(got head_dim %d, head_dim_v %d)",
                    dtype_name(dtype), head_dim, head_dim_v);
    if (!attn_mma::mma_head_dim_supported(head_dim))
        return fail(BD_ERR_UNSUPPORTED, "attention: the CUDA %s path supports head_dim 64, 80, 96, 128, 256 (got %d)",
                    dtype_name(dtype), head_dim);
    return BD_OK;
}

extern "C" int bd_cuda_attention_forward(const bd_attention_params* p, void* stream) {
    using namespace bd::cuda;
    char msg[512];
    int st = bd::attn::validate(p, msg, sizeof msg);
    if (st != BD_OK) return fail(st, "%s", msg);
    st = bd_cuda_attention_supports(p->head_dim, p->head_dim_v, p->dtype);
    if (st != BD_OK) return st;
    if (p->batch == 0 || p->seqlen_q == 0) return BD_OK;
    BD_CHECK(p->batch <= 65535, "attention", "batch (%lld) must be <= 65535 on CUDA (grid z)", (long long)p->batch);
    if (p->dtype != BD_F32) {
        const bool ok_ptr = aligned16(p->q) && aligned16(p->k) && aligned16(p->v) && aligned16(p->o);
        const bool ok_strides = (p->q_batch_stride | p->q_row_stride | p->q_head_stride | p->k_batch_stride |
                                 p->k_row_stride | p->k_head_stride | p->v_batch_stride | p->v_row_stride |
                                 p->v_head_stride | p->o_batch_stride | p->o_row_stride | p->o_head_stride) % 8 == 0;
        if (!ok_ptr || !ok_strides)
            return fail(BD_ERR_UNSUPPORTED,
                        "attention: the CUDA %s path needs 16-byte aligned q/k/v/o and strides that are multiples of "
                        "8 elements", dtype_name(p->dtype));
    }
    const int splits = resolve_splits(*p, p->o_accum != nullptr);
    BD_CHECK(splits <= 1 || p->o_accum, "attention", "num_splits (%d) > 1 needs the o_accum workspace", splits);
    const bd::attn::Plan pl = bd::attn::make_plan(*p, splits);
    BD_CHECK(pl.head_blocks <= 65535, "attention", "heads (%d blocks) must be <= 65535 on CUDA (grid y)", pl.head_blocks);
    BD_CHECK(pl.m_blocks * pl.num_splits <= INT32_MAX, "attention", "seqlen_q (%lld) too long for one launch",
             (long long)p->seqlen_q);
    return attention_forward(pl, as_stream(stream));
}

extern "C" int64_t bd_cuda_attention_workspace_bytes(const bd_attention_params* p) {
    using namespace bd::cuda;
    char msg[512];
    const int st = bd::attn::validate(p, msg, sizeof msg, /*tensors=*/false);
    if (st != BD_OK) {
        fail(st, "%s", msg);
        return -1;
    }
    return bd::attn::workspace_bytes(p->batch, p->seqlen_q, p->heads_q, p->head_dim_v, resolve_splits(*p, true));
}

extern "C" int64_t bd_cuda_attention_workspace_bytes_flat(int dtype, int64_t batch, int64_t seqlen_q, int64_t seqlen_k,
                                                          int heads_q, int heads_kv, int head_dim, int head_dim_v,
                                                          int num_splits) {
    bd_attention_params p;
    bd_attention_params_init(&p, dtype, batch, seqlen_q, seqlen_k, heads_q, heads_kv, head_dim, head_dim_v);
    p.num_splits = num_splits;
    return bd_cuda_attention_workspace_bytes(&p);
}

extern "C" int bd_cuda_attention_num_splits(int64_t batch, int heads, int64_t seqlen_q, int64_t seqlen_k, int head_dim,
                                            int num_sms) {
    const bd::attn::Tile t = bd::attn::tile_for(BD_BF16, head_dim);  // the BF16/F16 tiles
    if (batch <= 0 || heads <= 0 || seqlen_q <= 0 || seqlen_k <= 0) return 1;
    return bd::attn::num_splits_heuristic(batch * heads * bd::attn::ceil_div(seqlen_q, t.m), num_sms,
                                          bd::attn::ceil_div(seqlen_k, t.n), bd::attn::kMaxSplits);
}

extern "C" int bd_cuda_attention(const void* q, const void* k, const void* v, void* o, float* lse, int dtype,
                                 int64_t batch, int64_t seqlen_q, int64_t seqlen_k, int heads_q, int heads_kv,
                                 int head_dim, int head_dim_v, const int32_t* cu_seqlens_q, const int32_t* cu_seqlens_k,
                                 const int32_t* seqused_k, float scale, float softcap, int causal, int window_left,
                                 int window_right, int sink_tokens, const float* sinks, const int32_t* k_rope_positions,
                                 float rope_theta, int num_splits, void* workspace, void* stream) {
    return bd_cuda_attention_biased(q, k, v, o, lse, dtype, batch, seqlen_q, seqlen_k, heads_q, heads_kv, head_dim,
                                    head_dim_v, cu_seqlens_q, cu_seqlens_k, seqused_k, scale, softcap, causal,
                                    window_left, window_right, sink_tokens, sinks, k_rope_positions, rope_theta,
                                    nullptr, 0, 0, 0, nullptr, num_splits, workspace, stream);
}

extern "C" int bd_cuda_attention_biased(const void* q, const void* k, const void* v, void* o, float* lse, int dtype,
                                        int64_t batch, int64_t seqlen_q, int64_t seqlen_k, int heads_q, int heads_kv,
                                        int head_dim, int head_dim_v, const int32_t* cu_seqlens_q,
                                        const int32_t* cu_seqlens_k, const int32_t* seqused_k, float scale,
                                        float softcap, int causal, int window_left, int window_right, int sink_tokens,
                                        const float* sinks, const int32_t* k_rope_positions, float rope_theta,
                                        const float* rel_bias, int rel_num_buckets, int rel_max_distance,
                                        int rel_bidirectional, const float* alibi_slopes, int num_splits,
                                        void* workspace, void* stream) {
    // resolve auto here, so the workspace is carved for the split count the call will use
    bd_attention_params shape;
    bd_attention_params_init(&shape, dtype, batch, seqlen_q, seqlen_k, heads_q, heads_kv, head_dim, head_dim_v);
    shape.num_splits = num_splits;
    const int resolved = (num_splits == 0 && heads_kv > 0 && heads_q > 0)
                             ? bd::cuda::resolve_splits(shape, workspace != nullptr)
                             : num_splits;
    bd_attention_params p = bd::attn::flat_params(
        q, k, v, o, lse, dtype, batch, seqlen_q, seqlen_k, heads_q, heads_kv, head_dim, head_dim_v, cu_seqlens_q,
        cu_seqlens_k, seqused_k, scale, softcap, causal, window_left, window_right, sink_tokens, sinks,
        k_rope_positions, rope_theta, resolved, workspace);
    bd::attn::set_position_biases(&p, rel_bias, rel_num_buckets, rel_max_distance, rel_bidirectional, alibi_slopes);
    return bd_cuda_attention_forward(&p, stream);
}

extern "C" int bd_cuda_sparse_attention(const void* q, const void* k, const void* v, void* o, float* lse, int dtype,
                                        int64_t batch, int64_t seqlen_q, int64_t seqlen_k, int heads_q, int heads_kv,
                                        int head_dim, int head_dim_v, const int32_t* seqused_k, float scale,
                                        int causal, int block_size, int block_heads, int64_t block_rows,
                                        const int32_t* block_row_ptr, const int32_t* block_col_idx, int num_splits,
                                        void* workspace, void* stream) {
    bd_attention_params shape;
    bd_attention_params_init(&shape, dtype, batch, seqlen_q, seqlen_k, heads_q, heads_kv, head_dim, head_dim_v);
    shape.num_splits = num_splits;
    shape.block_row_ptr = block_row_ptr;  // only read for the GQA packing rule
    shape.block_heads = block_heads;
    const int resolved = (num_splits == 0 && heads_kv > 0 && heads_q > 0)
                             ? bd::cuda::resolve_splits(shape, workspace != nullptr)
                             : num_splits;
    const bd_attention_params p = bd::attn::sparse_flat_params(
        q, k, v, o, lse, dtype, batch, seqlen_q, seqlen_k, heads_q, heads_kv, head_dim, head_dim_v, seqused_k, scale,
        causal, block_size, block_heads, block_rows, block_row_ptr, block_col_idx, resolved, workspace);
    return bd_cuda_attention_forward(&p, stream);
}

extern "C" int64_t bd_cuda_sparse_attention_workspace_bytes_flat(int dtype, int64_t batch, int64_t seqlen_q,
                                                                 int64_t seqlen_k, int heads_q, int heads_kv,
                                                                 int head_dim, int head_dim_v, int block_heads,
                                                                 int num_splits) {
    bd_attention_params p;
    bd_attention_params_init(&p, dtype, batch, seqlen_q, seqlen_k, heads_q, heads_kv, head_dim, head_dim_v);
    p.num_splits = num_splits;
    static const int32_t kMarker = 0;  // a non-null layout pointer: only the packing rule reads it
    if (block_heads > 1) {
        p.block_row_ptr = &kMarker;
        p.block_col_idx = &kMarker;
        p.block_heads = block_heads;
        p.block_size = 64;
        p.block_rows = bd::attn::ceil_div(seqlen_k, 64);
    }
    return bd_cuda_attention_workspace_bytes(&p);
}
