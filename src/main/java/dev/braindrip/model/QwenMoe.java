package dev.braindrip.model;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;

/**
 * Hugging Face {@code qwen2_moe} (q/k/v biases, shared expert scaled by sigmoid(shared_expert_gate · x))
 * and {@code qwen3_moe} (q/k norm, no shared expert). Layer i is MoE iff i ∉ mlp_only_layers and
 * (i + 1) % decoder_sparse_step == 0; softmax over all experts, top-k, renormalized only with
 * norm_topk_prob; experts mlp.experts.E.{gate,up,down}_proj of moe_intermediate_size.
 */
final class QwenMoe extends LlamaLike {
    private final boolean qwen3;

    QwenMoe(boolean qwen3) {
        this.qwen3 = qwen3;
    }

    @Override
    public List<String> modelTypes() {
        return List.of(qwen3 ? "qwen3_moe" : "qwen2_moe");
    }

    @Override
    String hfClass() {
        return qwen3 ? "Qwen3MoeForCausalLM" : "Qwen2MoeForCausalLM";
    }

    @Override
    LayerSpec.Attention attention(HfConfig hf, int i, int layers) {
        return hf.bool("use_sliding_window", false) && hf.has("sliding_window") ? LayerSpec.Attention.SLIDING : LayerSpec.Attention.FULL;
    }

    @Override
    MoeSpec moe(HfConfig hf) {
        int experts = hf.has("num_experts") ? hf.integer("num_experts") : hf.integer("num_local_experts");
        MoeSpec m = MoeSpec.softmaxTopK(experts, hf.integer("num_experts_per_tok"), hf.bool("norm_topk_prob", false),
                hf.integer("moe_intermediate_size"));
        int shared = qwen3 ? 0 : hf.integer("shared_expert_intermediate_size", 0);
        return shared > 0 ? m.withShared(shared, true) : m;
    }

    @Override
    boolean isMoeLayer(HfConfig hf, int i) {
        List<Integer> only = hf.ints("mlp_only_layers");
        int step = hf.integer("decoder_sparse_step", 1);
        return !only.contains(i) && step > 0 && (i + 1) % step == 0;
    }

    @Override
    void customize(HfConfig hf, ModelConfig.Builder b) {
        if (qwen3) b.qkNorm(true);
        else b.qkvBias(hf.bool("qkv_bias", true)).outBias(false);
    }

    @Override
    public ObjectNode hfConfig(ModelConfig c) {
        ObjectNode o = super.hfConfig(c);
        MoeSpec m = c.moe();
        o.remove("attention_bias");
        o.put("num_experts", m.experts()).put("num_experts_per_tok", m.topK()).put("norm_topk_prob", m.normTopk())
                .put("moe_intermediate_size", m.expertFfn()).put("decoder_sparse_step", 1);
        if (!qwen3) o.put("shared_expert_intermediate_size", m.sharedFfn());
        var only = o.putArray("mlp_only_layers");
        for (int i = 0; i < c.layerCount(); i++) if (c.layer(i).ffn() == LayerSpec.Ffn.DENSE) only.add(i);
        LayerSpec l = c.layer(0);
        o.put("use_sliding_window", l.attention() == LayerSpec.Attention.SLIDING);
        if (l.attention() == LayerSpec.Attention.SLIDING) o.put("sliding_window", l.window());
        return o;
    }

    @Override
    ObjectNode presetJson(String name) {
        ObjectNode o = super.presetJson(name).put("num_experts", 4).put("num_experts_per_tok", 2).put("norm_topk_prob", qwen3)
                .put("moe_intermediate_size", name.equals("tiny") ? 32 : 176);
        if (!qwen3) o.put("shared_expert_intermediate_size", name.equals("tiny") ? 64 : 352);
        return o;
    }
}
