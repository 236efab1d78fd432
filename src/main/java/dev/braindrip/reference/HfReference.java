package dev.braindrip.reference;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * An independent double-precision reference ("oracle") of the Hugging Face transformers forward
 * pass, written as plain loops over the HF semantics so that it is obviously right rather than
 * fast. One sequence, no batch, no padding, positions 0..S−1.
 *
 * <p>Supported {@code model_type}s: llama (rope_scaling none, linear, llama3, yarn), mistral,
 * mixtral, qwen2, qwen2_moe, qwen3, qwen3_moe, gemma2, gpt_oss, gpt2, bert, and the library's own
 * sparse_llama, diff_transformer and mod_llama (see below). Causal LMs return the logits (S, V)
 * after any final softcap; bert returns the last hidden state (S, H).
 *
 * <p>The library's own decoder features, written from their contracts (javadoc of
 * dev.braindrip.model.SparseLlama / DiffTransformer / ModLlama / LlamaLike):
 * <ul>
 *   <li>{@code attention_sink_tokens} N (any RoPE decoder): in a sliding-window layer (window W)
 *       query i sees key j iff j ≤ i and (i − W &lt; j or j &lt; N); positions unchanged.
 *   <li>{@code sparse_llama}: Llama plus {@code sparse_pattern}, {@code sparse_block_size} (64),
 *       {@code dense_attention_every_n_layers} n (0: every layer sparse; n &gt; 0: layers with
 *       (i + 1) mod n = 0 dense causal). In a sparse layer query i sees key j iff j ≤ i and key
 *       block ⌊j/blk⌋ is listed for query block ⌊i/blk⌋ by the union of local:W, stride:S,
 *       vstride:S, sink:N and hvstride:S (per query head); a head whose row lists nothing outputs 0.
 *   <li>{@code diff_transformer}: the Llama layout with differential attention
 *       (multihead_diffattn.py): q (S, 2H, d), k (S, 2Hkv, d), v (S, Hkv, 2d), interleaved RoPE,
 *       A = softmax(Q[2h]K[2h/r]ᵀ s) − λ softmax(Q[2h+1]K[(2h+1)/r]ᵀ s), O = A V[h/r], RMSNorm
 *       over 2d (subln, eps 1e-5) × (1 − λinit), λinit = 0.8 − 0.6 e^(−0.3·layer).
 *   <li>{@code mod_llama}: Mixture-of-Depths around {@code mod_layers} (default odd layers): r_t =
 *       x_t · router; the tokens with r_t ≥ threshold run the ordinary block among themselves (at
 *       their original positions) and get x_t += r_t (block(x_P) − x_P)_t; the others pass.
 * </ul>
 *
 * <p>Weights are looked up by their HF names; for the decoder families both the
 * {@code model.}-prefixed (…ForCausalLM) and the bare (…Model) names are accepted, for gpt2 both
 * with and without {@code transformer.}, for bert with and without {@code bert.}.
 */
public final class HfReference {

    private static final List<String> KNOWN = List.of(
            "llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "gemma2",
            "gpt_oss", "gpt2", "bert", "sparse_llama", "diff_transformer", "mod_llama");

    private final JsonNode cfg;
    private final HfRefWeights weights;
    private final String type;
    private final Map<String, double[]> cache = new HashMap<>();

    // ---- dimensions common to all families ----
    private int hidden;
    private int layers;
    private int heads;
    private int kvHeads;
    private int headDim;
    private int vocab;
    private int inter;
    private double eps;
    private String act;
    private boolean tied;

    // ---- RoPE decoders ----
    private String prefix = "";
    /** Sliding window per layer; 0 = full causal attention. */
    private int[] window;
    private double scale;
    private double attnSoftcap; // 0 = none
    private double finalSoftcap; // 0 = none
    private boolean gemma;
    private boolean qkNorm;
    private boolean sinks;
    private double[] invFreq;
    private double ropeAttnFactor = 1.0;

    // ---- the library's own features ----
    /** StreamingLLM sink tokens of sliding-window layers (0 = none). */
    private int sinkTokens;
    /** diff_transformer: every layer is differential attention. */
    private boolean diff;
    /** sparse_llama: which layers are block-sparse, the pattern's terms and the block size. */
    private boolean[] sparseAttn;
    private String[] patternKind;
    private int[] patternArg;
    private int sparseBlock;
    /** mod_llama: which layers are routed. */
    private boolean[] modLayer;

    // ---- MoE ----
    private int experts;
    private int topK;
    private boolean normTopK;
    private int moeInter;
    private int sharedInter;
    private boolean[] sparseLayer;
    private double swigluLimit = 7.0;

    // ---- gpt2 ----
    private boolean gpt2ScaleWeights = true;
    private boolean gpt2ScaleByLayer;

    private HfReference(JsonNode cfg, HfRefWeights weights, String type) {
        this.cfg = cfg;
        this.weights = weights;
        this.type = type;
    }

    /**
     * config: the parsed config.json. Validates model_type (unknown → IllegalArgumentException
     * listing the known ones).
     */
    public static HfReference of(JsonNode config, HfRefWeights weights) {
        if (config == null || weights == null) {
            throw new IllegalArgumentException("config and weights are required");
        }
        JsonNode mt = config.get("model_type");
        String type = mt == null || mt.isNull() ? null : mt.asText();
        if (type == null || !KNOWN.contains(type)) {
            throw new IllegalArgumentException(
                    "unknown model_type " + (type == null ? "(absent)" : "'" + type + "'")
                            + "; known: " + String.join(", ", KNOWN));
        }
        HfReference r = new HfReference(config, weights, type);
        switch (type) {
            case "gpt2":
                r.initGpt2();
                break;
            case "bert":
                r.initBert();
                break;
            default:
                r.initDecoder();
                break;
        }
        return r;
    }

    /** true for bert (the output is the last hidden state, not logits). */
    public boolean isEncoderOnly() {
        return type.equals("bert");
    }

    /**
     * One sequence (no batch, no padding), positions 0..S−1. Causal LMs: logits (S, V) after final
     * softcap etc.; bert: last hidden state (S, H).
     */
    public double[][] forward(int[] tokens) {
        checkTokens(tokens);
        switch (type) {
            case "gpt2":
                return forwardGpt2(tokens);
            case "bert":
                return forwardBert(tokens);
            default:
                return forwardDecoder(tokens);
        }
    }

    private void checkTokens(int[] tokens) {
        if (tokens == null || tokens.length == 0) {
            throw new IllegalArgumentException("need at least one token");
        }
        for (int t : tokens) {
            if (t < 0 || t >= vocab) {
                throw new IllegalArgumentException("token " + t + " outside vocabulary of " + vocab);
            }
        }
    }

    // =====================================================================================
    // Config access
    // =====================================================================================

    private JsonNode node(String key) {
        JsonNode n = cfg.get(key);
        return n == null || n.isNull() ? null : n;
    }

    private int reqInt(String key) {
        JsonNode n = node(key);
        if (n == null) {
            throw new IllegalArgumentException("config." + key + " is required for " + type);
        }
        return n.asInt();
    }

    private int optInt(String key, int def) {
        JsonNode n = node(key);
        return n == null ? def : n.asInt();
    }

    private double optDouble(String key, double def) {
        JsonNode n = node(key);
        return n == null ? def : n.asDouble();
    }

    private boolean optBool(String key, boolean def) {
        JsonNode n = node(key);
        return n == null ? def : n.asBoolean();
    }

