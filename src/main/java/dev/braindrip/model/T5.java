package dev.braindrip.model;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.braindrip.tensor.DType;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Hugging Face {@code t5} (T5ForConditionalGeneration: original T5, T5 v1.1, Flan-T5): an encoder
 * and a decoder of pre-norm blocks with T5LayerNorm (RMS, no mean, no bias), attention without
 * biases or 1/√d scaling over an inner width of heads·d_kv, the bucketed relative position bias of
 * block 0 of each stack shared by all its layers (bidirectional in the encoder, causal in the
 * decoder; none in cross-attention), a dense FFN ({@code feed_forward_proj} "relu", or gated
 * "gated-gelu" = tanh-GELU(wi_0 x) · wi_1 x), the token embedding {@code shared.weight} used by both
 * stacks, and the LM head: tied (tie_word_embeddings absent or true) to {@code shared.weight} with
 * the decoder output × d_model^−½, or an own {@code lm_head.weight} (v1.1) with no rescale.
 * Decoding starts at {@code decoder_start_token_id} (the pad id when absent).
 *
 * <p>Canonical names: {@code embed}, {@code lm_head}, {@code enc.rel_bias} / {@code dec.rel_bias}
 * (heads, buckets) kept in F32, {@code enc.layers.i.{attn_norm,q,k,v,o,ffn_norm,up|gate_up,down}},
 * {@code dec.layers.i.{attn_norm,q,k,v,o,cross_norm,cross.q,cross.k,cross.v,cross.o,ffn_norm,up|gate_up,down}},
 * {@code enc.final_norm}, {@code dec.final_norm}.
 */
final class T5 implements Architecture {
    @Override
    public List<String> modelTypes() {
        return List.of("t5");
    }

    @Override
    public ModelConfig config(HfConfig hf) {
        int d = hf.integer("d_model", 512), heads = hf.integer("num_heads", 8), dkv = hf.integer("d_kv", 64);
        int layers = hf.integer("num_layers", 6);
        int decLayers = hf.integer("num_decoder_layers", layers);
        if (layers <= 0) throw hf.error("num_layers (" + layers + ") must be > 0");
        if (decLayers <= 0) throw hf.error("num_decoder_layers (" + decLayers + ") must be > 0");
        if (heads <= 0 || dkv <= 0) throw hf.error("num_heads (" + heads + ") and d_kv (" + dkv + ") must be > 0");
        String proj = hf.has("feed_forward_proj") ? hf.string("feed_forward_proj") : "relu";
        String[] parts = proj.split("-");
        boolean gated = parts.length == 2 && parts[0].equals("gated");
        if (parts.length > 2 || parts.length == 2 && !gated || proj.isEmpty()) {
            throw hf.error("feed_forward_proj '" + proj + "' is not of the form 'ACT' or 'gated-ACT'");
        }
        // T5Config's own special case; config.json's dense_act_fn and is_gated_act, when saved, win over both (HF sets them after __init__)
        String act = hf.has("dense_act_fn") ? hf.string("dense_act_fn") : proj.equals("gated-gelu") ? "gelu_new" : parts[parts.length - 1];
        gated = hf.bool("is_gated_act", gated);
        String described = (gated ? "gated " : "") + act + " (feed_forward_proj '" + proj + "')";
        ModelConfig.FfnActivation a = gated ? switch (act) {
            case "gelu_new", "gelu_pytorch_tanh" -> ModelConfig.FfnActivation.GEGLU_TANH;
            case "gelu" -> ModelConfig.FfnActivation.GEGLU;
            case "silu", "swish" -> ModelConfig.FfnActivation.SWIGLU;
            default -> throw hf.error("FFN activation " + described + " is not supported (gated: gelu, gelu_new, silu)");
        } : switch (act) {
            case "relu" -> ModelConfig.FfnActivation.RELU;
            case "gelu" -> ModelConfig.FfnActivation.GELU;
            case "gelu_new", "gelu_pytorch_tanh" -> ModelConfig.FfnActivation.GELU_TANH;
            case "silu", "swish" -> ModelConfig.FfnActivation.SILU;
            default -> throw hf.error("FFN activation " + described + " is not supported (relu, gelu, gelu_new, silu, or gated-)");
        };
        boolean tied = hf.bool("tie_word_embeddings", true);
        int pad = hf.integer("pad_token_id", 0);
        int start = hf.integer("decoder_start_token_id", pad);
        List<Integer> eos = hf.has("eos_token_id") ? hf.ints("eos_token_id") : List.of(1);
        try {
            return ModelConfig.builder().architecture("t5").stack(ModelConfig.Stack.ENCODER_DECODER).vocabSize(hf.integer("vocab_size", 32128))
                    .hidden(d).heads(heads).kvHeads(heads).headDim(dkv).intermediate(hf.integer("d_ff", 2048))
                    .maxPositions(hf.integer("n_positions", 512)).norm(ModelConfig.NormKind.RMS).normEps(hf.number("layer_norm_epsilon", 1e-6))
                    .normPlacement(ModelConfig.NormPlacement.PRE)
                    .relativeBias(hf.integer("relative_attention_num_buckets", 32), hf.integer("relative_attention_max_distance", 128))
                    .attentionScale(1.0).activation(a).ffnGated(gated).tieEmbeddings(tied).logitScale(tied ? 1.0 / Math.sqrt(d) : 1.0)
                    .eosTokenIds(eos).decoderStartTokenId(start).layers(layers, LayerSpec.dense()).decoderLayers(decLayers).build();
        } catch (IllegalArgumentException e) {
            throw hf.error(e.getMessage());
        }
    }

