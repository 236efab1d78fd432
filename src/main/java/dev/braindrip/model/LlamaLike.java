package dev.braindrip.model;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.braindrip.model.ModelConfig.FfnActivation;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The Llama layout that most decoder checkpoints share (model.embed_tokens, model.layers.N.self_attn
 * .{q,k,v,o}_proj, mlp.{gate,up,down}_proj, input/post_attention_layernorm, model.norm, lm_head) and
 * the config.json fields they share. Each model_type is a small subclass that says what differs.
 */
abstract class LlamaLike implements Architecture {
    static final String P = "model.layers.";

    /** tie_word_embeddings when config.json leaves it out (the HF config class default). */
    boolean tiedByDefault() {
        return false;
    }

    /** head_dim when config.json leaves it out; 0 = hidden / heads. */
    int defaultHeadDim() {
        return 0;
    }

    /** The attention kind of layer i (sliding windows). */
    LayerSpec.Attention attention(HfConfig hf, int i, int layers) {
        return LayerSpec.Attention.FULL;
    }

    /**
     * Layer i: its attention kind, and StreamingLLM sink tokens (the library's own config key
     * {@code attention_sink_tokens}: sliding layers also see the first N tokens).
     */
    LayerSpec layer(HfConfig hf, int i, int layers, LayerSpec.Ffn ffn) {
        LayerSpec.Attention a = attention(hf, i, layers);
        LayerSpec l = a == LayerSpec.Attention.SLIDING ? LayerSpec.sliding(window(hf), ffn) : LayerSpec.full(ffn);
        int sinks = hf.integer("attention_sink_tokens", 0);
        if (sinks < 0) throw hf.error("attention_sink_tokens (" + sinks + ") must be >= 0");
        return sinks > 0 && a == LayerSpec.Attention.SLIDING ? l.withSinkTokens(sinks) : l;
    }

    int window(HfConfig hf) {
        return hf.has("sliding_window") ? hf.integer("sliding_window") : 0;
    }

    /** MoE layers, or null when dense. */
    MoeSpec moe(HfConfig hf) {
        return null;
    }

    boolean isMoeLayer(HfConfig hf, int i) {
        return false;
    }

    /** Extra per-architecture config (biases, norms, softcaps). */
    void customize(HfConfig hf, ModelConfig.Builder b) {}

    @Override
    public ModelConfig config(HfConfig hf) {
        int heads = hf.integer("num_attention_heads");
        int kv = hf.integer("num_key_value_heads", heads);
        int hidden = hf.integer("hidden_size");
        if (heads <= 0) throw hf.error("num_attention_heads (" + heads + ") must be > 0");
        if (kv <= 0 || heads % kv != 0) {
            throw hf.error("num_attention_heads (" + heads + ") must be divisible by num_key_value_heads (" + kv + ")");
        }
        int headDim = hf.has("head_dim") ? hf.integer("head_dim") : (defaultHeadDim() > 0 && !hf.root().has("head_dim") ? defaultHeadDim() : hidden / heads);
        int layers = hf.integer("num_hidden_layers");
        if (layers <= 0) throw hf.error("num_hidden_layers (" + layers + ") must be > 0");
        ModelConfig.Builder b = ModelConfig.builder().architecture(hf.modelType()).vocabSize(hf.integer("vocab_size")).hidden(hidden)
                .heads(heads).kvHeads(kv).headDim(headDim).intermediate(hf.integer("intermediate_size", 0))
                .maxPositions(hf.integer("max_position_embeddings", 2048)).normEps(hf.number("rms_norm_eps", 1e-6))
                .rope(rope(hf)).tieEmbeddings(hf.bool("tie_word_embeddings", tiedByDefault()))
                .activation(glu(hf, hf.has("hidden_act") ? hf.string("hidden_act") : "silu"))
                .bosTokenId(hf.ints("bos_token_id").isEmpty() ? -1 : hf.ints("bos_token_id").get(0)).eosTokenIds(hf.ints("eos_token_id"));
        boolean attnBias = hf.bool("attention_bias", false);
        b.qkvBias(attnBias).outBias(attnBias).mlpBias(hf.bool("mlp_bias", false));
        MoeSpec moe = moe(hf);
        List<LayerSpec> ls = new ArrayList<>();
        for (int i = 0; i < layers; i++) {
            LayerSpec.Ffn ffn = moe != null && isMoeLayer(hf, i) ? LayerSpec.Ffn.MOE : LayerSpec.Ffn.DENSE;
            ls.add(layer(hf, i, layers, ffn));
        }
        b.layers(ls);
        if (ls.stream().anyMatch(l -> l.ffn() == LayerSpec.Ffn.MOE)) b.moe(moe);
        customize(hf, b);
        try {
            return b.build();
        } catch (IllegalArgumentException e) {
            throw hf.error(e.getMessage());
        }
    }

