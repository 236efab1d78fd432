package dev.braindrip.model;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Set;

/**
 * The library's own {@code diff_transformer}: the Llama layout with differential attention
 * (Differential Transformer, Ye et al. 2024; microsoft/unilm multihead_diffattn.py). H =
 * num_attention_heads differential heads, each two query/key heads of head_dim d (default
 * hidden / H / 2) and one value head of 2d; Hkv = num_key_value_heads. Per layer:
 * self_attn.q_proj (2H·d, E), k_proj (2Hkv·d, E), v_proj (2Hkv·d, E), o_proj (E, 2H·d),
 * self_attn.lambda_q1 / lambda_k1 / lambda_q2 / lambda_k2 (d), self_attn.subln.weight (2d);
 * λ = exp(λq1·λk1) − exp(λq2·λk2) + λinit(depth = layer index), interleaved RoPE.
 */
final class DiffTransformer extends LlamaLike {
    @Override
    public List<String> modelTypes() {
        return List.of("diff_transformer");
    }

    @Override
    String hfClass() {
        return "DiffTransformerForCausalLM";
    }

    @Override
    LayerSpec layer(HfConfig hf, int i, int layers, LayerSpec.Ffn ffn) {
        return new LayerSpec(LayerSpec.Attention.DIFFERENTIAL, 0, 0, false, null, ffn, 0);
    }

    @Override
    public ModelConfig config(HfConfig hf) {
        int hidden = hf.integer("hidden_size"), heads = hf.integer("num_attention_heads");
        if (heads <= 0 || hidden % (2 * heads) != 0) throw hf.error("hidden_size (" + hidden + ") must be a multiple of 2 * num_attention_heads (" + heads + ")");
        ModelConfig c = super.config(hf);
        int d = hf.has("head_dim") ? hf.integer("head_dim") : hidden / heads / 2;
        RopeConfig r = c.rope().withInterleaved(true);
        return c.toBuilder().headDim(d).rope(r).build();
    }

    @Override
    public List<WeightRule> weights(ModelConfig c, Set<String> names) {
        List<WeightRule> w = super.weights(c, names);
        long h = c.hidden(), d = c.headDim();
        long q = 2L * c.heads() * d, kv = 2L * c.kvHeads() * d;
        w.replaceAll(r -> {
            String n = r.name();
            if (n.endsWith(".q.weight")) return WeightRule.copy(n, r.sources().get(0), q, h);
            if (n.endsWith(".k.weight") || n.endsWith(".v.weight")) return WeightRule.copy(n, r.sources().get(0), kv, h);
            if (n.endsWith(".o.weight")) return WeightRule.copy(n, r.sources().get(0), h, q);
            return r;
        });
        for (int i = 0; i < c.layerCount(); i++) {
            String l = "layers." + i + ".", hl = P + i + ".self_attn.";
            for (String lam : new String[] {"lambda_q1", "lambda_k1", "lambda_q2", "lambda_k2"}) w.add(WeightRule.copy(l + lam, hl + lam, d));
            w.add(WeightRule.copy(l + "subln.weight", hl + "subln.weight", 2 * d));
        }
        return w;
    }

    @Override
    public ObjectNode hfConfig(ModelConfig c) {
        ObjectNode o = super.hfConfig(c);
        o.put("rope_interleaved", true);
        return o;
    }

    @Override
    ObjectNode presetJson(String name) {
        ObjectNode o = super.presetJson(name);
        int hd = o.get("hidden_size").asInt() / o.get("num_attention_heads").asInt() / 2;
        return o.put("head_dim", hd);
    }
}
