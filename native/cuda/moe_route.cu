// MoE routers on CUDA (contract in moe.h, twin in native/cpu/moe.cpp).
// One warp per token (vLLM topk_softmax style): the token's E logits sit in shared memory as F32,
// the warp reduces max / sum with shuffles, and k rounds of a warp argmax over (value desc, expert id
// asc) pick the experts; a chosen or excluded expert is marked NaN in the key array (keys are never
// NaN: a NaN score counts as -inf). Selection is on the same F32 values as the CPU, so ids match
// exactly given the same logits (up to the last ulp of expf inside sigmoid_grouped).
// Top-1 capacity (Switch): one block per expert walks the tokens in order with a block scan, so the
// tokens past capacity are dropped in token order, deterministically.
// Statistics: per-token logsumexp and sigmoid sum saved by the router kernel, then one block per
// expert for the mean probability and one block for the losses, all in fixed reduction order.
#include "braindrip/moe_plan.h"
#include "moe.cuh"

namespace bd::cuda::moe {

constexpr int ROUTE_WARPS = 4;

struct RouteArgs {
    const void* logits;
    const float* bias;
    int64_t T;
    int E, k, routing, norm, G, TG;
    float scaling;
    int32_t* ids;
    float* weights;
    float* token_stats;  // (T, 2) or NULL
};

// ---- kernels

// z: (T, E) logits of storage L; ids, weights: (T, k); token_stats: (T, 2) = (lse, sigmoid sum).
template <typename L>
static __global__ void __launch_bounds__(ROUTE_WARPS * 32) moe_route_kernel(RouteArgs a) {
    __shared__ float zs[ROUTE_WARPS][BD_MOE_MAX_EXPERTS];
    __shared__ float ks[ROUTE_WARPS][BD_MOE_MAX_EXPERTS];
    __shared__ float gs[ROUTE_WARPS][BD_MOE_MAX_EXPERTS / 2];
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int64_t t = static_cast<int64_t>(blockIdx.x) * ROUTE_WARPS + warp;
    if (t >= a.T) return;  // warp-uniform; the kernel has no block barrier
    const int E = a.E, k = a.k;
    float* z = zs[warp];
    float* key = ks[warp];
    const bool sigmoid = a.routing == BD_MOE_ROUTE_SIGMOID_GROUPED;
    const L* lg = static_cast<const L*>(a.logits) + t * E;
    float sigsum = 0.f;
    for (int e = lane; e < E; e += 32) {
        float v = to_f32(lg[e]);
        if (a.routing == BD_MOE_ROUTE_TOPK_SOFTMAX && a.bias) v += a.bias[e];
        z[e] = v;
        if (sigmoid) {
            const float s = sigmoidf_(v);
            sigsum += s;
            key[e] = sel_key(s + (a.bias ? a.bias[e] : 0.f));
        } else {
            key[e] = sel_key(v);
        }
    }
    __syncwarp();
    float m = -INFINITY;
    for (int e = lane; e < E; e += 32) m = fmaxf(m, sel_key(z[e]));
    m = warp_max(m);
    float se = 0.f;
    if (m != -INFINITY)
        for (int e = lane; e < E; e += 32) se += expf(z[e] - m);
    se = warp_sum(se);
    const float lse = m == -INFINITY ? -INFINITY : m + logf(se);
    sigsum = warp_sum(sigsum);

    if (sigmoid && a.G > 1) {  // keep the TG groups with the best sum of their two best keys
        const int gsz = E / a.G;
        float* gsc = gs[warp];
        for (int g = lane; g < a.G; g += 32) {
            float b1 = -INFINITY, b2 = -INFINITY;
            for (int i = 0; i < gsz; ++i) {
                const float v = key[g * gsz + i];
                if (v > b1) {
                    b2 = b1;
                    b1 = v;
                } else if (v > b2) {
                    b2 = v;
                }
            }
            gsc[g] = sel_key(b1 + b2);
        }
        __syncwarp();
        for (int r = 0; r < a.TG; ++r) {
            float bv = -INFINITY;
            int bi = INT_MAX;
            for (int g = lane; g < a.G; g += 32) {
                const float v = gsc[g];
                if (!isnan(v) && better(v, g, bv, bi)) {
                    bv = v;
                    bi = g;
                }
            }
            for (int o = 16; o > 0; o >>= 1) {
                const float ov = __shfl_xor_sync(0xffffffffu, bv, o);
                const int oi = __shfl_xor_sync(0xffffffffu, bi, o);
                if (better(ov, oi, bv, bi)) {
                    bv = ov;
                    bi = oi;
                }
            }
            if (lane == (bi & 31)) gsc[bi] = NAN;  // kept
            __syncwarp();
        }
        for (int e = lane; e < E; e += 32)
            if (!isnan(gsc[e / gsz])) key[e] = NAN;  // group not kept
        __syncwarp();
    }

    int32_t* ids = a.ids + t * k;
    float* w = a.weights + t * k;
    for (int j = 0; j < k; ++j) {
        float bv = -INFINITY;
        int bi = INT_MAX;
        for (int e = lane; e < E; e += 32) {
            const float v = key[e];
            if (!isnan(v) && better(v, e, bv, bi)) {
                bv = v;
                bi = e;
            }
        }
        for (int o = 16; o > 0; o >>= 1) {
            const float ov = __shfl_xor_sync(0xffffffffu, bv, o);
            const int oi = __shfl_xor_sync(0xffffffffu, bi, o);
            if (better(ov, oi, bv, bi)) {
                bv = ov;
                bi = oi;
            }
        }
        if (lane == 0) ids[j] = bi;
        if (lane == (bi & 31)) key[bi] = NAN;
        __syncwarp();
    }
    __syncwarp();  // ids[] written by lane 0 are read by every lane below

    const float m0 = sel_key(z[ids[0]]);
    float tot = 0.f;
    for (int j = lane; j < k; j += 32) {
        const float zi = z[ids[j]];
        float v;
        switch (a.routing) {
            case BD_MOE_ROUTE_TOPK_SOFTMAX: v = expf(zi - m0); break;
            case BD_MOE_ROUTE_SIGMOID_GROUPED: v = sigmoidf_(zi); break;
            default: v = expf(zi - m) / se; break;
        }
        w[j] = v;
        tot += v;
    }
    tot = warp_sum(tot);
    const bool normalize = a.routing == BD_MOE_ROUTE_TOPK_SOFTMAX || a.norm;
    const float denom = sigmoid ? tot + 1e-20f : tot;
    for (int j = lane; j < k; j += 32) {
        float v = w[j];
        if (normalize) v /= denom;
        w[j] = v * a.scaling;
    }
    if (a.token_stats && lane == 0) {
        a.token_stats[2 * t] = lse;
        a.token_stats[2 * t + 1] = sigsum;
    }
}

// counts[e] += slots routed to e (counts zeroed before); slot_pos[s] = -1 for dropped slots when given.
static __global__ void __launch_bounds__(256) moe_histogram_kernel(const int32_t* ids, int64_t n, int E,
                                                                  int32_t* counts, int32_t* slot_pos) {
    __shared__ int h[BD_MOE_MAX_EXPERTS];
    for (int e = threadIdx.x; e < E; e += blockDim.x) h[e] = 0;
    __syncthreads();
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
         i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
        const int32_t e = ids[i];
        if (e >= 0 && e < E)
            atomicAdd(&h[e], 1);
        else if (slot_pos)
            slot_pos[i] = -1;
    }
    __syncthreads();
    for (int e = threadIdx.x; e < E; e += blockDim.x)
        if (h[e]) atomicAdd(&counts[e], h[e]);
}

