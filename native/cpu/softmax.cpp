// Row softmax with temperature on the CPU (attention-free logits path: sampling, routers).
//   x, y: (rows, cols); y = softmax(x * inv_temperature) over each row
// F32 throughout: the row max is subtracted before exponentiating so nothing overflows, and the
// normalization multiplies by 1/sum, the same formula as the CUDA twin (which gets max and sum in
// one online pass; the result is identical up to F32 summation order).
// A row that is entirely -inf (fully masked) gives zeros, never NaN.
#include <cmath>
#include <limits>
#include <vector>

#include "braindrip/ops.h"
#include "cpu_common.hpp"

namespace bd::cpu {

// ---- kernels

static void softmax_row(const void* x, void* y, int dt, int64_t row, int64_t cols, float inv_t, float* z) {
    const int64_t base = row * cols;
    float m = -std::numeric_limits<float>::infinity();
    for (int64_t c = 0; c < cols; ++c) {
        z[c] = load(x, dt, base + c) * inv_t;
        if (z[c] > m) m = z[c];
    }
    if (m == -std::numeric_limits<float>::infinity()) {
        for (int64_t c = 0; c < cols; ++c) store(y, dt, base + c, 0.f);
        return;
    }
    double s = 0.0;  // F64 sum: an in-order F32 sum over a 32k vocabulary loses ~1e-5 of the total
    for (int64_t c = 0; c < cols; ++c) {
        z[c] = std::exp(z[c] - m);
        s += z[c];
    }
    const float inv = static_cast<float>(1.0 / s);
    for (int64_t c = 0; c < cols; ++c) store(y, dt, base + c, z[c] * inv);
}

// ---- launchers

static int softmax(const void* x, void* y, int64_t rows, int64_t cols, float inv_t, int dt) {
#pragma omp parallel
    {
        std::vector<float> z(static_cast<size_t>(cols));
#pragma omp for schedule(static)
        for (int64_t r = 0; r < rows; ++r) softmax_row(x, y, dt, r, cols, inv_t, z.data());
    }
    return BD_OK;
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
