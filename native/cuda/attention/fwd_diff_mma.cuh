// Fused differential attention (diff_attention.h) for BF16/F16 on tensor cores (mma.sync m16n8k16,
// sm_80+), included by native/cuda/diff_attention.cu. The building blocks are fwd_mma.cuh's: the
// cp.async tile loaders, the XOR-swizzled shared tiles, the fragment maps of mma_layout.hpp, the
// same online softmax and the same two-barrier pipeline per key tile.
//
// One block per (query tile of 64 rows, output head h, batch row), 8 warps: warps 0-3 compute map 1
// (query head 2h against key head k_head(h, 0)), warps 4-7 map 2 (query head 2h+1, key head
// k_head(h, 1)), 16 query rows per warp. Both maps see the same keys (one mask, one tile range from
// detail/attention_plan.hpp, as the CPU twin), so per key tile the block loads K1 and K2 (one tile
// when both maps use the same key head, floor(2h / r) == floor((2h + 1) / r): every head for even
// r) and one V tile (64 keys x 2D) that both maps multiply by their own P:
//   wait + barrier -> async load of V_j -> S = Q_m K_m,j^T -> element mask (boundary tiles only)
//   -> wait + barrier -> async load of K1/K2_{j+1} -> online softmax -> O_m += P_m V_j
// Epilogue: after the loop the K/V buffers hold the F32 rows lambda * O2 / l2 of map 2's warps; map
// 1's warps read them, form u = O1 / l1 - lambda O2 / l2 (a map with no visible key contributes 0),
// RMSNorm over the 2D columns (sum of squares across the quad of lanes that holds a row), scale by
// subln * (1 - lambda_init) and store o rounded once. A row that sees no key gets u = 0 -> o = 0.
// No split-KV: decode (Sq = 1) runs B x H blocks of one useful row each.
//
// ptxas -v (nvcc 13.0), 256 threads, __launch_bounds__(256, 1), 48 KiB of shared memory:
//   D 64 (V 128): 194 regs sm_80, 225 sm_90, BF16 and F16, no spills and no stack.
// D 128 (V 256) is not instantiated: measured the same way it uses 255 regs with 124 bytes of spill
// stores/loads (the 16 x 256 O accumulator per warp next to 64 scores and the Q fragments: the
// head dim 256 case of fwd_mma.cuh, which needs 32-key tiles, while the plan's tiles for D 128 are
// 64 keys, shared with the CPU twin).
#pragma once

#include "attention/fwd_mma.cuh"
#include "braindrip/detail/diff_plan.hpp"

namespace bd::cuda::diff_mma {

using bd::attn::Mask;
using bd::attn::Plan;
using bd::attn::SeqInfo;
using bd::attn::TileRange;
namespace ml = bd::mma_layout;

// The kernel's argument: the attention plan over the 2H query heads / 2Hkv key heads (no GQA row
// packing, one split) plus the differential scalars.
struct DiffPlan {
    Plan pl;
    const void* subln;
    int ratio;  // H / Hkv
    float lambda, out_scale, eps;

