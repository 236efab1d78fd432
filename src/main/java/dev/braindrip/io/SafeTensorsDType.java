package dev.braindrip.io;

import java.util.HashMap;
import java.util.Map;

/**
 * The element types of the safetensors format, named exactly as they are spelled in the JSON
 * header ({@code "dtype": "BF16"}).
 *
 * <p>Most types occupy a whole number of bytes ({@link #byteSize()}). The microscaling types
 * {@link #F4}, {@link #F6_E2M3} and {@link #F6_E3M2} are packed below a byte; they are known to the
 * reader so that such files open and their raw bytes can be read, but they have no byte size and
 * are not converted to Java arrays.
 */
public enum SafeTensorsDType {
    BOOL(8, Kind.BOOL),
    U8(8, Kind.UNSIGNED),
    I8(8, Kind.SIGNED),
    I16(16, Kind.SIGNED),
    U16(16, Kind.UNSIGNED),
    F16(16, Kind.FLOAT),
    BF16(16, Kind.FLOAT),
    I32(32, Kind.SIGNED),
    U32(32, Kind.UNSIGNED),
    F32(32, Kind.FLOAT),
    F64(64, Kind.FLOAT),
    I64(64, Kind.SIGNED),
    U64(64, Kind.UNSIGNED),
    /** 8-bit float, 4 exponent bits, 3 mantissa bits, no infinities ("e4m3fn"). */
    F8_E4M3(8, Kind.FLOAT),
    /** 8-bit float, 5 exponent bits, 2 mantissa bits: the upper byte of an F16. */
    F8_E5M2(8, Kind.FLOAT),
    /** 8-bit power-of-two scale (exponent only, bias 127; 0xFF is NaN). */
    F8_E8M0(8, Kind.FLOAT),
    /** 4-bit float (e2m1), two per byte; raw bytes only. */
    F4(4, Kind.PACKED),
    /** 6-bit float (e2m3), packed; raw bytes only. */
    F6_E2M3(6, Kind.PACKED),
    /** 6-bit float (e3m2), packed; raw bytes only. */
    F6_E3M2(6, Kind.PACKED);

    private enum Kind { BOOL, SIGNED, UNSIGNED, FLOAT, PACKED }

    private static final Map<String, SafeTensorsDType> BY_JSON_NAME = new HashMap<>();

    static {
        for (SafeTensorsDType t : values()) {
            BY_JSON_NAME.put(t.jsonName(), t);
        }
    }

    private final int bitSize;
    private final Kind kind;

    SafeTensorsDType(int bitSize, Kind kind) {
        this.bitSize = bitSize;
        this.kind = kind;
    }

    /** The name used in the header's {@code "dtype"} field (equal to {@link #name()}). */
    public String jsonName() {
        return name();
    }

    /** Bits per element: 4, 6, 8, 16, 32 or 64. */
    public int bitSize() {
        return bitSize;
    }

    /**
     * Bytes per element.
     *
     * @throws UnsupportedOperationException for the packed sub-byte types (see {@link #isPacked()})
     */
    public int byteSize() {
        if (isPacked()) {
            throw new UnsupportedOperationException(this + " is " + bitSize + " bits per element, not whole bytes");
        }
        return bitSize / 8;
    }

    /** True for the types packed below a byte per element (F4, F6_*). */
    public boolean isPacked() {
        return kind == Kind.PACKED;
    }

    /** True for BOOL and the signed and unsigned integer types. */
    public boolean isInteger() {
        return kind == Kind.BOOL || kind == Kind.SIGNED || kind == Kind.UNSIGNED;
    }

    /** True for the unsigned integer types (U8, U16, U32, U64). */
    public boolean isUnsigned() {
        return kind == Kind.UNSIGNED;
    }

    /** True for the floating-point types whose bytes {@code toFloatArray} can convert. */
    public boolean isFloatingPoint() {
        return kind == Kind.FLOAT;
    }

    /**
     * Exact byte size of {@code numel} elements.
     *
     * @throws ArithmeticException if the size overflows a long or, for packed types, is not a
     *     whole number of bytes
     */
    public long byteSizeOf(long numel) {
        if (!isPacked()) {
            return times(numel, bitSize / 8);
        }
        long bits = times(numel, bitSize);
        if (bits % 8 != 0) {
            throw new ArithmeticException(numel + " elements of " + this + " are " + bits + " bits, not whole bytes");
        }
        return bits / 8;
    }

    private long times(long numel, int factor) {
        if (numel < 0 || numel > Long.MAX_VALUE / factor) {
            throw new ArithmeticException(numel + " elements of " + this + " do not have a size that fits a long");
        }
        return numel * factor;
    }

    /** The type named {@code jsonName} in a header, or null if the name is unknown (case-sensitive). */
    public static SafeTensorsDType fromJsonName(String jsonName) {
        return BY_JSON_NAME.get(jsonName);
    }
}
