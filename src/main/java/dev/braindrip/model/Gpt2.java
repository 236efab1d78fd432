package dev.braindrip.model;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Hugging Face {@code gpt2}: Conv1D weights stored (in, out), the fused c_attn q|k|v split by
 * columns, learned positions (wpe), pre-LayerNorm blocks, tanh GELU, final ln_f, head tied to wte.
 * Names with or without the {@code transformer.} prefix; attn.bias / masked_bias buffers ignored.
 */
final class Gpt2 implements Architecture {
    @Override
    public List<String> modelTypes() {
        return List.of("gpt2");
    }

    @Override
    public ModelConfig config(HfConfig hf) {
        int h = hf.integer("n_embd"), heads = hf.integer("n_head"), layers = hf.integer("n_layer");
        if (heads <= 0 || h % heads != 0) throw hf.error("n_embd (" + h + ") must be divisible by n_head (" + heads + ")");
        if (layers <= 0) throw hf.error("n_layer (" + layers + ") must be > 0");
        int inner = hf.has("n_inner") ? hf.integer("n_inner") : 4 * h;
        String act = hf.has("activation_function") ? hf.string("activation_function") : "gelu_new";
        ModelConfig.FfnActivation a = switch (act) {
            case "gelu_new", "gelu_pytorch_tanh", "gelu_fast" -> ModelConfig.FfnActivation.GELU_TANH;
            case "gelu" -> ModelConfig.FfnActivation.GELU;
            case "relu" -> ModelConfig.FfnActivation.RELU;
            default -> throw hf.error("activation_function '" + act + "' is not supported (gelu_new, gelu, relu)");
        };
        List<LayerSpec> ls = new ArrayList<>();
        for (int i = 0; i < layers; i++) ls.add(LayerSpec.dense());
        try {
            return ModelConfig.builder().architecture("gpt2").vocabSize(hf.integer("vocab_size")).hidden(h).heads(heads).kvHeads(heads)
                    .headDim(h / heads).intermediate(inner).maxPositions(hf.integer("n_positions", 1024)).norm(ModelConfig.NormKind.LAYER)
                    .normBias(true).normEps(hf.number("layer_norm_epsilon", 1e-5)).positions(ModelConfig.Positions.LEARNED)
                    .tieEmbeddings(true).qkvBias(true).outBias(true).mlpBias(true).activation(a).ffnGated(false).layers(ls)
                    .bosTokenId(hf.ints("bos_token_id").isEmpty() ? -1 : hf.ints("bos_token_id").get(0)).eosTokenIds(hf.ints("eos_token_id"))
                    .build();
        } catch (IllegalArgumentException e) {
            throw hf.error(e.getMessage());
        }
    }

    @Override
    public ObjectNode hfConfig(ModelConfig c) {
        ObjectNode o = HfConfig.newObject();
        o.put("model_type", "gpt2");
        o.putArray("architectures").add("GPT2LMHeadModel");
        o.put("vocab_size", c.vocabSize()).put("n_embd", c.hidden()).put("n_layer", c.layerCount()).put("n_head", c.heads())
                .put("n_inner", c.intermediate()).put("n_positions", c.maxPositions()).put("layer_norm_epsilon", c.normEps())
                .put("activation_function", c.activation() == ModelConfig.FfnActivation.GELU ? "gelu"
                        : c.activation() == ModelConfig.FfnActivation.RELU ? "relu" : "gelu_new")
                .put("tie_word_embeddings", true).put("torch_dtype", "float32");
        if (c.bosTokenId() >= 0) o.put("bos_token_id", c.bosTokenId());
        if (!c.eosTokenIds().isEmpty()) o.put("eos_token_id", c.eosTokenIds().get(0));
        return o;
    }

    @Override
    public List<WeightRule> weights(ModelConfig c, Set<String> names) {
        String p = names.contains("transformer.wte.weight") ? "transformer." : "";
        long h = c.hidden(), f = c.intermediate();
        List<WeightRule> w = new ArrayList<>();
        w.add(WeightRule.copy("embed", p + "wte.weight", c.vocabSize(), h));
        w.add(WeightRule.copy("pos_embed", p + "wpe.weight", c.maxPositions(), h));
        for (int i = 0; i < c.layerCount(); i++) {
            String l = "layers." + i + ".", hl = p + "h." + i + ".";
            w.add(WeightRule.copy(l + "attn_norm.weight", hl + "ln_1.weight", h));
            w.add(WeightRule.copy(l + "attn_norm.bias", hl + "ln_1.bias", h));
            String[] qkv = {"q", "k", "v"};
            for (int j = 0; j < 3; j++) {
                w.add(WeightRule.transposePart(l + qkv[j] + ".weight", hl + "attn.c_attn.weight", j, 3, h, h));
                w.add(WeightRule.part(l + qkv[j] + ".bias", hl + "attn.c_attn.bias", j, 3, h));
            }
            w.add(WeightRule.transpose(l + "o.weight", hl + "attn.c_proj.weight", h, h));
            w.add(WeightRule.copy(l + "o.bias", hl + "attn.c_proj.bias", h));
            w.add(WeightRule.copy(l + "ffn_norm.weight", hl + "ln_2.weight", h));
            w.add(WeightRule.copy(l + "ffn_norm.bias", hl + "ln_2.bias", h));
            w.add(WeightRule.transpose(l + "up.weight", hl + "mlp.c_fc.weight", f, h));
            w.add(WeightRule.copy(l + "up.bias", hl + "mlp.c_fc.bias", f));
            w.add(WeightRule.transpose(l + "down.weight", hl + "mlp.c_proj.weight", h, f));
            w.add(WeightRule.copy(l + "down.bias", hl + "mlp.c_proj.bias", h));
        }
        w.add(WeightRule.copy("final_norm.weight", p + "ln_f.weight", h));
        w.add(WeightRule.copy("final_norm.bias", p + "ln_f.bias", h));
        return w;
    }

    /** The causal-mask buffers of old checkpoints and a tied lm_head copy. */
    @Override
    public boolean ignored(String name) {
        return name.endsWith(".attn.bias") || name.endsWith(".attn.masked_bias") || name.equals("lm_head.weight");
    }

    @Override
    public List<String> presets() {
        return List.of("tiny", "small");
    }

    @Override
    public ModelConfig preset(String name) {
        ObjectNode o = HfConfig.newObject().put("model_type", "gpt2");
        switch (name) {
            case "tiny" -> o.put("vocab_size", 512).put("n_embd", 64).put("n_layer", 2).put("n_head", 4).put("n_positions", 512);
            case "small" -> o.put("vocab_size", 4096).put("n_embd", 256).put("n_layer", 4).put("n_head", 8).put("n_positions", 1024);
            default -> throw new IllegalArgumentException("architecture gpt2 has no preset '" + name + "' (presets: tiny, small)");
        }
        return config(new HfConfig(o, null));
    }
}
