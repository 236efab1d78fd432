package dev.braindrip.ops;

import java.util.Locale;
import java.util.Objects;

/**
 * What a fused attention call computes besides its tensors: the mask and the score transform
 * (CLI.md, "attention"). Immutable; each setter returns a new spec and checks its own rule at once,
 * with a message that names the field:
 *
 * <pre>{@code
 * AttentionSpec.causal().windowLeft(4095).softcap(50f)   // Gemma-2 style local layer
 * AttentionSpec.causal().slidingWindow(4096)              // HF sliding_window = 4096, the same mask
 * AttentionSpec.full()                                    // encoder / cross-attention
 * AttentionSpec.causal().sinkTokens(4).windowLeft(1019)   // StreamingLLM mask over a prefill
 * }</pre>
 *
 * Semantics, with query i of Sq and key j of Skv aligned bottom-right (i' = i + Skv − Sq):
 * <ul>
 *   <li>causal: j ≤ i' (the right edge of the window is the diagonal);
 *   <li>window: j ∈ [i' − left, i' + right], −1 meaning unbounded on that side;
 *   <li>sink tokens: keys j &lt; n are visible in addition to the window, still under the right edge;
 *   <li>softcap c &gt; 0: each scaled score x becomes c·tanh(x / c) before masking;
 *   <li>scale: the softmax scale, 1/√D unless set;
 *   <li>numSplits: split-KV ("flash-decoding") chunks, 0 = the backend's choice, 1 = none.
 * </ul>
 * Learned per-head sinks (gpt-oss) are a tensor, so they are an argument of the op, not part of the spec.
 */
public final class AttentionSpec {
    /** Upper bound of {@link #numSplits(int)} (the kernels' kMaxSplits). */
    public static final int MAX_SPLITS = 128;

    private final boolean causal;
    private final int windowLeft;
    private final int windowRight;
    private final float softcap;
    private final float scale; // NaN = 1/sqrt(D) at call time
    private final int sinkTokens;
    private final int numSplits;

    private AttentionSpec(boolean causal, int windowLeft, int windowRight, float softcap, float scale, int sinkTokens,
                          int numSplits) {
        this.causal = causal;
        this.windowLeft = windowLeft;
        this.windowRight = windowRight;
        this.softcap = softcap;
        this.scale = scale;
        this.sinkTokens = sinkTokens;
        this.numSplits = numSplits;
    }

    /** Causal (bottom-right aligned), no window, default scale, no softcap. */
    public static AttentionSpec causal() {
        return new AttentionSpec(true, -1, -1, 0f, Float.NaN, 0, 0);
    }

    /** Every query sees every key (unless a window is set later). */
    public static AttentionSpec full() {
        return new AttentionSpec(false, -1, -1, 0f, Float.NaN, 0, 0);
    }

    // ---- setters (each returns a new spec)

    /** Keys visible before the diagonal: −1 unbounded, else ≥ 0 (HF sliding_window W is windowLeft W − 1). */
    public AttentionSpec windowLeft(int left) {
        if (left < -1) throw new IllegalArgumentException("attention spec: windowLeft (" + left + ") must be >= -1 (-1 = unbounded)");
        return new AttentionSpec(causal, left, windowRight, softcap, scale, sinkTokens, numSplits);
    }

    /** Keys visible after the diagonal: −1 unbounded, else ≥ 0; under causal only −1 or 0 (the diagonal is the edge). */
    public AttentionSpec windowRight(int right) {
        if (right < -1) throw new IllegalArgumentException("attention spec: windowRight (" + right + ") must be >= -1 (-1 = unbounded)");
        if (causal && right > 0) {
            throw new IllegalArgumentException("attention spec: windowRight (" + right
                    + ") must be -1 or 0 under causal (causal fixes the right edge at the diagonal)");
        }
        return new AttentionSpec(causal, windowLeft, right, softcap, scale, sinkTokens, numSplits);
    }

    /** Both window edges at once. */
    public AttentionSpec window(int left, int right) {
        return windowLeft(left).windowRight(right);
    }

