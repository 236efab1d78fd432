package dev.braindrip.jni;

/** CUDA implementation of {@link Kernels}: forwards to {@link NativeCuda}. */
final class CudaKernels implements Kernels {
    static final CudaKernels INSTANCE = new CudaKernels();

    private CudaKernels() {
        NativeCuda.load();
    }

    @Override
    public boolean isCuda() {
        return true;
    }

    @Override
    public String lastError() {
        return NativeCuda.bd_cuda_last_error();
    }

    @Override
    public int convert(long x, int srcDtype, long y, int dstDtype, long n, long stream) {
        return NativeCuda.bd_cuda_convert(x, srcDtype, y, dstDtype, n, stream);
    }

    @Override
    public int add(long a, long b, long y, long n, int dtype, long stream) {
        return NativeCuda.bd_cuda_add(a, b, y, n, dtype, stream);
    }

    @Override
    public int mul(long a, long b, long y, long n, int dtype, long stream) {
        return NativeCuda.bd_cuda_mul(a, b, y, n, dtype, stream);
    }

    @Override
    public int scale(long x, long y, long n, float s, int dtype, long stream) {
        return NativeCuda.bd_cuda_scale(x, y, n, s, dtype, stream);
    }

    @Override
    public int softcap(long x, long y, long n, float cap, int dtype, long stream) {
        return NativeCuda.bd_cuda_softcap(x, y, n, cap, dtype, stream);
    }

    @Override
    public int addBias(long y, long bias, long rows, long cols, int dtype, long stream) {
        return NativeCuda.bd_cuda_add_bias(y, bias, rows, cols, dtype, stream);
    }

    @Override
    public int activation(long x, long y, long n, int act, int dtype, long stream) {
        return NativeCuda.bd_cuda_activation(x, y, n, act, dtype, stream);
    }

    @Override
    public int glu(long x, long y, long rows, long f, int glu, int dtype, long stream) {
        return NativeCuda.bd_cuda_glu(x, y, rows, f, glu, dtype, stream);
    }

    @Override
    public int gluClamped(long x, long y, long rows, long f, float limit, int dtype, long stream) {
        return NativeCuda.bd_cuda_glu_clamped(x, y, rows, f, limit, dtype, stream);
    }

    @Override
    public int rmsnorm(long x, long w, long y, long rows, long cols, float eps, int dtype, long stream) {
        return NativeCuda.bd_cuda_rmsnorm(x, w, y, rows, cols, eps, dtype, stream);
    }

    @Override
    public int layernorm(long x, long w, long b, long y, long rows, long cols, float eps, int dtype, long stream) {
        return NativeCuda.bd_cuda_layernorm(x, w, b, y, rows, cols, eps, dtype, stream);
    }

    @Override
    public int addRmsnorm(long x, long residual, long w, long y, long sum, long rows, long cols, float eps, int dtype, long stream) {
        return NativeCuda.bd_cuda_add_rmsnorm(x, residual, w, y, sum, rows, cols, eps, dtype, stream);
    }

    @Override
    public int addLayernorm(long x, long residual, long w, long b, long y, long sum, long rows, long cols, float eps, int dtype, long stream) {
        return NativeCuda.bd_cuda_add_layernorm(x, residual, w, b, y, sum, rows, cols, eps, dtype, stream);
    }

    @Override
    public int softmax(long x, long y, long rows, long cols, float invTemperature, int dtype, long stream) {
        return NativeCuda.bd_cuda_softmax(x, y, rows, cols, invTemperature, dtype, stream);
    }

    @Override
    public int embedding(long table, long ids, int idsDtype, long y, long n, long vocab, long dim, int dtype, long stream) {
        return NativeCuda.bd_cuda_embedding(table, ids, idsDtype, y, n, vocab, dim, dtype, stream);
    }

    @Override
    public int rope(long x, long positions, int posDtype, long y, long tokens, long heads, long headDim, long rotaryDim, float theta, int style, int dtype, long stream) {
        return NativeCuda.bd_cuda_rope(x, positions, posDtype, y, tokens, heads, headDim, rotaryDim, theta, style, dtype, stream);
    }

    @Override
    public int ropeFreqs(long x, long positions, int posDtype, long y, long tokens, long heads, long headDim, long rotaryDim, float[] invFreq, float mscale, int style, int dtype, long stream) {
        return NativeCuda.bd_cuda_rope_freqs(x, positions, posDtype, y, tokens, heads, headDim, rotaryDim, invFreq, mscale, style, dtype, stream);
    }

    @Override
    public int argmax(long x, long out, long rows, long cols, int dtype, long stream) {
        return NativeCuda.bd_cuda_argmax(x, out, rows, cols, dtype, stream);
    }

    @Override
    public int topk(long x, long values, long indices, long rows, long cols, long k, int dtype, long stream) {
        return NativeCuda.bd_cuda_topk(x, values, indices, rows, cols, k, dtype, stream);
    }