    BD_HD int k_head(int h, int map) const { return (2 * h + map) / ratio; }
    BD_HD int v_head(int h) const { return h / ratio; }
};

template <int D>
struct DiffTraits {
    static constexpr int DV = 2 * D;
    static constexpr int kM = 64, kN = 64, kWarps = 8, kThreads = 32 * kWarps;
    static constexpr int kChunks = D / 8, kChunksV = DV / 8;
    static constexpr int kRowChunks = ml::row_stride_chunks(kChunks), kRowChunksV = ml::row_stride_chunks(kChunksV);
    static constexpr int kBytesQ = kM * kRowChunks * 16;   // one map's Q tile
    static constexpr int kBytesK = kN * kRowChunks * 16;   // one map's K tile
    static constexpr int kBytesV = kN * kRowChunksV * 16;  // the shared V tile
    static constexpr int kSmemBytes = 2 * kBytesQ + 2 * kBytesK + kBytesV;
    static constexpr int kXStride = DV + 4;  // F32 exchange rows (padded against bank conflicts)
    static_assert(D % 16 == 0 && D <= 128, "head dim must be a multiple of 16, at most 128");
    static_assert(kM * kXStride * 4 <= kSmemBytes, "the O exchange must fit in the tile buffers");
    static_assert(kM == 16 * (kWarps / 2), "each warp of a map owns 16 query rows");
};

template <typename T, int D>
__global__ void __launch_bounds__(256, 1) diff_attention_mma_kernel(const __grid_constant__ DiffPlan dp) {
    using Tr = DiffTraits<D>;
    constexpr int M = Tr::kM, N = Tr::kN, C = Tr::kChunks, CV = Tr::kChunksV, DV = Tr::DV, THREADS = Tr::kThreads;
    constexpr int KSTEPS = D / 16;  // k-steps of Q K^T
    constexpr int NT = N / 8;       // n8 tiles of S
    constexpr int OT = DV / 8;      // n8 tiles of O
    extern __shared__ __align__(128) unsigned char smem[];
    unsigned char* sQ = smem;                        // (2, M, D): map 1, map 2
    unsigned char* sK = smem + 2 * Tr::kBytesQ;      // (2, N, D): map 1, map 2 (map 2 unused when shared)
    unsigned char* sV = sK + 2 * Tr::kBytesK;        // (N, DV)

    const Plan& pl = dp.pl;
    const bd_attention_params& p = pl.p;
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const int map = warp >> 2, wr = warp & 3;  // this warp's map and row group
    const int64_t mb = pl.m_blocks - 1 - static_cast<int64_t>(blockIdx.x);  // long tiles first
    const int h = blockIdx.y;
    const int64_t b = blockIdx.z;
    const SeqInfo si = bd::attn::seq_info(p, b);
    const int64_t rows = si.sq, r0 = mb * M;
    if (r0 >= rows) return;  // whole block
    const Mask mk = bd::attn::make_mask(p, si);
    const int64_t i0 = r0, i1 = bd::attn::min64(r0 + M, rows) - 1;
    const TileRange tr = bd::attn::tile_range(mk, i0, i1, N);
    const int te = tr.count();
    const int sk = static_cast<int>(si.sk);
    const bd::attn::RowLimits first = bd::attn::row_limits(mk, i0), last = bd::attn::row_limits(mk, i1);
    const int64_t row_a = r0 + wr * 16 + ml::c_row(lane, 0), row_b = row_a + 8;
    const bd::attn::RowLimits lim_a = bd::attn::row_limits(mk, row_a), lim_b = bd::attn::row_limits(mk, row_b);
    const int hk0 = dp.k_head(h, 0), hk1 = dp.k_head(h, 1);
    const bool shared_k = hk0 == hk1;
    const T* qg = static_cast<const T*>(p.q);
    const T* kg = static_cast<const T*>(p.k);
    const T* vg = static_cast<const T*>(p.v);
    const T* kg0 = kg + pl.k_offset(b, si, 0, hk0);
    const T* kg1 = kg + pl.k_offset(b, si, 0, hk1);
    const T* vg_b = vg + pl.v_offset(b, si, 0, dp.v_head(h));
    const int64_t k_rs = p.k_row_stride, v_rs = p.v_row_stride;
    unsigned char* sQm = sQ + map * Tr::kBytesQ;
    unsigned char* sKm = sK + (shared_k ? 0 : map * Tr::kBytesK);

    // ---- prologue: both Q tiles and the first K tile(s)
#pragma unroll
    for (int m = 0; m < 2; ++m)
        attn_mma::load_tile_async<D, M, THREADS>(sQ + m * Tr::kBytesQ, qg, rows - r0, [&](int r) {
            return qg + pl.q_offset(b, si, r0 + r, 2 * h + m);
        });
    mma::cp_async_commit();
    auto load_k = [&](int k0) {
        attn_mma::load_rows_async<D, N, THREADS>(sK, kg0 + k0 * k_rs, k_rs, sk - k0, kg);
        if (!shared_k) attn_mma::load_rows_async<D, N, THREADS>(sK + Tr::kBytesK, kg1 + k0 * k_rs, k_rs, sk - k0, kg);
    };
    auto load_v = [&](int k0) { attn_mma::load_rows_async<DV, N, THREADS>(sV, vg_b + k0 * v_rs, v_rs, sk - k0, vg); };
    if (te > 0) load_k(tr.tile(0) * N);
    mma::cp_async_commit();
    mma::cp_async_wait<1>();  // Q landed (K may still be in flight)
    __syncthreads();

    uint32_t qf[KSTEPS][4];
#pragma unroll
    for (int kk = 0; kk < KSTEPS; ++kk)
        mma::ldmatrix_x4(qf[kk], mma::smem_addr(sQm + ml::smem_chunk(wr * 16 + ml::ldsm_a_row(lane),
                                                                     kk * 2 + ml::ldsm_a_chunk(lane), C) * 16));

    float o[OT][4];
#pragma unroll
    for (int j = 0; j < OT; ++j) o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.f;
    float m_run[2] = {-INFINITY, -INFINITY};  // raw units
    float l_run[2] = {0.f, 0.f};              // this thread's share of the row sums

    for (int t = 0; t < te; ++t) {
        const int k0 = tr.tile(t) * N;
        mma::cp_async_wait<0>();
        __syncthreads();  // K_t landed for every thread; every warp finished reading V_{t-1}
        load_v(k0);
        mma::cp_async_commit();

        // S = Q_m K_m^T (16 rows x N keys per warp)
        float s[NT][4];
#pragma unroll
        for (int j = 0; j < NT; ++j) s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.f;
#pragma unroll
        for (int kk = 0; kk < KSTEPS; ++kk)
#pragma unroll
            for (int np = 0; np < N / 16; ++np) {
                uint32_t kb[4];
                mma::ldmatrix_x4(kb, mma::smem_addr(sKm + ml::smem_chunk(np * 16 + ml::ldsm_bk_row(lane),
                                                                         kk * 2 + ml::ldsm_bk_chunk(lane), C) * 16));
                mma::mma_16816<T>(s[2 * np], qf[kk], kb[0], kb[1]);
                mma::mma_16816<T>(s[2 * np + 1], qf[kk], kb[2], kb[3]);
            }
        if (bd::attn::tile_needs_mask32(first, last, sk, 0, k0, N)) {
#pragma unroll
            for (int j = 0; j < NT; ++j)
#pragma unroll
                for (int e = 0; e < 4; ++e)
                    if (!bd::attn::visible32(e < 2 ? lim_a : lim_b, sk, 0, k0 + j * 8 + ml::c_col(lane, e)))
                        s[j][e] = -INFINITY;
        }

        mma::cp_async_wait<0>();
        __syncthreads();  // V_t landed; every warp finished reading K_t
        if (t + 1 < te) load_k(tr.tile(t + 1) * N);
        mma::cp_async_commit();

        // online softmax: rows a (e = 0, 1) and b (e = 2, 3); a quad holds one row
        float mx[2] = {m_run[0], m_run[1]};
#pragma unroll
        for (int j = 0; j < NT; ++j)
#pragma unroll
            for (int e = 0; e < 4; ++e) mx[e >> 1] = fmaxf(mx[e >> 1], s[j][e]);
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
            const float m_use = mx[r] == -INFINITY ? 0.f : mx[r];
            const float alpha = exp2f((m_run[r] - m_use) * pl.sl2);
            m_run[r] = mx[r];
            l_run[r] *= alpha;
#pragma unroll
            for (int j = 0; j < OT; ++j) {
                o[j][2 * r] *= alpha;
                o[j][2 * r + 1] *= alpha;
            }
            const float ms = m_use * pl.sl2;
#pragma unroll
            for (int j = 0; j < NT; ++j)
#pragma unroll
                for (int e = 2 * r; e < 2 * r + 2; ++e) {
                    s[j][e] = exp2f(fmaf(s[j][e], pl.sl2, -ms));
                    l_run[r] += s[j][e];
                }
        }

        // O_m += P_m V: the S accumulators of n-tiles 2kk, 2kk+1 are the A fragment of keys [16kk, 16kk+16)
#pragma unroll
        for (int kk = 0; kk < N / 16; ++kk) {
            uint32_t pa[4];
            pa[0] = mma::pack2<T>(s[2 * kk][0], s[2 * kk][1]);
            pa[1] = mma::pack2<T>(s[2 * kk][2], s[2 * kk][3]);
            pa[2] = mma::pack2<T>(s[2 * kk + 1][0], s[2 * kk + 1][1]);
            pa[3] = mma::pack2<T>(s[2 * kk + 1][2], s[2 * kk + 1][3]);
#pragma unroll
            for (int dq = 0; dq < DV / 16; ++dq) {
                uint32_t vb[4];
                mma::ldmatrix_x4_trans(vb, mma::smem_addr(sV + ml::smem_chunk(kk * 16 + ml::ldsm_bv_row(lane),
                                                                              dq * 2 + ml::ldsm_bv_chunk(lane), CV) * 16));
                mma::mma_16816<T>(o[2 * dq], pa, vb[0], vb[1]);
                mma::mma_16816<T>(o[2 * dq + 1], pa, vb[2], vb[3]);
            }
        }
    }
    mma::cp_async_wait<0>();  // nothing may be left in flight at exit
    __syncthreads();          // every warp finished with the tiles: the buffers become the exchange

