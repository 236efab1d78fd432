package dev.braindrip.model;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Microsoft's Phi-3-small ({@code phi3small}, remote code on the Hugging Face hub: configuration_phi3_small.py,
 * modeling_phi3_small.py, positional_embedding.py, triton_blocksparse_attention_layer.py and
 * triton_flash_blocksparse_attn.py of microsoft/Phi-3-small-8k-instruct; cross-checked with vLLM's
 * model_executor/models/phi3_small.py and attention/ops/blocksparse_attention/utils.py). Fields
 * config.json leaves out take Phi3SmallConfig's defaults.
 * <ul>
 *   <li>Pre-LayerNorm blocks with biases ({@code input_layernorm}, {@code post_attention_layernorm},
 *       {@code model.final_layernorm}, eps {@code layer_norm_epsilon}); head_dim = hidden / heads.
 *   <li>{@code self_attn.query_key_value} (weight and bias) fuses q, k and v grouped by KV head: per
 *       KV head g its q/kv query heads (heads g·r .. g·r + r − 1), then k_g, then v_g
 *       ({@code _split_heads}); query head h reads KV head h / r. {@code self_attn.dense} with bias.
 *   <li>RoPE split-half (rotate_half) over the whole head, θ = {@code rope_embedding_base}, positions
 *       multiplied by {@code rope_position_scale} (kept as linear scaling by 1 / scale); LongRoPE
 *       ({@code rope_scaling} set, the 128k models) is refused.
 *   <li>muP: embeddings × {@code mup_embedding_multiplier} (when > 0); scores × mup_attn_multiplier /
 *       head_dim when {@code mup_use_scaling} (else 1/√head_dim); logits ÷ {@code mup_width_multiplier}.
 *   <li>{@code mlp.up_proj} (2F, H) with bias holds gate and up INTERLEAVED (gegelu's x[..., ::2] and
 *       x[..., 1::2]); loaded as one [gate; up] matrix (UNINTERLEAVE, inverted on save), then the
 *       clamped GeGELU (quick_gelu(min(g, L))·(clamp(u, −L, L) + 1), ±∞ unclamped, L =
 *       {@code gegelu_limit}, null: no clamp) and {@code mlp.down_proj} with bias. F =
 *       {@code ff_intermediate_size}, or ff_dim_multiplier·⌊hidden/3⌋·2 rounded up to 256 when
 *       gegelu_pad_to_256.
 *   <li>Layer i is dense causal when {@code dense_attention_every_n_layers} n is set and
 *       (i + 1) mod n = 0, else block-sparse over blocks of {@code blocksparse_block_size}: query
 *       block qb sees key block kb ≤ qb when qb − kb &lt; {@code blocksparse_num_local_blocks} or
 *       (kb + h·step + 1) mod {@code blocksparse_vert_stride} = 0, step = max(1, ⌊stride / heads⌋) per
 *       query head h, or 0 with {@code blocksparse_homo_head_pattern}; causal inside; blocks count from
 *       the sequence start, a decode query sits in block ⌊position / block⌋. The layout is
 *       "local:W,hvstride:S" (or "vstride:S") of {@link dev.braindrip.nn.SparseLayouts}.
 *   <li>The LM head is tied to the embeddings unless tie_word_embeddings is false; a tied
 *       {@code lm_head.weight} and {@code rotary_emb.inv_freq} buffers are ignored. The logits of
 *       {@code dummy_token_indices} (when config.json lacks them: the Phi3SmallTokenizer's dummy and
 *       unused special tokens, ids 100256, 100258–100260, 100264, 100265, 100267–100351, those below
 *       vocab_size) are masked to the lowest finite value, as masked_fill(finfo(float32).min).
 * </ul>
 */
final class Phi3Small implements Architecture {
    private static final String P = "model.layers.";

    @Override
    public List<String> modelTypes() {
        return List.of("phi3small");
    }

