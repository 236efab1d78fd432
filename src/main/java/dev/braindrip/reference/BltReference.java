package dev.braindrip.reference;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * An independent double-precision reference ("oracle") of Hugging Face's BLT (Byte Latent Transformer,
 * model_type "blt", BltForCausalLM, transformers' models/blt/modeling_blt.py of 4.57.6), written as plain loops
 * so that it is obviously right rather than fast. One sequence of token ids (byte + 4; 0 &lt;boe&gt;, 1 &lt;s&gt;,
 * 2 &lt;/s&gt;, 3 &lt;pad&gt;), no batch, no padding, no cache.
 *
 * <p>Semantics (read from modeling_blt.py / configuration_blt.py):
 * <ul>
 *   <li>Config: top-level {@code encoder_hash_byte_group_size} ([3..8]), {@code encoder_hash_byte_group_vocab}
 *       (500002), {@code encoder_hash_byte_group_nb_functions} (1), {@code cross_attn_k} (2),
 *       {@code patch_in_forward} (true), {@code patching_mode} ("entropy"), {@code patch_size} (4),
 *       {@code patching_threshold} (1.335442066192627), {@code max_patch_length} (null); sub-dicts
 *       {@code patcher_config}, {@code encoder_config}, {@code decoder_config}, {@code global_config}, each with
 *       hidden_size, num_attention_heads, num_key_value_heads (null: = heads), num_hidden_layers, rms_norm_eps
 *       (1e-5) and the RoPE theta ({@code rope_parameters.rope_theta}, else {@code rope_theta}, else 500000, the
 *       patcher 10000); {@code cross_attn_all_layers} (encoder false, decoder true). head_dim = hidden / heads.
 *       A non-default {@code rope_scaling} is rejected.
 *   <li>Every stack (patcher, local encoder, global, local decoder) uses the same pre-norm block: h += o(attn(
 *       norm(h))), h += down(silu(gate(norm(h))) · up(norm(h))), no biases, causal self-attention with scale
 *       head_dim^−½, GQA (query head h reads kv head h / (heads / kv_heads)). RMSNorm: w · x / √(mean(x²) + eps).
 *       RoPE rotates ADJACENT pairs (x[2i], x[2i+1]) by pos · theta^(−2i/head_dim); pos is the byte index (patcher,
 *       encoder, decoder) or the patch index (global).
 *   <li>Input embedding ({@link #hashRows}): local_encoder.embed_tokens[id] plus, per hash function f (outer) and
 *       n-gram size n (inner), the row {@code e · vocab + floorMod(Σ_j id[t−n+1+j] · prime_f^j, vocab)} of
 *       model.encoder_hash_tok_embedding, e = 0, 1, ... counting the (f, n) pairs, ids before the start = 0, all
 *       arithmetic wrapping signed 64-bit (Java long), prime_f = PRIMES[f % 11].
 *   <li>Patching ({@link #patchLengths}): entropy mode (patching_mode "entropy", patch_in_forward true and a
 *       patch_size) runs the patcher, a byte LM embed_tokens → layers → norm → lm_head; entropy −Σ p ln p (nats)
 *       of its softmax per position; patch lengths by {@link #patchLengthsFromEntropies}. patch_size null: S ones;
 *       any other mode: S + 1 ones; both then split by max_patch_length like the entropy lengths.
 *   <li>Patch of byte t: (number of patch starts ≤ t) − 1, starts = exclusive cumulative sum of the lengths
 *       (HF's _patch_ids_from_lengths, which always has a start 0). The decoder uses the same rule on the lengths
 *       without the first one (byte t reads global patch j where patch j + 1 holds byte t + 1).
 *   <li>Local encoder: its layers over the embeddings; after the last layer (and, with cross_attn_all_layers,
 *       after every layer, only the last result surviving) each patch's element-wise MAX over its byte states
 *       (empty patch: zeros) goes through patch_embedding_projection (H → k·H) and is split into k slots (slot n·k
 *       + j = chunk j of patch n); slots cross-attend (cross_attn_layers.{i or 0}) to the byte states of their own
 *       patch. Cross-attention: q = q_proj(q_norm(slots)), k = k_proj(k_norm(states)), v = v_proj(k_norm(states)),
 *       no RoPE, no causality, the module returns o_proj(attn) + slots and the caller adds the slots once more:
 *       encoder patch output = 2 · slots + o_proj(attn). A query row with no visible key (an empty patch) averages
 *       all keys uniformly: HF adds finfo.min to masked scores, which in a float32 model leaves the row uniform
 *       (in HF's float64 model that row is −inf in its float32 softmax and gives NaN everywhere; see the fixtures'
 *       README).
 *   <li>Global transformer: the k slots of each patch concatenated (N, k·H_enc), token_embedding_projection when
 *       H_enc · cross_attn_k ≠ H_global, its layers over patch positions 0..N−1, no final norm.
 *   <li>Local decoder: slots = patch_embedding_projection(global output) (H_global → k·H_dec), split the same way;
 *       h = the encoder's byte states; before layer 0 (every layer i with cross_attn_all_layers) h = h +
 *       cross_i(h, slots) = 2h + o_proj(attn), byte t seeing only the k slots of its decoder patch; then layer i.
 *       Logits = lm_head(local_decoder.norm(h)), top-level {@code lm_head.weight} (260, H_dec).
 * </ul>
 *
 * <p>HF computes RMSNorm, the attention softmax and the RoPE angles in float32 even in a float64 model, and returns
 * float32 logits; this class computes everything in double.
 */
public final class BltReference {

    /** HF's compute_hash_embeddings primes, one per hash function (cycled). */
    static final long[] PRIMES = {1000000007L, 5915587277L, 1500450271L, 3267000013L, 5754853343L, 4093082899L,
        9576890767L, 3628273133L, 2860486313L, 5463458053L, 3367900313L};

    /** One transformer stack's hyper-parameters. */
    private record Stack(String prefix, int hidden, int heads, int kvHeads, int layers, double eps, double theta,
                         boolean crossAllLayers) {
        int headDim() {
            return hidden / heads;
        }
    }

    private final HfRefWeights weights;
    private final Map<String, double[]> cache = new HashMap<>();
    private final int vocab;
    private final int[] ngramSizes;
    private final int hashFunctions;
    private final long hashVocab;
    private final int crossK;
    private final boolean entropyMode;
    private final Integer patchSize;
    private final double threshold;
    private final Integer maxPatchLength;
    private final Stack patcher;
    private final Stack encoder;
    private final Stack decoder;
    private final Stack global;
    private final boolean tokenProjection;

    private BltReference(JsonNode c, HfRefWeights weights) {
        this.weights = weights;
        vocab = c.path("vocab_size").asInt(260);
        JsonNode sizes = c.get("encoder_hash_byte_group_size");
        if (sizes == null || sizes.isNull()) {
            ngramSizes = new int[] {3, 4, 5, 6, 7, 8};
        } else {
            ngramSizes = new int[sizes.size()];
            for (int i = 0; i < ngramSizes.length; i++) {
                ngramSizes[i] = sizes.get(i).asInt();
            }
        }
        hashFunctions = intOr(c, "encoder_hash_byte_group_nb_functions", 1);
        hashVocab = c.has("encoder_hash_byte_group_vocab") && !c.get("encoder_hash_byte_group_vocab").isNull()
                ? c.get("encoder_hash_byte_group_vocab").asLong() : 500002L;
        crossK = intOr(c, "cross_attn_k", 2);
        boolean patchInForward = !c.has("patch_in_forward") || c.get("patch_in_forward").isNull()
                || c.get("patch_in_forward").asBoolean();
        String mode = c.has("patching_mode") && !c.get("patching_mode").isNull() ? c.get("patching_mode").asText() : "entropy";
        entropyMode = patchInForward && mode.equals("entropy");
        patchSize = c.has("patch_size") ? (c.get("patch_size").isNull() ? null : c.get("patch_size").asInt()) : Integer.valueOf(4);
        threshold = c.has("patching_threshold") && !c.get("patching_threshold").isNull()
                ? c.get("patching_threshold").asDouble() : 1.335442066192627;
        maxPatchLength = c.has("max_patch_length") && !c.get("max_patch_length").isNull()
                ? Integer.valueOf(c.get("max_patch_length").asInt()) : null;
        if (maxPatchLength != null && maxPatchLength < 1) {
            throw new IllegalArgumentException("max_patch_length must be >= 1, got " + maxPatchLength);
        }
        patcher = stack(c, "patcher_config", "model.patcher.", 10000.0, false);
        encoder = stack(c, "encoder_config", "model.local_encoder.", 500000.0, false);
        decoder = stack(c, "decoder_config", "model.local_decoder.", 500000.0, true);
        global = stack(c, "global_config", "model.global_transformer.", 500000.0, false);
        if (decoder.hidden != encoder.hidden) {
            throw new IllegalArgumentException("decoder hidden_size " + decoder.hidden + " != encoder hidden_size " + encoder.hidden);
        }
        tokenProjection = encoder.hidden * crossK != global.hidden;
    }

    private static int intOr(JsonNode c, String key, int dflt) {
        return c.has(key) && !c.get(key).isNull() ? c.get(key).asInt() : dflt;
    }

    private static Stack stack(JsonNode top, String key, String prefix, double defaultTheta, boolean defaultCrossAll) {
        JsonNode s = top.path(key);
        if (!s.isObject()) {
            throw new IllegalArgumentException("blt config has no " + key);
        }
        int hidden = need(s, key, "hidden_size");
        int heads = need(s, key, "num_attention_heads");
        int kv = s.has("num_key_value_heads") && !s.get("num_key_value_heads").isNull() ? s.get("num_key_value_heads").asInt() : heads;
        int layers = need(s, key, "num_hidden_layers");
        if (hidden % heads != 0 || heads % kv != 0) {
            throw new IllegalArgumentException(key + ": hidden_size " + hidden + ", heads " + heads + ", kv heads " + kv);
        }
        double eps = s.has("rms_norm_eps") && !s.get("rms_norm_eps").isNull() ? s.get("rms_norm_eps").asDouble() : 1e-5;
        double theta = defaultTheta;
        JsonNode rp = s.path("rope_parameters");
        if (rp.isObject() && rp.has("rope_theta")) {
            theta = rp.get("rope_theta").asDouble();
        } else if (s.has("rope_theta") && !s.get("rope_theta").isNull()) {
            theta = s.get("rope_theta").asDouble();
        }
        JsonNode rs = s.path("rope_scaling");
        if (rs.isObject()) {
            String type = rs.path("rope_type").asText(rs.path("type").asText("default"));
            if (!type.equals("default")) {
                throw new IllegalArgumentException(key + ": rope_scaling type '" + type + "' is not supported by BltReference");
            }
        }
        boolean crossAll = s.has("cross_attn_all_layers") && !s.get("cross_attn_all_layers").isNull()
                ? s.get("cross_attn_all_layers").asBoolean() : defaultCrossAll;
        return new Stack(prefix, hidden, heads, kv, layers, eps, theta, crossAll);
    }

    private static int need(JsonNode s, String key, String field) {
        if (!s.has(field) || s.get(field).isNull()) {
            throw new IllegalArgumentException(key + "." + field + " is missing");
        }
        return s.get(field).asInt();
    }

    /** Builds the oracle; IllegalArgumentException unless config's model_type is "blt". */
    public static BltReference of(JsonNode config, HfRefWeights weights) {
        JsonNode mt = config.get("model_type");
        if (mt == null || mt.isNull()) {
            throw new IllegalArgumentException("BltReference: model_type absent (expected 'blt')");
        }
        if (!mt.asText().equals("blt")) {
            throw new IllegalArgumentException("BltReference: model_type '" + mt.asText() + "' is not 'blt'");
        }
        return new BltReference(config, weights);
    }

    // =====================================================================================
    // Hash n-gram embeddings
    // =====================================================================================

    /**
     * The rows of the fused hash embedding table that HF's compute_hash_embeddings adds for each position: (S,
     * hashFunctions · ngramSizes.length), column e = f · ngramSizes.length + i for function f and size
     * ngramSizes[i]. Hash of size n at t: Σ_{j<n} id[t−n+1+j] · prime^j (ids before the start count as 0) in
     * wrapping signed 64-bit arithmetic, then floorMod by hashVocab; row = hash + e · hashVocab.
     */
    public static long[][] hashRows(int[] ids, int[] ngramSizes, int hashFunctions, long hashVocab) {
        int s = ids.length;
        long[][] out = new long[s][hashFunctions * ngramSizes.length];
        int e = 0;
        for (int f = 0; f < hashFunctions; f++) {
            long prime = PRIMES[f % PRIMES.length];
            for (int n : ngramSizes) {
                for (int t = 0; t < s; t++) {
                    long h = 0;
                    long power = 1; // prime^j, wrapping
                    for (int j = 0; j < n; j++) {
                        int pos = t - n + 1 + j;
                        long id = pos >= 0 ? ids[pos] : 0;
                        h += id * power;
                        power *= prime;
                    }
                    out[t][e] = Math.floorMod(h, hashVocab) + e * hashVocab;
                }
                e++;
            }
        }
        return out;
    }

    /** This model's hash rows ({@link #hashRows} with its config). */
    public long[][] hashRows(int[] ids) {
        return hashRows(ids, ngramSizes, hashFunctions, hashVocab);
    }

    /** The local encoder's input: embed_tokens[id] + Σ hash embedding rows, (S, H_enc). */
    double[][] embeddings(int[] ids) {
        int h = encoder.hidden;
        double[] tok = w("model.local_encoder.embed_tokens.weight");
        double[] hash = w("model.encoder_hash_tok_embedding.weight");
        long[][] rows = hashRows(ids);
        double[][] x = new double[ids.length][h];
        for (int t = 0; t < ids.length; t++) {
            for (int d = 0; d < h; d++) {
                x[t][d] = tok[ids[t] * h + d];
            }
            for (long r : rows[t]) {
                for (int d = 0; d < h; d++) {
                    x[t][d] += hash[(int) r * h + d];
                }
            }
        }
        return x;
    }

    // =====================================================================================
    // Patching
    // =====================================================================================

    /** The patcher's next-byte entropy −Σ p ln p (nats) over its 260 logits, per position. */
    public double[] entropies(int[] ids) {
        checkIds(ids);
        Stack p = patcher;
        double[] emb = w(p.prefix + "embed_tokens.weight");
        double[][] x = new double[ids.length][p.hidden];
        for (int t = 0; t < ids.length; t++) {
            System.arraycopy(emb, ids[t] * p.hidden, x[t], 0, p.hidden);
        }
        for (int l = 0; l < p.layers; l++) {
            x = layer(p, l, x);
        }
        double[] head = w(p.prefix + "lm_head.weight");
        double[] normW = w(p.prefix + "norm.weight");
        double[] out = new double[ids.length];
        for (int t = 0; t < ids.length; t++) {
            double[] logits = linear(head, rmsNorm(x[t], normW, p.eps), vocab, p.hidden);
            double max = Double.NEGATIVE_INFINITY;
            for (double v : logits) {
                max = Math.max(max, v);
            }
            double z = 0;
            for (double v : logits) {
                z += Math.exp(v - max);
            }
            double logZ = max + Math.log(z);
            double ent = 0;
            for (double v : logits) {
                double lp = v - logZ;
                ent -= Math.exp(lp) * lp;
            }
            out[t] = ent;
        }
        return out;
    }

    /**
     * HF's patch lengths for these ids: in entropy mode {@link #patchLengthsFromEntropies} of {@link #entropies}
     * (patch_size null: S ones, split by max_patch_length); otherwise S + 1 ones (one byte per patch and an empty
     * last one), split by max_patch_length (which drops that empty one).
     */
    public int[] patchLengths(int[] ids) {
        checkIds(ids);
        if (!entropyMode) {
            int[] ones = new int[ids.length + 1];
            java.util.Arrays.fill(ones, 1);
            return split(ones, maxPatchLength);
        }
        if (patchSize == null) {
            int[] ones = new int[ids.length];
            java.util.Arrays.fill(ones, 1);
            return split(ones, maxPatchLength);
        }
        return patchLengthsFromEntropies(entropies(ids), threshold, maxPatchLength);
    }

    /**
     * HF's entropy patching (BltPatcher.patch_lengths_from_entropies then process_patch_lengths) for S =
     * ent.length ≥ 1: bytes 0 and 1 start a patch; byte t in 2..S starts one iff ent[t−1] &gt; threshold (strict;
     * ent[0] is never read), so t = S gives a trailing zero-length patch (S = 1 always gives [1, 0]). With
     * maxPatchLength m every patch becomes m, m, ..., remainder and zero-length patches are dropped.
     */
    public static int[] patchLengthsFromEntropies(double[] ent, double threshold, Integer maxPatchLength) {
        int s = ent.length;
        if (s < 1) {
            throw new IllegalArgumentException("no entropies");
        }
        List<Integer> starts = new ArrayList<>(List.of(0, 1));
        for (int t = 2; t <= s; t++) {
            if (ent[t - 1] > threshold) {
                starts.add(t);
            }
        }
        int[] lengths = new int[starts.size()];
        for (int j = 0; j < lengths.length; j++) {
            int end = j + 1 < lengths.length ? starts.get(j + 1) : s;
            lengths[j] = end - starts.get(j);
        }
        return split(lengths, maxPatchLength);
    }

    /** process_patch_lengths: null keeps the lengths; m splits each nonzero length into m, m, ..., remainder. */
    private static int[] split(int[] lengths, Integer m) {
        if (m == null) {
            return lengths.clone();
        }
        List<Integer> out = new ArrayList<>();
        for (int len : lengths) {
            if (len <= 0) {
                continue;
            }
            for (int k = 0; k < len / m; k++) {
                out.add(m);
            }
            if (len % m != 0) {
                out.add(len % m);
            }
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    /** HF's _patch_ids_from_lengths: (number of starts ≤ t) − 1, starts = [0, c_0, ..., c_{L−2}] (c = cumsum). */
    static int[] patchIds(int[] lengths, int from, int seqLen) {
        int n = lengths.length - from;
        List<Integer> starts = new ArrayList<>();
        starts.add(0);
        int c = 0;
        for (int j = 0; j + 1 < n; j++) {
            c += lengths[from + j];
            starts.add(c);
        }
        int[] ids = new int[seqLen];
        for (int t = 0; t < seqLen; t++) {
            int count = 0;
            for (int st : starts) {
                if (st <= t) {
                    count++;
                }
            }
            ids[t] = count - 1;
        }
        return ids;
    }

    // =====================================================================================
    // Forward
    // =====================================================================================

    /** Logits (S, vocab) of BltForCausalLM for these ids (its own patching). */
    public double[][] logits(int[] ids) {
        checkIds(ids);
        int s = ids.length;
        int[] lengths = patchLengths(ids);
        int n = lengths.length;
        int[] encPatch = patchIds(lengths, 0, s);
        int[] decPatch = patchIds(lengths, 1, s);
        int k = crossK;

        // local encoder
        Stack e = encoder;
        double[][] h = embeddings(ids);
        double[][] encSlots = null;
        for (int l = 0; l < e.layers; l++) {
            h = layer(e, l, h);
            if (l == e.layers - 1 || e.crossAllLayers) {
                double[][] reduced = new double[n][e.hidden]; // max over the patch's bytes, empty patch: zeros
                boolean[] seen = new boolean[n];
                for (int t = 0; t < s; t++) {
                    int p = encPatch[t];
                    for (int d = 0; d < e.hidden; d++) {
                        reduced[p][d] = seen[p] ? Math.max(reduced[p][d], h[t][d]) : h[t][d];
                    }
                    seen[p] = true;
                }
                double[] proj = w(e.prefix + "patch_embedding_projection.weight");
                double[][] slots = new double[n * k][];
                for (int p = 0; p < n; p++) {
                    double[] y = linear(proj, reduced[p], k * e.hidden, e.hidden);
                    for (int j = 0; j < k; j++) {
                        slots[p * k + j] = java.util.Arrays.copyOfRange(y, j * e.hidden, (j + 1) * e.hidden);
                    }
                }
                boolean[][] mask = new boolean[n * k][s];
                for (int q = 0; q < n * k; q++) {
                    for (int t = 0; t < s; t++) {
                        mask[q][t] = encPatch[t] == q / k;
                    }
                }
                double[][] cross = crossAttention(e, e.prefix + "cross_attn_layers." + (e.crossAllLayers ? l : 0) + ".",
                        slots, h, mask);
                encSlots = new double[n * k][e.hidden];
                for (int q = 0; q < n * k; q++) {
                    for (int d = 0; d < e.hidden; d++) {
                        encSlots[q][d] = slots[q][d] + cross[q][d]; // cross already holds o_proj(attn) + slots
                    }
                }
            }
        }

        // global transformer
        Stack g = global;
        double[][] x = new double[n][];
        for (int p = 0; p < n; p++) {
            double[] cat = new double[k * e.hidden];
            for (int j = 0; j < k; j++) {
                System.arraycopy(encSlots[p * k + j], 0, cat, j * e.hidden, e.hidden);
            }
            x[p] = tokenProjection ? linear(w(g.prefix + "token_embedding_projection.weight"), cat, g.hidden, k * e.hidden) : cat;
        }
        for (int l = 0; l < g.layers; l++) {
            x = layer(g, l, x);
        }

        // local decoder
        Stack dc = decoder;
        double[] dproj = w(dc.prefix + "patch_embedding_projection.weight");
        double[][] slots = new double[n * k][];
        for (int p = 0; p < n; p++) {
            double[] y = linear(dproj, x[p], k * dc.hidden, g.hidden);
            for (int j = 0; j < k; j++) {
                slots[p * k + j] = java.util.Arrays.copyOfRange(y, j * dc.hidden, (j + 1) * dc.hidden);
            }
        }
        boolean[][] mask = new boolean[s][n * k];
        for (int t = 0; t < s; t++) {
            for (int q = 0; q < n * k; q++) {
                mask[t][q] = decPatch[t] == q / k;
            }
        }
        double[][] y = h;
        for (int l = 0; l < dc.layers; l++) {
            if (l == 0 || dc.crossAllLayers) {
                double[][] cross = crossAttention(dc, dc.prefix + "cross_attn_layers." + l + ".", y, slots, mask);
                double[][] next = new double[s][dc.hidden];
                for (int t = 0; t < s; t++) {
                    for (int d = 0; d < dc.hidden; d++) {
                        next[t][d] = y[t][d] + cross[t][d]; // cross = o_proj(attn) + y
                    }
                }
                y = next;
            }
            y = layer(dc, l, y);
        }
        double[] normW = w(dc.prefix + "norm.weight");
        double[] head = w("lm_head.weight");
        double[][] out = new double[s][];
        for (int t = 0; t < s; t++) {
            out[t] = linear(head, rmsNorm(y[t], normW, dc.eps), vocab, dc.hidden);
        }
        return out;
    }

    private void checkIds(int[] ids) {
        if (ids.length == 0) {
            throw new IllegalArgumentException("empty ids");
        }
        for (int id : ids) {
            if (id < 0 || id >= vocab) {
                throw new IllegalArgumentException("token id " + id + " outside [0, " + vocab + ")");
            }
        }
    }

    // =====================================================================================
    // Building blocks
    // =====================================================================================

    /** One pre-norm block {@code <prefix>layers.<l>.} over rows at positions 0..rows−1, causal. */
    private double[][] layer(Stack st, int l, double[][] x) {
        String p = st.prefix + "layers." + l + ".";
        int s = x.length;
        int hd = st.headDim();
        double[][] a = selfAttention(st, p + "self_attn.", norm(x, w(p + "input_layernorm.weight"), st.eps));
        double[][] h = new double[s][st.hidden];
        for (int t = 0; t < s; t++) {
            for (int d = 0; d < st.hidden; d++) {
                h[t][d] = x[t][d] + a[t][d];
            }
        }
        double[][] n2 = norm(h, w(p + "post_attention_layernorm.weight"), st.eps);
        double[] gate = w(p + "mlp.gate_proj.weight");
        double[] up = w(p + "mlp.up_proj.weight");
        double[] down = w(p + "mlp.down_proj.weight");
        int inter = gate.length / st.hidden;
        double[][] out = new double[s][];
        for (int t = 0; t < s; t++) {
            double[] gv = linear(gate, n2[t], inter, st.hidden);
            double[] uv = linear(up, n2[t], inter, st.hidden);
            double[] act = new double[inter];
            for (int i = 0; i < inter; i++) {
                act[i] = gv[i] / (1 + Math.exp(-gv[i])) * uv[i];
            }
            double[] m = linear(down, act, st.hidden, inter);
            out[t] = new double[st.hidden];
            for (int d = 0; d < st.hidden; d++) {
                out[t][d] = h[t][d] + m[d];
            }
        }
        assert hd > 0;
        return out;
    }

    /** Causal self-attention with adjacent-pair RoPE at positions 0..S−1. */
    private double[][] selfAttention(Stack st, String p, double[][] x) {
        int s = x.length;
        int hd = st.headDim();
        double[][] q = new double[s][];
        double[][] k = new double[s][];
        double[][] v = new double[s][];
        for (int t = 0; t < s; t++) {
            q[t] = rope(linear(w(p + "q_proj.weight"), x[t], st.heads * hd, st.hidden), t, st.heads, hd, st.theta);
            k[t] = rope(linear(w(p + "k_proj.weight"), x[t], st.kvHeads * hd, st.hidden), t, st.kvHeads, hd, st.theta);
            v[t] = linear(w(p + "v_proj.weight"), x[t], st.kvHeads * hd, st.hidden);
        }
        boolean[][] causal = new boolean[s][s];
        for (int i = 0; i < s; i++) {
            for (int j = 0; j <= i; j++) {
                causal[i][j] = true;
            }
        }
        double[][] attn = attend(q, k, v, causal, st.heads, st.kvHeads, hd);
        double[][] out = new double[s][];
        for (int t = 0; t < s; t++) {
            out[t] = linear(w(p + "o_proj.weight"), attn[t], st.hidden, st.heads * hd);
        }
        return out;
    }

    /** BltCrossAttention: o_proj(attn(q_proj(q_norm(queries)), k/v_proj(k_norm(states)))) + queries. */
    private double[][] crossAttention(Stack st, String p, double[][] queries, double[][] states, boolean[][] mask) {
        int hd = st.headDim();
        double[][] qn = norm(queries, w(p + "q_norm.weight"), st.eps);
        double[][] kn = norm(states, w(p + "k_norm.weight"), st.eps);
        double[][] q = new double[queries.length][];
        for (int i = 0; i < queries.length; i++) {
            q[i] = linear(w(p + "q_proj.weight"), qn[i], st.heads * hd, st.hidden);
        }
        double[][] k = new double[states.length][];
        double[][] v = new double[states.length][];
        for (int j = 0; j < states.length; j++) {
            k[j] = linear(w(p + "k_proj.weight"), kn[j], st.kvHeads * hd, st.hidden);
            v[j] = linear(w(p + "v_proj.weight"), kn[j], st.kvHeads * hd, st.hidden);
        }
        double[][] attn = attend(q, k, v, mask, st.heads, st.kvHeads, hd);
        double[][] out = new double[queries.length][];
        for (int i = 0; i < queries.length; i++) {
            double[] o = linear(w(p + "o_proj.weight"), attn[i], st.hidden, st.heads * hd);
            for (int d = 0; d < st.hidden; d++) {
                o[d] += queries[i][d];
            }
            out[i] = o;
        }
        return out;
    }

    /**
     * Softmax attention per head, scale hd^−½, over the keys mask[i] allows; a row that allows none averages all
     * keys uniformly (what HF's finfo.min mask does in float32).
     */
    private static double[][] attend(double[][] q, double[][] k, double[][] v, boolean[][] mask, int heads, int kvHeads,
                                     int hd) {
        int group = heads / kvHeads;
        double scale = 1.0 / Math.sqrt(hd);
        double[][] out = new double[q.length][heads * hd];
        for (int i = 0; i < q.length; i++) {
            boolean any = false;
            for (int j = 0; j < k.length; j++) {
                any |= mask[i][j];
            }
            for (int h = 0; h < heads; h++) {
                int kh = h / group;
                double[] sc = new double[k.length];
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < k.length; j++) {
                    if (any && !mask[i][j]) {
                        sc[j] = Double.NEGATIVE_INFINITY;
                        continue;
                    }
                    double dot = 0;
                    for (int d = 0; d < hd; d++) {
                        dot += q[i][h * hd + d] * k[j][kh * hd + d];
                    }
                    sc[j] = any ? dot * scale : 0.0;
                    max = Math.max(max, sc[j]);
                }
                double z = 0;
                for (int j = 0; j < k.length; j++) {
                    sc[j] = sc[j] == Double.NEGATIVE_INFINITY ? 0 : Math.exp(sc[j] - max);
                    z += sc[j];
                }
                for (int j = 0; j < k.length; j++) {
                    double pj = sc[j] / z;
                    for (int d = 0; d < hd; d++) {
                        out[i][h * hd + d] += pj * v[j][kh * hd + d];
                    }
                }
            }
        }
        return out;
    }

    /** Adjacent-pair RoPE: (x[2i], x[2i+1]) of each head rotated by pos · theta^(−2i/hd). */
    private static double[] rope(double[] x, int pos, int heads, int hd, double theta) {
        double[] out = x.clone();
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < hd / 2; i++) {
                double angle = pos * Math.pow(theta, -2.0 * i / hd);
                double c = Math.cos(angle);
                double sn = Math.sin(angle);
                double a = x[h * hd + 2 * i];
                double b = x[h * hd + 2 * i + 1];
                out[h * hd + 2 * i] = a * c - b * sn;
                out[h * hd + 2 * i + 1] = b * c + a * sn;
            }
        }
        return out;
    }

    private static double[][] norm(double[][] x, double[] wt, double eps) {
        double[][] out = new double[x.length][];
        for (int t = 0; t < x.length; t++) {
            out[t] = rmsNorm(x[t], wt, eps);
        }
        return out;
    }

    /** w · x / √(mean(x²) + eps). */
    private static double[] rmsNorm(double[] x, double[] wt, double eps) {
        double ss = 0;
        for (double v : x) {
            ss += v * v;
        }
        double r = 1.0 / Math.sqrt(ss / x.length + eps);
        double[] out = new double[x.length];
        for (int d = 0; d < x.length; d++) {
            out[d] = wt[d] * x[d] * r;
        }
        return out;
    }

    /** y = W x, W (out, in) row-major. */
    private static double[] linear(double[] wt, double[] x, int out, int in) {
        if (wt.length != out * in) {
            throw new IllegalArgumentException("weight of " + wt.length + " values is not " + out + " x " + in);
        }
        double[] y = new double[out];
        for (int o = 0; o < out; o++) {
            double acc = 0;
            for (int i = 0; i < in; i++) {
                acc += wt[o * in + i] * x[i];
            }
            y[o] = acc;
        }
        return y;
    }

    private double[] w(String name) {
        return cache.computeIfAbsent(name, weights::get);
    }
}
