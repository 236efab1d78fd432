package dev.braindrip.jni;

/**
 * The kernel surface shared by both backends (native/include/braindrip/ops.h): the same
 * arguments, the same contract. {@link #CPU} calls libbraindrip_cpu, {@link #cuda()} calls
 * libbraindrip_cuda. Every method returns a bd_status code; {@link #lastError()} says why.
 */
public interface Kernels {
    Kernels CPU = new CpuKernels();

    /** The CUDA kernels; loads libbraindrip_cuda on first use. */
    static Kernels cuda() {
        return CudaKernels.INSTANCE;
    }

    boolean isCuda();

    String lastError();

    int convert(long x, int srcDtype, long y, int dstDtype, long n, long stream);

    int add(long a, long b, long y, long n, int dtype, long stream);

    int mul(long a, long b, long y, long n, int dtype, long stream);

    int scale(long x, long y, long n, float s, int dtype, long stream);

    /** y = cap · tanh(x / cap); cap finite and > 0; in place allowed. */
    int softcap(long x, long y, long n, float cap, int dtype, long stream);

    int addBias(long y, long bias, long rows, long cols, int dtype, long stream);

    int activation(long x, long y, long n, int act, int dtype, long stream);

    int glu(long x, long y, long rows, long f, int glu, int dtype, long stream);

    /** Phi-3-small's clamped GeGELU over (rows, 2F) gate | up: limit > 0 (+inf: no clamp); see ops.h. */
    int gluClamped(long x, long y, long rows, long f, float limit, int dtype, long stream);

    int rmsnorm(long x, long w, long y, long rows, long cols, float eps, int dtype, long stream);

    int layernorm(long x, long w, long b, long y, long rows, long cols, float eps, int dtype, long stream);

    int addRmsnorm(long x, long residual, long w, long y, long sum, long rows, long cols, float eps, int dtype, long stream);

    int addLayernorm(long x, long residual, long w, long b, long y, long sum, long rows, long cols, float eps, int dtype, long stream);

    int softmax(long x, long y, long rows, long cols, float invTemperature, int dtype, long stream);

    int embedding(long table, long ids, int idsDtype, long y, long n, long vocab, long dim, int dtype, long stream);

    int rope(long x, long positions, int posDtype, long y, long tokens, long heads, long headDim, long rotaryDim, float theta, int style, int dtype, long stream);

    /** RoPE with a host table of rotaryDim/2 inverse frequencies and a factor on cos and sin. */
    int ropeFreqs(long x, long positions, int posDtype, long y, long tokens, long heads, long headDim, long rotaryDim, float[] invFreq, float mscale, int style, int dtype, long stream);

    int argmax(long x, long out, long rows, long cols, int dtype, long stream);

    int topk(long x, long values, long indices, long rows, long cols, long k, int dtype, long stream);

    int crossEntropy(long logits, long targets, int targetDtype, long loss, long rows, long cols, int dtype, long stream);

    // ---- fused attention (native/include/braindrip/attention.h): flat form; 0 for absent pointers

    /**
     * bd_*_attention_biased: dense (B, S, H, D) tensors, or packed (total, H, D) ones with cuSeqlensQ/K;
     * relBias (Hq, relNumBuckets) F32 and alibiSlopes (Hq) F32 are the optional position biases (0: off).
     */
    int attention(long q, long k, long v, long o, long lse, int dtype, long batch, long seqlenQ, long seqlenK, int headsQ,
                  int headsKv, int headDim, int headDimV, long cuSeqlensQ, long cuSeqlensK, long sequsedK, float scale,
                  float softcap, int causal, int windowLeft, int windowRight, int sinkTokens, long sinks, long kRopePositions,
                  float ropeTheta, long relBias, int relNumBuckets, int relMaxDistance, int relBidirectional, long alibiSlopes,
                  int numSplits, long workspace, long stream);

    /** 0 when the backend implements (headDim, headDimV, dtype), else BD_ERR_UNSUPPORTED naming the limit. */
    int attentionSupports(int headDim, int headDimV, int dtype);

    /** Split-KV workspace bytes a call needs (0: no split; −1: invalid arguments, message set). */
    long attentionWorkspaceBytes(int dtype, long batch, long seqlenQ, long seqlenK, int headsQ, int headsKv, int headDim,
                                 int headDimV, int numSplits);

    // ---- block-sparse attention (attention.h, sparse flat form): BSR layout over blocks of blockSize tokens

    /** bd_*_sparse_attention: dense tensors, optional seqused_k, layout (blockHeads, blockRows) rows of key blocks. */
    int sparseAttention(long q, long k, long v, long o, long lse, int dtype, long batch, long seqlenQ, long seqlenK, int headsQ,
                        int headsKv, int headDim, int headDimV, long sequsedK, float scale, int causal, int blockSize, int blockHeads,
                        long blockRows, long blockRowPtr, long blockColIdx, int numSplits, long workspace, long stream);

    /** Split-KV workspace bytes of a sparse call (0: no split; −1: invalid arguments, message set). */
    long sparseAttentionWorkspaceBytes(int dtype, long batch, long seqlenQ, long seqlenK, int headsQ, int headsKv, int headDim,
                                       int headDimV, int blockHeads, int numSplits);

    // ---- fused differential attention (diff_attention.h)

    /** bd_*_diff_attention: q (B,Sq,2H,D), k (B,Skv,2Hkv,D), v (B,Skv,Hkv,2D), subln (2D) → o (B,Sq,H,2D). */
    int diffAttention(long q, long k, long v, long subln, long o, int dtype, long batch, long seqlenQ, long seqlenK, int heads,
                      int headsKv, int headDim, long sequsedK, float scale, int causal, int windowLeft, int windowRight, float lambda,
                      float lambdaInit, float eps, long stream);

    /** 0 when the backend implements differential attention at head dim D in dtype, else BD_ERR_UNSUPPORTED. */
    int diffAttentionSupports(int headDim, int dtype);

    // ---- token sampler (sample.h): flat form; 0 for absent pointers

    /**
     * bd_*_sample: the next id of every row of logits (rows, vocab) at rowStride elements, each row under
     * its own parameters (per-row arrays of rows entries) and token history; see sample.h.
     */
    int sample(long logits, int dtype, long rows, long vocab, long rowStride, long temperature, long topK, long topP, long minP,
               long repetitionPenalty, long presencePenalty, long frequencyPenalty, long seed, long step, long nLogprobs, long history,
               long historyOffsets, long historyPrompt, long historyLen, long outIds, long outLogprobs, long topIds, long topLogprobs,
               long maxLogprobs, long processed, long workspace, long workspaceBytes, int checkInputs, long stream);

    /** Workspace bytes of a sample call (−1: invalid sizes, message set). */
    long sampleWorkspaceBytes(long rows, long vocab, long maxLogprobs);
}