    @Override
    public ModelConfig config(HfConfig hf) {
        hf = withDefaults(hf);
        if (!hf.string("hidden_act").equals("gegelu")) throw hf.error("hidden_act '" + hf.string("hidden_act") + "' is not supported (gegelu)");
        if (hf.has("rope_scaling")) throw hf.error("rope_scaling (LongRoPE) is not supported; only rope_position_scale");
        int hidden = hf.integer("hidden_size"), heads = hf.integer("num_attention_heads"), kv = hf.integer("num_key_value_heads");
        int layers = hf.integer("num_hidden_layers");
        if (heads <= 0 || hidden % heads != 0) throw hf.error("hidden_size (" + hidden + ") must be divisible by num_attention_heads (" + heads + ")");
        if (kv <= 0 || heads % kv != 0) throw hf.error("num_attention_heads (" + heads + ") must be divisible by num_key_value_heads (" + kv + ")");
        if (layers <= 0) throw hf.error("num_hidden_layers (" + layers + ") must be > 0");
        int headDim = hidden / heads;
        ModelConfig.Builder b = ModelConfig.builder().architecture("phi3small").vocabSize(hf.integer("vocab_size")).hidden(hidden)
                .heads(heads).kvHeads(kv).headDim(headDim).intermediate(intermediate(hf, hidden))
                .maxPositions(hf.integer("max_position_embeddings")).norm(ModelConfig.NormKind.LAYER).normBias(true)
                .normEps(hf.number("layer_norm_epsilon")).rope(rope(hf)).tieEmbeddings(hf.bool("tie_word_embeddings", true))
                .qkvBias(true).outBias(true).mlpBias(true).activation(ModelConfig.FfnActivation.GEGELU_CLAMPED).ffnGated(true)
                .gluLimit(limit(hf)).bosTokenId(hf.ints("bos_token_id").isEmpty() ? -1 : hf.ints("bos_token_id").get(0))
                .eosTokenIds(hf.ints("eos_token_id")).maskedTokens(dummyTokens(hf));
        muP(hf, b, headDim);
        b.layers(layerSpecs(hf, layers));
        try {
            return b.build();
        } catch (IllegalArgumentException e) {
            throw hf.error(e.getMessage());
        }
    }

    /** config.json with Phi3SmallConfig's defaults for the fields it leaves out (an explicit null stays null). */
    static HfConfig withDefaults(HfConfig hf) {
        ObjectNode o = hf.root().deepCopy();
        putIfAbsent(o, "vocab_size", 100352);
        putIfAbsent(o, "max_position_embeddings", 8192);
        putIfAbsent(o, "hidden_size", 4096);
        putIfAbsent(o, "num_hidden_layers", 32);
        putIfAbsent(o, "num_attention_heads", 32);
        putIfAbsent(o, "num_key_value_heads", 8);
        putIfAbsent(o, "ff_intermediate_size", 14336);
        putIfAbsent(o, "blocksparse_block_size", 64);
        putIfAbsent(o, "blocksparse_num_local_blocks", 16);
        putIfAbsent(o, "blocksparse_vert_stride", 8);
        putIfAbsent(o, "dense_attention_every_n_layers", 2);
        putIfAbsent(o, "bos_token_id", 100257);
        putIfAbsent(o, "eos_token_id", 100257);
        if (!o.has("rope_embedding_base")) o.put("rope_embedding_base", 1e6);
        if (!o.has("rope_position_scale")) o.put("rope_position_scale", 1.0);
        if (!o.has("hidden_act")) o.put("hidden_act", "gegelu");
        if (!o.has("gegelu_limit")) o.put("gegelu_limit", 20.0);
        if (!o.has("layer_norm_epsilon")) o.put("layer_norm_epsilon", 1e-5);
        if (!o.has("mup_width_multiplier")) o.put("mup_width_multiplier", 8.0);
        if (!o.has("mup_embedding_multiplier")) o.put("mup_embedding_multiplier", 10.0);
        if (!o.has("mup_attn_multiplier")) o.put("mup_attn_multiplier", 1.0);
        return new HfConfig(o, hf.file());
    }

    private static void putIfAbsent(ObjectNode o, String field, int v) {
        if (!o.has(field)) o.put(field, v);
    }

    /** ff_intermediate_size, or ff_dim_multiplier·⌊hidden/3⌋·2 (rounded up to 256 when gegelu_pad_to_256); exactly one is set. */
    private static int intermediate(HfConfig hf, int hidden) {
        boolean size = hf.has("ff_intermediate_size"), mult = hf.has("ff_dim_multiplier");
        if (size == mult) throw hf.error("exactly one of ff_intermediate_size and ff_dim_multiplier must be set");
        if (size) return hf.integer("ff_intermediate_size");
        int f = hf.integer("ff_dim_multiplier") * (hidden / 3) * 2;
        return hf.bool("gegelu_pad_to_256", true) ? (f + 255) / 256 * 256 : f;
    }

