package dev.braindrip.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The validated header of one safetensors file: where the data region starts, every tensor's
 * {@link TensorInfo} in header order, and the {@code __metadata__} map. Reading it checks the whole
 * header; nothing is accepted that would let a later read fall outside the file.
 */
final class SafeTensorsHeader {
    /** The largest header accepted, as in the reference implementation. */
    static final long MAX_HEADER_BYTES = 100_000_000L;
    static final String METADATA_KEY = "__metadata__";

    final long dataStart;
    final long dataSize;
    final Map<String, TensorInfo> tensors;
    final Map<String, String> metadata;

    private SafeTensorsHeader(long dataStart, long dataSize, Map<String, TensorInfo> tensors,
            Map<String, String> metadata) {
        this.dataStart = dataStart;
        this.dataSize = dataSize;
        this.tensors = Collections.unmodifiableMap(tensors);
        this.metadata = Collections.unmodifiableMap(metadata);
    }

    /** Reads and validates the header of the file open on {@code channel}. */
    static SafeTensorsHeader read(FileChannel channel, String file) throws IOException {
        long fileSize = channel.size();
        long headerSize = readHeaderSize(channel, file, fileSize);
        ByteBuffer bytes = ByteBuffer.allocate((int) headerSize);
        readFully(channel, bytes, 8, file);
        ObjectNode root = StrictJson.parseObject(file, bytes.array(), "header");
        long dataStart = 8 + headerSize;
        return fromJson(file, root, dataStart, fileSize - dataStart);
    }

    private static long readHeaderSize(FileChannel channel, String file, long fileSize) throws IOException {
        if (fileSize < 8) {
            throw new SafeTensorsFormatException(file, null,
                    "file is " + fileSize + " bytes, shorter than the 8-byte header length");
        }
        ByteBuffer prefix = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        readFully(channel, prefix, 0, file);
        long n = prefix.getLong(0);
        String shown = Long.toUnsignedString(n);
        if (n == 0) {
            throw new SafeTensorsFormatException(file, null, "header length is 0");
        }
        if (Long.compareUnsigned(n, MAX_HEADER_BYTES) > 0) {
            throw new SafeTensorsFormatException(file, null,
                    "header length " + shown + " exceeds the limit of " + MAX_HEADER_BYTES + " bytes");
        }
        if (n > fileSize - 8) {
            throw new SafeTensorsFormatException(file, null,
                    "header length " + shown + " runs past the end of the file (" + fileSize + " bytes)");
        }
        return n;
    }

    private static void readFully(FileChannel channel, ByteBuffer into, long position, String file)
            throws IOException {
        long at = position;
        while (into.hasRemaining()) {
            int n = channel.read(into, at);
            if (n < 0) {
                throw new SafeTensorsFormatException(file, null, "file ended while reading the header");
            }
            at += n;
        }
    }

    static SafeTensorsHeader fromJson(String file, ObjectNode root, long dataStart, long dataSize)
            throws SafeTensorsFormatException {
        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        Map<String, String> metadata = Map.of();
        for (Map.Entry<String, JsonNode> e : root.properties()) {
            if (e.getKey().equals(METADATA_KEY)) {
                metadata = parseMetadata(file, e.getValue());
            } else {
                TensorEntryParser entry = new TensorEntryParser(file, e.getKey(), dataSize);
                tensors.put(e.getKey(), entry.parse(e.getValue()));
            }
        }
        checkNoOverlap(file, tensors.values());
        return new SafeTensorsHeader(dataStart, dataSize, tensors, metadata);
    }

    private static Map<String, String> parseMetadata(String file, JsonNode node) throws SafeTensorsFormatException {
        if (!node.isObject()) {
            throw new SafeTensorsFormatException(file, null,
                    METADATA_KEY + " must be an object of strings, found " + StrictJson.kind(node));
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : node.properties()) {
            if (!e.getValue().isTextual()) {
                throw new SafeTensorsFormatException(file, null, METADATA_KEY + " value for key '" + e.getKey()
                        + "' must be a string, found " + StrictJson.kind(e.getValue()));
            }
            metadata.put(e.getKey(), e.getValue().textValue());
        }
        return metadata;
    }

    /** Tensors with bytes must not share any byte; empty tensors may sit anywhere in bounds. */
    private static void checkNoOverlap(String file, Iterable<TensorInfo> all) throws SafeTensorsFormatException {
        List<TensorInfo> sorted = new ArrayList<>();
        for (TensorInfo t : all) {
            if (t.end() > t.begin()) {
                sorted.add(t);
            }
        }
        sorted.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        TensorInfo reach = null;
        for (TensorInfo t : sorted) {
            if (reach != null && t.begin() < reach.end()) {
                throw new SafeTensorsFormatException(file, t.name(), "data_offsets " + offsets(t)
                        + " overlap those of tensor '" + reach.name() + "' " + offsets(reach));
            }
            if (reach == null || t.end() > reach.end()) {
                reach = t;
            }
        }
    }

    static String offsets(TensorInfo t) {
        return "[" + t.begin() + ", " + t.end() + "]";
    }
}
