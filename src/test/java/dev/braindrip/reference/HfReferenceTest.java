package dev.braindrip.reference;

import dev.braindrip.testing.SafeTensorsFile;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Checks {@link HfReference} against logits / hidden states that Hugging Face transformers wrote
 * for small random models under {@code src/test/resources/hf/<fixture>/}, plus a few hand-made
 * cases whose answers follow from first principles. The encoder-decoder fixtures (model_type t5) are checked
 * with {@link T5Reference} instead ({@link T5ReferenceTest#checkFixture}), the BLT fixtures (model_type blt) with
 * {@link BltReference} ({@link BltReferenceTest#checkFixture}).
 */
class HfReferenceTest {

    private static final Path FIXTURES = Path.of("src/test/resources/hf");
    private static final double MAX_NMSE = 1e-9;
    private static final ObjectMapper JSON = new ObjectMapper();

    // =====================================================================================
    // Fixtures written by HF
    // =====================================================================================

    @TestFactory
    Stream<DynamicTest> matchesHuggingFaceFixtures() throws IOException {
        List<Path> dirs = new ArrayList<>();
        if (Files.isDirectory(FIXTURES)) {
            try (Stream<Path> s = Files.list(FIXTURES)) {
                s.filter(Files::isDirectory).filter(d -> Files.exists(d.resolve("config.json"))).sorted()
                        .forEach(dirs::add);
            }
        }
        if (dirs.isEmpty()) {
            return Stream.of(DynamicTest.dynamicTest("no fixtures",
                    () -> fail("no fixtures (directories with config.json) under " + FIXTURES.toAbsolutePath())));
        }
        return dirs.stream().map(d -> DynamicTest.dynamicTest(d.getFileName().toString(), () -> checkFixture(d)));
    }

    private static void checkFixture(Path dir) throws IOException {
        JsonNode config = JSON.readTree(dir.resolve("config.json").toFile());
        if (config.path("model_type").asText().equals("t5")) { // encoder-decoder: its own oracle, T5Reference
            T5ReferenceTest.checkFixture(dir);
            return;
        }
        if (config.path("model_type").asText().equals("blt")) { // byte latent transformer: its own oracle, BltReference
            BltReferenceTest.checkFixture(dir);
            return;
        }
        HfRefWeights weights = loadWeights(dir);
        SafeTensorsFile expected = new SafeTensorsFile(dir.resolve("expected.safetensors"));
        HfReference ref = HfReference.of(config, weights);
        int rows;
        String rowsMeta = expected.metadata.get("rows");
        if (rowsMeta != null) {
            rows = Integer.parseInt(rowsMeta);
        } else {
            rows = (int) expected.tensors.keySet().stream().filter(n -> n.startsWith("tokens_")).count();
        }
        assertTrue(rows > 0, dir + ": expected.safetensors has no rows");
        String output = expected.metadata.getOrDefault("output", ref.isEncoderOnly() ? "hidden" : "logits");
        assertEquals(ref.isEncoderOnly() ? "hidden" : "logits", output, dir + ": output kind");
        List<String> failures = new ArrayList<>();
        StringBuilder report = new StringBuilder();
        for (int r = 0; r < rows; r++) {
            double[] tok = expected.get("tokens_" + r);
            int[] tokens = new int[tok.length];
            for (int i = 0; i < tok.length; i++) {
                tokens[i] = (int) tok[i];
            }
            String key = output + "_" + r;
            long[] shape = expected.shape(key);
            double[] want = expected.get(key);
            double[][] got = ref.forward(tokens);
            assertEquals(shape[0], got.length, dir + " " + key + ": rows");
            assertEquals(shape[1], got[0].length, dir + " " + key + ": columns");
            double num = 0;
            double den = 0;
            int cols = got[0].length;
            for (int i = 0; i < got.length; i++) {
                for (int j = 0; j < cols; j++) {
                    double b = want[i * cols + j];
                    double d = got[i][j] - b;
                    num += d * d;
                    den += b * b;
                }
            }
            double nmse = num / den;
            report.append(String.format("  %s row %d (S=%d): NMSE %.3e%n", dir.getFileName(), r, tokens.length, nmse));
            if (!(nmse <= MAX_NMSE)) {
                failures.add(String.format("row %d NMSE %.3e", r, nmse));
            }
        }
        System.out.print(report);
        if (!failures.isEmpty()) {
            fail(dir.getFileName() + " (" + expected.metadata + "): " + String.join(", ", failures));
        }
    }

    private static HfRefWeights loadWeights(Path dir) throws IOException {
        return SafeTensorsFile.weights(dir);
    }

    /** In-memory weights. */
    static final class MapWeights implements HfRefWeights {
        final Map<String, long[]> shapes = new HashMap<>();
        final Map<String, double[]> values = new HashMap<>();
        final Random rnd;

        MapWeights(long seed) {
            rnd = new Random(seed);
        }

        double[] put(String name, double[] v, long... shape) {
            shapes.put(name, shape);
            values.put(name, v);
            return v;
        }

        double[] rand(String name, long... shape) {
            int n = 1;
            for (long d : shape) {
                n *= (int) d;
            }
            double[] v = new double[n];
            for (int i = 0; i < n; i++) {
                v[i] = rnd.nextGaussian() * 0.5;
            }
            return put(name, v, shape);
        }

        @Override
        public boolean has(String name) {
            return shapes.containsKey(name);
        }

        @Override
        public long[] shape(String name) {
            return shapes.get(name).clone();
        }

        @Override
        public double[] get(String name) {
            double[] v = values.get(name);
            if (v == null) {
                throw new IllegalArgumentException("missing tensor: " + name);
            }
            return v.clone();
        }
    }

    private static ObjectNode llamaConfig(String type, int h, int heads, int kv, int inter, int vocab, int layers) {
        ObjectNode c = JSON.createObjectNode();
        c.put("model_type", type);
        c.put("hidden_size", h);
        c.put("num_attention_heads", heads);
        c.put("num_key_value_heads", kv);
        c.put("intermediate_size", inter);
        c.put("vocab_size", vocab);
        c.put("num_hidden_layers", layers);
        c.put("rms_norm_eps", 1e-6);
        c.put("rope_theta", 10000.0);
        c.put("hidden_act", "silu");
        return c;
    }

    private static MapWeights llamaWeights(long seed, int h, int heads, int kv, int inter, int vocab, int layers) {
        int d = h / heads;
        MapWeights w = new MapWeights(seed);
        w.rand("model.embed_tokens.weight", vocab, h);
        for (int l = 0; l < layers; l++) {
            String p = "model.layers." + l + ".";
            w.rand(p + "self_attn.q_proj.weight", heads * d, h);
            w.rand(p + "self_attn.k_proj.weight", kv * d, h);
            w.rand(p + "self_attn.v_proj.weight", kv * d, h);
            w.rand(p + "self_attn.o_proj.weight", h, heads * d);
            w.rand(p + "mlp.gate_proj.weight", inter, h);
            w.rand(p + "mlp.up_proj.weight", inter, h);
            w.rand(p + "mlp.down_proj.weight", h, inter);
            w.rand(p + "input_layernorm.weight", h);
            w.rand(p + "post_attention_layernorm.weight", h);
        }
        w.rand("model.norm.weight", h);
        w.rand("lm_head.weight", vocab, h);
        return w;
    }

    private static double[] matVec(double[] m, double[] x, int rows, int cols) {
        double[] y = new double[rows];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                y[r] += m[r * cols + c] * x[c];
            }
        }
        return y;
    }

    private static double[] rms(double[] x, double[] w) {
        double ms = Arrays.stream(x).map(v -> v * v).sum() / x.length;
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            y[i] = x[i] / Math.sqrt(ms + 1e-6) * w[i];
        }
        return y;
    }

    /** One layer, one token: attention is the V projection (the only key, RoPE at 0 is identity). */
    @Test
    void singleTokenLlamaIsClosedForm() {
        int h = 8;
        int heads = 4;
        int kv = 2;
        int inter = 6;
        int vocab = 5;
        MapWeights w = llamaWeights(1, h, heads, kv, inter, vocab, 1);
        HfReference ref = HfReference.of(llamaConfig("llama", h, heads, kv, inter, vocab, 1), w);
        int tok = 3;
        double[] x = Arrays.copyOfRange(w.values.get("model.embed_tokens.weight"), tok * h, tok * h + h);
        String p = "model.layers.0.";
        double[] hn = rms(x, w.values.get(p + "input_layernorm.weight"));
        double[] v = matVec(w.values.get(p + "self_attn.v_proj.weight"), hn, kv * 2, h);
        double[] ctx = new double[heads * 2];
        for (int q = 0; q < heads; q++) { // query head q reads kv head q / (heads / kv)
            System.arraycopy(v, (q / 2) * 2, ctx, q * 2, 2);
        }
        double[] a = matVec(w.values.get(p + "self_attn.o_proj.weight"), ctx, h, heads * 2);
        for (int i = 0; i < h; i++) {
            x[i] += a[i];
        }
        double[] h2 = rms(x, w.values.get(p + "post_attention_layernorm.weight"));
        double[] g = matVec(w.values.get(p + "mlp.gate_proj.weight"), h2, inter, h);
        double[] u = matVec(w.values.get(p + "mlp.up_proj.weight"), h2, inter, h);
        for (int i = 0; i < inter; i++) {
            g[i] = g[i] / (1 + Math.exp(-g[i])) * u[i];
        }
        double[] m = matVec(w.values.get(p + "mlp.down_proj.weight"), g, h, inter);
        for (int i = 0; i < h; i++) {
            x[i] += m[i];
        }
        double[] want = matVec(w.values.get("lm_head.weight"), rms(x, w.values.get("model.norm.weight")), vocab, h);
        double[][] got = ref.forward(new int[] {tok});
        assertArrayEquals(want, got[0], 1e-12);
    }

    /** Causal: the logits of a prefix do not depend on what follows. */
    @Test
    void decoderIsCausal() {
        MapWeights w = llamaWeights(2, 8, 2, 1, 6, 7, 2);
        HfReference ref = HfReference.of(llamaConfig("llama", 8, 2, 1, 6, 7, 2), w);
        double[][] a = ref.forward(new int[] {1, 4, 2, 6});
        double[][] b = ref.forward(new int[] {1, 4, 2});
        for (int t = 0; t < 3; t++) {
            assertArrayEquals(b[t], a[t], 1e-12);
        }
    }

    /** sliding_window 1: each token sees only itself, so its output equals that of the token alone. */
    @Test
    void windowOfOneSeesOnlyItself() {
        ObjectNode c = llamaConfig("mistral", 8, 2, 2, 6, 7, 2);
        c.put("sliding_window", 1);
        MapWeights w = llamaWeights(3, 8, 2, 2, 6, 7, 2);
        HfReference ref = HfReference.of(c, w);
        int[] seq = {3, 5, 1};
        double[][] all = ref.forward(seq);
        // With W = 1 attention is position-independent (one key), so only the MLP/norms remain.
        for (int t = 0; t < seq.length; t++) {
            assertArrayEquals(ref.forward(new int[] {seq[t]})[0], all[t], 1e-12);
        }
        // And the window matters: without it, position 2 differs.
        c.putNull("sliding_window");
        double[][] full = HfReference.of(c, w).forward(seq);
        assertTrue(Math.abs(full[2][0] - all[2][0]) > 1e-9);
    }

    @Test
    void unknownModelTypeListsKnownOnes() {
        ObjectNode c = llamaConfig("t5", 8, 2, 2, 6, 7, 1);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> HfReference.of(c, new MapWeights(0)));
        for (String k : List.of("llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe",
                "gemma2", "gpt_oss", "gpt2", "bert")) {
            assertTrue(e.getMessage().contains(k), e.getMessage());
        }
    }

    @Test
    void missingTensorIsNamed() {
        MapWeights w = llamaWeights(4, 8, 2, 2, 6, 7, 1);
        w.shapes.remove("model.layers.0.mlp.up_proj.weight");
        HfReference ref = HfReference.of(llamaConfig("llama", 8, 2, 2, 6, 7, 1), w);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ref.forward(new int[] {1}));
        assertTrue(e.getMessage().contains("model.layers.0.mlp.up_proj.weight"), e.getMessage());
    }

    @Test
    void erfIsAccurate() {
        // Reference values (Abramowitz & Stegun / mpmath), 16+ digits.
        double[][] cases = {
            {0.0, 0.0},
            {0.1, 0.1124629160182848922},
            {0.5, 0.5204998778130465377},
            {1.0, 0.8427007929497148693},
            {1.5, 0.9661051464753107271},
            {2.0, 0.9953222650189527342},
            {3.0, 0.9999779095030014146},
            {4.0, 0.9999999845827420997},
            {-0.7, -0.6778011938374184},
        };
        for (double[] c : cases) {
            assertEquals(c[1], HfRefMath.erf(c[0]), 4e-16, "erf(" + c[0] + ")");
        }
    }

    @Test
    void halfDecoding() {
        assertEquals(1.0, SafeTensorsFile.halfToDouble(0x3C00));
        assertEquals(-2.0, SafeTensorsFile.halfToDouble(0xC000));
        assertEquals(65504.0, SafeTensorsFile.halfToDouble(0x7BFF));
        assertEquals(Math.pow(2, -24), SafeTensorsFile.halfToDouble(0x0001));
        assertEquals(0.333251953125, SafeTensorsFile.halfToDouble(0x3555));
    }
}
