package dev.braindrip.io;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Converts a tensor's little-endian bytes to Java arrays. Reads use absolute indices, so the
 * buffer's position does not matter; the caller passes exactly the tensor's bytes.
 */
final class TensorArrays {
    private TensorArrays() {}

    /** Floating-point and integer types to float (large integers round to the nearest float). */
    static float[] toFloats(TensorInfo info, ByteBuffer bytes) {
        if (!info.dtype().isFloatingPoint()) {
            requireInteger(info, "toFloatArray");
        }
        ByteBuffer b = littleEndian(bytes);
        float[] out = new float[count(info)];
        switch (info.dtype()) {
            case F32 -> b.asFloatBuffer().get(out);
            case F64 -> fill(out, i -> (float) b.getDouble(8 * i));
            case F16 -> fill(out, i -> HalfFloats.f16ToFloat(b.getShort(2 * i)));
            case BF16 -> fill(out, i -> HalfFloats.bf16ToFloat(b.getShort(2 * i)));
            case F8_E4M3 -> fill(out, i -> HalfFloats.f8e4m3ToFloat(b.get(i)));
            case F8_E5M2 -> fill(out, i -> HalfFloats.f8e5m2ToFloat(b.get(i)));
            case F8_E8M0 -> fill(out, i -> HalfFloats.f8e8m0ToFloat(b.get(i)));
            case U64 -> fill(out, i -> unsignedToFloat(b.getLong(8 * i)));
            default -> fill(out, i -> (float) integerAt(info.dtype(), b, i));
        }
        return out;
    }

    /** Integer types (and BOOL as 0/1) to int, failing on values outside the int range. */
    static int[] toInts(TensorInfo info, ByteBuffer bytes) {
        requireInteger(info, "toIntArray");
        ByteBuffer b = littleEndian(bytes);
        int[] out = new int[count(info)];
        for (int i = 0; i < out.length; i++) {
            long v = integerAt(info.dtype(), b, i);
            if (v != (int) v || (info.dtype() == SafeTensorsDType.U64 && v < 0)) {
                throw outOfRange(info, i, v, "an int");
            }
            out[i] = (int) v;
        }
        return out;
    }

    /** Integer types (and BOOL as 0/1) to long, failing on U64 values above Long.MAX_VALUE. */
    static long[] toLongs(TensorInfo info, ByteBuffer bytes) {
        requireInteger(info, "toLongArray");
        ByteBuffer b = littleEndian(bytes);
        long[] out = new long[count(info)];
        for (int i = 0; i < out.length; i++) {
            long v = integerAt(info.dtype(), b, i);
            if (info.dtype() == SafeTensorsDType.U64 && v < 0) {
                throw outOfRange(info, i, v, "a long");
            }
            out[i] = v;
        }
        return out;
    }

    /** Element {@code i} of an integer tensor; U64 comes back as its raw 64 bits. */
    private static long integerAt(SafeTensorsDType dtype, ByteBuffer b, int i) {
        return switch (dtype) {
            case BOOL -> b.get(i) != 0 ? 1 : 0;
            case U8 -> b.get(i) & 0xffL;
            case I8 -> b.get(i);
            case U16 -> b.getShort(2 * i) & 0xffffL;
            case I16 -> b.getShort(2 * i);
            case U32 -> b.getInt(4 * i) & 0xffffffffL;
            case I32 -> b.getInt(4 * i);
            case I64, U64 -> b.getLong(8 * i);
            default -> throw new AssertionError(dtype);
        };
    }

    private static float unsignedToFloat(long v) {
        if (v >= 0) {
            return (float) v;
        }
        // Halve with the low bit kept sticky so the final rounding is still to nearest.
        return 2f * (float) ((v >>> 1) | (v & 1));
    }

    private static ByteBuffer littleEndian(ByteBuffer bytes) {
        return bytes.duplicate().clear().order(ByteOrder.LITTLE_ENDIAN);
    }

    private static int count(TensorInfo info) {
        long n = info.numel();
        if (n > Integer.MAX_VALUE - 8) {
            throw new UnsupportedOperationException("tensor '" + info.name() + "' has " + n
                    + " elements, more than a Java array holds");
        }
        return (int) n;
    }

    private static void requireInteger(TensorInfo info, String method) {
        if (!info.dtype().isInteger()) {
            throw new IllegalArgumentException(method + ": tensor '" + info.name() + "' has dtype "
                    + info.dtype() + ", which it cannot convert");
        }
    }

    private static ArithmeticException outOfRange(TensorInfo info, int i, long raw, String target) {
        String value = info.dtype() == SafeTensorsDType.U64 ? Long.toUnsignedString(raw) : Long.toString(raw);
        return new ArithmeticException("tensor '" + info.name() + "' element " + i + " (" + value
                + ") does not fit in " + target);
    }

    private interface FloatAt {
        float at(int i);
    }

    private static void fill(float[] out, FloatAt element) {
        for (int i = 0; i < out.length; i++) {
            out[i] = element.at(i);
        }
    }
}