    @Override
    public int crossEntropy(long logits, long targets, int targetDtype, long loss, long rows, long cols, int dtype, long stream) {
        return NativeCuda.bd_cuda_cross_entropy(logits, targets, targetDtype, loss, rows, cols, dtype, stream);
    }

    @Override
    public int attention(long q, long k, long v, long o, long lse, int dtype, long batch, long seqlenQ, long seqlenK, int headsQ,
                         int headsKv, int headDim, int headDimV, long cuSeqlensQ, long cuSeqlensK, long sequsedK, float scale,
                         float softcap, int causal, int windowLeft, int windowRight, int sinkTokens, long sinks, long kRopePositions,
                         float ropeTheta, long relBias, int relNumBuckets, int relMaxDistance, int relBidirectional,
                         long alibiSlopes, int numSplits, long workspace, long stream) {
        return NativeCuda.bd_cuda_attention_biased(q, k, v, o, lse, dtype, batch, seqlenQ, seqlenK, headsQ, headsKv, headDim, headDimV, cuSeqlensQ,
                cuSeqlensK, sequsedK, scale, softcap, causal, windowLeft, windowRight, sinkTokens, sinks, kRopePositions, ropeTheta,
                relBias, relNumBuckets, relMaxDistance, relBidirectional, alibiSlopes,
                numSplits, workspace, stream);
    }

    @Override
    public int attentionSupports(int headDim, int headDimV, int dtype) {
        return NativeCuda.bd_cuda_attention_supports(headDim, headDimV, dtype);
    }

    @Override
    public long attentionWorkspaceBytes(int dtype, long batch, long seqlenQ, long seqlenK, int headsQ, int headsKv, int headDim,
                                        int headDimV, int numSplits) {
        return NativeCuda.bd_cuda_attention_workspace_bytes_flat(dtype, batch, seqlenQ, seqlenK, headsQ, headsKv, headDim, headDimV,
                numSplits);
    }

    @Override
    public int sparseAttention(long q, long k, long v, long o, long lse, int dtype, long batch, long seqlenQ, long seqlenK,
                               int headsQ, int headsKv, int headDim, int headDimV, long sequsedK, float scale, int causal,
                               int blockSize, int blockHeads, long blockRows, long blockRowPtr, long blockColIdx, int numSplits,
                               long workspace, long stream) {
        return NativeCuda.bd_cuda_sparse_attention(q, k, v, o, lse, dtype, batch, seqlenQ, seqlenK, headsQ, headsKv, headDim, headDimV,
                sequsedK, scale, causal, blockSize, blockHeads, blockRows, blockRowPtr, blockColIdx, numSplits, workspace, stream);
    }

    @Override
    public long sparseAttentionWorkspaceBytes(int dtype, long batch, long seqlenQ, long seqlenK, int headsQ, int headsKv,
                                              int headDim, int headDimV, int blockHeads, int numSplits) {
        return NativeCuda.bd_cuda_sparse_attention_workspace_bytes_flat(dtype, batch, seqlenQ, seqlenK, headsQ, headsKv, headDim,
                headDimV, blockHeads, numSplits);
    }

    @Override
    public int diffAttention(long q, long k, long v, long subln, long o, int dtype, long batch, long seqlenQ, long seqlenK,
                             int heads, int headsKv, int headDim, long sequsedK, float scale, int causal, int windowLeft,
                             int windowRight, float lambda, float lambdaInit, float eps, long stream) {
        return NativeCuda.bd_cuda_diff_attention(q, k, v, subln, o, dtype, batch, seqlenQ, seqlenK, heads, headsKv, headDim, sequsedK,
                scale, causal, windowLeft, windowRight, lambda, lambdaInit, eps, stream);
    }

    @Override
    public int diffAttentionSupports(int headDim, int dtype) {
        return NativeCuda.bd_cuda_diff_attention_supports(headDim, dtype);
    }

    @Override
    public int sample(long logits, int dtype, long rows, long vocab, long rowStride, long temperature, long topK, long topP, long minP,
                      long repetitionPenalty, long presencePenalty, long frequencyPenalty, long seed, long step, long nLogprobs,
                      long history, long historyOffsets, long historyPrompt, long historyLen, long outIds, long outLogprobs, long topIds,
                      long topLogprobs, long maxLogprobs, long processed, long workspace, long workspaceBytes, int checkInputs,
                      long stream) {
        return NativeCuda.bd_cuda_sample_flat(logits, dtype, rows, vocab, rowStride, temperature, topK, topP, minP, repetitionPenalty,
                presencePenalty, frequencyPenalty, seed, step, nLogprobs, history, historyOffsets, historyPrompt, historyLen, outIds,
                outLogprobs, topIds, topLogprobs, maxLogprobs, processed, workspace, workspaceBytes, checkInputs, stream);
    }

    @Override
    public long sampleWorkspaceBytes(long rows, long vocab, long maxLogprobs) {
        return NativeCuda.bd_cuda_sample_workspace_bytes(rows, vocab, maxLogprobs);
    }
}
