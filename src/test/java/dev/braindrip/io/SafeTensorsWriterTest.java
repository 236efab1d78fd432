package dev.braindrip.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What {@link SafeTensorsWriter} refuses, and how it replaces files. */
class SafeTensorsWriterTest {
    @TempDir
    Path dir;

    private static void refused(Runnable add, String message) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, add::run);
        assertEquals(message, e.getMessage());
    }

    @Test
    void rejectsBadNames() {
        SafeTensorsWriter w = new SafeTensorsWriter().addF32("w", new long[] {1}, new float[1]);
        refused(() -> w.addF32("w", new long[] {1}, new float[1]), "tensor 'w' was already added");
        refused(() -> w.addF32("", new long[] {1}, new float[1]), "tensor name must not be empty");
        refused(() -> w.addF32("__metadata__", new long[] {1}, new float[1]),
                "tensor name '__metadata__' is reserved for the metadata");
        assertThrows(NullPointerException.class, () -> w.addF32(null, new long[] {1}, new float[1]));
    }

    @Test
    void rejectsSizeMismatches() {
        SafeTensorsWriter w = new SafeTensorsWriter();
        refused(() -> w.addF32("a", new long[] {2, 3}, new float[5]), "tensor 'a': shape [2, 3] of F32 needs 24 bytes, got 20");
        refused(() -> w.add("b", SafeTensorsDType.I16, new long[] {3}, ByteBuffer.allocate(7)),
                "tensor 'b': shape [3] of I16 needs 6 bytes, got 7");
        refused(() -> w.addI64("c", new long[] {-1}, new long[0]), "tensor 'c': negative dimension -1 in shape [-1]");
        refused(() -> w.add("d", SafeTensorsDType.F4, new long[] {3}, ByteBuffer.allocate(2)),
                "tensor 'd': 3 elements of F4 are 12 bits, not whole bytes");
        refused(() -> w.addF32("e", new long[] {1L << 62, 4}, new float[0]),
                "tensor 'e': shape [4611686018427387904, 4] has more than 9223372036854775807 elements");
        refused(() -> w.addF32("f", new long[] {1L << 62}, new float[0]),
                "tensor 'f': 4611686018427387904 elements of F32 do not have a size that fits a long");
    }

    @Test
    void addCopiesTheBytesAndLeavesTheBufferAlone() throws IOException {
        ByteBuffer data = ByteBuffer.wrap(new byte[] {9, 1, 2, 3});
        data.position(1);
        SafeTensorsWriter w = new SafeTensorsWriter().add("t", SafeTensorsDType.U8, new long[] {3}, data);
        assertEquals(1, data.position());
        data.put(1, (byte) 77);
        Path file = dir.resolve("a.safetensors");
        w.write(file);
        try (SafeTensors st = SafeTensors.open(file)) {
            assertArrayEquals(new int[] {1, 2, 3}, st.toIntArray("t"));
        }
    }

    @Test
    void writeReplacesAnExistingFileAndLeavesNoTemporaryFiles() throws IOException {
        Path file = dir.resolve("model.safetensors");
        Files.writeString(file, "old contents");
        new SafeTensorsWriter().addI32("n", new long[] {1}, new int[] {5}).write(file);
        try (SafeTensors st = SafeTensors.open(file)) {
            assertArrayEquals(new int[] {5}, st.toIntArray("n"));
        }
        assertEquals(List.of(file), list(dir));
    }

    @Test
    void failedWriteLeavesTargetAndNoTemporaryFile() throws IOException {
        Path target = dir.resolve("taken");
        Files.createDirectory(target);
        Files.writeString(target.resolve("inside"), "x"); // a non-empty folder cannot be replaced
        SafeTensorsWriter w = new SafeTensorsWriter().addI32("n", new long[] {1}, new int[] {5});
        assertThrows(IOException.class, () -> w.write(target));
        assertEquals(List.of(target), list(dir));
        assertThrows(IOException.class, () -> w.write(dir.resolve("missing-folder").resolve("m.safetensors")));
    }

    @Test
    void emptyWriterWritesAValidFile() throws IOException {
        Path file = dir.resolve("empty.safetensors");
        new SafeTensorsWriter().write(file);
        try (SafeTensors st = SafeTensors.open(file)) {
            assertTrue(st.names().isEmpty());
            assertEquals(0, st.dataStart() % 8);
        }
    }

    private static List<Path> list(Path folder) throws IOException {
        try (Stream<Path> s = Files.list(folder)) {
            return s.sorted().toList();
        }
    }
}
