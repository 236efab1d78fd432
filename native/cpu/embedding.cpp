// Token embedding lookup on the CPU: a gather of table rows, copied bit for bit.
//   table: (vocab, dim); ids: (n) I32 or I64; y: (n, dim)
// An id outside [0, vocab) leaves zeros in its row and makes the call fail, naming the first
// (lowest) offending position and its value, exactly as the CUDA twin reports it; the other rows
// are still written, so both backends leave the same output behind.
#include <cstdint>
#include <cstring>

#include "braindrip/ops.h"
#include "cpu_common.hpp"

namespace bd::cpu {

// ---- kernels

// Copies row i; returns false (and zeros the row) when the id is out of range.
static bool embed_row(const void* table, const void* ids, int ids_dt, void* y, int64_t i, int64_t vocab,
                      size_t row_bytes) {
    const int64_t id = load_index(ids, ids_dt, i);
    char* dst = static_cast<char*>(y) + static_cast<size_t>(i) * row_bytes;
    if (id < 0 || id >= vocab) {
        std::memset(dst, 0, row_bytes);
        return false;
    }
    std::memcpy(dst, static_cast<const char*>(table) + static_cast<size_t>(id) * row_bytes, row_bytes);
    return true;
}

// ---- launchers

// Returns the lowest position whose id is out of range, or n when all are valid.
static int64_t embedding(const void* table, const void* ids, int ids_dt, void* y, int64_t n, int64_t vocab,
                         size_t row_bytes) {
    int64_t first_bad = n;
    if (n < 2 || n * static_cast<int64_t>(row_bytes) < (1 << 16)) {  // no OpenMP team for a few rows
        for (int64_t i = 0; i < n; ++i)
            if (!embed_row(table, ids, ids_dt, y, i, vocab, row_bytes) && i < first_bad) first_bad = i;
        return first_bad;
    }
#pragma omp parallel for schedule(static) reduction(min : first_bad)
    for (int64_t i = 0; i < n; ++i)
        if (!embed_row(table, ids, ids_dt, y, i, vocab, row_bytes) && i < first_bad) first_bad = i;
    return first_bad;
}

}  // namespace bd::cpu

// ---- entry points

extern "C" int bd_cpu_embedding(const void* table, const void* ids, int ids_dtype, void* y, int64_t n,
                                int64_t vocab, int64_t dim, int dtype, void* stream) {
    using namespace bd::cpu;
    BD_CHECK(is_float_dtype(dtype), "embedding", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(is_index_dtype(ids_dtype), "embedding", "ids dtype %s must be I32 or I64", dtype_name(ids_dtype));
    BD_CHECK(n >= 0 && vocab > 0 && dim > 0, "embedding", "bad shape n=%lld vocab=%lld dim=%lld",
             (long long)n, (long long)vocab, (long long)dim);
    if (n == 0) return BD_OK;
    BD_CHECK(table && ids && y, "embedding", "null tensor pointer");
    const size_t row_bytes = static_cast<size_t>(dim) * (dtype == BD_F32 ? 4 : 2);
    const int64_t bad = embedding(table, ids, ids_dtype, y, n, vocab, row_bytes);
    BD_CHECK(bad == n, "embedding", "ids[%lld] = %lld is outside [0, %lld)", (long long)bad,
             (long long)load_index(ids, ids_dtype, bad), (long long)vocab);
    return BD_OK;
}