    private String optText(String key, String def) {
        JsonNode n = node(key);
        return n == null ? def : n.asText();
    }

    /** Absent → def; explicit null → null; else the value. */
    private Integer nullableInt(String key, Integer def) {
        if (!cfg.has(key)) {
            return def;
        }
        JsonNode n = cfg.get(key);
        return n.isNull() ? null : n.asInt();
    }

    private static double sub(JsonNode obj, String key, double def) {
        JsonNode n = obj == null ? null : obj.get(key);
        return n == null || n.isNull() ? def : n.asDouble();
    }

    private static Double subOrNull(JsonNode obj, String key) {
        JsonNode n = obj == null ? null : obj.get(key);
        return n == null || n.isNull() ? null : n.asDouble();
    }

    // =====================================================================================
    // Weights access
    // =====================================================================================

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

    /** An optional tensor (e.g. a bias): null when absent. */
    private double[] optTensor(String name, long... shape) {
        return weights.has(name) ? tensor(name, shape) : null;
    }

    /** y = W x + b with W (out, in) row-major (nn.Linear). */
    private static double[] linear(double[] w, double[] b, double[] x, int out, int in) {
        double[] y = new double[out];
        for (int o = 0; o < out; o++) {
            double s = 0;
            int row = o * in;
            for (int i = 0; i < in; i++) {
                s += w[row + i] * x[i];
            }
            y[o] = b == null ? s : s + b[o];
        }
        return y;
    }

    /** y = x W + b with W (in, out) row-major (GPT-2 Conv1D). */
    private static double[] conv1d(double[] w, double[] b, double[] x, int in, int out) {
        double[] y = new double[out];
        for (int o = 0; o < out; o++) {
            double s = 0;
            for (int i = 0; i < in; i++) {
                s += x[i] * w[i * out + o];
            }
            y[o] = b == null ? s : s + b[o];
        }
        return y;
    }

