// The 16-lane (AVX-512) primitives of the row kernels that have an AVX-512 copy (softmax,
// activations, GLU): the same loads, stores and e^x as vec.hpp, 16 lanes at a time. Include it only
// inside a `#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl")` region: everything here is
// then compiled for AVX-512, and no baseline code can end up calling it (the kernels pick it with
// use_avx512()).
#pragma once

#ifndef BD_VEC16_REGION
#error "vec16.hpp belongs inside an AVX-512 target region that defines BD_VEC16_REGION (see softmax.cpp)"
#endif

#include <immintrin.h>

#include <cstdint>

#include "cpu_common.hpp"

namespace bd::cpu::vec16 {

constexpr int W = 16;
typedef float V __attribute__((vector_size(64)));
typedef int32_t VI __attribute__((vector_size(64)));
typedef uint32_t VU __attribute__((vector_size(64)));

inline V ld(const float* p) {
    V v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}
inline void st(float* p, V v) { __builtin_memcpy(p, &v, sizeof v); }
inline V bc(float x) { return x - V{}; }
inline V vmax(V a, V b) { return a < b ? b : a; }

template <int DT>
inline V load16(const void* p, int64_t i) {
    if constexpr (DT == BD_F32) {
        return ld(static_cast<const float*>(p) + i);
    } else {
        const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(p) + i));
        if constexpr (DT == BD_F16) return (V)_mm512_cvtph_ps(h);
        else return (V)_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16);
    }
}

template <int DT>
inline void store16(void* p, int64_t i, V v) {
    if constexpr (DT == BD_F32) {
        st(static_cast<float*>(p) + i, v);
    } else {
        __m256i h;
        if constexpr (DT == BD_F16) {
            h = _mm512_cvtps_ph((__m512)v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        } else {  // as vec::store8 and f32_to_bf16
            const VU u = (VU)v;
            const VI nan = (VI)(u & 0x7fffffffu) > 0x7f800000;
            const VU q = u | 0x400000u, n = u + 0x7fffu + ((u >> 16) & 1u);
            h = _mm512_cvtepi32_epi16((__m512i)((VU)(nan ? (VI)q : (VI)n) >> 16));
        }
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(static_cast<uint16_t*>(p) + i), h);
    }
}

inline V clamp_exp_arg(V x) { return (V)_mm512_min_ps((__m512)bc(89.f), _mm512_max_ps((__m512)bc(-105.f), (__m512)x)); }
#include "vec_exp.inc"  // vec::vexp, 16 lanes

// The first n (< W) elements at p[i..], the rest zero; and the store of the first n lanes.
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

}  // namespace bd::cpu::vec16