    static FfnActivation glu(HfConfig hf, String act) {
        return switch (act.toLowerCase(Locale.ROOT)) {
            case "silu", "swish" -> FfnActivation.SWIGLU;
            case "gelu_pytorch_tanh", "gelu_tanh", "gelu_new" -> FfnActivation.GEGLU_TANH;
            case "gelu" -> FfnActivation.GEGLU;
            default -> throw hf.error("hidden_act '" + act + "' is not supported (silu, gelu, gelu_pytorch_tanh)");
        };
    }

    /** rope_theta (top level or inside rope_scaling / rope_parameters), partial_rotary_factor and rope_scaling. */
    static RopeConfig rope(HfConfig hf) {
        HfConfig scaling = hf.object("rope_scaling");
        if (scaling == null) scaling = hf.object("rope_parameters");
        double theta = hf.has("rope_theta") ? hf.number("rope_theta") : scaling != null && scaling.has("rope_theta") ? scaling.number("rope_theta") : 10000;
        RopeConfig r = RopeConfig.of(theta);
        if (scaling != null) {
            String type = scaling.has("rope_type") ? scaling.string("rope_type") : scaling.has("type") ? scaling.string("type") : "default";
            switch (type) {
                case "default" -> {}
                case "linear" -> r = RopeConfig.linear(theta, scaling.number("factor"));
                case "llama3" -> r = RopeConfig.llama3(theta, scaling.number("factor"), scaling.number("low_freq_factor"),
                        scaling.number("high_freq_factor"), scaling.integer("original_max_position_embeddings"));
                case "yarn" -> {
                    int orig = scaling.integer("original_max_position_embeddings");
                    double factor = scaling.has("factor") ? scaling.number("factor") : (double) hf.integer("max_position_embeddings") / orig;
                    double bf = scaling.number("beta_fast", 32), bs = scaling.number("beta_slow", 1);
                    r = RopeConfig.yarn(theta, factor, orig, bf == 0 ? 32 : bf, bs == 0 ? 1 : bs, scaling.bool("truncate", true),
                            scaling.number("attention_factor", 0));
                }
                default -> throw hf.error("rope_scaling type '" + type + "' is not supported (default, linear, llama3, yarn)");
            }
        }
        double partial = hf.number("partial_rotary_factor", 1.0);
        if (partial != 1.0) {
            int headDim = hf.has("head_dim") ? hf.integer("head_dim") : hf.integer("hidden_size") / hf.integer("num_attention_heads");
            int rot = (int) (headDim * partial);
            if (rot <= 0 || rot % 2 != 0) throw hf.error("partial_rotary_factor " + partial + " gives an odd or empty rotary dim " + rot);
            r = r.withRotaryDim(rot);
        }
        return r;
    }

    // ---- weights

