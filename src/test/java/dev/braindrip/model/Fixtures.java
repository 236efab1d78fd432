package dev.braindrip.model;

import dev.braindrip.testing.SafeTensorsFile;
import dev.braindrip.testing.SafeTensorsFile.Raw;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.braindrip.reference.HfRefWeights;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import dev.braindrip.tensor.Tensor;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;

/**
 * Test-side helpers for the model tests: the Hugging Face fixtures under src/test/resources/hf/
 * (see its README.md), a minimal safetensors reader and writer independent of the main code's
 * {@code dev.braindrip.io}, NMSE, and loading with the allowed skips (OPTIONAL, none among the default fixtures).
 */
final class Fixtures {
    static final Path DEFAULT_ROOT = Path.of("src/test/resources/hf");
    /**
     * -Dbraindrip.hfFixtures=DIR replaces {@link #DEFAULT_ROOT} with DIR: fixtures made by another transformers
     * version (scripts/gpu-check.sh's hf-models step, scripts/hf_fixtures.py --site system), which may hold a different set.
     */
    static final String ROOT_PROPERTY = "braindrip.hfFixtures";
    static final Path ROOT = Path.of(System.getProperty(ROOT_PROPERTY, DEFAULT_ROOT.toString()));
    /** ROOT is not the default: EXPECTED keeps only the fixtures present, unknown ones become OPTIONAL (see below). */
    static final boolean CUSTOM_ROOT = !ROOT.normalize().equals(DEFAULT_ROOT)
            && !ROOT.toAbsolutePath().normalize().equals(DEFAULT_ROOT.toAbsolutePath().normalize());
    static final ObjectMapper JSON = new ObjectMapper();

    private static final List<String> KNOWN_EXPECTED = List.of("llama", "llama3-rope", "llama-linear-rope", "llama-bf16",
            "mistral", "mixtral", "qwen2", "qwen2-sliding", "qwen2-sliding-4.57", "qwen2_moe", "qwen3", "qwen3_moe", "gemma2",
            "gpt2", "gpt2-noprefix", "bert", "gpt_oss", "t5", "t5-v1_1", "blt", "blt-maxpatch");
    private static final List<String> KNOWN_OPTIONAL = List.of();

    /**
     * Fixtures whose architecture the model layer must implement: a failure here is a failure. Under a custom
     * ROOT, only those of them that are present (a transformers version may lack an architecture).
     */
    static final List<String> EXPECTED = CUSTOM_ROOT ? present(KNOWN_EXPECTED) : KNOWN_EXPECTED;

    /**
     * Fixtures that may be unsupported (load throws UnsupportedOperationException or "unknown model_type"). Under
     * a custom ROOT also every present fixture in neither known list (reported at class load, skipped if unsupported).
     */
    static final List<String> OPTIONAL = CUSTOM_ROOT ? withUnknown(KNOWN_OPTIONAL) : KNOWN_OPTIONAL;

    static {
        if (CUSTOM_ROOT) {
            List<String> absent = new ArrayList<>(KNOWN_EXPECTED);
            absent.addAll(KNOWN_OPTIONAL);
            absent.removeAll(all());
            List<String> unknown = new ArrayList<>(OPTIONAL);
            unknown.removeAll(KNOWN_OPTIONAL);
            System.out.println("Fixtures: ROOT " + ROOT.toAbsolutePath() + " (-D" + ROOT_PROPERTY + "): " + all().size()
                    + " fixtures; expected " + EXPECTED + "; known but absent (skipped) " + absent
                    + "; not in the known lists (run as optional) " + unknown);
        }
    }

    private static List<String> present(List<String> known) {
        List<String> have = all();
        return known.stream().filter(have::contains).toList();
    }

    private static List<String> withUnknown(List<String> known) {
        List<String> out = new ArrayList<>(known);
        for (String n : all()) {
            if (!KNOWN_EXPECTED.contains(n) && !known.contains(n)) {
                out.add(n);
            }
        }
        return List.copyOf(out);
    }