    // ---- epilogue
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        l_run[r] += __shfl_xor_sync(0xffffffffu, l_run[r], 1);
        l_run[r] += __shfl_xor_sync(0xffffffffu, l_run[r], 2);
    }
    float* xo = reinterpret_cast<float*>(smem);  // (M, kXStride): lambda * O2 / l2
    constexpr int XS = Tr::kXStride;
    if (map == 1) {
#pragma unroll
        for (int r = 0; r < 2; ++r) {
            const float inv = l_run[r] > 0.f ? dp.lambda / l_run[r] : 0.f;
            float* dst = xo + (wr * 16 + ml::c_row(lane, 2 * r)) * XS + ml::c_col(lane, 0);
#pragma unroll
            for (int j = 0; j < OT; ++j)
                *reinterpret_cast<float2*>(dst + j * 8) = make_float2(o[j][2 * r] * inv, o[j][2 * r + 1] * inv);
        }
    }
    __syncthreads();
    if (map == 1) return;
    const T* sub = static_cast<const T*>(dp.subln);
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        const float inv = l_run[r] > 0.f ? 1.f / l_run[r] : 0.f;
        const float* x2 = xo + (wr * 16 + ml::c_row(lane, 2 * r)) * XS + ml::c_col(lane, 0);
        float ss = 0.f;