    @Override
    public List<WeightRule> weights(ModelConfig c, Set<String> names) {
        List<WeightRule> w = new ArrayList<>();
        long h = c.hidden(), q = (long) c.heads() * c.headDim(), kv = (long) c.kvHeads() * c.headDim(), f = c.intermediate();
        w.add(WeightRule.copy("embed", "model.embed_tokens.weight", c.vocabSize(), h));
        for (int i = 0; i < c.layerCount(); i++) {
            String l = "layers." + i + ".", hl = P + i + ".";
            w.add(WeightRule.copy(l + "attn_norm.weight", hl + "input_layernorm.weight", h));
            w.add(WeightRule.copy(l + "q.weight", hl + "self_attn.q_proj.weight", q, h));
            w.add(WeightRule.copy(l + "k.weight", hl + "self_attn.k_proj.weight", kv, h));
            w.add(WeightRule.copy(l + "v.weight", hl + "self_attn.v_proj.weight", kv, h));
            w.add(WeightRule.copy(l + "o.weight", hl + "self_attn.o_proj.weight", h, q));
            if (c.qkvBias()) {
                w.add(WeightRule.copy(l + "q.bias", hl + "self_attn.q_proj.bias", q));
                w.add(WeightRule.copy(l + "k.bias", hl + "self_attn.k_proj.bias", kv));
                w.add(WeightRule.copy(l + "v.bias", hl + "self_attn.v_proj.bias", kv));
            }
            if (c.outBias()) w.add(WeightRule.copy(l + "o.bias", hl + "self_attn.o_proj.bias", h));
            if (c.qkNorm()) {
                w.add(WeightRule.copy(l + "q_norm.weight", hl + "self_attn.q_norm.weight", c.headDim()));
                w.add(WeightRule.copy(l + "k_norm.weight", hl + "self_attn.k_norm.weight", c.headDim()));
            }
            norms(c, w, l, hl, h);
            if (c.layer(i).ffn() == LayerSpec.Ffn.MOE) moeWeights(c, w, l, hl, h);
            else {
                w.add(WeightRule.concat(l + "gate_up.weight", List.of(hl + "mlp.gate_proj.weight", hl + "mlp.up_proj.weight"), 2 * f, h));
                w.add(WeightRule.copy(l + "down.weight", hl + "mlp.down_proj.weight", h, f));
                if (c.mlpBias()) {
                    w.add(WeightRule.concat(l + "gate_up.bias", List.of(hl + "mlp.gate_proj.bias", hl + "mlp.up_proj.bias"), 2 * f));
                    w.add(WeightRule.copy(l + "down.bias", hl + "mlp.down_proj.bias", h));
                }
            }
        }
        w.add(WeightRule.copy("final_norm.weight", "model.norm.weight", h));
        if (!c.tieEmbeddings()) w.add(WeightRule.copy("lm_head", "lm_head.weight", c.vocabSize(), h));
        return w;
    }

    /** Pre-norm: attention and FFN input norms. */
    void norms(ModelConfig c, List<WeightRule> w, String l, String hl, long h) {
        w.add(WeightRule.copy(l + "ffn_norm.weight", hl + "post_attention_layernorm.weight", h));
    }

    /** Experts stacked (E, F, H) from model.layers.N.mlp.experts.E.{gate,up,down}_proj (Qwen-MoE names; Mixtral overrides). */
    void moeWeights(ModelConfig c, List<WeightRule> w, String l, String hl, long h) {
        MoeSpec m = c.moe();
        w.add(WeightRule.copy(l + "router.weight", hl + "mlp.gate.weight", m.experts(), h));
        expertStacks(w, l, hl + "mlp.experts.", "gate_proj", "up_proj", "down_proj", m, h);
        if (m.sharedFfn() > 0) {
            long fs = m.sharedFfn();
            w.add(WeightRule.copy(l + "shared.gate", hl + "mlp.shared_expert.gate_proj.weight", fs, h));
            w.add(WeightRule.copy(l + "shared.up", hl + "mlp.shared_expert.up_proj.weight", fs, h));
            w.add(WeightRule.copy(l + "shared.down", hl + "mlp.shared_expert.down_proj.weight", h, fs));
            if (m.sharedGate()) w.add(WeightRule.copy(l + "shared.router", hl + "mlp.shared_expert_gate.weight", 1, h));
        }
    }

    static void expertStacks(List<WeightRule> w, String l, String prefix, String gate, String up, String down, MoeSpec m, long h) {
        List<String> g = new ArrayList<>(), u = new ArrayList<>(), d = new ArrayList<>();
        for (int e = 0; e < m.experts(); e++) {
            g.add(prefix + e + "." + gate + ".weight");
            u.add(prefix + e + "." + up + ".weight");
            d.add(prefix + e + "." + down + ".weight");
        }
        w.add(WeightRule.concat(l + "experts.gate", g, m.experts(), m.expertFfn(), h));
        w.add(WeightRule.concat(l + "experts.up", u, m.experts(), m.expertFfn(), h));
        w.add(WeightRule.concat(l + "experts.down", d, m.experts(), h, m.expertFfn()));
    }

    @Override
    public boolean ignored(String name) {
        return name.endsWith("rotary_emb.inv_freq");
    }

