package dev.braindrip.model;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.braindrip.model.ModelConfig.FfnActivation;
import dev.braindrip.tensor.DType;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Hugging Face {@code gpt_oss}: Llama-like attention with q/k/v/o biases (attention_bias is forced
 * true), explicit head_dim, learned per-head sinks {@code self_attn.sinks} (kept F32) on every layer,
 * {@code layer_types} choosing sliding (window sliding_window) or full attention; YaRN RoPE; every
 * FFN a MoE: router {@code mlp.router.{weight,bias}} (bias F32), top-k of the logits then softmax
 * over those k; experts {@code mlp.experts.gate_up_proj} (E, H, 2I) applied as x·W with gate in the
 * even columns and up in the odd ones (kept transposed: (E, 2I, H) in the interleaved layout),
 * {@code down_proj} (E, I, H) (kept (E, H, I)), their biases, and the clamped SwiGLU
 * (swiglu_limit 7). Fields config.json leaves out take GptOssConfig's defaults.
 *
 * <p>Released checkpoints store the experts in MXFP4 ({@code gate_up_proj_blocks/_scales},
 * {@code down_proj_blocks/_scales}, already (out, in)); they are dequantized into the model dtype at
 * load. Saving such a model writes dense, unquantized {@code gate_up_proj} / {@code down_proj}.
 */
final class GptOss extends LlamaLike {
    /** The clamp of the expert activation the kernels implement (HF hard-codes it too). */
    static final double SWIGLU_LIMIT = 7.0;

    @Override
    public List<String> modelTypes() {
        return List.of("gpt_oss");
    }

    @Override
    String hfClass() {
        return "GptOssForCausalLM";
    }

    @Override
    int defaultHeadDim() {
        return 64;
    }

    @Override
    public ModelConfig config(HfConfig hf) {
        ModelConfig c = super.config(withDefaults(hf));
        List<LayerSpec> ls = new ArrayList<>();
        for (LayerSpec l : c.layers()) ls.add(l.withLearnedSinks(true));
        try {
            return c.toBuilder().layers(ls).build();
        } catch (IllegalArgumentException e) {
            throw hf.error(e.getMessage());
        }
    }

    /** config.json with GptOssConfig's defaults for the fields it leaves out (a null head_dim stays: hidden / heads). */
    static HfConfig withDefaults(HfConfig hf) {
        ObjectNode o = hf.root().deepCopy();
        putIfAbsent(o, "num_hidden_layers", 36);
        putIfAbsent(o, "num_local_experts", 128);
        putIfAbsent(o, "vocab_size", 201088);
        putIfAbsent(o, "hidden_size", 2880);
        putIfAbsent(o, "intermediate_size", 2880);
        putIfAbsent(o, "head_dim", 64);
        putIfAbsent(o, "num_attention_heads", 64);
        putIfAbsent(o, "num_key_value_heads", 8);
        putIfAbsent(o, "sliding_window", 128);
        putIfAbsent(o, "max_position_embeddings", 131072);
        putIfAbsent(o, "num_experts_per_tok", 4);
        if (!o.has("rope_theta")) o.put("rope_theta", 150000.0);
        if (!o.has("rms_norm_eps")) o.put("rms_norm_eps", 1e-5);
        if (!o.has("tie_word_embeddings")) o.put("tie_word_embeddings", false);
        if (!o.has("rope_scaling")) {
            o.putObject("rope_scaling").put("rope_type", "yarn").put("factor", 32.0).put("beta_fast", 32.0).put("beta_slow", 1.0)
                    .put("truncate", false).put("original_max_position_embeddings", 4096);
        }
        if (!o.hasNonNull("layer_types")) {
            ArrayNode t = o.putArray("layer_types");
            for (int i = 0; i < o.get("num_hidden_layers").asInt(); i++) t.add(i % 2 == 0 ? "sliding_attention" : "full_attention");
        }
        o.put("attention_bias", true);
        o.put("hidden_act", "silu"); // unused: the experts' activation is the clamped SwiGLU
        return new HfConfig(o, hf.file());
    }

    private static void putIfAbsent(ObjectNode o, String field, int value) {
        if (!o.has(field)) o.put(field, value);
    }

    @Override
    LayerSpec.Attention attention(HfConfig hf, int i, int layers) {
        List<String> types = hf.strings("layer_types");
        if (types.size() != layers) throw hf.error("layer_types lists " + types.size() + " layers, num_hidden_layers is " + layers);
        return switch (types.get(i)) {
            case "sliding_attention" -> LayerSpec.Attention.SLIDING;
            case "full_attention" -> LayerSpec.Attention.FULL;
            default -> throw hf.error("layer_types[" + i + "] is '" + types.get(i) + "' (expected sliding_attention or full_attention)");
        };
    }

