// Per-row cross-entropy of logits against target ids on CUDA.
//   logits: (rows, cols); targets: (rows) I32 or I64; loss: float32 (rows)
//   loss[r] = logsumexp(logits[r]) - logits[r, target[r]] = log(sum) + max - logits[r, t]
// One block per row, one sweep: an online (max, sum of exp(x - max)) per thread merged across the
// block (softmax.cu's reduction). A negative target skips the row (loss 0). A target >= cols also
// writes loss 0 and lowers a device error word to the row; the entry reads it back synchronously
// and fails naming the first such row and its value, as the CPU twin does.
#include "block_reduce.cuh"
#include "braindrip/ops.h"
#include "cuda_common.cuh"
#include "error_flag.cuh"

namespace bd::cuda {

// ---- kernels

template <typename T, typename I>
static __global__ void cross_entropy_kernel(const T* __restrict__ logits, const I* __restrict__ targets,
                                            float* __restrict__ loss, int64_t cols,
                                            unsigned long long* __restrict__ first_bad) {
    __shared__ MaxSum red[32];
    const int64_t row = blockIdx.x;
    const int64_t t = static_cast<int64_t>(targets[row]);
    if (t < 0 || t >= cols) {  // the same for the whole block: no thread reaches the barriers
        if (threadIdx.x == 0) {
            loss[row] = 0.f;
            if (t >= cols) atomicMin(first_bad, static_cast<unsigned long long>(row));
        }
        return;
    }
    const T* xr = logits + row * cols;
    MaxSum acc{-INFINITY, 0.f};
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) maxsum_add(acc, to_f32(xr[c]));
    acc = block_reduce_maxsum(acc, red);
    if (threadIdx.x == 0) loss[row] = logf(acc.s) + acc.m - to_f32(xr[t]);
}

// ---- launchers

template <typename T, typename I>
static int launch_cross_entropy(const void* logits, const void* targets, float* loss, int64_t rows, int64_t cols,
                                unsigned long long* first_bad, cudaStream_t stream) {
    cross_entropy_kernel<T, I><<<static_cast<unsigned>(rows), row_block_size(cols), 0, stream>>>(
        static_cast<const T*>(logits), static_cast<const I*>(targets), loss, cols, first_bad);
    return check_launch("cross_entropy_kernel");
}

static int cross_entropy(const void* logits, const void* targets, int target_dtype, float* loss, int64_t rows,
                         int64_t cols, int dtype, unsigned long long* first_bad, cudaStream_t stream) {
    int st = BD_OK;
    if (target_dtype == BD_I64) {
        BD_DISPATCH_FLOAT(dtype, T, st = launch_cross_entropy<T, int64_t>(logits, targets, loss, rows, cols, first_bad, stream));
    } else {
        BD_DISPATCH_FLOAT(dtype, T, st = launch_cross_entropy<T, int32_t>(logits, targets, loss, rows, cols, first_bad, stream));
    }
    return st;
}

}  // namespace bd::cuda

// ---- entry points

extern "C" int bd_cuda_cross_entropy(const void* logits, const void* targets, int target_dtype, float* loss,
                                     int64_t rows, int64_t cols, int dtype, void* stream) {
    using namespace bd::cuda;
    BD_CHECK(is_float_dtype(dtype), "cross_entropy", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(is_index_dtype(target_dtype), "cross_entropy", "targets dtype %s must be I32 or I64",
             dtype_name(target_dtype));
    BD_CHECK(rows >= 0 && rows <= INT32_MAX && cols > 0, "cross_entropy", "bad shape rows=%lld cols=%lld",
             (long long)rows, (long long)cols);
    if (rows == 0) return BD_OK;
    BD_CHECK(logits && targets && loss, "cross_entropy", "null tensor pointer");
    cudaStream_t s = as_stream(stream);
    unsigned long long* flag = nullptr;
    int st = error_flag_create(&flag, s, "cross_entropy: error flag");
    if (st != BD_OK) return st;
    st = cross_entropy(logits, targets, target_dtype, loss, rows, cols, dtype, flag, s);
    unsigned long long bad = NO_ERROR_POSITION;
    const int st_read = error_flag_read(flag, s, &bad, "cross_entropy: error flag");
    if (st != BD_OK) return st;
    if (st_read != BD_OK) return st_read;
    if (bad == NO_ERROR_POSITION) return BD_OK;
    int64_t value = 0;
    st = check_cuda(cudaMemcpy(&value, static_cast<const char*>(targets) + bad * (target_dtype == BD_I64 ? 8 : 4),
                               target_dtype == BD_I64 ? 8 : 4, cudaMemcpyDeviceToHost),
                    "cross_entropy: reading the bad target");
    if (st != BD_OK) return st;
    if (target_dtype == BD_I32) value = static_cast<int32_t>(static_cast<uint32_t>(value));
    return fail(BD_ERR_INVALID_ARGUMENT, "cross_entropy: targets[%lld] = %lld must be < cols (%lld)", (long long)bad,
                (long long)value, (long long)cols);
}
