package dev.braindrip.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The embedded demo model's files: shipped in the build, unpacked intact, once, safely under concurrency. */
class DemoModelTest {
    @TempDir
    Path tmp;

    @Test
    void shipsInTheBuildWithinItsBudget() throws Exception {
        assertTrue(DemoModel.available(), "the demo model's resources are missing from the class path");
        JsonNode m;
        try (InputStream in = DemoModel.class.getResourceAsStream(DemoModel.RESOURCE_DIR + "manifest.json")) {
            m = Json.MAPPER.readTree(in);
        }
        long total = 0;
        for (JsonNode f : m.get("files")) total += f.get("size").asLong();
        assertTrue(total <= 20_000_000L, "demo model holds " + total + " bytes, over 20 MB");
        assertTrue(total > 1_000_000L, "demo model holds only " + total + " bytes");
    }

    @Test
    void unpacksIntactAndReusesACompleteCopy() throws Exception {
        Path dir = DemoModel.unpackInto(tmp.resolve("demo-x"));
        for (String f : List.of("config.json", "model.safetensors")) {
            byte[] shipped;
            try (InputStream in = DemoModel.class.getResourceAsStream(DemoModel.RESOURCE_DIR + f)) {
                shipped = in.readAllBytes();
            }
            assertArrayEquals(shipped, Files.readAllBytes(dir.resolve(f)), f);
        }
        var before = Files.getLastModifiedTime(dir.resolve("model.safetensors"));
        Thread.sleep(20);
        assertEquals(dir, DemoModel.unpackInto(dir));
        assertEquals(before, Files.getLastModifiedTime(dir.resolve("model.safetensors")), "a complete copy was written again");
        try (var s = Files.list(tmp)) {
            assertEquals(List.of(dir), s.toList(), "temporary directories left behind");
        }
    }

    @Test
    void replacesADamagedCopy() throws Exception {
        Path dir = DemoModel.unpackInto(tmp.resolve("demo-x"));
        long size = Files.size(dir.resolve("model.safetensors"));
        Files.write(dir.resolve("model.safetensors"), new byte[100]);
        Files.delete(dir.resolve("config.json"));
        DemoModel.unpackInto(dir);
        assertEquals(size, Files.size(dir.resolve("model.safetensors")));
        assertTrue(Files.isRegularFile(dir.resolve("config.json")));
    }

    @Test
    void concurrentUnpackersAllGetTheSameCompleteCopy() throws Exception {
        Path dir = tmp.resolve("demo-y");
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<Path>> fs = new ArrayList<>();
            for (int i = 0; i < 4; i++) fs.add(pool.submit(() -> DemoModel.unpackInto(dir)));
            for (Future<Path> f : fs) assertEquals(dir, f.get());
        } finally {
            pool.shutdown();
        }
        byte[] shipped;
        try (InputStream in = DemoModel.class.getResourceAsStream(DemoModel.RESOURCE_DIR + "model.safetensors")) {
            shipped = in.readAllBytes();
        }
        assertArrayEquals(shipped, Files.readAllBytes(dir.resolve("model.safetensors")));
        try (var s = Files.list(tmp)) {
            assertEquals(List.of(dir), s.toList(), "temporary directories left behind");
        }
    }

    @Test
    void pathIsTheDirectoryTransformerResolvesForTheName() throws Exception {
        Path p = DemoModel.path();
        assertEquals(p, Transformer.resolve(DemoModel.NAME));
        assertTrue(Files.isRegularFile(p.resolve("config.json")));
        assertEquals(Path.of("some/dir"), Transformer.resolve("some/dir"));
    }
}