    private static double limit(HfConfig hf) {
        if (!hf.has("gegelu_limit")) return 0;
        double l = hf.number("gegelu_limit");
        if (!(l > 0) || Double.isInfinite(l)) throw hf.error("gegelu_limit (" + l + ") must be finite and > 0, or null for no clamp");
        return l;
    }

    private static RopeConfig rope(HfConfig hf) {
        double theta = hf.number("rope_embedding_base"), s = hf.number("rope_position_scale");
        if (!(s > 0) || Double.isInfinite(s)) throw hf.error("rope_position_scale (" + s + ") must be finite and > 0");
        return s == 1 ? RopeConfig.of(theta) : RopeConfig.linear(theta, 1 / s);
    }

    private static void muP(HfConfig hf, ModelConfig.Builder b, int headDim) {
        double emb = hf.has("mup_embedding_multiplier") ? hf.number("mup_embedding_multiplier") : 0;
        b.embeddingScale(emb > 0 ? emb : 1);
        double width = hf.has("mup_width_multiplier") ? hf.number("mup_width_multiplier") : 0;
        if (width < 0) throw hf.error("mup_width_multiplier (" + width + ") must be > 0 (or 0 / null: no division)");
        b.logitScale(width > 0 ? 1 / width : 1);
        if (hf.bool("mup_use_scaling", true)) {
            double m = hf.number("mup_attn_multiplier");
            if (!(m > 0)) throw hf.error("mup_attn_multiplier (" + m + ") must be > 0");
            b.attentionScale(m / headDim);
        }
    }

    /** The dummy tokens of Phi3SmallTokenizer (tokenization_phi3_small.py, cl100k_base plus padding to 100352). */
    static List<Integer> tokenizerDummyTokens() {
        List<Integer> ids = new ArrayList<>(List.of(100256, 100258, 100259, 100260, 100264, 100265));
        for (int i = 100267; i < 100352; i++) ids.add(i);
        return ids;
    }

    private static List<Integer> dummyTokens(HfConfig hf) {
        if (hf.root().has("dummy_token_indices")) return hf.ints("dummy_token_indices");
        int vocab = hf.integer("vocab_size");
        return tokenizerDummyTokens().stream().filter(t -> t < vocab).toList();
    }

    private static List<LayerSpec> layerSpecs(HfConfig hf, int layers) {
        int every = hf.has("dense_attention_every_n_layers") ? hf.integer("dense_attention_every_n_layers") : 0;
        if (every < 0) throw hf.error("dense_attention_every_n_layers (" + every + ") must be >= 0 (0 / null: every layer block-sparse)");
        int block = hf.integer("blocksparse_block_size"), local = hf.integer("blocksparse_num_local_blocks");
        int stride = hf.integer("blocksparse_vert_stride");
        int kernelBlock = hf.integer("blocksparse_triton_kernel_block_size", block);
        if (local < 0 || stride < 1) {
            throw hf.error("blocksparse_num_local_blocks (" + local + ") must be >= 0 and blocksparse_vert_stride (" + stride + ") >= 1");
        }
        if (kernelBlock <= 0 || block % kernelBlock != 0) {
            throw hf.error("blocksparse_block_size (" + block + ") must be a multiple of blocksparse_triton_kernel_block_size (" + kernelBlock + ")");
        }
        String vertical = (hf.bool("blocksparse_homo_head_pattern", false) ? "vstride:" : "hvstride:") + stride;
        String pattern = local > 0 ? "local:" + local + "," + vertical : vertical;
        List<LayerSpec> ls = new ArrayList<>();
        for (int i = 0; i < layers; i++) {
            if (every > 0 && (i + 1) % every == 0) {
                ls.add(LayerSpec.dense());
                continue;
            }
            try {
                ls.add(new LayerSpec(LayerSpec.Attention.SPARSE, 0, 0, false, new LayerSpec.SparsePattern(pattern, block), LayerSpec.Ffn.DENSE, 0));
            } catch (IllegalArgumentException e) {
                throw hf.error(e.getMessage() + " (blocksparse_block_size: the kernels take multiples of 64)");
            }
        }
        return ls;
    }

    // ---- weights

