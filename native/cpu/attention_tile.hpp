// Internal to the CPU kernels: the tile loops that the attention twin (attention.cpp) and the fused
// differential attention twin (diff_attention.cpp) share: load a row of any float storage type
// into F32, the N-wide score stream S = q . K^T over a transposed key tile, the P.V accumulation,
// and one row's online-softmax step (raw units, exp2 with the folded scale).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "braindrip/common.h"
#include "cpu_common.hpp"

namespace bd::cpu {

// out[0..n) = the n elements of a tensor of storage type dt starting at element off, as F32.
inline void load_row(const void* base, int dt, int64_t off, int64_t n, float* out) {
    switch (dt) {
        case BD_F16: {
            const uint16_t* p = static_cast<const uint16_t*>(base) + off;
            for (int64_t i = 0; i < n; ++i) out[i] = f16_to_f32(p[i]);
            break;
        }
        case BD_BF16: {
            const uint16_t* p = static_cast<const uint16_t*>(base) + off;
            for (int64_t i = 0; i < n; ++i) out[i] = bf16_to_f32(p[i]);
            break;
        }
        default: std::memcpy(out, static_cast<const float*>(base) + off, static_cast<size_t>(n) * 4);
    }
}

// s[0..N) = q . kt[:, j] for one query row; kt is the (D, N) transposed key tile. A compile-time N
// lets the N-wide accumulator live in vector registers across the D loop.
template <int N>
inline void scores_row(const float* q, const float* kt, int D, float* s) {
    float acc[N];
    for (int j = 0; j < N; ++j) acc[j] = 0.f;
    for (int d = 0; d < D; ++d) {
        const float qd = q[d];
        const float* kd = kt + d * N;
#pragma omp simd
        for (int j = 0; j < N; ++j) acc[j] += qd * kd[j];
    }
    for (int j = 0; j < N; ++j) s[j] = acc[j];
}

inline void scores_row_any(const float* q, const float* kt, int D, int N, float* s) {
    switch (N) {
        case 32: scores_row<32>(q, kt, D, s); return;
        case 64: scores_row<64>(q, kt, D, s); return;
        default:
            for (int j = 0; j < N; ++j) s[j] = 0.f;
            for (int d = 0; d < D; ++d)
                for (int j = 0; j < N; ++j) s[j] += q[d] * kt[d * N + j];
    }
}

// a[0..Dv) += sum_j p[j] v[j, :] over nk keys, in 64-column blocks held in registers.
inline void pv_row(const float* p, const float* vt, int nk, int Dv, float* a) {
    int c0 = 0;
    for (; c0 + 64 <= Dv; c0 += 64) {
        float acc[64];
        for (int c = 0; c < 64; ++c) acc[c] = a[c0 + c];
        for (int j = 0; j < nk; ++j) {
            const float pj = p[j];
            if (pj == 0.f) continue;
            const float* v = vt + static_cast<size_t>(j) * Dv + c0;
#pragma omp simd
            for (int c = 0; c < 64; ++c) acc[c] += pj * v[c];
        }
        for (int c = 0; c < 64; ++c) a[c0 + c] = acc[c];
    }
    for (int j = 0; j < nk && c0 < Dv; ++j) {
        const float pj = p[j];
        if (pj == 0.f) continue;
        const float* v = vt + static_cast<size_t>(j) * Dv;
        for (int c = c0; c < Dv; ++c) a[c] += pj * v[c];
    }
}

// One row's online-softmax step over a tile of N scores s (raw units, -inf where masked): updates
// the running max m (raw units) and sum l, replaces s by exp2((s - m) * sl2) rounded to the storage
// type dt (the probabilities of P.V) and returns the factor that rescales the row's accumulator.
// A max of -inf (nothing visible yet) is replaced by 0 before exponentiating.
inline float online_softmax_row(float* s, int N, float sl2, int dt, float* m, float* l) {
    float mx = *m;
    for (int j = 0; j < N; ++j) mx = std::max(mx, s[j]);
    const float m_use = mx == -INFINITY ? 0.f : mx;
    const float alpha = std::exp2((*m - m_use) * sl2);
    *m = mx;
    const float ms = m_use * sl2;
    float lsum = 0.f;
    for (int j = 0; j < N; ++j) {
        const float e = std::exp2(std::fma(s[j], sl2, -ms));
        lsum += e;
        s[j] = round_to(dt, e);  // P in the storage precision before P.V
    }
    *l = *l * alpha + lsum;
    return alpha;
}

}  // namespace bd::cpu
