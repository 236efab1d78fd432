// bd_cpu_gemm_small (braindrip/cpu_gemm.h): c = a . b^T for a few rows of a, streaming b (the
// weights) once in its storage type. Decode is bound by reading the weights: BF16/F16 weights are
// half the bytes of F32, converted in registers (BF16: a 16-bit shift; F16: F16C), never copied.
// The rows of a are converted to F32 once (m x k, a few KiB). Each output is an F32 dot product of
// k terms in vector lanes (8 wide; the lanes summed per k block), rounded once to the storage type.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "braindrip/cpu_gemm.h"
#include "cpu_common.hpp"

namespace bd::cpu {
namespace {

inline __m256 load8(const void* base, int dt, int64_t i) {
    switch (dt) {
        case BD_BF16: {
            const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(base) + i));
            return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
        }
        case BD_F16:
            return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(base) + i)));
        default: return _mm256_loadu_ps(static_cast<const float*>(base) + i);
    }
}

inline float hsum8(__m256 v) {
    const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)));
}

// Partial dot products over k in [k0, k1) for outputs j in [j0, j1) of R rows, added to
// out[r * ldo + j]: two outputs at a time share each load of a (R x 2 accumulators; R >= 2), the k range
// short enough that those R rows of a stay in L1 while the outputs stream their weights past them.
template <int R>
void dots(const float* a32, int64_t lda, const void* b, int dt, int64_t k, int64_t k0, int64_t k1, int64_t j0,
          int64_t j1, float* out, int64_t ldo) {
    const int64_t k8 = k0 + (k1 - k0) / 8 * 8;
    int64_t j = j0;
    // (one row alone streams its weights faster one output at a time: measured 1.1 vs 1.5 ms at
    // 4096 x 4096 BF16)
    for (; R >= 2 && j + 2 <= j1; j += 2) {
        const int64_t row0 = j * k, row1 = row0 + k;
        __m256 acc0[R], acc1[R];
        for (int r = 0; r < R; ++r) acc0[r] = acc1[r] = _mm256_setzero_ps();
        for (int64_t i = k0; i < k8; i += 8) {
            const __m256 w0 = load8(b, dt, row0 + i), w1 = load8(b, dt, row1 + i);
            for (int r = 0; r < R; ++r) {
                const __m256 x = _mm256_loadu_ps(a32 + r * lda + i);
                acc0[r] = _mm256_fmadd_ps(x, w0, acc0[r]);
                acc1[r] = _mm256_fmadd_ps(x, w1, acc1[r]);
            }
        }
        for (int r = 0; r < R; ++r) {
            float s0 = hsum8(acc0[r]), s1 = hsum8(acc1[r]);
            for (int64_t i = k8; i < k1; ++i) {
                s0 += a32[r * lda + i] * load(b, dt, row0 + i);
                s1 += a32[r * lda + i] * load(b, dt, row1 + i);
            }
            out[r * ldo + j] += s0;
            out[r * ldo + j + 1] += s1;
        }
    }
    for (; j < j1; ++j) {
        const int64_t row = j * k;
        __m256 acc[R];
        for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
        for (int64_t i = k0; i < k8; i += 8) {
            const __m256 w = load8(b, dt, row + i);
            for (int r = 0; r < R; ++r) acc[r] = _mm256_fmadd_ps(_mm256_loadu_ps(a32 + r * lda + i), w, acc[r]);
        }
        for (int r = 0; r < R; ++r) {
            float s = hsum8(acc[r]);
            for (int64_t i = k8; i < k1; ++i) s += a32[r * lda + i] * load(b, dt, row + i);
            out[r * ldo + j] += s;
        }
    }
}

// All m rows, outputs [j0, j1): k in blocks whose rows of a fill at most ~24 KiB of L1.
void dots_rows(const float* a32, int64_t m, const void* b, int dt, int64_t k, int64_t j0, int64_t j1, float* out,
               int64_t ldo) {
    const int64_t kb = std::max<int64_t>(64, (6144 / m) / 8 * 8);
    for (int64_t k0 = 0; k0 < k; k0 += kb) {
        const int64_t k1 = std::min(k, k0 + kb);
        int64_t r = 0;
        for (; r + 4 <= m; r += 4) dots<4>(a32 + r * k, k, b, dt, k, k0, k1, j0, j1, out + r * ldo, ldo);
        for (; r + 2 <= m; r += 2) dots<2>(a32 + r * k, k, b, dt, k, k0, k1, j0, j1, out + r * ldo, ldo);
        for (; r < m; ++r) dots<1>(a32 + r * k, k, b, dt, k, k0, k1, j0, j1, out + r * ldo, ldo);
    }
}

}  // namespace
}  // namespace bd::cpu

extern "C" int bd_cpu_gemm_small(const void* a, const void* b, void* c, int64_t m, int64_t n, int64_t k,
                                 int accumulate, int dtype) {
    using namespace bd::cpu;
    BD_CHECK(is_float_dtype(dtype), "gemm_small", "dtype (%d) must be F32, F16 or BF16", dtype);
    BD_CHECK(m >= 1 && m <= BD_CPU_GEMM_SMALL_MAX_M, "gemm_small", "m (%lld) must be in [1, %d]", (long long)m,
             BD_CPU_GEMM_SMALL_MAX_M);
    BD_CHECK(n >= 0 && k >= 0, "gemm_small", "n (%lld) and k (%lld) must be >= 0", (long long)n, (long long)k);
    if (n == 0) return BD_OK;
    BD_CHECK(c && (k == 0 || (a && b)), "gemm_small", "null tensor pointer");
    const int64_t es = dtype == BD_F32 ? 4 : 2;
    {  // c must not overlap a or b (it is written while they are read)
        const char* cb = static_cast<const char*>(c);
        const char* ce = cb + m * n * es;
        const auto overlaps = [&](const void* p, int64_t elems) {
            const char* pb = static_cast<const char*>(p);
            return p && elems > 0 && pb < ce && cb < pb + elems * es;
        };
        BD_CHECK(!overlaps(a, m * k) && !overlaps(b, n * k), "gemm_small", "c overlaps a or b");
    }
    std::vector<float> a32(static_cast<size_t>(m * k));
    for (int64_t i = 0; i < m * k; ++i) a32[i] = load(a, dtype, i);
    std::vector<float> out(static_cast<size_t>(m * n), 0.f);
    if (k > 0) {
        // threads only where the weights are big enough (>= 256 KiB of them) to pay for the fork
        const bool par = n * k * es >= (256 << 10) && n >= 64;
        constexpr int64_t kBlock = 64;  // outputs per work item
        const int64_t blocks = (n + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (par)
        for (int64_t blk = 0; blk < blocks; ++blk) {
            const int64_t j0 = blk * kBlock, j1 = j0 + kBlock < n ? j0 + kBlock : n;
            dots_rows(a32.data(), m, b, dtype, k, j0, j1, out.data(), n);
        }
    }
    for (int64_t i = 0; i < m * n; ++i) {
        const float v = accumulate ? load(c, dtype, i) + out[i] : out[i];
        store(c, dtype, i, v);
    }
    return BD_OK;
}
