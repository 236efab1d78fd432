// Fused differential attention, CPU twin (native/include/braindrip/diff_attention.h).
// TODO(diff-cpu): the fused kernel; these entry points reject every call until it lands.
#include "braindrip/diff_attention.h"

#include "cpu_common.hpp"

extern "C" int bd_cpu_diff_attention_supports(int head_dim, int dtype) {
    (void)head_dim;
    (void)dtype;
    return bd::cpu::fail(BD_ERR_UNSUPPORTED, "diff_attention: not implemented on the CPU yet");
}

extern "C" int bd_cpu_diff_attention(const void*, const void*, const void*, const void*, void*, int, int64_t, int64_t,
                                     int64_t, int, int, int, const int32_t*, float, int, int, int, float, float, float,
                                     void*) {
    return bd::cpu::fail(BD_ERR_UNSUPPORTED, "diff_attention: not implemented on the CPU yet");
}
