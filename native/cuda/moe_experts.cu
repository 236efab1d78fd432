// MoE expert stages and the whole layer on CUDA (contract in moe.h, twin in native/cpu/moe.cpp):
// argument checks shared with the CPU (moe_plan.h), the GemmArgs each kernel family takes, the
// dtype dispatch into the per-dtype instance files (moe_gemm_*.cu), and moe_forward, which chains
// route -> align -> gate_up -> down -> combine (or the decode GEMVs) on one stream inside the
// caller's workspace, with no host synchronization (the padded row count stays on the device).
// The shared expert is left to the caller's dense GEMMs; combine adds it with its sigmoid gate.
#include "braindrip/moe_plan.h"
#include "moe.cuh"

namespace bd::cuda::moe {

// ---- launchers

static GemmArgs gemm_args(const bd_moe_expert_params* p, bool down, const void* in, void* out) {
    GemmArgs a{};
    a.a = in;
    a.out = out;
    a.sorted = p->sorted_token_ids;
    a.expert_ids = p->expert_ids;
    a.npp = p->num_tokens_post_padded;
    a.topk_ids = p->topk_ids;
    a.topk_weights = p->topk_weights;
    a.ffn = p->ffn;
    a.slots = p->tokens * p->top_k;
    a.experts = p->experts;
    a.max_rows = p->max_rows;
    a.top_k = static_cast<int>(p->top_k);
    a.block_m = static_cast<int>(p->block_m);
    a.layout = p->gate_up_layout;
    a.act = p->act;
    if (down) {
        a.w = a.w_up = p->w_down;
        a.b = a.b_up = p->b_down;
        a.K = p->ffn;
        a.n_out = p->hidden;
    } else {
        const bool sep = p->gate_up_layout == BD_MOE_GU_SEPARATE;
        a.w = p->w_gate;
        a.w_up = sep ? p->w_up : p->w_gate;
        a.b = p->b_gate;
        a.b_up = sep ? p->b_up : p->b_gate;
        a.K = p->hidden;
        a.n_out = p->ffn;
    }
    return a;
}

// stage: 0 gate_up, 1 down, 2 gate_up_decode, 3 down_decode (bd_moe_plan_check_experts' codes).
static int run_experts(const bd_moe_expert_params* p, int stage, const void* in, void* out, bool allow_mma,
                       cudaStream_t stream) {
    char msg[256];
    if (int st = bd_moe_plan_check_experts(p, stage, msg, sizeof msg)) return fail(st, "%s", msg);
    if (p->tokens == 0) return BD_OK;
    static const char* names[] = {"moe_gate_up", "moe_down", "moe_gate_up_decode", "moe_down_decode"};
    if (!in || !out) return fail(BD_ERR_INVALID_ARGUMENT, "%s: null input or output tensor", names[stage]);
    const bool down = stage == 1 || stage == 3;
    const GemmArgs a = gemm_args(p, down, in, out);
    int st = BD_OK;
    if (stage >= 2) {
        if (a.slots > 65535)
            return fail(BD_ERR_UNSUPPORTED, "%s: tokens * top_k (%lld) must be <= 65535 on the decode path", names[stage],
                        (long long)a.slots);
        BD_DISPATCH_FLOAT(p->dtype, T, st = launch_decode<T>(a, down, stream));
    } else {
        if (p->max_rows / p->block_m > INT32_MAX) return fail(BD_ERR_UNSUPPORTED, "%s: too many M tiles", names[stage]);
        BD_DISPATCH_FLOAT(p->dtype, T, st = launch_grouped<T>(a, down, allow_mma, stream));
    }
    return st;
}

static int run_forward(const bd_moe_forward_params* f, cudaStream_t stream) {
    const bd_moe_expert_params& x = f->experts;
    const bd_moe_router_params& r = f->router;
    BD_CHECK(x.tokens == r.tokens && x.experts == r.experts && x.top_k == r.top_k, "moe_forward",
             "router and expert sizes differ (tokens %lld/%lld, experts %lld/%lld, top_k %lld/%lld)",
             (long long)r.tokens, (long long)x.tokens, (long long)r.experts, (long long)x.experts,
             (long long)r.top_k, (long long)x.top_k);
    BD_CHECK(f->path >= BD_MOE_PATH_AUTO && f->path <= BD_MOE_PATH_GROUPED_SIMT, "moe_forward", "unknown path %d",
             f->path);
    const int64_t T = x.tokens, H = x.hidden, F = x.ffn, E = x.experts, k = x.top_k;
    if (T == 0) return BD_OK;
    const bd_moe_forward_layout lay = bd_moe_plan_forward(T, H, F, E, k, x.dtype);
    BD_CHECK(f->x && f->y && f->workspace, "moe_forward", "null x, y or workspace");
    BD_CHECK(f->workspace_bytes >= lay.bytes, "moe_forward", "workspace (%lld bytes) must hold moe_workspace_bytes = %lld",
             (long long)f->workspace_bytes, (long long)lay.bytes);
    char* ws = static_cast<char*>(f->workspace);
    bd_moe_router_params rp = r;
    rp.workspace = ws + lay.router;
    rp.workspace_bytes = lay.sorted_token_ids - lay.router;
    if (int st = route(&rp, stream)) return st;
    bd_moe_expert_params ep = x;
    ep.topk_ids = r.topk_ids;
    ep.topk_weights = r.topk_weights;
    void* act = ws + lay.act;
    void* y_slots = ws + lay.y_slots;
    const int path = f->path == BD_MOE_PATH_AUTO ? bd_moe_plan_gemm_path(T, k, H, F, x.dtype) : f->path;
    if (path == BD_MOE_PATH_DECODE) {
        if (int st = run_experts(&ep, 2, f->x, act, true, stream)) return st;
        if (int st = run_experts(&ep, 3, act, y_slots, true, stream)) return st;
    } else {
        bd_moe_align_params ap{};
        ap.topk_ids = r.topk_ids;
        ap.tokens = T;
        ap.top_k = k;
        ap.experts = E;
        ap.block_m = lay.block_m;
        ap.max_rows = lay.max_rows;
        ap.sorted_token_ids = reinterpret_cast<int32_t*>(ws + lay.sorted_token_ids);
        ap.expert_ids = reinterpret_cast<int32_t*>(ws + lay.expert_ids);
        ap.expert_offsets = reinterpret_cast<int32_t*>(ws + lay.expert_offsets);
        ap.num_tokens_post_padded = reinterpret_cast<int32_t*>(ws + lay.num_post_padded);
        ap.slot_pos = reinterpret_cast<int32_t*>(ws + lay.slot_pos);
        ap.expert_counts = reinterpret_cast<int32_t*>(ws + lay.expert_counts);
        if (int st = align(&ap, stream)) return st;
        ep.sorted_token_ids = ap.sorted_token_ids;
        ep.expert_ids = ap.expert_ids;
        ep.num_tokens_post_padded = ap.num_tokens_post_padded;
        ep.block_m = lay.block_m;
        ep.max_rows = lay.max_rows;
        const bool mma = path != BD_MOE_PATH_GROUPED_SIMT;
        if (int st = run_experts(&ep, 0, f->x, act, mma, stream)) return st;
        if (int st = run_experts(&ep, 1, act, y_slots, mma, stream)) return st;
    }
    return combine(y_slots, r.topk_ids, f->shared_out, f->shared_gate_logits, T, k, H, f->y, x.dtype, stream);
}

static bd_moe_expert_params expert_params(int64_t tokens, int64_t hidden, int64_t ffn, int64_t experts, int64_t top_k,
                                          int dtype) {
    bd_moe_expert_params p{};
    p.tokens = tokens;
    p.hidden = hidden;
    p.ffn = ffn;
    p.experts = experts;
    p.top_k = top_k;
    p.dtype = dtype;
    return p;
}

}  // namespace bd::cuda::moe

