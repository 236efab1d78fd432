package dev.braindrip.model;

import java.util.List;

/**
 * What a Byte Latent Transformer (stack BYTE_LATENT, Hugging Face {@code blt}) adds to its
 * {@link ModelConfig}: its four stages, the hash n-gram embeddings, and how bytes are cut into
 * patches.
 *
 * @param patcher          the entropy model: a causal byte LM (null when patching needs none)
 * @param encoder          the local encoder over bytes (its hidden is the decoder's)
 * @param global           the latent transformer over patches
 * @param decoder          the local decoder over bytes
 * @param crossAttnK       patch slots per patch (k): the encoder's patch queries and the decoder's keys
 * @param encoderCrossAll  the encoder has a cross-attention per layer (only the last one's result survives)
 * @param decoderCrossAll  the decoder cross-attends before every layer (else before layer 0 only)
 * @param decoderGlobalHidden the width the decoder's patch projection reads (decoder hidden_size_global)
 * @param hashSizes        n of the hash n-gram embeddings (3..8 by default)
 * @param hashFunctions    hash functions (primes) per n
 * @param hashVocab        rows per (function, n) of the hash embedding table
 * @param patching         how patches start ({@link Patching})
 * @param threshold        ENTROPY: a byte t ≥ 2 starts a patch iff entropy(t − 1) &gt; threshold;
 *                         ENTROPY_RISE: iff entropy(t − 1) − entropy(t − 2) &gt; threshold
 * @param patchSize        FIXED: bytes per patch (from byte 1 on)
 * @param maxPatchLength   patches longer than this are split (0: no limit)
 */
public record LatentSpec(Stage patcher, Stage encoder, Stage global, Stage decoder, int crossAttnK, boolean encoderCrossAll,
                         boolean decoderCrossAll, int decoderGlobalHidden, List<Integer> hashSizes, int hashFunctions, int hashVocab,
                         Patching patching, double threshold, int patchSize, int maxPatchLength) {
    /**
     * Patch starts. ENTROPY is Hugging Face's global-threshold rule; ONES is what Hugging Face does
     * for any other mode or without the patcher (one byte per patch, plus an empty last one). The
     * others are the library's own, under config keys of its own ({@code braindrip_patching}):
     * ENTROPY_RISE the paper's monotonic rule, FIXED every {@code patchSize} bytes, SPACE a new
     * patch after every byte that is not a letter, a digit or a UTF-8 continuation byte (the paper's
     * space patching). Bytes 0 and 1 always start a patch, as in Hugging Face.
     */
    public enum Patching { ENTROPY, ENTROPY_RISE, ONES, FIXED, SPACE;
        public boolean needsPatcher() {
            return this == ENTROPY || this == ENTROPY_RISE;
        }
    }

    /** One stage: Llama-style pre-norm layers (RMSNorm, SwiGLU, adjacent-pair RoPE, causal self-attention). */
    public record Stage(int hidden, int layers, int heads, int kvHeads, int intermediate, double theta, double eps) {
        public Stage {
            ModelConfig.require(hidden > 0 && layers >= 0 && heads > 0 && kvHeads > 0, "latent stage: hidden, heads and kvHeads must be > 0, layers >= 0");
            ModelConfig.require(hidden % heads == 0, "latent stage: hidden (" + hidden + ") must be divisible by heads (" + heads + ")");
            ModelConfig.require(heads % kvHeads == 0, "latent stage: heads (" + heads + ") must be divisible by kvHeads (" + kvHeads + ")");
            ModelConfig.require((hidden / heads) % 2 == 0, "latent stage: the head dim (" + hidden / heads + ") must be even for RoPE");
            ModelConfig.require(intermediate > 0, "latent stage: intermediate (" + intermediate + ") must be > 0");
            ModelConfig.require(theta > 0 && eps > 0, "latent stage: rope theta and eps must be > 0");
        }

        public int headDim() {
            return hidden / heads;
        }
    }

    public LatentSpec {
        hashSizes = List.copyOf(hashSizes);
        // one canonical form: a rule's unused parameters are 0
        if (patching != null && !patching.needsPatcher()) threshold = 0;
        if (patching != Patching.FIXED) patchSize = 0;
        ModelConfig.require(encoder != null && global != null && decoder != null, "latent: encoder, global and decoder must be given");
        ModelConfig.require(encoder.hidden() == decoder.hidden(), "latent: the decoder reads the encoder's byte states: encoder hidden ("
                + encoder.hidden() + ") must equal decoder hidden (" + decoder.hidden() + ")");
        ModelConfig.require(encoder.layers() >= 1 && global.layers() >= 1 && decoder.layers() >= 1, "latent: encoder, global and decoder need a layer");
        ModelConfig.require(crossAttnK >= 1, "latent: crossAttnK (" + crossAttnK + ") must be >= 1");
        ModelConfig.require(decoderGlobalHidden == global.hidden(), "latent: the decoder's hidden_size_global (" + decoderGlobalHidden
                + ") must equal the global hidden size (" + global.hidden() + ")");
        ModelConfig.require(hashFunctions >= 0 && hashVocab >= 0, "latent: hash functions and vocab must be >= 0");
        ModelConfig.require(hashFunctions == 0 || hashSizes.isEmpty() || hashVocab > 0, "latent: a hash embedding needs a hash vocab > 0");
        for (int n : hashSizes) ModelConfig.require(n >= 1 && n <= 64, "latent: hash n-gram size " + n + " must be in [1, 64]");
        ModelConfig.require(patching != null, "latent: patching must be given");
        ModelConfig.require(!patching.needsPatcher() || patcher != null, "latent: " + patching + " patching needs the patcher");
        ModelConfig.require(patching != Patching.FIXED || patchSize >= 1, "latent: FIXED patching needs patchSize >= 1");
        ModelConfig.require(Double.isFinite(threshold), "latent: threshold must be finite");
        ModelConfig.require(maxPatchLength >= 0, "latent: maxPatchLength (" + maxPatchLength + ") must be >= 0 (0: no limit)");
    }

    /** Rows of the hash embedding table: functions × sizes × vocab. */
    public long hashRows() {
        return (long) hashFunctions * hashSizes.size() * hashVocab;
    }

    /** The encoder's patch output, k slots of the encoder's width, as the global model reads it. */
    public int patchWidth() {
        return crossAttnK * encoder.hidden();
    }

    /** Whether the global model projects the patch slots to its width (k · encoder hidden ≠ global hidden). */
    public boolean tokenProjection() {
        return patchWidth() != global.hidden();
    }
}
