// The 8-lane (AVX2) vector toolkit of the CPU row kernels (norms, softmax, activations, GLU,
// RoPE, elementwise, cross-entropy): GCC vector types, loads and stores of F32/F16/BF16 storage
// converted in registers with the same rounding as cpu_common.hpp's scalar store (round to
// nearest even; F16 through F16C), a vector e^x, a vector sincos for RoPE tables, and the
// thread split of a row or element range.
//
// The library is built for x86-64-v3 (AVX2, FMA, F16C), so these need no runtime check; the
// memory-bound row kernels reach the copy bandwidth at this width (docs/perf/cpu-backend.md), so
// they have no AVX-512 copy (attention has one: attention_simd.hpp).
//
// Kernels are templates on the storage type DT (BD_F32, BD_F16, BD_BF16) so every load and store
// compiles to its conversion with no per-element switch; bd::cpu::vec::dispatch picks one.
#pragma once

#include <immintrin.h>
#include <omp.h>

#include <cstdint>
#include <cstring>

#include "cpu_common.hpp"

namespace bd::cpu::vec {

constexpr int W = 8;
typedef float V __attribute__((vector_size(32)));
typedef int32_t VI __attribute__((vector_size(32)));
typedef uint32_t VU __attribute__((vector_size(32)));
typedef double VD4 __attribute__((vector_size(32)));
typedef int64_t VL4 __attribute__((vector_size(32)));

// Work (elements) below which a kernel runs on the calling thread without opening an OpenMP team:
// a team costs ~0.3 us even with one thread, and waking a second one ~80 us under the passive
// wait policy the launcher sets (docs/perf/overhead-cpu.md).
constexpr int64_t PARALLEL_MIN = 1 << 14;

inline V ld(const float* p) {
    V v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}
inline void st(float* p, V v) { __builtin_memcpy(p, &v, sizeof v); }
inline V bc(float x) { return x - V{}; }            // broadcast (x - 0 keeps -0)
inline V vmax(V a, V b) { return a < b ? b : a; }   // a NaN b keeps a, as `if (b > a) a = b`

// Lane sums in a fixed pairwise order (the same for every row and thread).
inline float hsum(V v) {
    const float a = (v[0] + v[4]) + (v[2] + v[6]);
    const float b = (v[1] + v[5]) + (v[3] + v[7]);
    return a + b;
}
// An F64 accumulator of 8 F32 lanes (two AVX registers: the sums of softmax and cross-entropy).
struct VD {
    VD4 lo{}, hi{};
    VD& operator+=(V v) {
        lo += (VD4)_mm256_cvtps_pd(_mm256_castps256_ps128((__m256)v));
        hi += (VD4)_mm256_cvtps_pd(_mm256_extractf128_ps((__m256)v, 1));
        return *this;
    }
};
inline double hsum(const VD& v) {
    const VD4 t = v.lo + v.hi;
    return (t[0] + t[2]) + (t[1] + t[3]);
}
inline double hsum2(const VD& a, const VD& b) {
    VD s;
    s.lo = a.lo + b.lo;
    s.hi = a.hi + b.hi;
    return hsum(s);
}
inline float hmax(V v) {
    float m = v[0];
    for (int i = 1; i < W; ++i)
        if (v[i] > m) m = v[i];
    return m;
}

// ---- storage loads and stores (8 elements at p[i..i+8))

template <int DT>
inline V load8(const void* p, int64_t i) {
    if constexpr (DT == BD_F32) {
        return ld(static_cast<const float*>(p) + i);
    } else {
        const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(p) + i));
        if constexpr (DT == BD_F16) {
            return (V)_mm256_cvtph_ps(h);
        } else {
            return (V)_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16);
        }
    }
}

