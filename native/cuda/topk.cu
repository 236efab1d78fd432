// Row argmax and top-k on CUDA.
//   x: (rows, cols); argmax out: int32 (rows); topk values: float32 (rows, k), indices: int32 (rows, k)
// Ranking is the CPU twin's (topk.cpp): a 64-bit key per element, the F32 value mapped to an
// order-preserving uint32 (NaN lowest, -0 == +0) above 0xffffffff - index (lower index wins ties).
// Keys are distinct within a row, so every path below returns the same indices as the CPU twin.
// Three paths, by shape:
//   k <= TOPK_ROUNDS_MAX (argmax is k = 1): one block per row runs k rounds of a block max over
//     the keys strictly below the previous round's key; no picked-set bookkeeping. Rows up to
//     4 * blockDim columns keep their keys in registers, longer rows are re-read (L1/L2) per round.
//   cols <= TOPK_BITONIC_MAX: one block per row bitonic-sorts the row's keys in shared memory.
//   otherwise: CUB's segmented radix sort (stable, descending) of (value key, column) pairs in a
//     stream-ordered workspace, TOPK_SORT_CHUNK elements at a time; stability keeps equal values in
//     column order. This sorts whole rows: correct for k = cols (top-p needs that), but wasteful for
//     k << cols on vocab-sized rows; a radix-select prefilter is the known next step.
#include <cub/device/device_segmented_radix_sort.cuh>

#include <algorithm>
#include <cstdint>

#include "block_reduce.cuh"
#include "braindrip/ops.h"
#include "cuda_common.cuh"

namespace bd::cuda {

constexpr int TOPK_ROUNDS_MAX = 16;
constexpr int TOPK_CACHE_ITEMS = 4;      // keys per thread held in registers by the rounds kernel
constexpr int TOPK_BITONIC_MAX = 4096;   // 32 KiB of 64-bit keys in static shared memory
constexpr int TOPK_BITONIC_BLOCK = 512;
constexpr int64_t TOPK_SORT_CHUNK = int64_t{1} << 23;  // elements per sort chunk: 16 B each in the workspace
constexpr int TOPK_EW_BLOCK = 256;

// ---- kernels

__device__ __forceinline__ uint32_t value_key(float v) {
    const uint32_t u = __float_as_uint(v);
    if (v != v) return 0u;             // NaN: lowest of all
    if (v == 0.f) return 0x80000000u;  // -0 == +0
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

__device__ __forceinline__ unsigned long long rank_key(float v, int64_t index) {
    return (static_cast<unsigned long long>(value_key(v)) << 32) | (0xffffffffu - static_cast<uint32_t>(index));
}

__device__ __forceinline__ int32_t key_index(unsigned long long key) {
    return static_cast<int32_t>(0xffffffffu - static_cast<uint32_t>(key & 0xffffffffu));
}

// grid: (rows); values may be NULL (argmax). CACHED: cols <= TOPK_CACHE_ITEMS * blockDim.
template <typename T, bool CACHED>
static __global__ void topk_rounds_kernel(const T* __restrict__ x, float* __restrict__ values,
                                          int32_t* __restrict__ indices, int64_t cols, int k) {
    __shared__ unsigned long long red[32];
    const int64_t row = blockIdx.x;
    const T* xr = x + row * cols;
    unsigned long long cache[CACHED ? TOPK_CACHE_ITEMS : 1];
    if constexpr (CACHED) {
#pragma unroll
        for (int i = 0; i < TOPK_CACHE_ITEMS; ++i) {
            const int64_t c = threadIdx.x + static_cast<int64_t>(i) * blockDim.x;
            cache[i] = c < cols ? rank_key(to_f32(xr[c]), c) : 0ull;  // 0 is below every real key
        }
    }
    unsigned long long prev = ~0ull;  // above every real key
    for (int j = 0; j < k; ++j) {
        unsigned long long best = 0ull;
        if constexpr (CACHED) {
#pragma unroll
            for (int i = 0; i < TOPK_CACHE_ITEMS; ++i)
                if (cache[i] < prev && cache[i] > best) best = cache[i];
        } else {
            for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
                const unsigned long long key = rank_key(to_f32(xr[c]), c);
                if (key < prev && key > best) best = key;
            }
        }
        best = block_reduce_max(best, red);
        if (threadIdx.x == 0) {
            const int32_t idx = key_index(best);
            indices[row * k + j] = idx;
            if (values) values[row * k + j] = to_f32(xr[idx]);
        }
        prev = best;
    }
}

// grid: (rows); n2 = the power of two >= cols (<= TOPK_BITONIC_MAX); sorts keys descending.
template <typename T>
static __global__ void topk_bitonic_kernel(const T* __restrict__ x, float* __restrict__ values,
                                           int32_t* __restrict__ indices, int64_t cols, int k, int n2) {
    __shared__ unsigned long long keys[TOPK_BITONIC_MAX];
    const int64_t row = blockIdx.x;
    const T* xr = x + row * cols;
    for (int i = threadIdx.x; i < n2; i += blockDim.x) keys[i] = i < cols ? rank_key(to_f32(xr[i]), i) : 0ull;
    __syncthreads();
    for (int size = 2; size <= n2; size <<= 1) {
        for (int stride = size >> 1; stride > 0; stride >>= 1) {
            for (int t = threadIdx.x; t < n2 / 2; t += blockDim.x) {
                const int i = 2 * t - (t & (stride - 1));  // t with a zero bit inserted at log2(stride)
                const int j = i + stride;
                const bool descending = (i & size) == 0;   // the last merge (size == n2) is all descending
                const unsigned long long a = keys[i], b = keys[j];
                if ((a < b) == descending) {
                    keys[i] = b;
                    keys[j] = a;
                }
            }
            __syncthreads();
        }
    }
    for (int j = threadIdx.x; j < k; j += blockDim.x) {
        const int32_t idx = key_index(keys[j]);
        indices[row * k + j] = idx;
        values[row * k + j] = to_f32(xr[idx]);
    }
}

// One chunk of `nrows` rows starting at x: sort keys and column ids; offsets[s] = s * cols.
template <typename T>
static __global__ void topk_sort_prepare_kernel(const T* __restrict__ x, uint32_t* __restrict__ keys,
                                                int32_t* __restrict__ cols_out, int* __restrict__ offsets,
                                                int64_t nrows, int64_t cols) {
    const int64_t n = nrows * cols;
    const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
        keys[i] = value_key(to_f32(x[i]));
        cols_out[i] = static_cast<int32_t>(i % cols);
    }
    for (int64_t s = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; s <= nrows; s += stride)
        offsets[s] = static_cast<int>(s * cols);  // nrows * cols <= TOPK_SORT_CHUNK or one row: fits an int
}

