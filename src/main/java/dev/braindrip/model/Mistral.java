package dev.braindrip.model;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;

/** Hugging Face {@code mistral}: Llama with a sliding window on every layer (sliding_window, 4096 when absent, none when null). */
final class Mistral extends LlamaLike {
    @Override
    public List<String> modelTypes() {
        return List.of("mistral");
    }

    @Override
    String hfClass() {
        return "MistralForCausalLM";
    }

    @Override
    int window(HfConfig hf) {
        if (hf.root().has("sliding_window") && hf.root().get("sliding_window").isNull()) return 0;
        return hf.integer("sliding_window", 4096);
    }

    @Override
    LayerSpec.Attention attention(HfConfig hf, int i, int layers) {
        return window(hf) > 0 ? LayerSpec.Attention.SLIDING : LayerSpec.Attention.FULL;
    }

    @Override
    public ObjectNode hfConfig(ModelConfig c) {
        ObjectNode o = super.hfConfig(c);
        LayerSpec l = c.layer(0);
        if (l.attention() == LayerSpec.Attention.SLIDING) o.put("sliding_window", l.window());
        else o.putNull("sliding_window");
        return o;
    }

    @Override
    ObjectNode presetJson(String name) {
        return super.presetJson(name).put("sliding_window", name.equals("tiny") ? 16 : 256);
    }
}
