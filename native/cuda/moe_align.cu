// MoE align / permute / unpermute / combine on CUDA (contract in moe.h, twin in native/cpu/moe.cpp).
// Align is deterministic, unlike vLLM's general atomic path: after a histogram, ONE BLOCK PER EXPERT
// scans all T*k slot ids in order with a block-wide prefix sum and writes its own slots at
// offset + rank, so inside a segment the slots stay in ascending slot order (a stable counting
// sort). Each block computes its offset from the padded counts of the experts before it, writes its
// padding sentinels and the expert id of each of its M tiles, and helps fill the tail past the
// total; num_tokens_post_padded stays on the device, so the GEMMs need no host sync (CUDA graphs).
// Cost: E * T * k int reads from L2 (8M for DeepSeek-V3 at 4096 tokens), microseconds next to the
// GEMMs. Combine sums each token's k slot rows in slot order in F32 (no atomics).
#include "braindrip/moe_plan.h"
#include "moe.cuh"

namespace bd::cuda::moe {

// ---- kernels

// sorted (max_rows), expert_ids (max_rows / bm), offsets (E + 1), npp (1), slot_pos (S).
static __global__ void __launch_bounds__(256) moe_align_place_kernel(const int32_t* ids, int64_t S, int E, int bm,
                                                                    int64_t max_rows, const int32_t* counts,
                                                                    int32_t* sorted, int32_t* expert_ids,
                                                                    int32_t* offsets, int32_t* npp, int32_t* slot_pos) {
    __shared__ int scan[33];
    __shared__ int red[32];
    const int e = blockIdx.x, tid = threadIdx.x;
    int below = 0, all = 0;
    for (int i = tid; i < E; i += blockDim.x) {
        const int pc = (counts[i] + bm - 1) / bm * bm;
        all += pc;
        if (i < e) below += pc;
    }
    below = block_sum(below, red);
    all = block_sum(all, red);
    const int cnt = counts[e], padded = (cnt + bm - 1) / bm * bm;
    if (tid == 0) {
        offsets[e] = below;
        if (e == E - 1) {
            offsets[E] = all;
            *npp = all;
        }
    }
    if (cnt > 0) {
        constexpr int ITEMS = 4;  // consecutive slots per thread: thread order then item order = slot order
        int base = 0;
        for (int64_t c0 = 0; c0 < S; c0 += static_cast<int64_t>(blockDim.x) * ITEMS) {
            int mine[ITEMS], n = 0;
#pragma unroll
            for (int q = 0; q < ITEMS; ++q) {
                const int64_t s = c0 + static_cast<int64_t>(tid) * ITEMS + q;
                mine[q] = (s < S && ids[s] == e) ? 1 : 0;
                n += mine[q];
            }
            int total;
            int pos = below + base + block_exclusive_scan(n, scan, &total);
#pragma unroll
            for (int q = 0; q < ITEMS; ++q)
                if (mine[q]) {
                    const int64_t s = c0 + static_cast<int64_t>(tid) * ITEMS + q;
                    sorted[pos] = static_cast<int32_t>(s);
                    slot_pos[s] = pos;
                    ++pos;
                }
            base += total;
            if (base == cnt) break;  // block-uniform: every thread holds the same base
        }
    }
    for (int i = cnt + tid; i < padded; i += blockDim.x) sorted[below + i] = static_cast<int32_t>(S);
    for (int i = tid; i < padded / bm; i += blockDim.x) expert_ids[below / bm + i] = e;
    const int64_t stride = static_cast<int64_t>(E) * blockDim.x;
    for (int64_t r = all + static_cast<int64_t>(e) * blockDim.x + tid; r < max_rows; r += stride)
        sorted[r] = static_cast<int32_t>(S);
    for (int64_t i = all / bm + static_cast<int64_t>(e) * blockDim.x + tid; i < max_rows / bm; i += stride)
        expert_ids[i] = -1;
}

// out (max_rows, cols): row r = x[sorted[r] / k] for r < *npp and a real slot, else zeros.
template <typename T>
static __global__ void __launch_bounds__(256) moe_permute_kernel(const T* x, const int32_t* sorted, const int32_t* npp,
                                                                int64_t S, int k, int64_t cols, T* out) {
    const int64_t r = blockIdx.x;
    const int32_t s = r < *npp ? sorted[r] : -1;
    const bool ok = s >= 0 && s < S;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x)
        out[r * cols + c] = ok ? x[static_cast<int64_t>(s / k) * cols + c] : from_f32<T>(0.f);
}

