// RMSNorm and fused residual-add + RMSNorm on the CPU (Llama family: computed in F32).
//   x, residual, sum, y: (rows, cols); w: (cols)
//   y = x * rsqrt(mean(x^2) + eps) * w
// Rows run in parallel (on the calling thread for small tensors); each row accumulates its sum of
// squares in F32 over 4 x 8 vector lanes, summed pairwise at the end (the CUDA twin reduces a
// block-wide tree; both stay within the op's NMSE tolerance against the F64 oracle).
#include <cmath>

#include "braindrip/ops.h"
#include "cpu_common.hpp"
#include "vec.hpp"

namespace bd::cpu {

using namespace vec;

// ---- kernels

// One row: with a residual, sum = round(x + residual) is stored first and normalized (re-read from
// sum, so what is normalized is exactly what was stored); y = v * inv * w.
template <int DT>
static void rmsnorm_row(const void* x, const void* residual, const void* w, void* y, void* sum,
                        int64_t base, int64_t cols, float eps) {
    const int64_t cv = cols - cols % W;
    V acc[4] = {V{}, V{}, V{}, V{}};
    const void* src = residual ? sum : x;
    auto step = [&](int64_t c, V& a) {
        V v = load8<DT>(x, base + c);
        if (residual) {
            v = round8<DT>(v + load8<DT>(residual, base + c));
            store8<DT>(sum, base + c, v);
        }
        a += v * v;
    };
    int64_t c = 0;
    for (; c + 4 * W <= cv; c += 4 * W)
        for (int k = 0; k < 4; ++k) step(c + k * W, acc[k]);  // four chains in registers
    for (; c < cv; c += W) step(c, acc[0]);
    if (c < cols) {
        const int n = static_cast<int>(cols - c);
        V v = load_part<DT>(x, base + c, n);
        if (residual) {
            v = round8<DT>(v + load_part<DT>(residual, base + c, n));
            store_part<DT>(sum, base + c, n, v);
        }
        acc[0] += v * v;
    }
    const float ss = hsum((acc[0] + acc[2]) + (acc[1] + acc[3]));
    const V inv = bc(1.f / std::sqrt(ss / static_cast<float>(cols) + eps));
    for (c = 0; c < cv; c += W) store8<DT>(y, base + c, load8<DT>(src, base + c) * inv * load8<DT>(w, c));
    if (c < cols) {
        const int n = static_cast<int>(cols - c);
        store_part<DT>(y, base + c, n, load_part<DT>(src, base + c, n) * inv * load_part<DT>(w, c, n));
    }
}

// ---- launchers

struct RmsNorm {
    template <int DT>
    static int run(const void* x, const void* residual, const void* w, void* y, void* sum, int64_t rows,
                   int64_t cols, float eps) {
        for_rows(rows, rows * cols, [=](int64_t r) { rmsnorm_row<DT>(x, residual, w, y, sum, r * cols, cols, eps); });
        return BD_OK;
    }
};

static int rmsnorm(const void* x, const void* residual, const void* w, void* y, void* sum,
                   int64_t rows, int64_t cols, float eps, int dt) {
    return dispatch<RmsNorm>(dt, x, residual, w, y, sum, rows, cols, eps);
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
