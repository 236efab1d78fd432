package dev.braindrip.reference;


import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.braindrip.ops.Activation;
import dev.braindrip.ops.Glu;
import dev.braindrip.ops.RopeSpec;
import dev.braindrip.tensor.DType;
import org.junit.jupiter.api.Test;

/** The oracle itself, against published values and hand-worked cases. */
class ReferenceTest {
    private static void rel(double expected, double got, double tol, String what) {
        assertEquals(expected, got, Math.abs(expected) * tol, what);
    }

    @Test
    void erfMatchesPublishedValues() {
        // values from Abramowitz & Stegun / mpmath to 16 digits
        double[][] erf = {{1e-5, 1.1283791670578999e-05}, {0.1, 0.1124629160182849}, {0.5, 0.5204998778130465},
            {1, 0.8427007929497149}, {1.5, 0.9661051464753108}, {2, 0.9953222650189527}, {3, 0.9999779095030014}};
        for (double[] p : erf) {
            rel(p[1], Reference.erf(p[0]), 2e-15, "erf(" + p[0] + ")");
            rel(-p[1], Reference.erf(-p[0]), 2e-15, "erf(-" + p[0] + ")");
        }
        double[][] erfc = {{0.5, 0.4795001221869535}, {1, 0.15729920705028513}, {2, 0.004677734981047266},
            {2.5, 4.069520174449590e-04}, {3, 2.209049699858544e-05}, {5, 1.5374597944280348e-12}, {10, 2.088487583762545e-45}};
        for (double[] p : erfc) rel(p[1], Reference.erfc(p[0]), 2e-15, "erfc(" + p[0] + ")");
        assertEquals(0.0, Reference.erf(0.0));
        assertEquals(1.0, Reference.erf(40));
    }

    @Test
    void activationsMatchHandValues() {
        rel(0.8413447460685429, Reference.gelu(1), 1e-15, "gelu(1)");
        rel(-0.15865525393145707, Reference.gelu(-1), 1e-15, "gelu(-1)");
        rel(-1.43325785939596955e-6, Reference.gelu(-5), 1e-14, "gelu(-5)"); // -2.5·erfc(5/√2), mpmath
        rel(0.8411919906082768, Reference.geluTanh(1), 1e-15, "gelu_tanh(1)");
        rel(0.7310585786300049, Reference.silu(1), 1e-15, "silu(1)");
        assertEquals(0.0, Reference.relu(-2));
        assertArrayEquals(new double[] {0, 3}, Reference.activation(new double[] {-1, 3}, Activation.RELU));
        // glu: gate first, up second
        assertArrayEquals(new double[] {Reference.silu(1) * 4, Reference.silu(2) * 5},
                Reference.glu(new double[] {1, 2, 4, 5}, 1, 2, Glu.SWIGLU), 1e-15);
    }

    @Test
    void gemmAndConvert() {
        // a (2, 3) · b (3, 2) + bias
        double[] a = {1, 2, 3, 4, 5, 6}, b = {7, 8, 9, 10, 11, 12};
        assertArrayEquals(new double[] {58 + 1, 64 - 1, 139 + 1, 154 - 1}, Reference.gemm(a, b, new double[] {1, -1}, 2, 3, 2, false));
        double[] bt = {7, 9, 11, 8, 10, 12}; // the same b stored (n, k)
        assertArrayEquals(new double[] {58, 64, 139, 154}, Reference.gemm(a, bt, null, 2, 3, 2, true));
        // BF16 spacing at 1 is 2^-7; halfway cases go to the even neighbour
        assertArrayEquals(new double[] {1, 1 + 0x1p-6, 1 + 0x1p-7},
                Reference.convert(new double[] {1 + 0x1p-8, 1 + 0x1p-7 + 0x1p-8, 1 + 0x1p-7 + 0x1p-10}, DType.BF16));
        assertArrayEquals(new double[] {65504, Double.POSITIVE_INFINITY}, Reference.convert(new double[] {65519, 65520}, DType.F16));
    }

