// Block-wide reductions for the one-block-per-row kernels (norms, softmax, cross-entropy, top-k):
// butterfly shuffles inside each warp, one value per warp through shared memory, a last warp
// reduce, and the result broadcast to every thread. blockDim.x must be a multiple of 32 and at
// most 1024; launchers use fixed block sizes (64..1024) so this always holds.
#pragma once

#include <cstdint>

#include "cuda_common.cuh"

namespace bd::cuda {

// Online softmax statistics of a set of scores z: m = max z, s = sum exp(z - m).
// The empty set is (-inf, 0); merging never forms -inf - -inf.
struct MaxSum {
    float m, s;
};

__device__ __forceinline__ MaxSum maxsum_merge(MaxSum a, MaxSum b) {
    const float m = fmaxf(a.m, b.m);
    if (m == -INFINITY) return {m, 0.f};
    return {m, a.s * expf(a.m - m) + b.s * expf(b.m - m)};
}

__device__ __forceinline__ void maxsum_add(MaxSum& a, float z) {
    if (z > a.m) {
        a.s = a.s * expf(a.m - z) + 1.f;  // a.m == -inf gives 0 * 0 + 1
        a.m = z;
    } else if (z != -INFINITY) {
        a.s += expf(z - a.m);  // z NaN makes s NaN, as the CPU twin's sum becomes
    }
}

__device__ __forceinline__ float shfl_xor(float v, int o) { return __shfl_xor_sync(0xffffffffu, v, o); }
__device__ __forceinline__ unsigned long long shfl_xor(unsigned long long v, int o) {
    return __shfl_xor_sync(0xffffffffu, v, o);
}
__device__ __forceinline__ MaxSum shfl_xor(MaxSum v, int o) { return {shfl_xor(v.m, o), shfl_xor(v.s, o)}; }

struct SumOp {
    __device__ float operator()(float a, float b) const { return a + b; }
};
struct MaxU64Op {
    __device__ unsigned long long operator()(unsigned long long a, unsigned long long b) const {
        return a > b ? a : b;
    }
};
struct MaxSumOp {
    __device__ MaxSum operator()(MaxSum a, MaxSum b) const { return maxsum_merge(a, b); }
};

template <typename V, typename Op>
__device__ __forceinline__ V warp_reduce(V v, Op op) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = op(v, shfl_xor(v, o));
    return v;
}

// Every thread of the block must call it; every thread gets the reduction of all their `v`.
// `shared` holds 32 values. Ends with a barrier, so calls may follow each other on one buffer.
template <typename V, typename Op>
__device__ __forceinline__ V block_reduce(V v, V identity, V* shared, Op op) {
    v = warp_reduce(v, op);
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = lane < static_cast<int>(blockDim.x >> 5) ? shared[lane] : identity;
        v = warp_reduce(v, op);
        if (lane == 0) shared[0] = v;
    }
    __syncthreads();
    v = shared[0];
    __syncthreads();
    return v;
}

__device__ __forceinline__ float block_reduce_sum(float v, float* shared) {
    return block_reduce(v, 0.f, shared, SumOp{});
}

__device__ __forceinline__ unsigned long long block_reduce_max(unsigned long long v, unsigned long long* shared) {
    return block_reduce(v, 0ull, shared, MaxU64Op{});
}

__device__ __forceinline__ MaxSum block_reduce_maxsum(MaxSum v, MaxSum* shared) {
    return block_reduce(v, MaxSum{-INFINITY, 0.f}, shared, MaxSumOp{});
}

// Block size for a one-block-per-row kernel: enough threads to cover short rows without idle
// warps, 1024 for long ones.
inline int row_block_size(int64_t cols) {
    int b = 64;
    while (b < 1024 && b < cols) b <<= 1;
    return b;
}

}  // namespace bd::cuda
