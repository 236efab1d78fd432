package dev.braindrip.model;

import dev.braindrip.testing.SafeTensorsFile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.braindrip.reference.DiffAttentionReference;
import dev.braindrip.reference.HfRefWeights;
import dev.braindrip.reference.HfReference;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The library's own architectures (diff_transformer, sparse_llama, mod_llama, StreamingLLM
 * attention_sink_tokens on mistral) against the independent fp64 oracle {@link HfReference}: tiny
 * random models with weights large enough that attention is far from uniform, a ragged batch of 3
 * rows as ONE forward in F32, each row against {@code HfReference.forward} on that row (NMSE ≤
 * 1e-8), plus a check that the feature changes the logits (NMSE > 1e-4 against the same weights
 * without it). Also holds the helpers (random checkpoints, thresholds) of the other Own*Tests.
 */
class OwnArchitecturesTest {
    static final double MAX_NMSE = 1e-8;
    static final double MIN_FEATURE_NMSE = 1e-4;

    @TempDir
    Path tmp;

    // =====================================================================================
    // The models
    // =====================================================================================

    /** config.json of the architecture's tiny preset, as the model layer writes it. */
    static ObjectNode tinyConfig(String type) {
        Architecture arch = Architectures.of(type);
        ObjectNode o = arch.hfConfig(arch.preset("tiny"));
        o.remove("torch_dtype");
        return o;
    }

    /** mistral (sliding window 16) with 4 StreamingLLM sink tokens. */
    static ObjectNode sinkConfig() {
        ObjectNode o = tinyConfig("mistral");
        o.put("sliding_window", 16).put("attention_sink_tokens", 4);
        return o;
    }

    /** sparse_llama, 4 layers (0, 2 sparse; 1, 3 dense), pattern as given, blocks of 64. */
    static ObjectNode sparseConfig(String pattern, int layers, int denseEvery) {
        ObjectNode o = tinyConfig("sparse_llama");
        o.put("num_hidden_layers", layers).put("sparse_pattern", pattern).put("sparse_block_size", 64)
                .put("dense_attention_every_n_layers", denseEvery);
        return o;
    }

    static ObjectNode diffConfig() {
        return tinyConfig("diff_transformer");
    }

    /** mod_llama, 4 layers, mod_layers left out (the default: layers 1 and 3 routed). */
    static ObjectNode modConfig() {
        ObjectNode o = tinyConfig("mod_llama");
        o.put("num_hidden_layers", 4);
        o.remove("mod_layers");
        return o;
    }

    // =====================================================================================
    // Random checkpoints held in memory (F32 values, fed to both the model and the oracle)
    // =====================================================================================

    /** A checkpoint: config.json and F32 tensors by Hugging Face name. */
    static final class Ckpt {
        final ObjectNode cfg;
        final LinkedHashMap<String, long[]> shapes = new LinkedHashMap<>();
        final LinkedHashMap<String, float[]> values = new LinkedHashMap<>();

        Ckpt(ObjectNode cfg) {
            this.cfg = cfg;
        }

        Ckpt copy(ObjectNode newCfg, Predicate<String> keep) {
            Ckpt c = new Ckpt(newCfg);
            for (String n : shapes.keySet()) {
                if (keep.test(n)) {
                    c.shapes.put(n, shapes.get(n).clone());
                    c.values.put(n, values.get(n).clone());
                }
            }
            return c;
        }

        void set(String name, float... v) {
            assertTrue(values.containsKey(name), "no tensor " + name);
            assertEquals(values.get(name).length, v.length, name);
            values.put(name, v.clone());
        }

        HfRefWeights weights() {
            return new HfRefWeights() {
                @Override
                public boolean has(String name) {
                    return values.containsKey(name);
                }

                @Override
                public long[] shape(String name) {
                    long[] s = shapes.get(name);
                    if (s == null) {
                        throw new IllegalArgumentException("missing tensor: " + name);
                    }
                    return s.clone();
                }

                @Override
                public double[] get(String name) {
                    float[] f = values.get(name);
                    if (f == null) {
                        throw new IllegalArgumentException("missing tensor: " + name);
                    }
                    double[] d = new double[f.length];
                    for (int i = 0; i < f.length; i++) {
                        d[i] = f[i];
                    }
                    return d;
                }
            };
        }

        HfReference reference() {
            return HfReference.of(cfg, weights());
        }

