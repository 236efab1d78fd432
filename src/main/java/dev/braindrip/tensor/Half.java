package dev.braindrip.tensor;

/** F16 and BF16 bit conversions (round to nearest even; NaN stays NaN). */
public final class Half {
    private Half() {}

    public static float bf16ToF32(short h) {
        return Float.intBitsToFloat((h & 0xffff) << 16);
    }

    public static short f32ToBf16(float f) {
        int u = Float.floatToRawIntBits(f);
        if ((u & 0x7fffffff) > 0x7f800000) return (short) ((u >>> 16) | 0x40);
        u += 0x7fff + ((u >>> 16) & 1);
        return (short) (u >>> 16);
    }

    public static float f16ToF32(short h) {
        int sign = (h & 0x8000) << 16;
        int exp = (h >>> 10) & 0x1f;
        int man = h & 0x3ff;
        if (exp == 0) {
            // zero or subnormal: man * 2^-24, exact in float
            float v = man * 0x1p-24f;
            return sign != 0 ? -v : v;
        }
        if (exp == 31) return Float.intBitsToFloat(sign | 0x7f800000 | (man << 13) | (man != 0 ? 0x400000 : 0));
        return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (man << 13));
    }

    public static short f32ToF16(float f) {
        int u = Float.floatToRawIntBits(f);
        int sign = (u >>> 16) & 0x8000;
        int a = u & 0x7fffffff;
        if (a > 0x7f800000) return (short) (sign | 0x7e00);           // NaN
        if (a >= 0x477ff000) return (short) (sign | 0x7c00);          // >= 65520 rounds to inf
        if (a < 0x38800000) {                                         // f16 subnormal or zero
            if (a < 0x33000000) return (short) sign;                  // <= 2^-25 rounds to 0 (tie to even)
            int man = (a & 0x7fffff) | 0x800000;
            int s = 126 - (a >>> 23);                                 // 14..24
            int q = man >>> s;
            int rem = man & ((1 << s) - 1);
            int half = 1 << (s - 1);
            if (rem > half || (rem == half && (q & 1) != 0)) q++;
            return (short) (sign | q);
        }
        int r = a + 0x0fff + ((a >>> 13) & 1);
        r -= 0x38000000;
        return (short) (sign | (r >>> 13));
    }

    /** f rounded to BF16 precision and back. */
    public static float roundBf16(float f) {
        return bf16ToF32(f32ToBf16(f));
    }

    /** f rounded to F16 precision and back. */
    public static float roundF16(float f) {
        return f16ToF32(f32ToF16(f));
    }

    /** f rounded to the precision of a float dtype (identity for F32). */
    public static float round(DType dtype, float f) {
        return switch (dtype) {
            case F16 -> roundF16(f);
            case BF16 -> roundBf16(f);
            default -> f;
        };
    }
}