// Copies the first k sorted columns of each row of the chunk out, with their values from x.
template <typename T>
static __global__ void topk_sort_gather_kernel(const T* __restrict__ x, const int32_t* __restrict__ sorted_cols,
                                               float* __restrict__ values, int32_t* __restrict__ indices,
                                               int64_t nrows, int64_t cols, int64_t k) {
    const int64_t n = nrows * k;
    const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
        const int64_t r = i / k, j = i - r * k;
        const int32_t idx = sorted_cols[r * cols + j];
        indices[i] = idx;
        values[i] = to_f32(x[r * cols + idx]);
    }
}

// ---- launchers

static dim3 flat_grid(int64_t work) {
    return dim3(static_cast<unsigned>(std::clamp<int64_t>((work + TOPK_EW_BLOCK - 1) / TOPK_EW_BLOCK, 1, 8192)));
}

template <typename T>
static int launch_topk_rounds(const void* x, float* values, int32_t* indices, int64_t rows, int64_t cols, int k,
                              cudaStream_t stream, const char* name) {
    const int block = row_block_size(cols);
    if (cols <= static_cast<int64_t>(TOPK_CACHE_ITEMS) * block)
        topk_rounds_kernel<T, true><<<static_cast<unsigned>(rows), block, 0, stream>>>(static_cast<const T*>(x), values,
                                                                                    indices, cols, k);
    else
        topk_rounds_kernel<T, false><<<static_cast<unsigned>(rows), block, 0, stream>>>(static_cast<const T*>(x), values,
                                                                                     indices, cols, k);
    return check_launch(name);
}

template <typename T>
static int launch_topk_bitonic(const void* x, float* values, int32_t* indices, int64_t rows, int64_t cols, int k,
                               cudaStream_t stream) {
    int n2 = 1;
    while (n2 < cols) n2 <<= 1;
    topk_bitonic_kernel<T><<<static_cast<unsigned>(rows), TOPK_BITONIC_BLOCK, 0, stream>>>(
        static_cast<const T*>(x), values, indices, cols, k, n2);
    return check_launch("topk_bitonic_kernel");
}

struct SortWorkspace {
    uint32_t* keys_in;
    uint32_t* keys_out;
    int32_t* cols_in;
    int32_t* cols_out;
    int* offsets;
    void* temp;
    size_t temp_bytes;
};

static int sort_pairs(const SortWorkspace& w, size_t* temp_bytes, int64_t nrows, int64_t cols, cudaStream_t stream) {
    return check_cuda(cub::DeviceSegmentedRadixSort::SortPairsDescending(
                          w.temp, *temp_bytes, w.keys_in, w.keys_out, w.cols_in, w.cols_out,
                          static_cast<int>(nrows * cols), static_cast<int>(nrows), w.offsets, w.offsets + 1, 0, 32,
                          stream),
                      "topk: cub::DeviceSegmentedRadixSort");
}

static size_t align256(size_t n) { return (n + 255) & ~static_cast<size_t>(255); }

