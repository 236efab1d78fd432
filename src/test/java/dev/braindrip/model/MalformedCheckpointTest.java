package dev.braindrip.model;

import dev.braindrip.testing.SafeTensorsFile;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A copy of the llama fixture with one thing broken per case: loading must throw
 * IllegalArgumentException (or an IOException for a file problem) whose message names the
 * offending file, field or tensor, and must not crash the JVM.
 */
class MalformedCheckpointTest {
    static final String Q = "model.layers.0.self_attn.q_proj.weight";
    static final String UP = "model.layers.0.mlp.up_proj.weight";

    @TempDir
    Path tmp;

    private Path llama(String name) throws IOException {
        return Fixtures.copy("llama", tmp.resolve(name));
    }

    private static void editConfig(Path dir, Consumer<ObjectNode> edit) throws IOException {
        ObjectNode c = (ObjectNode) Fixtures.JSON.readTree(dir.resolve("config.json").toFile());
        edit.accept(c);
        Files.writeString(dir.resolve("config.json"), Fixtures.JSON.writeValueAsString(c));
    }

    private static void editTensors(Path dir, Consumer<LinkedHashMap<String, SafeTensorsFile.Raw>> edit) throws IOException {
        Path f = dir.resolve("model.safetensors");
        SafeTensorsFile st = new SafeTensorsFile(f);
        LinkedHashMap<String, SafeTensorsFile.Raw> all = st.all();
        java.util.Map<String, String> meta = new java.util.HashMap<>(st.metadata);
        edit.accept(all);
        Files.delete(f);
        Fixtures.writeSafeTensors(f, all, meta);
    }

    /** Loading must fail with IllegalArgumentException or IOException; returns its message. */
    private static String loadFails(Path dir, String what) {
        Exception e;
        try (Transformer t = Transformer.load(dir, Device.cpu(), DType.F32)) {
            fail(what + ": load succeeded");
            return null;
        } catch (IllegalArgumentException | IOException ex) {
            e = ex;
        } catch (RuntimeException ex) {
            throw new AssertionError(what + ": expected IllegalArgumentException or IOException, got " + ex, ex);
        }
        System.out.println("  " + what + ": " + e);
        String m = String.valueOf(e.getMessage());
        return e.getClass().getSimpleName() + ": " + m;
    }

    private static void assertMentions(String message, String... parts) {
        for (String p : parts) {
            assertTrue(message.contains(p), "message should contain '" + p + "': " + message);
        }
    }

    /** Control: rewriting config.json and model.safetensors unchanged (through this test's writer) still loads, same logits. */
    @Test
    void unchangedRewriteLoads() throws Exception {
        Path d = llama("control");
        editConfig(d, c -> { });
        editTensors(d, t -> { });
        TokenBatch b = TokenBatch.of(new int[] {1, 2, 3}, new int[] {4});
        float[] want;
        try (Transformer t = Transformer.load(Fixtures.dir("llama"), Device.cpu(), DType.F32)) {
            want = Fixtures.forward(t, b, t.config().vocabSize());
        }
        try (Transformer t = Transformer.load(d, Device.cpu(), DType.F32)) {
            org.junit.jupiter.api.Assertions.assertArrayEquals(want, Fixtures.forward(t, b, t.config().vocabSize()));
        }
    }

    @Test
    void missingConfig() throws Exception {
        Path d = llama("noconfig");
        Files.delete(d.resolve("config.json"));
        assertMentions(loadFails(d, "missing config.json"), "config.json");
    }

    @Test
    void configNotJson() throws Exception {
        Path d = llama("notjson");
        Files.writeString(d.resolve("config.json"), "{\"model_type\": \"llama\", hidden_size: 32,,", StandardCharsets.UTF_8);
        assertMentions(loadFails(d, "config.json not JSON"), "config.json");
    }

    @Test
    void unknownModelType() throws Exception {
        Path d = llama("unknowntype");
        editConfig(d, c -> c.put("model_type", "frobnicator"));
        String m = loadFails(d, "unknown model_type");
        assertTrue(m.startsWith("IllegalArgumentException"), m);
        assertMentions(m, "frobnicator", "llama");
    }

