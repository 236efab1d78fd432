// FlashAttention-2-style forward kernel for BF16/F16 on tensor cores (mma.sync m16n8k16, sm_80+),
// included only by the generated instances (native/cuda/instances/attention_hd*_*.cu).
//
// One block per (query tile, head block, batch row[, KV split]); 4 warps split the 64 query rows,
// 16 rows each, and share every 64-key K/V tile (KERNEL-NOTES, "Decomposition"). Per block:
//   Q tile -> shared (cp.async) -> registers as mma A fragments (head dim <= 128; 256 reads them
//   from shared memory at each k-step instead, to stay clear of spills);
//   for each visible key tile, from the diagonal down, then the sink-token tiles (with a
//   block-sparse layout: the listed blocks' tiles, walked down by attn::SparseWalk):
//     wait + barrier -> async load of V_j -> [RoPE on K_j in shared memory] -> S = Q K_j^T
//     -> softcap -> element mask (boundary tiles only) -> wait + barrier -> async load of K_{j+1}
//     -> online softmax in registers (quad shuffles) -> P as 16-bit A fragments -> O += P V_j
//     (V read as V^T through ldmatrix.trans).
//   epilogue: O /= sum, lse = m scale + ln(sum) (+ learned sink), fully masked rows -> 0 and -inf;
//   with split-KV the partial O (F32, normalised by its own sum) and LSE go to the workspace.
// K and V tiles live in one buffer each; the two barriers per tile let V_j load during Q K_j^T and
// K_{j+1} load during softmax and P V_j. Out-of-range rows are zero-filled by cp.async (src-size 0).
// Shared tiles are XOR-swizzled (head dims 64/128/256) or padded to an odd number of 16-byte
// chunks (80/96), see mma_layout.hpp. Tiles, masks and split boundaries come from
// detail/attention_plan.hpp, as in the CPU twin (native/cpu/attention.cpp).
#pragma once

#include "attention/attention.cuh"
#include "attention/mma.cuh"
#include "cuda_common.cuh"

