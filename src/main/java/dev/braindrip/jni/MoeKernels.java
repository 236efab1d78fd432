package dev.braindrip.jni;

/**
 * The MoE and Mixture-of-Depths kernels of both backends (native/include/braindrip/moe.h, flat
 * forms): the same arguments, the same contract. Pointers are raw addresses (host for {@link #CPU},
 * device for {@link #cuda()}); every kernel returns a bd_status and {@link #lastError()} says why.
 * Kept apart from {@link Kernels} so the MoE surface grows without touching the basic ops.
 */
public interface MoeKernels {
    MoeKernels CPU = new CpuMoeKernels();

    /** The CUDA kernels; loads libbraindrip_cuda on first use. */
    static MoeKernels cuda() {
        return CudaMoeKernels.INSTANCE;
    }

    /** The kernels of a CPU or CUDA backend. */
    static MoeKernels of(boolean cuda) {
        return cuda ? cuda() : CPU;
    }

    boolean isCuda();

    String lastError();

    /** M tile of the grouped GEMM for T*k slots over E experts. */
    long moeBlockM(long tokens, long topK, long experts);

    /** Rows of the padded sorted buffers. */
    long moeMaxRows(long tokens, long topK, long experts, long blockM);

    /** bd_moe_path the expert GEMMs take at this size; negative on bad arguments. */
    int moeGemmPath(long tokens, long topK, long hidden, long ffn, int dtype);

    /** Scratch bytes of moe_route. */
    long moeRouterWorkspaceBytes(long tokens, long experts);

    /** Scratch bytes of moe_forward, valid for every path. */
    long moeWorkspaceBytes(long tokens, long hidden, long ffn, long experts, long topK, int dtype);

    /** BD_OK when the backend runs this configuration; else a status with the limit in lastError(). */
    int moeSupports(int dtype, long hidden, long ffn, long experts, long topK, int routing, long nGroups, long topkGroups, int act, int gateUpLayout);

    int moeRoute(long logits, int logitsDtype, long bias, long tokens, long experts, long topK, int routing, int normTopk, long nGroups, long topkGroups, float scaling, float capacityFactor, long topkIds, long topkWeights, long tokensPerExpert, long stats, long workspace, long workspaceBytes, long stream);

    int moeAlign(long topkIds, long tokens, long topK, long experts, long blockM, long maxRows, long sortedTokenIds, long expertIds, long expertOffsets, long numTokensPostPadded, long slotPos, long expertCounts, long stream);

    int moePermute(long x, long sortedTokenIds, long numTokensPostPadded, long tokens, long topK, long cols, long maxRows, long out, int dtype, long stream);

    int moeUnpermute(long in, long slotPos, long tokens, long topK, long cols, long maxRows, long out, int dtype, long stream);

    int moeGateUp(long x, long wGate, long wUp, long bGate, long bUp, int gateUpLayout, int act, long sortedTokenIds, long expertIds, long numTokensPostPadded, long tokens, long hidden, long ffn, long experts, long topK, long blockM, long maxRows, long actOut, int dtype, long stream);

    int moeDown(long actIn, long wDown, long bDown, long topkWeights, long sortedTokenIds, long expertIds, long numTokensPostPadded, long tokens, long hidden, long ffn, long experts, long topK, long blockM, long maxRows, long ySlots, int dtype, long stream);

    int moeGateUpDecode(long x, long wGate, long wUp, long bGate, long bUp, int gateUpLayout, int act, long topkIds, long tokens, long hidden, long ffn, long experts, long topK, long actOut, int dtype, long stream);

    int moeDownDecode(long actIn, long wDown, long bDown, long topkWeights, long topkIds, long tokens, long hidden, long ffn, long experts, long topK, long ySlots, int dtype, long stream);

    int moeCombine(long ySlots, long topkIds, long sharedOut, long sharedGateLogits, long tokens, long topK, long hidden, long y, int dtype, long stream);

    int moeForward(long logits, int logitsDtype, long routerBias, long x, long tokens, long hidden, long ffn, long experts, long topK, int routing, int normTopk, long nGroups, long topkGroups, float scaling, float capacityFactor, long wGate, long wUp, long bGate, long bUp, int gateUpLayout, int act, long wDown, long bDown, long sharedOut, long sharedGateLogits, long y, long topkIds, long topkWeights, long tokensPerExpert, long stats, int path, long workspace, long workspaceBytes, int dtype, long stream);

    /** k = ceil(C*T) clamped to [1, T] (0 when T == 0): the one definition Java and native agree on. */
    long modCapacity(long tokens, float capacity);

    int modScores(long x, long router, long tokens, long hidden, long scores, int dtype, long stream);

    int modRoute(long scores, long tokens, long k, long selected, long weights, long threshold, long stream);

    int modRouteThreshold(long scores, long tokens, float threshold, long selected, long weights, long count, long stream);

    int modGather(long x, long selected, long k, long tokens, long hidden, long out, int dtype, long stream);

    int modScatterAdd(long x, long selected, long weights, long blockOut, long k, long tokens, long hidden, int dtype, long stream);
}
