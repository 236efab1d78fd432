package dev.braindrip.model;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The library's own {@code mod_llama}: the Llama layout with Mixture-of-Depths routing around the
 * blocks listed in {@code mod_layers} (default: every other layer, from layer 1), capacity
 * {@code mod_capacity} (default 0.125). Each routed layer has a router
 * {@code model.layers.N.mod_router.weight} (1, H) and its calibrated threshold
 * {@code model.layers.N.mod_router.threshold} (1): token t passes the block iff r_t = x_t · router ≥
 * threshold (the causal rule, so a prefix is routed the same with or without what follows), and
 * x_t += r_t · f(x_t) where f is the block's update over the sub-sequence of passing tokens (they
 * attend only to each other, at their original positions); the others ride the residual.
 */
final class ModLlama extends LlamaLike {
    @Override
    public List<String> modelTypes() {
        return List.of("mod_llama");
    }

    @Override
    String hfClass() {
        return "ModLlamaForCausalLM";
    }

    @Override
    LayerSpec layer(HfConfig hf, int i, int layers, LayerSpec.Ffn ffn) {
        double c = hf.number("mod_capacity", 0.125);
        if (!(c > 0 && c <= 1)) throw hf.error("mod_capacity (" + c + ") must be in (0, 1]");
        List<Integer> routed = hf.ints("mod_layers");
        boolean r = hf.has("mod_layers") ? routed.contains(i) : i % 2 == 1;
        return r ? LayerSpec.full(ffn).withModCapacity(c) : LayerSpec.full(ffn);
    }

    @Override
    public List<WeightRule> weights(ModelConfig c, Set<String> names) {
        List<WeightRule> w = super.weights(c, names);
        for (int i = 0; i < c.layerCount(); i++) {
            if (c.layer(i).modCapacity() == 0) continue;
            w.add(WeightRule.copy("layers." + i + ".mod_router.weight", P + i + ".mod_router.weight", 1, c.hidden()));
            w.add(WeightRule.copy("layers." + i + ".mod_router.threshold", P + i + ".mod_router.threshold", 1));
        }
        return w;
    }

    @Override
    public ObjectNode hfConfig(ModelConfig c) {
        ObjectNode o = super.hfConfig(c);
        List<Integer> routed = new ArrayList<>();
        double cap = 0.125;
        for (int i = 0; i < c.layerCount(); i++) {
            if (c.layer(i).modCapacity() > 0) {
                routed.add(i);
                cap = c.layer(i).modCapacity();
            }
        }
        o.put("mod_capacity", cap);
        routed.forEach(o.putArray("mod_layers")::add);
        return o;
    }
}
