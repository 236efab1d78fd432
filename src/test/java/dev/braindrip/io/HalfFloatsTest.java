package dev.braindrip.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The 16- and 8-bit float conversions against references built from the format definitions in
 * double arithmetic: exhaustive for decoding, randomized plus the edge cases for rounding.
 */
class HalfFloatsTest {

    /** (-1)^s * 2^(e - bias) * (1 + m / 2^mbits), or the subnormal form for e = 0. */
    private static double reference(int sign, int exp, int mant, int mbits, int bias) {
        double magnitude = exp == 0
                ? Math.scalb((double) mant, 1 - bias - mbits)
                : Math.scalb(1.0 + Math.scalb((double) mant, -mbits), exp - bias);
        return sign == 0 ? magnitude : -magnitude;
    }

    private static double f16Reference(int h) {
        return reference(h >>> 15, (h >>> 10) & 0x1f, h & 0x3ff, 10, 15);
    }

    @Test
    void f16DecodesEveryPatternExactly() {
        for (int h = 0; h < 0x10000; h++) {
            float f = HalfFloats.f16ToFloat((short) h);
            int exp = (h >>> 10) & 0x1f;
            int mant = h & 0x3ff;
            if (exp == 0x1f && mant != 0) {
                assertTrue(Float.isNaN(f), Integer.toHexString(h));
            } else if (exp == 0x1f) {
                assertEquals((h & 0x8000) == 0 ? Float.POSITIVE_INFINITY : Float.NEGATIVE_INFINITY, f);
            } else {
                assertEquals(Float.floatToIntBits((float) f16Reference(h)), Float.floatToIntBits(f), Integer.toHexString(h));
            }
        }
        assertEquals(Float.floatToIntBits(-0.0f), Float.floatToIntBits(HalfFloats.f16ToFloat((short) 0x8000)));
        assertEquals(0x1p-24f, HalfFloats.f16ToFloat((short) 0x0001)); // smallest subnormal
        assertEquals(0x1.ff8p-15f, HalfFloats.f16ToFloat((short) 0x03ff)); // largest subnormal
        assertEquals(65504f, HalfFloats.f16ToFloat((short) 0x7bff));
    }

    @Test
    void f16EncodesEveryPatternBack() {
        for (int h = 0; h < 0x10000; h++) {
            float f = HalfFloats.f16ToFloat((short) h);
            if (!Float.isNaN(f)) {
                assertEquals(h, HalfFloats.floatToF16(f) & 0xffff, Integer.toHexString(h));
            } else {
                assertTrue(Float.isNaN(HalfFloats.f16ToFloat(HalfFloats.floatToF16(f))));
            }
        }
    }

