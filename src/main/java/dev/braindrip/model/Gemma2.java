package dev.braindrip.model;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;

/**
 * Hugging Face {@code gemma2}: embeddings × √hidden, RMSNorm × (1 + w), four norms per layer
 * (sandwich: post-norms on each branch's output before its residual add), GeGLU (tanh), score scale
 * query_pre_attn_scalar^−½, attention softcap and final logit softcap, even layers sliding, tied.
 */
final class Gemma2 extends LlamaLike {
    @Override
    public List<String> modelTypes() {
        return List.of("gemma2");
    }

    @Override
    String hfClass() {
        return "Gemma2ForCausalLM";
    }

    @Override
    boolean tiedByDefault() {
        return true;
    }

    @Override
    int defaultHeadDim() {
        return 256;
    }

    @Override
    int window(HfConfig hf) {
        return hf.integer("sliding_window", 4096);
    }

    @Override
    LayerSpec.Attention attention(HfConfig hf, int i, int layers) {
        return i % 2 == 0 ? LayerSpec.Attention.SLIDING : LayerSpec.Attention.FULL;
    }

    @Override
    void customize(HfConfig hf, ModelConfig.Builder b) {
        String act = hf.has("hidden_activation") ? hf.string("hidden_activation") : "gelu_pytorch_tanh";
        int hidden = hf.integer("hidden_size");
        b.norm(ModelConfig.NormKind.RMS_PLUS_ONE).normPlacement(ModelConfig.NormPlacement.SANDWICH).activation(glu(hf, act))
                .embeddingScale(Math.sqrt(hidden)).attentionScale(1.0 / Math.sqrt(hf.number("query_pre_attn_scalar", 256)))
                .attnSoftcap(hf.number("attn_logit_softcapping", 50.0)).finalSoftcap(hf.number("final_logit_softcapping", 30.0));
        if (hf.root().has("attn_logit_softcapping") && hf.root().get("attn_logit_softcapping").isNull()) b.attnSoftcap(0);
        if (hf.root().has("final_logit_softcapping") && hf.root().get("final_logit_softcapping").isNull()) b.finalSoftcap(0);
    }

    @Override
    void norms(ModelConfig c, List<WeightRule> w, String l, String hl, long h) {
        w.add(WeightRule.copy(l + "post_attn_norm.weight", hl + "post_attention_layernorm.weight", h));
        w.add(WeightRule.copy(l + "ffn_norm.weight", hl + "pre_feedforward_layernorm.weight", h));
        w.add(WeightRule.copy(l + "post_ffn_norm.weight", hl + "post_feedforward_layernorm.weight", h));
    }

    @Override
    public ObjectNode hfConfig(ModelConfig c) {
        ObjectNode o = super.hfConfig(c);
        o.remove("hidden_act");
        o.put("hidden_activation", c.activation() == ModelConfig.FfnActivation.GEGLU ? "gelu" : "gelu_pytorch_tanh");
        double s = c.effectiveAttentionScale();
        o.put("query_pre_attn_scalar", Math.round(1.0 / (s * s)));
        if (c.attnSoftcap() > 0) o.put("attn_logit_softcapping", c.attnSoftcap());
        else o.putNull("attn_logit_softcapping");
        if (c.finalSoftcap() > 0) o.put("final_logit_softcapping", c.finalSoftcap());
        else o.putNull("final_logit_softcapping");
        int w = c.layer(0).attention() == LayerSpec.Attention.SLIDING ? c.layer(0).window() : 4096;
        o.put("sliding_window", w);
        return o;
    }

    @Override
    ObjectNode presetJson(String name) {
        ObjectNode o = super.presetJson(name);
        int hd = o.get("hidden_size").asInt() / o.get("num_attention_heads").asInt();
        return o.put("head_dim", hd).put("query_pre_attn_scalar", hd).put("sliding_window", name.equals("tiny") ? 16 : 256)
                .put("tie_word_embeddings", true);
    }
}
