// Per-row cross-entropy of logits against target ids on the CPU (next-token loss, perplexity).
//   logits: (rows, cols); targets: (rows) I32 or I64; loss: float32 (rows)
//   loss[r] = logsumexp(logits[r]) - logits[r, target[r]]
// logsumexp subtracts the row max first (m + log sum exp(x - m)), in F32. A negative target is
// ignored (loss 0, HF's ignore_index = -100); a target >= cols fails the call naming the first
// (lowest) such row and its value, with loss 0 left in that row, as the CUDA twin reports it.
// The row passes run 8 lanes at a time (vec.hpp; e^x within ~1 ulp of expf), the sum in F64.
#include <cmath>
#include <limits>

#include "braindrip/ops.h"
#include "cpu_common.hpp"
#include "vec.hpp"

namespace bd::cpu {

using namespace vec;

// ---- kernels

template <int DT>
static float cross_entropy_row(const void* logits, int64_t base, int64_t cols, int64_t target) {
    const int64_t cv = cols - cols % W;
    const int tail = static_cast<int>(cols - cv);
    const V ninf = bc(-std::numeric_limits<float>::infinity());
    const VI lane = {0, 1, 2, 3, 4, 5, 6, 7};
    // the max as fmax does it: a NaN loses to any number
    V mv = ninf;
    for (int64_t c = 0; c < cv; c += W) {
        const V v = load8<DT>(logits, base + c);
        mv = v > mv ? v : mv;
    }
    if (tail) {
        const V v = lane < tail ? load_part<DT>(logits, base + cv, tail) : ninf;
        mv = v > mv ? v : mv;
    }
    const float m = hmax(mv);
    // F32 lanes over blocks of 16 vectors, each block added in F64 (as softmax.cpp: an in-order
    // F32 sum over a large vocabulary drops small terms)
    const V vm = bc(m);
    VD total;
    int64_t c = 0;
    for (; c + 16 * W <= cv; c += 16 * W) {
        V a[2] = {V{}, V{}};
        for (int k = 0; k < 16; ++k) a[k & 1] += vexp(load8<DT>(logits, base + c + k * W) - vm);
        total += a[0] + a[1];
    }
    V a = V{};
    for (; c < cv; c += W) a += vexp(load8<DT>(logits, base + c) - vm);
    if (tail) a += lane < tail ? vexp(load_part<DT>(logits, base + cv, tail) - vm) : V{};
    total += a;
    return static_cast<float>(std::log(hsum(total))) + m - load(logits, DT, base + target);
}

// ---- launchers

// Returns the lowest row whose target is >= cols, or rows when all are valid.
struct CrossEntropy {
    template <int DT>
    static int64_t run(const void* logits, const void* targets, int target_dt, float* loss, int64_t rows, int64_t cols) {
        auto row = [=](int64_t r) -> bool {  // false: target >= cols
            const int64_t t = load_index(targets, target_dt, r);
            if (t < 0 || t >= cols) {
                loss[r] = 0.f;
                return t < cols;
            }
            loss[r] = cross_entropy_row<DT>(logits, r * cols, cols, t);
            return true;
        };
        int64_t first_bad = rows;
        if (rows * cols < PARALLEL_MIN || rows < 2) {
            for (int64_t r = 0; r < rows; ++r)
                if (!row(r) && r < first_bad) first_bad = r;
            return first_bad;
        }
#pragma omp parallel for schedule(static) reduction(min : first_bad)
        for (int64_t r = 0; r < rows; ++r)
            if (!row(r) && r < first_bad) first_bad = r;
        return first_bad;
    }
};

static int64_t cross_entropy(const void* logits, const void* targets, int target_dt, float* loss, int64_t rows,
                             int64_t cols, int dt) {
    return dispatch<CrossEntropy>(dt, logits, targets, target_dt, loss, rows, cols);
}

}  // namespace bd::cpu

// ---- entry points

extern "C" int bd_cpu_cross_entropy(const void* logits, const void* targets, int target_dtype, float* loss,
                                    int64_t rows, int64_t cols, int dtype, void* stream) {
    using namespace bd::cpu;
    BD_CHECK(is_float_dtype(dtype), "cross_entropy", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(is_index_dtype(target_dtype), "cross_entropy", "targets dtype %s must be I32 or I64",
             dtype_name(target_dtype));
    BD_CHECK(rows >= 0 && cols > 0, "cross_entropy", "bad shape rows=%lld cols=%lld", (long long)rows,
             (long long)cols);
    if (rows == 0) return BD_OK;
    BD_CHECK(logits && targets && loss, "cross_entropy", "null tensor pointer");
    const int64_t bad = cross_entropy(logits, targets, target_dtype, loss, rows, cols, dtype);
    BD_CHECK(bad == rows, "cross_entropy", "targets[%lld] = %lld must be < cols (%lld)", (long long)bad,
             (long long)load_index(targets, target_dtype, bad), (long long)cols);
    return BD_OK;
}
