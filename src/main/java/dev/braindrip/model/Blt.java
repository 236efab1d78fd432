package dev.braindrip.model;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Hugging Face {@code blt} (BltForCausalLM, the Byte Latent Transformer): config.json with its four
 * sub-configs ({@code patcher_config}, {@code encoder_config}, {@code global_config},
 * {@code decoder_config}) read with Hugging Face's defaults (BLT-1B's), its tensor names, ids =
 * byte + 4 (0 boe, 1 BOS, 2 EOS, 3 pad). The semantics are in {@link ByteLatent} and
 * shared/BLT-NOTES.md.
 *
 * <p>Patching keys of the library's own (a Hugging Face config keeps meaning what it means there):
 * {@code braindrip_patching} "entropy_rise" (the paper's monotonic rule with
 * {@code braindrip_rise_threshold}), "fixed" ({@code braindrip_patch_size} bytes), "space"; absent,
 * Hugging Face's {@code patching_mode} decides (entropy with the patcher, else one byte per patch).
 */
final class Blt implements Architecture {
    static final String P = "model.";

    @Override
    public List<String> modelTypes() {
        return List.of("blt");
    }

    private static LatentSpec.Stage stage(HfConfig top, String key, int hidden, int layers, int heads, int inter, double theta) {
        HfConfig s = top.has(key) ? top.object(key) : new HfConfig(HfConfig.newObject(), top.file());
        int h = s.integer("hidden_size", hidden), n = s.integer("num_attention_heads", heads);
        int kv = s.integer("num_key_value_heads", n);
        // intermediate_size None: int(8 * hidden / 3), as the sub-configs compute it
        int f = s.has("intermediate_size") ? s.integer("intermediate_size") : (int) (8.0 * h / 3);
        double t = s.has("rope_parameters") && s.object("rope_parameters").has("rope_theta") ? s.object("rope_parameters").number("rope_theta")
                : s.number("rope_theta", theta);
        if (s.has("rope_scaling")) throw s.error(key + ".rope_scaling is not supported (plain RoPE only)");
        String act = s.has("hidden_act") ? s.string("hidden_act") : "silu";
        if (!act.equals("silu")) throw s.error(key + ".hidden_act '" + act + "' is not supported (silu)");
        try {
            return new LatentSpec.Stage(h, s.integer("num_hidden_layers", layers), n, kv, f, t, s.number("rms_norm_eps", 1e-5));
        } catch (IllegalArgumentException e) {
            throw top.error(key + ": " + e.getMessage());
        }
    }