    private static double[] rmsNorm(double[] x, double[] w, double eps, boolean onePlus) {
        double ss = 0;
        for (double v : x) {
            ss += v * v;
        }
        double r = 1.0 / Math.sqrt(ss / x.length + eps);
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            y[i] = x[i] * r * (onePlus ? 1.0 + w[i] : w[i]);
        }
        return y;
    }

    private static double[] layerNorm(double[] x, double[] w, double[] b, double eps) {
        int n = x.length;
        double mean = 0;
        for (double v : x) {
            mean += v;
        }
        mean /= n;
        double var = 0;
        for (double v : x) {
            var += (v - mean) * (v - mean);
        }
        var /= n;
        double r = 1.0 / Math.sqrt(var + eps);
        double[] y = new double[n];
        for (int i = 0; i < n; i++) {
            y[i] = (x[i] - mean) * r * w[i] + b[i];
        }
        return y;
    }

    private static double[] row(double[] m, int r, int cols) {
        return Arrays.copyOfRange(m, r * cols, (r + 1) * cols);
    }

    private static void addInto(double[] acc, double[] v) {
        for (int i = 0; i < acc.length; i++) {
            acc[i] += v[i];
        }
    }

    /** Indices of the k largest values, largest first; ties go to the lower index. */
    private static int[] topK(double[] v, int k) {
        Integer[] idx = new Integer[v.length];
        for (int i = 0; i < v.length; i++) {
            idx[i] = i;
        }
        Arrays.sort(idx, (a, b) -> {
            int c = Double.compare(v[b], v[a]);
            return c != 0 ? c : Integer.compare(a, b);
        });
        int[] out = new int[k];
        for (int i = 0; i < k; i++) {
            out[i] = idx[i];
        }
        return out;
    }

    private static double[] softmax(double[] v) {
        double m = Double.NEGATIVE_INFINITY;
        for (double x : v) {
            m = Math.max(m, x);
        }
        double s = 0;
        double[] p = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            p[i] = Math.exp(v[i] - m);
            s += p[i];
        }
        for (int i = 0; i < v.length; i++) {
            p[i] /= s;
        }
        return p;
    }

    // =====================================================================================
    // RoPE decoders: llama, mistral, mixtral, qwen2, qwen2_moe, qwen3, qwen3_moe, gemma2, gpt_oss
    // =====================================================================================

    private void initDecoder() {
        hidden = reqInt("hidden_size");
        layers = reqInt("num_hidden_layers");
        heads = reqInt("num_attention_heads");
        kvHeads = optInt("num_key_value_heads", heads);
        vocab = reqInt("vocab_size");
        // head_dim: absent → the config class's default (Gemma2 256, Qwen3 128, gpt-oss 64, else
        // hidden / heads); explicit null → hidden / heads.
        diff = type.equals("diff_transformer");
        Integer classDefault = type.equals("gemma2") ? Integer.valueOf(256)
                : type.equals("qwen3") ? Integer.valueOf(128)
                : type.equals("gpt_oss") ? Integer.valueOf(64) : null;
        Integer hd = nullableInt("head_dim", classDefault);
        // diff_transformer: d = hidden / H / 2 (each differential head is two query/key heads).
        headDim = hd != null ? hd : diff ? hidden / heads / 2 : hidden / heads;
        if (heads % kvHeads != 0) {
            throw new IllegalArgumentException("num_attention_heads " + heads
                    + " is not a multiple of num_key_value_heads " + kvHeads);
        }
        gemma = type.equals("gemma2");
        qkNorm = type.equals("qwen3") || type.equals("qwen3_moe");
        sinks = type.equals("gpt_oss");
        eps = optDouble("rms_norm_eps",
                type.equals("mixtral") || type.equals("gpt_oss") ? 1e-5 : 1e-6);
        tied = optBool("tie_word_embeddings", gemma);
        if (gemma) {
            act = optText("hidden_activation", "gelu_pytorch_tanh");
            scale = 1.0 / Math.sqrt(optDouble("query_pre_attn_scalar", 256));
            attnSoftcap = cfg.has("attn_logit_softcapping")
                    ? (node("attn_logit_softcapping") == null ? 0 : node("attn_logit_softcapping").asDouble())
                    : 50.0;
            finalSoftcap = cfg.has("final_logit_softcapping")
                    ? (node("final_logit_softcapping") == null ? 0 : node("final_logit_softcapping").asDouble())
                    : 30.0;
        } else {
            act = optText("hidden_act", "silu");
            scale = 1.0 / Math.sqrt(headDim);
        }
        if (!type.equals("gpt_oss")) {
            HfRefMath.checkActivation(act);
        }
        inter = optInt("intermediate_size", 0);
        prefix = weights.has("model.embed_tokens.weight") ? "model." : "";

        initWindows();
        initRope();
        initMoe();
        initOwn();
    }

    /** attention_sink_tokens, sparse_llama's layout and mod_llama's routed layers. */
    private void initOwn() {
        sinkTokens = optInt("attention_sink_tokens", 0);
        if (sinkTokens < 0) {
            throw new IllegalArgumentException("attention_sink_tokens " + sinkTokens + " must be >= 0");
        }
        if (type.equals("sparse_llama")) {
            String pattern = optText("sparse_pattern", null);
            if (pattern == null || pattern.isBlank()) {
                throw new IllegalArgumentException("config.sparse_pattern is required for sparse_llama");
            }
            sparseBlock = optInt("sparse_block_size", 64);
            if (sparseBlock <= 0) {
                throw new IllegalArgumentException("sparse_block_size " + sparseBlock + " must be > 0");
            }
            String[] terms = pattern.split(",");
            patternKind = new String[terms.length];
            patternArg = new int[terms.length];
            for (int t = 0; t < terms.length; t++) {
                String term = terms[t].trim();
                int colon = term.indexOf(':');
                if (colon < 0) {
                    throw new IllegalArgumentException("sparse_pattern term '" + term + "' is not kind:N");
                }
                String kind = term.substring(0, colon).trim();
                if (!List.of("local", "stride", "vstride", "sink", "hvstride").contains(kind)) {
                    throw new IllegalArgumentException("sparse_pattern term '" + term
                            + "': unknown kind (local, stride, vstride, sink, hvstride)");
                }
                int n = Integer.parseInt(term.substring(colon + 1).trim());
                if (n <= 0) {
                    throw new IllegalArgumentException("sparse_pattern term '" + term + "' needs N > 0");
                }
                patternKind[t] = kind;
                patternArg[t] = n;
            }
            int every = optInt("dense_attention_every_n_layers", 0);
            if (every < 0) {
                throw new IllegalArgumentException("dense_attention_every_n_layers " + every + " must be >= 0");
            }
            sparseAttn = new boolean[layers];
            for (int l = 0; l < layers; l++) {
                sparseAttn[l] = !(every > 0 && (l + 1) % every == 0);
            }
        }
        if (type.equals("mod_llama")) {
            modLayer = new boolean[layers];
            JsonNode ml = node("mod_layers");
            if (ml == null) {
                for (int l = 1; l < layers; l += 2) {
                    modLayer[l] = true;
                }
            } else {
                for (JsonNode n : ml) {
                    int l = n.asInt();
                    if (l < 0 || l >= layers) {
                        throw new IllegalArgumentException("mod_layers lists layer " + l + " of " + layers);
                    }
                    modLayer[l] = true;
                }
            }
        }
    }

    /** sparse_llama: whether query head hq's row of query block qb lists key block kb. */
    private boolean blockListed(int hq, int qb, int kb) {
        for (int t = 0; t < patternKind.length; t++) {
            int n = patternArg[t];
            switch (patternKind[t]) {
                case "local":
                    if (qb - n < kb && kb <= qb) {
                        return true;
                    }
                    break;
                case "stride":
                    if (kb <= qb && (qb - kb) % n == 0) {
                        return true;
                    }
                    break;
                case "vstride":
                    if (kb <= qb && (kb + 1) % n == 0) {
                        return true;
                    }
                    break;
                case "sink":
                    if (kb < n) {
                        return true;
                    }
                    break;
                default: // hvstride: Phi-3-small's per-head vertical stride
                    if (kb <= qb && (kb + hq * Math.max(1, n / heads) + 1) % n == 0) {
                        return true;
                    }
                    break;
            }
        }
        return false;
    }

    /**
     * Whether, in layer l, query head hq at position i sees the key at position j: causal, then
     * the layer's sliding window (with sink tokens) or its block-sparse layout.
     */
    private boolean visible(int l, int hq, int i, int j) {
        if (j > i) {
            return false;
        }
        if (sparseAttn != null && sparseAttn[l]) {
            return blockListed(hq, i / sparseBlock, j / sparseBlock);
        }
        int w = window[l];
        if (w > 0) {
            return i - w < j || j < sinkTokens;
        }
        return true;
    }

    /** The keys (indices into the sequence) that query index i of head hq sees, ascending. */
    private int[] visibleKeys(int l, int hq, int i, int[] pos) {
        int[] js = new int[i + 1];
        int n = 0;
        for (int j = 0; j <= i; j++) {
            if (visible(l, hq, pos[i], pos[j])) {
                js[n++] = j;
            }
        }
        return Arrays.copyOf(js, n);
    }

    private void initWindows() {
        window = new int[layers];
        JsonNode lt = node("layer_types");
        switch (type) {
            case "mistral":
            case "mixtral": {
                // Every layer slides when sliding_window is set (MistralConfig default 4096,
                // MixtralConfig default None).
                Integer w = nullableInt("sliding_window", type.equals("mistral") ? 4096 : null);
                if (w != null) {
                    Arrays.fill(window, w);
                }
                break;
            }
            case "qwen2":
            case "qwen3": {
                // The config sets sliding_window = None unless use_sliding_window. From 4.53 on,
                // layer_types (saved in config.json) says per layer, derived as "layers
                // i >= max_window_layers slide". Before 4.53 the eager/sdpa path built ONE sliding
                // mask for every layer (only flash-attention looked at max_window_layers), so a
                // config written by such a version (no layer_types) slides all layers.
                Integer w = optBool("use_sliding_window", false) ? nullableInt("sliding_window", 4096) : null;
                if (lt != null) {
                    fillFromLayerTypes(lt, w);
                } else if (w != null && writtenBefore(4, 53)) {
                    Arrays.fill(window, w);
                } else if (w != null) {
                    int mwl = optInt("max_window_layers", 28);
                    for (int l = 0; l < layers; l++) {
                        if (l >= mwl) {
                            window[l] = w;
                        }
                    }
                }
                break;
            }
            case "qwen2_moe":
            case "qwen3_moe": {
                // The eager/sdpa path builds one sliding mask for all layers when use_sliding_window.
                Integer w = optBool("use_sliding_window", false) ? nullableInt("sliding_window", 4096) : null;
                if (w != null) {
                    Arrays.fill(window, w);
                }
                break;
            }
            case "gemma2":
            case "gpt_oss": {
                Integer w = nullableInt("sliding_window", type.equals("gemma2") ? 4096 : 128);
                if (lt != null) {
                    fillFromLayerTypes(lt, w);
                } else if (w != null) {
                    for (int l = 0; l < layers; l += 2) {
                        window[l] = w; // layers 0, 2, 4, … slide
                    }
                }
                break;
            }
            default:
                break; // llama: full attention everywhere
        }
    }

    /** Whether config.transformers_version is present and older than major.minor. */
    private boolean writtenBefore(int major, int minor) {
        String v = optText("transformers_version", null);
        if (v == null) {
            return false;
        }
        String[] parts = v.split("\\.");
        try {
            int ma = Integer.parseInt(parts[0]);
            int mi = parts.length > 1 ? Integer.parseInt(parts[1].replaceAll("[^0-9].*", "")) : 0;
            return ma < major || (ma == major && mi < minor);
        } catch (NumberFormatException e) {
            return false;
        }
    }

    private void fillFromLayerTypes(JsonNode lt, Integer w) {
        if (!lt.isArray() || lt.size() != layers) {
            throw new IllegalArgumentException("config.layer_types must list " + layers + " entries");
        }
        for (int l = 0; l < layers; l++) {
            String s = lt.get(l).asText();
            if (s.equals("sliding_attention")) {
                window[l] = w == null ? 0 : w;
            } else if (!s.equals("full_attention")) {
                throw new IllegalArgumentException("unsupported layer type '" + s + "' at layer " + l);
            }
        }
    }

    private void initRope() {
        JsonNode rs = node("rope_scaling");
        JsonNode rp = node("rope_parameters");
        JsonNode rope = rs != null ? rs : rp;
        double defTheta = type.equals("mixtral") ? 1e6 : type.equals("gpt_oss") ? 150000.0 : 10000.0;
        double theta = optDouble("rope_theta", sub(rope, "rope_theta", defTheta));
        String ropeType = "default";
        if (rope != null) {
            JsonNode t = rope.get("rope_type");
            if (t == null || t.isNull()) {
                t = rope.get("type");
            }
            if (t != null && !t.isNull()) {
                ropeType = t.asText();
            }
        }
        double prf = optDouble("partial_rotary_factor", sub(rope, "partial_rotary_factor", 1.0));
        if (prf != 1.0) {
            throw new IllegalArgumentException("partial_rotary_factor " + prf + " is not supported for " + type);
        }
        int dim = headDim;
        int half = dim / 2;
        double[] inv = new double[half];
        for (int i = 0; i < half; i++) {
            inv[i] = 1.0 / Math.pow(theta, (2.0 * i) / dim);
        }
        switch (ropeType) {
            case "default":
                break;
            case "linear": {
                double factor = sub(rope, "factor", Double.NaN);
                for (int i = 0; i < half; i++) {
                    inv[i] /= factor;
                }
                break;
            }
            case "llama3": {
                double factor = sub(rope, "factor", Double.NaN);
                double low = sub(rope, "low_freq_factor", Double.NaN);
                double high = sub(rope, "high_freq_factor", Double.NaN);
                double old = sub(rope, "original_max_position_embeddings", Double.NaN);
                double lowWavelen = old / low;
                double highWavelen = old / high;
                for (int i = 0; i < half; i++) {
                    double wavelen = 2 * Math.PI / inv[i];
                    if (wavelen < highWavelen) {
                        continue; // high frequency: kept
                    }
                    if (wavelen > lowWavelen) {
                        inv[i] = inv[i] / factor; // low frequency: divided by factor
                    } else {
                        double smooth = (old / wavelen - low) / (high - low);
                        inv[i] = (1 - smooth) * inv[i] / factor + smooth * inv[i];
                    }
                }
                break;
            }
            case "yarn": {
                Double omp = subOrNull(rope, "original_max_position_embeddings");
                double origMax = omp != null && omp != 0 ? omp : optDouble("max_position_embeddings", Double.NaN);
                Double f = subOrNull(rope, "factor");
                double factor = f != null ? f : optDouble("max_position_embeddings", Double.NaN) / origMax;
                Double attnFactor = subOrNull(rope, "attention_factor");
                Double mscale = subOrNull(rope, "mscale");
                Double mscaleAll = subOrNull(rope, "mscale_all_dim");
                if (attnFactor == null) {
                    if (mscale != null && mscale != 0 && mscaleAll != null && mscaleAll != 0) {
                        attnFactor = yarnMscale(factor, mscale) / yarnMscale(factor, mscaleAll);
                    } else {
                        attnFactor = yarnMscale(factor, 1.0);
                    }
                }
                Double bf = subOrNull(rope, "beta_fast");
                Double bs = subOrNull(rope, "beta_slow");
                double betaFast = bf == null || bf == 0 ? 32 : bf;
                double betaSlow = bs == null || bs == 0 ? 1 : bs;
                JsonNode tr = rope.get("truncate");
                boolean truncate = tr == null || tr.isNull() || tr.asBoolean();
                double lowD = yarnCorrectionDim(betaFast, dim, theta, origMax);
                double highD = yarnCorrectionDim(betaSlow, dim, theta, origMax);
                if (truncate) {
                    lowD = Math.floor(lowD);
                    highD = Math.ceil(highD);
                }
                lowD = Math.max(lowD, 0);
                highD = Math.min(highD, dim - 1);
                if (lowD == highD) {
                    highD += 0.001;
                }
                for (int i = 0; i < half; i++) {
                    double extrap = 1.0 / Math.pow(theta, (2.0 * i) / dim);
                    double interp = extrap / factor;
                    double ramp = Math.min(1.0, Math.max(0.0, (i - lowD) / (highD - lowD)));
                    double extrapFactor = 1.0 - ramp;
                    inv[i] = interp * (1 - extrapFactor) + extrap * extrapFactor;
                }
                ropeAttnFactor = attnFactor;
                break;
            }
            default:
                throw new IllegalArgumentException("unsupported rope type '" + ropeType
                        + "' (supported: default, linear, llama3, yarn)");
        }
        invFreq = inv;
    }

    private static double yarnMscale(double scale, double mscale) {
        return scale <= 1 ? 1.0 : 0.1 * mscale * Math.log(scale) + 1.0;
    }

    private static double yarnCorrectionDim(double rotations, int dim, double base, double maxPos) {
        return (dim * Math.log(maxPos / (rotations * 2 * Math.PI))) / (2 * Math.log(base));
    }

    private void initMoe() {
        sparseLayer = new boolean[layers];
        switch (type) {
            case "mixtral":
                experts = optInt("num_local_experts", 8);
                topK = optInt("num_experts_per_tok", 2);
                Arrays.fill(sparseLayer, true);
                break;
            case "qwen2_moe":
            case "qwen3_moe": {
                boolean q2 = type.equals("qwen2_moe");
                experts = optInt("num_experts", optInt("num_local_experts", q2 ? 60 : 128));
                topK = optInt("num_experts_per_tok", q2 ? 4 : 8);
                normTopK = optBool("norm_topk_prob", false);
                moeInter = optInt("moe_intermediate_size", q2 ? 1408 : 768);
                if (q2) {
                    sharedInter = optInt("shared_expert_intermediate_size", 5632);
                }
                int step = optInt("decoder_sparse_step", 1);
                Set<Integer> mlpOnly = new HashSet<>();
                JsonNode mo = node("mlp_only_layers");
                if (mo != null) {
                    for (JsonNode n : mo) {
                        mlpOnly.add(n.asInt());
                    }
                }
                for (int l = 0; l < layers; l++) {
                    sparseLayer[l] = !mlpOnly.contains(l) && experts > 0 && (l + 1) % step == 0;
                }
                break;
            }
            case "gpt_oss":
                experts = optInt("num_local_experts", 128);
                topK = optInt("num_experts_per_tok", 4);
                swigluLimit = optDouble("swiglu_limit", 7.0);
                Arrays.fill(sparseLayer, true);
                break;
            default:
                break;
        }
    }

    /**
     * mod_llama: the router scores r_t = x_t · router of every routed layer (by layer index) for
     * this sequence, x the residual stream entering the layer; for choosing thresholds in tests.
     */
    public Map<Integer, double[]> routerScores(int[] tokens) {
        if (modLayer == null) {
            throw new IllegalArgumentException(type + " has no Mixture-of-Depths router");
        }
        checkTokens(tokens);
        Map<Integer, double[]> out = new java.util.TreeMap<>();
        forwardDecoder(tokens, out);
        return out;
    }

    private double[][] forwardDecoder(int[] tokens) {
        return forwardDecoder(tokens, null);
    }

    private double[][] forwardDecoder(int[] tokens, Map<Integer, double[]> scores) {
        int S = tokens.length;
        int H = hidden;
        double[] embed = tensor(prefix + "embed_tokens.weight", vocab, H);
        double[][] x = new double[S][];
        for (int t = 0; t < S; t++) {
            x[t] = row(embed, tokens[t], H);
            if (gemma) {
                double norm = Math.sqrt(H);
                for (int i = 0; i < H; i++) {
                    x[t][i] *= norm;
                }
            }
        }
        int[] pos = new int[S];
        for (int t = 0; t < S; t++) {
            pos[t] = t;
        }
        for (int l = 0; l < layers; l++) {
            String lp = prefix + "layers." + l + ".";
            if (modLayer == null || !modLayer[l]) {
                block(l, lp, x, pos);
                continue;
            }
            // Mixture-of-Depths: route, run the block on the passing sub-sequence, gate by r_t.
            double[] router = tensor(lp + "mod_router.weight", 1, H);
            double threshold = tensor(lp + "mod_router.threshold", 1)[0];
            double[] r = new double[S];
            int[] pass = new int[S];
            int np = 0;
            for (int t = 0; t < S; t++) {
                double s = 0;
                for (int i = 0; i < H; i++) {
                    s += x[t][i] * router[i];
                }
                r[t] = s;
                if (s >= threshold) {
                    pass[np++] = t;
                }
            }
            if (scores != null) {
                scores.put(l, r.clone());
            }
            if (np == 0) {
                continue; // the identity
            }
            double[][] sub = new double[np][];
            int[] subPos = new int[np];
            for (int k = 0; k < np; k++) {
                sub[k] = x[pass[k]].clone();
                subPos[k] = pos[pass[k]];
            }
            block(l, lp, sub, subPos);
            for (int k = 0; k < np; k++) {
                int t = pass[k];
                double[] before = x[t];
                double[] after = new double[H];
                for (int i = 0; i < H; i++) {
                    after[i] = before[i] + r[t] * (sub[k][i] - before[i]);
                }
                x[t] = after;
            }
        }
        return head(x);
    }

    /**
     * One decoder block in place on the rows x (S, H) at positions pos (ascending; attention is
     * causal in position among these rows only).
     */
    private void block(int l, String lp, double[][] x, int[] pos) {
        int S = x.length;
        int H = hidden;
        double[] inNorm = tensor(lp + "input_layernorm.weight", H);
        double[][] h = new double[S][];
        for (int t = 0; t < S; t++) {
            h[t] = rmsNorm(x[t], inNorm, eps, gemma);
        }
        double[][] a = diff ? diffAttention(l, lp, h, pos) : attention(l, lp, h, pos);
        if (gemma) {
            double[] pa = tensor(lp + "post_attention_layernorm.weight", H);
            for (int t = 0; t < S; t++) {
                a[t] = rmsNorm(a[t], pa, eps, true);
            }
        }
        for (int t = 0; t < S; t++) {
            addInto(x[t], a[t]);
        }
        double[] preMlp = tensor(lp + (gemma ? "pre_feedforward_layernorm.weight"
                : "post_attention_layernorm.weight"), H);
        double[] postMlp = gemma ? tensor(lp + "post_feedforward_layernorm.weight", H) : null;
        for (int t = 0; t < S; t++) {
            double[] hn = rmsNorm(x[t], preMlp, eps, gemma);
            double[] m = mlp(l, lp, hn);
            if (gemma) {
                m = rmsNorm(m, postMlp, eps, true);
            }
            addInto(x[t], m);
        }
    }

    /** Final norm, LM head and final softcap. */
    private double[][] head(double[][] x) {
        int S = x.length;
        int H = hidden;
        double[] embed = tensor(prefix + "embed_tokens.weight", vocab, H);
        double[] finalNorm = tensor(prefix + "norm.weight", H);
        double[] head;
        if (tied) {
            head = embed;
        } else if (weights.has("lm_head.weight")) {
            head = tensor("lm_head.weight", vocab, H);
        } else {
            throw new IllegalArgumentException("missing tensor: lm_head.weight (tie_word_embeddings is false)");
        }
        double[][] logits = new double[S][];
        for (int t = 0; t < S; t++) {
            double[] hn = rmsNorm(x[t], finalNorm, eps, gemma);
            logits[t] = linear(head, null, hn, vocab, H);
            if (finalSoftcap != 0) {
                for (int v = 0; v < vocab; v++) {
                    logits[t][v] = finalSoftcap * Math.tanh(logits[t][v] / finalSoftcap);
                }
            }
        }
        return logits;
    }

    /**
     * Self-attention of one decoder layer over the rows h at positions pos (RoPE at pos; the mask
     * of {@link #visible} on positions).
     */
    private double[][] attention(int l, String lp, double[][] h, int[] pos) {
        int S = h.length;
        int H = hidden;
        int D = headDim;
        int qDim = heads * D;
        int kvDim = kvHeads * D;
        String ap = lp + "self_attn.";
        double[] wq = tensor(ap + "q_proj.weight", qDim, H);
        double[] bq = optTensor(ap + "q_proj.bias", qDim);
        double[] wk = tensor(ap + "k_proj.weight", kvDim, H);
        double[] bk = optTensor(ap + "k_proj.bias", kvDim);
        double[] wv = tensor(ap + "v_proj.weight", kvDim, H);
        double[] bv = optTensor(ap + "v_proj.bias", kvDim);
        double[] wo = tensor(ap + "o_proj.weight", H, qDim);
        double[] bo = optTensor(ap + "o_proj.bias", H);
        double[] qn = qkNorm ? tensor(ap + "q_norm.weight", D) : null;
        double[] kn = qkNorm ? tensor(ap + "k_norm.weight", D) : null;
        double[] sink = sinks ? tensor(ap + "sinks", heads) : null;

        double[][] q = new double[S][];
        double[][] k = new double[S][];
        double[][] v = new double[S][];
        for (int t = 0; t < S; t++) {
            q[t] = linear(wq, bq, h[t], qDim, H);
            k[t] = linear(wk, bk, h[t], kvDim, H);
            v[t] = linear(wv, bv, h[t], kvDim, H);
            if (qkNorm) {
                normHeads(q[t], heads, D, qn);
                normHeads(k[t], kvHeads, D, kn);
            }
            rope(q[t], heads, D, pos[t]);
            rope(k[t], kvHeads, D, pos[t]);
        }
        int group = heads / kvHeads;
        double[][] out = new double[S][qDim];
        for (int hq = 0; hq < heads; hq++) {
            int hk = hq / group;
            for (int i = 0; i < S; i++) {
                int[] js = visibleKeys(l, hq, i, pos);
                if (js.length == 0) {
                    continue; // sees nothing: zeros
                }
                double[] s = new double[js.length];
                double m = Double.NEGATIVE_INFINITY;
                for (int jj = 0; jj < js.length; jj++) {
                    int j = js[jj];
                    double dot = 0;
                    for (int d = 0; d < D; d++) {
                        dot += q[i][hq * D + d] * k[j][hk * D + d];
                    }
                    double sc = dot * scale;
                    if (attnSoftcap != 0) {
                        sc = attnSoftcap * Math.tanh(sc / attnSoftcap);
                    }
                    s[jj] = sc;
                    m = Math.max(m, sc);
                }
                if (sink != null) {
                    m = Math.max(m, sink[hq]);
                }
                double denom = 0;
                for (int j = 0; j < s.length; j++) {
                    s[j] = Math.exp(s[j] - m);
                    denom += s[j];
                }
                if (sink != null) {
                    denom += Math.exp(sink[hq] - m); // the sink joins the denominator only
                }
                for (int jj = 0; jj < js.length; jj++) {
                    int j = js[jj];
                    double p = s[jj] / denom;
                    for (int d = 0; d < D; d++) {
                        out[i][hq * D + d] += p * v[j][hk * D + d];
                    }
                }
            }
        }
        double[][] o = new double[S][];
        for (int t = 0; t < S; t++) {
            o[t] = linear(wo, bo, out[t], H, qDim);
        }
        return o;
    }

    /**
     * diff_transformer: differential attention of layer l (depth l) over the rows h at positions
     * pos, written from multihead_diffattn.py. H output heads over Hkv; q (2H heads of d), k (2Hkv
     * heads of d), v (Hkv heads of 2d); interleaved RoPE on q and k; output head h is
     * RMSNorm_subln(softmax(q[2h]·k[2h/r]·s) V − λ softmax(q[2h+1]·k[(2h+1)/r]·s) V) · (1 − λinit)
     * with V = v[h/r]; the heads (S, H·2d) go through o_proj.
     */
    private double[][] diffAttention(int l, String lp, double[][] h, int[] pos) {
        int S = h.length;
        int H = hidden;
        int D = headDim;
        int D2 = 2 * D;
        int qDim = 2 * heads * D;
        int kDim = 2 * kvHeads * D;
        int vDim = kvHeads * D2;
        int oIn = heads * D2;
        String ap = lp + "self_attn.";
        double[] wq = tensor(ap + "q_proj.weight", qDim, H);
        double[] wk = tensor(ap + "k_proj.weight", kDim, H);
        double[] wv = tensor(ap + "v_proj.weight", vDim, H);
        double[] wo = tensor(ap + "o_proj.weight", H, oIn);
        double[] lq1 = tensor(ap + "lambda_q1", D);
        double[] lk1 = tensor(ap + "lambda_k1", D);
        double[] lq2 = tensor(ap + "lambda_q2", D);
        double[] lk2 = tensor(ap + "lambda_k2", D);
        double[] subln = tensor(ap + "subln.weight", D2);
        double lambdaInit = 0.8 - 0.6 * Math.exp(-0.3 * l);
        double dot1 = 0;
        double dot2 = 0;
        for (int d = 0; d < D; d++) {
            dot1 += lq1[d] * lk1[d];
            dot2 += lq2[d] * lk2[d];
        }
        double lambda = Math.exp(dot1) - Math.exp(dot2) + lambdaInit;

        double[][] q = new double[S][];
        double[][] k = new double[S][];
        double[][] v = new double[S][];
        for (int t = 0; t < S; t++) {
            q[t] = linear(wq, null, h[t], qDim, H);
            k[t] = linear(wk, null, h[t], kDim, H);
            v[t] = linear(wv, null, h[t], vDim, H);
            ropeInterleaved(q[t], 2 * heads, D, pos[t]);
            ropeInterleaved(k[t], 2 * kvHeads, D, pos[t]);
        }
        int r = heads / kvHeads;
        double[][] out = new double[S][oIn];
        for (int hh = 0; hh < heads; hh++) {
            int q1 = 2 * hh;
            int q2 = 2 * hh + 1;
            int k1 = q1 / r;
            int k2 = q2 / r;
            int hv = hh / r;
            for (int i = 0; i < S; i++) {
                int[] js = visibleKeys(l, hh, i, pos);
                if (js.length == 0) {
                    continue; // sees nothing: zeros
                }
                double[] s1 = new double[js.length];
                double[] s2 = new double[js.length];
                for (int jj = 0; jj < js.length; jj++) {
                    int j = js[jj];
                    double a = 0;
                    double b = 0;
                    for (int d = 0; d < D; d++) {
                        a += q[i][q1 * D + d] * k[j][k1 * D + d];
                        b += q[i][q2 * D + d] * k[j][k2 * D + d];
                    }
                    s1[jj] = a * scale;
                    s2[jj] = b * scale;
                }
                double[] p1 = softmax(s1);
                double[] p2 = softmax(s2);
                double[] u = new double[D2];
                for (int jj = 0; jj < js.length; jj++) {
                    int j = js[jj];
                    double wgt = p1[jj] - lambda * p2[jj];
                    for (int c = 0; c < D2; c++) {
                        u[c] += wgt * v[j][hv * D2 + c];
                    }
                }
                double[] y = rmsNorm(u, subln, 1e-5, false);
                for (int c = 0; c < D2; c++) {
                    out[i][hh * D2 + c] = y[c] * (1 - lambdaInit);
                }
            }
        }
        double[][] o = new double[S][];
        for (int t = 0; t < S; t++) {
            o[t] = linear(wo, null, out[t], H, oIn);
        }
        return o;
    }

    /** Interleaved RoPE (pairs (2i, 2i + 1) rotate by pos · invFreq[i]) on each of n heads, in place. */
    private void ropeInterleaved(double[] x, int n, int D, int pos) {
        int half = D / 2;
        for (int hh = 0; hh < n; hh++) {
            int base = hh * D;
            for (int i = 0; i < half; i++) {
                double ang = pos * invFreq[i];
                double c = Math.cos(ang) * ropeAttnFactor;
                double s = Math.sin(ang) * ropeAttnFactor;
                double a = x[base + 2 * i];
                double b = x[base + 2 * i + 1];
                x[base + 2 * i] = a * c - b * s;
                x[base + 2 * i + 1] = b * c + a * s;
            }
        }
    }

    /** Qwen3: RMSNorm (weight over head_dim, shared by the heads) on each head in place. */
    private void normHeads(double[] x, int n, int D, double[] w) {
        for (int hh = 0; hh < n; hh++) {
            double[] head = Arrays.copyOfRange(x, hh * D, (hh + 1) * D);
            double[] y = rmsNorm(head, w, eps, false);
            System.arraycopy(y, 0, x, hh * D, D);
        }
    }

    /** Split-half RoPE (rotate_half) at position pos on each of n heads, in place. */
    private void rope(double[] x, int n, int D, int pos) {
        int half = D / 2;
        for (int hh = 0; hh < n; hh++) {
            int base = hh * D;
            for (int i = 0; i < half; i++) {
                double ang = pos * invFreq[i];
                double c = Math.cos(ang) * ropeAttnFactor;
                double s = Math.sin(ang) * ropeAttnFactor;
                double a = x[base + i];
                double b = x[base + i + half];
                x[base + i] = a * c - b * s;
                x[base + i + half] = b * c + a * s;
            }
        }
    }

    /** The feed-forward block of layer l on one token. */
    private double[] mlp(int l, String lp, double[] x) {
        switch (type) {
            case "mixtral":
                return mixtralMoe(lp, x);
            case "qwen2_moe":
            case "qwen3_moe":
                return sparseLayer[l] ? qwenMoe(lp, x) : gatedMlp(lp + "mlp.", inter, x);
            case "gpt_oss":
                return gptOssMoe(lp, x);
            default:
                return gatedMlp(lp + "mlp.", inter, x);
        }
    }

    /** down(act(gate x) ⊙ up x), names {gate,up,down}_proj (optional biases). */
    private double[] gatedMlp(String p, int I, double[] x) {
        int H = hidden;
        double[] g = linear(tensor(p + "gate_proj.weight", I, H), optTensor(p + "gate_proj.bias", I), x, I, H);
        double[] u = linear(tensor(p + "up_proj.weight", I, H), optTensor(p + "up_proj.bias", I), x, I, H);
        double[] gu = new double[I];
        for (int i = 0; i < I; i++) {
            gu[i] = HfRefMath.act(act, g[i]) * u[i];
        }
        return linear(tensor(p + "down_proj.weight", H, I), optTensor(p + "down_proj.bias", H), gu, H, I);
    }

    /** Mixtral: softmax over all experts, top-k, renormalise; expert = w2(silu(w1 x) ⊙ w3 x). */
    private double[] mixtralMoe(String lp, double[] x) {
        int H = hidden;
        String p = lp + "block_sparse_moe.";
        double[] logits = linear(tensor(p + "gate.weight", experts, H), null, x, experts, H);
        double[] probs = softmax(logits);
        int[] sel = topK(probs, topK);
        double sum = 0;
        for (int e : sel) {
            sum += probs[e];
        }
        double[] y = new double[H];
        for (int e : sel) {
            String ep = p + "experts." + e + ".";
            double[] g = linear(tensor(ep + "w1.weight", inter, H), null, x, inter, H);
            double[] u = linear(tensor(ep + "w3.weight", inter, H), null, x, inter, H);
            double[] gu = new double[inter];
            for (int i = 0; i < inter; i++) {
                gu[i] = HfRefMath.act(act, g[i]) * u[i];
            }
            double[] o = linear(tensor(ep + "w2.weight", H, inter), null, gu, H, inter);
            double wgt = probs[e] / sum;
            for (int i = 0; i < H; i++) {
                y[i] += wgt * o[i];
            }
        }
        return y;
    }

    /** Qwen2-MoE / Qwen3-MoE: softmax, top-k, optional renormalisation; Qwen2-MoE adds the gated shared expert. */
    private double[] qwenMoe(String lp, double[] x) {
        int H = hidden;
        String p = lp + "mlp.";
        double[] logits = linear(tensor(p + "gate.weight", experts, H), null, x, experts, H);
        double[] probs = softmax(logits);
        int[] sel = topK(probs, topK);
        double sum = 0;
        for (int e : sel) {
            sum += probs[e];
        }
        double[] y = new double[H];
        for (int e : sel) {
            double[] o = gatedMlp(p + "experts." + e + ".", moeInter, x);
            double wgt = normTopK ? probs[e] / sum : probs[e];
            for (int i = 0; i < H; i++) {
                y[i] += wgt * o[i];
            }
        }
        if (type.equals("qwen2_moe")) {
            double[] so = gatedMlp(p + "shared_expert.", sharedInter, x);
            double gate = linear(tensor(p + "shared_expert_gate.weight", 1, H), null, x, 1, H)[0];
            double sg = HfRefMath.sigmoid(gate);
            for (int i = 0; i < H; i++) {
                y[i] += sg * so[i];
            }
        }
        return y;
    }

    /**
     * gpt-oss: router logits (with bias), top-k on the logits, softmax over those k; expert: x·W +
     * b with W (H, 2I), gate = even columns, up = odd; gate ≤ limit, up ∈ [−limit, limit];
     * (up + 1)·gate·σ(1.702·gate), then ·down (I, H) + bias.
     */
    private double[] gptOssMoe(String lp, double[] x) {
        int H = hidden;
        int I = inter;
        String p = lp + "mlp.";
        double[] logits = linear(tensor(p + "router.weight", experts, H),
                tensor(p + "router.bias", experts), x, experts, H);
        int[] sel = topK(logits, topK);
        double[] top = new double[topK];
        for (int k = 0; k < topK; k++) {
            top[k] = logits[sel[k]];
        }
        double[] wgt = softmax(top);
        double[] gateUp = tensor(p + "experts.gate_up_proj", experts, H, 2L * I);
        double[] gateUpBias = tensor(p + "experts.gate_up_proj_bias", experts, 2L * I);
        double[] down = tensor(p + "experts.down_proj", experts, I, H);
        double[] downBias = tensor(p + "experts.down_proj_bias", experts, H);
        double[] y = new double[H];
        for (int k = 0; k < topK; k++) {
            int e = sel[k];
            double[] act2 = new double[I];
            for (int c = 0; c < I; c++) {
                double g = gateUpBias[e * 2 * I + 2 * c];
                double u = gateUpBias[e * 2 * I + 2 * c + 1];
                for (int i = 0; i < H; i++) {
                    long rowBase = ((long) e * H + i) * 2L * I;
                    g += x[i] * gateUp[(int) (rowBase + 2 * c)];
                    u += x[i] * gateUp[(int) (rowBase + 2 * c + 1)];
                }
                g = Math.min(g, swigluLimit);
                u = Math.max(-swigluLimit, Math.min(u, swigluLimit));
                double glu = g * HfRefMath.sigmoid(1.702 * g);
                act2[c] = (u + 1) * glu;
            }
            for (int o = 0; o < H; o++) {
                double s = downBias[e * H + o];
                for (int c = 0; c < I; c++) {
                    s += act2[c] * down[(int) (((long) e * I + c) * H + o)];
                }
                y[o] += wgt[k] * s;
            }
        }
        return y;
    }

    // =====================================================================================
    // GPT-2
    // =====================================================================================

    private void initGpt2() {
        hidden = cfg.has("n_embd") ? reqInt("n_embd") : reqInt("hidden_size");
        layers = cfg.has("n_layer") ? reqInt("n_layer") : reqInt("num_hidden_layers");
        heads = cfg.has("n_head") ? reqInt("n_head") : reqInt("num_attention_heads");
        vocab = reqInt("vocab_size");
        headDim = hidden / heads;
        JsonNode ni = node("n_inner");
        inter = ni != null ? ni.asInt() : 4 * hidden;
        eps = optDouble("layer_norm_epsilon", 1e-5);
        act = optText("activation_function", "gelu_new");
        HfRefMath.checkActivation(act);
        tied = optBool("tie_word_embeddings", true);
        gpt2ScaleWeights = optBool("scale_attn_weights", true);
        gpt2ScaleByLayer = optBool("scale_attn_by_inverse_layer_idx", false);
        prefix = weights.has("transformer.wte.weight") ? "transformer." : "";
    }

    private double[][] forwardGpt2(int[] tokens) {
        int S = tokens.length;
        int H = hidden;
        String p = prefix;
        double[] wte = tensor(p + "wte.weight", vocab, H);
        long[] wpeShape = weights.shape(checked(p + "wpe.weight"));
        if (S > wpeShape[0]) {
            throw new IllegalArgumentException("sequence of " + S + " exceeds " + wpeShape[0] + " positions");
        }
        double[] wpe = tensor(p + "wpe.weight", wpeShape[0], H);
        double[][] x = new double[S][];
        for (int t = 0; t < S; t++) {
            x[t] = row(wte, tokens[t], H);
            addInto(x[t], row(wpe, t, H));
        }
        int D = headDim;
        for (int l = 0; l < layers; l++) {
            String lp = p + "h." + l + ".";
            double[] ln1w = tensor(lp + "ln_1.weight", H);
            double[] ln1b = tensor(lp + "ln_1.bias", H);
            double[] cAttnW = tensor(lp + "attn.c_attn.weight", H, 3L * H);
            double[] cAttnB = tensor(lp + "attn.c_attn.bias", 3L * H);
            double[] cProjW = tensor(lp + "attn.c_proj.weight", H, H);
            double[] cProjB = tensor(lp + "attn.c_proj.bias", H);
            double[][] q = new double[S][];
            double[][] k = new double[S][];
            double[][] v = new double[S][];
            for (int t = 0; t < S; t++) {
                double[] hn = layerNorm(x[t], ln1w, ln1b, eps);
                double[] qkv = conv1d(cAttnW, cAttnB, hn, H, 3 * H);
                q[t] = Arrays.copyOfRange(qkv, 0, H);
                k[t] = Arrays.copyOfRange(qkv, H, 2 * H);
                v[t] = Arrays.copyOfRange(qkv, 2 * H, 3 * H);
            }
            double sc = gpt2ScaleWeights ? 1.0 / Math.sqrt(D) : 1.0;
            if (gpt2ScaleByLayer) {
                sc /= (l + 1);
            }
            double[][] ctx = plainAttention(q, k, v, heads, D, sc, true);
            for (int t = 0; t < S; t++) {
                addInto(x[t], conv1d(cProjW, cProjB, ctx[t], H, H));
            }
            double[] ln2w = tensor(lp + "ln_2.weight", H);
            double[] ln2b = tensor(lp + "ln_2.bias", H);
            double[] fcW = tensor(lp + "mlp.c_fc.weight", H, inter);
            double[] fcB = tensor(lp + "mlp.c_fc.bias", inter);
            double[] prW = tensor(lp + "mlp.c_proj.weight", inter, H);
            double[] prB = tensor(lp + "mlp.c_proj.bias", H);
            for (int t = 0; t < S; t++) {
                double[] hn = layerNorm(x[t], ln2w, ln2b, eps);
                double[] f = conv1d(fcW, fcB, hn, H, inter);
                for (int i = 0; i < inter; i++) {
                    f[i] = HfRefMath.act(act, f[i]);
                }
                addInto(x[t], conv1d(prW, prB, f, inter, H));
            }
        }
        double[] lnfw = tensor(p + "ln_f.weight", H);
        double[] lnfb = tensor(p + "ln_f.bias", H);
        double[] head;
        if (tied || !weights.has("lm_head.weight")) {
            head = wte;
        } else {
            head = tensor("lm_head.weight", vocab, H);
        }
        double[][] logits = new double[S][];
        for (int t = 0; t < S; t++) {
            logits[t] = linear(head, null, layerNorm(x[t], lnfw, lnfb, eps), vocab, H);
        }
        return logits;
    }

    private String checked(String name) {
        if (!weights.has(name)) {
            throw new IllegalArgumentException("missing tensor: " + name);
        }
        return name;
    }

    /** Multi-head attention with equal q/kv heads: softmax(q·k·scale [causal]) v. */
    private static double[][] plainAttention(double[][] q, double[][] k, double[][] v, int nh, int D,
            double scale, boolean causal) {
        int S = q.length;
        double[][] out = new double[S][nh * D];
        for (int hh = 0; hh < nh; hh++) {
            for (int i = 0; i < S; i++) {
                int last = causal ? i : S - 1;
                double[] s = new double[last + 1];
                for (int j = 0; j <= last; j++) {
                    double dot = 0;
                    for (int d = 0; d < D; d++) {
                        dot += q[i][hh * D + d] * k[j][hh * D + d];
                    }
                    s[j] = dot * scale;
                }
                double[] pr = softmax(s);
                for (int j = 0; j <= last; j++) {
                    for (int d = 0; d < D; d++) {
                        out[i][hh * D + d] += pr[j] * v[j][hh * D + d];
                    }
                }
            }
        }
        return out;
    }

    // =====================================================================================
    // BERT (encoder; returns the last hidden state)
    // =====================================================================================

    private void initBert() {
        hidden = reqInt("hidden_size");
        layers = reqInt("num_hidden_layers");
        heads = reqInt("num_attention_heads");
        vocab = reqInt("vocab_size");
        headDim = hidden / heads;
        inter = reqInt("intermediate_size");
        eps = optDouble("layer_norm_eps", 1e-12);
        act = optText("hidden_act", "gelu");
        HfRefMath.checkActivation(act);
        String pet = optText("position_embedding_type", "absolute");
        if (!pet.equals("absolute")) {
            throw new IllegalArgumentException("unsupported position_embedding_type '" + pet + "'");
        }
        prefix = weights.has("bert.embeddings.word_embeddings.weight") ? "bert." : "";
    }

    /** A LayerNorm's (weight, bias), accepting the old gamma/beta names. */
    private double[][] ln(String name) {
        int H = hidden;
        if (weights.has(name + ".weight") || !weights.has(name + ".gamma")) {
            return new double[][] {tensor(name + ".weight", H), tensor(name + ".bias", H)};
        }
        return new double[][] {tensor(name + ".gamma", H), tensor(name + ".beta", H)};
    }

    private double[][] forwardBert(int[] tokens) {
        int S = tokens.length;
        int H = hidden;
        String p = prefix;
        double[] word = tensor(p + "embeddings.word_embeddings.weight", vocab, H);
        long[] posShape = weights.shape(checked(p + "embeddings.position_embeddings.weight"));
        if (S > posShape[0]) {
            throw new IllegalArgumentException("sequence of " + S + " exceeds " + posShape[0] + " positions");
        }
        double[] pos = tensor(p + "embeddings.position_embeddings.weight", posShape[0], H);
        long[] ttShape = weights.shape(checked(p + "embeddings.token_type_embeddings.weight"));
        double[] tt = tensor(p + "embeddings.token_type_embeddings.weight", ttShape[0], H);
        double[][] eln = ln(p + "embeddings.LayerNorm");
        double[][] x = new double[S][];
        for (int t = 0; t < S; t++) {
            double[] e = row(word, tokens[t], H);
            addInto(e, row(pos, t, H));
            addInto(e, row(tt, 0, H));
            x[t] = layerNorm(e, eln[0], eln[1], eps);
        }
        int D = headDim;
        for (int l = 0; l < layers; l++) {
            String lp = p + "encoder.layer." + l + ".";
            double[] qw = tensor(lp + "attention.self.query.weight", H, H);
            double[] qb = tensor(lp + "attention.self.query.bias", H);
            double[] kw = tensor(lp + "attention.self.key.weight", H, H);
            double[] kb = tensor(lp + "attention.self.key.bias", H);
            double[] vw = tensor(lp + "attention.self.value.weight", H, H);
            double[] vb = tensor(lp + "attention.self.value.bias", H);
            double[] ow = tensor(lp + "attention.output.dense.weight", H, H);
            double[] ob = tensor(lp + "attention.output.dense.bias", H);
            double[][] aln = ln(lp + "attention.output.LayerNorm");
            double[] iw = tensor(lp + "intermediate.dense.weight", inter, H);
            double[] ib = tensor(lp + "intermediate.dense.bias", inter);
            double[] dw = tensor(lp + "output.dense.weight", H, inter);
            double[] db = tensor(lp + "output.dense.bias", H);
            double[][] oln = ln(lp + "output.LayerNorm");
            double[][] q = new double[S][];
            double[][] k = new double[S][];
            double[][] v = new double[S][];
            for (int t = 0; t < S; t++) {
                q[t] = linear(qw, qb, x[t], H, H);
                k[t] = linear(kw, kb, x[t], H, H);
                v[t] = linear(vw, vb, x[t], H, H);
            }
            double[][] ctx = plainAttention(q, k, v, heads, D, 1.0 / Math.sqrt(D), false);
            for (int t = 0; t < S; t++) {
                double[] a = linear(ow, ob, ctx[t], H, H);
                addInto(a, x[t]);
                double[] y = layerNorm(a, aln[0], aln[1], eps);
                double[] f = linear(iw, ib, y, inter, H);
                for (int i = 0; i < inter; i++) {
                    f[i] = HfRefMath.act(act, f[i]);
                }
                double[] o = linear(dw, db, f, H, inter);
                addInto(o, y);
                x[t] = layerNorm(o, oln[0], oln[1], eps);
            }
        }
        return x;
    }

    /** For diagnostics: the per-layer sliding windows (0 = full). */
    int[] windows() {
        return window == null ? new int[0] : window.clone();
    }

    /** For diagnostics: the RoPE inverse frequencies and attention factor. */
    double[] ropeInvFreq() {
        return invFreq == null ? new double[0] : invFreq.clone();
    }

    double ropeAttentionFactor() {
        return ropeAttnFactor;
    }
}
