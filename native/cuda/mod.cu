// Mixture-of-Depths on CUDA (contract in moe.h, twin in native/cpu/mod.cpp).
//   scores       one warp per token: r = x . router (F32).
//   route        ONE block for one sequence (T is a sequence length, not a batch): a bitwise radix
//                select over an order-preserving uint32 key of the score (NaN lowest, -0 as +0)
//                finds the k-th largest key K in 32 counting passes; then chunks of the sequence are
//                compacted in order with block scans, taking every key above K and the earliest
//                keys equal to K until k are chosen: ties go to the earlier token, and the list
//                comes out in sequence order, exactly as the CPU twin's nth_element version.
//   threshold    the causal rule r >= threshold, compacted in order by the same block scan; the
//                count stays on the device.
//   gather / scatter_add  one block per selected row; scatter_add rounds once per element.
#include "braindrip/moe.h"
#include "braindrip/moe_plan.h"
#include "moe.cuh"

namespace bd::cuda::moe {

constexpr int MOD_ROUTE_THREADS = 1024;
constexpr int MOD_SCORE_WARPS = 8;

// ---- kernels

__device__ __forceinline__ uint32_t score_key(float v) {
    if (isnan(v)) return 0u;
    uint32_t u = __float_as_uint(v);
    if ((u & 0x7fffffffu) == 0) u = 0;  // -0 -> +0
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

// x: (T, H), router: (H), scores: (T)
template <typename T>
static __global__ void __launch_bounds__(MOD_SCORE_WARPS * 32) mod_scores_kernel(const T* x, const T* router,
                                                                                int64_t tokens, int64_t H,
                                                                                float* scores) {
    const int lane = threadIdx.x & 31;
    const int64_t t = static_cast<int64_t>(blockIdx.x) * MOD_SCORE_WARPS + (threadIdx.x >> 5);
    if (t >= tokens) return;
    const T* xr = x + t * H;
    float acc = 0.f;
    for (int64_t h = lane; h < H; h += 32) acc = fmaf(to_f32(xr[h]), to_f32(router[h]), acc);
    acc = warp_sum(acc);
    if (lane == 0) scores[t] = acc;
}

// scores: (T); selected, weights: (k); threshold: (1) or NULL. One block.
static __global__ void __launch_bounds__(MOD_ROUTE_THREADS) mod_route_kernel(const float* scores, int64_t T, int64_t k,
                                                                            int32_t* selected, float* weights,
                                                                            float* threshold) {
    __shared__ int scan[33];
    __shared__ unsigned long long red[32];
    const int tid = threadIdx.x;
    uint32_t kth = 0;
    for (int bit = 31; bit >= 0; --bit) {  // largest K with #{key >= K} >= k
        const uint32_t cand = kth | (1u << bit);
        unsigned long long c = 0;
        for (int64_t t = tid; t < T; t += blockDim.x) c += score_key(scores[t]) >= cand ? 1 : 0;
        c = block_sum(c, red);
        if (c >= static_cast<unsigned long long>(k)) kth = cand;
    }
    unsigned long long above = 0;
    for (int64_t t = tid; t < T; t += blockDim.x) above += score_key(scores[t]) > kth ? 1 : 0;
    above = block_sum(above, red);
    const int64_t ties_left = k - static_cast<int64_t>(above);
    int64_t taken = 0, ties = 0;
    for (int64_t t0 = 0; t0 < T; t0 += blockDim.x) {
        const int64_t t = t0 + tid;
        const float v = t < T ? scores[t] : 0.f;
        const uint32_t key = t < T ? score_key(v) : 0u;
        const int tie = (t < T && key == kth) ? 1 : 0;
        int n_ties, n_taken;
        const int64_t tie_rank = ties + block_exclusive_scan(tie, scan, &n_ties);
        const int take = (t < T && (key > kth || (tie && tie_rank < ties_left))) ? 1 : 0;
        const int64_t pos = taken + block_exclusive_scan(take, scan, &n_taken);
        if (take) {
            selected[pos] = static_cast<int32_t>(t);
            weights[pos] = v;
            if (tie && tie_rank == ties_left - 1 && threshold) *threshold = v;
        }
        taken += n_taken;
        ties += n_ties;
    }
}

// selected, weights: (T) compacted in order then -1 / 0; count: (1). One block.
static __global__ void __launch_bounds__(MOD_ROUTE_THREADS) mod_threshold_kernel(const float* scores, int64_t T,
                                                                                float threshold, int32_t* selected,
                                                                                float* weights, int32_t* count) {
    __shared__ int scan[33];
    int64_t taken = 0;
    for (int64_t t0 = 0; t0 < T; t0 += blockDim.x) {
        const int64_t t = t0 + threadIdx.x;
        const float v = t < T ? scores[t] : 0.f;
        const int take = (t < T && v >= threshold) ? 1 : 0;
        int n;
        const int64_t pos = taken + block_exclusive_scan(take, scan, &n);
        if (take) {
            selected[pos] = static_cast<int32_t>(t);
            weights[pos] = v;
        }
        taken += n;
    }
    for (int64_t i = taken + threadIdx.x; i < T; i += blockDim.x) {
        selected[i] = -1;
        weights[i] = 0.f;
    }
    if (threadIdx.x == 0) *count = static_cast<int32_t>(taken);
}

// out (k, H): row i = x[selected[i]] (zeros for selected < 0).
template <typename T>
static __global__ void __launch_bounds__(256) mod_gather_kernel(const T* x, const int32_t* selected, int64_t tokens,
                                                               int64_t H, T* out) {
    const int64_t i = blockIdx.x;
    const int64_t t = selected[i];
    const bool ok = t >= 0 && t < tokens;
    for (int64_t h = threadIdx.x; h < H; h += blockDim.x) out[i * H + h] = ok ? x[t * H + h] : from_f32<T>(0.f);
}

// x[selected[i]] += weights[i] * block_out[i], in place, F32 then one rounding.
template <typename T>
static __global__ void __launch_bounds__(256) mod_scatter_add_kernel(T* x, const int32_t* selected,
                                                                    const float* weights, const T* block_out,
                                                                    int64_t tokens, int64_t H) {
    const int64_t i = blockIdx.x;
    const int64_t t = selected[i];
    if (t < 0 || t >= tokens) return;
    const float w = weights[i];
    for (int64_t h = threadIdx.x; h < H; h += blockDim.x)
        x[t * H + h] = from_f32<T>(to_f32(x[t * H + h]) + w * to_f32(block_out[i * H + h]));
}

}  // namespace bd::cuda::moe

// ---- entry points

using namespace bd::cuda;

extern "C" int64_t bd_cuda_mod_capacity(int64_t tokens, float capacity) {
    return bd_moe_plan_mod_capacity(tokens, capacity);
}

extern "C" int bd_cuda_mod_scores(const void* x, const void* router, int64_t tokens, int64_t hidden, float* scores,
                                  int dtype, void* stream) {
    BD_CHECK(is_float_dtype(dtype), "mod_scores", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(tokens >= 0 && tokens <= INT32_MAX && hidden >= 1, "mod_scores", "bad sizes tokens=%lld hidden=%lld",
             (long long)tokens, (long long)hidden);
    if (tokens == 0) return BD_OK;
    BD_CHECK(x && router && scores, "mod_scores", "null tensor pointer");
    int st = BD_OK;
    const unsigned blocks = static_cast<unsigned>((tokens + moe::MOD_SCORE_WARPS - 1) / moe::MOD_SCORE_WARPS);
    BD_DISPATCH_FLOAT(dtype, D, {
        moe::mod_scores_kernel<D><<<blocks, moe::MOD_SCORE_WARPS * 32, 0, as_stream(stream)>>>(
            static_cast<const D*>(x), static_cast<const D*>(router), tokens, hidden, scores);
        st = check_launch("mod_scores_kernel");
    });
    return st;
}

extern "C" int bd_cuda_mod_route(const float* scores, int64_t tokens, int64_t k, int32_t* selected, float* weights,
                                 float* threshold, void* stream) {
    BD_CHECK(tokens >= 0 && tokens <= INT32_MAX, "mod_route", "tokens (%lld) must be in [0, 2^31)", (long long)tokens);
    BD_CHECK(k >= 0 && k <= tokens, "mod_route", "k (%lld) must be in [0, tokens (%lld)]", (long long)k,
             (long long)tokens);
    if (k == 0)
        return threshold ? check_cuda(cudaMemsetAsync(threshold, 0xff, 4, as_stream(stream)), "cudaMemsetAsync(threshold)")
                         : BD_OK;
    BD_CHECK(scores && selected && weights, "mod_route", "null scores, selected or weights");
    moe::mod_route_kernel<<<1, moe::MOD_ROUTE_THREADS, 0, as_stream(stream)>>>(scores, tokens, k, selected, weights,
                                                                               threshold);
    return check_launch("mod_route_kernel");
}

extern "C" int bd_cuda_mod_route_threshold(const float* scores, int64_t tokens, float threshold, int32_t* selected,
                                           float* weights, int32_t* count, void* stream) {
    BD_CHECK(tokens >= 0 && tokens <= INT32_MAX, "mod_route_threshold", "tokens (%lld) must be in [0, 2^31)",
             (long long)tokens);
    BD_CHECK(count, "mod_route_threshold", "null count");
    if (tokens == 0) return check_cuda(cudaMemsetAsync(count, 0, 4, as_stream(stream)), "cudaMemsetAsync(count)");
    BD_CHECK(scores && selected && weights, "mod_route_threshold", "null scores, selected or weights");
    moe::mod_threshold_kernel<<<1, moe::MOD_ROUTE_THREADS, 0, as_stream(stream)>>>(scores, tokens, threshold, selected,
                                                                                   weights, count);
    return check_launch("mod_threshold_kernel");
}

extern "C" int bd_cuda_mod_gather(const void* x, const int32_t* selected, int64_t k, int64_t tokens, int64_t hidden,
                                  void* out, int dtype, void* stream) {
    BD_CHECK(is_float_dtype(dtype), "mod_gather", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(k >= 0 && k <= INT32_MAX && tokens >= 0 && hidden >= 1, "mod_gather",
             "bad sizes k=%lld tokens=%lld hidden=%lld", (long long)k, (long long)tokens, (long long)hidden);
    if (k == 0) return BD_OK;
    BD_CHECK(x && selected && out, "mod_gather", "null tensor pointer");
    int st = BD_OK;
    BD_DISPATCH_FLOAT(dtype, D, {
        moe::mod_gather_kernel<D><<<static_cast<unsigned>(k), 256, 0, as_stream(stream)>>>(
            static_cast<const D*>(x), selected, tokens, hidden, static_cast<D*>(out));
        st = check_launch("mod_gather_kernel");
    });
    return st;
}

extern "C" int bd_cuda_mod_scatter_add(void* x, const int32_t* selected, const float* weights, const void* block_out,
                                       int64_t k, int64_t tokens, int64_t hidden, int dtype, void* stream) {
    BD_CHECK(is_float_dtype(dtype), "mod_scatter_add", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(k >= 0 && k <= INT32_MAX && tokens >= 0 && hidden >= 1, "mod_scatter_add",
             "bad sizes k=%lld tokens=%lld hidden=%lld", (long long)k, (long long)tokens, (long long)hidden);
    if (k == 0) return BD_OK;
    BD_CHECK(x && selected && weights && block_out, "mod_scatter_add", "null tensor pointer");
    int st = BD_OK;
    BD_DISPATCH_FLOAT(dtype, D, {
        moe::mod_scatter_add_kernel<D><<<static_cast<unsigned>(k), 256, 0, as_stream(stream)>>>(
            static_cast<D*>(x), selected, weights, static_cast<const D*>(block_out), tokens, hidden);
        st = check_launch("mod_scatter_add_kernel");
    });
    return st;
}
