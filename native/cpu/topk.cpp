// Row argmax and top-k on the CPU (greedy decoding, top-k sampling, MoE routers).
//   x: (rows, cols); argmax out: int32 (rows); topk values: float32 (rows, k), indices: int32 (rows, k)
// Both rank elements by one 64-bit key, the same key the CUDA twin uses, so the two backends pick
// the same indices bit for bit:
//   high 32 bits: the F32 value mapped to an unsigned integer that orders like the float, with
//                 NaN below -inf (NaN never wins) and -0 equal to +0;
//   low 32 bits:  0xffffffff - index, so on equal values the lower index ranks higher.
// Keys are distinct within a row, so "sorted descending" is a total order and needs no stability.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "braindrip/ops.h"
#include "cpu_common.hpp"
#include "vec.hpp"

namespace bd::cpu {

// ---- kernels

static inline uint64_t rank_key(float v, int64_t index) {
    uint32_t u;
    std::memcpy(&u, &v, 4);
    uint32_t k;
    if (v != v) k = 0u;                                  // NaN: lowest of all
    else if (v == 0.f) k = 0x80000000u;                  // -0 == +0
    else k = (u & 0x80000000u) ? ~u : (u | 0x80000000u);  // negative: flip all; positive: set sign
    return (static_cast<uint64_t>(k) << 32) | (0xffffffffu - static_cast<uint32_t>(index));
}

static inline int32_t key_index(uint64_t key) {
    return static_cast<int32_t>(0xffffffffu - static_cast<uint32_t>(key & 0xffffffffu));
}

// The same winner as the largest rank_key, in two vector passes: the largest value (NaN never
// wins; -0 == +0), then the first column equal to it. A row of NaN only gives column 0, as the
// key order does (all keys' high halves 0, the lowest index highest).
template <int DT>
static int32_t argmax_row(const void* x, int64_t base, int64_t cols) {
    using namespace vec;
    const int64_t cv = cols - cols % W;
    V mv = bc(-INFINITY);
    int64_t c = 0;
    for (; c < cv; c += W) {
        const V v = load8<DT>(x, base + c);
        mv = v > mv ? v : mv;
    }
    float m = hmax(mv);
    for (; c < cols; ++c) {
        const float v = load(x, DT, base + c);
        if (v > m) m = v;
    }
    const V vm = bc(m);
    for (c = 0; c < cv; c += W) {
        const int mask = _mm256_movemask_ps((__m256)(load8<DT>(x, base + c) == vm));
        if (mask) return static_cast<int32_t>(c + __builtin_ctz(static_cast<unsigned>(mask)));
    }
    for (; c < cols; ++c)
        if (load(x, DT, base + c) == m) return static_cast<int32_t>(c);
    return 0;  // no column equals m: the row is all NaN
}

static void topk_row(const void* x, int dt, int64_t row, int64_t cols, int64_t k, float* values,
                     int32_t* indices, std::vector<uint64_t>& keys) {
    const int64_t base = row * cols;
    keys.resize(static_cast<size_t>(cols));
    for (int64_t c = 0; c < cols; ++c) keys[c] = rank_key(load(x, dt, base + c), c);
    std::partial_sort(keys.begin(), keys.begin() + k, keys.end(), std::greater<uint64_t>());
    for (int64_t j = 0; j < k; ++j) {
        const int32_t idx = key_index(keys[j]);
        indices[row * k + j] = idx;
        values[row * k + j] = load(x, dt, base + idx);
    }
}

// ---- launchers

struct Argmax {
    template <int DT>
    static int run(const void* x, int32_t* out, int64_t rows, int64_t cols) {
        vec::for_rows(rows, rows * cols, [=](int64_t r) { out[r] = argmax_row<DT>(x, r * cols, cols); });
        return BD_OK;
    }
};

static int argmax(const void* x, int32_t* out, int64_t rows, int64_t cols, int dt) {
    return vec::dispatch<Argmax>(dt, x, out, rows, cols);
}

static int topk(const void* x, float* values, int32_t* indices, int64_t rows, int64_t cols, int64_t k, int dt) {
    if (rows < 2 || rows * cols < vec::PARALLEL_MIN) {  // no OpenMP team for a small call
        std::vector<uint64_t> keys;
        for (int64_t r = 0; r < rows; ++r) topk_row(x, dt, r, cols, k, values, indices, keys);
        return BD_OK;
    }
#pragma omp parallel
    {
        std::vector<uint64_t> keys;
#pragma omp for schedule(static)
        for (int64_t r = 0; r < rows; ++r) topk_row(x, dt, r, cols, k, values, indices, keys);
    }
    return BD_OK;
}

}  // namespace bd::cpu

// ---- entry points

extern "C" int bd_cpu_argmax(const void* x, int32_t* out, int64_t rows, int64_t cols, int dtype, void* stream) {
    using namespace bd::cpu;
    BD_CHECK(is_float_dtype(dtype), "argmax", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(rows >= 0 && cols > 0 && cols <= INT32_MAX, "argmax", "bad shape rows=%lld cols=%lld",
             (long long)rows, (long long)cols);
    if (rows == 0) return BD_OK;
    BD_CHECK(x && out, "argmax", "null tensor pointer");
    return argmax(x, out, rows, cols, dtype);
}

extern "C" int bd_cpu_topk(const void* x, float* values, int32_t* indices, int64_t rows, int64_t cols,
                           int64_t k, int dtype, void* stream) {
    using namespace bd::cpu;
    BD_CHECK(is_float_dtype(dtype), "topk", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(rows >= 0 && cols > 0 && cols <= INT32_MAX, "topk", "bad shape rows=%lld cols=%lld",
             (long long)rows, (long long)cols);
    BD_CHECK(k >= 1 && k <= cols, "topk", "k (%lld) must be in [1, cols=%lld]", (long long)k, (long long)cols);
    if (rows == 0) return BD_OK;
    BD_CHECK(x && values && indices, "topk", "null tensor pointer");
    return topk(x, values, indices, rows, cols, k, dtype);
}