namespace bd::cuda::attn_mma {

using bd::attn::Mask;
using bd::attn::Plan;
using bd::attn::SeqInfo;
using bd::attn::TileRange;
namespace ml = bd::mma_layout;

// ptxas -v (nvcc 13.0, sm_90, no RoPE; sm_80 within a few registers), no spills and no stack:
//   hd64 156 regs, hd80 190, hd96 202, hd128 213 (sm_80: 203), hd256 255; RoPE-K variants add a
//   32-byte stack frame (the sincosf slow path) and no spills. 2 blocks of 128 threads per SM.
// Block-sparse (kSparse), same measure, BF16 and F16 alike: the dense instances are unchanged by it
//   (registers above, before and after); the sparse ones: hd64 156, hd80 190 (sm_80: 192), hd96
//   201, hd128 214 (sm_80: 204), hd256 239, hd64 with V 128 198 (sm_80: 188), no spills, no stack,
//   128 bytes of static shared memory (the walk). The losing option: the SparseWalk and the next
//   tile in registers of every thread: +18 to +21 regs at hd64..128 (hd128 232) and 255 regs +
//   4/8 bytes of spill stores/loads at hd256 (sm_80: 8/24); reducing the per-row mask state to bits
//   did not help there (hd256 8/24, RoPE-K 36/88). Hence the walk in shared memory, advanced by
//   thread 0 one tile ahead.
// V width HDV (Traits' second parameter) left the HDV == HD instances unchanged (hd64 153/156 regs
// sm_80/sm_90, hd128 203/213, before and after); hd64 with V 128 (differential attention's width):
// 186 regs sm_80, 197 sm_90 (RoPE-K 188 / 201), no spills. hd128 with V 256 is not instantiated:
// its 64 x 256 O accumulator is the head dim 256 case that already needs 32-key tiles.
// Losing options, measured the same way: accurate tanhf for softcap inlined per score: +46 regs at
// hd64 (now one exp2 + a correctly rounded reciprocal, shared with the CPU twin); 64-bit loop
// state and per-row address math for the K/V loads: +24 and +50 regs at hd64; 64-key tiles at
// hd256: 255 regs + 148 bytes of spills; __launch_bounds__(128, 3) (168 regs): 8 / 92 / 292 bytes
// of spill loads at hd64 / 96 / 128.
// HD: the Q/K head dim; HDV: the V/O width (HDV == HD for ordinary attention; 2 HD for the
// differential benchmark's one-causal-attention peer and its two-pass reference).
template <int HD, int HDV = HD>
struct Traits {
    // 64-key tiles; 32 for head dim 256, where the 64 x 256 O accumulator leaves no room for 64 scores
    static constexpr int kM = 64, kN = HD <= 128 ? 64 : 32, kWarps = 4, kThreads = 32 * kWarps;
    static constexpr int kChunks = HD / 8;  // 16-byte chunks per row
    static constexpr int kRowChunks = ml::row_stride_chunks(kChunks);
    static constexpr int kChunksV = HDV / 8, kRowChunksV = ml::row_stride_chunks(kChunksV);
    static constexpr bool kQInRegs = HD <= 128;
    static constexpr int kBytesQ = kM * kRowChunks * 16;
    static constexpr int kBytesKV = kN * kRowChunks * 16;  // the K tile
    static constexpr int kBytesV = kN * kRowChunksV * 16;
    static constexpr int kSmemBytes = kBytesQ + kBytesKV + kBytesV;
    static_assert(HD % 16 == 0 && HD <= 256, "head dim must be a multiple of 16, at most 256");
    static_assert(HDV % 16 == 0 && HDV <= 256, "V width must be a multiple of 16, at most 256");
    static_assert(kM == 16 * kWarps, "each warp owns 16 query rows");
    static_assert(kN % 16 == 0, "key tile must be a multiple of 16");
    // must agree with the plan the CPU twin uses
};

// ---- kernels

// A (ROWS x HD) 16-bit tile -> shared memory, zero-filling rows from `valid_rows` on.
// row_ptr(r) gives the global address of row r (only called for valid rows). THREADS: the block's
// threads, all of which take part.
template <int HD, int ROWS, int THREADS = Traits<HD>::kThreads, typename T, typename RowPtr>
__device__ __forceinline__ void load_tile_async(unsigned char* s, const T* base, int64_t valid_rows, RowPtr row_ptr) {
    constexpr int C = HD / 8;
    for (int idx = threadIdx.x; idx < ROWS * C; idx += THREADS) {
        const int r = idx / C, c = idx % C;
        const bool valid = r < valid_rows;
        const T* src = valid ? row_ptr(r) + c * 8 : base;
        mma::cp_async_16(mma::smem_addr(s + ml::smem_chunk(r, c, C) * 16), src, valid);
    }
}

// Same for rows at a fixed stride (K and V tiles): when the block's threads tile a row exactly,
// each thread keeps one chunk column and walks its rows by pointer increments (cheap on registers).
template <int HD, int ROWS, int THREADS = Traits<HD>::kThreads, typename T>
__device__ __forceinline__ void load_rows_async(unsigned char* s, const T* row0, int64_t row_stride, int valid_rows,
                                                const T* base) {
    constexpr int C = HD / 8;
    if constexpr (THREADS % C == 0 && ROWS % (THREADS / C) == 0) {
        constexpr int RSTEP = THREADS / C;
        const int c = threadIdx.x % C, r0 = threadIdx.x / C;
        const T* src = row0 + r0 * row_stride + c * 8;
        const int64_t step = RSTEP * row_stride;
#pragma unroll
        for (int i = 0; i < ROWS / RSTEP; ++i) {
            const int r = r0 + i * RSTEP;
            const bool valid = r < valid_rows;
            mma::cp_async_16(mma::smem_addr(s + ml::smem_chunk(r, c, C) * 16), valid ? src : base, valid);
            src += step;
        }
    } else {
        load_tile_async<HD, ROWS, THREADS>(s, base, valid_rows, [&](int r) { return row0 + r * row_stride; });
    }
}

// A block-sparse layout row's column list toward L1, one prefetch per 128-byte line spread over the
// block's threads (a hint: nothing is read into registers), so that one thread's serial walk over
// the list waits about one memory round trip instead of one per entry.
__device__ __forceinline__ void prefetch_l1(const bd::attn::SparseRow& r) {
    if (r.n <= 0) return;
    const uintptr_t lo = reinterpret_cast<uintptr_t>(r.col) & ~static_cast<uintptr_t>(127);
    const uintptr_t hi = reinterpret_cast<uintptr_t>(r.col + r.n);
    for (uintptr_t a = lo + static_cast<uintptr_t>(threadIdx.x) * 128; a < hi; a += static_cast<uintptr_t>(blockDim.x) * 128)
        asm volatile("prefetch.global.L1 [%0];" ::"l"(a));
}

// Split-half RoPE of the K tile in shared memory at each key's position, stored back in T.
template <typename T, int HD>
__device__ __forceinline__ void rope_tile(unsigned char* sK, const Plan& pl, int64_t b, const SeqInfo& si, int k0) {
    constexpr int half = HD / 2, C = HD / 8, N = Traits<HD>::kN;
    for (int idx = threadIdx.x; idx < N * half; idx += Traits<HD>::kThreads) {
        const int r = idx / half, i = idx % half;
        const int64_t j = k0 + r;
        if (j >= si.sk) continue;  // zero rows stay zero
        const float pos = static_cast<float>(pl.p.k_rope_positions[pl.rope_offset(b, si, j)]);
        const float ang = pos * pl.rope_inv_freq[i];
        double sd, cd;  // F64 then rounded, as the CPU twin: both backends get the same F32 values
        sincos(static_cast<double>(ang), &sd, &cd);
        const float sn = static_cast<float>(sd), cs = static_cast<float>(cd);
        T* e1 = reinterpret_cast<T*>(sK + ml::smem_chunk(r, i / 8, C) * 16) + i % 8;
        T* e2 = reinterpret_cast<T*>(sK + ml::smem_chunk(r, (i + half) / 8, C) * 16) + (i + half) % 8;
        const float x1 = to_f32(*e1), x2 = to_f32(*e2);
        *e1 = from_f32<T>(fmaf(x1, cs, -(x2 * sn)));
        *e2 = from_f32<T>(fmaf(x2, cs, x1 * sn));
    }
}

// kSparse: a block-sparse layout (p.block_row_ptr) chooses the key tiles; a compile-time flag so
// the dense instances keep their registers. The walk (attn::SparseWalk, as in the CPU twin) lives
// in shared memory and only thread 0 advances it, publishing tile u of this split (u = t - tb) and
// its `which` in slot u & 1 one tile ahead of the K prefetch that needs it: written after the
// barrier of tile u - 2 (whose readers are done), read after the barriers of tile u - 1.
template <typename T, int HD, int HDV, bool kRopeK, bool kSparse>
__global__ void __launch_bounds__(128, 2) attention_fwd_mma_kernel(const __grid_constant__ Plan pl) {
    using Tr = Traits<HD, HDV>;
    constexpr int M = Tr::kM, N = Tr::kN, C = Tr::kChunks, CV = Tr::kChunksV;
    constexpr int KSTEPS = HD / 16;  // k-steps of Q K^T
    constexpr int NT = N / 8;        // n8 tiles of S
    constexpr int OT = HDV / 8;      // n8 tiles of O
    extern __shared__ __align__(128) unsigned char smem[];
    unsigned char* sQ = smem;                  // (M, HD)
    unsigned char* sK = smem + Tr::kBytesQ;    // (N, HD)
    unsigned char* sV = sK + Tr::kBytesKV;     // (N, HDV)

    const bd_attention_params& p = pl.p;
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const int split = static_cast<int>(blockIdx.x % pl.num_splits);
    const int64_t mb = pl.m_blocks - 1 - static_cast<int64_t>(blockIdx.x / pl.num_splits);  // long tiles first
    const int hb = blockIdx.y;
    const int64_t b = blockIdx.z;
    const SeqInfo si = bd::attn::seq_info(p, b);
    const int64_t rows = si.sq * pl.pack, r0 = mb * M;
    if (r0 >= rows) return;  // whole block: varlen sequence shorter than the longest
    const Mask mk = bd::attn::make_mask(p, si);
    const int64_t i0 = pl.row_query(r0), i1 = pl.row_query(bd::attn::min64(r0 + M, rows) - 1);
    const TileRange tr = bd::attn::tile_range(mk, i0, i1, N);  // a layout has no window: [0, win_hi)
    // sparse: the union of the tile's (<= 2) layout rows below the diagonal, split like the dense
    // list; the walk is set up after the Q tile's load is issued (below), so the two overlap
    __shared__ bd::attn::SparseWalk s_walk;
    __shared__ int s_slot[2][2];  // (tile, which) of tiles u and u + 1 ahead of the loop
    __shared__ int s_range[2];
    int64_t qb_lo = 0, qb_hi = 0;
    int tb = 0, te = 0;
    if constexpr (kSparse) {
        qb_lo = bd::attn::query_block(mk, i0, p.block_size);
        qb_hi = bd::attn::query_block(mk, i1, p.block_size);
    } else {
        bd::attn::split_range(tr.count(), split, pl.num_splits, &tb, &te);
    }
    // loop state in 32 bits (sequence lengths < 2^31): mask limits of the tile's first and last
    // rows and of this thread's two rows (block rows warp*16 + (lane >> 2) and + 8, the mma C rows)
    const int sk = static_cast<int>(si.sk), sink = p.sink_tokens;
    const bd::attn::RowLimits first = bd::attn::row_limits(mk, i0), last = bd::attn::row_limits(mk, i1);
    const int64_t row_a = r0 + warp * 16 + ml::c_row(lane, 0), row_b = row_a + 8;
    const bd::attn::RowLimits lim_a = bd::attn::row_limits(mk, pl.row_query(row_a));
    const bd::attn::RowLimits lim_b = bd::attn::row_limits(mk, pl.row_query(row_b));
    // sparse, per tile: the element mask applies unless sparse_tile_full(which, qb_lo, qb_hi); a row
    // sees the tile when sparse_row_sees(which, its query block, qb_lo). Both reduce to a bit of
    // `which` fixed for the whole loop (the tile's rows, and each of this thread's two rows, belong
    // to qb_lo's list or to qb_hi's), so only three small ints stay live across the key tiles.
    int full_bits = 3, sees_a = 3, sees_b = 3;  // tile full when (which & full_bits) == full_bits
    if constexpr (kSparse) {
        full_bits = qb_lo == qb_hi ? 0 : 3;
        sees_a = bd::attn::query_block(mk, pl.row_query(row_a), p.block_size) == qb_lo ? 1 : 2;
        sees_b = bd::attn::query_block(mk, pl.row_query(row_b), p.block_size) == qb_lo ? 1 : 2;
    }
    const int hk = pl.kv_head(hb);
    const T* qg = static_cast<const T*>(p.q);
    const T* kg = static_cast<const T*>(p.k);
    const T* vg = static_cast<const T*>(p.v);
    const T* kg_b = kg + pl.k_offset(b, si, 0, hk);  // key j of this (sequence, KV head): + j * row stride
    const T* vg_b = vg + pl.v_offset(b, si, 0, hk);
    const int64_t k_rs = p.k_row_stride, v_rs = p.v_row_stride;

    // ---- prologue: Q tile and the first K tile
    load_tile_async<HD, M>(sQ, qg, rows - r0, [&](int r) {
        const int64_t rr = r0 + r;
        return qg + pl.q_offset(b, si, pl.row_query(rr), pl.row_head(rr, hb));
    });
    mma::cp_async_commit();
    if constexpr (kSparse) {
        // the block's threads pull the rows' column lists toward L1 in parallel, then thread 0 walks
        // them serially (count, skip to this split's share, the first two tiles) and shares the result
        const int lh = p.block_heads == 1 ? 0 : hb;
        prefetch_l1(bd::attn::sparse_row(p, lh, qb_lo));
        if (qb_hi != qb_lo) prefetch_l1(bd::attn::sparse_row(p, lh, qb_hi));
        if (tid == 0) {
            int64_t lo, hi;
            bd::attn::SparseWalk w = bd::attn::sparse_walk(p, mk, lh, i0, i1, N, tr.win_hi, &lo, &hi);
            bd::attn::split_range(w.count(), split, pl.num_splits, &tb, &te);
            w.skip(tb);
            for (int u = 0; u < 2 && tb + u < te; ++u) w.next(&s_slot[u][0], &s_slot[u][1]);
            s_walk = w;
            s_range[0] = tb;
            s_range[1] = te;
        }
        __syncthreads();
        tb = s_range[0];
        te = s_range[1];
    }
    auto load_k = [&](int k0) { load_rows_async<HD, N>(sK, kg_b + k0 * k_rs, k_rs, sk - k0, kg); };
    auto load_v = [&](int k0) { load_rows_async<HDV, N>(sV, vg_b + k0 * v_rs, v_rs, sk - k0, vg); };
    int next_tile = 0, next_which = 3;  // sparse: the walk's next tile (K prefetched) and its lists
    if (tb < te) {
        if constexpr (kSparse) {
            next_tile = s_slot[0][0];
            next_which = s_slot[0][1];
        } else {
            next_tile = tr.tile(tb);
        }
        load_k(next_tile * N);
    }
    mma::cp_async_commit();
    mma::cp_async_wait<1>();  // Q landed (K may still be in flight)
    __syncthreads();

    auto q_frag_addr = [&](int kk) {
        return mma::smem_addr(sQ + ml::smem_chunk(warp * 16 + ml::ldsm_a_row(lane), kk * 2 + ml::ldsm_a_chunk(lane), C) * 16);
    };
    uint32_t qf[Tr::kQInRegs ? KSTEPS : 1][4];
    if constexpr (Tr::kQInRegs) {
#pragma unroll
        for (int kk = 0; kk < KSTEPS; ++kk) mma::ldmatrix_x4(qf[kk], q_frag_addr(kk));
    }

    float o[OT][4];
#pragma unroll
    for (int j = 0; j < OT; ++j) o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.f;
    float m_run[2] = {-INFINITY, -INFINITY};  // raw units
    float l_run[2] = {0.f, 0.f};              // this thread's share of the row sums

    for (int t = tb; t < te; ++t) {
        const int k0 = (kSparse ? next_tile : tr.tile(t)) * N;
        const int which = next_which;  // 3 (every row) when dense
        mma::cp_async_wait<0>();
        __syncthreads();  // K_t landed for every thread; every warp finished reading V_{t-1}
        load_v(k0);
        mma::cp_async_commit();
        if constexpr (kRopeK) {
            rope_tile<T, HD>(sK, pl, b, si, k0);
            __syncthreads();
        }

        // S = Q K^T (16 rows x N keys per warp)
        float s[NT][4];
#pragma unroll
        for (int j = 0; j < NT; ++j) s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.f;
#pragma unroll
        for (int kk = 0; kk < KSTEPS; ++kk) {
            uint32_t qa[4];
            if constexpr (Tr::kQInRegs) {
                qa[0] = qf[kk][0];
                qa[1] = qf[kk][1];
                qa[2] = qf[kk][2];
                qa[3] = qf[kk][3];
            } else {
                mma::ldmatrix_x4(qa, q_frag_addr(kk));
            }
#pragma unroll
            for (int np = 0; np < N / 16; ++np) {
                uint32_t kb[4];
                mma::ldmatrix_x4(kb, mma::smem_addr(sK + ml::smem_chunk(np * 16 + ml::ldsm_bk_row(lane),
                                                                        kk * 2 + ml::ldsm_bk_chunk(lane), C) * 16));
                mma::mma_16816<T>(s[2 * np], qa, kb[0], kb[1]);
                mma::mma_16816<T>(s[2 * np + 1], qa, kb[2], kb[3]);
            }
        }
        if (pl.softcap_pre2 > 0.f) {
#pragma unroll
            for (int j = 0; j < NT; ++j)
#pragma unroll
                for (int e = 0; e < 4; ++e) s[j][e] = bd::attn::softcap_tanh(s[j][e], pl.softcap_pre2);
        }
        if (pl.has_bias) {  // position biases (T5 relative, ALiBi) by key - aligned query position
            const int64_t ip_a = pl.row_query(row_a) + mk.shift, ip_b = pl.row_query(row_b) + mk.shift;
            const int h_a = pl.row_head(row_a, hb), h_b = pl.row_head(row_b, hb);
#pragma unroll
            for (int j = 0; j < NT; ++j)
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    const int64_t col = k0 + j * 8 + ml::c_col(lane, e);
                    s[j][e] += bd::attn::position_bias_raw(pl, e < 2 ? h_a : h_b, col - (e < 2 ? ip_a : ip_b));
                }
        }
        if (bd::attn::tile_needs_mask32(first, last, sk, sink, k0, N) ||
            (kSparse && (which & full_bits) != full_bits)) {  // = !sparse_tile_full(which, qb_lo, qb_hi)
#pragma unroll
            for (int j = 0; j < NT; ++j)
#pragma unroll
                for (int e = 0; e < 4; ++e)
                    if (!bd::attn::visible32(e < 2 ? lim_a : lim_b, sk, sink, k0 + j * 8 + ml::c_col(lane, e)) ||
                        (kSparse && !(which & (e < 2 ? sees_a : sees_b))))  // = !sparse_row_sees(...)
                        s[j][e] = -INFINITY;
        }

        mma::cp_async_wait<0>();
        __syncthreads();  // V_t landed; every warp finished reading K_t
        if (t + 1 < te) {
            if constexpr (kSparse) {
                const int u1 = (t + 1 - tb) & 1;
                next_tile = s_slot[u1][0];
                next_which = s_slot[u1][1];
                if (tid == 0 && t + 2 < te) s_walk.next(&s_slot[u1 ^ 1][0], &s_slot[u1 ^ 1][1]);
            } else {
                next_tile = tr.tile(t + 1);
            }
            load_k(next_tile * N);
        }
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

        // O += P V: the S accumulators of n-tiles 2kk, 2kk+1 are the A fragment of keys [16kk, 16kk+16)
#pragma unroll
        for (int kk = 0; kk < N / 16; ++kk) {
            uint32_t pa[4];
            pa[0] = mma::pack2<T>(s[2 * kk][0], s[2 * kk][1]);
            pa[1] = mma::pack2<T>(s[2 * kk][2], s[2 * kk][3]);
            pa[2] = mma::pack2<T>(s[2 * kk + 1][0], s[2 * kk + 1][1]);
            pa[3] = mma::pack2<T>(s[2 * kk + 1][2], s[2 * kk + 1][3]);
#pragma unroll
            for (int dp = 0; dp < HDV / 16; ++dp) {
                uint32_t vb[4];
                mma::ldmatrix_x4_trans(vb, mma::smem_addr(sV + ml::smem_chunk(kk * 16 + ml::ldsm_bv_row(lane),
                                                                              dp * 2 + ml::ldsm_bv_chunk(lane), CV) * 16));
                mma::mma_16816<T>(o[2 * dp], pa, vb[0], vb[1]);
                mma::mma_16816<T>(o[2 * dp + 1], pa, vb[2], vb[3]);
            }
        }
    }
    mma::cp_async_wait<0>();  // nothing may be left in flight at exit