    @Override
    public List<WeightRule> weights(ModelConfig c, Set<String> names) {
        List<WeightRule> w = new ArrayList<>();
        long h = c.hidden(), d = c.headDim(), f = c.intermediate();
        int kv = c.kvHeads(), r = c.heads() / kv;
        WeightRule.RowGroups q = new WeightRule.RowGroups(kv, r + 2, 0, r), k = new WeightRule.RowGroups(kv, r + 2, r, 1),
                v = new WeightRule.RowGroups(kv, r + 2, r + 1, 1);
        w.add(WeightRule.copy("embed", "model.embed_tokens.weight", c.vocabSize(), h));
        for (int i = 0; i < c.layerCount(); i++) {
            String l = "layers." + i + ".", hl = P + i + ".", qkv = hl + "self_attn.query_key_value.";
            w.add(WeightRule.copy(l + "attn_norm.weight", hl + "input_layernorm.weight", h));
            w.add(WeightRule.copy(l + "attn_norm.bias", hl + "input_layernorm.bias", h));
            w.add(WeightRule.groupedRows(l + "q.weight", qkv + "weight", q, c.heads() * d, h));
            w.add(WeightRule.groupedRows(l + "k.weight", qkv + "weight", k, kv * d, h));
            w.add(WeightRule.groupedRows(l + "v.weight", qkv + "weight", v, kv * d, h));
            w.add(WeightRule.groupedRows(l + "q.bias", qkv + "bias", q, c.heads() * d));
            w.add(WeightRule.groupedRows(l + "k.bias", qkv + "bias", k, kv * d));
            w.add(WeightRule.groupedRows(l + "v.bias", qkv + "bias", v, kv * d));
            w.add(WeightRule.copy(l + "o.weight", hl + "self_attn.dense.weight", h, c.heads() * d));
            w.add(WeightRule.copy(l + "o.bias", hl + "self_attn.dense.bias", h));
            w.add(WeightRule.copy(l + "ffn_norm.weight", hl + "post_attention_layernorm.weight", h));
            w.add(WeightRule.copy(l + "ffn_norm.bias", hl + "post_attention_layernorm.bias", h));
            w.add(WeightRule.uninterleave(l + "gate_up.weight", hl + "mlp.up_proj.weight", 2, 2 * f, h));
            w.add(WeightRule.uninterleave(l + "gate_up.bias", hl + "mlp.up_proj.bias", 2, 2 * f));
            w.add(WeightRule.copy(l + "down.weight", hl + "mlp.down_proj.weight", h, f));
            w.add(WeightRule.copy(l + "down.bias", hl + "mlp.down_proj.bias", h));
        }
        w.add(WeightRule.copy("final_norm.weight", "model.final_layernorm.weight", h));
        w.add(WeightRule.copy("final_norm.bias", "model.final_layernorm.bias", h));
        if (!c.tieEmbeddings()) w.add(WeightRule.copy("lm_head", "lm_head.weight", c.vocabSize(), h));
        return w;
    }

    /** RoPE buffers; a tied lm_head copy (when untied it is a rule's source, so never asked about). */
    @Override
    public boolean ignored(String name) {
        return name.endsWith("rotary_emb.inv_freq") || name.equals("lm_head.weight");
    }

    // ---- config.json

    @Override
    public ObjectNode hfConfig(ModelConfig c) {
        ObjectNode o = HfConfig.newObject();
        o.put("model_type", "phi3small");
        o.putArray("architectures").add("Phi3SmallForCausalLM");
        o.put("vocab_size", c.vocabSize()).put("hidden_size", c.hidden()).put("num_hidden_layers", c.layerCount())
                .put("num_attention_heads", c.heads()).put("num_key_value_heads", c.kvHeads()).put("max_position_embeddings", c.maxPositions())
                .put("hidden_act", "gegelu").putNull("ff_dim_multiplier").put("ff_intermediate_size", c.intermediate())
                .put("gegelu_pad_to_256", true).put("layer_norm_epsilon", c.normEps()).put("tie_word_embeddings", c.tieEmbeddings());
        if (c.gluLimit() > 0) o.put("gegelu_limit", c.gluLimit());
        else o.putNull("gegelu_limit");
        RopeConfig r = c.rope();
        if (r.scaling() != RopeConfig.Scaling.NONE && r.scaling() != RopeConfig.Scaling.LINEAR) {
            throw new IllegalArgumentException("phi3small: RoPE scaling " + r.scaling() + " has no config.json form (rope_position_scale only)");
        }
        o.put("rope_embedding_base", r.theta()).put("rope_position_scale", r.scaling() == RopeConfig.Scaling.LINEAR ? 1 / r.factor() : 1.0);
        o.putNull("rope_scaling");
        o.put("mup_use_scaling", c.attentionScale() > 0).put("mup_attn_multiplier", c.attentionScale() > 0 ? c.attentionScale() * c.headDim() : 1.0)
                .put("mup_embedding_multiplier", c.embeddingScale()).put("mup_width_multiplier", 1 / c.logitScale());
        putSparse(o, c);
        if (c.bosTokenId() >= 0) o.put("bos_token_id", c.bosTokenId());
        else o.putNull("bos_token_id");
        if (c.eosTokenIds().size() == 1) o.put("eos_token_id", c.eosTokenIds().get(0));
        else if (c.eosTokenIds().isEmpty()) o.putNull("eos_token_id");
        else {
            ArrayNode a = o.putArray("eos_token_id");
            c.eosTokenIds().forEach(a::add);
        }
        ArrayNode dummy = o.putArray("dummy_token_indices");
        c.maskedTokens().forEach(dummy::add);
        o.put("torch_dtype", "float32");
        return o;
    }