        Path write(Path dir) throws IOException {
            Files.createDirectories(dir);
            Fixtures.JSON.writeValue(dir.resolve("config.json").toFile(), cfg);
            LinkedHashMap<String, SafeTensorsFile.Raw> raw = new LinkedHashMap<>();
            for (Map.Entry<String, float[]> e : values.entrySet()) {
                float[] v = e.getValue();
                ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
                for (float x : v) {
                    b.putFloat(x);
                }
                raw.put(e.getKey(), new SafeTensorsFile.Raw("F32", shapes.get(e.getKey()), b.array()));
            }
            Fixtures.writeSafeTensors(dir.resolve("model.safetensors"), raw, Map.of("format", "pt"));
            return dir;
        }

        Transformer load(Path dir) throws IOException {
            return Transformer.load(write(dir), Device.cpu(), DType.F32);
        }
    }

    /**
     * Random weights for {@code cfg}, named and shaped by the architecture's weight rules:
     * matrices and embeddings N(0, 0.15²) (lm_head 0.3), norm weights 1 + N(0, 0.1²), λ vectors
     * N(0, 0.2²), routers N(0, 0.1²), router thresholds −1e30 (every token passes; see
     * {@link #calibrateThresholds}).
     */
    static Ckpt random(ObjectNode cfg, long seed) {
        Architecture arch = Architectures.of(cfg.get("model_type").asText());
        ModelConfig c = arch.config(new HfConfig(cfg, null));
        List<WeightRule> rules = arch.weights(c, new HashSet<>());
        SplittableRandom rng = new SplittableRandom(seed);
        Ckpt k = new Ckpt(cfg);
        for (WeightRule r : rules) {
            for (String s : r.sources()) {
                if (k.values.containsKey(s)) {
                    continue;
                }
                long[] shape = r.sourceShape();
                int n = 1;
                for (long d : shape) {
                    n = Math.multiplyExact(n, (int) d);
                }
                float[] v = new float[n];
                for (int i = 0; i < n; i++) {
                    double g = gauss(rng);
                    double x;
                    if (s.endsWith("norm.weight") || s.endsWith("subln.weight")) {
                        x = 1 + 0.1 * g;
                    } else if (s.contains("lambda_")) {
                        x = 0.2 * g;
                    } else if (s.endsWith("mod_router.weight")) {
                        x = 0.1 * g;
                    } else if (s.endsWith("mod_router.threshold")) {
                        x = -1e30;
                    } else if (s.equals("lm_head.weight")) {
                        x = 0.3 * g;
                    } else {
                        x = 0.15 * g;
                    }
                    v[i] = (float) x;
                }
                k.shapes.put(s, shape.clone());
                k.values.put(s, v);
            }
        }
        return k;
    }

    static double gauss(SplittableRandom r) {
        double u1 = 1.0 - r.nextDouble();
        double u2 = r.nextDouble();
        return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }

    /**
     * mod_llama: sets each routed layer's threshold (in layer order, as later layers' scores
     * depend on earlier routing) to the middle of the widest gap between consecutive router scores
     * in the middle half of all tokens of {@code seqs}, so that about half the tokens pass and no
     * score sits near the threshold (F32 and fp64 route alike). Returns a description (pass counts,
     * the relative margin).
     */
    static String calibrateThresholds(Ckpt k, int[][] seqs) {
        StringBuilder d = new StringBuilder();
        int layers = k.cfg.get("num_hidden_layers").asInt();
        for (int l = 0; l < layers; l++) {
            String name = "model.layers." + l + ".mod_router.threshold";
            if (!k.values.containsKey(name)) {
                continue;
            }
            List<Double> all = new ArrayList<>();
            for (int[] s : seqs) {
                double[] r = k.reference().routerScores(s).get(l);
                for (double x : r) {
                    all.add(x);
                }
            }
            double[] sorted = all.stream().mapToDouble(Double::doubleValue).sorted().toArray();
            int n = sorted.length;
            int best = -1;
            double gap = -1;
            for (int i = n / 4; i < (3 * n) / 4 && i + 1 < n; i++) {
                if (sorted[i + 1] - sorted[i] > gap) {
                    gap = sorted[i + 1] - sorted[i];
                    best = i;
                }
            }
            assertTrue(best >= 0 && gap > 0, "layer " + l + ": no gap between router scores");
            float thr = (float) ((sorted[best] + sorted[best + 1]) / 2);
            k.set(name, thr);
            double spread = sorted[n - 1] - sorted[0];
            int pass = n - 1 - best;
            d.append(String.format("layer %d: %d of %d tokens pass, threshold %.4f, margin %.2e (%.1e of the score range); ",
                    l, pass, n, thr, gap / 2, gap / 2 / spread));
            assertTrue(pass > 0 && pass < n, "layer " + l + ": all or none pass");
        }
        return d.toString();
    }

