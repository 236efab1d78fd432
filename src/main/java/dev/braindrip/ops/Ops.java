package dev.braindrip.ops;

import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import dev.braindrip.tensor.Tensor;

/**
 * Every kernel once, on one device. Outputs are new tensors in the arena the Ops came from
 * ({@link #on(Arena)}); inputs must live on that arena's device. Floating inputs of one call
 * share a dtype (F32, F16 or BF16), which is also the output dtype unless noted; compute is F32.
 * A shape or dtype mismatch throws IllegalArgumentException naming the op and the mismatch; a
 * closed input throws IllegalStateException; a CUDA failure throws CudaException naming the kernel.
 * "Rows" are all dimensions but the last; "cols" the last.
 */
public interface Ops {
    /** The ops of {@code arena}'s device, made once per arena; outputs are allocated in that arena. */
    static Ops on(Arena arena) {
        return arena.extension(Ops.class, NativeOps::new);
    }

    Arena arena();

    default Device device() {
        return arena().device();
    }

    /** c = a · b (+ bias): a (..., K); b (K, N), or (N, K) with transB; bias (N) or null; c (..., N). */
    Tensor gemm(Tensor a, Tensor b, Tensor bias, boolean transB);

    default Tensor matmul(Tensor a, Tensor b) {
        return gemm(a, b, null, false);
    }

    /** Converts a float tensor to another float dtype (round to nearest even). */
    Tensor convert(Tensor x, DType dtype);

    Tensor add(Tensor a, Tensor b);

    Tensor mul(Tensor a, Tensor b);

    Tensor scale(Tensor x, float s);

    /** y = cap · tanh(x / cap), Gemma 2's logit softcap (cap finite and > 0). */
    Tensor softcap(Tensor x, float cap);

    Tensor activation(Tensor x, Activation fn);

    /** x (..., 2F): gate = first F columns, up = last F; y (..., F) = act(gate) * up. */
    Tensor glu(Tensor x, Glu fn);

    /**
     * Phi-3-small's clamped GeGELU over the same layout: x (..., 2F), g = min(gate, limit),
     * u = clamp(up, −limit, limit) with ±∞ passed unclamped and NaN kept; y (..., F) =
     * g·σ(1.702 g)·(u + 1). limit > 0; {@code Float.POSITIVE_INFINITY} means no clamp.
     */
    Tensor gluClamped(Tensor x, float limit);

    /** y = x + bias on every row: x (..., N), bias (N) of x's dtype. */
    Tensor addBias(Tensor x, Tensor bias);

    /** x (..., D), weight (D). */
    Tensor rmsnorm(Tensor x, Tensor weight, float eps);

    /** x (..., D), weight (D), bias (D) or null. */
    Tensor layernorm(Tensor x, Tensor weight, Tensor bias, float eps);

    /** sum = x + residual; normed = rmsnorm(sum). */
    NormResult addRmsnorm(Tensor x, Tensor residual, Tensor weight, float eps);

    /** sum = x + residual; normed = layernorm(sum). */
    NormResult addLayernorm(Tensor x, Tensor residual, Tensor weight, Tensor bias, float eps);

    /** Row softmax of x / temperature (temperature > 0). */
    Tensor softmax(Tensor x, float temperature);

    /** table (V, D), ids (...) I32 or I64 → (..., D). */
    Tensor embedding(Tensor table, Tensor ids);

    /** x (..., S, H, D) with positions (... S) I32 or I64 (one per token). */
    Tensor rope(Tensor x, Tensor positions, RopeSpec spec);

    /**
     * Scaled RoPE (linear, Llama 3, YaRN): as {@link #rope} with angle = pos · invFreq[i] over the
     * first 2·invFreq.length channels and cos, sin multiplied by mscale (YaRN's attention factor).
     */
    Tensor ropeFreqs(Tensor x, Tensor positions, RopeSpec.Style style, float[] invFreq, float mscale);

    /** Row argmax → I32 (rows...). */
    Tensor argmax(Tensor x);

    /** Row top-k (1 ≤ k ≤ cols). */
    TopK topk(Tensor x, int k);

    /** Per-row cross-entropy: logits (..., V), targets (...) I32/I64 → loss F32 (...). Negative targets are ignored (loss 0). */
    Tensor crossEntropy(Tensor logits, Tensor targets);

    /**
     * The next token of every row of logits (rows, V), each row under its own parameters and history
     * ({@link SampleBatch}; semantics in sample.h: penalties, temperature, top-k, top-p, min-p, then a
     * Philox exponential-race draw that depends only on the row's own logits, seed and step). The
     * logits stay on the device; only the ids and the requested logprobs come back ({@link SampleResult}).
     * A history id outside [0, V) throws IllegalArgumentException naming the row and position.
     */
    default SampleResult sample(Tensor logits, SampleBatch batch) {
        return sample(logits, batch, false);
    }

    /** As {@link #sample(Tensor, SampleBatch)}; with keepProcessed the result also holds the processed logits F32 (rows, V). */
    SampleResult sample(Tensor logits, SampleBatch batch, boolean keepProcessed);

    /**
     * Fused differential attention (Differential Transformer; semantics in {@link DiffAttentionSpec},
     * CLI.md and diff_attention.h): q (B, Sq, 2H, D), k (B, Skv, 2Hkv, D), v (B, Skv, Hkv, 2D) and
     * subln (2D) of one float dtype, Hkv dividing H. For output head h the maps of query heads 2h and
     * 2h + 1 (key heads 2h / r and (2h + 1) / r, r = H / Hkv) are combined as A1 − λ·A2 over V head h / r,
     * then RMSNorm over 2D × subln × (1 − λinit), in one pass over the keys. Returns o (B, Sq, H, 2D)
     * in that dtype. Throws UnsupportedOperationException when the backend does not implement the
     * head dim or dtype (the message names the limit).
     */
    Tensor diffAttention(Tensor q, Tensor k, Tensor v, Tensor subln, DiffAttentionSpec spec);

