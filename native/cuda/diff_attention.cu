// Fused differential attention, CUDA (native/include/braindrip/diff_attention.h).
// TODO(diff-cuda): the fused kernel; these entry points reject every call until it lands.
#include "braindrip/diff_attention.h"

#include "cuda_common.cuh"

extern "C" int bd_cuda_diff_attention_supports(int head_dim, int dtype) {
    (void)head_dim;
    (void)dtype;
    return bd::cuda::fail(BD_ERR_UNSUPPORTED, "diff_attention: not implemented on CUDA yet");
}

extern "C" int bd_cuda_diff_attention(const void*, const void*, const void*, const void*, void*, int, int64_t, int64_t,
                                      int64_t, int, int, int, const int32_t*, float, int, int, int, float, float, float,
                                      void*) {
    return bd::cuda::fail(BD_ERR_UNSUPPORTED, "diff_attention: not implemented on CUDA yet");
}
