// Row softmax with temperature on the CPU (attention-free logits path: sampling, routers).
//   x, y: (rows, cols); y = softmax(x * inv_temperature) over each row
// F32 throughout: the row max is subtracted before exponentiating so nothing overflows, and the
// normalization multiplies by 1/sum, the same formula as the CUDA twin (which gets max and sum in
// one online pass; the result is identical up to F32 summation order).
// A row that is entirely -inf (fully masked) gives zeros, never NaN.
// Vector passes over each row (max, e^x with the F64 sum, scale); e^x is vec::vexp (within 2 ulp
// of e^x), 8 lanes, or 16 with AVX-512 (softmax16 below, same operations, same results per element;
// the row sum's grouping differs). F32 rows keep the exponentials in y between the passes; F16/BF16 rows in a per-thread
// F32 scratch row, so the output is rounded once.
#include <cmath>
#include <limits>
#include <vector>

#include "braindrip/ops.h"
#include "cpu_common.hpp"
#include "vec.hpp"

namespace bd::cpu::softmax8 {

using namespace vec;

// ---- kernels

template <int DT>
static void softmax_row(const void* x, void* y, int64_t base, int64_t cols, float inv_t, float* z) {
    const int64_t cv = cols - cols % W;
    const int tail = static_cast<int>(cols - cv);
    const V vt = bc(inv_t), ninf = bc(-std::numeric_limits<float>::infinity());
    const VI lane = {0, 1, 2, 3, 4, 5, 6, 7};
    V m4[4] = {ninf, ninf, ninf, ninf};
    int64_t c = 0;
    for (; c + 4 * W <= cv; c += 4 * W)
        for (int k = 0; k < 4; ++k) m4[k] = vmax(m4[k], load8<DT>(x, base + c + k * W) * vt);  // in registers
    for (; c < cv; c += W) m4[0] = vmax(m4[0], load8<DT>(x, base + c) * vt);
    if (tail) m4[0] = vmax(m4[0], lane < tail ? load_part<DT>(x, base + cv, tail) * vt : ninf);
    const float m = hmax(vmax(vmax(m4[0], m4[1]), vmax(m4[2], m4[3])));
    if (m == -std::numeric_limits<float>::infinity()) {
        for (c = 0; c < cv; c += W) store8<DT>(y, base + c, V{});
        if (tail) store_part<DT>(y, base + cv, tail, V{});
        return;
    }
        // Sums in F32 lanes over blocks of 16 vectors (128 elements), each block's lanes then added in
    // F64: an in-order F32 sum over a 32k vocabulary loses ~1e-5 of the total; this, ~1e-7.
    const V vm = bc(m);
    VD total;
    for (c = 0; c + 16 * W <= cv; c += 16 * W) {
        V a[2] = {V{}, V{}};
        for (int k = 0; k < 16; ++k) {
            const V e = vexp(load8<DT>(x, base + c + k * W) * vt - vm);
            st(z + c + k * W, e);
            a[k & 1] += e;
        }
        total += a[0] + a[1];
    }
    V a = V{};
    for (; c < cv; c += W) {
        const V e = vexp(load8<DT>(x, base + c) * vt - vm);
        st(z + c, e);
        a += e;
    }
    if (tail) {
        const V e = lane < tail ? vexp(load_part<DT>(x, base + cv, tail) * vt - vm) : V{};
        st(z + cv, e);
        a += e;
    }
    total += a;
    const V inv = bc(static_cast<float>(1.0 / hsum(total)));
    for (c = 0; c < cv; c += W) store8<DT>(y, base + c, ld(z + c) * inv);
    if (tail) store_part<DT>(y, base + cv, tail, ld(z + cv) * inv);
}

}  // namespace bd::cpu::softmax8

