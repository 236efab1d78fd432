package dev.braindrip.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Lookups across the shards of a checkpoint folder, and the ways such a folder can be broken. */
class ShardedSafeTensorsTest {
    private static final String SHARD1 = "model-00001-of-00002.safetensors";
    private static final String SHARD2 = "model-00002-of-00002.safetensors";

    @TempDir
    Path dir;

    @BeforeEach
    void writeShards() throws IOException {
        new SafeTensorsWriter().addF32("a", new long[] {2}, new float[] {1f, 2f})
                .addI64("b", new long[] {1}, new long[] {7}).write(dir.resolve(SHARD1));
        new SafeTensorsWriter().addBF16("c", new long[] {1}, new float[] {3f})
                .addF32("unlisted", new long[] {1}, new float[] {0f}).write(dir.resolve(SHARD2));
    }

    private void index(String weightMap) throws IOException {
        Files.writeString(dir.resolve(ShardedSafeTensors.INDEX_FILE),
                "{\"metadata\": {\"total_size\": 22, \"note\": \"x\"}, \"weight_map\": " + weightMap + "}");
    }

    private String rejected(String... fragments) {
        SafeTensorsFormatException e = assertThrows(SafeTensorsFormatException.class, () -> ShardedSafeTensors.open(dir));
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), () -> "'" + f + "' not in: " + e.getMessage());
        }
        return e.getMessage();
    }

    @Test
    void looksUpTensorsAcrossShards() throws IOException {
        index("{\"c\": \"" + SHARD2 + "\", \"a\": \"" + SHARD1 + "\", \"b\": \"" + SHARD1 + "\"}");
        try (ShardedSafeTensors st = ShardedSafeTensors.open(dir)) {
            assertEquals(List.of("c", "a", "b"), st.names());
            assertArrayEquals(new float[] {1f, 2f}, st.toFloatArray("a"));
            assertArrayEquals(new long[] {7}, st.toLongArray("b"));
            assertArrayEquals(new float[] {3f}, st.toFloatArray("c"));
            assertEquals(SafeTensorsDType.BF16, st.info("c").dtype());
            assertEquals(SHARD2, st.shardOf("c").fileName());
            assertSame(st.shardOf("a"), st.shardOf("b"));
            assertEquals(Map.of("total_size", "22", "note", "x"), st.metadata());
            assertTrue(!st.contains("unlisted"));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> st.info("unlisted"));
            assertEquals("no tensor named 'unlisted' in this checkpoint", e.getMessage());
            st.close();
            assertThrows(IllegalStateException.class, () -> st.buffer("a"));
        }
    }

    @Test
    void singleFileFolder(@TempDir Path single) throws IOException {
        new SafeTensorsWriter().metadata("format", "pt").addI32("n", new long[] {2}, new int[] {4, 5})
                .write(single.resolve(ShardedSafeTensors.SINGLE_FILE));
        try (ShardedSafeTensors st = ShardedSafeTensors.open(single)) {
            assertEquals(List.of("n"), st.names());
            assertArrayEquals(new int[] {4, 5}, st.toIntArray("n"));
            assertEquals(Map.of("format", "pt"), st.metadata());
        }
    }

    @Test
    void folderWithNeitherFile(@TempDir Path empty) {
        NoSuchFileException e = assertThrows(NoSuchFileException.class, () -> ShardedSafeTensors.open(empty));
        assertTrue(e.getMessage().contains("neither model.safetensors.index.json nor model.safetensors"), e.getMessage());
    }

    @Test
    void missingShard() throws IOException {
        index("{\"a\": \"" + SHARD1 + "\", \"z\": \"model-00003-of-00003.safetensors\"}");
        assertEquals("model.safetensors.index.json: tensor 'z': shard 'model-00003-of-00003.safetensors' does not exist",
                rejected());
    }

    @Test
    void nameMappedToMissingTensor() throws IOException {
        index("{\"a\": \"" + SHARD2 + "\"}");
        assertEquals("model.safetensors.index.json: tensor 'a': mapped to shard '" + SHARD2
                + "', which has no such tensor", rejected());
    }

    @Test
    void shardOutsideTheFolder() throws IOException {
        index("{\"a\": \"../" + SHARD1 + "\"}");
        rejected("tensor 'a': shard '../" + SHARD1 + "' must be a file name in the index's folder");
        index("{\"a\": \"..\"}");
        rejected("must be a file name");
        index("{\"a\": \"/etc/passwd\"}");
        rejected("must be a file name");
    }

    @Test
    void malformedIndex() throws IOException {
        index("[]");
        rejected("model.safetensors.index.json: weight_map must be an object, found array");
        index("{\"a\": 3}");
        rejected("tensor 'a': weight_map value must be a shard file name, found number");
        Files.writeString(dir.resolve(ShardedSafeTensors.INDEX_FILE), "{\"weight_map\": {\"a\": \"x\", \"a\": \"y\"}}");
        rejected("index is not valid JSON", "Duplicate");
        Files.writeString(dir.resolve(ShardedSafeTensors.INDEX_FILE), "{}");
        rejected("weight_map must be an object, found nothing");
    }

    @Test
    void malformedShardNamesTheShard() throws IOException {
        Files.write(dir.resolve(SHARD2), new byte[4]);
        index("{\"a\": \"" + SHARD1 + "\", \"c\": \"" + SHARD2 + "\"}");
        assertEquals(SHARD2 + ": file is 4 bytes, shorter than the 8-byte header length", rejected());
    }
}