    @Override
    public ModelConfig config(HfConfig hf) {
        int vocab = hf.integer("vocab_size", 260);
        if (vocab < 260) throw hf.error("vocab_size (" + vocab + ") must hold the 4 special ids and the 256 bytes (260)");
        boolean patchInForward = hf.bool("patch_in_forward", true);
        LatentSpec.Stage patcher = patchInForward ? stage(hf, "patcher_config", 768, 14, 12, 2048, 10000.0) : null;
        LatentSpec.Stage enc = stage(hf, "encoder_config", 1024, 1, 16, 2816, 500000.0);
        LatentSpec.Stage dec = stage(hf, "decoder_config", 1024, 9, 16, 2816, 500000.0);
        LatentSpec.Stage glob = stage(hf, "global_config", 2048, 25, 16, 5632, 500000.0);
        HfConfig ec = hf.has("encoder_config") ? hf.object("encoder_config") : null, dc = hf.has("decoder_config") ? hf.object("decoder_config") : null;
        int k = hf.integer("cross_attn_k", 2);
        for (HfConfig s : new HfConfig[] {ec, dc}) {
            if (s != null && s.has("cross_attn_k") && s.integer("cross_attn_k") != k) {
                throw hf.error("cross_attn_k (" + k + ") must equal the sub-configs' (" + s.integer("cross_attn_k") + ")");
            }
        }
        boolean encAll = ec != null && ec.bool("cross_attn_all_layers", false), decAll = dc == null || dc.bool("cross_attn_all_layers", true);
        int decGlobal = dc != null ? dc.integer("hidden_size_global", 2048) : 2048;
        List<Integer> sizes = hf.has("encoder_hash_byte_group_size") ? hf.ints("encoder_hash_byte_group_size") : List.of(3, 4, 5, 6, 7, 8);
        int fns = hf.integer("encoder_hash_byte_group_nb_functions", 1), hv = hf.integer("encoder_hash_byte_group_vocab", 500002);
        LatentSpec.Patching patching;
        double threshold = hf.number("patching_threshold", 1.335442066192627);
        int patchSize = 0;
        if (hf.has("braindrip_patching")) {
            String m = hf.string("braindrip_patching");
            patching = switch (m) {
                case "entropy" -> LatentSpec.Patching.ENTROPY;
                case "entropy_rise" -> LatentSpec.Patching.ENTROPY_RISE;
                case "fixed" -> LatentSpec.Patching.FIXED;
                case "space" -> LatentSpec.Patching.SPACE;
                default -> throw hf.error("braindrip_patching '" + m + "' is not one of entropy, entropy_rise, fixed, space");
            };
            if (patching == LatentSpec.Patching.ENTROPY_RISE) threshold = hf.number("braindrip_rise_threshold");
            if (patching == LatentSpec.Patching.FIXED) patchSize = hf.integer("braindrip_patch_size");
            if (patching.needsPatcher() && patcher == null) throw hf.error("braindrip_patching '" + m + "' needs the patcher (patch_in_forward true)");
        } else {
            String mode = hf.has("patching_mode") ? hf.string("patching_mode") : "entropy";
            patching = mode.equals("entropy") && patchInForward ? LatentSpec.Patching.ENTROPY : LatentSpec.Patching.ONES;
            if (patching == LatentSpec.Patching.ENTROPY && hf.has("patch_size") == false && hf.root().has("patch_size")) {
                // patch_size null: Hugging Face's patcher then returns one-byte patches without the empty last one
                throw hf.error("patch_size null with entropy patching is not supported (Hugging Face then ignores the entropies)");
            }
        }
        int maxPatch = hf.integer("max_patch_length", 0);
        if (hf.has("max_patch_length") && maxPatch < 1) throw hf.error("max_patch_length (" + maxPatch + ") must be >= 1 or null");
        try {
            LatentSpec latent = new LatentSpec(patcher, enc, glob, dec, k, encAll, decAll, decGlobal, sizes, fns, hv, patching, threshold,
                    patchSize, maxPatch);
            if (patcher != null && hf.has("patcher_config") && hf.object("patcher_config").integer("vocab_size", 260) != vocab) {
                throw hf.error("patcher_config.vocab_size must equal vocab_size (" + vocab + ")");
            }
            return ModelConfig.builder().architecture("blt").stack(ModelConfig.Stack.BYTE_LATENT).vocabSize(vocab).hidden(dec.hidden())
                    .heads(dec.heads()).kvHeads(dec.kvHeads()).headDim(dec.headDim()).intermediate(dec.intermediate())
                    .maxPositions(hf.integer("max_position_embeddings", 4096)).norm(ModelConfig.NormKind.RMS).normEps(dec.eps())
                    .rope(RopeConfig.of(dec.theta()).withInterleaved(true)).activation(ModelConfig.FfnActivation.SWIGLU).ffnGated(true)
                    .bosTokenId(hf.integer("bos_token_id", 1)).eosTokenIds(hf.has("eos_token_id") ? hf.ints("eos_token_id") : List.of(2))
                    .layers(dec.layers(), LayerSpec.dense()).latent(latent).build();
        } catch (IllegalArgumentException e) {
            throw hf.error(e.getMessage());
        }
    }

    private static ObjectNode stageJson(LatentSpec.Stage s) {
        ObjectNode o = HfConfig.newObject();
        o.put("hidden_size", s.hidden()).put("num_hidden_layers", s.layers()).put("num_attention_heads", s.heads())
                .put("num_key_value_heads", s.kvHeads()).put("intermediate_size", s.intermediate()).put("rope_theta", s.theta())
                .put("rms_norm_eps", s.eps()).put("hidden_act", "silu");
        return o;
    }

