// Internal to the CPU kernels: what the attention twin (attention.cpp) and the fused differential
// attention twin (diff_attention.cpp) share besides the vector tile kernels of attention_simd.hpp:
// loading a row of any float storage type into F32.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include <immintrin.h>

#include "braindrip/common.h"
#include "cpu_common.hpp"

namespace bd::cpu {

// out[0..n) = the n elements of a tensor of storage type dt starting at element off, as F32.
inline void load_row(const void* base, int dt, int64_t off, int64_t n, float* out) {
    switch (dt) {
        case BD_F16: {
            // F16C (part of the x86-64-v3 baseline): exact, as f16_to_f32, 8 at a time
            const uint16_t* p = static_cast<const uint16_t*>(base) + off;
            int64_t i = 0;
            for (; i + 8 <= n; i += 8)
                _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i))));
            for (; i < n; ++i) out[i] = f16_to_f32(p[i]);
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

}  // namespace bd::cpu
