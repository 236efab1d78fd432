// Internal to the CPU kernels: the vector tile kernels of the attention twins (attention.cpp,
// diff_attention.cpp), built twice in attention.cpp from attention_simd.inc — an AVX2 copy (the
// library's baseline, -march=x86-64-v3) and an AVX-512 copy compiled under a target pragma — and
// chosen once per process: AVX-512 when the CPU has AVX512F/BW/DQ/VL, unless the environment
// variable BRAINDRIP_CPU_ISA=avx2 asks for the AVX2 copy (so both are testable on one machine).
#pragma once

#include <cstdint>

namespace bd::cpu {

struct TileSimd {
    int width;        // floats per vector: 8 (AVX2) or 16 (AVX-512)
    const char* isa;  // "avx2" or "avx512"
    // wide mode: qt (D, Mp) transposed queries, scores st (N, Mp); Mp a multiple of width
    void (*scores_wide)(const float* qt, int Mp, const float* k, int64_t ldk, int nk, int N, int D, float* st);
    void (*softmax_wide)(float* st, int N, int Mp, float sl2, int dt, float* m, float* l, float* alpha);
    // narrow mode: q (nr, D), scores s (nr, N)
    void (*scores_narrow)(const float* q, int nr, const float* k, int64_t ldk, int nk, int N, int D, float* s);
    void (*softmax_narrow)(float* s, int nr, int N, float sl2, int dt, float* m, float* l, float* alpha);
    // acc (nr, Dv) = acc * alpha + P.V with P(r, j) at p[j * sj + r * sr]
    void (*pv)(const float* p, int64_t sj, int64_t sr, int nr, int nk, const float* v, int64_t ldv, int Dv,
               const float* alpha, float* acc);
    void (*exp2_n)(const float* x, float* y, int n);
    void (*round_n)(const float* x, float* y, int n, int dt);
};

const TileSimd& tile_simd();

// Wide mode pays one vector of rows per key; below half a vector of rows, dot products over D win.
inline bool tile_wide(int rows, const TileSimd& k) { return rows > k.width / 2; }
inline int tile_rows_padded(int rows, const TileSimd& k) { return (rows + k.width - 1) / k.width * k.width; }

}  // namespace bd::cpu

extern "C" {
// Test hooks (native/tests): the ISA in use, and its vector exp2 / storage rounding on n values.
const char* bd_cpu_attention_isa(void);
void bd_cpu_attention_exp2(const float* x, float* y, int n);
void bd_cpu_attention_round(const float* x, float* y, int n, int dtype);
}