    @Override
    MoeSpec moe(HfConfig hf) {
        double limit = hf.number("swiglu_limit", SWIGLU_LIMIT);
        if (limit != SWIGLU_LIMIT) throw hf.error("swiglu_limit " + limit + " is not supported (the expert kernels clamp at 7)");
        return new MoeSpec(hf.integer("num_local_experts"), hf.integer("num_experts_per_tok"), MoeSpec.Routing.TOPK_SOFTMAX, false,
                hf.integer("intermediate_size"), true, true, 0, false, limit);
    }

    @Override
    boolean isMoeLayer(HfConfig hf, int i) {
        return true;
    }

    @Override
    void customize(HfConfig hf, ModelConfig.Builder b) {
        b.qkvBias(true).outBias(true).mlpBias(false).activation(FfnActivation.SWIGLU_OSS);
    }

    // ---- weights

    /** Llama's table plus F32 sinks per layer; MXFP4 experts where the checkpoint has their blocks. */
    @Override
    public List<WeightRule> weights(ModelConfig c, Set<String> names) {
        List<WeightRule> out = new ArrayList<>();
        for (WeightRule r : super.weights(c, names)) {
            out.add(quantized(r, names));
            String n = r.name();
            if (n.startsWith("layers.") && n.endsWith(".o.weight")) {
                int i = Integer.parseInt(n.substring("layers.".length(), n.length() - ".o.weight".length()));
                if (c.layer(i).learnedSinks()) {
                    out.add(WeightRule.copy("layers." + i + ".sinks", P + i + ".self_attn.sinks", c.heads()).withDType(DType.F32));
                }
            }
        }
        return out;
    }

    /** An expert matrix rule replaced by its MXFP4 form when the checkpoint holds {@code <name>_blocks}. */
    private static WeightRule quantized(WeightRule r, Set<String> names) {
        if (r.kind() != WeightRule.Kind.TRANSPOSE_LAST2) return r;
        String s = r.sources().get(0);
        if (!names.contains(s + "_blocks")) return r;
        return WeightRule.mxfp4(r.name(), s + "_blocks", s + "_scales", r.shape());
    }

    /** Router with bias; experts kept (E, 2F, H) interleaved and (E, H, F) from the checkpoint's x·W layout, with biases. */
    @Override
    void moeWeights(ModelConfig c, List<WeightRule> w, String l, String hl, long h) {
        MoeSpec m = c.moe();
        long e = m.experts(), f = m.expertFfn();
        String x = hl + "mlp.experts.";
        w.add(WeightRule.copy(l + "router.weight", hl + "mlp.router.weight", e, h));
        w.add(WeightRule.copy(l + "router.bias", hl + "mlp.router.bias", e).withDType(DType.F32));
        w.add(WeightRule.transposeLast2(l + "experts.gate_up", x + "gate_up_proj", e, 2 * f, h));
        w.add(WeightRule.copy(l + "experts.gate_up.bias", x + "gate_up_proj_bias", e, 2 * f));
        w.add(WeightRule.transposeLast2(l + "experts.down", x + "down_proj", e, h, f));
        w.add(WeightRule.copy(l + "experts.down.bias", x + "down_proj_bias", e, h));
    }

    // ---- config.json

    @Override
    public ObjectNode hfConfig(ModelConfig c) {
        ObjectNode o = super.hfConfig(c);
        MoeSpec m = c.moe();
        o.put("intermediate_size", m.expertFfn()).put("num_local_experts", m.experts()).put("num_experts_per_tok", m.topK())
                .put("swiglu_limit", m.swigluLimit());
        int window = 128;
        ArrayNode types = o.putArray("layer_types");
        for (LayerSpec l : c.layers()) {
            if (l.attention() == LayerSpec.Attention.SLIDING) window = l.window();
            types.add(l.attention() == LayerSpec.Attention.SLIDING ? "sliding_attention" : "full_attention");
        }
        o.put("sliding_window", window);
        return o;
    }

    // ---- presets

    /** tiny / small as Llama's, with 4 experts top-2, window 16 / 128, alternating layers and YaRN ×32. */
    @Override
    ObjectNode presetJson(String name) {
        ObjectNode o = super.presetJson(name);
        boolean tiny = name.equals("tiny");
        o.put("intermediate_size", tiny ? 64 : 256).put("num_local_experts", 4).put("num_experts_per_tok", 2)
                .put("sliding_window", tiny ? 16 : 128);
        o.putObject("rope_scaling").put("rope_type", "yarn").put("factor", 32.0).put("beta_fast", 32.0).put("beta_slow", 1.0)
                .put("truncate", false).put("original_max_position_embeddings", o.get("max_position_embeddings").asInt() / 32);
        return o;
    }
}
