// Rotary position embedding (RoPE) on CUDA.
//   x, y: (tokens, heads, head_dim); positions: (tokens) I32 or I64
//   pair p of channels (a, b) rotates by angle = pos * inv_freq[p]:
//     y[a] = x[a] cos - x[b] sin,  y[b] = x[b] cos + x[a] sin
//   HALF (HF rotate_half): (a, b) = (p, p + rotary_dim/2); INTERLEAVED (Meta/GGUF): (2p, 2p + 1)
//   channels >= rotary_dim are copied.
// inv_freq[p] = powf(theta, -2p/rotary_dim) is computed on the host by the CPU twin's expression and
// passed as a __grid_constant__ table (staged in shared memory), so both backends rotate by
// bit-identical F32 angles (pos * inv_freq, HF's float32 formula); the device powf differs from
// glibc's by ulps, which at position 10^5 would move the angle by ~1e-2 rad. Only for rotary_dim
// > 2 * ROPE_TABLE_MAX does the kernel fall back to device powf. Precise sincosf, not __sinf/__cosf:
// angles reach 10^5 rad and the fast intrinsics lose all accuracy there.
// bd_cuda_rope_freqs passes the caller's table the same way, with mscale on cos and sin (scaled RoPE).
// One thread per rotated pair or copied channel, grid-stride. In place allowed: a pair is read
// whole before it is written, by one thread.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "braindrip/ops.h"
#include "cuda_common.cuh"

namespace bd::cuda {

constexpr int ROPE_BLOCK = 256;
constexpr int ROPE_TABLE_MAX = 256;  // pairs in the host table: rotary_dim <= 512 (1 KiB of parameters)
constexpr int64_t ROPE_MAX_BLOCKS = 8192;

struct RopeTable {
    float inv_freq[ROPE_TABLE_MAX];
};

// ---- kernels

// rows = tokens * heads; per row: rotary_dim/2 pair items, then head_dim - rotary_dim copy items.
template <typename T, typename P, int STYLE, bool HOST_TABLE>
static __global__ void rope_kernel(const T* x, const P* __restrict__ positions, T* y, int64_t rows, int64_t heads,
                                   int64_t head_dim, int64_t rotary_dim, float theta, float mscale,
                                   const __grid_constant__ RopeTable table) {
    __shared__ float inv_freq[ROPE_TABLE_MAX];
    const int64_t half = rotary_dim / 2;
    if constexpr (HOST_TABLE) {
        for (int64_t p = threadIdx.x; p < half; p += blockDim.x) inv_freq[p] = table.inv_freq[p];
        __syncthreads();
    }
    const int64_t per_row = half + (head_dim - rotary_dim);
    const int64_t total = rows * per_row;
    const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t j = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; j < total; j += stride) {
        const int64_t row = j / per_row;
        const int64_t k = j - row * per_row;
        const int64_t base = row * head_dim;
        if (k < half) {
            const float pos = static_cast<float>(static_cast<int64_t>(positions[row / heads]));
            float inv;
            if constexpr (HOST_TABLE) inv = inv_freq[k];
            else inv = powf(theta, -static_cast<float>(2 * k) / static_cast<float>(rotary_dim));
            float s, c;
            sincosf(pos * inv, &s, &c);
            s *= mscale;
            c *= mscale;
            const int64_t a = STYLE == BD_ROPE_HALF ? k : 2 * k;
            const int64_t b = STYLE == BD_ROPE_HALF ? k + half : 2 * k + 1;
            const float xa = to_f32(x[base + a]), xb = to_f32(x[base + b]);
            y[base + a] = from_f32<T>(xa * c - xb * s);
            y[base + b] = from_f32<T>(xb * c + xa * s);
        } else if (x != y) {
            const int64_t ch = rotary_dim + (k - half);
            y[base + ch] = x[base + ch];
        }
    }
}

// ---- launchers

template <typename T, typename P, int STYLE>
static int launch_rope_style(const void* x, const void* positions, void* y, int64_t rows, int64_t heads,
                             int64_t head_dim, int64_t rotary_dim, float theta, float mscale,
                             const RopeTable& table, bool host_table, cudaStream_t stream) {
    const int64_t work = rows * (rotary_dim / 2 + head_dim - rotary_dim);
    const dim3 grid(static_cast<unsigned>(std::clamp<int64_t>((work + ROPE_BLOCK - 1) / ROPE_BLOCK, 1, ROPE_MAX_BLOCKS)));
    if (host_table)
        rope_kernel<T, P, STYLE, true><<<grid, ROPE_BLOCK, 0, stream>>>(
            static_cast<const T*>(x), static_cast<const P*>(positions), static_cast<T*>(y), rows, heads, head_dim,
            rotary_dim, theta, mscale, table);
    else
        rope_kernel<T, P, STYLE, false><<<grid, ROPE_BLOCK, 0, stream>>>(
            static_cast<const T*>(x), static_cast<const P*>(positions), static_cast<T*>(y), rows, heads, head_dim,
            rotary_dim, theta, mscale, table);
    return check_launch(STYLE == BD_ROPE_HALF ? "rope_kernel<half>" : "rope_kernel<interleaved>");
}

