package dev.braindrip.io;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Arrays;

/**
 * Validates one tensor entry of a header,
 * {@code {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}}, against the size of the data
 * region. Fields other than these three are ignored.
 */
final class TensorEntryParser {
    private final String file;
    private final String name;
    private final long dataSize;

    TensorEntryParser(String file, String name, long dataSize) {
        this.file = file;
        this.name = name;
        this.dataSize = dataSize;
    }

    TensorInfo parse(JsonNode entry) throws SafeTensorsFormatException {
        if (!entry.isObject()) {
            throw fail("entry must be an object, found " + StrictJson.kind(entry));
        }
        SafeTensorsDType dtype = dtype(field(entry, "dtype"));
        long[] shape = shape(field(entry, "shape"));
        long[] offsets = offsets(field(entry, "data_offsets"));
        TensorInfo info = new TensorInfo(name, dtype, shape, offsets[0], offsets[1]);
        checkSize(info);
        checkInDataRegion(info);
        return info;
    }

    private JsonNode field(JsonNode entry, String key) throws SafeTensorsFormatException {
        JsonNode value = entry.get(key);
        if (value == null) {
            throw fail("missing field '" + key + "'");
        }
        return value;
    }

    private SafeTensorsDType dtype(JsonNode node) throws SafeTensorsFormatException {
        if (!node.isTextual()) {
            throw fail("dtype must be a string, found " + StrictJson.kind(node));
        }
        SafeTensorsDType dtype = SafeTensorsDType.fromJsonName(node.textValue());
        if (dtype == null) {
            throw fail("unknown dtype '" + node.textValue() + "'");
        }
        return dtype;
    }

    private long[] shape(JsonNode node) throws SafeTensorsFormatException {
        if (!node.isArray()) {
            throw fail("shape must be an array of integers, found " + StrictJson.kind(node));
        }
        long[] shape = new long[node.size()];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = nonNegativeLong(node.get(i), "shape[" + i + "]");
        }
        return shape;
    }

    private long[] offsets(JsonNode node) throws SafeTensorsFormatException {
        if (!node.isArray() || node.size() != 2) {
            throw fail("data_offsets must be an array of two integers [begin, end], found "
                    + (node.isArray() ? "an array of " + node.size() : StrictJson.kind(node)));
        }
        long begin = nonNegativeLong(node.get(0), "data_offsets[0]");
        long end = nonNegativeLong(node.get(1), "data_offsets[1]");
        if (begin > end) {
            throw fail("data_offsets [" + begin + ", " + end + "] begin after end");
        }
        return new long[] {begin, end};
    }

    private long nonNegativeLong(JsonNode node, String what) throws SafeTensorsFormatException {
        if (!node.isIntegralNumber()) {
            throw fail(what + " must be an integer, found " + StrictJson.kind(node) + " " + clip(node.toString()));
        }
        if (!node.canConvertToLong() || node.longValue() < 0) {
            throw fail(what + " is " + clip(node.toString()) + ", outside 0.." + Long.MAX_VALUE);
        }
        return node.longValue();
    }

    private void checkSize(TensorInfo info) throws SafeTensorsFormatException {
        String shape = clip(Arrays.toString(info.shape()));
        long numel;
        try {
            numel = info.numel();
        } catch (ArithmeticException e) {
            throw fail("shape " + shape + " has more than " + Long.MAX_VALUE + " elements");
        }
        long bytes;
        try {
            bytes = info.dtype().byteSizeOf(numel);
        } catch (ArithmeticException e) {
            throw fail("shape " + shape + " of " + info.dtype() + " has no byte size: " + e.getMessage());
        }
        if (bytes != info.byteSize()) {
            throw fail("shape " + shape + " of " + info.dtype() + " needs " + bytes + " bytes but data_offsets "
                    + SafeTensorsHeader.offsets(info) + " hold " + info.byteSize());
        }
    }

    private void checkInDataRegion(TensorInfo info) throws SafeTensorsFormatException {
        if (info.end() > dataSize) {
            throw fail("data_offsets " + SafeTensorsHeader.offsets(info)
                    + " past the end of the data region (" + dataSize + " bytes)");
        }
    }

    private static String clip(String s) {
        return s.length() <= 80 ? s : s.substring(0, 77) + "...";
    }

    private SafeTensorsFormatException fail(String problem) {
        return new SafeTensorsFormatException(file, name, problem);
    }
}