    @Test
    void normsAndFusedSum() {
        double[] x = {1, 2, 3, 4};
        double[] y = Reference.layernorm(x, new double[] {1, 1, 1, 1}, null, 1, 4, 0);
        double mean = 0, var = 0;
        for (double v : y) mean += v / 4;
        for (double v : y) var += (v - mean) * (v - mean) / 4;
        assertEquals(0, mean, 1e-15);
        assertEquals(1, var, 1e-14);
        double[] r = Reference.rmsnorm(new double[] {3, 4}, new double[] {1, 2}, 1, 2, 0);
        double rms = Math.sqrt(12.5);
        assertArrayEquals(new double[] {3 / rms, 8 / rms}, r, 1e-15);
        // the fused sum is stored in BF16 before it is normalized
        Reference.Fused f = Reference.addRmsnorm(new double[] {1}, new double[] {0x1p-9}, new double[] {1}, 1, 1, 0, DType.BF16);
        assertArrayEquals(new double[] {1}, f.sum());
    }

    @Test
    void softmaxRopeAndSelection() {
        double[] s = Reference.softmax(new double[] {0, Math.log(3)}, 1, 2, 1);
        assertArrayEquals(new double[] {0.25, 0.75}, s, 1e-15);
        double[] st = Reference.softmax(new double[] {0, 2 * Math.log(3)}, 1, 2, 2);
        assertArrayEquals(new double[] {0.25, 0.75}, st, 1e-15);
        // rope: one head of 4, position 1, theta 1 → every pair turns by 1 radian; interleaved pairs (0,1), (2,3)
        double c = Math.cos(1), sn = Math.sin(1);
        assertArrayEquals(new double[] {c - 2 * sn, 2 * c + sn, 3 * c - 4 * sn, 4 * c + 3 * sn},
                Reference.rope(new double[] {1, 2, 3, 4}, new long[] {1}, 1, 1, 4, 4, 1, RopeSpec.Style.INTERLEAVED), 1e-15);
        // half: pairs (0,2), (1,3), partial rotary 2 of 3 channels pairs (0,1) and copies channel 2
        assertArrayEquals(new double[] {c - 3 * sn, 2 * c - 4 * sn, 3 * c + sn, 4 * c + 2 * sn},
                Reference.rope(new double[] {1, 2, 3, 4}, new long[] {1}, 1, 1, 4, 4, 1, RopeSpec.Style.HALF), 1e-15);
        assertArrayEquals(new double[] {c - 2 * sn, 2 * c + sn, 3},
                Reference.rope(new double[] {1, 2, 3}, new long[] {1}, 1, 1, 3, 2, 1, RopeSpec.Style.HALF), 1e-15);
        // theta^(-2i/rot): at i = 1 of rot 4 with theta 100, inv_freq = 0.1
        double[] y = Reference.rope(new double[] {0, 0, 0, 1}, new long[] {10}, 1, 1, 4, 4, 100, RopeSpec.Style.HALF);
        assertArrayEquals(new double[] {0, -Math.sin(1), 0, Math.cos(1)}, y, 1e-15);
        assertArrayEquals(new int[] {1, 2}, Reference.argmax(new double[] {Double.NaN, 5, 5, 1, 2, 9}, 2, 3));
        Reference.TopK t = Reference.topk(new double[] {3, 7, 7, 1, 3}, 1, 5, 4);
        assertArrayEquals(new int[] {1, 2, 0, 4}, t.indices());
        assertArrayEquals(new double[] {7, 7, 3, 3}, t.values());
    }

    @Test
    void crossEntropyIgnoresNegativeTargetsAndRejectsTooLarge() {
        double[] loss = Reference.crossEntropy(new double[] {1, 1, 1, 1, 0, 5, 0, 0}, new long[] {2, -100}, 2, 4);
        assertEquals(Math.log(4), loss[0], 1e-15);
        assertEquals(0, loss[1]);
        assertThrows(IllegalArgumentException.class, () -> Reference.crossEntropy(new double[] {1, 2}, new long[] {2}, 1, 2));
        assertThrows(IllegalArgumentException.class, () -> Reference.embedding(new double[] {1, 2}, 2, 1, new long[] {-1}));
    }
}