// out (S, cols): row s = in[slot_pos[s]] (zeros where slot_pos < 0).
template <typename T>
static __global__ void __launch_bounds__(256) moe_unpermute_kernel(const T* in, const int32_t* slot_pos,
                                                                  int64_t max_rows, int64_t cols, T* out) {
    const int64_t s = blockIdx.x;
    const int64_t r = slot_pos[s];
    const bool ok = r >= 0 && r < max_rows;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) out[s * cols + c] = ok ? in[r * cols + c] : from_f32<T>(0.f);
}

// y (T, H) = sum over the token's valid slots in slot order (+ gated shared row), F32, one rounding.
template <typename T>
static __global__ void __launch_bounds__(256) moe_combine_kernel(const T* ys, const int32_t* ids, const T* shared,
                                                                const float* gate_logits, int64_t H, int k, T* y) {
    const int64_t t = blockIdx.x;
    const float g = shared ? (gate_logits ? sigmoidf_(gate_logits[t]) : 1.f) : 0.f;
    for (int64_t h = threadIdx.x; h < H; h += blockDim.x) {
        float acc = 0.f;
        for (int j = 0; j < k; ++j)
            if (ids[t * k + j] >= 0) acc += to_f32(ys[(t * k + j) * H + h]);
        if (shared) acc += g * to_f32(shared[t * H + h]);
        y[t * H + h] = from_f32<T>(acc);
    }
}

// ---- launchers

int align(const bd_moe_align_params* p, cudaStream_t stream) {
    char msg[256];
    if (int st = bd_moe_plan_check_align(p, msg, sizeof msg)) return fail(st, "%s", msg);
    if (p->tokens == 0) return BD_OK;
    const int64_t S = p->tokens * p->top_k;
    const int E = static_cast<int>(p->experts);
    int st = align_counts(p->topk_ids, S, E, p->expert_counts, p->slot_pos, stream);
    if (st != BD_OK) return st;
    moe_align_place_kernel<<<E, 256, 0, stream>>>(p->topk_ids, S, E, static_cast<int>(p->block_m), p->max_rows,
                                                  p->expert_counts, p->sorted_token_ids, p->expert_ids,
                                                  p->expert_offsets, p->num_tokens_post_padded, p->slot_pos);
    return check_launch("moe_align_place_kernel");
}

int combine(const void* y_slots, const int32_t* ids, const void* shared, const float* gate_logits, int64_t T,
            int64_t k, int64_t H, void* y, int dtype, cudaStream_t stream) {
    BD_CHECK(is_float_dtype(dtype), "moe_combine", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(T >= 0 && T <= INT32_MAX && k >= 1 && k <= BD_MOE_MAX_EXPERTS && H >= 1, "moe_combine",
             "bad sizes tokens=%lld top_k=%lld hidden=%lld", (long long)T, (long long)k, (long long)H);
    if (T == 0) return BD_OK;
    BD_CHECK(y_slots && ids && y, "moe_combine", "null y_slots, topk_ids or y");
    int st = BD_OK;
    BD_DISPATCH_FLOAT(dtype, D, {
        moe_combine_kernel<D><<<static_cast<unsigned>(T), 256, 0, stream>>>(
            static_cast<const D*>(y_slots), ids, static_cast<const D*>(shared), gate_logits, H, static_cast<int>(k),
            static_cast<D*>(y));
        st = check_launch("moe_combine_kernel");
    });
    return st;
}

}  // namespace bd::cuda::moe

// ---- entry points