    /** The blocksparse_* fields and dense_attention_every_n_layers back from the layers (one pattern, dense every n-th). */
    private static void putSparse(ObjectNode o, ModelConfig c) {
        LayerSpec.SparsePattern p = null;
        List<Integer> dense = new ArrayList<>();
        for (int i = 0; i < c.layerCount(); i++) {
            LayerSpec l = c.layer(i);
            if (l.attention() == LayerSpec.Attention.SPARSE) {
                if (p != null && !p.equals(l.sparse())) throw new IllegalArgumentException("phi3small: layers use different sparse patterns");
                p = l.sparse();
            } else if (l.attention() == LayerSpec.Attention.FULL && l.sinkTokens() == 0 && !l.learnedSinks()) {
                dense.add(i);
            } else {
                throw new IllegalArgumentException("phi3small: layer " + i + " (" + l.describe() + ") is neither dense nor block-sparse");
            }
        }
        int every = dense.isEmpty() ? 0 : dense.get(0) + 1;
        for (int i = 0; i < c.layerCount(); i++) {
            if ((every > 0 && (i + 1) % every == 0) != dense.contains(i)) {
                throw new IllegalArgumentException("phi3small: dense layers " + dense + " are not every n-th layer");
            }
        }
        int local = 16, stride = 8, block = 64;
        boolean homo = false;
        if (p != null) {
            block = p.blockSize();
            local = 0;
            stride = -1;
            for (String term : p.pattern().split(",")) {
                String[] kv = term.trim().split(":");
                int n = kv.length == 2 ? Integer.parseInt(kv[1].trim()) : -1;
                switch (kv[0].trim()) {
                    case "local" -> local = n;
                    case "vstride" -> { stride = n; homo = true; }
                    case "hvstride" -> stride = n;
                    default -> stride = -2;
                }
            }
            if (stride < 1) throw new IllegalArgumentException("phi3small: sparse pattern '" + p.pattern() + "' is not local:W,[h]vstride:S");
        }
        o.put("blocksparse_block_size", block).put("blocksparse_num_local_blocks", local).put("blocksparse_vert_stride", stride)
                .put("blocksparse_homo_head_pattern", homo).put("blocksparse_triton_kernel_block_size", block)
                .put("dense_attention_every_n_layers", every);
    }

    // ---- presets

    @Override
    public List<String> presets() {
        return List.of("tiny", "small");
    }

    /** tiny: 2 layers of width 64 (layer 0 block-sparse, layer 1 dense); small: 4 layers of width 256. */
    @Override
    public ModelConfig preset(String name) {
        ObjectNode o = HfConfig.newObject().put("model_type", "phi3small");
        switch (name) {
            case "tiny" -> o.put("vocab_size", 512).put("hidden_size", 64).put("ff_intermediate_size", 128).put("num_hidden_layers", 2)
                    .put("num_attention_heads", 4).put("num_key_value_heads", 2).put("max_position_embeddings", 512)
                    .put("blocksparse_num_local_blocks", 2).put("blocksparse_vert_stride", 4);
            case "small" -> o.put("vocab_size", 4096).put("hidden_size", 256).put("ff_intermediate_size", 704).put("num_hidden_layers", 4)
                    .put("num_attention_heads", 8).put("num_key_value_heads", 2).put("max_position_embeddings", 2048)
                    .put("blocksparse_num_local_blocks", 4).put("blocksparse_vert_stride", 8);
            default -> throw new IllegalArgumentException("architecture phi3small has no preset '" + name + "' (presets: tiny, small)");
        }
        o.putNull("bos_token_id").putNull("eos_token_id");
        return config(new HfConfig(o, null));
    }
}