// Switch capacity: block e walks tokens in order; its tokens past `cap` are dropped (id -1, weight 0).
// Other blocks only ever compare ids[t] with their own expert, which a drop here cannot change.
static __global__ void __launch_bounds__(256) moe_capacity_kernel(int32_t* ids, float* weights, int64_t T,
                                                                 int64_t cap, int32_t* pre_counts, int32_t* counts) {
    __shared__ int scan[33];
    const int e = blockIdx.x;
    int64_t base = 0;
    for (int64_t t0 = 0; t0 < T; t0 += blockDim.x) {
        const int64_t t = t0 + threadIdx.x;
        const int mine = (t < T && ids[t] == e) ? 1 : 0;
        int total;
        const int before = block_exclusive_scan(mine, scan, &total);
        if (mine && base + before >= cap) {
            ids[t] = -1;
            weights[t] = 0.f;
        }
        base += total;
    }
    if (threadIdx.x == 0) {
        pre_counts[e] = static_cast<int32_t>(base);
        if (counts) counts[e] = static_cast<int32_t>(base < cap ? base : cap);
    }
}

// prob[e] = mean over tokens of the router probability of e (see moe.h, stats[0]).
template <typename L>
static __global__ void __launch_bounds__(256) moe_expert_prob_kernel(RouteArgs a, float* prob) {
    __shared__ float red[32];
    const int e = blockIdx.x;
    const L* lg = static_cast<const L*>(a.logits);
    float acc = 0.f;
    for (int64_t t = threadIdx.x; t < a.T; t += blockDim.x) {
        float z = to_f32(lg[t * a.E + e]);
        if (a.routing == BD_MOE_ROUTE_TOPK_SOFTMAX && a.bias) z += a.bias[e];
        acc += a.routing == BD_MOE_ROUTE_SIGMOID_GROUPED ? sigmoidf_(z) / a.token_stats[2 * t + 1]
                                                         : expf(z - a.token_stats[2 * t]);
    }
    acc = block_sum(acc, red);
    if (threadIdx.x == 0) prob[e] = acc / static_cast<float>(a.T);
}