    // ---- epilogue
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        l_run[r] += __shfl_xor_sync(0xffffffffu, l_run[r], 1);
        l_run[r] += __shfl_xor_sync(0xffffffffu, l_run[r], 2);
    }
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        const int64_t rr = r == 0 ? row_a : row_b;
        if (rr >= rows) continue;
        const int64_t i = pl.row_query(rr);
        const int h = pl.row_head(rr, hb);
        float lse;
        if (pl.num_splits > 1) {
            const float inv = bd::attn::finish_split(m_run[r], l_run[r], pl.lse_scale, &lse);
            const int64_t wrow = pl.ws_row(split, b, h, i);
            float* dst = p.o_accum + wrow * HDV;
#pragma unroll
            for (int j = 0; j < OT; ++j)
                *reinterpret_cast<float2*>(dst + j * 8 + ml::c_col(lane, 0)) =
                    make_float2(o[j][2 * r] * inv, o[j][2 * r + 1] * inv);
            if ((lane & 3) == 0) p.lse_accum[wrow] = lse;
        } else {
            const bool has_sink = p.sinks != nullptr;
            const float sink = has_sink ? p.sinks[h] : 0.f;
            const float inv = bd::attn::finish_row(m_run[r], l_run[r], pl.lse_scale, sink, has_sink, &lse);
            T* dst = static_cast<T*>(p.o) + pl.o_offset(b, si, i, h);
#pragma unroll
            for (int j = 0; j < OT; ++j)
                *reinterpret_cast<uint32_t*>(dst + j * 8 + ml::c_col(lane, 0)) =
                    mma::pack2<T>(o[j][2 * r] * inv, o[j][2 * r + 1] * inv);
            if ((lane & 3) == 0 && p.lse) p.lse[pl.lse_offset(b, si, i, h)] = lse;
        }
    }
}