    @Override
    public ObjectNode hfConfig(ModelConfig c) {
        LatentSpec l = c.latent();
        ObjectNode o = HfConfig.newObject();
        o.put("model_type", "blt");
        o.putArray("architectures").add("BltForCausalLM");
        o.put("vocab_size", c.vocabSize()).put("max_position_embeddings", c.maxPositions()).put("patch_in_forward", l.patcher() != null)
                .put("patch_size", 4).put("patching_mode", l.patching() == LatentSpec.Patching.ONES ? "byte" : "entropy")
                .put("patching_threshold", l.patching() == LatentSpec.Patching.ENTROPY ? l.threshold() : 1.335442066192627)
                .put("cross_attn_k", l.crossAttnK()).put("encoder_hash_byte_group_vocab", l.hashVocab())
                .put("encoder_hash_byte_group_nb_functions", l.hashFunctions()).put("bos_token_id", c.bosTokenId())
                .put("tie_word_embeddings", false).put("torch_dtype", "float32");
        if (l.maxPatchLength() > 0) o.put("max_patch_length", l.maxPatchLength());
        else o.putNull("max_patch_length");
        ArrayNode sizes = o.putArray("encoder_hash_byte_group_size");
        l.hashSizes().forEach(sizes::add);
        if (c.eosTokenIds().size() == 1) o.put("eos_token_id", c.eosTokenIds().get(0));
        switch (l.patching()) {
            case ENTROPY_RISE -> o.put("braindrip_patching", "entropy_rise").put("braindrip_rise_threshold", l.threshold());
            case FIXED -> o.put("braindrip_patching", "fixed").put("braindrip_patch_size", l.patchSize());
            case SPACE -> o.put("braindrip_patching", "space");
            default -> { }
        }
        if (l.patcher() != null) o.set("patcher_config", stageJson(l.patcher()).put("vocab_size", c.vocabSize()));
        o.set("encoder_config", stageJson(l.encoder()).put("vocab_size", c.vocabSize()).put("cross_attn_all_layers", l.encoderCrossAll())
                .put("cross_attn_k", l.crossAttnK()).put("hidden_size_global", l.global().hidden()));
        o.set("decoder_config", stageJson(l.decoder()).put("vocab_size", c.vocabSize()).put("cross_attn_all_layers", l.decoderCrossAll())
                .put("cross_attn_k", l.crossAttnK()).put("hidden_size_global", l.decoderGlobalHidden()));
        o.set("global_config", stageJson(l.global()));
        return o;
    }

    /** Canonical stage names: {@code <stage>.layers.i.{attn_norm,q,k,v,o,ffn_norm,gate_up,down}}. */
    private static void layers(List<WeightRule> w, String ours, String hf, LatentSpec.Stage s) {
        long h = s.hidden(), hd = s.headDim(), f = s.intermediate();
        for (int i = 0; i < s.layers(); i++) {
            String l = ours + ".layers." + i + ".", hl = hf + ".layers." + i + ".";
            w.add(WeightRule.copy(l + "attn_norm.weight", hl + "input_layernorm.weight", h));
            w.add(WeightRule.copy(l + "q.weight", hl + "self_attn.q_proj.weight", s.heads() * hd, h));
            w.add(WeightRule.copy(l + "k.weight", hl + "self_attn.k_proj.weight", s.kvHeads() * hd, h));
            w.add(WeightRule.copy(l + "v.weight", hl + "self_attn.v_proj.weight", s.kvHeads() * hd, h));
            w.add(WeightRule.copy(l + "o.weight", hl + "self_attn.o_proj.weight", h, s.heads() * hd));
            w.add(WeightRule.copy(l + "ffn_norm.weight", hl + "post_attention_layernorm.weight", h));
            w.add(WeightRule.concat(l + "gate_up.weight", List.of(hl + "mlp.gate_proj.weight", hl + "mlp.up_proj.weight"), 2 * f, h));
            w.add(WeightRule.copy(l + "down.weight", hl + "mlp.down_proj.weight", h, f));
        }
    }

    private static void cross(List<WeightRule> w, String ours, String hf, LatentSpec.Stage s, int n) {
        long h = s.hidden(), hd = s.headDim();
        for (int j = 0; j < n; j++) {
            String l = ours + ".cross." + j + ".", hl = hf + ".cross_attn_layers." + j + ".";
            w.add(WeightRule.copy(l + "q_norm.weight", hl + "q_norm.weight", h));
            w.add(WeightRule.copy(l + "k_norm.weight", hl + "k_norm.weight", h));
            w.add(WeightRule.copy(l + "q.weight", hl + "q_proj.weight", s.heads() * hd, h));
            w.add(WeightRule.copy(l + "k.weight", hl + "k_proj.weight", s.kvHeads() * hd, h));
            w.add(WeightRule.copy(l + "v.weight", hl + "v_proj.weight", s.kvHeads() * hd, h));
            w.add(WeightRule.copy(l + "o.weight", hl + "o_proj.weight", h, s.heads() * hd));
        }
    }

