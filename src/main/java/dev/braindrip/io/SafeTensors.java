package dev.braindrip.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One safetensors file, memory-mapped.
 *
 * <p>{@link #open(Path)} reads and validates the whole header before it returns (see
 * {@link SafeTensorsFormatException} for what is checked); the data region is not read then. Each
 * tensor's bytes are mapped separately, on first use, so files larger than 2 GiB work; only a
 * single tensor over {@link Integer#MAX_VALUE} bytes cannot be handed out as a buffer.
 *
 * <p>{@link #names()} lists the tensors in header (insertion) order. The header may leave gaps
 * between tensors and bytes after the last one; those bytes are ignored. Thread-safe.
 *
 * <pre>{@code
 * try (SafeTensors st = SafeTensors.open(Path.of("model.safetensors"))) {
 *     float[] w = st.toFloatArray("model.norm.weight");
 * }
 * }</pre>
 *
 * <p>The file must not be truncated while it is open: reading a mapped page beyond the new end
 * fails in the JVM, not with an exception from this class.
 */
public final class SafeTensors implements TensorSource {
    private final String fileName;
    private final FileChannel channel;
    private final SafeTensorsHeader header;
    private final List<String> names;
    private final Map<String, ByteBuffer> mapped = new ConcurrentHashMap<>();
    private volatile boolean closed;

    private SafeTensors(String fileName, FileChannel channel, SafeTensorsHeader header) {
        this.fileName = fileName;
        this.channel = channel;
        this.header = header;
        this.names = List.copyOf(header.tensors.keySet());
    }

    /**
     * Opens and validates a safetensors file.
     *
     * @throws SafeTensorsFormatException if the file is malformed
     * @throws IOException if it cannot be read
     */
    public static SafeTensors open(Path file) throws IOException {
        String name = String.valueOf(file.getFileName());
        FileChannel channel = FileChannel.open(file, StandardOpenOption.READ);
        try {
            return new SafeTensors(name, channel, SafeTensorsHeader.read(channel, name));
        } catch (IOException | RuntimeException | Error e) {
            channel.close();
            throw e;
        }
    }

    /** The file name used in messages. */
    public String fileName() {
        return fileName;
    }

    /** Byte offset in the file where the data region starts (8 + header length). */
    public long dataStart() {
        return header.dataStart;
    }

    @Override
    public List<String> names() {
        checkOpen();
        return names;
    }

    @Override
    public boolean contains(String name) {
        checkOpen();
        return header.tensors.containsKey(name);
    }

    @Override
    public TensorInfo info(String name) {
        checkOpen();
        TensorInfo info = header.tensors.get(name);
        if (info == null) {
            throw new IllegalArgumentException(fileName + ": no tensor named '" + name + "'");
        }
        return info;
    }

    @Override
    public Map<String, String> metadata() {
        checkOpen();
        return header.metadata;
    }

    @Override
    public ByteBuffer buffer(String name) {
        TensorInfo info = info(name);
        ByteBuffer region = mapped.computeIfAbsent(name, n -> map(info));
        return region.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    }

    private ByteBuffer map(TensorInfo info) {
        long size = info.byteSize();
        if (size > Integer.MAX_VALUE) {
            throw new UnsupportedOperationException(fileName + ": tensor '" + info.name() + "' is " + size
                    + " bytes; a ByteBuffer holds at most " + Integer.MAX_VALUE);
        }
        if (size == 0) {
            return ByteBuffer.allocate(0).asReadOnlyBuffer();
        }
        try {
            return channel.map(FileChannel.MapMode.READ_ONLY, header.dataStart + info.begin(), size);
        } catch (IOException e) {
            checkOpen(); // closed concurrently
            throw new UncheckedIOException(fileName + ": cannot map tensor '" + info.name() + "'", e);
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        mapped.clear();
        try {
            channel.close();
        } catch (IOException e) {
            throw new UncheckedIOException(fileName + ": close failed", e);
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException(fileName + " is closed");
        }
    }

    @Override
    public String toString() {
        return "SafeTensors[" + fileName + ", " + names.size() + " tensors]";
    }
}