// stats = (E * sum_e f_e P_e, mean lse^2, dropped slots); cap < 0: no capacity.
static __global__ void __launch_bounds__(256) moe_route_stats_kernel(const float* token_stats, const float* prob,
                                                                    const int32_t* pre, int64_t T, int E, int k,
                                                                    int64_t cap, float* stats) {
    __shared__ double red[32];
    double aux = 0.0, zl = 0.0, dropped = 0.0;
    for (int e = threadIdx.x; e < E; e += blockDim.x) {
        aux += (static_cast<double>(pre[e]) / static_cast<double>(T * k)) * prob[e];
        if (cap >= 0 && pre[e] > cap) dropped += static_cast<double>(pre[e] - cap);
    }
    for (int64_t t = threadIdx.x; t < T; t += blockDim.x) {
        const double l = token_stats[2 * t];
        zl += l * l;
    }
    aux = block_sum(aux, red);
    zl = block_sum(zl, red);
    dropped = block_sum(dropped, red);
    if (threadIdx.x == 0) {
        stats[0] = static_cast<float>(E * aux);
        stats[1] = static_cast<float>(zl / static_cast<double>(T));
        stats[2] = static_cast<float>(dropped);
    }
}

// ---- launchers

static int histogram(const int32_t* ids, int64_t n, int E, int32_t* counts, int32_t* slot_pos, cudaStream_t stream) {
    int st = check_cuda(cudaMemsetAsync(counts, 0, static_cast<size_t>(E) * 4, stream), "cudaMemsetAsync(counts)");
    if (st != BD_OK) return st;
    const int64_t blocks = (n + 1023) / 1024;
    moe_histogram_kernel<<<static_cast<unsigned>(blocks < 512 ? blocks : 512), 256, 0, stream>>>(ids, n, E, counts,
                                                                                                 slot_pos);
    return check_launch("moe_histogram_kernel");
}