    /**
     * Differential attention over a KV cache: q (B, Sq, 2H, D) over kCache (B, capacity, 2Hkv, D) and
     * vCache (B, capacity, Hkv, 2D), of which sequence b uses the first seqUsedK[b] slots (I32 (B));
     * masks align bottom-right to that length. Returns o (B, Sq, H, 2D).
     */
    Tensor diffAttentionKvCache(Tensor q, Tensor kCache, Tensor vCache, Tensor seqUsedK, Tensor subln, DiffAttentionSpec spec);

    /**
     * Fused attention (FlashAttention-2 style; semantics in {@link AttentionSpec} and CLI.md):
     * q (B, Sq, Hq, D), k (B, Skv, Hkv, D), v (B, Skv, Hkv, Dv) of one float dtype, Hkv dividing Hq
     * (query head h reads KV head h / (Hq / Hkv)). Returns o (B, Sq, Hq, Dv) in that dtype and
     * lse (B, Hq, Sq) F32. Throws UnsupportedOperationException when the backend does not implement
     * the head dims or dtype (the message names the limit).
     */
    default AttentionResult attention(Tensor q, Tensor k, Tensor v, AttentionSpec spec) {
        return attention(q, k, v, null, spec);
    }

    /** As {@link #attention(Tensor, Tensor, Tensor, AttentionSpec)} with learned sink logits (Hq) F32 (gpt-oss), or null. */
    AttentionResult attention(Tensor q, Tensor k, Tensor v, Tensor sinks, AttentionSpec spec);

    /**
     * Variable-length batch: packed q (totalQ, Hq, D), k (totalK, Hkv, D), v (totalK, Hkv, Dv);
     * sequence b owns query rows [cuSeqlensQ[b], cuSeqlensQ[b + 1]) and key rows likewise
     * (I32 (B + 1) prefix sums, copied to the host to be checked). Returns o (totalQ, Hq, Dv) and
     * lse (totalQ, Hq). sinks may be null.
     */
    AttentionResult attentionVarlen(Tensor q, Tensor k, Tensor v, Tensor cuSeqlensQ, Tensor cuSeqlensK, Tensor sinks,
                                    AttentionSpec spec);

    /**
     * Attention over a KV cache: q (B, Sq, Hq, D) over kCache (B, capacity, Hkv, D) and
     * vCache (B, capacity, Hkv, Dv), of which sequence b uses the first seqUsedK[b] slots (I32 (B));
     * masks align bottom-right to that length. keyRope (or null) makes the kernel rotate each key
     * slot to a given position as it loads it. sinks may be null. Returns o (B, Sq, Hq, Dv), lse (B, Hq, Sq).
     */
    AttentionResult attentionKvCache(Tensor q, Tensor kCache, Tensor vCache, Tensor seqUsedK, KeyRope keyRope, Tensor sinks,
                                     AttentionSpec spec);

    /**
     * {@link #attention(Tensor, Tensor, Tensor, AttentionSpec)} with position biases added to the
     * scores in the kernel (T5's relative position bias, ALiBi: {@link PositionBias}).
     */
    AttentionResult attentionBiased(Tensor q, Tensor k, Tensor v, PositionBias bias, AttentionSpec spec);

    /**
     * {@link #attentionVarlen} with position biases, from each sequence's own positions (query i and
     * key j of sequence b, bottom-right aligned within b); no learned sinks.
     */
    AttentionResult attentionVarlenBiased(Tensor q, Tensor k, Tensor v, Tensor cuSeqlensQ, Tensor cuSeqlensK, PositionBias bias,
                                          AttentionSpec spec);

    /** {@link #attentionKvCache} with position biases, applied by absolute position (decode). */
    AttentionResult attentionKvCacheBiased(Tensor q, Tensor kCache, Tensor vCache, Tensor seqUsedK, PositionBias bias,
                                           AttentionSpec spec);

    /**
     * Block-sparse attention (CLI.md, "sparse-attention"): q (B, Sq, Hq, D), k (B, Skv, Hkv, D),
     * v (B, Skv, Hkv, Dv) as {@link #attention}; key j is visible to query i when the layout row of
     * i's query block (of the bottom-right aligned position i + Skv − Sq) lists j's key block, and,
     * with a causal spec, j ≤ i + Skv − Sq. The layout has 1 or Hq heads and at least ⌈Skv / block⌉
     * query blocks. The spec gives causal, scale and numSplits; windows, sink tokens and softcap are
     * refused (list local and sink blocks in the layout). Returns o (B, Sq, Hq, Dv), lse (B, Hq, Sq);
     * a query that sees no key gets zeros and lse −inf.
     */
    AttentionResult sparseAttention(Tensor q, Tensor k, Tensor v, BlockSparseLayout layout, AttentionSpec spec);

    /**
     * {@link #sparseAttention} over a KV cache (decode): kCache (B, capacity, Hkv, D), vCache
     * (B, capacity, Hkv, Dv) of which sequence b uses the first seqUsedK[b] slots (I32 (B)); the
     * alignment (and so the layout row) uses that length. The layout covers ⌈capacity / block⌉ rows.
     */
    AttentionResult sparseAttentionKvCache(Tensor q, Tensor kCache, Tensor vCache, Tensor seqUsedK, BlockSparseLayout layout,
                                           AttentionSpec spec);

    /** Waits for the device to finish the work queued so far. */
    void synchronize();
}
