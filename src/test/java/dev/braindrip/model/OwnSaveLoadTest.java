package dev.braindrip.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.braindrip.model.OwnArchitecturesTest.Ckpt;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * save → load of the library's own architectures: the reloaded model's forward over a ragged
 * batch is bit-identical, the saved config.json keeps the feature's keys, and a second save is
 * the same config. Also Checkpoints.writeRandom of each tiny preset loads and runs.
 */
class OwnSaveLoadTest {
    @TempDir
    Path tmp;

    private static Map<String, ObjectNode> configs() {
        return Map.of(
                "sink", OwnArchitecturesTest.sinkConfig(),
                "sparse", OwnArchitecturesTest.sparseConfig("local:2,vstride:4", 4, 2),
                "sparse-hvstride", OwnArchitecturesTest.sparseConfig("sink:1,local:1,hvstride:8", 2, 0),
                "diff", OwnArchitecturesTest.diffConfig(),
                "mod", OwnArchitecturesTest.modConfig());
    }

    @Test
    void saveLoadRoundTripIsBitIdentical() throws IOException {
        List<String> failures = new ArrayList<>();
        long seed = 200;
        for (Map.Entry<String, ObjectNode> c : new java.util.TreeMap<>(configs()).entrySet()) {
            String name = c.getKey();
            Ckpt k = OwnArchitecturesTest.random(c.getValue(), seed++);
            int[][] rows = OwnArchitecturesTest.randomRows(seed, 512, 1, 70, 150);
            if (name.equals("mod")) {
                OwnArchitecturesTest.calibrateThresholds(k, rows);
            }
            float[] a;
            float[] b;
            Path saved = tmp.resolve(name + "-saved");
            try (Transformer m = k.load(tmp.resolve(name))) {
                a = Fixtures.forward(m, TokenBatch.of(rows), 512);
                m.save(saved);
            }
            try (Transformer m = Transformer.load(saved, Device.cpu(), DType.F32)) {
                b = Fixtures.forward(m, TokenBatch.of(rows), 512);
                m.save(tmp.resolve(name + "-saved2"));
            }
            int diff = 0;
            for (int i = 0; i < a.length; i++) {
                if (Float.floatToRawIntBits(a[i]) != Float.floatToRawIntBits(b[i])) {
                    diff++;
                }
            }
            System.out.printf("  %s: %d of %d logits differ after save → load%n", name, diff, a.length);
            if (diff != 0) {
                failures.add(name + ": " + diff + " of " + a.length + " logits differ after save → load");
            }
            JsonNode s1 = Fixtures.JSON.readTree(saved.resolve("config.json").toFile());
            JsonNode s2 = Fixtures.JSON.readTree(tmp.resolve(name + "-saved2").resolve("config.json").toFile());
            if (!s1.equals(s2)) {
                failures.add(name + ": the second save wrote another config.json: " + s1 + " vs " + s2);
            }
            ObjectNode in = c.getValue();
            for (String key : List.of("model_type", "attention_sink_tokens", "sliding_window", "sparse_pattern", "sparse_block_size",
                    "dense_attention_every_n_layers", "head_dim", "num_hidden_layers")) {
                if (in.has(key) && !in.get(key).equals(s1.get(key))) {
                    failures.add(name + ": saved config.json has " + key + " = " + s1.get(key) + ", the original " + in.get(key));
                }
            }
            if (name.equals("mod")) {
                JsonNode ml = s1.get("mod_layers");
                if (ml == null || !ml.toString().equals("[1,3]")) {
                    failures.add("mod: saved mod_layers " + ml + ", expected [1,3]");
                }
            }
        }
        if (!failures.isEmpty()) {
            fail(String.join("\n", failures));
        }
    }

    @Test
    void writeRandomPresetsLoadAndRun() throws IOException {
        for (String type : List.of("diff_transformer", "sparse_llama", "mod_llama")) {
            Path dir = tmp.resolve("init-" + type);
            Checkpoints.writeRandom(Architectures.of(type).preset("tiny"), DType.F32, 7, dir);
            try (Transformer m = Transformer.load(dir, Device.cpu(), DType.F32)) {
                assertEquals(type, m.config().architecture());
                float[] out = Fixtures.forward(m, TokenBatch.of(new int[] {1, 2, 3}, new int[] {4}), 512);
                for (float v : out) {
                    assertTrue(Float.isFinite(v), type + ": non-finite logit");
                }
            }
        }
    }
}