    // ---- config.json

    @Override
    public ObjectNode hfConfig(ModelConfig c) {
        ObjectNode o = HfConfig.newObject();
        o.put("model_type", modelTypes().get(0));
        o.putArray("architectures").add(hfClass());
        o.put("vocab_size", c.vocabSize());
        o.put("hidden_size", c.hidden());
        o.put("intermediate_size", c.intermediate());
        o.put("num_hidden_layers", c.layerCount());
        o.put("num_attention_heads", c.heads());
        o.put("num_key_value_heads", c.kvHeads());
        o.put("head_dim", c.headDim());
        o.put("max_position_embeddings", c.maxPositions());
        o.put("rms_norm_eps", c.normEps());
        o.put("hidden_act", switch (c.activation()) {
            case GEGLU_TANH -> "gelu_pytorch_tanh";
            case GEGLU -> "gelu";
            default -> "silu";
        });
        o.put("tie_word_embeddings", c.tieEmbeddings());
        o.put("attention_bias", c.qkvBias());
        putRope(o, c.rope(), c.headDim());
        int sinks = c.layers().stream().mapToInt(LayerSpec::sinkTokens).max().orElse(0);
        if (sinks > 0) o.put("attention_sink_tokens", sinks);
        if (c.bosTokenId() >= 0) o.put("bos_token_id", c.bosTokenId());
        if (c.eosTokenIds().size() == 1) o.put("eos_token_id", c.eosTokenIds().get(0));
        else if (!c.eosTokenIds().isEmpty()) {
            ArrayNode a = o.putArray("eos_token_id");
            c.eosTokenIds().forEach(a::add);
        }
        o.put("torch_dtype", "float32");
        return o;
    }

    abstract String hfClass();

    static void putRope(ObjectNode o, RopeConfig r, int headDim) {
        o.put("rope_theta", r.theta());
        if (r.rotaryDim() > 0) o.put("partial_rotary_factor", (double) r.rotaryDim() / headDim);
        switch (r.scaling()) {
            case NONE -> o.putNull("rope_scaling");
            case LINEAR -> o.putObject("rope_scaling").put("rope_type", "linear").put("factor", r.factor());
            case LLAMA3 -> o.putObject("rope_scaling").put("rope_type", "llama3").put("factor", r.factor())
                    .put("low_freq_factor", r.lowFreqFactor()).put("high_freq_factor", r.highFreqFactor())
                    .put("original_max_position_embeddings", r.originalMaxPositions());
            case YARN -> {
                ObjectNode y = o.putObject("rope_scaling").put("rope_type", "yarn").put("factor", r.factor())
                        .put("original_max_position_embeddings", r.originalMaxPositions()).put("beta_fast", r.betaFast())
                        .put("beta_slow", r.betaSlow()).put("truncate", r.truncate());
                if (r.attentionFactor() > 0) y.put("attention_factor", r.attentionFactor());
            }
        }
    }

    // ---- presets

    @Override
    public List<String> presets() {
        return List.of("tiny", "small");
    }

    /** tiny: 2 layers of width 64; small: 4 layers of width 256. */
    @Override
    public ModelConfig preset(String name) {
        HfConfig hf = new HfConfig(presetJson(name), null);
        return config(hf);
    }

    ObjectNode presetJson(String name) {
        ObjectNode o = HfConfig.newObject();
        o.put("model_type", modelTypes().get(0));
        switch (name) {
            case "tiny" -> o.put("vocab_size", 512).put("hidden_size", 64).put("intermediate_size", 128).put("num_hidden_layers", 2)
                    .put("num_attention_heads", 4).put("num_key_value_heads", 2).put("max_position_embeddings", 512);
            case "small" -> o.put("vocab_size", 4096).put("hidden_size", 256).put("intermediate_size", 704).put("num_hidden_layers", 4)
                    .put("num_attention_heads", 8).put("num_key_value_heads", 4).put("max_position_embeddings", 2048);
            default -> throw new IllegalArgumentException("architecture " + modelTypes().get(0) + " has no preset '" + name + "' (presets: "
                    + String.join(", ", presets()) + ")");
        }
        o.put("head_dim", o.get("hidden_size").asInt() / o.get("num_attention_heads").asInt());
        return o;
    }
}
