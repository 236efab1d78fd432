package dev.braindrip.model;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;

/** Hugging Face {@code llama}: the base layout; rope_scaling linear and llama3; attention_bias and mlp_bias optional. */
final class Llama extends LlamaLike {
    @Override
    public List<String> modelTypes() {
        return List.of("llama");
    }

    @Override
    String hfClass() {
        return "LlamaForCausalLM";
    }

    @Override
    public List<String> presets() {
        return List.of("tiny", "small", "llama-3.2-1b");
    }

    /** llama-3.2-1b: hidden 2048, 16 layers, 32 heads / 8 KV heads of 64, FFN 8192, vocab 128256, tied, llama3 RoPE. */
    @Override
    ObjectNode presetJson(String name) {
        if (!name.equals("llama-3.2-1b")) return super.presetJson(name);
        ObjectNode o = HfConfig.newObject();
        o.put("model_type", "llama").put("vocab_size", 128256).put("hidden_size", 2048).put("intermediate_size", 8192)
                .put("num_hidden_layers", 16).put("num_attention_heads", 32).put("num_key_value_heads", 8).put("head_dim", 64)
                .put("max_position_embeddings", 131072).put("rms_norm_eps", 1e-5).put("rope_theta", 500000.0)
                .put("tie_word_embeddings", true).put("bos_token_id", 128000).put("eos_token_id", 128001);
        o.putObject("rope_scaling").put("rope_type", "llama3").put("factor", 32.0).put("low_freq_factor", 1.0)
                .put("high_freq_factor", 4.0).put("original_max_position_embeddings", 8192);
        return o;
    }
}