template <typename T>
static int launch_topk_sort(const void* x, float* values, int32_t* indices, int64_t rows, int64_t cols, int64_t k,
                            cudaStream_t stream) {
    const int64_t chunk = std::clamp<int64_t>(TOPK_SORT_CHUNK / cols, 1, rows);
    // temp size for a full chunk and for the last, shorter one; allocate the larger
    SortWorkspace w{};
    size_t temp_full = 0, temp_last = 0;
    int st = sort_pairs(w, &temp_full, chunk, cols, stream);
    if (st == BD_OK && rows % chunk) st = sort_pairs(w, &temp_last, rows % chunk, cols, stream);
    if (st != BD_OK) return st;
    w.temp_bytes = std::max(temp_full, temp_last);
    const size_t items = static_cast<size_t>(chunk * cols);
    const size_t bytes_keys = align256(items * 4), bytes_offsets = align256(static_cast<size_t>(chunk + 1) * 4);
    char* base = nullptr;
    st = check_cuda(cudaMallocAsync(reinterpret_cast<void**>(&base), 4 * bytes_keys + bytes_offsets + w.temp_bytes, stream),
                    "topk: cudaMallocAsync of the sort workspace");
    if (st != BD_OK) return st;
    w.keys_in = reinterpret_cast<uint32_t*>(base);
    w.keys_out = reinterpret_cast<uint32_t*>(base + bytes_keys);
    w.cols_in = reinterpret_cast<int32_t*>(base + 2 * bytes_keys);
    w.cols_out = reinterpret_cast<int32_t*>(base + 3 * bytes_keys);
    w.offsets = reinterpret_cast<int*>(base + 4 * bytes_keys);
    w.temp = base + 4 * bytes_keys + bytes_offsets;
    const T* xt = static_cast<const T*>(x);
    for (int64_t r0 = 0; r0 < rows && st == BD_OK; r0 += chunk) {
        const int64_t nrows = std::min(chunk, rows - r0);
        topk_sort_prepare_kernel<T><<<flat_grid(nrows * cols), TOPK_EW_BLOCK, 0, stream>>>(
            xt + r0 * cols, w.keys_in, w.cols_in, w.offsets, nrows, cols);
        st = check_launch("topk_sort_prepare_kernel");
        size_t temp_bytes = w.temp_bytes;
        if (st == BD_OK) st = sort_pairs(w, &temp_bytes, nrows, cols, stream);
        if (st == BD_OK) {
            topk_sort_gather_kernel<T><<<flat_grid(nrows * k), TOPK_EW_BLOCK, 0, stream>>>(
                xt + r0 * cols, w.cols_out, values + r0 * k, indices + r0 * k, nrows, cols, k);
            st = check_launch("topk_sort_gather_kernel");
        }
    }
    const int st_free = check_cuda(cudaFreeAsync(base, stream), "topk: cudaFreeAsync of the sort workspace");
    return st != BD_OK ? st : st_free;
}

template <typename T>
static int launch_topk(const void* x, float* values, int32_t* indices, int64_t rows, int64_t cols, int64_t k,
                       cudaStream_t stream) {
    if (k <= TOPK_ROUNDS_MAX)
        return launch_topk_rounds<T>(x, values, indices, rows, cols, static_cast<int>(k), stream, "topk_rounds_kernel");
    if (cols <= TOPK_BITONIC_MAX)
        return launch_topk_bitonic<T>(x, values, indices, rows, cols, static_cast<int>(k), stream);
    return launch_topk_sort<T>(x, values, indices, rows, cols, k, stream);
}

}  // namespace bd::cuda

// ---- entry points

extern "C" int bd_cuda_argmax(const void* x, int32_t* out, int64_t rows, int64_t cols, int dtype, void* stream) {
    using namespace bd::cuda;
    BD_CHECK(is_float_dtype(dtype), "argmax", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(rows >= 0 && rows <= INT32_MAX && cols > 0 && cols <= INT32_MAX, "argmax", "bad shape rows=%lld cols=%lld",
             (long long)rows, (long long)cols);
    if (rows == 0) return BD_OK;
    BD_CHECK(x && out, "argmax", "null tensor pointer");
    int st = BD_OK;
    BD_DISPATCH_FLOAT(dtype, T,
                      st = launch_topk_rounds<T>(x, nullptr, out, rows, cols, 1, as_stream(stream), "argmax_kernel"));
    return st;
}

extern "C" int bd_cuda_topk(const void* x, float* values, int32_t* indices, int64_t rows, int64_t cols, int64_t k,
                            int dtype, void* stream) {
    using namespace bd::cuda;
    BD_CHECK(is_float_dtype(dtype), "topk", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(rows >= 0 && rows <= INT32_MAX && cols > 0 && cols <= INT32_MAX, "topk", "bad shape rows=%lld cols=%lld",
             (long long)rows, (long long)cols);
    BD_CHECK(k >= 1 && k <= cols, "topk", "k (%lld) must be in [1, cols=%lld]", (long long)k, (long long)cols);
    if (rows == 0) return BD_OK;
    BD_CHECK(x && values && indices, "topk", "null tensor pointer");
    int st = BD_OK;
    BD_DISPATCH_FLOAT(dtype, T, st = launch_topk<T>(x, values, indices, rows, cols, k, as_stream(stream)));
    return st;
}
