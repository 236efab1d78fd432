// Internals shared by the MoE CUDA files (moe_route.cu, moe_align.cu, moe_experts.cu and the
// per-dtype GEMM instances moe_gemm_*.cu): the GEMM argument block, the typed launchers the
// instance files define, and small device helpers whose formulas must match the CPU twin
// (native/cpu/moe.cpp) exactly: selection keys and ties, sigmoid, the activations, layouts.
#pragma once

#include <cstdint>

#include "braindrip/moe.h"
#include "cuda_common.cuh"

namespace bd::cuda::moe {

constexpr int GEMM_BN = 128;      // B rows (weight rows) per mma block: 64 gate/up pairs or 128 down columns
constexpr int GEMM_BK = 64;       // K tile (16-bit elements) of the mma kernels
constexpr int GEMM_STAGES = 3;    // cp.async pipeline depth
constexpr int DECODE_WARPS = 8;   // warps (output units) per decode block

// One argument block for every expert-GEMM kernel (grouped mma, grouped SIMT, decode).
struct GemmArgs {
    const void* a;       // gate/up: x (T, K); down: act rows (grouped: (max_rows, K); decode: (T*k, K))
    const void* w;       // gate/up: w_gate base; down: w_down (E, n_out, K)
    const void* w_up;    // gate/up: base of the up rows (w_up for SEPARATE, else == w)
    const void* b;       // gate/up: b_gate base or NULL; down: b_down or NULL
    const void* b_up;    // gate/up: base of the up biases (b_up for SEPARATE, else == b)
    void* out;           // gate/up: act (rows, n_out); down: y_slots (T*k, n_out)
    const int32_t* sorted;       // grouped: sorted_token_ids
    const int32_t* expert_ids;   // grouped: expert of each block_m tile
    const int32_t* npp;          // grouped: num_tokens_post_padded (device)
    const int32_t* topk_ids;     // decode: (T, k)
    const float* topk_weights;   // down: (T, k)
    int64_t K;           // reduction length: H (gate/up) or F (down)
    int64_t n_out;       // output columns: F (gate/up) or H (down)
    int64_t ffn;         // F (for the gate/up row layouts)
    int64_t slots;       // T * k
    int64_t experts;
    int64_t max_rows;
    int top_k, block_m, layout, act;
};

// Typed launchers, defined in moe_gemm_{bf16,f16,f32}.cu (explicit instances).
//   down: false = gate/up with fused activation, true = down with the routing-weight epilogue.
//   allow_mma: false forces the F32 SIMT kernel (moe_forward's GROUPED_SIMT path).
template <typename T>
int launch_grouped(const GemmArgs& p, bool down, bool allow_mma, cudaStream_t stream);
template <typename T>
int launch_decode(const GemmArgs& p, bool down, cudaStream_t stream);

extern template int launch_grouped<float>(const GemmArgs&, bool, bool, cudaStream_t);
extern template int launch_grouped<__half>(const GemmArgs&, bool, bool, cudaStream_t);
extern template int launch_grouped<__nv_bfloat16>(const GemmArgs&, bool, bool, cudaStream_t);
extern template int launch_decode<float>(const GemmArgs&, bool, cudaStream_t);
extern template int launch_decode<__half>(const GemmArgs&, bool, cudaStream_t);
extern template int launch_decode<__nv_bfloat16>(const GemmArgs&, bool, cudaStream_t);

// Entry-point pieces moe_experts.cu calls for moe_forward (defined in moe_route.cu / moe_align.cu).
int route(const bd_moe_router_params* p, cudaStream_t stream);
int align(const bd_moe_align_params* p, cudaStream_t stream);
// counts (E) = slots per expert (zeroed first); slot_pos[s] = -1 for dropped slots when given.
int align_counts(const int32_t* ids, int64_t n, int E, int32_t* counts, int32_t* slot_pos, cudaStream_t stream);
int combine(const void* y_slots, const int32_t* ids, const void* shared, const float* gate_logits, int64_t T,
            int64_t k, int64_t H, void* y, int dtype, cudaStream_t stream);

#ifdef __CUDACC__

// ---- device helpers (formulas identical to the CPU twin)

// Selection key: NaN counts as -inf. A chosen or excluded expert is marked NaN in the key array.
__device__ __forceinline__ float sel_key(float v) { return isnan(v) ? -INFINITY : v; }
__device__ __forceinline__ bool better(float v1, int i1, float v2, int i2) {
    return v1 > v2 || (v1 == v2 && i1 < i2);
}
__device__ __forceinline__ float sigmoidf_(float x) { return 1.f / (1.f + expf(-x)); }

__device__ __forceinline__ float glu(int act, float g, float u) {
    switch (act) {
        case BD_MOE_ACT_GEGLU: return 0.5f * g * (1.f + erff(g * 0.70710678118654752f)) * u;
        case BD_MOE_ACT_GEGLU_TANH: {
            const float c = 0.7978845608028654f;
            return 0.5f * g * (1.f + tanhf(c * (g + 0.044715f * g * g * g))) * u;
        }
        case BD_MOE_ACT_SWIGLU_OAI: {
            g = g > 7.f ? 7.f : g;
            u = u > 7.f ? 7.f : (u < -7.f ? -7.f : u);
            return (u + 1.f) * g * sigmoidf_(1.702f * g);
        }
        default: return g * sigmoidf_(g) * u;
    }
}

// Row (in K-element rows) of gate f / up f of expert e for a gate_up layout (see moe.h).
__device__ __forceinline__ int64_t gate_row(int layout, int64_t e, int64_t f, int64_t F) {
    return layout == BD_MOE_GU_INTERLEAVED ? e * 2 * F + 2 * f : layout == BD_MOE_GU_CONCAT ? e * 2 * F + f : e * F + f;
}
__device__ __forceinline__ int64_t up_row(int layout, int64_t e, int64_t f, int64_t F) {
    return layout == BD_MOE_GU_INTERLEAVED ? e * 2 * F + 2 * f + 1
                                           : layout == BD_MOE_GU_CONCAT ? e * 2 * F + F + f : e * F + f;
}

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Exclusive prefix sum of one int per thread over the block (blockDim.x a multiple of 32, <= 1024);
// *total gets the block sum. Deterministic; two barriers; `shared` holds 33 ints.
__device__ __forceinline__ int block_exclusive_scan(int v, int* shared, int* total) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    int x = v;
    for (int o = 1; o < 32; o <<= 1) {
        const int y = __shfl_up_sync(0xffffffffu, x, o);
        if (lane >= o) x += y;
    }
    if (lane == 31) shared[warp] = x;
    __syncthreads();
    if (warp == 0) {
        int w = lane < nw ? shared[lane] : 0;
        for (int o = 1; o < 32; o <<= 1) {
            const int y = __shfl_up_sync(0xffffffffu, w, o);
            if (lane >= o) w += y;
        }
        shared[lane] = w;  // inclusive over warps
    }
    __syncthreads();
    const int before = warp > 0 ? shared[warp - 1] : 0;
    *total = shared[nw - 1];
    __syncthreads();  // shared is reused by the caller's next scan
    return before + x - v;
}

// Block-wide sums in a fixed tree order (deterministic). `shared` holds 32 values.
template <typename V>
__device__ __forceinline__ V block_sum(V v, V* shared) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    if (warp == 0) {
        V w = lane < nw ? shared[lane] : V(0);
        for (int o = 16; o > 0; o >>= 1) w += __shfl_xor_sync(0xffffffffu, w, o);
        if (lane == 0) shared[0] = w;
    }
    __syncthreads();
    const V r = shared[0];
    __syncthreads();
    return r;
}

#endif  // __CUDACC__

}  // namespace bd::cuda::moe
