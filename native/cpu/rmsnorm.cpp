// RMSNorm and fused residual-add + RMSNorm on the CPU (Llama family: computed in F32).
//   x, residual, sum, y: (rows, cols); w: (cols)
//   y = x * rsqrt(mean(x^2) + eps) * w
// Rows run in parallel; each row accumulates its sum of squares in F32 (the CUDA twin reduces
// a block-wide tree; both stay within the op's NMSE tolerance against the F64 oracle).
#include <cmath>
#include <vector>

#include "braindrip/ops.h"
#include "cpu_common.hpp"

namespace bd::cpu {

// ---- kernels

static void rmsnorm_row(const float* x, const void* w, int dt, void* y, int64_t row, int64_t cols,
                        float eps) {
    float ss = 0.f;
    for (int64_t c = 0; c < cols; ++c) ss += x[c] * x[c];
    const float inv = 1.f / std::sqrt(ss / static_cast<float>(cols) + eps);
    for (int64_t c = 0; c < cols; ++c) store(y, dt, row * cols + c, x[c] * inv * load(w, dt, c));
}

// ---- launchers

static int rmsnorm(const void* x, const void* residual, const void* w, void* y, void* sum,
                   int64_t rows, int64_t cols, float eps, int dt) {
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
            rmsnorm_row(buf.data(), w, dt, y, r, cols, eps);
        }
    }
    return BD_OK;
}

}  // namespace bd::cpu

// ---- entry points

extern "C" int bd_cpu_rmsnorm(const void* x, const void* w, void* y, int64_t rows, int64_t cols,
                              float eps, int dtype, void* stream) {
    using namespace bd::cpu;
    BD_CHECK(is_float_dtype(dtype), "rmsnorm", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(rows >= 0 && cols > 0, "rmsnorm", "bad shape rows=%lld cols=%lld", (long long)rows,
             (long long)cols);
    BD_CHECK(eps >= 0.f, "rmsnorm", "eps (%g) must be >= 0", eps);
    if (rows == 0) return BD_OK;
    BD_CHECK(x && w && y, "rmsnorm", "null tensor pointer");
    return rmsnorm(x, nullptr, w, y, nullptr, rows, cols, eps, dtype);
}

extern "C" int bd_cpu_add_rmsnorm(const void* x, const void* residual, const void* w, void* y,
                                  void* sum, int64_t rows, int64_t cols, float eps, int dtype,
                                  void* stream) {
    using namespace bd::cpu;
    BD_CHECK(is_float_dtype(dtype), "add_rmsnorm", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(rows >= 0 && cols > 0, "add_rmsnorm", "bad shape rows=%lld cols=%lld", (long long)rows,
             (long long)cols);
    BD_CHECK(eps >= 0.f, "add_rmsnorm", "eps (%g) must be >= 0", eps);
    if (rows == 0) return BD_OK;
    BD_CHECK(x && residual && w && y && sum, "add_rmsnorm", "null tensor pointer");
    return rmsnorm(x, residual, w, y, sum, rows, cols, eps, dtype);
}