    @Override
    public List<WeightRule> weights(ModelConfig c, Set<String> names) {
        LatentSpec l = c.latent();
        long v = c.vocabSize(), he = l.encoder().hidden(), hg = l.global().hidden(), k = l.crossAttnK();
        List<WeightRule> w = new ArrayList<>();
        if (l.hashRows() > 0) w.add(WeightRule.copy("hash_embed", P + "encoder_hash_tok_embedding.weight", l.hashRows(), he));
        w.add(WeightRule.copy("enc.embed", P + "local_encoder.embed_tokens.weight", v, he));
        if (l.patcher() != null) {
            long hp = l.patcher().hidden();
            w.add(WeightRule.copy("patcher.embed", P + "patcher.embed_tokens.weight", v, hp));
            layers(w, "patcher", P + "patcher", l.patcher());
            w.add(WeightRule.copy("patcher.norm.weight", P + "patcher.norm.weight", hp));
            w.add(WeightRule.copy("patcher.head", P + "patcher.lm_head.weight", v, hp));
        }
        layers(w, "enc", P + "local_encoder", l.encoder());
        w.add(WeightRule.copy("enc.patch_proj.weight", P + "local_encoder.patch_embedding_projection.weight", k * he, he));
        cross(w, "enc", P + "local_encoder", l.encoder(), l.encoderCrossAll() ? l.encoder().layers() : 1);
        if (l.tokenProjection()) w.add(WeightRule.copy("global.token_proj.weight", P + "global_transformer.token_embedding_projection.weight", hg, k * he));
        layers(w, "global", P + "global_transformer", l.global());
        long hdec = l.decoder().hidden();
        w.add(WeightRule.copy("dec.patch_proj.weight", P + "local_decoder.patch_embedding_projection.weight", k * hdec, hg));
        cross(w, "dec", P + "local_decoder", l.decoder(), l.decoderCrossAll() ? l.decoder().layers() : 1);
        layers(w, "dec", P + "local_decoder", l.decoder());
        w.add(WeightRule.copy("dec.norm.weight", P + "local_decoder.norm.weight", hdec));
        w.add(WeightRule.copy("lm_head", "lm_head.weight", v, hdec));
        return w;
    }

    @Override
    public List<String> presets() {
        return List.of("tiny", "small", "blt-1b", "blt-1b-hash64k");
    }

    /**
     * tiny and small for tests (hash vocab 1021 / 16381); blt-1b: Hugging Face's defaults (facebook/blt-1b's shape:
     * encoder 1024 × 1, global 2048 × 25, decoder 1024 × 9, patcher 768 × 14, hash vocab 500002 × 6 sizes: a 3.1B-row-element
     * table, more than init writes in one tensor); blt-1b-hash64k: the same with 65536 hash rows per n-gram size (the same
     * compute per byte, a smaller table), for benchmarks.
     */
    @Override
    public ModelConfig preset(String name) {
        ObjectNode o = HfConfig.newObject().put("model_type", "blt");
        switch (name) {
            case "tiny" -> {
                o.put("encoder_hash_byte_group_vocab", 1021).put("patching_threshold", 5.0).put("max_position_embeddings", 1024);
                o.set("patcher_config", HfConfig.newObject().put("hidden_size", 32).put("num_hidden_layers", 2).put("num_attention_heads", 2)
                        .put("intermediate_size", 64));
                o.set("encoder_config", HfConfig.newObject().put("hidden_size", 32).put("num_hidden_layers", 1).put("num_attention_heads", 2)
                        .put("intermediate_size", 64).put("hidden_size_global", 64));
                o.set("decoder_config", HfConfig.newObject().put("hidden_size", 32).put("num_hidden_layers", 2).put("num_attention_heads", 2)
                        .put("intermediate_size", 64).put("hidden_size_global", 64));
                o.set("global_config", HfConfig.newObject().put("hidden_size", 64).put("num_hidden_layers", 2).put("num_attention_heads", 4)
                        .put("intermediate_size", 128));
            }
            case "small" -> {
                o.put("encoder_hash_byte_group_vocab", 16381).put("patching_threshold", 2.0);
                o.set("patcher_config", HfConfig.newObject().put("hidden_size", 128).put("num_hidden_layers", 2).put("num_attention_heads", 4)
                        .put("intermediate_size", 384));
                o.set("encoder_config", HfConfig.newObject().put("hidden_size", 128).put("num_hidden_layers", 1).put("num_attention_heads", 4)
                        .put("intermediate_size", 384).put("hidden_size_global", 256));
                o.set("decoder_config", HfConfig.newObject().put("hidden_size", 128).put("num_hidden_layers", 2).put("num_attention_heads", 4)
                        .put("intermediate_size", 384).put("hidden_size_global", 256));
                o.set("global_config", HfConfig.newObject().put("hidden_size", 256).put("num_hidden_layers", 4).put("num_attention_heads", 8)
                        .put("intermediate_size", 768));
            }
            case "blt-1b" -> { }
            case "blt-1b-hash64k" -> o.put("encoder_hash_byte_group_vocab", 65536);
            default -> throw new IllegalArgumentException("architecture blt has no preset '" + name + "' (presets: " + String.join(", ", presets()) + ")");
        }
        return config(new HfConfig(o, null));
    }
}