template <typename T, typename P>
static int launch_rope(const void* x, const void* positions, void* y, int64_t rows, int64_t heads, int64_t head_dim,
                       int64_t rotary_dim, float theta, float mscale, const RopeTable& table, bool host_table, int style,
                       cudaStream_t stream) {
    if (style == BD_ROPE_HALF)
        return launch_rope_style<T, P, BD_ROPE_HALF>(x, positions, y, rows, heads, head_dim, rotary_dim, theta, mscale,
                                                     table, host_table, stream);
    return launch_rope_style<T, P, BD_ROPE_INTERLEAVED>(x, positions, y, rows, heads, head_dim, rotary_dim, theta,
                                                        mscale, table, host_table, stream);
}

static int check_rope(const void* x, const void* positions, int pos_dtype, void* y, int64_t tokens, int64_t heads,
                      int64_t head_dim, int64_t rotary_dim, int style, int dtype) {
    BD_CHECK(is_float_dtype(dtype), "rope", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(is_index_dtype(pos_dtype), "rope", "positions dtype %s must be I32 or I64", dtype_name(pos_dtype));
    BD_CHECK(style == BD_ROPE_HALF || style == BD_ROPE_INTERLEAVED, "rope", "unknown style %d", style);
    BD_CHECK(tokens >= 0 && heads > 0 && head_dim > 0, "rope", "bad shape tokens=%lld heads=%lld head_dim=%lld",
             (long long)tokens, (long long)heads, (long long)head_dim);
    BD_CHECK(rotary_dim > 0 && rotary_dim % 2 == 0 && rotary_dim <= head_dim, "rope",
             "rotary_dim (%lld) must be even, > 0 and <= head_dim (%lld)", (long long)rotary_dim,
             (long long)head_dim);
    BD_CHECK(tokens == 0 || (x && positions && y), "rope", "null tensor pointer");
    return BD_OK;
}

static int dispatch_rope(const void* x, const void* positions, int pos_dtype, void* y, int64_t tokens, int64_t heads,
                         int64_t head_dim, int64_t rotary_dim, float theta, float mscale, const RopeTable& table,
                         bool host_table, int style, int dtype, void* stream) {
    const int64_t rows = tokens * heads;
    int st = BD_OK;
    if (pos_dtype == BD_I64) {
        BD_DISPATCH_FLOAT(dtype, T, st = launch_rope<T, int64_t>(x, positions, y, rows, heads, head_dim, rotary_dim,
                                                                 theta, mscale, table, host_table, style,
                                                                 as_stream(stream)));
    } else {
        BD_DISPATCH_FLOAT(dtype, T, st = launch_rope<T, int32_t>(x, positions, y, rows, heads, head_dim, rotary_dim,
                                                                 theta, mscale, table, host_table, style,
                                                                 as_stream(stream)));
    }
    return st;
}

}  // namespace bd::cuda

// ---- entry points

extern "C" int bd_cuda_rope(const void* x, const void* positions, int pos_dtype, void* y, int64_t tokens,
                            int64_t heads, int64_t head_dim, int64_t rotary_dim, float theta, int style, int dtype,
                            void* stream) {
    using namespace bd::cuda;
    if (int st = check_rope(x, positions, pos_dtype, y, tokens, heads, head_dim, rotary_dim, style, dtype)) return st;
    BD_CHECK(theta > 0.f && std::isfinite(theta), "rope", "theta (%g) must be finite and > 0", theta);
    if (tokens == 0) return BD_OK;
    RopeTable table{};
    const bool host_table = rotary_dim / 2 <= ROPE_TABLE_MAX;
    if (host_table)  // the CPU twin's expression (rope.cpp rope_inv_freq), evaluated by the same glibc powf
        for (int64_t p = 0; p < rotary_dim / 2; ++p)
            table.inv_freq[p] = std::pow(theta, -static_cast<float>(2 * p) / static_cast<float>(rotary_dim));
    return dispatch_rope(x, positions, pos_dtype, y, tokens, heads, head_dim, rotary_dim, theta, 1.f, table, host_table,
                         style, dtype, stream);
}

extern "C" int bd_cuda_rope_freqs(const void* x, const void* positions, int pos_dtype, void* y, int64_t tokens,
                                  int64_t heads, int64_t head_dim, int64_t rotary_dim, const float* inv_freq,
                                  float mscale, int style, int dtype, void* stream) {
    using namespace bd::cuda;
    if (int st = check_rope(x, positions, pos_dtype, y, tokens, heads, head_dim, rotary_dim, style, dtype)) return st;
    BD_CHECK(inv_freq, "rope", "null inv_freq table");
    BD_CHECK(rotary_dim / 2 <= ROPE_TABLE_MAX, "rope", "rotary_dim (%lld) above %d with a caller's frequency table",
             (long long)rotary_dim, 2 * ROPE_TABLE_MAX);
    RopeTable table{};
    for (int64_t p = 0; p < rotary_dim / 2; ++p) {
        BD_CHECK(std::isfinite(inv_freq[p]), "rope", "inv_freq[%lld] (%g) is not finite", (long long)p, inv_freq[p]);
        table.inv_freq[p] = inv_freq[p];
    }
    BD_CHECK(std::isfinite(mscale), "rope", "mscale (%g) is not finite", mscale);
    if (tokens == 0) return BD_OK;
    return dispatch_rope(x, positions, pos_dtype, y, tokens, heads, head_dim, rotary_dim, 1.f, mscale, table, true,
                         style, dtype, stream);
}
