// LayerNorm and fused residual-add + LayerNorm on the CPU (GPT-2/BERT/Whisper family).
//   x, residual, sum, y: (rows, cols); w, b: (cols); b may be NULL
//   y = (x - mean) * rsqrt(var + eps) * w + b, var biased (divided by cols)
// Two passes over each row in F32: the mean first, then the mean of squared deviations, so a
// large common offset does not cancel catastrophically as it would in E[x^2] - E[x]^2.
// With a residual, the stored (rounded to dtype) sum is what gets normalized, as in rmsnorm.cpp.
// Rows run in parallel (on the calling thread for small tensors), each pass summing over 4 x 8
// vector lanes.
#include <cmath>

#include "braindrip/ops.h"
#include "cpu_common.hpp"
#include "vec.hpp"

namespace bd::cpu {

using namespace vec;

// ---- kernels

template <int DT>
static void layernorm_row(const void* x, const void* residual, const void* w, const void* b, void* y,
                          void* sum, int64_t base, int64_t cols, float eps) {
    const int64_t cv = cols - cols % W;
    const int tail = static_cast<int>(cols - cv);
    const void* src = residual ? sum : x;
    // pass 1: the sum (and the stored residual sum)
    V acc[4] = {V{}, V{}, V{}, V{}};
    auto sum_step = [&](int64_t c, V& a) {
        V v = load8<DT>(x, base + c);
        if (residual) {
            v = round8<DT>(v + load8<DT>(residual, base + c));
            store8<DT>(sum, base + c, v);
        }
        a += v;
    };
    int64_t c = 0;
    for (; c + 4 * W <= cv; c += 4 * W)
        for (int k = 0; k < 4; ++k) sum_step(c + k * W, acc[k]);  // four chains in registers
    for (; c < cv; c += W) sum_step(c, acc[0]);
    if (tail) {
        V v = load_part<DT>(x, base + cv, tail);
        if (residual) {
            v = round8<DT>(v + load_part<DT>(residual, base + cv, tail));
            store_part<DT>(sum, base + cv, tail, v);
        }
        acc[0] += v;
    }
    const float mean = hsum((acc[0] + acc[2]) + (acc[1] + acc[3])) / static_cast<float>(cols);
    const V vm = bc(mean);
    // pass 2: the sum of squared deviations (the padded tail lanes are masked out)
    for (auto& a : acc) a = V{};
    auto dev_step = [&](int64_t c, V& a) {
        const V d = load8<DT>(src, base + c) - vm;
        a += d * d;
    };
    for (c = 0; c + 4 * W <= cv; c += 4 * W)
        for (int k = 0; k < 4; ++k) dev_step(c + k * W, acc[k]);
    for (; c < cv; c += W) dev_step(c, acc[0]);
    if (tail) {
        const VI lane = {0, 1, 2, 3, 4, 5, 6, 7};
        const V d = lane < tail ? load_part<DT>(src, base + cv, tail) - vm : V{};
        acc[0] += d * d;
    }
    const float rstd = 1.f / std::sqrt(hsum((acc[0] + acc[2]) + (acc[1] + acc[3])) / static_cast<float>(cols) + eps);
    const V vr = bc(rstd);
    // pass 3: y = (v - mean) * rstd * w (+ b)
    for (int64_t c = 0; c < cv; c += W) {
        V v = (load8<DT>(src, base + c) - vm) * vr * load8<DT>(w, c);
        if (b) v += load8<DT>(b, c);
        store8<DT>(y, base + c, v);
    }
    if (tail) {
        V v = (load_part<DT>(src, base + cv, tail) - vm) * vr * load_part<DT>(w, cv, tail);
        if (b) v += load_part<DT>(b, cv, tail);
        store_part<DT>(y, base + cv, tail, v);
    }
}

// ---- launchers

struct LayerNorm {
    template <int DT>
    static int run(const void* x, const void* residual, const void* w, const void* b, void* y, void* sum,
                   int64_t rows, int64_t cols, float eps) {
        for_rows(rows, rows * cols, [=](int64_t r) { layernorm_row<DT>(x, residual, w, b, y, sum, r * cols, cols, eps); });
        return BD_OK;
    }
};

static int layernorm(const void* x, const void* residual, const void* w, const void* b, void* y,
                     void* sum, int64_t rows, int64_t cols, float eps, int dt) {
    return dispatch<LayerNorm>(dt, x, residual, w, b, y, sum, rows, cols, eps);
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
