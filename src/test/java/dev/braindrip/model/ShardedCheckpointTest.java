package dev.braindrip.model;

import dev.braindrip.testing.SafeTensorsFile;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A checkpoint split into two shards with a model.safetensors.index.json (as save_pretrained
 * writes for large models) loads to the same model as the single file; a broken index names the
 * missing shard or tensor.
 */
class ShardedCheckpointTest {
    @TempDir
    Path tmp;

    /** Copies llama with its tensors split into two shards (first half / second half, in file order). */
    private Path sharded(String sub) throws IOException {
        Path d = Fixtures.copy("llama", tmp.resolve(sub));
        Path single = d.resolve("model.safetensors");
        SafeTensorsFile st = new SafeTensorsFile(single);
        LinkedHashMap<String, SafeTensorsFile.Raw> all = st.all();
        LinkedHashMap<String, SafeTensorsFile.Raw> a = new LinkedHashMap<>();
        LinkedHashMap<String, SafeTensorsFile.Raw> b = new LinkedHashMap<>();
        ObjectNode index = Fixtures.JSON.createObjectNode();
        long total = 0;
        ObjectNode map = Fixtures.JSON.createObjectNode();
        int i = 0;
        for (Map.Entry<String, SafeTensorsFile.Raw> e : all.entrySet()) {
            boolean first = i++ < all.size() / 2;
            (first ? a : b).put(e.getKey(), e.getValue());
            map.put(e.getKey(), first ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors");
            total += e.getValue().data().length;
        }
        index.putObject("metadata").put("total_size", total);
        index.set("weight_map", map);
        Fixtures.writeSafeTensors(d.resolve("model-00001-of-00002.safetensors"), a, Map.of("format", "pt"));
        Fixtures.writeSafeTensors(d.resolve("model-00002-of-00002.safetensors"), b, Map.of("format", "pt"));
        Files.writeString(d.resolve("model.safetensors.index.json"), Fixtures.JSON.writeValueAsString(index));
        Files.delete(single);
        return d;
    }

    @Test
    void shardedLoadsLikeSingleFile() throws Exception {
        Path d = sharded("ok");
        TokenBatch batch = Fixtures.expected("llama").batch();
        float[] want;
        try (Transformer t = Transformer.load(Fixtures.dir("llama"), Device.cpu(), DType.F32)) {
            want = Fixtures.forward(t, batch, t.config().vocabSize());
        }
        try (Transformer t = Transformer.load(d, Device.cpu(), DType.F32)) {
            assertArrayEquals(want, Fixtures.forward(t, batch, t.config().vocabSize()));
        }
    }

    @Test
    void missingShardIsNamed() throws Exception {
        Path d = sharded("noshard");
        Files.delete(d.resolve("model-00002-of-00002.safetensors"));
        String m = fails(d, "missing shard");
        assertTrue(m.contains("model-00002-of-00002.safetensors"), m);
    }

    @Test
    void indexPointingAtTheWrongShardNamesTheTensor() throws Exception {
        Path d = sharded("wrongshard");
        Path idx = d.resolve("model.safetensors.index.json");
        ObjectNode index = (ObjectNode) Fixtures.JSON.readTree(idx.toFile());
        String name = "model.norm.weight"; // last in file order: in shard 2
        ((ObjectNode) index.get("weight_map")).put(name, "model-00001-of-00002.safetensors");
        Files.writeString(idx, Fixtures.JSON.writeValueAsString(index));
        String m = fails(d, "index names the wrong shard");
        assertTrue(m.contains(name), m);
    }

    private static String fails(Path d, String what) {
        try (Transformer t = Transformer.load(d, Device.cpu(), DType.F32)) {
            fail(what + ": load succeeded");
            return null;
        } catch (IllegalArgumentException | IOException e) {
            System.out.println("  " + what + ": " + e);
            return String.valueOf(e.getMessage());
        }
    }
}
