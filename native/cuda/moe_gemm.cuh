// The MoE expert GEMMs: one launch covers every expert (vLLM's fused_moe decomposition).
//
// Grouped (prefill): grid (max_rows / block_m tiles, output column blocks). Tile i holds rows
// [i*block_m, (i+1)*block_m) of the expert-sorted order built by moe_align, all of ONE expert
// (expert_ids[i]); a block whose tile starts past *num_tokens_post_padded exits, so the grid is
// sized on the host from a bound and nothing needs a device->host sync (CUDA-graph safe).
//   gate/up: A rows are gathered from x through sorted_token_ids / k; B is a 128-row block of the
//            expert's weights holding 64 gate rows and the 64 matching up rows, interleaved in
//            shared memory (row 2i = gate f0+i, row 2i+1 = up f0+i) whatever the storage layout,
//            so each thread's accumulator pair (c0, c1) of an mma C fragment is (gate f, up f) of
//            one output and the activation is fused in registers.
//   down:    A rows are the act rows in sorted order; B is 128 rows of w_down[e]; the epilogue
//            multiplies by the slot's routing weight and writes the slot's own row of y_slots, so
//            un-permuting is free.
// Tensor-core path (BF16/F16, K % 8 == 0, 16-byte aligned operands, block_m in {16, 32, 64, 128}):
// mma.sync m16n8k16 from ldmatrix.x4 on XOR-swizzled shared tiles, 3-stage cp.async pipeline with
// zero-fill for padding rows and K tails. Warp tiles: BM 16 -> 4 warps of 16x32, 32 -> 4 of 32x32,
// 64 -> 4 of 32x64, 128 -> 8 of 32x64 (BN 128, BK 64). The reduction order over K is the same for
// every BM, so results do not change with the batch size's tile choice.
// SIMT path (F32 storage, odd K, any block_m): 32x64 F32 tiles, k ascending, fmaf.
// Decode (T*k small): one warp per output unit per slot, 16-byte loads along K, no permutation.
// Rounding points (mirrored by the CPU twin): F32 accumulators; act stored in T; down output
// w * (acc + b) stored in T.
#pragma once

#include "moe.cuh"
#include "moe_mma.cuh"

