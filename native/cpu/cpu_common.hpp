// Shared helpers of the CPU kernels: the thread-local error string, argument checks, and
// F32 <-> F16/BF16 conversion (round to nearest even, NaN kept quiet), so every CPU op can
// load any float storage type into F32, compute in F32, and store back.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

#include "braindrip/common.h"

namespace bd::cpu {

// Records the message for bd_cpu_last_error() and returns the status, so entry points can
// `return fail(BD_ERR_INVALID_ARGUMENT, "rmsnorm: cols (%lld) must be > 0", ...)`.
int fail(int status, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void clear_error();

inline float bf16_to_f32(uint16_t h) {
    uint32_t u = static_cast<uint32_t>(h) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

inline uint16_t f32_to_bf16(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);  // quiet NaN
    u += 0x7fffu + ((u >> 16) & 1u);
    return static_cast<uint16_t>(u >> 16);
}

inline float f16_to_f32(uint16_t h) {
    uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    uint32_t u;
    if (exp == 0) {
        if (man == 0) {
            u = sign;
        } else {  // subnormal: renormalize
            int e = -1;
            do { ++e; man <<= 1; } while ((man & 0x400u) == 0);
            u = sign | (static_cast<uint32_t>(127 - 15 - e) << 23) | ((man & 0x3ffu) << 13);
        }
    } else if (exp == 31) {
        u = sign | 0x7f800000u | (man << 13) | (man ? 0x400000u : 0u);
    } else {
        u = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

inline uint16_t f32_to_f16(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return sign | 0x7e00u;              // NaN
    if (a >= 0x477ff000u) return sign | 0x7c00u;             // overflow (>= 65520) -> inf
    if (a < 0x38800000u) {                                   // subnormal or zero in f16
        if (a < 0x33000000u) return sign;                    // < 2^-25 rounds to 0
        uint32_t man = (a & 0x7fffffu) | 0x800000u;
        // value = man * 2^(e-150); the f16 subnormal unit is 2^-24, so q = man * 2^(e-126)
        int e = static_cast<int>(a >> 23);
        int s = 126 - e;  // 14..24 here
        uint32_t q = man >> s;
        uint32_t rem = man & ((1u << s) - 1u);
        uint32_t half = 1u << (s - 1);
        if (rem > half || (rem == half && (q & 1u))) ++q;
        return static_cast<uint16_t>(sign | q);
    }
    uint32_t r = a + 0x0fffu + ((a >> 13) & 1u);             // round mantissa to 10 bits
    r -= 0x38000000u;                                        // rebias 127 -> 15
    return static_cast<uint16_t>(sign | (r >> 13));
}

// Load element i of a float tensor of storage type dt as F32.
inline float load(const void* p, int dt, int64_t i) {
    switch (dt) {
        case BD_F16: return f16_to_f32(static_cast<const uint16_t*>(p)[i]);
        case BD_BF16: return bf16_to_f32(static_cast<const uint16_t*>(p)[i]);
        default: return static_cast<const float*>(p)[i];
    }
}

// Store an F32 value as element i of a tensor of storage type dt.
inline void store(void* p, int dt, int64_t i, float v) {
    switch (dt) {
        case BD_F16: static_cast<uint16_t*>(p)[i] = f32_to_f16(v); break;
        case BD_BF16: static_cast<uint16_t*>(p)[i] = f32_to_bf16(v); break;
        default: static_cast<float*>(p)[i] = v; break;
    }
}

// Round an F32 value to the precision of storage type dt (identity for F32).
inline float round_to(int dt, float v) {
    switch (dt) {
        case BD_F16: return f16_to_f32(f32_to_f16(v));
        case BD_BF16: return bf16_to_f32(f32_to_bf16(v));
        default: return v;
    }
}

inline bool is_float_dtype(int dt) { return dt == BD_F32 || dt == BD_F16 || dt == BD_BF16; }
inline bool is_index_dtype(int dt) { return dt == BD_I32 || dt == BD_I64; }

inline int64_t load_index(const void* p, int dt, int64_t i) {
    return dt == BD_I64 ? static_cast<const int64_t*>(p)[i]
                        : static_cast<int64_t>(static_cast<const int32_t*>(p)[i]);
}

const char* dtype_name(int dt);

// Whether the kernels with an AVX-512 copy (attention tiles, softmax rows) take it: the CPU has
// AVX-512 F/BW/DQ/VL and BRAINDRIP_CPU_ISA is not "avx2". Decided once per process.
bool use_avx512();

}  // namespace bd::cpu

// Argument checks for entry points: each returns from the calling function with a message.
#define BD_CHECK(cond, op, ...)                                                    \
    do {                                                                           \
        if (!(cond)) return ::bd::cpu::fail(BD_ERR_INVALID_ARGUMENT, op ": " __VA_ARGS__); \
    } while (0)
