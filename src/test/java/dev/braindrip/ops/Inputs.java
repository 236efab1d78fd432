package dev.braindrip.ops;

import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Tensor;
import java.util.SplittableRandom;

/** Seeded random inputs of one case; never zeros (magnitudes are bounded away from 0). */
final class Inputs {
    private final SplittableRandom random;

    Inputs(long seed) {
        this.random = new SplittableRandom(seed);
    }

    /** Random sign times a magnitude uniform in [lo, hi), lo > 0. */
    float[] signed(int n, double lo, double hi) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            double m = lo + (hi - lo) * random.nextDouble();
            v[i] = (float) (random.nextBoolean() ? m : -m);
        }
        return v;
    }

    /** Normal(mean, std), resampled while |value| < 1e-3. */
    float[] normal(int n, double mean, double std) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            double x;
            do {
                double u1 = 1.0 - random.nextDouble(), u2 = random.nextDouble();
                x = mean + std * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
            } while (Math.abs(x) < 1e-3);
            v[i] = (float) x;
        }
        return v;
    }

    /** Random sign times 2^e with e uniform in [minExp, maxExp) (spans normal and subnormal ranges). */
    float[] logUniform(int n, int minExp, int maxExp) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            double m = Math.pow(2, minExp + (maxExp - minExp) * random.nextDouble());
            v[i] = (float) (random.nextBoolean() ? m : -m);
        }
        return v;
    }

    /** Small nonzero integers in [-levels, levels] without 0: many exact ties. */
    float[] ties(int n, int levels) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            int k = 1 + random.nextInt(levels);
            v[i] = random.nextBoolean() ? k : -k;
        }
        return v;
    }

    int nextInt(int bound) {
        return random.nextInt(bound);
    }

    long[] ints(int n, long lo, long hi) {
        long[] v = new long[n];
        for (int i = 0; i < n; i++) v[i] = lo + random.nextLong(hi - lo);
        return v;
    }

    /** An index tensor (I32 or I64) holding {@code values}. */
    static Tensor indexTensor(Arena arena, DType dtype, long[] values, long... shape) {
        if (dtype == DType.I64) return arena.fromLongs(values, shape);
        int[] v = new int[values.length];
        for (int i = 0; i < v.length; i++) v[i] = Math.toIntExact(values[i]);
        return arena.fromInts(v, shape);
    }
}