template <typename L>
static int route_t(const bd_moe_router_params* p, cudaStream_t stream) {
    const int64_t T = p->tokens;
    const int E = static_cast<int>(p->experts), k = static_cast<int>(p->top_k);
    const bd_moe_router_layout lay = bd_moe_plan_router(T, p->experts);
    char* ws = static_cast<char*>(p->workspace);
    RouteArgs a{p->logits, p->bias, T, E, k, p->routing, p->norm_topk, static_cast<int>(p->n_groups),
                static_cast<int>(p->topk_groups), p->scaling, p->topk_ids, p->topk_weights,
                p->stats ? reinterpret_cast<float*>(ws + lay.token_stats) : nullptr};
    moe_route_kernel<L><<<static_cast<unsigned>((T + ROUTE_WARPS - 1) / ROUTE_WARPS), ROUTE_WARPS * 32, 0, stream>>>(a);
    int st = check_launch("moe_route_kernel");
    if (st != BD_OK) return st;
    int32_t* pre = ws ? reinterpret_cast<int32_t*>(ws + lay.pre_counts) : nullptr;
    int64_t cap = -1;
    if (p->routing == BD_MOE_ROUTE_TOP1_CAPACITY) {
        cap = bd_moe_plan_capacity(T, p->experts, p->capacity_factor);
        moe_capacity_kernel<<<E, 256, 0, stream>>>(p->topk_ids, p->topk_weights, T, cap, pre, p->tokens_per_expert);
        if ((st = check_launch("moe_capacity_kernel")) != BD_OK) return st;
    } else {
        if (p->tokens_per_expert && (st = histogram(p->topk_ids, T * k, E, p->tokens_per_expert, nullptr, stream)) != BD_OK)
            return st;
        if (p->stats) {
            if (p->tokens_per_expert)
                pre = p->tokens_per_expert;
            else if ((st = histogram(p->topk_ids, T * k, E, pre, nullptr, stream)) != BD_OK)
                return st;
        }
    }
    if (!p->stats) return BD_OK;
    float* prob = reinterpret_cast<float*>(ws + lay.expert_prob);
    moe_expert_prob_kernel<L><<<E, 256, 0, stream>>>(a, prob);
    if ((st = check_launch("moe_expert_prob_kernel")) != BD_OK) return st;
    moe_route_stats_kernel<<<1, 256, 0, stream>>>(a.token_stats, prob, pre, T, E, k, cap, p->stats);
    return check_launch("moe_route_stats_kernel");
}

int route(const bd_moe_router_params* p, cudaStream_t stream) {
    char msg[256];
    if (int st = bd_moe_plan_check_router(p, msg, sizeof msg)) return fail(st, "%s", msg);
    if (p->tokens == 0) {
        int st = BD_OK;
        if (p->tokens_per_expert)
            st = check_cuda(cudaMemsetAsync(p->tokens_per_expert, 0, static_cast<size_t>(p->experts) * 4, stream),
                            "cudaMemsetAsync(tokens_per_expert)");
        if (st == BD_OK && p->stats)
            st = check_cuda(cudaMemsetAsync(p->stats, 0, BD_MOE_STATS_COUNT * 4, stream), "cudaMemsetAsync(stats)");
        return st;
    }
    int st = BD_OK;
    BD_DISPATCH_FLOAT(p->logits_dtype, L, st = route_t<L>(p, stream));
    return st;
}

int align_counts(const int32_t* ids, int64_t n, int E, int32_t* counts, int32_t* slot_pos, cudaStream_t stream) {
    return histogram(ids, n, E, counts, slot_pos, stream);
}

}  // namespace bd::cuda::moe

// ---- entry points

extern "C" int bd_cuda_moe_router(const bd_moe_router_params* p, void* stream) {
    return bd::cuda::moe::route(p, bd::cuda::as_stream(stream));
}

extern "C" int bd_cuda_moe_route(const void* logits, int logits_dtype, const float* bias, int64_t tokens,
                                 int64_t experts, int64_t top_k, int routing, int norm_topk, int64_t n_groups,
                                 int64_t topk_groups, float scaling, float capacity_factor, int32_t* topk_ids,
                                 float* topk_weights, int32_t* tokens_per_expert, float* stats, void* workspace,
                                 int64_t workspace_bytes, void* stream) {
    const bd_moe_router_params p{logits,   logits_dtype, bias,         tokens,       experts,
                                 top_k,    routing,      norm_topk,    n_groups,     topk_groups,
                                 scaling,  capacity_factor, topk_ids,  topk_weights, tokens_per_expert,
                                 stats,    workspace,    workspace_bytes};
    return bd::cuda::moe::route(&p, bd::cuda::as_stream(stream));
}
