package dev.braindrip.reference;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * An independent double-precision reference ("oracle") of Hugging Face's T5 forward pass
 * (T5ForConditionalGeneration, transformers' modeling_t5.py), written as plain loops so that it is
 * obviously right rather than fast. One source and one decoder sequence, no batch, no padding, no
 * cache: positions 0..S−1 and 0..T−1.
 *
 * <p>Semantics (each checked against modeling_t5.py / configuration_t5.py of transformers 4.47.1):
 * <ul>
 *   <li>Embeddings: {@code shared.weight} (vocab, d_model), or else the copy
 *       {@code encoder.embed_tokens.weight} / {@code decoder.embed_tokens.weight} of its stack; no
 *       embedding scale.
 *   <li>T5LayerNorm: w · x / √(mean(x²) + eps) with eps {@code layer_norm_epsilon} (1e-6); no mean
 *       subtraction, no bias. Every sub-layer is pre-norm: x + F(norm(x)); each stack ends with
 *       its {@code final_layer_norm}.
 *   <li>Attention: q, k, v (inner = num_heads · d_kv, which may differ from d_model, by d_model)
 *       and o (d_model by inner), no biases; scores q·kᵀ with NO 1/√d_kv scaling, plus the
 *       position bias, softmax over keys, weighted sum of v, then o.
 *   <li>Relative position bias: the table {@code <stack>.block.0.layer.0.SelfAttention.
 *       relative_attention_bias.weight} (num_buckets, heads) of block 0 serves every self-attention
 *       layer of that stack; query i, key j: bias[bucket(j − i)][h], bucket =
 *       {@link AttentionReference#t5Bucket} (HF's _relative_position_bucket), bidirectional in the
 *       encoder, causal in the decoder (which also sees only keys j ≤ i).
 *   <li>Encoder block l: {@code encoder.block.l.layer.0} self-attention, {@code layer.1} FF.
 *       Decoder block l: {@code layer.0} causal self-attention, {@code layer.1.EncDecAttention}
 *       cross-attention (q from the decoder, k/v from the final encoder states, no position bias,
 *       no mask), {@code layer.2} FF. {@code num_decoder_layers} defaults to {@code num_layers}.
 *   <li>FF ({@code layer.N.DenseReluDense}): wo · act(wi · x), or gated wo · (act(wi_0 · x) ⊙
 *       (wi_1 · x)). {@code feed_forward_proj} "[gated-]ACT" as T5Config parses it: ACT is the
 *       activation, "gated-" the gate; "gated-gelu" means gelu_new (tanh GELU), a plain "gelu" is
 *       the erf GELU. As in HF's from_pretrained, stored {@code dense_act_fn} / {@code is_gated_act}
 *       keys win over what feed_forward_proj implies. ACT ∈ relu, gelu, gelu_new,
 *       gelu_pytorch_tanh, gelu_fast, silu, swish, quick_gelu; others are rejected.
 *   <li>Head: {@code tie_word_embeddings} true or absent: logits = (out · d_model^−½) ·
 *       sharedᵀ; false: logits = {@code lm_head.weight} · out, no rescale.
 * </ul>
 *
 * <p>HF computes T5LayerNorm's variance and the attention softmax in float32 even in a float64 model
 * (and the bucket arithmetic always in float32, which t5Bucket reproduces); this class computes
 * everything else in double, so against HF's float64 outputs expect ~1e-7 relative, not 1e-12.
 */
public final class T5Reference {

    private static final List<String> ACTIVATIONS = List.of(
            "relu", "gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "silu", "swish", "quick_gelu");

    private final JsonNode cfg;
    private final HfRefWeights weights;
    private final Map<String, double[]> cache = new HashMap<>();

    private int dModel;
    private int heads;
    private int dKv;
    private int inner;
    private int dFf;
    private int encLayers;
    private int decLayers;
    private int vocab;
    private int buckets;
    private int maxDistance;
    private double eps;
    private String act;
    private boolean gated;
    private boolean tied;
    private int decoderStart;

    private T5Reference(JsonNode cfg, HfRefWeights weights) {
        this.cfg = cfg;
        this.weights = weights;
    }

    /**
     * config: the parsed config.json (model_type must be "t5", else IllegalArgumentException);
     * weights by HF name. Checks the dimensions and the activation; tensors are read (and their
     * shapes checked) on first use.
     */
    public static T5Reference of(JsonNode config, HfRefWeights weights) {
        if (config == null || weights == null) {
            throw new IllegalArgumentException("config and weights are required");
        }
        JsonNode mt = config.get("model_type");
        String type = mt == null || mt.isNull() ? null : mt.asText();
        if (!"t5".equals(type)) {
            throw new IllegalArgumentException("T5Reference: unsupported model_type "
                    + (type == null ? "(absent)" : "'" + type + "'") + "; only 't5' (T5ForConditionalGeneration)");
        }
        T5Reference r = new T5Reference(config, weights);
        r.init();
        return r;
    }

    private void init() {
        dModel = reqInt("d_model");
        heads = reqInt("num_heads");
        dKv = reqInt("d_kv");
        inner = heads * dKv;
        dFf = reqInt("d_ff");
        encLayers = reqInt("num_layers");
        decLayers = optInt("num_decoder_layers", encLayers);
        vocab = reqInt("vocab_size");
        buckets = optInt("relative_attention_num_buckets", 32);
        maxDistance = optInt("relative_attention_max_distance", 128);
        eps = node("layer_norm_epsilon") == null ? 1e-6 : node("layer_norm_epsilon").asDouble();
        JsonNode tie = node("tie_word_embeddings");
        tied = tie == null || tie.asBoolean();
        decoderStart = optInt("decoder_start_token_id", 0);
        for (int[] d : new int[][] {{dModel}, {heads}, {dKv}, {dFf}, {encLayers}, {decLayers}, {vocab}, {buckets}}) {
            if (d[0] <= 0) {
                throw new IllegalArgumentException("T5Reference: every dimension must be positive: " + cfg);
            }
        }
        // feed_forward_proj as T5Config.__init__ parses it ...
        String ffp = node("feed_forward_proj") == null ? "relu" : node("feed_forward_proj").asText();
        String[] parts = ffp.split("-", -1);
        if (parts.length > 2 || (parts.length == 2 && !parts[0].equals("gated"))) {
            throw new IllegalArgumentException("feed_forward_proj '" + ffp
                    + "' is not of the form 'gated-ACT' or 'ACT' (T5Config)");
        }
        act = parts[parts.length - 1];
        gated = parts[0].equals("gated");
        if (ffp.equals("gated-gelu")) {
            act = "gelu_new"; // T5Config: "for backwards compatibility"
        }
        // ... then the stored dense_act_fn / is_gated_act, which PretrainedConfig sets after it
        if (node("dense_act_fn") != null) {
            act = node("dense_act_fn").asText();
        }
        if (node("is_gated_act") != null) {
            gated = node("is_gated_act").asBoolean();
        }
        if (!ACTIVATIONS.contains(act)) {
            throw new IllegalArgumentException("unsupported T5 activation '" + act + "' (feed_forward_proj '"
                    + ffp + "'); supported: " + String.join(", ", ACTIVATIONS));
        }
    }

    /** The config's decoder_start_token_id (T5: 0, the pad token). */
    public int decoderStartTokenId() {
        return decoderStart;
    }

    /** The encoder's last hidden state (S, d_model), after encoder.final_layer_norm. */
    public double[][] encode(int[] source) {
        checkTokens(source, "source");
        double[][] x = embed("encoder", source);
        double[] table = biasTable("encoder");
        for (int l = 0; l < encLayers; l++) {
            String p = "encoder.block." + l + ".layer.";
            double[][] h = norm(x, p + "0.layer_norm.weight");
            addInto(x, attention(p + "0.SelfAttention.", h, h, table, true, false));
            h = norm(x, p + "1.layer_norm.weight");
            addInto(x, feedForward(p + "1.DenseReluDense.", h));
        }
        return norm(x, "encoder.final_layer_norm.weight");
    }

    /** The decoder's logits (T, V) for decoder input ids {@code decoderIds} given {@code source}. */
    public double[][] logits(int[] source, int[] decoderIds) {
        double[][] enc = encode(source);
        checkTokens(decoderIds, "decoder");
        double[][] x = embed("decoder", decoderIds);
        double[] table = biasTable("decoder");
        for (int l = 0; l < decLayers; l++) {
            String p = "decoder.block." + l + ".layer.";
            double[][] h = norm(x, p + "0.layer_norm.weight");
            addInto(x, attention(p + "0.SelfAttention.", h, h, table, false, true));
            h = norm(x, p + "1.layer_norm.weight");
            addInto(x, attention(p + "1.EncDecAttention.", h, enc, null, false, false));
            h = norm(x, p + "2.layer_norm.weight");
            addInto(x, feedForward(p + "2.DenseReluDense.", h));
        }
        double[][] out = norm(x, "decoder.final_layer_norm.weight");
        double[] head;
        double scale;
        if (tied) {
            head = embeddings("decoder");
            scale = 1.0 / Math.sqrt(dModel);
        } else {
            head = tensor("lm_head.weight", vocab, dModel);
            scale = 1.0;
        }
        double[][] logits = new double[out.length][];
        for (int t = 0; t < out.length; t++) {
            double[] y = out[t].clone();
            for (int i = 0; i < dModel; i++) {
                y[i] *= scale;
            }
            logits[t] = linear(head, y, vocab, dModel);
        }
        return logits;
    }

    // =====================================================================================
    // Blocks
    // =====================================================================================

    /**
     * Multi-head attention of queries from {@code xq} over keys/values from {@code xkv}: prefix is
     * "….SelfAttention." or "….EncDecAttention."; table (buckets, heads) or null for no position
     * bias; causal: query i sees keys j ≤ i only.
     */
    private double[][] attention(String prefix, double[][] xq, double[][] xkv, double[] table,
            boolean bidirectional, boolean causal) {
        double[] wq = tensor(prefix + "q.weight", inner, dModel);
        double[] wk = tensor(prefix + "k.weight", inner, dModel);
        double[] wv = tensor(prefix + "v.weight", inner, dModel);
        double[] wo = tensor(prefix + "o.weight", dModel, inner);
        int T = xq.length;
        int S = xkv.length;
        double[][] q = new double[T][];
        double[][] k = new double[S][];
        double[][] v = new double[S][];
        for (int i = 0; i < T; i++) {
            q[i] = linear(wq, xq[i], inner, dModel);
        }
        for (int j = 0; j < S; j++) {
            k[j] = linear(wk, xkv[j], inner, dModel);
            v[j] = linear(wv, xkv[j], inner, dModel);
        }
        double[][] out = new double[T][];
        for (int i = 0; i < T; i++) {
            double[] ctx = new double[inner];
            for (int h = 0; h < heads; h++) {
                int last = causal ? i : S - 1;
                double[] s = new double[last + 1];
                for (int j = 0; j <= last; j++) {
                    double dot = 0;
                    for (int d = 0; d < dKv; d++) {
                        dot += q[i][h * dKv + d] * k[j][h * dKv + d];
                    }
                    if (table != null) {
                        dot += table[AttentionReference.t5Bucket(j - i, bidirectional, buckets, maxDistance) * heads + h];
                    }
                    s[j] = dot;
                }
                double[] pr = softmax(s);
                for (int j = 0; j <= last; j++) {
                    for (int d = 0; d < dKv; d++) {
                        ctx[h * dKv + d] += pr[j] * v[j][h * dKv + d];
                    }
                }
            }
            out[i] = linear(wo, ctx, dModel, inner);
        }
        return out;
    }

    /** T5DenseActDense / T5DenseGatedActDense on every row. */
    private double[][] feedForward(String prefix, double[][] x) {
        double[] wo = tensor(prefix + "wo.weight", dModel, dFf);
        double[] wi = gated ? null : tensor(prefix + "wi.weight", dFf, dModel);
        double[] wi0 = gated ? tensor(prefix + "wi_0.weight", dFf, dModel) : null;
        double[] wi1 = gated ? tensor(prefix + "wi_1.weight", dFf, dModel) : null;
        double[][] out = new double[x.length][];
        for (int t = 0; t < x.length; t++) {
            double[] hdn;
            if (gated) {
                double[] a = linear(wi0, x[t], dFf, dModel);
                double[] b = linear(wi1, x[t], dFf, dModel);
                hdn = new double[dFf];
                for (int i = 0; i < dFf; i++) {
                    hdn[i] = HfRefMath.act(act, a[i]) * b[i];
                }
            } else {
                hdn = linear(wi, x[t], dFf, dModel);
                for (int i = 0; i < dFf; i++) {
                    hdn[i] = HfRefMath.act(act, hdn[i]);
                }
            }
            out[t] = linear(wo, hdn, dModel, dFf);
        }
        return out;
    }

    /** T5LayerNorm of every row: w · x / √(mean(x²) + eps). */
    private double[][] norm(double[][] x, String weightName) {
        double[] w = tensor(weightName, dModel);
        double[][] y = new double[x.length][dModel];
        for (int t = 0; t < x.length; t++) {
            double ss = 0;
            for (double v : x[t]) {
                ss += v * v;
            }
            double r = 1.0 / Math.sqrt(ss / dModel + eps);
            for (int i = 0; i < dModel; i++) {
                y[t][i] = w[i] * (x[t][i] * r);
            }
        }
        return y;
    }

    private double[][] embed(String stack, int[] ids) {
        double[] e = embeddings(stack);
        double[][] x = new double[ids.length][];
        for (int t = 0; t < ids.length; t++) {
            x[t] = Arrays.copyOfRange(e, ids[t] * dModel, (ids[t] + 1) * dModel);
        }
        return x;
    }

    /** shared.weight, else the stack's embed_tokens copy (either stack's, for the tied head). */
    private double[] embeddings(String stack) {
        String other = stack.equals("encoder") ? "decoder" : "encoder";
        for (String n : new String[] {"shared.weight", stack + ".embed_tokens.weight", other + ".embed_tokens.weight"}) {
            if (weights.has(n)) {
                return tensor(n, vocab, dModel);
            }
        }
        throw new IllegalArgumentException("missing tensor: shared.weight (nor " + stack + ".embed_tokens.weight)");
    }

    private double[] biasTable(String stack) {
        return tensor(stack + ".block.0.layer.0.SelfAttention.relative_attention_bias.weight", buckets, heads);
    }

    // =====================================================================================
    // Helpers
    // =====================================================================================

    private void checkTokens(int[] ids, String what) {
        if (ids == null || ids.length == 0) {
            throw new IllegalArgumentException("need at least one " + what + " token");
        }
        for (int t : ids) {
            if (t < 0 || t >= vocab) {
                throw new IllegalArgumentException(what + " token " + t + " outside vocabulary of " + vocab);
            }
        }
    }

    private JsonNode node(String key) {
        JsonNode n = cfg.get(key);
        return n == null || n.isNull() ? null : n;
    }

    private int reqInt(String key) {
        JsonNode n = node(key);
        if (n == null) {
            throw new IllegalArgumentException("config." + key + " is required for t5");
        }
        return n.asInt();
    }

    private int optInt(String key, int def) {
        JsonNode n = node(key);
        return n == null ? def : n.asInt();
    }

    private double[] tensor(String name, long... shape) {
        if (!weights.has(name)) {
            throw new IllegalArgumentException("missing tensor: " + name);
        }
        long[] s = weights.shape(name);
        if (!Arrays.equals(s, shape)) {
            throw new IllegalArgumentException("tensor " + name + " has shape " + Arrays.toString(s)
                    + ", expected " + Arrays.toString(shape));
        }
        double[] v = cache.get(name);
        if (v == null) {
            v = weights.get(name);
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            if (v.length != n) {
                throw new IllegalArgumentException("tensor " + name + " has " + v.length
                        + " values, its shape says " + n);
            }
            cache.put(name, v);
        }
        return v;
    }

    /** y = W x with W (out, in) row-major (nn.Linear without bias). */
    private static double[] linear(double[] w, double[] x, int out, int in) {
        double[] y = new double[out];
        for (int o = 0; o < out; o++) {
            double s = 0;
            int row = o * in;
            for (int i = 0; i < in; i++) {
                s += w[row + i] * x[i];
            }
            y[o] = s;
        }
        return y;
    }

    private static void addInto(double[][] acc, double[][] v) {
        for (int t = 0; t < acc.length; t++) {
            for (int i = 0; i < acc[t].length; i++) {
                acc[t][i] += v[t][i];
            }
        }
    }

    private static double[] softmax(double[] v) {
        double max = Double.NEGATIVE_INFINITY;
        for (double x : v) {
            max = Math.max(max, x);
        }
        double sum = 0;
        double[] e = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            e[i] = Math.exp(v[i] - max);
            sum += e[i];
        }
        for (int i = 0; i < v.length; i++) {
            e[i] /= sum;
        }
        return e;
    }
}
