package dev.braindrip.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Builds a safetensors file from named tensors. Tensors are stored in the order they are added,
 * back to back; the header is padded with spaces so that the data region starts at a multiple of
 * 8 bytes. The tensors' bytes are copied when added.
 *
 * <pre>{@code
 * new SafeTensorsWriter()
 *         .addF32("w", new long[] {2, 3}, values)
 *         .metadata("format", "pt")
 *         .write(Path.of("model.safetensors"));
 * }</pre>
 */
public final class SafeTensorsWriter {
    private static final int ALIGNMENT = 8;

    private record Entry(SafeTensorsDType dtype, long[] shape, ByteBuffer data) {}

    private final Map<String, Entry> tensors = new LinkedHashMap<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();

    /**
     * Adds a tensor from its little-endian bytes (those between {@code data}'s position and limit;
     * the buffer itself is not changed).
     *
     * @throws IllegalArgumentException if the name is empty, reserved or already added, a
     *     dimension is negative, or the byte count does not match dtype and shape
     */
    public SafeTensorsWriter add(String name, SafeTensorsDType dtype, long[] shape, ByteBuffer data) {
        ByteBuffer copy = ByteBuffer.allocate(data.remaining()).put(data.duplicate()).flip();
        return addOwned(name, dtype, shape, copy);
    }

    private SafeTensorsWriter addOwned(String name, SafeTensorsDType dtype, long[] shape, ByteBuffer data) {
        Objects.requireNonNull(dtype, "dtype");
        checkName(name);
        long[] dims = shape.clone();
        long expected = expectedBytes(name, dtype, dims);
        if (data.remaining() != expected) {
            throw new IllegalArgumentException("tensor '" + name + "': shape " + Arrays.toString(dims) + " of "
                    + dtype + " needs " + expected + " bytes, got " + data.remaining());
        }
        tensors.put(name, new Entry(dtype, dims, data));
        return this;
    }

    /** Adds an F32 tensor. */
    public SafeTensorsWriter addF32(String name, long[] shape, float[] values) {
        ByteBuffer b = allocate(values.length, 4);
        b.asFloatBuffer().put(values);
        return addOwned(name, SafeTensorsDType.F32, shape, b);
    }

    /** Adds an F16 tensor, rounding each float to the nearest half (ties to even). */
    public SafeTensorsWriter addF16(String name, long[] shape, float[] values) {
        ByteBuffer b = allocate(values.length, 2);
        for (int i = 0; i < values.length; i++) {
            b.putShort(2 * i, HalfFloats.floatToF16(values[i]));
        }
        return addOwned(name, SafeTensorsDType.F16, shape, b);
    }

    /** Adds a BF16 tensor, rounding each float to the nearest bfloat16 (ties to even). */
    public SafeTensorsWriter addBF16(String name, long[] shape, float[] values) {
        ByteBuffer b = allocate(values.length, 2);
        for (int i = 0; i < values.length; i++) {
            b.putShort(2 * i, HalfFloats.floatToBf16(values[i]));
        }
        return addOwned(name, SafeTensorsDType.BF16, shape, b);
    }

    /** Adds an I32 tensor. */
    public SafeTensorsWriter addI32(String name, long[] shape, int[] values) {
        ByteBuffer b = allocate(values.length, 4);
        b.asIntBuffer().put(values);
        return addOwned(name, SafeTensorsDType.I32, shape, b);
    }

    /** Adds an I64 tensor. */
    public SafeTensorsWriter addI64(String name, long[] shape, long[] values) {
        ByteBuffer b = allocate(values.length, 8);
        b.asLongBuffer().put(values);
        return addOwned(name, SafeTensorsDType.I64, shape, b);
    }

    /** Sets (or replaces) a {@code __metadata__} entry. */
    public SafeTensorsWriter metadata(String key, String value) {
        metadata.put(Objects.requireNonNull(key, "key"), Objects.requireNonNull(value, "value"));
        return this;
    }

    /**
     * Writes the file atomically: to a temporary file in the same folder, which then replaces
     * {@code file}. On failure the temporary file is removed and {@code file} is untouched.
     */
    public void write(Path file) throws IOException {
        Path target = file.toAbsolutePath();
        Path temp = target.resolveSibling("." + target.getFileName() + "."
                + Long.toUnsignedString(ThreadLocalRandom.current().nextLong(), 36) + ".tmp");
        try {
            try (FileChannel out = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                writeTo(out);
                out.force(true);
            }
            move(temp, target);
        } finally {
            Files.deleteIfExists(temp);
        }
    }

    /** Writes the whole file's bytes to {@code out} (not closing it). */
    public void writeTo(WritableByteChannel out) throws IOException {
        writeFully(out, headerBytes());
        for (Entry e : tensors.values()) {
            writeFully(out, e.data.duplicate());
        }
    }

    /** The 8-byte length followed by the padded JSON header. */
    private ByteBuffer headerBytes() throws JsonProcessingException {
        byte[] json = StrictJson.MAPPER.writeValueAsString(headerJson()).getBytes(StandardCharsets.UTF_8);
        int padded = json.length + Math.floorMod(-(8 + json.length), ALIGNMENT);
        ByteBuffer b = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(padded).put(json);
        while (b.hasRemaining()) {
            b.put((byte) ' ');
        }
        return b.flip();
    }

    private ObjectNode headerJson() {
        ObjectNode root = StrictJson.MAPPER.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode meta = root.putObject(SafeTensorsHeader.METADATA_KEY);
            metadata.forEach(meta::put);
        }
        long offset = 0;
        for (Map.Entry<String, Entry> t : tensors.entrySet()) {
            Entry e = t.getValue();
            ObjectNode node = root.putObject(t.getKey());
            node.put("dtype", e.dtype.jsonName());
            ArrayNode shape = node.putArray("shape");
            Arrays.stream(e.shape).forEach(shape::add);
            long end = offset + e.data.remaining();
            node.putArray("data_offsets").add(offset).add(end);
            offset = end;
        }
        return root;
    }

    private void checkName(String name) {
        Objects.requireNonNull(name, "name");
        if (name.isEmpty()) {
            throw new IllegalArgumentException("tensor name must not be empty");
        }
        if (name.equals(SafeTensorsHeader.METADATA_KEY)) {
            throw new IllegalArgumentException("tensor name '" + name + "' is reserved for the metadata");
        }
        if (tensors.containsKey(name)) {
            throw new IllegalArgumentException("tensor '" + name + "' was already added");
        }
    }

    private static long expectedBytes(String name, SafeTensorsDType dtype, long[] shape) {
        long numel;
        try {
            numel = TensorInfo.numelOf(shape);
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("tensor '" + name + "': shape " + Arrays.toString(shape)
                    + " has more than " + Long.MAX_VALUE + " elements", e);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("tensor '" + name + "': " + e.getMessage(), e);
        }
        try {
            return dtype.byteSizeOf(numel);
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("tensor '" + name + "': " + e.getMessage(), e);
        }
    }

    private static ByteBuffer allocate(int count, int bytesPerElement) {
        return ByteBuffer.allocate(Math.multiplyExact(count, bytesPerElement)).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static void writeFully(WritableByteChannel out, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            out.write(b);
        }
    }

    private static void move(Path temp, Path target) throws IOException {
        try {
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
