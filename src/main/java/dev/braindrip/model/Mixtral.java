package dev.braindrip.model;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;

/**
 * Hugging Face {@code mixtral}: Llama with every FFN a softmax-top-k MoE (renormalized), experts
 * block_sparse_moe.experts.E.{w1 = gate, w3 = up, w2 = down}; sliding_window on every layer when set.
 */
final class Mixtral extends LlamaLike {
    @Override
    public List<String> modelTypes() {
        return List.of("mixtral");
    }

    @Override
    String hfClass() {
        return "MixtralForCausalLM";
    }

    @Override
    LayerSpec.Attention attention(HfConfig hf, int i, int layers) {
        return hf.has("sliding_window") ? LayerSpec.Attention.SLIDING : LayerSpec.Attention.FULL;
    }

    @Override
    MoeSpec moe(HfConfig hf) {
        return MoeSpec.softmaxTopK(hf.integer("num_local_experts"), hf.integer("num_experts_per_tok"), true, hf.integer("intermediate_size"));
    }

    @Override
    boolean isMoeLayer(HfConfig hf, int i) {
        return true;
    }

    @Override
    void moeWeights(ModelConfig c, List<WeightRule> w, String l, String hl, long h) {
        w.add(WeightRule.copy(l + "router.weight", hl + "block_sparse_moe.gate.weight", c.moe().experts(), h));
        expertStacks(w, l, hl + "block_sparse_moe.experts.", "w1", "w3", "w2", c.moe(), h);
    }

    @Override
    public ObjectNode hfConfig(ModelConfig c) {
        ObjectNode o = super.hfConfig(c);
        o.put("intermediate_size", c.moe().expertFfn());
        o.put("num_local_experts", c.moe().experts());
        o.put("num_experts_per_tok", c.moe().topK());
        LayerSpec l = c.layer(0);
        if (l.attention() == LayerSpec.Attention.SLIDING) o.put("sliding_window", l.window());
        else o.putNull("sliding_window");
        return o;
    }

    @Override
    ObjectNode presetJson(String name) {
        return super.presetJson(name).put("num_local_experts", 4).put("num_experts_per_tok", 2);
    }
}
