// LayerNorm and fused residual-add + LayerNorm on the CPU (GPT-2/BERT/Whisper family).
//   x, residual, sum, y: (rows, cols); w, b: (cols); b may be NULL
//   y = (x - mean) * rsqrt(var + eps) * w + b, var biased (divided by cols)
// Two passes over each row in F32: the mean first, then the mean of squared deviations, so a
// large common offset does not cancel catastrophically as it would in E[x^2] - E[x]^2.
// With a residual, the stored (rounded to dtype) sum is what gets normalized, as in rmsnorm.cpp.
#include <cmath>
#include <vector>

#include "braindrip/ops.h"
#include "cpu_common.hpp"

namespace bd::cpu {

// ---- kernels

static void layernorm_row(const float* x, const void* w, const void* b, int dt, void* y, int64_t row,
                          int64_t cols, float eps) {
    float s = 0.f;
    for (int64_t c = 0; c < cols; ++c) s += x[c];
    const float mean = s / static_cast<float>(cols);
    float ss = 0.f;
    for (int64_t c = 0; c < cols; ++c) {
        const float d = x[c] - mean;
        ss += d * d;
    }
    const float rstd = 1.f / std::sqrt(ss / static_cast<float>(cols) + eps);
    for (int64_t c = 0; c < cols; ++c) {
        float v = (x[c] - mean) * rstd * load(w, dt, c);
        if (b) v += load(b, dt, c);
        store(y, dt, row * cols + c, v);
    }
}

// ---- launchers

static int layernorm(const void* x, const void* residual, const void* w, const void* b, void* y,
                     void* sum, int64_t rows, int64_t cols, float eps, int dt) {
#pragma omp parallel
    {
        std::vector<float> buf(static_cast<size_t>(cols));
#pragma omp for schedule(static)
        for (int64_t r = 0; r < rows; ++r) {
            for (int64_t c = 0; c < cols; ++c) {
                float v = load(x, dt, r * cols + c);
                if (residual) {
                    v = round_to(dt, v + load(residual, dt, r * cols + c));
                    store(sum, dt, r * cols + c, v);
                }
                buf[c] = v;
            }
            layernorm_row(buf.data(), w, b, dt, y, r, cols, eps);
        }
    }
    return BD_OK;
}

}  // namespace bd::cpu

// ---- entry points

extern "C" int bd_cpu_layernorm(const void* x, const void* w, const void* b, void* y, int64_t rows,
                                int64_t cols, float eps, int dtype, void* stream) {
    using namespace bd::cpu;
    BD_CHECK(is_float_dtype(dtype), "layernorm", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(rows >= 0 && cols > 0, "layernorm", "bad shape rows=%lld cols=%lld", (long long)rows,
             (long long)cols);
    BD_CHECK(eps >= 0.f, "layernorm", "eps (%g) must be >= 0", eps);
    if (rows == 0) return BD_OK;
    BD_CHECK(x && w && y, "layernorm", "null tensor pointer");
    return layernorm(x, nullptr, w, b, y, nullptr, rows, cols, eps, dtype);
}

extern "C" int bd_cpu_add_layernorm(const void* x, const void* residual, const void* w, const void* b,
                                    void* y, void* sum, int64_t rows, int64_t cols, float eps,
                                    int dtype, void* stream) {
    using namespace bd::cpu;
    BD_CHECK(is_float_dtype(dtype), "add_layernorm", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(rows >= 0 && cols > 0, "add_layernorm", "bad shape rows=%lld cols=%lld",
             (long long)rows, (long long)cols);
    BD_CHECK(eps >= 0.f, "add_layernorm", "eps (%g) must be >= 0", eps);
    if (rows == 0) return BD_OK;
    BD_CHECK(x && residual && w && y && sum, "add_layernorm", "null tensor pointer");
    return layernorm(x, residual, w, b, y, sum, rows, cols, eps, dtype);
}