// ---- entry points

using namespace bd::cuda;
using bd::cuda::moe::expert_params;

extern "C" int64_t bd_cuda_moe_block_m(int64_t tokens, int64_t top_k, int64_t experts) {
    return bd_moe_plan_block_m(tokens, top_k, experts);
}

extern "C" int64_t bd_cuda_moe_max_rows(int64_t tokens, int64_t top_k, int64_t experts, int64_t block_m) {
    return block_m < 1 ? -1 : bd_moe_plan_max_rows(tokens, top_k, experts, block_m);
}

extern "C" int bd_cuda_moe_gemm_path(int64_t tokens, int64_t top_k, int64_t hidden, int64_t ffn, int dtype) {
    if (tokens < 0 || top_k < 1 || hidden < 1 || ffn < 1 || !is_float_dtype(dtype)) return -1;
    return bd_moe_plan_gemm_path(tokens, top_k, hidden, ffn, dtype);
}

extern "C" int64_t bd_cuda_moe_router_workspace_bytes(int64_t tokens, int64_t experts) {
    return bd_moe_plan_router(tokens, experts).bytes;
}

extern "C" int64_t bd_cuda_moe_workspace_bytes(int64_t tokens, int64_t hidden, int64_t ffn, int64_t experts,
                                               int64_t top_k, int dtype) {
    return bd_moe_plan_forward(tokens, hidden, ffn, experts, top_k, dtype).bytes;
}

extern "C" int bd_cuda_moe_supports(int dtype, int64_t hidden, int64_t ffn, int64_t experts, int64_t top_k,
                                    int routing, int64_t n_groups, int64_t topk_groups, int act, int gate_up_layout) {
    char msg[256];
    if (int st = bd_moe_plan_check_supports(dtype, hidden, ffn, experts, top_k, routing, n_groups, topk_groups, act,
                                            gate_up_layout, msg, sizeof msg))
        return fail(st, "%s", msg);
    return BD_OK;
}

extern "C" int bd_cuda_moe_forward_p(const bd_moe_forward_params* p, void* stream) {
    BD_CHECK(p, "moe_forward", "null params");
    return moe::run_forward(p, as_stream(stream));
}

