package dev.braindrip.io;

/**
 * Bit-exact conversions between {@code float} and the 16- and 8-bit float formats stored in
 * safetensors files. Widening to float is exact for every input (NaN payloads are kept where float
 * can hold them); narrowing rounds to nearest, ties to even, and overflows to infinity.
 */
public final class HalfFloats {
    private HalfFloats() {}

    /** IEEE binary16 bits to float, exactly. */
    public static float f16ToFloat(short bits) {
        int h = bits & 0xffff;
        int sign = (h & 0x8000) << 16;
        int exp = (h >>> 10) & 0x1f;
        int mant = h & 0x3ff;
        if (exp == 0x1f) {
            return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
        }
        if (exp == 0) {
            float v = mant * 0x1p-24f; // subnormal or zero: exact, mant < 2^10
            return sign == 0 ? v : -v;
        }
        return Float.intBitsToFloat(sign | ((exp + 127 - 15) << 23) | (mant << 13));
    }

    /** Float to IEEE binary16 bits, rounding to nearest even; NaN stays a (quiet) NaN. */
    public static short floatToF16(float value) {
        int bits = Float.floatToRawIntBits(value);
        int sign = (bits >>> 16) & 0x8000;
        int abs = bits & 0x7fffffff;
        if (abs > 0x7f800000) {
            return (short) (sign | 0x7e00 | ((abs >>> 13) & 0x3ff));
        }
        if (abs >= 0x477ff000) { // >= 65520, halfway past the largest half (65504): infinity
            return (short) (sign | 0x7c00);
        }
        if (abs < 0x38800000) { // below 2^-14: subnormal half or zero
            return (short) (sign | subnormalF16(abs));
        }
        int h = ((abs >>> 23) - 127 + 15) << 10 | ((abs >>> 13) & 0x3ff);
        return (short) (sign | roundHalfEven(h, abs & 0x1fff, 13));
    }

    /** Half subnormal units (2^-24) nearest to the positive float with bits {@code abs} < 2^-14. */
    private static int subnormalF16(int abs) {
        int exp = abs >>> 23;
        if (exp < 102) { // below 2^-25: rounds to zero (2^-25 itself is a tie, handled below)
            return 0;
        }
        int significand = (abs & 0x7fffff) | 0x800000; // value = significand * 2^(exp - 150)
        int shift = 126 - exp; // 14..24
        return roundHalfEven(significand >>> shift, significand & ((1 << shift) - 1), shift);
    }

    /** Rounds {@code kept} up when the dropped low {@code bits} ({@code rest}) are above half or a tie on odd. */
    private static int roundHalfEven(int kept, int rest, int bits) {
        int half = 1 << (bits - 1);
        return rest > half || (rest == half && (kept & 1) == 1) ? kept + 1 : kept;
    }

    /** bfloat16 bits to float, exactly. */
    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xffff) << 16);
    }

    /** Float to bfloat16 bits, rounding to nearest even; NaN stays a (quiet) NaN. */
    public static short floatToBf16(float value) {
        int bits = Float.floatToRawIntBits(value);
        if ((bits & 0x7fffffff) > 0x7f800000) {
            return (short) ((bits >>> 16) | 0x40);
        }
        return (short) (roundHalfEven(bits >>> 16, bits & 0xffff, 16));
    }

    /** float8 e4m3fn bits to float: bias 7, no infinities, S.1111.111 is NaN. */
    public static float f8e4m3ToFloat(byte bits) {
        int b = bits & 0xff;
        float sign = (b & 0x80) == 0 ? 1f : -1f;
        int exp = (b >>> 3) & 0xf;
        int mant = b & 0x7;
        if (exp == 0xf && mant == 0x7) {
            return Float.NaN;
        }
        if (exp == 0) {
            return sign * mant * 0x1p-9f;
        }
        return sign * Math.scalb(1f + mant / 8f, exp - 7);
    }

    /** float8 e5m2 bits to float: the upper byte of an IEEE binary16. */
    public static float f8e5m2ToFloat(byte bits) {
        return f16ToFloat((short) ((bits & 0xff) << 8));
    }

    /** float8 e8m0 bits to float: 2^(bits - 127), 0xFF is NaN. */
    public static float f8e8m0ToFloat(byte bits) {
        int e = bits & 0xff;
        return e == 0xff ? Float.NaN : Math.scalb(1f, e - 127);
    }
}
