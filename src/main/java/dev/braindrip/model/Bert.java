package dev.braindrip.model;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Hugging Face {@code bert}: an encoder, post-norm (x = LN(x + attn(x)); x = LN(x + FFN(x))), exact
 * (erf) GELU, embeddings word + position + token_type[0] then LayerNorm, bidirectional attention;
 * the output is the last hidden state (the pooler is not run). Names with or without {@code bert.}.
 */
final class Bert implements Architecture {
    @Override
    public List<String> modelTypes() {
        return List.of("bert");
    }

    @Override
    public ModelConfig config(HfConfig hf) {
        int h = hf.integer("hidden_size"), heads = hf.integer("num_attention_heads"), layers = hf.integer("num_hidden_layers");
        if (heads <= 0 || h % heads != 0) throw hf.error("hidden_size (" + h + ") must be divisible by num_attention_heads (" + heads + ")");
        if (layers <= 0) throw hf.error("num_hidden_layers (" + layers + ") must be > 0");
        String pe = hf.has("position_embedding_type") ? hf.string("position_embedding_type") : "absolute";
        if (!pe.equals("absolute")) throw hf.error("position_embedding_type '" + pe + "' is not supported (absolute)");
        String act = hf.has("hidden_act") ? hf.string("hidden_act") : "gelu";
        ModelConfig.FfnActivation a = switch (act) {
            case "gelu" -> ModelConfig.FfnActivation.GELU;
            case "gelu_new", "gelu_pytorch_tanh" -> ModelConfig.FfnActivation.GELU_TANH;
            case "relu" -> ModelConfig.FfnActivation.RELU;
            default -> throw hf.error("hidden_act '" + act + "' is not supported (gelu, gelu_new, relu)");
        };
        List<LayerSpec> ls = new ArrayList<>();
        for (int i = 0; i < layers; i++) ls.add(LayerSpec.dense());
        try {
            return ModelConfig.builder().architecture("bert").stack(ModelConfig.Stack.ENCODER).vocabSize(hf.integer("vocab_size")).hidden(h)
                    .heads(heads).kvHeads(heads).headDim(h / heads).intermediate(hf.integer("intermediate_size"))
                    .maxPositions(hf.integer("max_position_embeddings", 512)).norm(ModelConfig.NormKind.LAYER).normBias(true)
                    .normEps(hf.number("layer_norm_eps", 1e-12)).normPlacement(ModelConfig.NormPlacement.POST)
                    .positions(ModelConfig.Positions.LEARNED).typeVocab(hf.integer("type_vocab_size", 2)).qkvBias(true).outBias(true)
                    .mlpBias(true).activation(a).ffnGated(false).layers(ls).build();
        } catch (IllegalArgumentException e) {
            throw hf.error(e.getMessage());
        }
    }

    @Override
    public ObjectNode hfConfig(ModelConfig c) {
        ObjectNode o = HfConfig.newObject();
        o.put("model_type", "bert");
        o.putArray("architectures").add("BertModel");
        o.put("vocab_size", c.vocabSize()).put("hidden_size", c.hidden()).put("num_hidden_layers", c.layerCount())
                .put("num_attention_heads", c.heads()).put("intermediate_size", c.intermediate()).put("max_position_embeddings", c.maxPositions())
                .put("type_vocab_size", c.typeVocab()).put("layer_norm_eps", c.normEps())
                .put("hidden_act", c.activation() == ModelConfig.FfnActivation.GELU_TANH ? "gelu_new"
                        : c.activation() == ModelConfig.FfnActivation.RELU ? "relu" : "gelu")
                .put("position_embedding_type", "absolute").put("torch_dtype", "float32");
        return o;
    }

    @Override
    public List<WeightRule> weights(ModelConfig c, Set<String> names) {
        String p = names.contains("bert.embeddings.word_embeddings.weight") ? "bert." : "";
        long h = c.hidden(), f = c.intermediate();
        List<WeightRule> w = new ArrayList<>();
        w.add(WeightRule.copy("embed", p + "embeddings.word_embeddings.weight", c.vocabSize(), h));
        w.add(WeightRule.copy("pos_embed", p + "embeddings.position_embeddings.weight", c.maxPositions(), h));
        w.add(WeightRule.copy("type_embed", p + "embeddings.token_type_embeddings.weight", c.typeVocab(), h));
        w.add(WeightRule.copy("embed_norm.weight", p + "embeddings.LayerNorm.weight", h));
        w.add(WeightRule.copy("embed_norm.bias", p + "embeddings.LayerNorm.bias", h));
        for (int i = 0; i < c.layerCount(); i++) {
            String l = "layers." + i + ".", hl = p + "encoder.layer." + i + ".";
            String[][] qkv = {{"q", "query"}, {"k", "key"}, {"v", "value"}};
            for (String[] m : qkv) {
                w.add(WeightRule.copy(l + m[0] + ".weight", hl + "attention.self." + m[1] + ".weight", h, h));
                w.add(WeightRule.copy(l + m[0] + ".bias", hl + "attention.self." + m[1] + ".bias", h));
            }
            w.add(WeightRule.copy(l + "o.weight", hl + "attention.output.dense.weight", h, h));
            w.add(WeightRule.copy(l + "o.bias", hl + "attention.output.dense.bias", h));
            w.add(WeightRule.copy(l + "post_attn_norm.weight", hl + "attention.output.LayerNorm.weight", h));
            w.add(WeightRule.copy(l + "post_attn_norm.bias", hl + "attention.output.LayerNorm.bias", h));
            w.add(WeightRule.copy(l + "up.weight", hl + "intermediate.dense.weight", f, h));
            w.add(WeightRule.copy(l + "up.bias", hl + "intermediate.dense.bias", f));
            w.add(WeightRule.copy(l + "down.weight", hl + "output.dense.weight", h, f));
            w.add(WeightRule.copy(l + "down.bias", hl + "output.dense.bias", h));
            w.add(WeightRule.copy(l + "post_ffn_norm.weight", hl + "output.LayerNorm.weight", h));
            w.add(WeightRule.copy(l + "post_ffn_norm.bias", hl + "output.LayerNorm.bias", h));
        }
        return w;
    }

    /** The pooler and task heads are not part of the encoder; position_ids is a buffer. */
    @Override
    public boolean ignored(String name) {
        return name.contains("pooler.") || name.endsWith("embeddings.position_ids") || name.startsWith("cls.");
    }

    @Override
    public List<String> presets() {
        return List.of("tiny", "small");
    }

    @Override
    public ModelConfig preset(String name) {
        ObjectNode o = HfConfig.newObject().put("model_type", "bert");
        switch (name) {
            case "tiny" -> o.put("vocab_size", 512).put("hidden_size", 64).put("num_hidden_layers", 2).put("num_attention_heads", 4)
                    .put("intermediate_size", 128);
            case "small" -> o.put("vocab_size", 4096).put("hidden_size", 256).put("num_hidden_layers", 4).put("num_attention_heads", 8)
                    .put("intermediate_size", 1024);
            default -> throw new IllegalArgumentException("architecture bert has no preset '" + name + "' (presets: tiny, small)");
        }
        return config(new HfConfig(o, null));
    }
}
