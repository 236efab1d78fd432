package dev.braindrip.model;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * What a transformer is, independent of where its weights come from: an immutable value, built
 * with {@link #builder()} and validated at build time (messages name the field and the rule), that
 * round-trips through JSON ({@link #toJson()}, {@link #fromJson(String)}). A Hugging Face
 * config.json is mapped to one by the architecture of its {@code model_type}; the forward pass is
 * the one block assembly of {@link Transformer} for every architecture.
 *
 * <p>Stacks: {@link Stack#DECODER} (causal LM: logits), {@link Stack#ENCODER} (bidirectional,
 * last hidden state) and {@link Stack#ENCODER_DECODER} (T5: {@code layers} are the encoder's,
 * {@code decoderLayers} causal layers with cross-attention follow; logits of the decoder) and
 * {@link Stack#BYTE_LATENT} (the Byte Latent Transformer: bytes, patches, {@link LatentSpec}).
 * Every layer has its own {@link LayerSpec}: attention kind (full, sliding window W, block-sparse,
 * differential; sink tokens, learned sinks) and feed-forward kind (dense, gated, MoE), and an
 * optional Mixture-of-Depths capacity.
 *
 * @param architecture   Hugging Face model_type or one of the library's own (e.g. "llama", "gpt2")
 * @param stack          decoder-only or encoder-only
 * @param vocabSize      token ids are in [0, vocabSize)
 * @param hidden         model width
 * @param heads          query heads
 * @param kvHeads        key/value heads (divides heads; 1 = MQA)
 * @param headDim        per-head width (may differ from hidden / heads)
 * @param intermediate   dense / gated FFN width
 * @param maxPositions   longest sequence the positions cover (max_position_embeddings)
 * @param norm           normalization kind
 * @param normEps        epsilon of every norm
 * @param normPlacement  where the norms sit around each branch
 * @param positions      how positions enter: RoPE, learned absolute, or none
 * @param rope           RoPE parameters (positions == ROPE), else null
 * @param tieEmbeddings  the LM head is the token embedding matrix
 * @param embeddingScale embeddings are multiplied by this (Gemma: √hidden; 1 otherwise)
 * @param logitScale     logits are multiplied by this (1 otherwise)
 * @param attentionScale score scale, or 0 for 1/√headDim
 * @param attnSoftcap    attention score softcap (0 = off)
 * @param finalSoftcap   final logit softcap (0 = off)
 * @param qkvBias        q/k/v projections have biases
 * @param outBias        the output projection has a bias
 * @param mlpBias        FFN projections have biases
 * @param normBias       norms have a bias (LayerNorm)
 * @param qkNorm         RMSNorm over head_dim on each head of q and k before RoPE (Qwen3)
 * @param activation     FFN activation (dense: GELU/GELU_TANH/RELU/SILU; gated: the GLU's)
 * @param ffnGated       dense layers are gated (gate and up) rather than plain
 * @param moe            expert settings when any layer is MoE, else null
 * @param typeVocab      token-type embeddings (BERT), 0 if none
 * @param bosTokenId     BOS id or -1
 * @param eosTokenIds    EOS ids (may be empty)
 * @param layers         one entry per layer
 * @param gluLimit       GEGELU_CLAMPED's clamp L (Phi-3-small's gegelu_limit): gate ≤ L, up in [−L, L];
 *                       0 = no clamp; only for GEGELU_CLAMPED
 * @param maskedTokens   token ids whose logits are set to the lowest finite value of the logits'
 *                       dtype after every scale and softcap (Phi-3-small's dummy tokens; F32: HF's
 *                       masked_fill with torch.finfo(float32).min), empty for none
 * @param decoderLayers  ENCODER_DECODER: the decoder's layer count (dense, full causal self-attention,
 *                       cross-attention over the encoder, the FFN of {@code activation}); 0 otherwise
 * @param relBuckets     positions RELATIVE: T5's relative_attention_num_buckets (the bias table of
 *                       block 0 of each stack is shared by all its layers); 0 otherwise
 * @param relMaxDistance positions RELATIVE: relative_attention_max_distance; 0 otherwise
 * @param decoderStartTokenId ENCODER_DECODER: the first decoder input id; -1 otherwise
 * @param latent         BYTE_LATENT (BLT): the four stages, hash embeddings and patching; null otherwise.
 *                       The top-level fields then describe the local decoder (vocab 260, its width,
 *                       heads and layers) and the byte ids (BOS, EOS)
 */
@JsonInclude(JsonInclude.Include.ALWAYS)
public record ModelConfig(String architecture, Stack stack, int vocabSize, int hidden, int heads, int kvHeads, int headDim,
                          int intermediate, int maxPositions, NormKind norm, double normEps, NormPlacement normPlacement,
                          Positions positions, RopeConfig rope, boolean tieEmbeddings, double embeddingScale, double logitScale,
                          double attentionScale, double attnSoftcap, double finalSoftcap, boolean qkvBias, boolean outBias,
                          boolean mlpBias, boolean normBias, boolean qkNorm, FfnActivation activation, boolean ffnGated,
                          MoeSpec moe, int typeVocab, int bosTokenId, List<Integer> eosTokenIds, List<LayerSpec> layers,
                          double gluLimit, List<Integer> maskedTokens, int decoderLayers, int relBuckets, int relMaxDistance,
                          int decoderStartTokenId, LatentSpec latent) {

    /** Which stack a model is. */
    public enum Stack { DECODER, ENCODER, ENCODER_DECODER, BYTE_LATENT }

    /** Normalization: RMSNorm, Gemma's RMSNorm × (1 + w), LayerNorm. */
    public enum NormKind { RMS, RMS_PLUS_ONE, LAYER }

    /**
     * PRE: x += f(norm(x)) (Llama); POST: x = norm(x + f(x)) (BERT); SANDWICH: x += norm2(f(norm1(x)))
     * (Gemma 2's four norms per layer).
     */
    public enum NormPlacement { PRE, POST, SANDWICH }

    /** RoPE, learned absolute embeddings, T5's bucketed relative bias in the attention scores, or none. */
    public enum Positions { ROPE, LEARNED, RELATIVE, NONE }

    /**
     * FFN activations. Plain: RELU, GELU (erf), GELU_TANH, SILU. Gated act(gate) ⊙ up: SWIGLU,
     * GEGLU (erf), GEGLU_TANH; SWIGLU_OSS is gpt-oss's clamped form (MoE experts only);
     * GEGELU_CLAMPED is Phi-3-small's gegelu on a dense FFN: g·σ(1.702 g)·(u + 1) with g = min(gate,
     * L), u = clamp(up, −L, L), ±∞ unclamped, L = {@link ModelConfig#gluLimit()} (0: no clamp).
     */
    public enum FfnActivation { RELU, GELU, GELU_TANH, SILU, SWIGLU, GEGLU, GEGLU_TANH, SWIGLU_OSS, GEGELU_CLAMPED;
        public boolean gated() {
            return this == SWIGLU || this == GEGLU || this == GEGLU_TANH || this == SWIGLU_OSS || this == GEGELU_CLAMPED;
        }
    }

    public ModelConfig {
        eosTokenIds = eosTokenIds == null ? List.of() : List.copyOf(eosTokenIds);
        layers = layers == null ? List.of() : List.copyOf(layers);
        maskedTokens = maskedTokens == null ? List.of() : List.copyOf(maskedTokens);
        validate(architecture, stack, vocabSize, hidden, heads, kvHeads, headDim, intermediate, maxPositions, norm, normEps,
                normPlacement, positions, rope, embeddingScale, logitScale, attentionScale, attnSoftcap, finalSoftcap, activation,
                ffnGated, moe, typeVocab, layers);
        validateGegelu(activation, gluLimit, layers);
        for (int i = 0; i < maskedTokens.size(); i++) {
            int t = maskedTokens.get(i);
            require(t >= 0 && t < vocabSize, "maskedTokens[" + i + "] (" + t + ") must be in [0, vocabSize (" + vocabSize + "))");
        }
        require(maskedTokens.isEmpty() || stack == Stack.DECODER, "maskedTokens are for a decoder's logits, not an " + stack);
        validateSeq2Seq(stack, positions, layers, moe, decoderLayers, relBuckets, relMaxDistance, decoderStartTokenId, vocabSize);
        require((stack == Stack.BYTE_LATENT) == (latent != null), stack == Stack.BYTE_LATENT ? "a BYTE_LATENT stack needs its latent spec"
                : "a latent spec is only for a BYTE_LATENT stack, not " + stack);
    }

    private static void validateSeq2Seq(Stack stack, Positions positions, List<LayerSpec> layers, MoeSpec moe, int decoderLayers,
                                        int relBuckets, int relMaxDistance, int decoderStartTokenId, int vocabSize) {
        if (stack == Stack.ENCODER_DECODER) {
            require(decoderLayers > 0, "decoderLayers (" + decoderLayers + ") must be > 0 for an ENCODER_DECODER stack");
            require(moe == null, "an ENCODER_DECODER stack has dense layers only (no moe)");
            require(decoderStartTokenId >= 0 && decoderStartTokenId < vocabSize,
                    "decoderStartTokenId (" + decoderStartTokenId + ") must be in [0, vocabSize (" + vocabSize + "))");
            for (int i = 0; i < layers.size(); i++) {
                LayerSpec l = layers.get(i);
                require(l.equals(LayerSpec.dense()), "layers[" + i + "]: an ENCODER_DECODER stack has plain dense full-attention layers");
            }
        } else {
            require(decoderLayers == 0, "decoderLayers (" + decoderLayers + ") is only for an ENCODER_DECODER stack, not " + stack);
            require(decoderStartTokenId == -1,
                    "decoderStartTokenId (" + decoderStartTokenId + ") is only for an ENCODER_DECODER stack, not " + stack);
        }
        if (positions == Positions.RELATIVE) {
            require(relBuckets >= 4, "relBuckets (" + relBuckets + ") must be >= 4 (half of them per direction in the encoder)");
            require(relMaxDistance > relBuckets / 4 && relMaxDistance <= (1 << 24),
                    "relMaxDistance (" + relMaxDistance + ") must be in (" + relBuckets / 4 + ", 2^24] (past the exact buckets)");
        } else {
            require(relBuckets == 0 && relMaxDistance == 0, "relBuckets and relMaxDistance are only for RELATIVE positions, not " + positions);
        }
    }

    private static void validateGegelu(FfnActivation activation, double gluLimit, List<LayerSpec> layers) {
        require(Double.isFinite(gluLimit) && gluLimit >= 0, "gluLimit (" + gluLimit + ") must be finite and >= 0 (0 = no clamp)");
        require(gluLimit == 0 || activation == FfnActivation.GEGELU_CLAMPED,
                "gluLimit (" + gluLimit + ") is only for GEGELU_CLAMPED, not " + activation);
        require(activation != FfnActivation.GEGELU_CLAMPED || layers.stream().noneMatch(l -> l.ffn() == LayerSpec.Ffn.MOE),
                "GEGELU_CLAMPED is a dense FFN activation: no layer may be MOE");
    }

    private static void validate(String architecture, Stack stack, int vocabSize, int hidden, int heads, int kvHeads, int headDim,
                                 int intermediate, int maxPositions, NormKind norm, double normEps, NormPlacement normPlacement,
                                 Positions positions, RopeConfig rope, double embeddingScale, double logitScale, double attentionScale,
                                 double attnSoftcap, double finalSoftcap, FfnActivation activation, boolean ffnGated, MoeSpec moe,
                                 int typeVocab, List<LayerSpec> layers) {
        require(architecture != null && !architecture.isBlank(), "architecture must be given");
        require(stack != null, "stack must be given");
        require(vocabSize > 0, "vocabSize (" + vocabSize + ") must be > 0");
        require(hidden > 0, "hidden (" + hidden + ") must be > 0");
        require(heads > 0, "heads (" + heads + ") must be > 0");
        require(kvHeads > 0, "kvHeads (" + kvHeads + ") must be > 0");
        require(heads % kvHeads == 0, "heads (" + heads + ") must be divisible by kvHeads (" + kvHeads + ")");
        require(headDim > 0, "headDim (" + headDim + ") must be > 0");
        require(intermediate >= 0, "intermediate (" + intermediate + ") must be >= 0");
        require(maxPositions > 0, "maxPositions (" + maxPositions + ") must be > 0");
        require(norm != null, "norm must be given");
        require(normEps > 0 && Double.isFinite(normEps), "normEps (" + normEps + ") must be finite and > 0");
        require(normPlacement != null, "normPlacement must be given");
        require(positions != null, "positions must be given");
        require((positions == Positions.ROPE) == (rope != null), "rope must be given exactly when positions is ROPE (positions " + positions + ")");
        if (rope != null) {
            require(rope.rotaryDim() <= headDim, "rope.rotaryDim (" + rope.rotaryDim() + ") must be <= headDim (" + headDim + ")");
            require(rope.rotaryDim() > 0 || headDim % 2 == 0, "headDim (" + headDim + ") must be even for RoPE");
        }
        require(finite(embeddingScale) && embeddingScale > 0, "embeddingScale (" + embeddingScale + ") must be finite and > 0");
        require(finite(logitScale) && logitScale > 0, "logitScale (" + logitScale + ") must be finite and > 0");
        require(finite(attentionScale) && attentionScale >= 0, "attentionScale (" + attentionScale + ") must be >= 0 (0 = 1/sqrt(headDim))");
        require(finite(attnSoftcap) && attnSoftcap >= 0, "attnSoftcap (" + attnSoftcap + ") must be >= 0 (0 = off)");
        require(finite(finalSoftcap) && finalSoftcap >= 0, "finalSoftcap (" + finalSoftcap + ") must be >= 0 (0 = off)");
        require(activation != null, "activation must be given");
        require(!ffnGated || activation.gated(), "activation (" + activation + ") must be a gated one (SWIGLU, GEGLU, GEGLU_TANH) when ffnGated");
        require(ffnGated || !activation.gated() || layers.stream().allMatch(l -> l.ffn() == LayerSpec.Ffn.MOE),
                "activation (" + activation + ") is gated but ffnGated is false");
        require(typeVocab >= 0, "typeVocab (" + typeVocab + ") must be >= 0");
        require(!layers.isEmpty(), "layers must list at least one layer");
        boolean anyMoe = false;
        for (int i = 0; i < layers.size(); i++) {
            LayerSpec l = layers.get(i);
            require(l != null, "layers[" + i + "] is null");
            if (l.ffn() == LayerSpec.Ffn.MOE) anyMoe = true;
            if (l.ffn() == LayerSpec.Ffn.DENSE) require(intermediate > 0, "layers[" + i + "] is dense but intermediate is 0");
            if (l.attention() == LayerSpec.Attention.DIFFERENTIAL) {
                require(headDim % 2 == 0, "layers[" + i + "]: differential attention needs an even headDim (" + headDim + ")");
            }
            if (stack == Stack.ENCODER) {
                require(l.attention() == LayerSpec.Attention.FULL, "layers[" + i + "]: an encoder layer must use FULL attention, not " + l.attention());
            }
        }
        require(anyMoe == (moe != null), anyMoe ? "moe must be given: some layers are MOE" : "moe is given but no layer is MOE");
    }

    private static boolean finite(double v) {
        return Double.isFinite(v);
    }

    static void require(boolean ok, String message) {
        if (!ok) throw new IllegalArgumentException("model config: " + message);
    }

    public int layerCount() {
        return layers.size();
    }

    public LayerSpec layer(int i) {
        return layers.get(i);
    }

    /** The score scale the kernels use. */
    public double effectiveAttentionScale() {
        return attentionScale > 0 ? attentionScale : 1.0 / Math.sqrt(headDim);
    }

    /** Whether the (first) stack's self-attention is causal: a decoder's; an encoder's and T5's encoder are bidirectional. */
    public boolean isCausal() {
        return stack == Stack.DECODER || stack == Stack.BYTE_LATENT;
    }

    /** A Byte Latent Transformer (BLT): bytes in, patches inside, {@link LatentSpec}. */
    public boolean isByteLatent() {
        return stack == Stack.BYTE_LATENT;
    }

    /** An encoder-decoder (T5): {@link Transformer#forward(TokenBatch, TokenBatch)}, generation from a source. */
    public boolean isEncoderDecoder() {
        return stack == Stack.ENCODER_DECODER;
    }

    /** KV-cache bytes per token for all layers at {@code bytesPerElement} (sliding layers counted in full). */
    public long kvBytesPerToken(int bytesPerElement) {
        long per = 0;
        for (LayerSpec l : layers) per += 2L * kvHeads * headDim * (l.attention() == LayerSpec.Attention.DIFFERENTIAL ? 2 : 1);
        if (stack == Stack.ENCODER_DECODER) per = 2L * kvHeads * headDim * decoderLayers; // the decoder's self-attention cache
        return per * bytesPerElement;
    }

    // ---- JSON

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES);

    public String toJson() {
        try {
            return JSON.writeValueAsString(this);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Parses {@link #toJson()}'s form; a bad value throws IllegalArgumentException naming it. */
    public static ModelConfig fromJson(String json) {
        try {
            return JSON.readValue(json, ModelConfig.class);
        } catch (com.fasterxml.jackson.databind.exc.ValueInstantiationException e) {
            Throwable c = e.getCause();
            throw new IllegalArgumentException(c != null && c.getMessage() != null ? c.getMessage() : e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new IllegalArgumentException("model config: " + e.getMessage(), e);
        }
    }

    // ---- builder

    public static Builder builder() {
        return new Builder();
    }

    public Builder toBuilder() {
        Builder b = new Builder();
        b.architecture = architecture; b.stack = stack; b.vocabSize = vocabSize; b.hidden = hidden; b.heads = heads;
        b.kvHeads = kvHeads; b.headDim = headDim; b.intermediate = intermediate; b.maxPositions = maxPositions; b.norm = norm;
        b.normEps = normEps; b.normPlacement = normPlacement; b.positions = positions; b.rope = rope; b.tieEmbeddings = tieEmbeddings;
        b.embeddingScale = embeddingScale; b.logitScale = logitScale; b.attentionScale = attentionScale; b.attnSoftcap = attnSoftcap;
        b.finalSoftcap = finalSoftcap; b.qkvBias = qkvBias; b.outBias = outBias; b.mlpBias = mlpBias; b.normBias = normBias;
        b.qkNorm = qkNorm; b.activation = activation; b.ffnGated = ffnGated; b.moe = moe; b.typeVocab = typeVocab;
        b.bosTokenId = bosTokenId; b.eosTokenIds = new ArrayList<>(eosTokenIds); b.layers = new ArrayList<>(layers);
        b.gluLimit = gluLimit; b.maskedTokens = new ArrayList<>(maskedTokens);
        b.decoderLayers = decoderLayers; b.relBuckets = relBuckets; b.relMaxDistance = relMaxDistance;
        b.decoderStartTokenId = decoderStartTokenId; b.latent = latent;
        return b;
    }

    /** Defaults: a pre-norm RMSNorm decoder with split-half RoPE θ 10000 and SwiGLU, untied, no biases. */
    public static final class Builder {
        private String architecture = "llama";
        private Stack stack = Stack.DECODER;
        private int vocabSize, hidden, heads, kvHeads, headDim, intermediate, maxPositions = 2048;
        private NormKind norm = NormKind.RMS;
        private double normEps = 1e-6;
        private NormPlacement normPlacement = NormPlacement.PRE;
        private Positions positions = Positions.ROPE;
        private RopeConfig rope = RopeConfig.of(10000);
        private boolean tieEmbeddings, qkvBias, outBias, mlpBias, normBias, qkNorm;
        private double embeddingScale = 1, logitScale = 1, attentionScale, attnSoftcap, finalSoftcap;
        private FfnActivation activation = FfnActivation.SWIGLU;
        private boolean ffnGated = true;
        private MoeSpec moe;
        private int typeVocab;
        private int bosTokenId = -1;
        private List<Integer> eosTokenIds = new ArrayList<>();
        private List<LayerSpec> layers = new ArrayList<>();
        private double gluLimit;
        private List<Integer> maskedTokens = new ArrayList<>();
        private int decoderLayers, relBuckets, relMaxDistance, decoderStartTokenId = -1;
        private LatentSpec latent;

        public Builder architecture(String v) { architecture = v == null ? null : v.toLowerCase(Locale.ROOT); return this; }
        public Builder stack(Stack v) { stack = v; return this; }
        public Builder vocabSize(int v) { vocabSize = v; return this; }
        public Builder hidden(int v) { hidden = v; return this; }
        /** Also sets kvHeads (when unset) and headDim (when unset, hidden / heads). */
        public Builder heads(int v) { heads = v; return this; }
        public Builder kvHeads(int v) { kvHeads = v; return this; }
        public Builder headDim(int v) { headDim = v; return this; }
        public Builder intermediate(int v) { intermediate = v; return this; }
        public Builder maxPositions(int v) { maxPositions = v; return this; }
        public Builder norm(NormKind v) { norm = v; return this; }
        public Builder normEps(double v) { normEps = v; return this; }
        public Builder normPlacement(NormPlacement v) { normPlacement = v; return this; }
        public Builder positions(Positions v) { positions = v; if (v != Positions.ROPE) rope = null; return this; }
        public Builder rope(RopeConfig v) { rope = v; if (v != null) positions = Positions.ROPE; return this; }
        public Builder tieEmbeddings(boolean v) { tieEmbeddings = v; return this; }
        public Builder embeddingScale(double v) { embeddingScale = v; return this; }
        public Builder logitScale(double v) { logitScale = v; return this; }
        public Builder attentionScale(double v) { attentionScale = v; return this; }
        public Builder attnSoftcap(double v) { attnSoftcap = v; return this; }
        public Builder finalSoftcap(double v) { finalSoftcap = v; return this; }
        public Builder qkvBias(boolean v) { qkvBias = v; return this; }
        public Builder outBias(boolean v) { outBias = v; return this; }
        public Builder mlpBias(boolean v) { mlpBias = v; return this; }
        public Builder normBias(boolean v) { normBias = v; return this; }
        public Builder qkNorm(boolean v) { qkNorm = v; return this; }
        public Builder activation(FfnActivation v) { activation = v; return this; }
        public Builder ffnGated(boolean v) { ffnGated = v; return this; }
        public Builder moe(MoeSpec v) { moe = v; return this; }
        public Builder typeVocab(int v) { typeVocab = v; return this; }
        public Builder bosTokenId(int v) { bosTokenId = v; return this; }
        public Builder eosTokenIds(List<Integer> v) { eosTokenIds = new ArrayList<>(v); return this; }
        public Builder layers(List<LayerSpec> v) { layers = new ArrayList<>(v); return this; }
        /** {@code n} identical layers. */
        public Builder layers(int n, LayerSpec spec) {
            layers = new ArrayList<>();
            for (int i = 0; i < n; i++) layers.add(spec);
            return this;
        }
        public Builder layer(LayerSpec spec) { layers.add(spec); return this; }
        public Builder gluLimit(double v) { gluLimit = v; return this; }
        public Builder maskedTokens(List<Integer> v) { maskedTokens = new ArrayList<>(v); return this; }
        public Builder decoderLayers(int v) { decoderLayers = v; return this; }
        /** T5's relative position bias (sets positions RELATIVE). */
        public Builder relativeBias(int buckets, int maxDistance) {
            relBuckets = buckets; relMaxDistance = maxDistance; positions = Positions.RELATIVE; rope = null; return this;
        }
        public Builder decoderStartTokenId(int v) { decoderStartTokenId = v; return this; }
        public Builder latent(LatentSpec v) { latent = v; return this; }

        public ModelConfig build() {
            int kv = kvHeads == 0 ? heads : kvHeads;
            int hd = headDim == 0 && heads > 0 ? hidden / heads : headDim;
            return new ModelConfig(architecture, stack, vocabSize, hidden, heads, kv, hd, intermediate, maxPositions, norm, normEps,
                    normPlacement, positions, rope, tieEmbeddings, embeddingScale, logitScale, attentionScale, attnSoftcap, finalSoftcap,
                    qkvBias, outBias, mlpBias, normBias, qkNorm, activation, ffnGated, moe, typeVocab, bosTokenId, eosTokenIds, layers,
                    gluLimit, maskedTokens, decoderLayers, relBuckets, relMaxDistance, decoderStartTokenId, latent);
        }
    }
}