#pragma unroll
        for (int j = 0; j < OT; ++j) {
            const float2 y = *reinterpret_cast<const float2*>(x2 + j * 8);
            o[j][2 * r] = o[j][2 * r] * inv - y.x;
            o[j][2 * r + 1] = o[j][2 * r + 1] * inv - y.y;
            ss = fmaf(o[j][2 * r], o[j][2 * r], ss);
            ss = fmaf(o[j][2 * r + 1], o[j][2 * r + 1], ss);
        }
        ss += __shfl_xor_sync(0xffffffffu, ss, 1);
        ss += __shfl_xor_sync(0xffffffffu, ss, 2);
        const int64_t rr = r == 0 ? row_a : row_b;
        if (rr >= rows) continue;
        const float rn = dp.out_scale / sqrtf(ss / static_cast<float>(DV) + dp.eps);
        T* dst = static_cast<T*>(p.o) + pl.o_offset(b, si, rr, h);
#pragma unroll
        for (int j = 0; j < OT; ++j) {
            const int c = j * 8 + ml::c_col(lane, 0);
            *reinterpret_cast<uint32_t*>(dst + c) =
                mma::pack2<T>(o[j][2 * r] * rn * to_f32(sub[c]), o[j][2 * r + 1] * rn * to_f32(sub[c + 1]));
        }
    }
}

template <typename T, int D>
int run_diff_mma(const DiffPlan& dp, cudaStream_t stream) {
    using Tr = DiffTraits<D>;
    static_assert(Tr::kM == 64 && Tr::kN == 64, "tiles must match attn::tile_for (D <= 128)");
    auto kernel = diff_attention_mma_kernel<T, D>;
    if (Tr::kSmemBytes > 48 * 1024) {
        const int st = check_cuda(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, Tr::kSmemBytes),
                                  "diff_attention_mma_kernel: cudaFuncSetAttribute");
        if (st != BD_OK) return st;
    }
    const dim3 grid(static_cast<unsigned>(dp.pl.m_blocks), static_cast<unsigned>(dp.pl.head_blocks),
                    static_cast<unsigned>(dp.pl.p.batch));
    kernel<<<grid, Tr::kThreads, Tr::kSmemBytes, stream>>>(dp);
    return check_launch("diff_attention_mma_kernel");
}

}  // namespace bd::cuda::diff_mma
