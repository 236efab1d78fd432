// Per-row cross-entropy of logits against target ids on the CPU (next-token loss, perplexity).
//   logits: (rows, cols); targets: (rows) I32 or I64; loss: float32 (rows)
//   loss[r] = logsumexp(logits[r]) - logits[r, target[r]]
// logsumexp subtracts the row max first (m + log sum exp(x - m)), in F32. A negative target is
// ignored (loss 0, HF's ignore_index = -100); a target >= cols fails the call naming the first
// (lowest) such row and its value, with loss 0 left in that row, as the CUDA twin reports it.
#include <cmath>
#include <limits>

#include "braindrip/ops.h"
#include "cpu_common.hpp"

namespace bd::cpu {

// ---- kernels

static float cross_entropy_row(const void* logits, int dt, int64_t base, int64_t cols, int64_t target) {
    float m = -std::numeric_limits<float>::infinity();
    for (int64_t c = 0; c < cols; ++c) m = std::fmax(m, load(logits, dt, base + c));
    double s = 0.0;  // F64 sum: an in-order F32 sum over a large vocabulary drops small terms
    for (int64_t c = 0; c < cols; ++c) s += std::exp(load(logits, dt, base + c) - m);
    return static_cast<float>(std::log(s)) + m - load(logits, dt, base + target);
}

// ---- launchers

// Returns the lowest row whose target is >= cols, or rows when all are valid.
static int64_t cross_entropy(const void* logits, const void* targets, int target_dt, float* loss, int64_t rows,
                             int64_t cols, int dt) {
    int64_t first_bad = rows;
#pragma omp parallel for schedule(static) reduction(min : first_bad) if (rows * cols >= (1 << 14))
    for (int64_t r = 0; r < rows; ++r) {
        const int64_t t = load_index(targets, target_dt, r);
        if (t < 0 || t >= cols) {
            loss[r] = 0.f;
            if (t >= cols && r < first_bad) first_bad = r;
            continue;
        }
        loss[r] = cross_entropy_row(logits, dt, r * cols, cols, t);
    }
    return first_bad;
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