extern "C" int bd_cuda_moe_gate_up(const void* x, const void* w_gate, const void* w_up, const void* b_gate,
                                   const void* b_up, int gate_up_layout, int act, const int32_t* sorted_token_ids,
                                   const int32_t* expert_ids, const int32_t* num_tokens_post_padded, int64_t tokens,
                                   int64_t hidden, int64_t ffn, int64_t experts, int64_t top_k, int64_t block_m,
                                   int64_t max_rows, void* act_out, int dtype, void* stream) {
    bd_moe_expert_params p = expert_params(tokens, hidden, ffn, experts, top_k, dtype);
    p.w_gate = w_gate; p.w_up = w_up; p.b_gate = b_gate; p.b_up = b_up;
    p.gate_up_layout = gate_up_layout; p.act = act;
    p.sorted_token_ids = sorted_token_ids; p.expert_ids = expert_ids; p.num_tokens_post_padded = num_tokens_post_padded;
    p.block_m = block_m; p.max_rows = max_rows;
    return moe::run_experts(&p, 0, x, act_out, true, as_stream(stream));
}

extern "C" int bd_cuda_moe_down(const void* act_in, const void* w_down, const void* b_down, const float* topk_weights,
                                const int32_t* sorted_token_ids, const int32_t* expert_ids,
                                const int32_t* num_tokens_post_padded, int64_t tokens, int64_t hidden, int64_t ffn,
                                int64_t experts, int64_t top_k, int64_t block_m, int64_t max_rows, void* y_slots,
                                int dtype, void* stream) {
    bd_moe_expert_params p = expert_params(tokens, hidden, ffn, experts, top_k, dtype);
    p.w_down = w_down; p.b_down = b_down; p.topk_weights = topk_weights;
    p.sorted_token_ids = sorted_token_ids; p.expert_ids = expert_ids; p.num_tokens_post_padded = num_tokens_post_padded;
    p.block_m = block_m; p.max_rows = max_rows;
    return moe::run_experts(&p, 1, act_in, y_slots, true, as_stream(stream));
}

extern "C" int bd_cuda_moe_gate_up_decode(const void* x, const void* w_gate, const void* w_up, const void* b_gate,
                                          const void* b_up, int gate_up_layout, int act, const int32_t* topk_ids,
                                          int64_t tokens, int64_t hidden, int64_t ffn, int64_t experts, int64_t top_k,
                                          void* act_out, int dtype, void* stream) {
    bd_moe_expert_params p = expert_params(tokens, hidden, ffn, experts, top_k, dtype);
    p.w_gate = w_gate; p.w_up = w_up; p.b_gate = b_gate; p.b_up = b_up;
    p.gate_up_layout = gate_up_layout; p.act = act; p.topk_ids = topk_ids;
    return moe::run_experts(&p, 2, x, act_out, true, as_stream(stream));
}

extern "C" int bd_cuda_moe_down_decode(const void* act_in, const void* w_down, const void* b_down,
                                       const float* topk_weights, const int32_t* topk_ids, int64_t tokens,
                                       int64_t hidden, int64_t ffn, int64_t experts, int64_t top_k, void* y_slots,
                                       int dtype, void* stream) {
    bd_moe_expert_params p = expert_params(tokens, hidden, ffn, experts, top_k, dtype);
    p.w_down = w_down; p.b_down = b_down; p.topk_weights = topk_weights; p.topk_ids = topk_ids;
    return moe::run_experts(&p, 3, act_in, y_slots, true, as_stream(stream));
}

extern "C" int bd_cuda_moe_forward(const void* logits, int logits_dtype, const float* router_bias, const void* x,
                                   int64_t tokens, int64_t hidden, int64_t ffn, int64_t experts, int64_t top_k,
                                   int routing, int norm_topk, int64_t n_groups, int64_t topk_groups, float scaling,
                                   float capacity_factor, const void* w_gate, const void* w_up, const void* b_gate,
                                   const void* b_up, int gate_up_layout, int act, const void* w_down,
                                   const void* b_down, const void* shared_out, const float* shared_gate_logits,
                                   void* y, int32_t* topk_ids, float* topk_weights, int32_t* tokens_per_expert,
                                   float* stats, int path, void* workspace, int64_t workspace_bytes, int dtype,
                                   void* stream) {
    bd_moe_forward_params f{};
    f.router = bd_moe_router_params{logits,   logits_dtype, router_bias, tokens,      experts,
                                    top_k,    routing,      norm_topk,   n_groups,    topk_groups,
                                    scaling,  capacity_factor, topk_ids, topk_weights, tokens_per_expert,
                                    stats,    nullptr,      0};
    f.experts = expert_params(tokens, hidden, ffn, experts, top_k, dtype);
    f.experts.w_gate = w_gate; f.experts.w_up = w_up; f.experts.b_gate = b_gate; f.experts.b_up = b_up;
    f.experts.w_down = w_down; f.experts.b_down = b_down;
    f.experts.gate_up_layout = gate_up_layout; f.experts.act = act;
    f.x = x; f.shared_out = shared_out; f.shared_gate_logits = shared_gate_logits; f.y = y;
    f.path = path; f.workspace = workspace; f.workspace_bytes = workspace_bytes;
    return moe::run_forward(&f, as_stream(stream));
}