    /**
     * The Hugging Face {@code sliding_window = W} of Mistral, Qwen2, Gemma 2, gpt-oss: query i sees
     * i − W &lt; j ≤ i, i.e. {@code windowLeft(W − 1)} (MODELS.md).
     */
    public AttentionSpec slidingWindow(int w) {
        if (w < 1) throw new IllegalArgumentException("attention spec: slidingWindow (" + w + ") must be >= 1 (it counts the query itself)");
        return windowLeft(w - 1);
    }

    /** Logit soft-capping c·tanh(x / c) before masking; 0 turns it off. */
    public AttentionSpec softcap(float c) {
        if (!(c >= 0) || Float.isInfinite(c)) {
            throw new IllegalArgumentException("attention spec: softcap (" + c + ") must be finite and >= 0 (0 = off)");
        }
        return new AttentionSpec(causal, windowLeft, windowRight, c, scale, sinkTokens, numSplits);
    }

    /** Softmax scale (default 1/√D of the call's head dim). */
    public AttentionSpec scale(float s) {
        if (!(s > 0) || Float.isInfinite(s)) throw new IllegalArgumentException("attention spec: scale (" + s + ") must be finite and > 0");
        return new AttentionSpec(causal, windowLeft, windowRight, softcap, s, sinkTokens, numSplits);
    }

    /** The first n keys are always visible (StreamingLLM attention sinks), in addition to the window. */
    public AttentionSpec sinkTokens(int n) {
        if (n < 0) throw new IllegalArgumentException("attention spec: sinkTokens (" + n + ") must be >= 0");
        return new AttentionSpec(causal, windowLeft, windowRight, softcap, scale, n, numSplits);
    }

    /** Split-KV chunks: 0 = backend's choice (CPU: 1; CUDA: occupancy heuristic), 1 = none, up to {@value #MAX_SPLITS}. */
    public AttentionSpec numSplits(int n) {
        if (n < 0 || n > MAX_SPLITS) {
            throw new IllegalArgumentException("attention spec: numSplits (" + n + ") must be in [0, " + MAX_SPLITS + "] (0 = auto)");
        }
        return new AttentionSpec(causal, windowLeft, windowRight, softcap, scale, sinkTokens, n);
    }

    // ---- getters

    public boolean isCausal() {
        return causal;
    }

    public int windowLeft() {
        return windowLeft;
    }

    /** As given; the kernels treat it as 0 under causal. */
    public int windowRight() {
        return windowRight;
    }

    public float softcap() {
        return softcap;
    }

    public int sinkTokens() {
        return sinkTokens;
    }

    public int numSplits() {
        return numSplits;
    }

    /** Whether the scale was left at its default 1/√D. */
    public boolean hasDefaultScale() {
        return Float.isNaN(scale);
    }

    /** The softmax scale for a head dim: the one set, or 1/√D computed in float as the C ABI does. */
    public float scaleFor(int headDim) {
        if (!Float.isNaN(scale)) return scale;
        if (headDim < 1) throw new IllegalArgumentException("attention spec: head dim (" + headDim + ") must be >= 1");
        return 1f / (float) Math.sqrt(headDim);
    }

    /** Whether any key restriction besides causality is set (window edges or sink tokens). */
    public boolean hasWindow() {
        return windowLeft >= 0 || (windowRight >= 0 && !causal) || sinkTokens > 0;
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof AttentionSpec s)) return false;
        return causal == s.causal && windowLeft == s.windowLeft && windowRight == s.windowRight
                && Float.compare(softcap, s.softcap) == 0 && Float.compare(scale, s.scale) == 0 && sinkTokens == s.sinkTokens
                && numSplits == s.numSplits;
    }

    @Override
    public int hashCode() {
        return Objects.hash(causal, windowLeft, windowRight, softcap, scale, sinkTokens, numSplits);
    }

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder(causal ? "causal" : "full");
        if (windowLeft >= 0 || windowRight >= 0) b.append(" window(").append(windowLeft).append(", ").append(windowRight).append(')');
        if (sinkTokens > 0) b.append(" sinkTokens ").append(sinkTokens);
        if (softcap > 0) b.append(String.format(Locale.ROOT, " softcap %g", softcap));
        if (!Float.isNaN(scale)) b.append(String.format(Locale.ROOT, " scale %g", scale));
        if (numSplits != 0) b.append(" splits ").append(numSplits);
        return b.toString();
    }
}