    @Override
    public ObjectNode hfConfig(ModelConfig c) {
        ObjectNode o = HfConfig.newObject();
        o.put("model_type", "t5");
        o.putArray("architectures").add("T5ForConditionalGeneration");
        String act = switch (c.activation()) {
            case RELU -> "relu";
            case GELU, GEGLU -> "gelu";
            case GELU_TANH, GEGLU_TANH -> "gelu_new";
            case SILU, SWIGLU -> "silu";
            default -> throw new IllegalArgumentException("t5: activation " + c.activation() + " has no feed_forward_proj");
        };
        // "gated-gelu" means tanh GELU to T5Config; an erf-GELU GLU keeps its meaning through dense_act_fn
        String proj = c.activation() == ModelConfig.FfnActivation.GEGLU_TANH ? "gated-gelu" : (c.ffnGated() ? "gated-" : "") + act;
        o.put("vocab_size", c.vocabSize()).put("d_model", c.hidden()).put("d_kv", c.headDim()).put("d_ff", c.intermediate())
                .put("num_layers", c.layerCount()).put("num_decoder_layers", c.decoderLayers()).put("num_heads", c.heads())
                .put("relative_attention_num_buckets", c.relBuckets()).put("relative_attention_max_distance", c.relMaxDistance())
                .put("layer_norm_epsilon", c.normEps()).put("feed_forward_proj", proj).put("dense_act_fn", act)
                .put("is_gated_act", c.ffnGated()).put("tie_word_embeddings", c.tieEmbeddings())
                .put("is_encoder_decoder", true).put("n_positions", c.maxPositions()).put("pad_token_id", 0)
                .put("decoder_start_token_id", c.decoderStartTokenId()).put("dropout_rate", 0.1).put("initializer_factor", 1.0)
                .put("use_cache", true).put("torch_dtype", "float32");
        if (c.eosTokenIds().size() == 1) o.put("eos_token_id", c.eosTokenIds().get(0));
        else if (!c.eosTokenIds().isEmpty()) c.eosTokenIds().forEach(o.putArray("eos_token_id")::add);
        return o;
    }

