package dev.braindrip.reference;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * An independent double-precision reference of Microsoft's Phi-3-small ({@code model_type}
 * "phi3small"), written as plain loops from its remote modeling code (modeling_phi3_small.py,
 * configuration_phi3_small.py, positional_embedding.py, triton_flash_blocksparse_attn.py of
 * microsoft/Phi-3-small-8k-instruct), for a model that transformers itself cannot run without
 * trust_remote_code and Triton. One sequence, no padding, positions 0..S−1. Shares no code with
 * the library's fast path (config.json and the weights by their Hugging Face names only).
 *
 * <p>What it computes, per Phi3SmallForCausalLM.forward (Phi3SmallConfig's defaults for absent fields):
 * <ol>
 *   <li>x = embed_tokens[ids] · mup_embedding_multiplier (when it is > 0).
 *   <li>Each layer: h = LayerNorm(x) (weight, bias, layer_norm_epsilon); qkv = h·Wᵀ + b of
 *       {@code self_attn.query_key_value}, viewed as (num_kv_heads, q_per_kv + 2, head_dim): per KV
 *       group g its query heads g·r + j, then k_g, then v_g; RoPE rotate_half with
 *       angle = t·rope_position_scale·base^(−2i/d) on q and k; scores q·k × mup_attn_multiplier / d
 *       (mup_use_scaling; else 1/√d) over keys j ≤ t; in a block-sparse layer (layer l with
 *       dense_attention_every_n_layers unset or (l + 1) mod n ≠ 0) only keys whose block
 *       kb = ⌊j/B⌋ satisfies qb − kb &lt; local_blocks or (kb + h·step + 1) mod vert_stride = 0
 *       (qb = ⌊t/B⌋, step = max(1, ⌊vert_stride/heads⌋), 0 with blocksparse_homo_head_pattern);
 *       softmax, times V, {@code self_attn.dense}; x += that.
 *   <li>h = LayerNorm(x); a = {@code mlp.up_proj}(h): gate a[2i], linear a[2i + 1]; gate clamped
 *       ≤ gegelu_limit and linear to ±gegelu_limit unless infinite (no clamp when the limit is
 *       null); y = gate·σ(1.702·gate)·(linear + 1); x += {@code mlp.down_proj}(y).
 *   <li>logits = final_layernorm(x)·Eᵀ (E = embed_tokens, or lm_head when tie_word_embeddings is
 *       false) ÷ mup_width_multiplier; the dummy_token_indices (config.json's, or the tokenizer's
 *       dummy and unused special tokens below vocab_size) set to finfo(float32).min.
 * </ol>
 * LongRoPE (rope_scaling) is not covered.
 */
public final class Phi3SmallReference {
    /** torch.finfo(torch.float32).min, the masked_fill value of the dummy tokens. */
    public static final double FLOAT32_MIN = -(2 - Math.pow(2, -23)) * Math.pow(2, 127);

    private final HfRefWeights w;
    private final Map<String, double[]> cache = new HashMap<>();
    private final int hidden, layers, heads, kvHeads, headDim, vocab, inter;
    private final double eps, embMult, widthMult, scale, base, posScale;
    private final Double limit; // null: no clamp
    private final int denseEvery, block, localBlocks, vertStride;
    private final boolean homoHeads, tied;
    private final List<Integer> dummy;

    private Phi3SmallReference(JsonNode c, HfRefWeights w) {
        this.w = w;
        String type = text(c, "model_type", null);
        if (!"phi3small".equals(type)) throw new IllegalArgumentException("Phi3SmallReference: model_type '" + type + "' is not phi3small");
        if (c.hasNonNull("rope_scaling")) throw new IllegalArgumentException("Phi3SmallReference: rope_scaling (LongRoPE) is not covered");
        vocab = integer(c, "vocab_size", 100352);
        hidden = integer(c, "hidden_size", 4096);
        layers = integer(c, "num_hidden_layers", 32);
        heads = integer(c, "num_attention_heads", 32);
        kvHeads = integer(c, "num_key_value_heads", 8);
        headDim = hidden / heads;
        eps = number(c, "layer_norm_epsilon", 1e-5);
        // intermediate_size property: ff_intermediate_size, else ff_dim_multiplier * (hidden // 3) * 2 (padded to 256)
        if (c.has("ff_intermediate_size") && !c.get("ff_intermediate_size").isNull()) {
            inter = c.get("ff_intermediate_size").asInt();
        } else if (!c.has("ff_intermediate_size")) {
            inter = 14336;
        } else {
            int f = c.get("ff_dim_multiplier").asInt() * (hidden / 3) * 2;
            inter = bool(c, "gegelu_pad_to_256", true) ? (f + 255) / 256 * 256 : f;
        }
        Double lim = c.has("gegelu_limit") ? (c.get("gegelu_limit").isNull() ? null : c.get("gegelu_limit").asDouble()) : Double.valueOf(20.0);
        limit = lim;
        embMult = number(c, "mup_embedding_multiplier", 10.0);
        widthMult = number(c, "mup_width_multiplier", 8.0);
        double attnMult = number(c, "mup_attn_multiplier", 1.0);
        scale = bool(c, "mup_use_scaling", true) ? 1.0 / (headDim / attnMult) : 1.0 / Math.sqrt(headDim);
        base = number(c, "rope_embedding_base", 1e6);
        posScale = number(c, "rope_position_scale", 1.0);
        denseEvery = c.has("dense_attention_every_n_layers") ? (c.get("dense_attention_every_n_layers").isNull() ? 0
                : c.get("dense_attention_every_n_layers").asInt()) : 2;
        block = integer(c, "blocksparse_block_size", 64);
        localBlocks = integer(c, "blocksparse_num_local_blocks", 16);
        vertStride = integer(c, "blocksparse_vert_stride", 8);
        homoHeads = bool(c, "blocksparse_homo_head_pattern", false);
        tied = bool(c, "tie_word_embeddings", true);
        List<Integer> d = new ArrayList<>();
        if (c.has("dummy_token_indices")) {
            if (c.get("dummy_token_indices").isArray()) for (JsonNode n : c.get("dummy_token_indices")) d.add(n.asInt());
        } else {
            int[] specials = {100256, 100258, 100259, 100260, 100264, 100265};
            for (int t : specials) if (t < vocab) d.add(t);
            for (int t = 100267; t < 100352; t++) if (t < vocab) d.add(t);
        }
        dummy = d;
        if (!"gegelu".equals(text(c, "hidden_act", "gegelu"))) throw new IllegalArgumentException("Phi3SmallReference: hidden_act must be gegelu");
    }

    /** config: the parsed config.json. */
    public static Phi3SmallReference of(JsonNode config, HfRefWeights weights) {
        if (config == null || weights == null) throw new IllegalArgumentException("config and weights are required");
        return new Phi3SmallReference(config, weights);
    }

    /** Whether layer {@code l} is block-sparse. */
    public boolean isBlockSparse(int l) {
        return !(denseEvery > 0 && (l + 1) % denseEvery == 0);
    }

    /** Logits (S, V) of one sequence at positions 0..S−1. */
    public double[][] forward(int[] tokens) {
        int S = tokens.length;
        double[] emb = tensor("model.embed_tokens.weight", vocab, hidden);
        double[][] x = new double[S][hidden];
        for (int t = 0; t < S; t++) {
            if (tokens[t] < 0 || tokens[t] >= vocab) throw new IllegalArgumentException("token " + tokens[t] + " out of range");
            for (int i = 0; i < hidden; i++) {
                x[t][i] = emb[tokens[t] * hidden + i];
                if (embMult > 0) x[t][i] *= embMult;
            }
        }
        for (int l = 0; l < layers; l++) {
            String p = "model.layers." + l + ".";
            double[][] a = attention(l, p, x);
            for (int t = 0; t < S; t++) for (int i = 0; i < hidden; i++) x[t][i] += a[t][i];
            double[] nw = tensor(p + "post_attention_layernorm.weight", hidden), nb = tensor(p + "post_attention_layernorm.bias", hidden);
            for (int t = 0; t < S; t++) {
                double[] m = mlp(p, layerNorm(x[t], nw, nb));
                for (int i = 0; i < hidden; i++) x[t][i] += m[i];
            }
        }
        double[] fw = tensor("model.final_layernorm.weight", hidden), fb = tensor("model.final_layernorm.bias", hidden);
        double[] head = tied ? emb : tensor("lm_head.weight", vocab, hidden);
        double[][] logits = new double[S][vocab];
        for (int t = 0; t < S; t++) {
            double[] h = layerNorm(x[t], fw, fb);
            for (int v = 0; v < vocab; v++) {
                double s = 0;
                for (int i = 0; i < hidden; i++) s += head[v * hidden + i] * h[i];
                logits[t][v] = widthMult != 0 ? s / widthMult : s;
            }
            for (int v : dummy) logits[t][v] = FLOAT32_MIN;
        }
        return logits;
    }

    // ---- attention

    private double[][] attention(int l, String p, double[][] x) {
        int S = x.length, r = heads / kvHeads, d = headDim;
        int rows = (heads + 2 * kvHeads) * d;
        double[] nw = tensor(p + "input_layernorm.weight", hidden), nb = tensor(p + "input_layernorm.bias", hidden);
        double[] wqkv = tensor(p + "self_attn.query_key_value.weight", rows, hidden), bqkv = tensor(p + "self_attn.query_key_value.bias", rows);
        // q: (S, heads, d), k, v: (S, kvHeads, d)
        double[][][] q = new double[S][heads][], k = new double[S][kvHeads][], v = new double[S][kvHeads][];
        for (int t = 0; t < S; t++) {
            double[] mixed = linear(wqkv, bqkv, layerNorm(x[t], nw, nb), rows, hidden);
            for (int g = 0; g < kvHeads; g++) {
                int groupRow = g * (r + 2) * d;
                for (int j = 0; j < r; j++) q[t][g * r + j] = Arrays.copyOfRange(mixed, groupRow + j * d, groupRow + (j + 1) * d);
                k[t][g] = Arrays.copyOfRange(mixed, groupRow + r * d, groupRow + (r + 1) * d);
                v[t][g] = Arrays.copyOfRange(mixed, groupRow + (r + 1) * d, groupRow + (r + 2) * d);
            }
            for (int h = 0; h < heads; h++) q[t][h] = rope(q[t][h], t);
            for (int g = 0; g < kvHeads; g++) k[t][g] = rope(k[t][g], t);
        }
        boolean sparse = isBlockSparse(l);
        int step = homoHeads ? 0 : Math.max(1, vertStride / heads);
        double[][] out = new double[S][hidden];
        double[] wd = tensor(p + "self_attn.dense.weight", hidden, hidden), bd = tensor(p + "self_attn.dense.bias", hidden);
        for (int t = 0; t < S; t++) {
            double[] o = new double[heads * d];
            for (int h = 0; h < heads; h++) {
                int g = h / r;
                double[] s = new double[t + 1];
                boolean[] seen = new boolean[t + 1];
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j <= t; j++) {
                    seen[j] = !sparse || visible(h, t / block, j / block, step);
                    if (!seen[j]) continue;
                    double dot = 0;
                    for (int i = 0; i < d; i++) dot += q[t][h][i] * k[j][g][i];
                    s[j] = dot * scale;
                    max = Math.max(max, s[j]);
                }
                if (max == Double.NEGATIVE_INFINITY) continue; // nothing visible: zeros
                double sum = 0;
                for (int j = 0; j <= t; j++) {
                    s[j] = seen[j] ? Math.exp(s[j] - max) : 0;
                    sum += s[j];
                }
                for (int j = 0; j <= t; j++) {
                    if (!seen[j]) continue;
                    for (int i = 0; i < d; i++) o[h * d + i] += s[j] / sum * v[j][g][i];
                }
            }
            out[t] = linear(wd, bd, o, hidden, heads * d);
        }
        return out;
    }

    /** Block (qb, kb) listed for query head h: kb ≤ qb and (local or the head's vertical stride). */
    private boolean visible(int h, int qb, int kb, int step) {
        return qb >= kb && (qb - kb < localBlocks || (kb + h * step + 1) % vertStride == 0);
    }

    /** rotate_half RoPE of one head at position t: x·cos + rotate_half(x)·sin over cat(freqs, freqs). */
    private double[] rope(double[] x, int t) {
        int d = x.length, half = d / 2;
        double[] y = new double[d];
        for (int i = 0; i < half; i++) {
            double invFreq = 1.0 / Math.pow(base, (2.0 * i) / d);
            double angle = t * posScale * invFreq;
            double c = Math.cos(angle), s = Math.sin(angle);
            y[i] = x[i] * c - x[i + half] * s;
            y[i + half] = x[i + half] * c + x[i] * s;
        }
        return y;
    }

    // ---- MLP

    private double[] mlp(String p, double[] h) {
        double[] up = linear(tensor(p + "mlp.up_proj.weight", 2L * inter, hidden), tensor(p + "mlp.up_proj.bias", 2L * inter), h, 2 * inter, hidden);
        double[] y = new double[inter];
        for (int i = 0; i < inter; i++) {
            double g = up[2 * i], u = up[2 * i + 1];
            if (limit != null) {
                if (!Double.isInfinite(g)) g = Math.min(g, limit);
                if (!Double.isInfinite(u)) u = Math.max(-limit, Math.min(limit, u));
            }
            y[i] = g / (1 + Math.exp(-1.702 * g)) * (u + 1);
        }
        return linear(tensor(p + "mlp.down_proj.weight", hidden, inter), tensor(p + "mlp.down_proj.bias", hidden), y, hidden, inter);
    }

    // ---- helpers

    private double[] layerNorm(double[] x, double[] wt, double[] b) {
        int n = x.length;
        double mean = 0;
        for (double v : x) mean += v;
        mean /= n;
        double var = 0;
        for (double v : x) var += (v - mean) * (v - mean);
        var /= n;
        double inv = 1 / Math.sqrt(var + eps);
        double[] y = new double[n];
        for (int i = 0; i < n; i++) y[i] = (x[i] - mean) * inv * wt[i] + b[i];
        return y;
    }

    /** y = W x + b; W: (out, in) row-major. */
    private static double[] linear(double[] wt, double[] b, double[] x, int out, int in) {
        double[] y = new double[out];
        for (int o = 0; o < out; o++) {
            double s = b[o];
            for (int i = 0; i < in; i++) s += wt[o * in + i] * x[i];
            y[o] = s;
        }
        return y;
    }

    private double[] tensor(String name, long... shape) {
        double[] t = cache.get(name);
        if (t != null) return t;
        if (!w.has(name)) throw new IllegalArgumentException("Phi3SmallReference: missing tensor " + name);
        long[] got = w.shape(name);
        if (!Arrays.equals(got, shape)) {
            throw new IllegalArgumentException("Phi3SmallReference: tensor " + name + " has shape " + Arrays.toString(got) + ", expected "
                    + Arrays.toString(shape));
        }
        t = w.get(name);
        cache.put(name, t);
        return t;
    }

    private static int integer(JsonNode c, String f, int dflt) {
        return c.hasNonNull(f) ? c.get(f).asInt() : dflt;
    }

    private static double number(JsonNode c, String f, double dflt) {
        if (!c.has(f)) return dflt;
        return c.get(f).isNull() ? 0 : c.get(f).asDouble();
    }

    private static boolean bool(JsonNode c, String f, boolean dflt) {
        return c.hasNonNull(f) ? c.get(f).asBoolean() : dflt;
    }

    private static String text(JsonNode c, String f, String dflt) {
        return c.hasNonNull(f) ? c.get(f).asText() : dflt;
    }
}