    static int[][] randomRows(long seed, int vocab, int... lengths) {
        Random rnd = new Random(seed);
        int[][] rows = new int[lengths.length][];
        for (int i = 0; i < lengths.length; i++) {
            rows[i] = rnd.ints(lengths[i], 0, vocab).toArray();
        }
        return rows;
    }

    // =====================================================================================
    // Comparisons
    // =====================================================================================

    static double nmse(float[] got, int gotFrom, double[] want) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < want.length; i++) {
            double e = got[gotFrom + i] - want[i];
            num += e * e;
            den += want[i] * want[i];
        }
        return den == 0 ? (num == 0 ? 0 : Double.POSITIVE_INFINITY) : num / den;
    }

    static double nmse(double[] got, double[] want) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < want.length; i++) {
            double e = got[i] - want[i];
            num += e * e;
            den += want[i] * want[i];
        }
        return den == 0 ? (num == 0 ? 0 : Double.POSITIVE_INFINITY) : num / den;
    }

    static double nmse(float[] got, float[] want) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < want.length; i++) {
            double e = (double) got[i] - want[i];
            num += e * e;
            den += (double) want[i] * want[i];
        }
        return den == 0 ? (num == 0 ? 0 : Double.POSITIVE_INFINITY) : num / den;
    }

    /**
     * One F32 forward of all rows as a ragged batch; each row against the oracle. Returns the packed
     * logits; failures (row, NMSE) are added to {@code failures}.
     */
    static float[] checkAgainstReference(String what, Ckpt k, Path dir, int[][] rows, List<String> failures) throws IOException {
        int vocab = k.cfg.get("vocab_size").asInt();
        HfReference ref = k.reference();
        float[] got;
        try (Transformer m = k.load(dir)) {
            got = Fixtures.forward(m, TokenBatch.of(rows), vocab);
        }
        int at = 0;
        for (int r = 0; r < rows.length; r++) {
            double[] want = Fixtures.flatten(ref.forward(rows[r]));
            double e = nmse(got, at * vocab, want);
            System.out.printf("  %s row %d (S=%d): NMSE %.3e vs HfReference%n", what, r, rows[r].length, e);
            if (!(e <= MAX_NMSE)) {
                failures.add(String.format("%s row %d (S=%d): NMSE %.3e > %.0e", what, r, rows[r].length, e, MAX_NMSE));
            }
            at += rows[r].length;
        }
        return got;
    }

    /** The feature changes the logits: NMSE of {@code with} against {@code without} above the bound. */
    static void checkMatters(String what, float[] with, float[] without, List<String> failures) {
        double e = nmse(with, without);
        System.out.printf("  %s: NMSE %.3e between the model and the same weights without the feature%n", what, e);
        if (!(e > MIN_FEATURE_NMSE)) {
            failures.add(String.format("%s: the feature barely changes the logits (NMSE %.3e <= %.0e)", what, e, MIN_FEATURE_NMSE));
        }
    }

    static void report(List<String> failures) {
        if (!failures.isEmpty()) {
            fail(String.join("\n", failures));
        }
    }

    // =====================================================================================
    // Tests
    // =====================================================================================

    @Test
    void streamingLlmSinkTokens() throws IOException {
        List<String> failures = new ArrayList<>();
        Ckpt k = random(sinkConfig(), 11);
        int[][] rows = randomRows(12, 512, 1, 23, 40);
        float[] with = checkAgainstReference("mistral W16 +4 sinks", k, tmp.resolve("sink"), rows, failures);
        ObjectNode plain = k.cfg.deepCopy();
        plain.remove("attention_sink_tokens");
        Ckpt p = k.copy(plain, n -> true);
        float[] without = checkAgainstReference("mistral W16 no sinks", p, tmp.resolve("nosink"), rows, failures);
        checkMatters("attention_sink_tokens 4", with, without, failures);
        // The oracle's feature too (independently of the fast path).
        double e = nmse(Fixtures.flatten(k.reference().forward(rows[2])), Fixtures.flatten(p.reference().forward(rows[2])));
        if (!(e > MIN_FEATURE_NMSE)) {
            failures.add(String.format("HfReference: sinks barely matter (NMSE %.3e)", e));
        }
        report(failures);
    }

    @Test
    void sparseLlamaLocalVstride() throws IOException {
        sparseCase("local:2,vstride:4", 4, 2, 21);
    }

    /** Phi-3-small's per-head vertical stride with a sink block, every layer sparse. */
    @Test
    void sparseLlamaHeadVerticalStride() throws IOException {
        sparseCase("sink:1,local:1,hvstride:8", 2, 0, 22);
    }

    /** vstride:2 alone: query block 0 lists no key block, so those rows' attention outputs zeros. */
    @Test
    void sparseLlamaRowsThatSeeNothing() throws IOException {
        sparseCase("vstride:2", 2, 0, 23);
    }

    private void sparseCase(String pattern, int layers, int denseEvery, long seed) throws IOException {
        List<String> failures = new ArrayList<>();
        Ckpt k = random(sparseConfig(pattern, layers, denseEvery), seed);
        int[][] rows = randomRows(seed + 100, 512, 1, 70, 200);
        String tag = "sparse_llama " + pattern + " (" + layers + " layers, dense every " + denseEvery + ")";
        float[] with = checkAgainstReference(tag, k, tmp.resolve("sparse"), rows, failures);
        ObjectNode plain = k.cfg.deepCopy();
        plain.put("model_type", "llama");
        plain.remove(List.of("sparse_pattern", "sparse_block_size", "dense_attention_every_n_layers"));
        Ckpt p = k.copy(plain, n -> true);
        float[] without;
        try (Transformer m = p.load(tmp.resolve("dense"))) {
            without = Fixtures.forward(m, TokenBatch.of(rows), 512);
        }
        checkMatters(tag + " vs llama", with, without, failures);
        double e = nmse(Fixtures.flatten(k.reference().forward(rows[2])), Fixtures.flatten(p.reference().forward(rows[2])));
        if (!(e > MIN_FEATURE_NMSE)) {
            failures.add(String.format("HfReference: the sparse layout barely matters (NMSE %.3e)", e));
        }
        report(failures);
    }

    @Test
    void diffTransformer() throws IOException {
        List<String> failures = new ArrayList<>();
        Ckpt k = random(diffConfig(), 31);
        int[][] rows = randomRows(32, 512, 1, 9, 33);
        float[] with = checkAgainstReference("diff_transformer", k, tmp.resolve("diff"), rows, failures);
        // λ matters: λq1 = λk1 = 0.5 and λq2 = λk2 = 0 give λ = e^(8·0.25) − 1 + λinit ≈ 6.4 + λinit.
        Ckpt big = k.copy(k.cfg, n -> true);
        int layers = k.cfg.get("num_hidden_layers").asInt();
        int d = k.cfg.get("head_dim").asInt();
        for (int l = 0; l < layers; l++) {
            String ap = "model.layers." + l + ".self_attn.";
            float[] half = new float[d];
            Arrays.fill(half, 0.5f);
            big.set(ap + "lambda_q1", half);
            big.set(ap + "lambda_k1", half);
            big.set(ap + "lambda_q2", new float[d]);
            big.set(ap + "lambda_k2", new float[d]);
        }
        float[] withBig = checkAgainstReference("diff_transformer large λ", big, tmp.resolve("diff-big"), rows, failures);
        checkMatters("diff_transformer λ ≈ 6.4 + λinit vs random λ", withBig, with, failures);
        report(failures);
    }

    /**
     * HfReference's differential layer against DiffAttentionReference's whole-layer reference
     * (written separately from the same module): a 2-layer model whose layer 0 is the identity
     * (o_proj = down_proj = 0) and whose layer 1 (depth 1) has no MLP (down_proj = 0), so the logits
     * are lm_head · norm(e + attn₁(norm₁(e))) with attn₁ = {@code DiffAttentionReference.layer}.
     */
    @Test
    void diffReferenceMatchesDiffAttentionReference() {
        Ckpt k = random(diffConfig(), 41);
        ObjectNode cfg = k.cfg;
        int hidden = cfg.get("hidden_size").asInt();
        int heads = cfg.get("num_attention_heads").asInt();
        int kvHeads = cfg.get("num_key_value_heads").asInt();
        int vocab = cfg.get("vocab_size").asInt();
        double eps = cfg.get("rms_norm_eps").asDouble();
        double theta = cfg.get("rope_theta").asDouble();
        assertEquals(2, cfg.get("num_hidden_layers").asInt());
        k.set("model.layers.0.self_attn.o_proj.weight", new float[k.values.get("model.layers.0.self_attn.o_proj.weight").length]);
        k.set("model.layers.0.mlp.down_proj.weight", new float[k.values.get("model.layers.0.mlp.down_proj.weight").length]);
        k.set("model.layers.1.mlp.down_proj.weight", new float[k.values.get("model.layers.1.mlp.down_proj.weight").length]);
        int[] tokens = randomRows(42, vocab, 29)[0];
        int S = tokens.length;
        double[][] want = k.reference().forward(tokens);

        float[] embed = k.values.get("model.embed_tokens.weight");
        float[] ln1 = k.values.get("model.layers.1.input_layernorm.weight");
        float[] x = new float[S * hidden];
        double[][] e = new double[S][hidden];
        for (int t = 0; t < S; t++) {
            double ss = 0;
            for (int i = 0; i < hidden; i++) {
                e[t][i] = embed[tokens[t] * hidden + i];
                ss += e[t][i] * e[t][i];
            }
            double r = 1 / Math.sqrt(ss / hidden + eps);
            for (int i = 0; i < hidden; i++) {
                x[t * hidden + i] = (float) (e[t][i] * r * ln1[i]);
            }
        }
        String ap = "model.layers.1.self_attn.";
        DiffAttentionReference.LayerWeights w = new DiffAttentionReference.LayerWeights(k.values.get(ap + "q_proj.weight"),
                k.values.get(ap + "k_proj.weight"), k.values.get(ap + "v_proj.weight"), k.values.get(ap + "o_proj.weight"),
                k.values.get(ap + "lambda_q1"), k.values.get(ap + "lambda_k1"), k.values.get(ap + "lambda_q2"),
                k.values.get(ap + "lambda_k2"), k.values.get(ap + "subln.weight"));
        int[] pos = new int[S];
        for (int t = 0; t < S; t++) {
            pos[t] = t;
        }
        double[] a = DiffAttentionReference.layer(x, 1, S, hidden, heads, kvHeads, 1, pos, (float) theta, w);
        float[] fn = k.values.get("model.norm.weight");
        float[] head = k.values.get("lm_head.weight");
        double num = 0;
        double den = 0;
        for (int t = 0; t < S; t++) {
            double[] h = new double[hidden];
            double ss = 0;
            for (int i = 0; i < hidden; i++) {
                h[i] = e[t][i] + a[t * hidden + i];
                ss += h[i] * h[i];
            }
            double r = 1 / Math.sqrt(ss / hidden + eps);
            for (int v = 0; v < vocab; v++) {
                double s = 0;
                for (int i = 0; i < hidden; i++) {
                    s += head[v * hidden + i] * (h[i] * r * fn[i]);
                }
                double dd = want[t][v] - s;
                num += dd * dd;
                den += s * s;
            }
        }
        double err = num / den;
        System.out.printf("  HfReference diff layer (depth 1) vs DiffAttentionReference.layer: NMSE %.3e%n", err);
        assertTrue(err <= 1e-10, "HfReference vs DiffAttentionReference: NMSE " + err);
    }

    @Test
    void modLlama() throws IOException {
        List<String> failures = new ArrayList<>();
        Ckpt k = random(modConfig(), 51);
        int[][] rows = randomRows(52, 512, 1, 17, 40);
        String routing = calibrateThresholds(k, rows);
        System.out.println("  mod_llama routing: " + routing);
        float[] with = checkAgainstReference("mod_llama", k, tmp.resolve("mod"), rows, failures);
        ObjectNode plain = k.cfg.deepCopy();
        plain.put("model_type", "llama");
        plain.remove(List.of("mod_layers", "mod_capacity"));
        Ckpt p = k.copy(plain, n -> !n.contains("mod_router"));
        float[] without;
        try (Transformer m = p.load(tmp.resolve("plain"))) {
            without = Fixtures.forward(m, TokenBatch.of(rows), 512);
        }
        checkMatters("mod_llama vs llama", with, without, failures);
        double e = nmse(Fixtures.flatten(k.reference().forward(rows[2])), Fixtures.flatten(p.reference().forward(rows[2])));
        if (!(e > MIN_FEATURE_NMSE)) {
            failures.add(String.format("HfReference: routing barely matters (NMSE %.3e)", e));
        }
        report(failures);
    }

    /**
     * mod_llama with every token passing (threshold −1e30): x + r·(block(x) − x) on the whole
     * sequence; with none passing (+1e30): the routed layers are the identity, i.e. the llama made of
     * layers 0 and 2 alone (fast path and oracle).
     */
    @Test
    void modLlamaAllOrNonePass() throws IOException {
        List<String> failures = new ArrayList<>();
        Ckpt k = random(modConfig(), 61);
        int[][] rows = randomRows(62, 512, 1, 17, 40);
        checkAgainstReference("mod_llama all pass", k, tmp.resolve("mod-all"), rows, failures);
        k.set("model.layers.1.mod_router.threshold", 1e30f);
        k.set("model.layers.3.mod_router.threshold", 1e30f);
        float[] none = checkAgainstReference("mod_llama none pass", k, tmp.resolve("mod-none"), rows, failures);
        ObjectNode two = k.cfg.deepCopy();
        two.put("model_type", "llama").put("num_hidden_layers", 2);
        two.remove(List.of("mod_layers", "mod_capacity"));
        Ckpt p = new Ckpt(two);
        for (String n : k.values.keySet()) {
            if (n.contains("mod_router") || n.startsWith("model.layers.1.") || n.startsWith("model.layers.3.")) {
                continue;
            }
            String m = n.replace("model.layers.2.", "model.layers.1.");
            p.shapes.put(m, k.shapes.get(n).clone());
            p.values.put(m, k.values.get(n).clone());
        }
        float[] plain;
        try (Transformer m = p.load(tmp.resolve("two"))) {
            plain = Fixtures.forward(m, TokenBatch.of(rows), 512);
        }
        double e = nmse(none, plain);
        System.out.printf("  mod_llama none pass vs 2-layer llama: NMSE %.3e (fast path)%n", e);
        if (!(e <= 1e-12)) {
            failures.add(String.format("mod_llama none pass vs 2-layer llama: NMSE %.3e", e));
        }
        for (int r = 0; r < rows.length; r++) {
            double er = nmse(Fixtures.flatten(k.reference().forward(rows[r])), Fixtures.flatten(p.reference().forward(rows[r])));
            if (!(er <= 1e-24)) {
                failures.add(String.format("HfReference: mod_llama none pass vs 2-layer llama row %d: NMSE %.3e", r, er));
            }
        }
        report(failures);
    }

    /**
     * The oracle's masks reduce to plain causal attention where they should: sink tokens covering
     * the whole row, and a sparse layout whose local window covers every block.
     */
    @Test
    void referenceMasksReduceToCausal() {
        int[][] rows = randomRows(71, 512, 1, 40, 200);
        Ckpt sink = random(sinkConfig(), 72);
        ObjectNode all = sink.cfg.deepCopy();
        all.put("attention_sink_tokens", 200);
        ObjectNode llama = sink.cfg.deepCopy();
        llama.put("model_type", "llama");
        llama.remove(List.of("sliding_window", "attention_sink_tokens"));
        for (int[] row : rows) {
            double e = nmse(Fixtures.flatten(sink.copy(all, n -> true).reference().forward(row)),
                    Fixtures.flatten(sink.copy(llama, n -> true).reference().forward(row)));
            assertTrue(e <= 1e-24, "sinks covering the row vs llama: NMSE " + e);
        }
        Ckpt sp = random(sparseConfig("local:4", 2, 0), 73);
        ObjectNode dense = sp.cfg.deepCopy();
        dense.put("model_type", "llama");
        dense.remove(List.of("sparse_pattern", "sparse_block_size", "dense_attention_every_n_layers"));
        for (int[] row : rows) {
            double e = nmse(Fixtures.flatten(sp.reference().forward(row)), Fixtures.flatten(sp.copy(dense, n -> true).reference().forward(row)));
            assertTrue(e <= 1e-24, "local:4 over 4 blocks vs llama: NMSE " + e);
        }
    }
}
