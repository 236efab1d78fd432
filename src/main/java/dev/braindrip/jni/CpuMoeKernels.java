package dev.braindrip.jni;

/**
 * CPU implementation of {@link MoeKernels}: forwards to {@link NativeCpu}. Made once
 * ({@link MoeKernels#CPU}); it first hands OpenBLAS's SGEMM to the library ({@link CpuBlas}) so the
 * grouped expert GEMMs of F32 layers run on it.
 */
final class CpuMoeKernels implements MoeKernels {
    CpuMoeKernels() {
        CpuBlas.registerSgemm();
    }

    @Override
    public boolean isCuda() {
        return false;
    }

    @Override
    public String lastError() {
        return NativeCpu.bd_cpu_last_error();
    }

    @Override
    public long moeBlockM(long tokens, long topK, long experts) {
        return NativeCpu.bd_cpu_moe_block_m(tokens, topK, experts);
    }

    @Override
    public long moeMaxRows(long tokens, long topK, long experts, long blockM) {
        return NativeCpu.bd_cpu_moe_max_rows(tokens, topK, experts, blockM);
    }

    @Override
    public int moeGemmPath(long tokens, long topK, long hidden, long ffn, int dtype) {
        return NativeCpu.bd_cpu_moe_gemm_path(tokens, topK, hidden, ffn, dtype);
    }

    @Override
    public long moeRouterWorkspaceBytes(long tokens, long experts) {
        return NativeCpu.bd_cpu_moe_router_workspace_bytes(tokens, experts);
    }

    @Override
    public long moeWorkspaceBytes(long tokens, long hidden, long ffn, long experts, long topK, int dtype) {
        return NativeCpu.bd_cpu_moe_workspace_bytes(tokens, hidden, ffn, experts, topK, dtype);
    }

    @Override
    public int moeSupports(int dtype, long hidden, long ffn, long experts, long topK, int routing, long nGroups, long topkGroups, int act, int gateUpLayout) {
        return NativeCpu.bd_cpu_moe_supports(dtype, hidden, ffn, experts, topK, routing, nGroups, topkGroups, act, gateUpLayout);
    }

    @Override
    public int moeRoute(long logits, int logitsDtype, long bias, long tokens, long experts, long topK, int routing, int normTopk, long nGroups, long topkGroups, float scaling, float capacityFactor, long topkIds, long topkWeights, long tokensPerExpert, long stats, long workspace, long workspaceBytes, long stream) {
        return NativeCpu.bd_cpu_moe_route(logits, logitsDtype, bias, tokens, experts, topK, routing, normTopk, nGroups, topkGroups, scaling, capacityFactor, topkIds, topkWeights, tokensPerExpert, stats, workspace, workspaceBytes, stream);
    }

    @Override
    public int moeAlign(long topkIds, long tokens, long topK, long experts, long blockM, long maxRows, long sortedTokenIds, long expertIds, long expertOffsets, long numTokensPostPadded, long slotPos, long expertCounts, long stream) {
        return NativeCpu.bd_cpu_moe_align(topkIds, tokens, topK, experts, blockM, maxRows, sortedTokenIds, expertIds, expertOffsets, numTokensPostPadded, slotPos, expertCounts, stream);
    }

    @Override
    public int moePermute(long x, long sortedTokenIds, long numTokensPostPadded, long tokens, long topK, long cols, long maxRows, long out, int dtype, long stream) {
        return NativeCpu.bd_cpu_moe_permute(x, sortedTokenIds, numTokensPostPadded, tokens, topK, cols, maxRows, out, dtype, stream);
    }

    @Override
    public int moeUnpermute(long in, long slotPos, long tokens, long topK, long cols, long maxRows, long out, int dtype, long stream) {
        return NativeCpu.bd_cpu_moe_unpermute(in, slotPos, tokens, topK, cols, maxRows, out, dtype, stream);
    }

    @Override
    public int moeGateUp(long x, long wGate, long wUp, long bGate, long bUp, int gateUpLayout, int act, long sortedTokenIds, long expertIds, long numTokensPostPadded, long tokens, long hidden, long ffn, long experts, long topK, long blockM, long maxRows, long actOut, int dtype, long stream) {
        return NativeCpu.bd_cpu_moe_gate_up(x, wGate, wUp, bGate, bUp, gateUpLayout, act, sortedTokenIds, expertIds, numTokensPostPadded, tokens, hidden, ffn, experts, topK, blockM, maxRows, actOut, dtype, stream);
    }