    private Fixtures() {
    }

    // =====================================================================================
    // Fixture directories
    // =====================================================================================

    /** Every fixture directory (one with a config.json), sorted by name. */
    static List<String> all() {
        List<String> out = new ArrayList<>();
        if (Files.isDirectory(ROOT)) {
            try (Stream<Path> s = Files.list(ROOT)) {
                s.filter(Files::isDirectory).filter(d -> Files.exists(d.resolve("config.json")))
                        .map(d -> d.getFileName().toString()).sorted().forEach(out::add);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
        return out;
    }

    static Path dir(String name) {
        return ROOT.resolve(name);
    }

    /**
     * Loads fixture {@code name}. A fixture that is neither expected nor optional fails (someone
     * added a fixture without deciding about it). An optional fixture whose architecture is not
     * implemented is skipped with {@link Assumptions#abort}; every other failure propagates.
     */
    static Transformer load(String name, Device device, DType dtype) throws IOException {
        return load(name, dir(name), device, dtype);
    }

    static Transformer load(String name, Path dir, Device device, DType dtype) throws IOException {
        if (CUSTOM_ROOT && dir.equals(dir(name)) && !Files.exists(dir.resolve("config.json"))) {
            Assumptions.abort("fixture " + name + " is not under " + ROOT + " (-D" + ROOT_PROPERTY
                    + "): the transformers version that made them lacks it");
        }
        if (!EXPECTED.contains(name) && !OPTIONAL.contains(name)) {
            throw new AssertionError("fixture '" + name + "' is in neither Fixtures.EXPECTED nor Fixtures.OPTIONAL; "
                    + "decide whether the model layer must support it");
        }
        try {
            return Transformer.load(dir, device, dtype);
        } catch (UnsupportedOperationException e) {
            if (OPTIONAL.contains(name)) {
                Assumptions.abort("optional fixture " + name + " not implemented (UnsupportedOperationException: "
                        + e.getMessage() + ")");
            }
            throw new AssertionError("fixture " + name + " is EXPECTED to work but loading it is unsupported: " + e, e);
        } catch (IllegalArgumentException e) {
            if (OPTIONAL.contains(name) && saysUnknownModelType(e.getMessage())) {
                Assumptions.abort("optional fixture " + name + " not implemented (" + e.getMessage() + ")");
            }
            if (saysUnknownModelType(e.getMessage())) {
                throw new AssertionError("fixture " + name + " is EXPECTED to work but its architecture is not implemented: "
                        + e.getMessage(), e);
            }
            throw e;
        }
    }

    static boolean saysUnknownModelType(String message) {
        if (message == null) {
            return false;
        }
        String m = message.toLowerCase(Locale.ROOT);
        return m.contains("model_type") && (m.contains("unknown") || m.contains("unsupported") || m.contains("not supported"));
    }

    /** Copies the files of a fixture (flat directory) into {@code to}. */
    static Path copy(String name, Path to) throws IOException {
        Files.createDirectories(to);
        try (Stream<Path> s = Files.list(dir(name))) {
            for (Path p : (Iterable<Path>) s::iterator) {
                if (Files.isRegularFile(p)) {
                    Files.copy(p, to.resolve(p.getFileName().toString()), StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
        return to;
    }

    // =====================================================================================
    // expected.safetensors
    // =====================================================================================

    /** The rows of a fixture's expected.safetensors: tokens and the expected outputs (S_r × cols each). */
    /**
     * One fixture's rows. Encoder-decoder fixtures (output "seq2seq"): {@code tokens} are the decoder's
     * input rows and {@code values} their logits, {@code sources} the encoder's input rows and
     * {@code encoder} its last hidden states; both null otherwise.
     */
    record Expected(String output, int[][] tokens, double[][] values, int cols, Map<String, String> metadata, int[][] sources,
                    double[][] encoder) {
        Expected(String output, int[][] tokens, double[][] values, int cols, Map<String, String> metadata) {
            this(output, tokens, values, cols, metadata, null, null);
        }

        int rows() {
            return tokens.length;
        }

        boolean seq2seq() {
            return sources != null;
        }

        TokenBatch sourceBatch() {
            return TokenBatch.of(sources);
        }

        TokenBatch batch() {
            return TokenBatch.of(tokens);
        }
    }

    static Expected expected(String name) throws IOException {
        SafeTensorsFile f = new SafeTensorsFile(dir(name).resolve("expected.safetensors"));
        String rowsMeta = f.metadata.get("rows");
        int rows = rowsMeta != null ? Integer.parseInt(rowsMeta)
                : (int) f.tensors.keySet().stream().filter(n -> n.startsWith("tokens_")).count();
        String output = f.metadata.getOrDefault("output", f.tensors.containsKey("hidden_0") ? "hidden" : "logits");
        if (output.equals("seq2seq")) return seq2seq(name, f, rows);
        int[][] tokens = new int[rows][];
        double[][] values = new double[rows][];
        int cols = -1;
        for (int r = 0; r < rows; r++) {
            double[] t = f.get("tokens_" + r);
            tokens[r] = new int[t.length];
            for (int i = 0; i < t.length; i++) {
                tokens[r][i] = (int) t[i];
            }
            String key = output + "_" + r;
            long[] shape = f.shape(key);
            assertEquals(2, shape.length, name + " " + key + " rank");
            assertEquals(t.length, shape[0], name + " " + key + " rows");
            cols = (int) shape[1];
            values[r] = f.get(key);
        }
        assertTrue(rows > 0, name + ": expected.safetensors has no rows");
        return new Expected(output, tokens, values, cols, f.metadata);
    }

    /** An encoder-decoder fixture: source_r, decoder_r (int64), logits_r (T_r, V), encoder_r (S_r, H). */
    private static Expected seq2seq(String name, SafeTensorsFile f, int rows) {
        int[][] src = new int[rows][], dec = new int[rows][];
        double[][] logits = new double[rows][], enc = new double[rows][];
        int cols = -1;
        for (int r = 0; r < rows; r++) {
            src[r] = ints(f.get("source_" + r));
            dec[r] = ints(f.get("decoder_" + r));
            long[] ls = f.shape("logits_" + r), es = f.shape("encoder_" + r);
            assertEquals(dec[r].length, ls[0], name + " logits_" + r + " rows");
            assertEquals(src[r].length, es[0], name + " encoder_" + r + " rows");
            cols = (int) ls[1];
            logits[r] = f.get("logits_" + r);
            enc[r] = f.get("encoder_" + r);
        }
        assertTrue(rows > 0, name + ": expected.safetensors has no rows");
        return new Expected("seq2seq", dec, logits, cols, f.metadata, src, enc);
    }

    private static int[] ints(double[] t) {
        int[] out = new int[t.length];
        for (int i = 0; i < t.length; i++) out[i] = (int) t[i];
        return out;
    }

    /** The model's packed output rows for a fixture's rows: the decoder's logits over the sources for an encoder-decoder. */
    static float[] forward(Transformer model, Expected exp) {
        if (!exp.seq2seq()) return forward(model, exp.batch(), exp.cols());
        TokenBatch dec = exp.batch();
        try (Tensor t = model.forward(exp.sourceBatch(), dec)) {
            assertEquals(2, t.rank(), "forward output rank: " + Arrays.toString(t.shape()));
            assertEquals(dec.totalTokens(), t.dim(0), "forward output rows: " + Arrays.toString(t.shape()));
            assertEquals(exp.cols(), t.dim(1), "forward output columns: " + Arrays.toString(t.shape()));
            assertEquals(model.dtype(), t.dtype(), "forward output dtype");
            return t.toFloatArray();
        }
    }

    // =====================================================================================
    // Numbers
    // =====================================================================================

    /** NMSE of rows [from, from + n) of the packed (·, cols) {@code got} against {@code want} (n × cols). */
    static double nmse(float[] got, int fromRow, int cols, double[] want) {
        double num = 0;
        double den = 0;
        int base = fromRow * cols;
        for (int i = 0; i < want.length; i++) {
            double d = got[base + i] - want[i];
            num += d * d;
            den += want[i] * want[i];
        }
        return den == 0 ? (num == 0 ? 0 : Double.POSITIVE_INFINITY) : num / den;
    }

    /** NMSE of {@code got[gotFrom ..< gotFrom+n]} against {@code want[wantFrom ..< wantFrom+n]}. */
    static double nmse(float[] got, int gotFrom, float[] want, int wantFrom, int n) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < n; i++) {
            double w = want[wantFrom + i];
            double d = got[gotFrom + i] - w;
            num += d * d;
            den += w * w;
        }
        return den == 0 ? (num == 0 ? 0 : Double.POSITIVE_INFINITY) : num / den;
    }

    static double[] flatten(double[][] rows) {
        int n = 0;
        for (double[] r : rows) {
            n += r.length;
        }
        double[] out = new double[n];
        int at = 0;
        for (double[] r : rows) {
            System.arraycopy(r, 0, out, at, r.length);
            at += r.length;
        }
        return out;
    }

    /** Runs a forward, checks the output shape is (totalTokens, cols), returns the values and closes the tensor. */
    static float[] forward(Transformer model, TokenBatch batch, int cols) {
        try (Tensor t = model.forward(batch)) {
            assertEquals(2, t.rank(), "forward output rank: " + Arrays.toString(t.shape()));
            assertEquals(batch.totalTokens(), t.dim(0), "forward output rows: " + Arrays.toString(t.shape()));
            assertEquals(cols, t.dim(1), "forward output columns: " + Arrays.toString(t.shape()));
            assertEquals(model.dtype(), t.dtype(), "forward output dtype");
            return t.toFloatArray();
        }
    }

    // =====================================================================================
    // Weights for HfReference
    // =====================================================================================

    static HfRefWeights weights(Path dir) throws IOException {
        return SafeTensorsFile.weights(dir);
    }

    // =====================================================================================
    // safetensors: reader
    // =====================================================================================

    // =====================================================================================
    // safetensors: writer
    // =====================================================================================

    /**
     * Writes a safetensors file: 8-byte little-endian header length, the JSON header (padded with
     * spaces to a multiple of 8), then the tensors' bytes back to back in map order. The shape and
     * dtype in each {@link Raw} are written as given, whether or not they fit the bytes (so tests
     * can write mis-shaped tensors).
     */
    static void writeSafeTensors(Path file, Map<String, Raw> tensors, Map<String, String> metadata) throws IOException {
        ObjectNode header = JSON.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode m = header.putObject("__metadata__");
            metadata.forEach(m::put);
        }
        long at = 0;
        for (Map.Entry<String, Raw> e : tensors.entrySet()) {
            ObjectNode t = header.putObject(e.getKey());
            t.put("dtype", e.getValue().dtype());
            ArrayNode shape = t.putArray("shape");
            for (long d : e.getValue().shape()) {
                shape.add(d);
            }
            ArrayNode off = t.putArray("data_offsets");
            off.add(at);
            at += e.getValue().data().length;
            off.add(at);
        }
        byte[] json = JSON.writeValueAsString(header).getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8;
        byte[] hdr = Arrays.copyOf(json, padded);
        Arrays.fill(hdr, json.length, padded, (byte) ' ');
        try (OutputStream out = Files.newOutputStream(file)) {
            out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded).array());
            out.write(hdr);
            for (Raw r : tensors.values()) {
                out.write(r.data());
            }
        }
    }
}
