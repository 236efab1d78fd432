// Tensor-core building blocks of the MoE grouped GEMM, over inline PTX (no CUTLASS/CuTe, no WMMA:
// WMMA's fragment layout is unspecified, and the epilogue needs to know which lane holds which
// output). sm_80+ instructions only, so the same code serves sm_80 and sm_90:
//   cp.async.cg 16 B with zero-fill (src-size 0 for rows/columns out of range),
//   ldmatrix.x4 (four 8x8 b16 matrices, one row address per lane),
//   mma.sync.m16n8k16 row.col with BF16/F16 inputs and F32 accumulators.
// The lane <-> (row, column) maps of the m16n8k16 fragments (PTX ISA, "Matrix Fragments for
// mma.m16n8k16 with floating point type") are written as __host__ __device__ functions so the
// epilogue uses the same map the CPU test checks.
#pragma once

#include <cstdint>

#ifdef __CUDACC__
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#define BD_MMA_HD __host__ __device__
#else
#define BD_MMA_HD  // plain C++ (the CPU test checks the maps)
#endif

namespace bd::cuda::mma {

// Shared-memory tiles are rows of 64 16-bit elements (8 chunks of 16 B); chunk c of row r is stored
// at chunk c ^ (r & 7), so the 8 rows an ldmatrix phase reads hit 8 different bank groups.
BD_MMA_HD constexpr int swizzle_chunk(int row, int chunk) { return chunk ^ (row & 7); }

// ---- fragment maps (lane 0..31; g = lane / 4 is the "groupID", q = lane % 4 the thread in group)

// A (16x16, row-major), register r (0..3) holds two consecutive columns:
//   row = g + 8 * (r & 1), col = 2q + 8 * (r >> 1) + {0, 1}
BD_MMA_HD constexpr int frag_a_row(int lane, int r) { return lane / 4 + 8 * (r & 1); }
BD_MMA_HD constexpr int frag_a_col(int lane, int r) { return 2 * (lane % 4) + 8 * (r >> 1); }
// B (16x8, "col": element (k, n) stored at n*16 + k), register r (0..1): k = 2q + 8r + {0, 1}, n = g
BD_MMA_HD constexpr int frag_b_k(int lane, int r) { return 2 * (lane % 4) + 8 * r; }
BD_MMA_HD constexpr int frag_b_n(int lane) { return lane / 4; }
// C/D (16x8, F32), element i (0..3): row = g + 8 * (i >> 1), col = 2q + (i & 1)
BD_MMA_HD constexpr int frag_c_row(int lane, int i) { return lane / 4 + 8 * (i >> 1); }
BD_MMA_HD constexpr int frag_c_col(int lane, int i) { return 2 * (lane % 4) + (i & 1); }

// ldmatrix.x4 row addresses: lane l feeds row (l % 8) of matrix l / 8.
// For A as registers a0..a3 above: matrix j covers rows 8 * (j & 1) .. +7, cols 8 * (j >> 1) .. +7.
BD_MMA_HD constexpr int ldsm_a_row(int lane) { return (lane & 7) + 8 * ((lane >> 3) & 1); }
BD_MMA_HD constexpr int ldsm_a_col(int lane) { return 8 * (lane >> 4); }
// For two adjacent n8 tiles of B stored [n][k]: matrix 0 = tile 0 k 0..7, 1 = tile 0 k 8..15,
// 2 = tile 1 k 0..7, 3 = tile 1 k 8..15.
BD_MMA_HD constexpr int ldsm_b_row(int lane) { return (lane & 7) + 8 * (lane >> 4); }
BD_MMA_HD constexpr int ldsm_b_col(int lane) { return 8 * ((lane >> 3) & 1); }

#ifdef __CUDACC__

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
    return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16-byte global -> shared copy; valid == false writes 16 zero bytes and reads nothing.
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, bool valid) {
    const int n = valid ? 16 : 0;
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(smem)), "l"(gmem), "r"(n));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* smem) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_addr(smem)));
}

// d += a * b, m16n8k16, F32 accumulate.
template <typename T>
__device__ __forceinline__ void mma_16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1);

template <>
__device__ __forceinline__ void mma_16816<__nv_bfloat16>(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                                         uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

template <>
__device__ __forceinline__ void mma_16816<__half>(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

#endif  // __CUDACC__

}  // namespace bd::cuda::mma
