/* braindrip C ABI: shared types.
 *
 * Every kernel entry point is a plain C function over raw pointers, element counts and a dtype
 * code. It checks its arguments before touching memory or launching anything, returns a bd_status,
 * and on failure leaves a message in a thread-local string read by bd_cpu_last_error() or
 * bd_cuda_last_error(). Backends share one contract: bd_cpu_X and bd_cuda_X take the same arguments
 * and must agree within the op's tolerance; the CPU twin ignores `stream`.
 *
 * Headers included by the JNI glue must not need CUDA headers: streams are `void*`.
 */
#ifndef BRAINDRIP_COMMON_H
#define BRAINDRIP_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Storage types. Compute is always F32 (F32 accumulation for BF16/F16 storage). */
typedef enum bd_dtype {
    BD_F32 = 0,
    BD_F16 = 1,
    BD_BF16 = 2,
    BD_I32 = 3,
    BD_I64 = 4,
    BD_U8 = 5
} bd_dtype;

typedef enum bd_status {
    BD_OK = 0,
    BD_ERR_INVALID_ARGUMENT = 1, /* shape, dtype, pointer or value out of contract */
    BD_ERR_UNSUPPORTED = 2,      /* valid request the kernel does not implement (head dim, dtype) */
    BD_ERR_CUDA = 3,             /* CUDA runtime error; the message names the kernel */
    BD_ERR_OUT_OF_MEMORY = 4,
    BD_ERR_NO_DEVICE = 5         /* no usable CUDA driver or device */
} bd_status;

/* Activation codes (bd_*_activation). */
typedef enum bd_activation {
    BD_ACT_RELU = 0,
    BD_ACT_GELU = 1,      /* exact: 0.5 x (1 + erf(x / sqrt 2)) */
    BD_ACT_GELU_TANH = 2, /* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
    BD_ACT_SILU = 3       /* x sigmoid(x) */
} bd_activation;

/* Gated linear unit codes (bd_*_glu): y = act(gate) * up. */
typedef enum bd_glu {
    BD_GLU_SWIGLU = 0,    /* silu(gate) * up */
    BD_GLU_GEGLU = 1,     /* gelu_erf(gate) * up */
    BD_GLU_GEGLU_TANH = 2 /* gelu_tanh(gate) * up (Gemma) */
} bd_glu;

/* RoPE pairing. */
typedef enum bd_rope_style {
    BD_ROPE_HALF = 0,       /* HF rotate_half: element i pairs with i + rotary_dim/2 */
    BD_ROPE_INTERLEAVED = 1 /* Meta/GGUF: element 2i pairs with 2i + 1 */
} bd_rope_style;

#ifdef __cplusplus
}
#endif

#endif