// The same row, 16 lanes (AVX-512, taken when use_avx512()): e^x per element makes softmax
// compute-bound at 8 lanes on two cores. Everything it calls is defined in this region (vec16.hpp)
// or is a default-target inline function such as cpu_common.hpp's load/store (inlined, or kept for
// the baseline), so no AVX-512 code can stand in for the AVX2 path's symbols.
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,prefer-vector-width=512")
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12's own _mm512_undefined_* in its intrinsics
#define BD_VEC16_REGION
#include "vec16.hpp"
namespace bd::cpu::softmax16 {

using namespace vec16;

// F64 lanes of a block sum
inline void add_f64(__m512d& lo, __m512d& hi, V v) {
    lo = _mm512_add_pd(lo, _mm512_cvtps_pd(_mm512_castps512_ps256((__m512)v)));
    hi = _mm512_add_pd(hi, _mm512_cvtps_pd(_mm512_extractf32x8_ps((__m512)v, 1)));
}

// softmax_row with 16 lanes; the tail (cols % 16) goes through the scalar load/store into z.
template <int DT>
void row(const void* x, void* y, int64_t base, int64_t cols, float inv_t, float* z) {
    const int64_t cv = cols - cols % W;
    const V vt = bc(inv_t), ninf = bc(-INFINITY);
    V m4[4] = {ninf, ninf, ninf, ninf};
    int64_t c = 0;
    for (; c + 4 * W <= cv; c += 4 * W)
        for (int k = 0; k < 4; ++k) m4[k] = vmax(m4[k], load16<DT>(x, base + c + k * W) * vt);
    for (; c < cv; c += W) m4[0] = vmax(m4[0], load16<DT>(x, base + c) * vt);
    const V mv = vmax(vmax(m4[0], m4[1]), vmax(m4[2], m4[3]));
    float m = mv[0];
    for (int i = 1; i < W; ++i)
        if (mv[i] > m) m = mv[i];
    for (c = cv; c < cols; ++c) {
        const float v = load(x, DT, base + c) * inv_t;
        if (v > m) m = v;
    }
    if (m == -INFINITY) {
        for (c = 0; c < cv; c += W) store16<DT>(y, base + c, V{});
        for (c = cv; c < cols; ++c) store(y, DT, base + c, 0.f);
        return;
    }
    const V vm = bc(m);
    __m512d lo = _mm512_setzero_pd(), hi = _mm512_setzero_pd();
    for (c = 0; c + 8 * W <= cv; c += 8 * W) {  // blocks of 128 elements, as the 8-lane row
        V a[2] = {V{}, V{}};
        for (int k = 0; k < 8; ++k) {
            const V e = vexp(load16<DT>(x, base + c + k * W) * vt - vm);
            st(z + c + k * W, e);
            a[k & 1] += e;
        }
        add_f64(lo, hi, a[0] + a[1]);
    }
    V a = V{};
    for (; c < cv; c += W) {
        const V e = vexp(load16<DT>(x, base + c) * vt - vm);
        st(z + c, e);
        a += e;
    }
    if (cv < cols) {  // the tail: one padded vector (lanes past cols give e^-inf = 0)
        float t[W];
        for (int k = 0; k < W; ++k) t[k] = cv + k < cols ? load(x, DT, base + cv + k) * inv_t : -INFINITY;
        const V e = vexp(ld(t) - vm);
        st(z + cv, e);
        a += e;
    }
    add_f64(lo, hi, a);
    const double total = _mm512_reduce_add_pd(_mm512_add_pd(lo, hi));
    const V inv = bc(static_cast<float>(1.0 / total));
    for (c = 0; c < cv; c += W) store16<DT>(y, base + c, ld(z + c) * inv);
    for (c = cv; c < cols; ++c) store(y, DT, base + c, z[c] * inv[0]);
}

}  // namespace bd::cpu::softmax16
#undef BD_VEC16_REGION
#pragma GCC diagnostic pop
#pragma GCC pop_options

namespace bd::cpu {

// ---- launchers

struct Softmax {
    template <int DT>
    static int run(const void* x, void* y, int64_t rows, int64_t cols, float inv_t) {
        // z: the exponentials of one row, padded to whole vectors of 16. F32 output rows are the
        // scratch themselves unless y is too short for the padding (a tail) or aliases x.
        void (*row)(const void*, void*, int64_t, int64_t, float, float*) =
            use_avx512() ? softmax16::row<DT> : softmax8::softmax_row<DT>;
        const int64_t padded = (cols + 15) / 16 * 16;
        if (DT == BD_F32 && padded == cols && x != y) {
            vec::for_rows(rows, rows * cols, [=](int64_t r) { row(x, y, r * cols, cols, inv_t, static_cast<float*>(y) + r * cols); });
            return BD_OK;
        }
        if (rows * cols < vec::PARALLEL_MIN || rows < 2) {
            std::vector<float> z(static_cast<size_t>(padded));
            for (int64_t r = 0; r < rows; ++r) row(x, y, r * cols, cols, inv_t, z.data());
            return BD_OK;
        }
#pragma omp parallel
        {
            std::vector<float> z(static_cast<size_t>(padded));
#pragma omp for schedule(static)
            for (int64_t r = 0; r < rows; ++r) row(x, y, r * cols, cols, inv_t, z.data());
        }
        return BD_OK;
    }
};

static int softmax(const void* x, void* y, int64_t rows, int64_t cols, float inv_t, int dt) {
    return vec::dispatch<Softmax>(dt, x, y, rows, cols, inv_t);
}

}  // namespace bd::cpu

// ---- entry points

extern "C" int bd_cpu_softmax(const void* x, void* y, int64_t rows, int64_t cols, float inv_temperature,
                              int dtype, void* stream) {
    using namespace bd::cpu;
    BD_CHECK(is_float_dtype(dtype), "softmax", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(rows >= 0 && cols > 0, "softmax", "bad shape rows=%lld cols=%lld", (long long)rows,
             (long long)cols);
    BD_CHECK(inv_temperature > 0.f && std::isfinite(inv_temperature), "softmax",
             "inv_temperature (%g) must be finite and > 0", inv_temperature);
    if (rows == 0) return BD_OK;
    BD_CHECK(x && y, "softmax", "null tensor pointer");
    return softmax(x, y, rows, cols, inv_temperature, dtype);
}