namespace bd::cuda::moe {

// ---- kernels

template <int BM>
struct MmaShape;
template <> struct MmaShape<16> { static constexpr int WARPS_M = 1, WARPS_N = 4; };
template <> struct MmaShape<32> { static constexpr int WARPS_M = 1, WARPS_N = 4; };
template <> struct MmaShape<64> { static constexpr int WARPS_M = 2, WARPS_N = 2; };
template <> struct MmaShape<128> { static constexpr int WARPS_M = 4, WARPS_N = 2; };

template <int BM>
constexpr int mma_threads() { return MmaShape<BM>::WARPS_M * MmaShape<BM>::WARPS_N * 32; }
template <int BM>
constexpr size_t mma_smem_bytes() { return size_t(GEMM_STAGES) * (BM + GEMM_BN) * GEMM_BK * 2; }

// As: (STAGES, BM, BK), Bs: (STAGES, BN, BK) of T, 16-byte chunks swizzled by row.
template <typename T, int BM, bool DOWN>
static __global__ void __launch_bounds__(mma_threads<BM>()) moe_mma_kernel(GemmArgs p) {
    constexpr int BN = GEMM_BN, BK = GEMM_BK, STAGES = GEMM_STAGES, THREADS = mma_threads<BM>();
    constexpr int WARPS_N = MmaShape<BM>::WARPS_N;
    constexpr int WM = BM / MmaShape<BM>::WARPS_M, WN = BN / WARPS_N, MT = WM / 16, NT = WN / 8;
    static_assert(WM % 16 == 0 && WN % 16 == 0 && NT % 2 == 0, "warp tile must be whole m16 x (2 x n8) steps");
    static_assert(BK % 16 == 0 && BK / 8 == 8, "rows of 8 16-byte chunks (the swizzle assumes it)");

    extern __shared__ __align__(128) unsigned char smem_raw[];
    T* As = reinterpret_cast<T*>(smem_raw);
    T* Bs = As + STAGES * BM * BK;
    __shared__ int64_t a_off[BM];   // element offset of each A row, -1 = padding (zero-filled)
    __shared__ int64_t b_off[BN];   // element offset of each B row, -1 = past the end (zero-filled)
    __shared__ int32_t row_slot[BM];

    const int tile = blockIdx.x;
    const int64_t m0 = static_cast<int64_t>(tile) * BM;
    if (m0 >= *p.npp) return;  // uniform: the whole block leaves before any barrier
    const int e = p.expert_ids[tile];
    if (e < 0 || e >= p.experts) return;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int wm = warp / WARPS_N, wn = warp % WARPS_N;

    for (int r = tid; r < BM; r += THREADS) {
        const int32_t s = p.sorted[m0 + r];
        const bool ok = s >= 0 && s < p.slots;
        row_slot[r] = ok ? s : -1;
        a_off[r] = !ok ? -1 : DOWN ? (m0 + r) * p.K : static_cast<int64_t>(s / p.top_k) * p.K;
    }
    for (int r = tid; r < BN; r += THREADS) {
        int64_t off = -1;
        if (DOWN) {
            const int64_t h = static_cast<int64_t>(blockIdx.y) * BN + r;
            if (h < p.n_out) off = (static_cast<int64_t>(e) * p.n_out + h) * p.K;
        } else {
            const int64_t f = static_cast<int64_t>(blockIdx.y) * (BN / 2) + r / 2;
            if (f < p.n_out) off = ((r & 1) ? up_row(p.layout, e, f, p.ffn) : gate_row(p.layout, e, f, p.ffn)) * p.K;
        }
        b_off[r] = off;
    }
    __syncthreads();

    const T* A = static_cast<const T*>(p.a);
    const T* W0 = static_cast<const T*>(p.w);
    const T* W1 = static_cast<const T*>(DOWN ? p.w : p.w_up);
    auto load_stage = [&](int stage, int kt) {
        const int64_t k0 = static_cast<int64_t>(kt) * BK;
        T* as = As + stage * BM * BK;
        T* bs = Bs + stage * BN * BK;
#pragma unroll 4
        for (int idx = tid; idx < (BM + BN) * 8; idx += THREADS) {
            const int row = idx >> 3, c = idx & 7;
            const int64_t k = k0 + c * 8;
            if (row < BM) {
                const int64_t off = a_off[row];
                const bool ok = off >= 0 && k < p.K;
                mma::cp_async16(as + row * BK + (mma::swizzle_chunk(row, c) << 3), ok ? A + off + k : A, ok);
            } else {
                const int r = row - BM;
                const int64_t off = b_off[r];
                const bool ok = off >= 0 && k < p.K;
                const T* base = (r & 1) ? W1 : W0;
                mma::cp_async16(bs + r * BK + (mma::swizzle_chunk(r, c) << 3), ok ? base + off + k : base, ok);
            }
        }
    };

    float acc[MT][NT][4];
#pragma unroll
    for (int i = 0; i < MT; ++i)
#pragma unroll
        for (int j = 0; j < NT; ++j)
#pragma unroll
            for (int c = 0; c < 4; ++c) acc[i][j][c] = 0.f;

    const int KT = static_cast<int>((p.K + BK - 1) / BK);
#pragma unroll
    for (int s = 0; s < STAGES - 1; ++s) {
        if (s < KT) load_stage(s, s);
        mma::cp_async_commit();  // always commit, so the group count stays aligned with kt
    }
    for (int kt = 0; kt < KT; ++kt) {
        mma::cp_async_wait<STAGES - 2>();  // stage kt has landed (for this thread)...
        __syncthreads();                   // ...for every thread; and stage kt-1 is no longer read
        const int nk = kt + STAGES - 1;
        if (nk < KT) load_stage(nk % STAGES, nk);  // overwrites the stage read at kt-1
        mma::cp_async_commit();
        const T* as = As + (kt % STAGES) * BM * BK;
        const T* bs = Bs + (kt % STAGES) * BN * BK;
#pragma unroll
        for (int kk = 0; kk < BK / 16; ++kk) {
            uint32_t af[MT][4], bf[NT][2];
#pragma unroll
            for (int mt = 0; mt < MT; ++mt) {
                const int row = wm * WM + mt * 16 + mma::ldsm_a_row(lane);
                const int ch = kk * 2 + mma::ldsm_a_col(lane) / 8;
                mma::ldmatrix_x4(af[mt], as + row * BK + (mma::swizzle_chunk(row, ch) << 3));
            }
#pragma unroll
            for (int nt = 0; nt < NT; nt += 2) {
                const int row = wn * WN + nt * 8 + mma::ldsm_b_row(lane);
                const int ch = kk * 2 + mma::ldsm_b_col(lane) / 8;
                uint32_t r4[4];
                mma::ldmatrix_x4(r4, bs + row * BK + (mma::swizzle_chunk(row, ch) << 3));
                bf[nt][0] = r4[0];
                bf[nt][1] = r4[1];
                bf[nt + 1][0] = r4[2];
                bf[nt + 1][1] = r4[3];
            }
#pragma unroll
            for (int mt = 0; mt < MT; ++mt)
#pragma unroll
                for (int nt = 0; nt < NT; ++nt) mma::mma_16816<T>(acc[mt][nt], af[mt], bf[nt][0], bf[nt][1]);
        }
    }
    mma::cp_async_wait<0>();

    // epilogue: element pairs (i = 0, 1) and (2, 3) of a C fragment are adjacent columns of one row
    T* out = static_cast<T*>(p.out);
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
        for (int half = 0; half < 2; ++half) {
            const int row = wm * WM + mt * 16 + mma::frag_c_row(lane, 2 * half);
            const int32_t s = row_slot[row];
            if (DOWN) {
                if (s < 0) continue;
                const float wt = p.topk_weights[s];
                T* orow = out + static_cast<int64_t>(s) * p.n_out;
#pragma unroll
                for (int nt = 0; nt < NT; ++nt) {
                    const int64_t h = static_cast<int64_t>(blockIdx.y) * BN + wn * WN + nt * 8 + mma::frag_c_col(lane, 0);
                    float v0 = acc[mt][nt][2 * half], v1 = acc[mt][nt][2 * half + 1];
                    const T* bd = static_cast<const T*>(p.b);
                    if (h < p.n_out) {
                        if (bd) v0 += to_f32(bd[static_cast<int64_t>(e) * p.n_out + h]);
                        orow[h] = from_f32<T>(wt * v0);
                    }
                    if (h + 1 < p.n_out) {
                        if (bd) v1 += to_f32(bd[static_cast<int64_t>(e) * p.n_out + h + 1]);
                        orow[h + 1] = from_f32<T>(wt * v1);
                    }
                }
            } else {
                T* orow = out + (m0 + row) * p.n_out;
                const T* bg = static_cast<const T*>(p.b);
                const T* bu = static_cast<const T*>(p.b_up);
#pragma unroll
                for (int nt = 0; nt < NT; ++nt) {
                    const int64_t f = static_cast<int64_t>(blockIdx.y) * (BN / 2) + (wn * WN + nt * 8) / 2 + (lane & 3);
                    if (f >= p.n_out) continue;
                    float v = 0.f;
                    if (s >= 0) {
                        float g = acc[mt][nt][2 * half], u = acc[mt][nt][2 * half + 1];
                        if (bg) {
                            g += to_f32(bg[gate_row(p.layout, e, f, p.ffn)]);
                            u += to_f32(bu[up_row(p.layout, e, f, p.ffn)]);
                        }
                        v = glu(p.act, g, u);
                    }
                    orow[f] = from_f32<T>(v);
                }
            }
        }
}

// F32 SIMT fallback: 256 threads, 32 rows x 64 B rows per step, BK 16, any block_m (looped in
// chunks of 32 rows inside the tile). Thread (ty, tx) owns rows 2ty, 2ty+1 and B rows 4tx..4tx+3
// (gate/up: gate f, up f, gate f+1, up f+1).
template <typename T, bool DOWN>
static __global__ void __launch_bounds__(256) moe_simt_kernel(GemmArgs p) {
    constexpr int BMS = 32, BNS = 64, BKS = 16;
    __shared__ float As[BKS][BMS];
    __shared__ __align__(16) float Bs[BKS][BNS + 4];
    __shared__ int64_t a_off[BMS];
    __shared__ int32_t row_slot[BMS];
    __shared__ int64_t b_off[BNS];

    const int tile = blockIdx.x, bm = p.block_m;
    const int64_t m0 = static_cast<int64_t>(tile) * bm;
    if (m0 >= *p.npp) return;
    const int e = p.expert_ids[tile];
    if (e < 0 || e >= p.experts) return;
    const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
    const T* A = static_cast<const T*>(p.a);
    const T* W0 = static_cast<const T*>(p.w);
    const T* W1 = static_cast<const T*>(DOWN ? p.w : p.w_up);

    for (int r = tid; r < BNS; r += 256) {
        int64_t off = -1;
        if (DOWN) {
            const int64_t h = static_cast<int64_t>(blockIdx.y) * BNS + r;
            if (h < p.n_out) off = (static_cast<int64_t>(e) * p.n_out + h) * p.K;
        } else {
            const int64_t f = static_cast<int64_t>(blockIdx.y) * (BNS / 2) + r / 2;
            if (f < p.n_out) off = ((r & 1) ? up_row(p.layout, e, f, p.ffn) : gate_row(p.layout, e, f, p.ffn)) * p.K;
        }
        b_off[r] = off;
    }
    for (int r0 = 0; r0 < bm; r0 += BMS) {
        __syncthreads();  // row tables of the previous chunk are no longer read
        for (int r = tid; r < BMS; r += 256) {
            const int32_t s = r0 + r < bm ? p.sorted[m0 + r0 + r] : -1;
            const bool ok = s >= 0 && s < p.slots;
            row_slot[r] = ok ? s : (r0 + r < bm ? -1 : -2);
            a_off[r] = !ok ? -1 : DOWN ? (m0 + r0 + r) * p.K : static_cast<int64_t>(s / p.top_k) * p.K;
        }
        __syncthreads();
        float acc[2][4] = {};
        for (int64_t k0 = 0; k0 < p.K; k0 += BKS) {
            for (int i = tid; i < BMS * BKS; i += 256) {
                const int r = i / BKS, kk = i % BKS;
                const int64_t k = k0 + kk, off = a_off[r];
                As[kk][r] = (off >= 0 && k < p.K) ? to_f32(A[off + k]) : 0.f;
            }
            for (int i = tid; i < BNS * BKS; i += 256) {
                const int r = i / BKS, kk = i % BKS;
                const int64_t k = k0 + kk, off = b_off[r];
                Bs[kk][r] = (off >= 0 && k < p.K) ? to_f32(((r & 1) ? W1 : W0)[off + k]) : 0.f;
            }
            __syncthreads();
#pragma unroll
            for (int kk = 0; kk < BKS; ++kk) {
                const float a0 = As[kk][2 * ty], a1 = As[kk][2 * ty + 1];
                const float4 b = *reinterpret_cast<const float4*>(&Bs[kk][4 * tx]);
                acc[0][0] = fmaf(a0, b.x, acc[0][0]);
                acc[0][1] = fmaf(a0, b.y, acc[0][1]);
                acc[0][2] = fmaf(a0, b.z, acc[0][2]);
                acc[0][3] = fmaf(a0, b.w, acc[0][3]);
                acc[1][0] = fmaf(a1, b.x, acc[1][0]);
                acc[1][1] = fmaf(a1, b.y, acc[1][1]);
                acc[1][2] = fmaf(a1, b.z, acc[1][2]);
                acc[1][3] = fmaf(a1, b.w, acc[1][3]);
            }
            __syncthreads();
        }
        T* out = static_cast<T*>(p.out);
#pragma unroll
        for (int i = 0; i < 2; ++i) {
            const int r = 2 * ty + i;
            const int32_t s = row_slot[r];
            if (s == -2) continue;
            if (DOWN) {
                if (s < 0) continue;
                const float wt = p.topk_weights[s];
                const T* bd = static_cast<const T*>(p.b);
#pragma unroll
                for (int j = 0; j < 4; ++j) {
                    const int64_t h = static_cast<int64_t>(blockIdx.y) * BNS + 4 * tx + j;
                    if (h >= p.n_out) continue;
                    float v = acc[i][j];
                    if (bd) v += to_f32(bd[static_cast<int64_t>(e) * p.n_out + h]);
                    out[static_cast<int64_t>(s) * p.n_out + h] = from_f32<T>(wt * v);
                }
            } else {
                const T* bg = static_cast<const T*>(p.b);
                const T* bu = static_cast<const T*>(p.b_up);
#pragma unroll
                for (int j = 0; j < 2; ++j) {
                    const int64_t f = static_cast<int64_t>(blockIdx.y) * (BNS / 2) + 2 * tx + j;
                    if (f >= p.n_out) continue;
                    float v = 0.f;
                    if (s >= 0) {
                        float g = acc[i][2 * j], u = acc[i][2 * j + 1];
                        if (bg) {
                            g += to_f32(bg[gate_row(p.layout, e, f, p.ffn)]);
                            u += to_f32(bu[up_row(p.layout, e, f, p.ffn)]);
                        }
                        v = glu(p.act, g, u);
                    }
                    out[(m0 + r0 + r) * p.n_out + f] = from_f32<T>(v);
                }
            }
        }
    }
}

// 16-byte vector of T as F32 values.
template <typename T>
struct Vec16 {
    static constexpr int N = 16 / sizeof(T);
    __device__ __forceinline__ static void load(const T* p, float (&v)[N]) {
        const uint4 raw = __ldg(reinterpret_cast<const uint4*>(p));
        const T* t = reinterpret_cast<const T*>(&raw);
#pragma unroll
        for (int i = 0; i < N; ++i) v[i] = to_f32(t[i]);
    }
};

// Dot products of a (K) with one or two weight rows, lane-strided; VEC: 16-byte loads (K % N == 0,
// 16-byte aligned rows), else scalar.
template <typename T, bool VEC, bool TWO>
__device__ __forceinline__ void warp_dot(const T* a, const T* w0, const T* w1, int64_t K, int lane, float& d0,
                                         float& d1) {
    if (VEC) {
        constexpr int N = Vec16<T>::N;
#pragma unroll 4
        for (int64_t k = static_cast<int64_t>(lane) * N; k < K; k += 32 * N) {
            float av[N], wv[N];
            Vec16<T>::load(a + k, av);
            Vec16<T>::load(w0 + k, wv);
#pragma unroll
            for (int i = 0; i < N; ++i) d0 = fmaf(av[i], wv[i], d0);
            if (TWO) {
                Vec16<T>::load(w1 + k, wv);
#pragma unroll
                for (int i = 0; i < N; ++i) d1 = fmaf(av[i], wv[i], d1);
            }
        }
    } else {
        for (int64_t k = lane; k < K; k += 32) {
            const float av = to_f32(a[k]);
            d0 = fmaf(av, to_f32(w0[k]), d0);
            if (TWO) d1 = fmaf(av, to_f32(w1[k]), d1);
        }
    }
}

// Decode GEMV: grid (ceil(n_out / 8), T*k); warp w of block b computes output unit b*8 + w of slot
// blockIdx.y (gate/up: act f from the gate and up rows; down: column h). No shared memory, no barrier.
template <typename T, bool DOWN, bool VEC>
static __global__ void __launch_bounds__(DECODE_WARPS * 32) moe_decode_kernel(GemmArgs p) {
    const int lane = threadIdx.x & 31;
    const int64_t s = blockIdx.y;
    const int64_t u = static_cast<int64_t>(blockIdx.x) * DECODE_WARPS + (threadIdx.x >> 5);
    if (u >= p.n_out) return;
    const int e = p.topk_ids[s];
    T* out = static_cast<T*>(p.out);
    if (e < 0 || e >= p.experts) {
        if (!DOWN && lane == 0) out[s * p.n_out + u] = from_f32<T>(0.f);
        return;
    }
    const T* a = static_cast<const T*>(p.a) + (DOWN ? s : s / p.top_k) * p.K;
    float d0 = 0.f, d1 = 0.f;
    if (DOWN) {
        const T* w = static_cast<const T*>(p.w) + (static_cast<int64_t>(e) * p.n_out + u) * p.K;
        warp_dot<T, VEC, false>(a, w, w, p.K, lane, d0, d1);
        d0 = warp_sum(d0);
        if (lane == 0) {
            if (p.b) d0 += to_f32(static_cast<const T*>(p.b)[static_cast<int64_t>(e) * p.n_out + u]);
            out[s * p.n_out + u] = from_f32<T>(p.topk_weights[s] * d0);
        }
    } else {
        const T* wg = static_cast<const T*>(p.w) + gate_row(p.layout, e, u, p.ffn) * p.K;
        const T* wu = static_cast<const T*>(p.w_up) + up_row(p.layout, e, u, p.ffn) * p.K;
        warp_dot<T, VEC, true>(a, wg, wu, p.K, lane, d0, d1);
        d0 = warp_sum(d0);
        d1 = warp_sum(d1);
        if (lane == 0) {
            if (p.b) {
                d0 += to_f32(static_cast<const T*>(p.b)[gate_row(p.layout, e, u, p.ffn)]);
                d1 += to_f32(static_cast<const T*>(p.b_up)[up_row(p.layout, e, u, p.ffn)]);
            }
            out[s * p.n_out + u] = from_f32<T>(glu(p.act, d0, d1));
        }
    }
}

// ---- launchers

inline bool aligned16(const void* ptr) { return (reinterpret_cast<uintptr_t>(ptr) & 15u) == 0; }

template <typename T, int BM, bool DOWN>
static int launch_mma(const GemmArgs& p, cudaStream_t stream) {
    const dim3 grid(static_cast<unsigned>(p.max_rows / BM),
                    static_cast<unsigned>(DOWN ? (p.n_out + GEMM_BN - 1) / GEMM_BN : (p.n_out + GEMM_BN / 2 - 1) / (GEMM_BN / 2)));
    const size_t smem = mma_smem_bytes<BM>();
    int st = check_cuda(cudaFuncSetAttribute(moe_mma_kernel<T, BM, DOWN>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                             static_cast<int>(smem)),
                        "cudaFuncSetAttribute(moe_mma_kernel)");
    if (st != BD_OK) return st;
    moe_mma_kernel<T, BM, DOWN><<<grid, mma_threads<BM>(), smem, stream>>>(p);
    return check_launch(DOWN ? "moe_mma_kernel<down>" : "moe_mma_kernel<gate_up>");
}

template <typename T, bool DOWN>
static int launch_simt(const GemmArgs& p, cudaStream_t stream) {
    const dim3 grid(static_cast<unsigned>(p.max_rows / p.block_m),
                    static_cast<unsigned>(DOWN ? (p.n_out + 63) / 64 : (p.n_out + 31) / 32));
    moe_simt_kernel<T, DOWN><<<grid, 256, 0, stream>>>(p);
    return check_launch(DOWN ? "moe_simt_kernel<down>" : "moe_simt_kernel<gate_up>");
}

// Whether the tensor-core kernel can take this call (else SIMT).
template <typename T>
static bool mma_ok(const GemmArgs& p, bool down) {
    if (sizeof(T) != 2 || p.K % 8 != 0) return false;
    if (p.block_m != 16 && p.block_m != 32 && p.block_m != 64 && p.block_m != 128) return false;
    return aligned16(p.a) && aligned16(p.w) && (down || aligned16(p.w_up));
}

template <typename T, bool DOWN>
static int launch_grouped_t(const GemmArgs& p, bool allow_mma, cudaStream_t stream) {
    if (p.max_rows == 0) return BD_OK;
    if constexpr (sizeof(T) == 2) {
        if (allow_mma && mma_ok<T>(p, DOWN)) {
            switch (p.block_m) {
                case 16: return launch_mma<T, 16, DOWN>(p, stream);
                case 32: return launch_mma<T, 32, DOWN>(p, stream);
                case 64: return launch_mma<T, 64, DOWN>(p, stream);
                default: return launch_mma<T, 128, DOWN>(p, stream);
            }
        }
    }
    return launch_simt<T, DOWN>(p, stream);
}

template <typename T>
int launch_grouped(const GemmArgs& p, bool down, bool allow_mma, cudaStream_t stream) {
    return down ? launch_grouped_t<T, true>(p, allow_mma, stream) : launch_grouped_t<T, false>(p, allow_mma, stream);
}

template <typename T, bool DOWN>
static int launch_decode_t(const GemmArgs& p, cudaStream_t stream) {
    const dim3 grid(static_cast<unsigned>((p.n_out + DECODE_WARPS - 1) / DECODE_WARPS), static_cast<unsigned>(p.slots));
    const bool vec = p.K % Vec16<T>::N == 0 && aligned16(p.a) && aligned16(p.w) && (DOWN || aligned16(p.w_up));
    if (vec)
        moe_decode_kernel<T, DOWN, true><<<grid, DECODE_WARPS * 32, 0, stream>>>(p);
    else
        moe_decode_kernel<T, DOWN, false><<<grid, DECODE_WARPS * 32, 0, stream>>>(p);
    return check_launch(DOWN ? "moe_decode_kernel<down>" : "moe_decode_kernel<gate_up>");
}

template <typename T>
int launch_decode(const GemmArgs& p, bool down, cudaStream_t stream) {
    return down ? launch_decode_t<T, true>(p, stream) : launch_decode_t<T, false>(p, stream);
}

}  // namespace bd::cuda::moe