    /** Nearest half to {@code x} by search over the two neighbours, ties to the even pattern. */
    private static int nearestF16(float x) {
        int sign = x < 0 || (x == 0 && 1 / x < 0) ? 0x8000 : 0;
        double a = Math.abs((double) x);
        if (a >= 65520.0) {
            return sign | 0x7c00;
        }
        int lo = 0; // binary search: the largest finite positive pattern whose value is <= a
        int hi = 0x7bff;
        while (lo < hi) {
            int mid = (lo + hi + 1) >>> 1;
            if (f16Reference(mid) <= a) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        double dLo = a - f16Reference(lo);
        double dHi = lo == 0x7bff ? Double.MAX_VALUE : f16Reference(lo + 1) - a;
        int pick = dLo < dHi ? lo : dHi < dLo ? lo + 1 : ((lo & 1) == 0 ? lo : lo + 1);
        return sign | pick;
    }

    @Test
    void f16RoundsToNearestEven() {
        SplittableRandom random = new SplittableRandom(42);
        for (int i = 0; i < 20_000; i++) {
            float x = Math.scalb((float) random.nextDouble(-2, 2), random.nextInt(-27, 17));
            assertEquals(nearestF16(x), HalfFloats.floatToF16(x) & 0xffff, () -> "x = " + x);
        }
        // Ties between neighbouring halves: 1 + 2^-11 lies between 1 (even) and 1 + 2^-10 (odd).
        assertEquals(0x3c00, HalfFloats.floatToF16(1f + 0x1p-11f));
        assertEquals(0x3c02, HalfFloats.floatToF16(1f + 3 * 0x1p-11f));
        assertEquals(0x0000, HalfFloats.floatToF16(0x1p-25f)); // tie between 0 and the smallest subnormal
        assertEquals(0x0001, HalfFloats.floatToF16(0x1.000002p-25f));
        assertEquals(0x0002, HalfFloats.floatToF16(3 * 0x1p-25f)); // tie, rounds to even 2
        assertEquals(0x0400, HalfFloats.floatToF16(0x1.ffcp-15f)); // subnormal rounding up into normal
        assertEquals(0x7bff, HalfFloats.floatToF16(65519.996f));
        assertEquals(0x7c00, HalfFloats.floatToF16(65520f));
        assertEquals(0xfc00, HalfFloats.floatToF16(Float.NEGATIVE_INFINITY) & 0xffff);
        assertEquals(0x8000, HalfFloats.floatToF16(-0x1p-30f) & 0xffff);
        assertEquals(0x0000, HalfFloats.floatToF16(Float.MIN_VALUE));
        assertTrue(Float.isNaN(HalfFloats.f16ToFloat(HalfFloats.floatToF16(Float.NaN))));
        assertTrue(Float.isNaN(HalfFloats.f16ToFloat(HalfFloats.floatToF16(Float.intBitsToFloat(0x7f800001)))));
    }

    @Test
    void bf16DecodesAndEncodesEveryPattern() {
        for (int h = 0; h < 0x10000; h++) {
            float f = HalfFloats.bf16ToFloat((short) h);
            assertEquals(h << 16, Float.floatToRawIntBits(f));
            if (!Float.isNaN(f)) {
                assertEquals(h, HalfFloats.floatToBf16(f) & 0xffff, Integer.toHexString(h));
            }
        }
    }

    @Test
    void bf16RoundsToNearestEven() {
        SplittableRandom random = new SplittableRandom(7);
        for (int i = 0; i < 20_000; i++) {
            int bits = random.nextInt() & 0x7f7fffff;
            float x = Float.intBitsToFloat(bits);
            double lo = HalfFloats.bf16ToFloat((short) (bits >>> 16));
            double hi = HalfFloats.bf16ToFloat((short) ((bits >>> 16) + 1));
            double dLo = x - lo;
            double dHi = hi - x;
            int expected = dLo < dHi ? bits >>> 16 : dHi < dLo ? (bits >>> 16) + 1
                    : ((bits >>> 16) & 1) == 0 ? bits >>> 16 : (bits >>> 16) + 1;
            assertEquals(expected, HalfFloats.floatToBf16(x) & 0xffff, () -> "x = " + x);
        }
        assertEquals(0x3f80, HalfFloats.floatToBf16(1f + 0x1p-8f)); // tie to even
        assertEquals(0x3f82, HalfFloats.floatToBf16(1f + 3 * 0x1p-8f)); // tie to even, upward
        assertEquals(0x7f80, HalfFloats.floatToBf16(Float.MAX_VALUE)); // overflows to infinity
        assertEquals(0x0001, HalfFloats.floatToBf16(Float.intBitsToFloat(0x00008001))); // subnormal
        assertEquals(0x8000, HalfFloats.floatToBf16(-0f) & 0xffff);
        assertTrue(Float.isNaN(HalfFloats.bf16ToFloat(HalfFloats.floatToBf16(Float.intBitsToFloat(0x7f800001)))));
    }

    @Test
    void f8DecodeEveryPattern() {
        for (int b = 0; b < 256; b++) {
            float e4m3 = HalfFloats.f8e4m3ToFloat((byte) b);
            if ((b & 0x7f) == 0x7f) {
                assertTrue(Float.isNaN(e4m3));
            } else {
                assertEquals((float) reference(b >>> 7, (b >>> 3) & 0xf, b & 7, 3, 7), e4m3, "e4m3 " + b);
            }
            assertEquals(Float.floatToIntBits(HalfFloats.f16ToFloat((short) (b << 8))),
                    Float.floatToIntBits(HalfFloats.f8e5m2ToFloat((byte) b)));
            float e8m0 = HalfFloats.f8e8m0ToFloat((byte) b);
            assertEquals(b == 255 ? Float.NaN : (float) Math.scalb(1.0, b - 127), e8m0);
        }
        assertEquals(448f, HalfFloats.f8e4m3ToFloat((byte) 0x7e));
        assertEquals(0x1p-9f, HalfFloats.f8e4m3ToFloat((byte) 0x01));
        assertEquals(57344f, HalfFloats.f8e5m2ToFloat((byte) 0x7b));
    }
}
