// Fused differential attention, CUDA (native/include/braindrip/diff_attention.h).
//   q (B, Sq, 2H, D)  k (B, Skv, 2Hkv, D)  v (B, Skv, Hkv, 2D)  subln (2D)  o (B, Sq, H, 2D)
// BF16/F16 run the tensor-core kernel of attention/fwd_diff_mma.cuh (D = 64); F32 runs a SIMT
// kernel here (any D <= 256), the F32 attention kernel of attention.cu with both maps in one block.
// Both walk the key tiles of the shared plan (detail/diff_plan.hpp over detail/attention_plan.hpp),
// as the CPU twin does. No split-KV: decode runs B x H blocks.
#include "attention/fwd_diff_mma.cuh"
#include "braindrip/diff_attention.h"
#include "cuda_common.cuh"

namespace bd::cuda {

using bd::attn::Mask;
using bd::attn::Plan;
using bd::attn::SeqInfo;
using bd::attn::TileRange;
using diff_mma::DiffPlan;

constexpr int DF32_M = 16, DF32_N = 32, DF32_THREADS = 256;  // tiles must match attn::tile_for(BD_F32)

// F32 SIMT differential forward. Block: 16 query rows x 32-key tiles, 8 warps: warps 0-3 map 1,
// warps 4-7 map 2, 4 rows each; a lane owns one key of the tile for the scores and columns
// lane + 32c of the 2D-wide output.
//   shared: Q (2, 16, D), K (2, 32, D + 1) (padded; map 2's unused when both maps share the key
//   head), V (32, 2D); after the loop the first 16 x 2D floats hold lambda * O2 / l2 for map 1.
template <int DVC>
static __global__ void __launch_bounds__(DF32_THREADS) diff_attention_f32_kernel(const __grid_constant__ DiffPlan dp) {
    extern __shared__ float fsm[];
    const Plan& pl = dp.pl;
    const bd_attention_params& p = pl.p;
    const int D = p.head_dim, Dv = p.head_dim_v, KS = D + 1;
    float* sQ = fsm;
    float* sK = sQ + 2 * DF32_M * D;
    float* sV = sK + 2 * DF32_N * KS;
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const int map = warp >> 2, wr = warp & 3;
    const int64_t mb = pl.m_blocks - 1 - static_cast<int64_t>(blockIdx.x);
    const int h = blockIdx.y;
    const int64_t b = blockIdx.z;
    const SeqInfo si = bd::attn::seq_info(p, b);
    const int64_t rows = si.sq, r0 = mb * DF32_M;
    if (r0 >= rows) return;
    const Mask mk = bd::attn::make_mask(p, si);
    const int64_t i0 = r0, i1 = bd::attn::min64(r0 + DF32_M, rows) - 1;
    const TileRange tr = bd::attn::tile_range(mk, i0, i1, DF32_N);
    const int te = tr.count();
    const int sk = static_cast<int>(si.sk);
    const bd::attn::RowLimits first = bd::attn::row_limits(mk, i0), last = bd::attn::row_limits(mk, i1);
    const int hk0 = dp.k_head(h, 0), hk1 = dp.k_head(h, 1), hv = dp.v_head(h);
    const bool shared_k = hk0 == hk1;
    const int nk = shared_k ? 1 : 2;  // K tiles to load
    const float* qg = static_cast<const float*>(p.q);
    const float* kg = static_cast<const float*>(p.k);
    const float* vg = static_cast<const float*>(p.v);
    const float* sQm = sQ + map * DF32_M * D;
    const float* sKm = sK + (shared_k ? 0 : map * DF32_N * KS);

    for (int idx = tid; idx < 2 * DF32_M * D; idx += DF32_THREADS) {
        const int m = idx / (DF32_M * D), r = idx / D % DF32_M, d = idx % D;
        const int64_t rr = r0 + r;
        sQ[idx] = rr < rows ? qg[pl.q_offset(b, si, rr, 2 * h + m) + d] : 0.f;
    }
    bd::attn::RowLimits lim[4];  // this warp's rows
#pragma unroll
    for (int k = 0; k < 4; ++k) lim[k] = bd::attn::row_limits(mk, r0 + wr * 4 + k);
    float m_run[4], l_run[4], o[4][DVC];
#pragma unroll
    for (int k = 0; k < 4; ++k) {
        m_run[k] = -INFINITY;
        l_run[k] = 0.f;
#pragma unroll
        for (int c = 0; c < DVC; ++c) o[k][c] = 0.f;
    }

    for (int t = 0; t < te; ++t) {
        const int k0 = tr.tile(t) * DF32_N;
        __syncthreads();  // the previous tile is consumed (and sQ is written, first time)
        for (int idx = tid; idx < nk * DF32_N * D; idx += DF32_THREADS) {
            const int m = idx / (DF32_N * D), r = idx / D % DF32_N, d = idx % D;
            const int j = k0 + r;
            sK[(m * DF32_N + r) * KS + d] = j < sk ? kg[pl.k_offset(b, si, j, m ? hk1 : hk0) + d] : 0.f;
        }
        for (int idx = tid; idx < DF32_N * Dv; idx += DF32_THREADS) {
            const int r = idx / Dv, d = idx % Dv;
            const int j = k0 + r;
            sV[idx] = j < sk ? vg[pl.v_offset(b, si, j, hv) + d] : 0.f;
        }
        __syncthreads();

        float s[4] = {0.f, 0.f, 0.f, 0.f};
        for (int d = 0; d < D; ++d) {
            const float kd = sKm[lane * KS + d];
#pragma unroll
            for (int k = 0; k < 4; ++k) s[k] = fmaf(sQm[(wr * 4 + k) * D + d], kd, s[k]);
        }
        if (bd::attn::tile_needs_mask32(first, last, sk, 0, k0, DF32_N)) {
#pragma unroll
            for (int k = 0; k < 4; ++k)
                if (!bd::attn::visible32(lim[k], sk, 0, k0 + lane)) s[k] = -INFINITY;
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
        for (int j = 0; j < DF32_N; ++j) {
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
    __syncthreads();  // every warp finished with the tiles: sQ becomes the exchange
    float* xo = fsm;  // (16, Dv): lambda * O2 / l2
    if (map == 1) {
#pragma unroll
        for (int k = 0; k < 4; ++k) {
            const float inv = l_run[k] > 0.f ? dp.lambda / l_run[k] : 0.f;
#pragma unroll
            for (int c = 0; c < DVC; ++c)
                if (lane + 32 * c < Dv) xo[(wr * 4 + k) * Dv + lane + 32 * c] = o[k][c] * inv;
        }
    }
    __syncthreads();
    if (map == 1) return;
    const float* sub = static_cast<const float*>(dp.subln);
#pragma unroll
    for (int k = 0; k < 4; ++k) {
        const int64_t rr = r0 + wr * 4 + k;
        const float inv = l_run[k] > 0.f ? 1.f / l_run[k] : 0.f;
        float ss = 0.f;
#pragma unroll
        for (int c = 0; c < DVC; ++c) {
            const int dv = lane + 32 * c;
            o[k][c] = dv < Dv ? o[k][c] * inv - xo[(wr * 4 + k) * Dv + dv] : 0.f;
            ss = fmaf(o[k][c], o[k][c], ss);
        }
#pragma unroll
        for (int off = 16; off > 0; off >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, off);
        if (rr >= rows) continue;
        const float rn = dp.out_scale / sqrtf(ss / static_cast<float>(Dv) + dp.eps);
        float* dst = static_cast<float*>(p.o) + pl.o_offset(b, si, rr, h);
#pragma unroll
        for (int c = 0; c < DVC; ++c) {
            const int dv = lane + 32 * c;
            if (dv < Dv) dst[dv] = o[k][c] * rn * sub[dv];
        }
    }
}

static int diff_f32_smem_bytes(int D) { return (2 * DF32_M * D + 2 * DF32_N * (D + 1) + DF32_N * 2 * D) * 4; }

template <int DVC>
static int launch_diff_f32(const DiffPlan& dp, cudaStream_t stream) {
    auto kernel = diff_attention_f32_kernel<DVC>;
    const int smem = diff_f32_smem_bytes(dp.pl.p.head_dim);
    if (smem > 48 * 1024) {
        const int st = check_cuda(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem),
                                  "diff_attention_f32_kernel: cudaFuncSetAttribute");
        if (st != BD_OK) return st;
    }
    const dim3 grid(static_cast<unsigned>(dp.pl.m_blocks), static_cast<unsigned>(dp.pl.head_blocks),
                    static_cast<unsigned>(dp.pl.p.batch));
    kernel<<<grid, DF32_THREADS, smem, stream>>>(dp);
    return check_launch("diff_attention_f32_kernel");
}

static int diff_forward(const DiffPlan& dp, cudaStream_t stream) {
    const int D = dp.pl.p.head_dim, dv = 2 * D;
    switch (dp.pl.p.dtype) {
        case BD_BF16: return diff_mma::run_diff_mma<__nv_bfloat16, 64>(dp, stream);
        case BD_F16: return diff_mma::run_diff_mma<__half, 64>(dp, stream);
        default:
            if (dv <= 64) return launch_diff_f32<2>(dp, stream);
            if (dv <= 128) return launch_diff_f32<4>(dp, stream);
            if (dv <= 256) return launch_diff_f32<8>(dp, stream);
            return launch_diff_f32<16>(dp, stream);
    }
}

static bool diff_aligned16(const void* ptr) { return (reinterpret_cast<uintptr_t>(ptr) & 15) == 0; }

}  // namespace bd::cuda

// ---- entry points

extern "C" int bd_cuda_diff_attention_supports(int head_dim, int dtype) {
    using namespace bd::cuda;
    if (dtype == BD_F32) {
        if (head_dim < 1 || head_dim > 256)
            return fail(BD_ERR_UNSUPPORTED, "diff_attention: the CUDA F32 path supports head_dim 1..256 (got %d)",
                        head_dim);
        return BD_OK;
    }
    if (dtype != BD_F16 && dtype != BD_BF16)
        return fail(BD_ERR_UNSUPPORTED, "diff_attention: dtype %s not supported (F32, F16, BF16)", dtype_name(dtype));
    if (head_dim != 64)
        return fail(BD_ERR_UNSUPPORTED,
                    "diff_attention: the CUDA %s path supports head_dim 64 (V and o 128 wide) only (got %d)",
                    dtype_name(dtype), head_dim);
    return BD_OK;
}

extern "C" int bd_cuda_diff_attention(const void* q, const void* k, const void* v, const void* subln, void* o,
                                      int dtype, int64_t batch, int64_t seqlen_q, int64_t seqlen_k, int heads,
                                      int heads_kv, int head_dim, const int32_t* seqused_k, float scale, int causal,
                                      int window_left, int window_right, float lambda, float lambda_init, float eps,
                                      void* stream) {
    using namespace bd::cuda;
    char msg[512];
    int st = bd::diff::validate(dtype, batch, seqlen_q, seqlen_k, heads, heads_kv, head_dim, scale, causal,
                                window_left, window_right, lambda, lambda_init, eps, msg, sizeof msg);
    if (st != BD_OK) return fail(st, "%s", msg);
    st = bd_cuda_diff_attention_supports(head_dim, dtype);
    if (st != BD_OK) return st;
    if (batch == 0 || seqlen_q == 0) return BD_OK;
    BD_CHECK(q && o && subln, "diff_attention", "null tensor pointer (q, subln and o are required)");
    BD_CHECK((k && v) || seqlen_k == 0, "diff_attention", "null tensor pointer (k and v are required when seqlen_k > 0)");
    BD_CHECK(batch <= 65535, "diff_attention", "batch (%lld) must be <= 65535 on CUDA (grid z)", (long long)batch);
    BD_CHECK(heads <= 65535, "diff_attention", "heads (%d) must be <= 65535 on CUDA (grid y)", heads);
    if (dtype != BD_F32) {
        // dense layouts: every stride is a multiple of D (or 2D) = 64 elements, so pointers are the rule
        if (!diff_aligned16(q) || !diff_aligned16(k) || !diff_aligned16(v) || !diff_aligned16(o))
            return fail(BD_ERR_UNSUPPORTED, "diff_attention: the CUDA %s path needs 16-byte aligned q/k/v/o",
                        dtype_name(dtype));
    }
    const bd::diff::DiffParams d =
        bd::diff::make_params(q, k, v, subln, o, dtype, batch, seqlen_q, seqlen_k, heads, heads_kv, head_dim,
                              seqused_k, scale, causal, window_left, window_right, lambda, lambda_init, eps);
    DiffPlan dp;
    dp.pl = bd::attn::make_plan(d.p, 1);
    dp.pl.pack = 1;  // no GQA row packing: a block is one output head
    dp.pl.head_blocks = heads;
    dp.pl.m_blocks = bd::attn::ceil_div(seqlen_q, dp.pl.tile_m);
    BD_CHECK(dp.pl.m_blocks <= INT32_MAX, "diff_attention", "seqlen_q (%lld) too long for one launch",
             (long long)seqlen_q);
    dp.subln = subln;
    dp.ratio = d.ratio();
    dp.lambda = lambda;
    dp.out_scale = d.out_scale();
    dp.eps = eps;
    return diff_forward(dp, as_stream(stream));
}