    @Test
    void headsNotDivisibleByKvHeads() throws Exception {
        Path d = llama("kvheads");
        editConfig(d, c -> c.put("num_key_value_heads", 3));
        String m = loadFails(d, "num_attention_heads 4, num_key_value_heads 3");
        assertTrue(m.startsWith("IllegalArgumentException"), m);
        assertTrue(m.contains("num_key_value_heads") || m.contains("kvHeads") || m.contains("divisible"),
                "message should name num_key_value_heads or the divisibility rule: " + m);
    }

    @Test
    void missingConfigField() throws Exception {
        Path d = llama("nohidden");
        editConfig(d, c -> c.remove("hidden_size"));
        String m = loadFails(d, "no hidden_size");
        assertTrue(m.startsWith("IllegalArgumentException"), m);
        assertMentions(m, "hidden_size");
    }

    @Test
    void missingTensor() throws Exception {
        Path d = llama("missingtensor");
        editTensors(d, t -> t.remove(Q));
        String m = loadFails(d, "missing tensor");
        assertTrue(m.startsWith("IllegalArgumentException"), m);
        assertMentions(m, Q);
    }

    @Test
    void misShapedTensor() throws Exception {
        Path d = llama("misshaped");
        editTensors(d, t -> {
            SafeTensorsFile.Raw r = t.get(UP); // [64, 32] F32
            t.put(UP, new SafeTensorsFile.Raw(r.dtype(), new long[] {48, 32}, Arrays.copyOf(r.data(), 48 * 32 * 4)));
        });
        String m = loadFails(d, "mis-shaped tensor");
        assertTrue(m.startsWith("IllegalArgumentException"), m);
        assertMentions(m, UP, "48", "64");
    }

    @Test
    void wrongDtypeTensor() throws Exception {
        Path d = llama("dtype");
        editTensors(d, t -> {
            SafeTensorsFile.Raw r = t.get(Q);
            t.put(Q, new SafeTensorsFile.Raw("I32", r.shape(), r.data()));
        });
        String m = loadFails(d, "integer weight");
        assertTrue(m.startsWith("IllegalArgumentException"), m);
        assertMentions(m, Q);
    }

    @Test
    void unexpectedExtraTensor() throws Exception {
        Path d = llama("extra");
        String extra = "model.layers.0.self_attn.extra_proj.weight";
        editTensors(d, t -> t.put(extra, new SafeTensorsFile.Raw("F32", new long[] {4}, new byte[16])));
        String m = loadFails(d, "extra tensor");
        assertTrue(m.startsWith("IllegalArgumentException"), m);
        assertMentions(m, extra);
    }

    @Test
    void truncatedSafetensors() throws Exception {
        Path d = llama("truncated");
        Path f = d.resolve("model.safetensors");
        byte[] all = Files.readAllBytes(f);
        Files.write(f, Arrays.copyOf(all, all.length / 2));
        assertMentions(loadFails(d, "truncated model.safetensors (data)"), "model.safetensors");
        Files.write(f, Arrays.copyOf(all, 5));
        assertMentions(loadFails(d, "truncated model.safetensors (5 bytes)"), "model.safetensors");
    }

    @Test
    void missingSafetensors() throws Exception {
        Path d = llama("noweights");
        Files.delete(d.resolve("model.safetensors"));
        assertMentions(loadFails(d, "no model.safetensors"), "model.safetensors");
    }

    @Test
    void tokenOutOfRange() throws Exception {
        try (Transformer model = Transformer.load(Fixtures.dir("llama"), Device.cpu(), DType.F32)) {
            int vocab = model.config().vocabSize();
            IllegalArgumentException hi = assertThrows(IllegalArgumentException.class,
                    () -> model.forward(TokenBatch.of(new int[] {1, 2}, new int[] {3, 200, 4})).close());
            System.out.println("  token 200: " + hi);
            assertMentions(hi.getMessage(), "200", String.valueOf(vocab));
            IllegalArgumentException neg = assertThrows(IllegalArgumentException.class,
                    () -> model.forward(TokenBatch.of(new int[] {-1})).close());
            System.out.println("  token -1: " + neg);
            assertMentions(neg.getMessage(), "-1");
            // the model still works afterwards
            model.forward(TokenBatch.of(new int[] {vocab - 1, 0})).close();
        }
    }

    @Test
    void emptyBatches() {
        assertThrows(IllegalArgumentException.class, () -> TokenBatch.of());
        assertThrows(IllegalArgumentException.class, () -> TokenBatch.of(new int[] {1, 2}, new int[0]));
    }
}