using namespace bd::cuda;

extern "C" int bd_cuda_moe_align_p(const bd_moe_align_params* p, void* stream) {
    return moe::align(p, as_stream(stream));
}

extern "C" int bd_cuda_moe_align(const int32_t* topk_ids, int64_t tokens, int64_t top_k, int64_t experts,
                                 int64_t block_m, int64_t max_rows, int32_t* sorted_token_ids, int32_t* expert_ids,
                                 int32_t* expert_offsets, int32_t* num_tokens_post_padded, int32_t* slot_pos,
                                 int32_t* expert_counts, void* stream) {
    const bd_moe_align_params p{topk_ids,       tokens,         top_k,    experts,      block_m,
                                max_rows,       sorted_token_ids, expert_ids, expert_offsets,
                                num_tokens_post_padded, slot_pos, expert_counts};
    return moe::align(&p, as_stream(stream));
}

extern "C" int bd_cuda_moe_permute(const void* x, const int32_t* sorted_token_ids,
                                   const int32_t* num_tokens_post_padded, int64_t tokens, int64_t top_k, int64_t cols,
                                   int64_t max_rows, void* out, int dtype, void* stream) {
    BD_CHECK(is_float_dtype(dtype), "moe_permute", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(tokens >= 0 && top_k >= 1 && top_k <= BD_MOE_MAX_EXPERTS && cols >= 1 && max_rows >= 0 &&
                 max_rows <= INT32_MAX,
             "moe_permute", "bad sizes tokens=%lld top_k=%lld cols=%lld max_rows=%lld", (long long)tokens,
             (long long)top_k, (long long)cols, (long long)max_rows);
    if (tokens == 0 || max_rows == 0) return BD_OK;
    BD_CHECK(x && sorted_token_ids && num_tokens_post_padded && out, "moe_permute", "null tensor pointer");
    int st = BD_OK;
    BD_DISPATCH_FLOAT(dtype, D, {
        moe::moe_permute_kernel<D><<<static_cast<unsigned>(max_rows), 256, 0, as_stream(stream)>>>(
            static_cast<const D*>(x), sorted_token_ids, num_tokens_post_padded, tokens * top_k,
            static_cast<int>(top_k), cols, static_cast<D*>(out));
        st = check_launch("moe_permute_kernel");
    });
    return st;
}

extern "C" int bd_cuda_moe_unpermute(const void* in, const int32_t* slot_pos, int64_t tokens, int64_t top_k,
                                     int64_t cols, int64_t max_rows, void* out, int dtype, void* stream) {
    BD_CHECK(is_float_dtype(dtype), "moe_unpermute", "unsupported dtype %s", dtype_name(dtype));
    BD_CHECK(tokens >= 0 && top_k >= 1 && cols >= 1 && max_rows >= 0 && tokens * top_k <= INT32_MAX, "moe_unpermute",
             "bad sizes tokens=%lld top_k=%lld cols=%lld max_rows=%lld", (long long)tokens, (long long)top_k,
             (long long)cols, (long long)max_rows);
    if (tokens == 0) return BD_OK;
    BD_CHECK(in && slot_pos && out, "moe_unpermute", "null tensor pointer");
    int st = BD_OK;
    BD_DISPATCH_FLOAT(dtype, D, {
        moe::moe_unpermute_kernel<D><<<static_cast<unsigned>(tokens * top_k), 256, 0, as_stream(stream)>>>(
            static_cast<const D*>(in), slot_pos, max_rows, cols, static_cast<D*>(out));
        st = check_launch("moe_unpermute_kernel");
    });
    return st;
}

extern "C" int bd_cuda_moe_combine(const void* y_slots, const int32_t* topk_ids, const void* shared_out,
                                   const float* shared_gate_logits, int64_t tokens, int64_t top_k, int64_t hidden,
                                   void* y, int dtype, void* stream) {
    return moe::combine(y_slots, topk_ids, shared_out, shared_gate_logits, tokens, top_k, hidden, y, dtype,
                        as_stream(stream));
}
