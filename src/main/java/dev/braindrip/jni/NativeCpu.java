package dev.braindrip.jni;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Name;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * JNI binding of libbraindrip_cpu. Pointers cross as {@code long} addresses; every function
 * returns a bd_status code (0 = ok) with the reason in {@link #bd_cpu_last_error()}.
 * Nothing outside {@code dev.braindrip.jni} calls these directly; {@code CpuOps} wraps them.
 */
@Platform(include = "braindrip_jni.h", link = "braindrip_cpu")
public final class NativeCpu {
    static {
        Loader.load();
    }

    private NativeCpu() {}

    /** Loads the library (idempotent); throws UnsatisfiedLinkError with the cause if it cannot. */
    public static void load() {
        Loader.load(NativeCpu.class);
    }

    public static native @Cast("const char*") String bd_cpu_last_error();

    // ---- memory
    public static native @Cast("intptr_t") long bd_cpu_malloc(long bytes);
    public static native void bd_cpu_free(@Cast("void*") long p);
    public static native int bd_cpu_memcpy(@Cast("void*") long dst, @Cast("const void*") long src, long bytes);
    public static native int bd_cpu_memset(@Cast("void*") long p, int value, long bytes);
    public static native void bd_cpu_set_threads(int n);
    // host array <-> native memory (JavaCPP pins or copies the array around the call)
    public static native @Name("bd_cpu_memcpy") int copyIn(@Cast("void*") long dst, @Cast("const void*") float[] src, long bytes);
    public static native @Name("bd_cpu_memcpy") int copyIn(@Cast("void*") long dst, @Cast("const void*") short[] src, long bytes);
    public static native @Name("bd_cpu_memcpy") int copyIn(@Cast("void*") long dst, @Cast("const void*") int[] src, long bytes);
    public static native @Name("bd_cpu_memcpy") int copyIn(@Cast("void*") long dst, @Cast("const void*") long[] src, long bytes);
    public static native @Name("bd_cpu_memcpy") int copyIn(@Cast("void*") long dst, @Cast("const void*") byte[] src, long bytes);
    public static native @Name("bd_cpu_memcpy") int copyOut(@Cast("void*") float[] dst, @Cast("const void*") long src, long bytes);
    public static native @Name("bd_cpu_memcpy") int copyOut(@Cast("void*") short[] dst, @Cast("const void*") long src, long bytes);
    public static native @Name("bd_cpu_memcpy") int copyOut(@Cast("void*") int[] dst, @Cast("const void*") long src, long bytes);
    public static native @Name("bd_cpu_memcpy") int copyOut(@Cast("void*") long[] dst, @Cast("const void*") long src, long bytes);
    public static native @Name("bd_cpu_memcpy") int copyOut(@Cast("void*") byte[] dst, @Cast("const void*") long src, long bytes);
    public static native int bd_cpu_threads();
    /** Registers a cblas_sgemm-compatible function (its address; 0 unregisters) for the MoE expert GEMMs (cpu_runtime.h). */
    public static native void bd_cpu_set_sgemm(@Cast("void*") long fn);
    public static native int bd_cpu_has_sgemm();

    // ---- the CPU's few-row GEMM (native/include/braindrip/cpu_gemm.h; CPU only)
    public static native int bd_cpu_gemm_small(@Cast("const void*") long a, @Cast("const void*") long b, @Cast("void*") long c, long m, long n, long k, int accumulate, int dtype);

    // ---- ops (native/include/braindrip/ops.h; identical for both backends)
    public static native int bd_cpu_convert(@Cast("const void*") long x, int srcDtype, @Cast("void*") long y, int dstDtype, long n, @Cast("void*") long stream);
    public static native int bd_cpu_add(@Cast("const void*") long a, @Cast("const void*") long b, @Cast("void*") long y, long n, int dtype, @Cast("void*") long stream);
    public static native int bd_cpu_mul(@Cast("const void*") long a, @Cast("const void*") long b, @Cast("void*") long y, long n, int dtype, @Cast("void*") long stream);
    public static native int bd_cpu_scale(@Cast("const void*") long x, @Cast("void*") long y, long n, float s, int dtype, @Cast("void*") long stream);
    public static native int bd_cpu_softcap(@Cast("const void*") long x, @Cast("void*") long y, long n, float cap, int dtype, @Cast("void*") long stream);
    public static native int bd_cpu_add_bias(@Cast("void*") long y, @Cast("const void*") long bias, long rows, long cols, int dtype, @Cast("void*") long stream);
    public static native int bd_cpu_activation(@Cast("const void*") long x, @Cast("void*") long y, long n, int act, int dtype, @Cast("void*") long stream);
    public static native int bd_cpu_glu(@Cast("const void*") long x, @Cast("void*") long y, long rows, long f, int glu, int dtype, @Cast("void*") long stream);
    public static native int bd_cpu_glu_clamped(@Cast("const void*") long x, @Cast("void*") long y, long rows, long f, float limit, int dtype, @Cast("void*") long stream);
    public static native int bd_cpu_rmsnorm(@Cast("const void*") long x, @Cast("const void*") long w, @Cast("void*") long y, long rows, long cols, float eps, int dtype, @Cast("void*") long stream);
    public static native int bd_cpu_layernorm(@Cast("const void*") long x, @Cast("const void*") long w, @Cast("const void*") long b, @Cast("void*") long y, long rows, long cols, float eps, int dtype, @Cast("void*") long stream);
    public static native int bd_cpu_add_rmsnorm(@Cast("const void*") long x, @Cast("const void*") long residual, @Cast("const void*") long w, @Cast("void*") long y, @Cast("void*") long sum, long rows, long cols, float eps, int dtype, @Cast("void*") long stream);
    public static native int bd_cpu_add_layernorm(@Cast("const void*") long x, @Cast("const void*") long residual, @Cast("const void*") long w, @Cast("const void*") long b, @Cast("void*") long y, @Cast("void*") long sum, long rows, long cols, float eps, int dtype, @Cast("void*") long stream);
    public static native int bd_cpu_softmax(@Cast("const void*") long x, @Cast("void*") long y, long rows, long cols, float invTemperature, int dtype, @Cast("void*") long stream);
    public static native int bd_cpu_embedding(@Cast("const void*") long table, @Cast("const void*") long ids, int idsDtype, @Cast("void*") long y, long n, long vocab, long dim, int dtype, @Cast("void*") long stream);
    public static native int bd_cpu_rope(@Cast("const void*") long x, @Cast("const void*") long positions, int posDtype, @Cast("void*") long y, long tokens, long heads, long headDim, long rotaryDim, float theta, int style, int dtype, @Cast("void*") long stream);
    public static native int bd_cpu_rope_freqs(@Cast("const void*") long x, @Cast("const void*") long positions, int posDtype, @Cast("void*") long y, long tokens, long heads, long headDim, long rotaryDim, @Cast("const float*") float[] invFreq, float mscale, int style, int dtype, @Cast("void*") long stream);
    public static native int bd_cpu_argmax(@Cast("const void*") long x, @Cast("int32_t*") long out, long rows, long cols, int dtype, @Cast("void*") long stream);
    public static native int bd_cpu_topk(@Cast("const void*") long x, @Cast("float*") long values, @Cast("int32_t*") long indices, long rows, long cols, long k, int dtype, @Cast("void*") long stream);
    public static native int bd_cpu_cross_entropy(@Cast("const void*") long logits, @Cast("const void*") long targets, int targetDtype, @Cast("float*") long loss, long rows, long cols, int dtype, @Cast("void*") long stream);

    // ---- MoE and Mixture of Depths (native/include/braindrip/moe.h; flat forms, identical for both backends)
    public static native long bd_cpu_moe_block_m(long tokens, long topK, long experts);
    public static native long bd_cpu_moe_max_rows(long tokens, long topK, long experts, long blockM);
    public static native int bd_cpu_moe_gemm_path(long tokens, long topK, long hidden, long ffn, int dtype);
    public static native long bd_cpu_moe_router_workspace_bytes(long tokens, long experts);
    public static native long bd_cpu_moe_workspace_bytes(long tokens, long hidden, long ffn, long experts, long topK, int dtype);
    public static native int bd_cpu_moe_supports(int dtype, long hidden, long ffn, long experts, long topK, int routing, long nGroups, long topkGroups, int act, int gateUpLayout);
    public static native int bd_cpu_moe_route(@Cast("const void*") long logits, int logitsDtype, @Cast("const float*") long bias, long tokens, long experts, long topK, int routing, int normTopk, long nGroups, long topkGroups, float scaling, float capacityFactor, @Cast("int32_t*") long topkIds, @Cast("float*") long topkWeights, @Cast("int32_t*") long tokensPerExpert, @Cast("float*") long stats, @Cast("void*") long workspace, long workspaceBytes, @Cast("void*") long stream);
    public static native int bd_cpu_moe_align(@Cast("const int32_t*") long topkIds, long tokens, long topK, long experts, long blockM, long maxRows, @Cast("int32_t*") long sortedTokenIds, @Cast("int32_t*") long expertIds, @Cast("int32_t*") long expertOffsets, @Cast("int32_t*") long numTokensPostPadded, @Cast("int32_t*") long slotPos, @Cast("int32_t*") long expertCounts, @Cast("void*") long stream);
    public static native int bd_cpu_moe_permute(@Cast("const void*") long x, @Cast("const int32_t*") long sortedTokenIds, @Cast("const int32_t*") long numTokensPostPadded, long tokens, long topK, long cols, long maxRows, @Cast("void*") long out, int dtype, @Cast("void*") long stream);
    public static native int bd_cpu_moe_unpermute(@Cast("const void*") long in, @Cast("const int32_t*") long slotPos, long tokens, long topK, long cols, long maxRows, @Cast("void*") long out, int dtype, @Cast("void*") long stream);
    public static native int bd_cpu_moe_gate_up(@Cast("const void*") long x, @Cast("const void*") long wGate, @Cast("const void*") long wUp, @Cast("const void*") long bGate, @Cast("const void*") long bUp, int gateUpLayout, int act, @Cast("const int32_t*") long sortedTokenIds, @Cast("const int32_t*") long expertIds, @Cast("const int32_t*") long numTokensPostPadded, long tokens, long hidden, long ffn, long experts, long topK, long blockM, long maxRows, @Cast("void*") long actOut, int dtype, @Cast("void*") long stream);
    public static native int bd_cpu_moe_down(@Cast("const void*") long actIn, @Cast("const void*") long wDown, @Cast("const void*") long bDown, @Cast("const float*") long topkWeights, @Cast("const int32_t*") long sortedTokenIds, @Cast("const int32_t*") long expertIds, @Cast("const int32_t*") long numTokensPostPadded, long tokens, long hidden, long ffn, long experts, long topK, long blockM, long maxRows, @Cast("void*") long ySlots, int dtype, @Cast("void*") long stream);
    public static native int bd_cpu_moe_gate_up_decode(@Cast("const void*") long x, @Cast("const void*") long wGate, @Cast("const void*") long wUp, @Cast("const void*") long bGate, @Cast("const void*") long bUp, int gateUpLayout, int act, @Cast("const int32_t*") long topkIds, long tokens, long hidden, long ffn, long experts, long topK, @Cast("void*") long actOut, int dtype, @Cast("void*") long stream);
    public static native int bd_cpu_moe_down_decode(@Cast("const void*") long actIn, @Cast("const void*") long wDown, @Cast("const void*") long bDown, @Cast("const float*") long topkWeights, @Cast("const int32_t*") long topkIds, long tokens, long hidden, long ffn, long experts, long topK, @Cast("void*") long ySlots, int dtype, @Cast("void*") long stream);
    public static native int bd_cpu_moe_combine(@Cast("const void*") long ySlots, @Cast("const int32_t*") long topkIds, @Cast("const void*") long sharedOut, @Cast("const float*") long sharedGateLogits, long tokens, long topK, long hidden, @Cast("void*") long y, int dtype, @Cast("void*") long stream);
    public static native int bd_cpu_moe_forward(@Cast("const void*") long logits, int logitsDtype, @Cast("const float*") long routerBias, @Cast("const void*") long x, long tokens, long hidden, long ffn, long experts, long topK, int routing, int normTopk, long nGroups, long topkGroups, float scaling, float capacityFactor, @Cast("const void*") long wGate, @Cast("const void*") long wUp, @Cast("const void*") long bGate, @Cast("const void*") long bUp, int gateUpLayout, int act, @Cast("const void*") long wDown, @Cast("const void*") long bDown, @Cast("const void*") long sharedOut, @Cast("const float*") long sharedGateLogits, @Cast("void*") long y, @Cast("int32_t*") long topkIds, @Cast("float*") long topkWeights, @Cast("int32_t*") long tokensPerExpert, @Cast("float*") long stats, int path, @Cast("void*") long workspace, long workspaceBytes, int dtype, @Cast("void*") long stream);
    // Mixture of Depths
    public static native long bd_cpu_mod_capacity(long tokens, float capacity);
    public static native int bd_cpu_mod_scores(@Cast("const void*") long x, @Cast("const void*") long router, long tokens, long hidden, @Cast("float*") long scores, int dtype, @Cast("void*") long stream);
    public static native int bd_cpu_mod_route(@Cast("const float*") long scores, long tokens, long k, @Cast("int32_t*") long selected, @Cast("float*") long weights, @Cast("float*") long threshold, @Cast("void*") long stream);
    public static native int bd_cpu_mod_route_threshold(@Cast("const float*") long scores, long tokens, float threshold, @Cast("int32_t*") long selected, @Cast("float*") long weights, @Cast("int32_t*") long count, @Cast("void*") long stream);
    public static native int bd_cpu_mod_gather(@Cast("const void*") long x, @Cast("const int32_t*") long selected, long k, long tokens, long hidden, @Cast("void*") long out, int dtype, @Cast("void*") long stream);
    public static native int bd_cpu_mod_scatter_add(@Cast("void*") long x, @Cast("const int32_t*") long selected, @Cast("const float*") long weights, @Cast("const void*") long blockOut, long k, long tokens, long hidden, int dtype, @Cast("void*") long stream);
    // ---- fused attention (native/include/braindrip/attention.h, flat-argument forms)
    public static native int bd_cpu_attention(@Cast("const void*") long q, @Cast("const void*") long k, @Cast("const void*") long v,
            @Cast("void*") long o, @Cast("float*") long lse, int dtype, long batch, long seqlenQ, long seqlenK, int headsQ,
            int headsKv, int headDim, int headDimV, @Cast("const int32_t*") long cuSeqlensQ, @Cast("const int32_t*") long cuSeqlensK,
            @Cast("const int32_t*") long sequsedK, float scale, float softcap, int causal, int windowLeft, int windowRight,
            int sinkTokens, @Cast("const float*") long sinks, @Cast("const int32_t*") long kRopePositions, float ropeTheta,
            int numSplits, @Cast("void*") long workspace, @Cast("void*") long stream);
    public static native int bd_cpu_attention_biased(@Cast("const void*") long q, @Cast("const void*") long k, @Cast("const void*") long v,
            @Cast("void*") long o, @Cast("float*") long lse, int dtype, long batch, long seqlenQ, long seqlenK, int headsQ,
            int headsKv, int headDim, int headDimV, @Cast("const int32_t*") long cuSeqlensQ, @Cast("const int32_t*") long cuSeqlensK,
            @Cast("const int32_t*") long sequsedK, float scale, float softcap, int causal, int windowLeft, int windowRight,
            int sinkTokens, @Cast("const float*") long sinks, @Cast("const int32_t*") long kRopePositions, float ropeTheta,
            @Cast("const float*") long relBias, int relNumBuckets, int relMaxDistance, int relBidirectional,
            @Cast("const float*") long alibiSlopes, int numSplits, @Cast("void*") long workspace, @Cast("void*") long stream);
    public static native int bd_cpu_attention_supports(int headDim, int headDimV, int dtype);
    public static native long bd_cpu_attention_workspace_bytes_flat(int dtype, long batch, long seqlenQ, long seqlenK,
            int headsQ, int headsKv, int headDim, int headDimV, int numSplits);
    // ---- block-sparse attention (attention.h, sparse flat form)
    public static native int bd_cpu_sparse_attention(@Cast("const void*") long q, @Cast("const void*") long k, @Cast("const void*") long v,
            @Cast("void*") long o, @Cast("float*") long lse, int dtype, long batch, long seqlenQ, long seqlenK, int headsQ,
            int headsKv, int headDim, int headDimV, @Cast("const int32_t*") long sequsedK, float scale, int causal, int blockSize,
            int blockHeads, long blockRows, @Cast("const int32_t*") long blockRowPtr, @Cast("const int32_t*") long blockColIdx,
            int numSplits, @Cast("void*") long workspace, @Cast("void*") long stream);
    public static native long bd_cpu_sparse_attention_workspace_bytes_flat(int dtype, long batch, long seqlenQ, long seqlenK,
            int headsQ, int headsKv, int headDim, int headDimV, int blockHeads, int numSplits);
    // ---- fused differential attention (native/include/braindrip/diff_attention.h)
    public static native int bd_cpu_diff_attention(@Cast("const void*") long q, @Cast("const void*") long k, @Cast("const void*") long v,
            @Cast("const void*") long subln, @Cast("void*") long o, int dtype, long batch, long seqlenQ, long seqlenK, int heads,
            int headsKv, int headDim, @Cast("const int32_t*") long sequsedK, float scale, int causal, int windowLeft, int windowRight,
            float lambda, float lambdaInit, float eps, @Cast("void*") long stream);
    public static native int bd_cpu_diff_attention_supports(int headDim, int dtype);
    // ---- token sampler (native/include/braindrip/sample.h, flat form)
    public static native int bd_cpu_sample_flat(@Cast("const void*") long logits, int dtype, long rows, long vocab, long rowStride,
            @Cast("const float*") long temperature, @Cast("const int32_t*") long topK, @Cast("const float*") long topP,
            @Cast("const float*") long minP, @Cast("const float*") long repetitionPenalty, @Cast("const float*") long presencePenalty,
            @Cast("const float*") long frequencyPenalty, @Cast("const uint64_t*") long seed, @Cast("const int64_t*") long step,
            @Cast("const int32_t*") long nLogprobs, @Cast("const int32_t*") long history, @Cast("const int64_t*") long historyOffsets,
            @Cast("const int32_t*") long historyPrompt, long historyLen, @Cast("int32_t*") long outIds, @Cast("float*") long outLogprobs,
            @Cast("int32_t*") long topIds, @Cast("float*") long topLogprobs, long maxLogprobs, @Cast("float*") long processed,
            @Cast("void*") long workspace, long workspaceBytes, int checkInputs, @Cast("void*") long stream);
    public static native long bd_cpu_sample_workspace_bytes(long rows, long vocab, long maxLogprobs);
}
