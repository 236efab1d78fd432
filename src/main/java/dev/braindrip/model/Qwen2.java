package dev.braindrip.model;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;

/**
 * Hugging Face {@code qwen2}: Llama with q/k/v biases; with use_sliding_window the window applies
 * per layer as the checkpoint's transformers computed it: by layer_types when config.json has them
 * (4.53 and later), to every layer when it was written by an older version (whose eager path
 * ignores max_window_layers), else to the layers i ≥ max_window_layers.
 */
final class Qwen2 extends LlamaLike {
    @Override
    public List<String> modelTypes() {
        return List.of("qwen2");
    }

    @Override
    String hfClass() {
        return "Qwen2ForCausalLM";
    }

    @Override
    LayerSpec.Attention attention(HfConfig hf, int i, int layers) {
        return slides(hf, i) ? LayerSpec.Attention.SLIDING : LayerSpec.Attention.FULL;
    }

    static boolean slides(HfConfig hf, int i) {
        if (!hf.bool("use_sliding_window", false) || !hf.has("sliding_window")) return false;
        List<String> types = hf.strings("layer_types");
        if (!types.isEmpty()) {
            if (i >= types.size()) throw hf.error("layer_types lists " + types.size() + " layers, fewer than num_hidden_layers");
            return types.get(i).equals("sliding_attention");
        }
        if (hf.has("transformers_version") && olderThan(hf.string("transformers_version"), 4, 53)) return true;
        return i >= hf.integer("max_window_layers", 0);
    }

    static boolean olderThan(String version, int major, int minor) {
        String[] p = version.split("\\.");
        try {
            int a = Integer.parseInt(p[0]), b = p.length > 1 ? Integer.parseInt(p[1].replaceAll("\\D.*", "")) : 0;
            return a < major || (a == major && b < minor);
        } catch (NumberFormatException e) {
            return false;
        }
    }

    @Override
    void customize(HfConfig hf, ModelConfig.Builder b) {
        b.qkvBias(true).outBias(false);
    }

    @Override
    public ObjectNode hfConfig(ModelConfig c) {
        ObjectNode o = super.hfConfig(c);
        o.remove("attention_bias");
        putWindows(o, c);
        return o;
    }

    /** use_sliding_window, sliding_window and layer_types from the layers. */
    static void putWindows(ObjectNode o, ModelConfig c) {
        int w = 0;
        var types = o.putArray("layer_types");
        for (LayerSpec l : c.layers()) {
            if (l.attention() == LayerSpec.Attention.SLIDING) w = l.window();
            types.add(l.attention() == LayerSpec.Attention.SLIDING ? "sliding_attention" : "full_attention");
        }
        o.put("use_sliding_window", w > 0);
        if (w > 0) o.put("sliding_window", w);
        else o.putNull("sliding_window");
        o.put("max_window_layers", c.layerCount());
    }
}