template <int DT>
inline void store8(void* p, int64_t i, V v) {
    if constexpr (DT == BD_F32) {
        st(static_cast<float*>(p) + i, v);
    } else {
        __m128i h;
        if constexpr (DT == BD_F16) {
            h = _mm256_cvtps_ph((__m256)v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        } else {  // f32_to_bf16: NaN made quiet, else round to nearest even on bit 16
            const VU u = (VU)v;
            const VI nan = (VI)(u & 0x7fffffffu) > 0x7f800000;
            const VU q = u | 0x400000u, n = u + 0x7fffu + ((u >> 16) & 1u);
            const VU r = (VU)(nan ? (VI)q : (VI)n) >> 16;
            const __m256i w = (__m256i)r;
            h = _mm_packus_epi32(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
        }
        _mm_storeu_si128(reinterpret_cast<__m128i*>(static_cast<uint16_t*>(p) + i), h);
    }
}

// The first n (< W) elements at p[i..], the rest of the vector zero.
template <int DT>
inline V load_part(const void* p, int64_t i, int n) {
    float t[W] = {};
    for (int k = 0; k < n; ++k) t[k] = load(p, DT, i + k);
    return ld(t);
}

template <int DT>
inline void store_part(void* p, int64_t i, int n, V v) {
    float t[W];
    st(t, v);
    for (int k = 0; k < n; ++k) store(p, DT, i + k, t[k]);
}

// v rounded to the precision of DT (round_to, 8 at a time).
template <int DT>
inline V round8(V v) {
    if constexpr (DT == BD_F32) {
        return v;
    } else {
        uint16_t h[W];
        store8<DT>(h, 0, v);
        return load8<DT>(h, 0);
    }
}

// ---- math

// clamp with the constant first: max/min return the second operand, x, when x is NaN
inline V clamp_exp_arg(V x) { return (V)_mm256_min_ps((__m256)bc(89.f), _mm256_max_ps((__m256)bc(-105.f), (__m256)x)); }
#include "vec_exp.inc"

// sin and cos of 4 F32 angles, computed in F64 (reduction by pi/2 in F64, exact enough for
// angles up to 2^24; Taylor polynomials on [-pi/4, pi/4] to 1e-16) and rounded once to F32, so they
// agree with a correctly rounded sinf/cosf but for the rare tie-near case. For RoPE tables.
inline void sincos4(const float* angle, float* s_out, float* c_out) {
    const VD4 a = (VD4)_mm256_cvtps_pd(_mm_loadu_ps(angle));
    const VD4 k = (VD4)_mm256_round_pd((__m256d)(a * 0.63661977236758134), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    VD4 r = a - k * 1.5707963267948966;  // pi/2 in two parts
    r = r - k * 6.123233995736766e-17;
    const VD4 r2 = r * r;
    VD4 s = r2 * (1.0 / 6227020800.0) - 1.0 / 39916800.0;  // sin r = r - r^3/3! + ... - r^15/15!
    s = s * r2 + 1.0 / 362880.0;
    s = s * r2 - 1.0 / 5040.0;
    s = s * r2 + 1.0 / 120.0;
    s = s * r2 - 1.0 / 6.0;
    s = s * r2 * r + r;
    VD4 c = r2 * (1.0 / 87178291200.0) - 1.0 / 479001600.0;  // cos r = 1 - r^2/2! + ... + r^14/14!
    c = c * r2 + 1.0 / 3628800.0;
    c = c * r2 - 1.0 / 40320.0;
    c = c * r2 + 1.0 / 720.0;
    c = c * r2 - 1.0 / 24.0;
    c = c * r2 + 0.5;
    c = 1.0 - c * r2;
    for (int i = 0; i < 4; ++i) {  // the quadrant k mod 4 (k is exact in F64)
        const int q = static_cast<int>(static_cast<int64_t>(k[i]) & 3);
        const double si = s[i], ci = c[i];
        const double so = q == 0 ? si : q == 1 ? ci : q == 2 ? -si : -ci;
        const double co = q == 0 ? ci : q == 1 ? -si : q == 2 ? -ci : si;
        s_out[i] = static_cast<float>(so);
        c_out[i] = static_cast<float>(co);
    }
}

// ---- thread splits

// f(r) for r in [0, rows): on the calling thread when the work (elements) is small, else over
// OpenMP threads in static blocks of rows.
template <typename F>
inline void for_rows(int64_t rows, int64_t work, F f) {
    if (work < PARALLEL_MIN || rows < 2) {
        for (int64_t r = 0; r < rows; ++r) f(r);
        return;
    }
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) f(r);
}

// f(i0, i1) over [0, n) in per-thread ranges whose starts are multiples of 64 elements
// (whole cache lines for every storage type): serial when n is small.
template <typename F>
inline void for_range(int64_t n, F f) {
    if (n < PARALLEL_MIN) {
        f(int64_t{0}, n);
        return;
    }
#pragma omp parallel
    {
        const int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
        const int64_t blocks = (n + 63) / 64;
        const int64_t b0 = blocks * t / nt, b1 = blocks * (t + 1) / nt;
        const int64_t i0 = b0 * 64, i1 = b1 * 64 < n ? b1 * 64 : n;
        if (i0 < i1) f(i0, i1);
    }
}

// Calls F::template run<DT>(args...) for the storage type dt (a float type, checked by the caller).
template <typename F, typename... A>
inline auto dispatch(int dt, A&&... args) {
    switch (dt) {
        case BD_F16: return F::template run<BD_F16>(args...);
        case BD_BF16: return F::template run<BD_BF16>(args...);
        default: return F::template run<BD_F32>(args...);
    }
}

}  // namespace bd::cpu::vec