// ---- launchers

template <typename T, int HD, int HDV, bool kRopeK, bool kSparse>
static int launch_mma(const Plan& pl, cudaStream_t stream) {
    using Tr = Traits<HD, HDV>;
    auto kernel = attention_fwd_mma_kernel<T, HD, HDV, kRopeK, kSparse>;
    // the default dynamic limit is 48 KB less the static shared memory: the sparse kernels' walk
    // (128 bytes under ptxas -v; 1 KB bounds it) puts hd128's exactly 48 KB over that limit
    if (Tr::kSmemBytes + (kSparse ? 1024 : 0) > 48 * 1024) {
        const int st = check_cuda(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, Tr::kSmemBytes),
                                  "attention_fwd_mma_kernel: cudaFuncSetAttribute");
        if (st != BD_OK) return st;
    }
    const dim3 grid(static_cast<unsigned>(pl.m_blocks * pl.num_splits), static_cast<unsigned>(pl.head_blocks),
                    static_cast<unsigned>(pl.p.batch));
    kernel<<<grid, Tr::kThreads, Tr::kSmemBytes, stream>>>(pl);
    return check_launch("attention_fwd_mma_kernel");
}

template <typename T, int HD, int HDV>
int run_attention_mma(const Plan& pl, cudaStream_t stream) {
    static_assert(Traits<HD, HDV>::kM == 64 && Traits<HD, HDV>::kN == (HD <= 128 ? 64 : 32),
                  "tiles must match attn::tile_for");
    int st = BD_OK;
    BD_ATTN_BOOL_SWITCH(pl.p.k_rope_positions != nullptr, kRopeK, {
        BD_ATTN_BOOL_SWITCH(pl.p.block_row_ptr != nullptr, kSparse,
                            { st = launch_mma<T, HD, HDV, kRopeK, kSparse>(pl, stream); });
    });
    return st;
}

}  // namespace bd::cuda::attn_mma
