// Token embedding lookup on CUDA: a gather of table rows, copied bit for bit.
//   table: (vocab, dim); ids: (n) I32 or I64; y: (n, dim)
// One block per token copies its row in the widest unit (16, 8, 4 or 2 bytes) that divides the row
// and the alignment of both base pointers; the dtype matters only for the row's byte size. An id
// outside [0, vocab) zeros its row and lowers a device error word to the position; the entry reads
// it back synchronously and fails naming the first such position and its value, like the CPU twin.
#include <cstdint>

#include "braindrip/ops.h"
#include "cuda_common.cuh"
#include "error_flag.cuh"

namespace bd::cuda {

constexpr int EMBED_BLOCK = 128;

// ---- kernels

// U: copy unit (uint4, uint2, uint32_t, uint16_t); units: units per row; grid: (n)
template <typename U, typename I>
static __global__ void embedding_kernel(const U* __restrict__ table, const I* __restrict__ ids, U* __restrict__ y,
                                        int64_t vocab, int64_t units, unsigned long long* __restrict__ first_bad) {
    const int64_t i = blockIdx.x;
    const int64_t id = static_cast<int64_t>(ids[i]);
    U* dst = y + i * units;
    if (id < 0 || id >= vocab) {
        if (threadIdx.x == 0) atomicMin(first_bad, static_cast<unsigned long long>(i));
        const U zero{};
        for (int64_t u = threadIdx.x; u < units; u += blockDim.x) dst[u] = zero;
        return;
    }
    const U* src = table + id * units;
    for (int64_t u = threadIdx.x; u < units; u += blockDim.x) dst[u] = src[u];
}

// ---- launchers

template <typename U, typename I>
static int launch_embedding_unit(const void* table, const void* ids, void* y, int64_t n, int64_t vocab,
                                 int64_t row_bytes, unsigned long long* first_bad, cudaStream_t stream) {
    embedding_kernel<U, I><<<static_cast<unsigned>(n), EMBED_BLOCK, 0, stream>>>(
        static_cast<const U*>(table), static_cast<const I*>(ids), static_cast<U*>(y), vocab,
        row_bytes / static_cast<int64_t>(sizeof(U)), first_bad);
    return check_launch("embedding_kernel");
}

template <typename I>
static int launch_embedding(const void* table, const void* ids, void* y, int64_t n, int64_t vocab, int64_t row_bytes,
                            unsigned long long* first_bad, cudaStream_t stream) {
    const uint64_t common = static_cast<uint64_t>(row_bytes) | reinterpret_cast<uintptr_t>(table) |
                            reinterpret_cast<uintptr_t>(y);
    if (common % 16 == 0) return launch_embedding_unit<uint4, I>(table, ids, y, n, vocab, row_bytes, first_bad, stream);
    if (common % 8 == 0) return launch_embedding_unit<uint2, I>(table, ids, y, n, vocab, row_bytes, first_bad, stream);
    if (common % 4 == 0) return launch_embedding_unit<uint32_t, I>(table, ids, y, n, vocab, row_bytes, first_bad, stream);
    return launch_embedding_unit<uint16_t, I>(table, ids, y, n, vocab, row_bytes, first_bad, stream);
}

}  // namespace bd::cuda

// ---- entry points

extern "C" int bd_cuda_embedding(const void* table, const void* ids, int ids_dtype, void* y, int64_t n, int64_t vocab,
                                 int64_t dim, int dtype, void* stream) {
    using namespace bd::cuda;
    BD_CHECK(is_float_dtype(dtype), "embedding", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(is_index_dtype(ids_dtype), "embedding", "ids dtype %s must be I32 or I64", dtype_name(ids_dtype));
    BD_CHECK(n >= 0 && n <= INT32_MAX && vocab > 0 && dim > 0, "embedding", "bad shape n=%lld vocab=%lld dim=%lld",
             (long long)n, (long long)vocab, (long long)dim);
    if (n == 0) return BD_OK;
    BD_CHECK(table && ids && y, "embedding", "null tensor pointer");
    cudaStream_t s = as_stream(stream);
    const int64_t row_bytes = dim * (dtype == BD_F32 ? 4 : 2);
    unsigned long long* flag = nullptr;
    int st = error_flag_create(&flag, s, "embedding: error flag");
    if (st != BD_OK) return st;
    st = ids_dtype == BD_I64 ? launch_embedding<int64_t>(table, ids, y, n, vocab, row_bytes, flag, s)
                             : launch_embedding<int32_t>(table, ids, y, n, vocab, row_bytes, flag, s);
    unsigned long long bad = NO_ERROR_POSITION;
    const int st_read = error_flag_read(flag, s, &bad, "embedding: error flag");
    if (st != BD_OK) return st;
    if (st_read != BD_OK) return st_read;
    if (bad == NO_ERROR_POSITION) return BD_OK;
    const size_t id_bytes = ids_dtype == BD_I64 ? 8 : 4;
    int64_t value = 0;
    st = check_cuda(cudaMemcpy(&value, static_cast<const char*>(ids) + bad * id_bytes, id_bytes, cudaMemcpyDeviceToHost),
                    "embedding: reading the bad id");
    if (st != BD_OK) return st;
    if (ids_dtype == BD_I32) value = static_cast<int32_t>(static_cast<uint32_t>(value));
    return fail(BD_ERR_INVALID_ARGUMENT, "embedding: ids[%lld] = %lld is outside [0, %lld)", (long long)bad,
                (long long)value, (long long)vocab);
}
