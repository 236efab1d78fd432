package dev.braindrip.model;

import dev.braindrip.testing.SafeTensorsFile;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import dev.braindrip.tensor.Device;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * load → save → load is lossless: the reloaded model's forward is bit-identical, the saved
 * model.safetensors holds the original's tensor names (less buffers the loader ignores) with the
 * original dtypes, shapes and bytes, and config.json keeps its model_type.
 *
 * <p>Names the original may hold that a save need not write back: GPT-2's {@code attn.bias} /
 * {@code attn.masked_bias} buffers, BERT's {@code pooler.*} (the model outputs the last hidden
 * state; writing the pooler back is fine too). gpt2-noprefix was saved through GPT2Model (no
 * {@code transformer.} prefix); a save of the architecture may add the prefix, so GPT-2 names are
 * compared without it.
 */
class SaveLoadTest {
    @TempDir
    Path tmp;

    @TestFactory
    Stream<DynamicTest> saveThenLoadIsLossless() {
        return Fixtures.all().stream().map(n -> DynamicTest.dynamicTest(n, () -> check(n, tmp.resolve(n))));
    }

    static boolean ignorable(String name) {
        return name.endsWith(".attn.bias") || name.endsWith(".attn.masked_bias") || name.startsWith("pooler.")
                || name.startsWith("bert.pooler.");
    }

    static String canonical(String arch, String name) {
        if (arch.equals("gpt2") && name.startsWith("transformer.")) {
            return name.substring("transformer.".length());
        }
        return name;
    }

    private static void check(String name, Path out) throws Exception {
        Fixtures.Expected exp = Fixtures.expected(name);
        TokenBatch batch = exp.batch();
        float[] before;
        ModelConfig config;
        try (Transformer model = Fixtures.load(name, Device.cpu(), null)) {
            config = model.config();
            before = Fixtures.forward(model, exp);
            model.save(out);
        }
        assertTrue(Files.exists(out.resolve("config.json")), "save wrote no config.json");
        assertTrue(Files.exists(out.resolve("model.safetensors")), "save wrote no model.safetensors");
        JsonNode origCfg = Fixtures.JSON.readTree(Fixtures.dir(name).resolve("config.json").toFile());
        JsonNode savedCfg = Fixtures.JSON.readTree(out.resolve("config.json").toFile());
        assertEquals(origCfg.get("model_type").asText(), savedCfg.path("model_type").asText(), "saved model_type");

        try (Transformer reloaded = Fixtures.load(name, out, Device.cpu(), null)) {
            assertEquals(config, reloaded.config(), "config after save + load");
            float[] after = Fixtures.forward(reloaded, exp);
            assertArrayEquals(before, after, name + ": forward after save + load is not bit-identical");
        }

        SafeTensorsFile orig = new SafeTensorsFile(Fixtures.dir(name).resolve("model.safetensors"));
        SafeTensorsFile saved = new SafeTensorsFile(out.resolve("model.safetensors"));
        String arch = origCfg.get("model_type").asText();
        TreeSet<String> want = new TreeSet<>();
        for (String n : orig.tensors.keySet()) {
            if (!ignorable(n)) {
                want.add(canonical(arch, n));
            }
        }
        TreeSet<String> got = new TreeSet<>();
        for (String n : saved.tensors.keySet()) {
            if (!ignorable(n)) {
                got.add(canonical(arch, n));
            }
        }
        TreeSet<String> missing = new TreeSet<>(want);
        missing.removeAll(got);
        TreeSet<String> extra = new TreeSet<>(got);
        extra.removeAll(want);
        assertTrue(missing.isEmpty() && extra.isEmpty(),
                name + ": saved tensor names differ; missing " + missing + ", extra " + extra);

        Map<String, String> savedByCanonical = new java.util.HashMap<>();
        for (String n : saved.tensors.keySet()) {
            savedByCanonical.put(canonical(arch, n), n);
        }
        List<String> diffs = new ArrayList<>();
        for (String n : orig.tensors.keySet()) {
            if (ignorable(n)) {
                continue;
            }
            String s = savedByCanonical.get(canonical(arch, n));
            if (!orig.dtype(n).equals(saved.dtype(s))) {
                diffs.add(n + ": dtype " + orig.dtype(n) + " → " + saved.dtype(s));
                continue;
            }
            if (!Arrays.equals(orig.shape(n), saved.shape(s))) {
                diffs.add(n + ": shape " + Arrays.toString(orig.shape(n)) + " → " + Arrays.toString(saved.shape(s)));
                continue;
            }
            if (!Arrays.equals(orig.bytes(n), saved.bytes(s))) {
                diffs.add(n + ": bytes differ");
            }
        }
        if (!diffs.isEmpty()) {
            fail(name + ": " + diffs.size() + " saved tensors differ from the original: " + diffs);
        }
    }
}
