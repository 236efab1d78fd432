package dev.braindrip.model;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;

/** Hugging Face {@code qwen3}: Llama with per-head q/k RMSNorm before RoPE, explicit head_dim (128 when absent), no biases. */
final class Qwen3 extends LlamaLike {
    @Override
    public List<String> modelTypes() {
        return List.of("qwen3");
    }

    @Override
    String hfClass() {
        return "Qwen3ForCausalLM";
    }

    @Override
    int defaultHeadDim() {
        return 128;
    }

    @Override
    LayerSpec.Attention attention(HfConfig hf, int i, int layers) {
        return Qwen2.slides(hf, i) ? LayerSpec.Attention.SLIDING : LayerSpec.Attention.FULL;
    }

    @Override
    void customize(HfConfig hf, ModelConfig.Builder b) {
        b.qkNorm(true);
    }

    @Override
    public ObjectNode hfConfig(ModelConfig c) {
        ObjectNode o = super.hfConfig(c);
        Qwen2.putWindows(o, c);
        return o;
    }
}