    @Override
    public List<WeightRule> weights(ModelConfig c, Set<String> names) {
        long d = c.hidden(), inner = (long) c.heads() * c.headDim(), f = c.intermediate();
        List<WeightRule> w = new ArrayList<>();
        // checkpoints that were deduplicated on save may keep the embedding under a stack's name only
        String embed = names.isEmpty() || names.contains("shared.weight") ? "shared.weight"
                : names.contains("encoder.embed_tokens.weight") ? "encoder.embed_tokens.weight" : "shared.weight";
        w.add(WeightRule.copy("embed", embed, c.vocabSize(), d));
        for (String[] s : new String[][] {{"enc", "encoder"}, {"dec", "decoder"}}) {
            String ours = s[0], hf = s[1];
            w.add(WeightRule.transpose(ours + ".rel_bias", hf + ".block.0.layer.0.SelfAttention.relative_attention_bias.weight", c.heads(),
                    c.relBuckets()).withDType(DType.F32));
            int n = ours.equals("enc") ? c.layerCount() : c.decoderLayers();
            for (int i = 0; i < n; i++) {
                String l = ours + ".layers." + i + ".", hl = hf + ".block." + i + ".layer.";
                w.add(WeightRule.copy(l + "attn_norm.weight", hl + "0.layer_norm.weight", d));
                attention(w, l, hl + "0.SelfAttention.", inner, d);
                int ffn = 1;
                if (ours.equals("dec")) {
                    w.add(WeightRule.copy(l + "cross_norm.weight", hl + "1.layer_norm.weight", d));
                    attention(w, l + "cross.", hl + "1.EncDecAttention.", inner, d);
                    ffn = 2;
                }
                String fl = hl + ffn + ".";
                w.add(WeightRule.copy(l + "ffn_norm.weight", fl + "layer_norm.weight", d));
                if (c.ffnGated()) {
                    w.add(WeightRule.concat(l + "gate_up.weight", List.of(fl + "DenseReluDense.wi_0.weight", fl + "DenseReluDense.wi_1.weight"),
                            2 * f, d));
                } else {
                    w.add(WeightRule.copy(l + "up.weight", fl + "DenseReluDense.wi.weight", f, d));
                }
                w.add(WeightRule.copy(l + "down.weight", fl + "DenseReluDense.wo.weight", d, f));
            }
            w.add(WeightRule.copy(ours + ".final_norm.weight", hf + ".final_layer_norm.weight", d));
        }
        if (!c.tieEmbeddings()) w.add(WeightRule.copy("lm_head", "lm_head.weight", c.vocabSize(), d));
        return w;
    }

    private static void attention(List<WeightRule> w, String l, String hl, long inner, long d) {
        w.add(WeightRule.copy(l + "q.weight", hl + "q.weight", inner, d));
        w.add(WeightRule.copy(l + "k.weight", hl + "k.weight", inner, d));
        w.add(WeightRule.copy(l + "v.weight", hl + "v.weight", inner, d));
        w.add(WeightRule.copy(l + "o.weight", hl + "o.weight", d, inner));
    }

    /**
     * The stacks' copies of the shared embedding, and a tied checkpoint's lm_head copy, are not read
     * (an untied model's lm_head.weight is its own rule, so it is never ignored).
     */
    @Override
    public boolean ignored(String name) {
        return name.equals("encoder.embed_tokens.weight") || name.equals("decoder.embed_tokens.weight") || name.equals("lm_head.weight");
    }

    @Override
    public List<String> presets() {
        return List.of("tiny", "small", "t5-small", "t5-base", "t5-v1_1-small", "t5-v1_1-base");
    }

    /** tiny and small for tests; t5-small / t5-base (original: ReLU, tied) and t5-v1_1-small / -base (gated-GELU, untied) shapes. */
    @Override
    public ModelConfig preset(String name) {
        ObjectNode o = HfConfig.newObject().put("model_type", "t5");
        switch (name) {
            case "tiny" -> o.put("vocab_size", 512).put("d_model", 64).put("d_kv", 16).put("num_heads", 4).put("d_ff", 128)
                    .put("num_layers", 2).put("num_decoder_layers", 2).put("relative_attention_num_buckets", 16)
                    .put("relative_attention_max_distance", 32);
            case "small" -> o.put("vocab_size", 4096).put("d_model", 256).put("d_kv", 32).put("num_heads", 8).put("d_ff", 1024)
                    .put("num_layers", 4).put("num_decoder_layers", 4);
            case "t5-small" -> o.put("vocab_size", 32128).put("d_model", 512).put("d_kv", 64).put("num_heads", 8).put("d_ff", 2048)
                    .put("num_layers", 6);
            case "t5-base" -> o.put("vocab_size", 32128).put("d_model", 768).put("d_kv", 64).put("num_heads", 12).put("d_ff", 3072)
                    .put("num_layers", 12);
            case "t5-v1_1-small" -> o.put("vocab_size", 32128).put("d_model", 512).put("d_kv", 64).put("num_heads", 6).put("d_ff", 1024)
                    .put("num_layers", 8).put("feed_forward_proj", "gated-gelu").put("tie_word_embeddings", false);
            case "t5-v1_1-base" -> o.put("vocab_size", 32128).put("d_model", 768).put("d_kv", 64).put("num_heads", 12).put("d_ff", 2048)
                    .put("num_layers", 12).put("feed_forward_proj", "gated-gelu").put("tie_word_embeddings", false);
            default -> throw new IllegalArgumentException("architecture t5 has no preset '" + name + "' (presets: " + String.join(", ", presets()) + ")");
        }
        return config(new HfConfig(o, null));
    }
}
