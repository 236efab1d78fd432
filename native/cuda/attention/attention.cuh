// Entry points of the fused attention kernels that native/cuda/attention.cu dispatches to, the
// static-switch macro that turns rare runtime options into template flags, and (generated) the
// extern template declarations of the per-(head dim, dtype) instances, so that attention.cu never
// instantiates the mma kernel itself and each instance compiles in its own translation unit.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "braindrip/detail/attention_plan.hpp"

// BD_ATTN_BOOL_SWITCH(cond, NAME, { ... }): runs the block with `constexpr bool NAME` equal to cond
// (FlashAttention's static_switch.h idea; each use doubles the instances, so keep them rare).
#define BD_ATTN_BOOL_SWITCH(cond, NAME, ...) \
    do {                                     \
        if (cond) {                          \
            constexpr bool NAME = true;      \
            __VA_ARGS__;                     \
        } else {                             \
            constexpr bool NAME = false;     \
            __VA_ARGS__;                     \
        }                                    \
    } while (0)

namespace bd::cuda::attn_mma {

// BF16/F16 tensor-core forward (fwd_mma.cuh) for head_dim HD and head_dim_v HDV (HD unless given);
// T = __nv_bfloat16 or __half. Launches one kernel on `stream` and returns a bd_status.
template <typename T, int HD, int HDV = HD>
int run_attention_mma(const bd::attn::Plan& pl, cudaStream_t stream);

// Head dims with an instance (must match scripts/gen_attention_instances.py): head_dim_v == head_dim
// for each of these, plus head_dim 64 with head_dim_v 128 (differential attention's V width 2D).
inline bool mma_head_dim_supported(int hd) { return hd == 64 || hd == 80 || hd == 96 || hd == 128 || hd == 256; }
inline bool mma_head_dims_supported(int hd, int hdv) {
    return (hdv == hd && mma_head_dim_supported(hd)) || (hd == 64 && hdv == 128);
}

}  // namespace bd::cuda::attn_mma

#include "attention/instances.cuh"
