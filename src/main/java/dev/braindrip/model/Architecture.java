package dev.braindrip.model;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Set;

/**
 * One Hugging Face model_type (or one of the library's own architectures) as data: how its
 * config.json maps to a {@link ModelConfig}, back, and which checkpoint tensor feeds each of the
 * model's own tensors. The forward pass is shared ({@link Transformer}).
 */
public interface Architecture {
    /** The model_type names this architecture reads (the first is the one it writes). */
    List<String> modelTypes();

    ModelConfig config(HfConfig hf);

    /** config.json for {@code c} (the fields Hugging Face's own class reads). */
    ObjectNode hfConfig(ModelConfig c);

    /**
     * The weight rules of {@code c}. {@code names} lists the checkpoint's tensors so that an
     * architecture can accept variants (a prefix or not, a tied head present or not).
     */
    List<WeightRule> weights(ModelConfig c, Set<String> names);

    /** Checkpoint tensors that are ignored if present (buffers such as GPT-2's attn.bias). */
    default boolean ignored(String tensorName) {
        return false;
    }

    /** The presets `init` offers for this architecture: tiny, small, and named shapes. */
    ModelConfig preset(String name);

    List<String> presets();
}
