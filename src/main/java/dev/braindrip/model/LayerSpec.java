package dev.braindrip.model;

/**
 * One layer of a {@link ModelConfig}: its attention kind and its feed-forward kind.
 *
 * @param attention    FULL (causal in a decoder, bidirectional in an encoder), SLIDING (window W:
 *                     query i sees keys i − W < j ≤ i, HF's sliding_window), SPARSE (block-sparse
 *                     layout, see {@code sparse}), DIFFERENTIAL
 * @param window       W for SLIDING, else 0
 * @param sinkTokens   StreamingLLM sink tokens always visible besides the window (0 = none)
 * @param learnedSinks per-head learned sink logits join the softmax denominator (gpt-oss)
 * @param sparse       the block-sparse pattern for SPARSE layers (CLI.md's --pattern syntax, e.g.
 *                     "local:4,vstride:8") and its block size, else null
 * @param ffn          DENSE (plain or gated, by the config) or MOE
 * @param modCapacity  Mixture-of-Depths capacity (fraction of tokens through the block), 0 = off
 */
public record LayerSpec(Attention attention, int window, int sinkTokens, boolean learnedSinks, SparsePattern sparse, Ffn ffn,
                        double modCapacity) {
    public enum Attention { FULL, SLIDING, SPARSE, DIFFERENTIAL }

    public enum Ffn { DENSE, MOE }

    /** A block-sparse layout by pattern: {@code pattern} as CLI.md's --pattern, blocks of {@code blockSize} tokens. */
    public record SparsePattern(String pattern, int blockSize) {
        public SparsePattern {
            ModelConfig.require(pattern != null && !pattern.isBlank(), "sparse.pattern must be given");
            ModelConfig.require(blockSize > 0 && blockSize % 64 == 0, "sparse.blockSize (" + blockSize + ") must be a positive multiple of 64");
        }
    }

    public LayerSpec {
        ModelConfig.require(attention != null, "layer attention must be given");
        ModelConfig.require(ffn != null, "layer ffn must be given");
        ModelConfig.require(attention != Attention.SLIDING || window > 0, "a SLIDING layer needs window > 0 (got " + window + ")");
        ModelConfig.require(attention == Attention.SLIDING || window == 0, "window (" + window + ") is only for SLIDING layers, not " + attention);
        ModelConfig.require((attention == Attention.SPARSE) == (sparse != null), "sparse must be given exactly for SPARSE layers");
        ModelConfig.require(sinkTokens >= 0, "sinkTokens (" + sinkTokens + ") must be >= 0");
        ModelConfig.require(modCapacity >= 0 && modCapacity <= 1, "modCapacity (" + modCapacity + ") must be in [0, 1]");
    }

    public static LayerSpec full(Ffn ffn) {
        return new LayerSpec(Attention.FULL, 0, 0, false, null, ffn, 0);
    }

    public static LayerSpec sliding(int window, Ffn ffn) {
        return new LayerSpec(Attention.SLIDING, window, 0, false, null, ffn, 0);
    }

    public static LayerSpec dense() {
        return full(Ffn.DENSE);
    }

    public LayerSpec withLearnedSinks(boolean v) {
        return new LayerSpec(attention, window, sinkTokens, v, sparse, ffn, modCapacity);
    }

    public LayerSpec withSinkTokens(int n) {
        return new LayerSpec(attention, window, n, learnedSinks, sparse, ffn, modCapacity);
    }

    public LayerSpec withModCapacity(double c) {
        return new LayerSpec(attention, window, sinkTokens, learnedSinks, sparse, ffn, c);
    }

    /** "full", "sliding 4096", "sparse local:4,vstride:8/64", "differential", with "+sinks", "moe", "mod 0.125". */
    public String describe() {
        StringBuilder s = new StringBuilder(switch (attention) {
            case FULL -> "full";
            case SLIDING -> "sliding " + window;
            case SPARSE -> "sparse " + sparse.pattern() + "/" + sparse.blockSize();
            case DIFFERENTIAL -> "differential";
        });
        if (sinkTokens > 0) s.append(" +").append(sinkTokens).append(" sink tokens");
        if (learnedSinks) s.append(" +learned sinks");
        s.append(ffn == Ffn.MOE ? ", moe" : ", dense");
        if (modCapacity > 0) s.append(", mod ").append(modCapacity);
        return s.toString();
    }
}
