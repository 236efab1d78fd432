package dev.braindrip.tensor;

/** Storage types. Compute is F32 (F32 accumulation for F16/BF16 storage). Codes match bd_dtype. */
public enum DType {
    F32(0, 4),
    F16(1, 2),
    BF16(2, 2),
    I32(3, 4),
    I64(4, 8),
    U8(5, 1);

    private final int code;
    private final int bytes;

    DType(int code, int bytes) {
        this.code = code;
        this.bytes = bytes;
    }

    /** The bd_dtype code of the C ABI. */
    public int code() {
        return code;
    }

    /** Bytes per element. */
    public int bytes() {
        return bytes;
    }

    public boolean isFloat() {
        return this == F32 || this == F16 || this == BF16;
    }

    public boolean isIndex() {
        return this == I32 || this == I64;
    }

    /** Parses f32 | f16 | bf16 | i32 | i64 | u8 (case-insensitive). */
    public static DType parse(String s) {
        for (DType d : values()) {
            if (d.name().equalsIgnoreCase(s)) return d;
        }
        throw new IllegalArgumentException("unknown dtype '" + s + "' (expected f32, f16, bf16, i32, i64 or u8)");
    }
}
