// Lane <-> (row, column) maps of the warp-level tensor-core instructions the attention kernel
// uses, written from the PTX ISA ("Matrix Fragments for mma.m16n8k16 with floating point type",
// "Warp-level matrix load instruction: ldmatrix"), plus the shared-memory tile layout.
// Plain C++ with BD_HD (host + device) so that a CPU unit test (native/tests/attention) checks
// them against the ISA's tables and checks that the kernel's compositions — ldmatrix addressing,
// ldmatrix results used as mma operands, the score accumulator reused as the A operand of P.V —
// put every element where the mma expects it. No CUDA headers here.
#pragma once

#ifdef __CUDACC__
#define BD_MMA_HD __host__ __device__ __forceinline__ constexpr
#else
#define BD_MMA_HD inline constexpr
#endif

namespace bd::mma_layout {

// ---- mma.sync.aligned.m16n8k16 (.f16 / .bf16 inputs, .f32 accumulators)
// groupID = lane >> 2, threadID_in_group = lane & 3.
// A (16 x 16, row major): 4 registers of 2 elements, element e = 0..7 (register e / 2, low half
// first): row = groupID (+8 for e in {2,3,6,7}), col = 2 threadID_in_group + (e & 1) (+8 for e >= 4).
BD_MMA_HD int a_row(int lane, int e) { return (lane >> 2) + ((e >> 1) & 1) * 8; }
BD_MMA_HD int a_col(int lane, int e) { return (lane & 3) * 2 + (e & 1) + (e >> 2) * 8; }
// B (16 x 8, "col" = K x N stored by column): 2 registers, element e = 0..3:
// k = 2 threadID_in_group + (e & 1) (+8 for e >= 2), n = groupID.
BD_MMA_HD int b_k(int lane, int e) { return (lane & 3) * 2 + (e & 1) + (e >> 1) * 8; }
BD_MMA_HD int b_n(int lane, int /*e*/) { return lane >> 2; }
// C / D (16 x 8, f32): element e = 0..3: row = groupID (+8 for e >= 2), col = 2 threadID_in_group + (e & 1).
BD_MMA_HD int c_row(int lane, int e) { return (lane >> 2) + (e >> 1) * 8; }
BD_MMA_HD int c_col(int lane, int e) { return (lane & 3) * 2 + (e & 1); }

// ---- ldmatrix.sync.aligned.m8n8.x4 (.b16): lanes 8q .. 8q+7 give the row addresses of matrix q;
// result register q of lane l holds row l / 4, columns 2 (l % 4) and 2 (l % 4) + 1 of matrix q
// (.trans: the transpose, i.e. rows 2 (l % 4) and 2 (l % 4) + 1 of column l / 4).
BD_MMA_HD int ldsm_src_matrix(int lane) { return lane >> 3; }
BD_MMA_HD int ldsm_src_row(int lane) { return lane & 7; }
// (row, col) inside matrix `reg` of element h (0 = low half) of lane's result register `reg`
BD_MMA_HD int ldsm_dst_row(int lane, int h, bool trans) { return trans ? (lane & 3) * 2 + h : lane >> 2; }
BD_MMA_HD int ldsm_dst_col(int lane, int h, bool trans) { return trans ? lane >> 2 : (lane & 3) * 2 + h; }

// ---- the kernel's ldmatrix.x4 addressing: which tile row and 8-column chunk lane l points at.
// A operand, 16 x 16 block at (row0, chunk0): matrices (rows 0-7, cols 0-7), (rows 8-15, cols 0-7),
// (rows 0-7, cols 8-15), (rows 8-15, cols 8-15) -> registers a0..a3 of the mma's A fragment.
BD_MMA_HD int ldsm_a_row(int lane) { return (lane & 7) + ((lane >> 3) & 1) * 8; }
BD_MMA_HD int ldsm_a_chunk(int lane) { return lane >> 4; }
// B operand from row-major K (rows = n, cols = k), two n8 tiles x k16, non-transposed:
// matrices (n 0-7, k 0-7), (n 0-7, k 8-15), (n 8-15, k 0-7), (n 8-15, k 8-15)
// -> b0, b1 of n-tile 0 then b0, b1 of n-tile 1.
BD_MMA_HD int ldsm_bk_row(int lane) { return (lane & 7) + (lane >> 4) * 8; }
BD_MMA_HD int ldsm_bk_chunk(int lane) { return (lane >> 3) & 1; }
// B operand from row-major V (rows = k, cols = n), k16 x two n8 tiles, transposed (.trans):
// matrices (k 0-7, n 0-7), (k 8-15, n 0-7), (k 0-7, n 8-15), (k 8-15, n 8-15)
// -> b0, b1 of n-tile 0 then b0, b1 of n-tile 1.
BD_MMA_HD int ldsm_bv_row(int lane) { return (lane & 7) + ((lane >> 3) & 1) * 8; }
BD_MMA_HD int ldsm_bv_chunk(int lane) { return lane >> 4; }

// ---- shared-memory tiles of 16-bit rows: a row of `chunks` 16-byte chunks (head_dim / 8).
// When chunks is a multiple of 8 the chunk index is XOR-swizzled with the row (row & 7), so the
// 8 rows one ldmatrix phase reads, and the 8 chunks of a row that 8 cp.async lanes write, fall in
// 8 different 16-byte bank groups. Otherwise (head dims 80 and 96) rows are padded to an odd
// number of chunks, which spreads 8 consecutive rows over all bank groups the same way.
BD_MMA_HD int row_stride_chunks(int chunks) { return chunks % 8 == 0 ? chunks : (chunks | 1); }
BD_MMA_HD int smem_chunk(int row, int chunk, int chunks) {
    return chunks % 8 == 0 ? row * chunks + (chunk ^ (row & 7)) : row * row_stride_chunks(chunks) + chunk;
}

}  // namespace bd::mma_layout
