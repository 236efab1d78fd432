package dev.braindrip.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import dev.braindrip.tensor.Tensor;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/** Scaled RoPE (the caller's inverse frequencies and an mscale on cos and sin) on the CPU against fp64 loops. */
class RopeFreqsTest {
    @ParameterizedTest(name = "{0} T{1} H{2} D{3} rot{4} {5}")
    @CsvSource({"F32,7,3,16,16,HALF", "F32,13,2,64,48,HALF", "F32,5,4,32,32,INTERLEAVED", "BF16,9,2,64,64,HALF", "F16,3,5,80,64,INTERLEAVED"})
    void matchesFp64(DType dt, int tokens, int heads, int d, int rot, RopeSpec.Style style) {
        SplittableRandom rng = new SplittableRandom(tokens * 131L + d);
        float[] x = new float[tokens * heads * d];
        for (int i = 0; i < x.length; i++) x[i] = (float) (rng.nextDouble() * 2 - 1);
        float[] inv = new float[rot / 2];
        for (int i = 0; i < inv.length; i++) inv[i] = (float) Math.exp(-rng.nextDouble() * 9);
        long[] pos = new long[tokens];
        for (int t = 0; t < tokens; t++) pos[t] = rng.nextInt(4096);
        float mscale = 1.2f;
        try (Arena a = Arena.on(Device.cpu(), 1 << 24)) {
            Tensor xt = a.fromFloats(x, dt, tokens, heads, d);
            float[] xr = xt.toFloatArray(); // the rounded input
            float[] got = Ops.on(a).ropeFreqs(xt, a.fromLongs(pos, tokens), style, inv, mscale).toFloatArray();
            double err = 0, ref = 0;
            for (int t = 0; t < tokens; t++) {
                for (int h = 0; h < heads; h++) {
                    int base = (t * heads + h) * d;
                    double[] want = new double[d];
                    for (int c = 0; c < d; c++) want[c] = xr[base + c];
                    for (int p = 0; p < rot / 2; p++) {
                        int ia = style == RopeSpec.Style.HALF ? p : 2 * p, ib = style == RopeSpec.Style.HALF ? p + rot / 2 : 2 * p + 1;
                        double ang = (double) (float) (pos[t] * inv[p]);  // the contract: F32 angle, as HF
                        double c = Math.cos(ang) * mscale, s = Math.sin(ang) * mscale;
                        want[ia] = xr[base + ia] * c - xr[base + ib] * s;
                        want[ib] = xr[base + ib] * c + xr[base + ia] * s;
                    }
                    for (int c = 0; c < d; c++) {
                        err += (got[base + c] - want[c]) * (got[base + c] - want[c]);
                        ref += want[c] * want[c];
                    }
                }
            }
            double tol = dt == DType.F32 ? 1e-10 : 3e-5;
            assertTrue(err / ref < tol, "NMSE " + err / ref + " > " + tol);
            a.releaseAll();
        }
    }

    @Test
    void thetaTableEqualsPlainRopeBitForBit() {
        int t = 11, h = 3, d = 64;
        float theta = 10000f;
        float[] inv = new float[d / 2];
        for (int p = 0; p < d / 2; p++) inv[p] = (float) Math.pow(theta, -(float) (2 * p) / (float) d);
        try (Arena a = Arena.on(Device.cpu(), 1 << 24)) {
            Tensor x = a.randn(DType.F32, t, h, d);
            long[] pos = new long[t];
            for (int i = 0; i < t; i++) pos[i] = 3L * i;
            Tensor p = a.fromLongs(pos, t);
            float[] plain = Ops.on(a).rope(x, p, new RopeSpec(theta, RopeSpec.Style.HALF, 0)).toFloatArray();
            float[] table = Ops.on(a).ropeFreqs(x, p, RopeSpec.Style.HALF, inv, 1f).toFloatArray();
            // the CPU twin computes its table with powf: a Java double pow rounded to float may differ by an ulp
            double maxDiff = 0;
            for (int i = 0; i < plain.length; i++) maxDiff = Math.max(maxDiff, Math.abs(plain[i] - table[i]));
            assertTrue(maxDiff < 1e-4, "max difference " + maxDiff);
            a.releaseAll();
        }
    }

    @Test
    void badTablesAreRefused() {
        try (Arena a = Arena.on(Device.cpu(), 1 << 24)) {
            Tensor x = a.randn(DType.F32, 2, 1, 8);
            Tensor p = a.fromLongs(new long[] {0, 1}, 2);
            Ops ops = Ops.on(a);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> ops.ropeFreqs(x, p, RopeSpec.Style.HALF, new float[5], 1f));
            assertTrue(e.getMessage().contains("head dim"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> ops.ropeFreqs(x, p, RopeSpec.Style.HALF, new float[0], 1f));
            RuntimeException nan = assertThrows(RuntimeException.class,
                    () -> ops.ropeFreqs(x, p, RopeSpec.Style.HALF, new float[] {Float.NaN, 1f}, 1f));
            assertTrue(nan.getMessage().contains("inv_freq"), nan.getMessage());
            assertArrayEquals(new long[] {2, 1, 8}, x.shape());
            a.releaseAll();
        }
    }
}