    @Override
    public int moeDown(long actIn, long wDown, long bDown, long topkWeights, long sortedTokenIds, long expertIds, long numTokensPostPadded, long tokens, long hidden, long ffn, long experts, long topK, long blockM, long maxRows, long ySlots, int dtype, long stream) {
        return NativeCpu.bd_cpu_moe_down(actIn, wDown, bDown, topkWeights, sortedTokenIds, expertIds, numTokensPostPadded, tokens, hidden, ffn, experts, topK, blockM, maxRows, ySlots, dtype, stream);
    }

    @Override
    public int moeGateUpDecode(long x, long wGate, long wUp, long bGate, long bUp, int gateUpLayout, int act, long topkIds, long tokens, long hidden, long ffn, long experts, long topK, long actOut, int dtype, long stream) {
        return NativeCpu.bd_cpu_moe_gate_up_decode(x, wGate, wUp, bGate, bUp, gateUpLayout, act, topkIds, tokens, hidden, ffn, experts, topK, actOut, dtype, stream);
    }

    @Override
    public int moeDownDecode(long actIn, long wDown, long bDown, long topkWeights, long topkIds, long tokens, long hidden, long ffn, long experts, long topK, long ySlots, int dtype, long stream) {
        return NativeCpu.bd_cpu_moe_down_decode(actIn, wDown, bDown, topkWeights, topkIds, tokens, hidden, ffn, experts, topK, ySlots, dtype, stream);
    }

    @Override
    public int moeCombine(long ySlots, long topkIds, long sharedOut, long sharedGateLogits, long tokens, long topK, long hidden, long y, int dtype, long stream) {
        return NativeCpu.bd_cpu_moe_combine(ySlots, topkIds, sharedOut, sharedGateLogits, tokens, topK, hidden, y, dtype, stream);
    }

    @Override
    public int moeForward(long logits, int logitsDtype, long routerBias, long x, long tokens, long hidden, long ffn, long experts, long topK, int routing, int normTopk, long nGroups, long topkGroups, float scaling, float capacityFactor, long wGate, long wUp, long bGate, long bUp, int gateUpLayout, int act, long wDown, long bDown, long sharedOut, long sharedGateLogits, long y, long topkIds, long topkWeights, long tokensPerExpert, long stats, int path, long workspace, long workspaceBytes, int dtype, long stream) {
        return NativeCpu.bd_cpu_moe_forward(logits, logitsDtype, routerBias, x, tokens, hidden, ffn, experts, topK, routing, normTopk, nGroups, topkGroups, scaling, capacityFactor, wGate, wUp, bGate, bUp, gateUpLayout, act, wDown, bDown, sharedOut, sharedGateLogits, y, topkIds, topkWeights, tokensPerExpert, stats, path, workspace, workspaceBytes, dtype, stream);
    }

    @Override
    public long modCapacity(long tokens, float capacity) {
        return NativeCpu.bd_cpu_mod_capacity(tokens, capacity);
    }

    @Override
    public int modScores(long x, long router, long tokens, long hidden, long scores, int dtype, long stream) {
        return NativeCpu.bd_cpu_mod_scores(x, router, tokens, hidden, scores, dtype, stream);
    }

    @Override
    public int modRoute(long scores, long tokens, long k, long selected, long weights, long threshold, long stream) {
        return NativeCpu.bd_cpu_mod_route(scores, tokens, k, selected, weights, threshold, stream);
    }

    @Override
    public int modRouteThreshold(long scores, long tokens, float threshold, long selected, long weights, long count, long stream) {
        return NativeCpu.bd_cpu_mod_route_threshold(scores, tokens, threshold, selected, weights, count, stream);
    }

    @Override
    public int modGather(long x, long selected, long k, long tokens, long hidden, long out, int dtype, long stream) {
        return NativeCpu.bd_cpu_mod_gather(x, selected, k, tokens, hidden, out, dtype, stream);
    }

    @Override
    public int modScatterAdd(long x, long selected, long weights, long blockOut, long k, long tokens, long hidden, int dtype, long stream) {
        return NativeCpu.bd_cpu_mod_scatter_add(x, selected, weights, blockOut, k, tokens, hidden, dtype, stream);
    }
}
