package dev.braindrip.bench;

/**
 * The naive peers of the op benchmarks: plain single-threaded Java loops over host float arrays,
 * the unfused, obvious version of each kernel. They bound what the native kernels buy.
 */
final class NaivePeers {
    private NaivePeers() {}

    static void gemm(float[] a, float[] b, float[] c, int m, int n, int k) {
        java.util.Arrays.fill(c, 0f);
        for (int i = 0; i < m; i++) {
            for (int p = 0; p < k; p++) {
                float av = a[i * k + p];
                int bo = p * n, co = i * n;
                for (int j = 0; j < n; j++) c[co + j] += av * b[bo + j];
            }
        }
    }

    static void rmsnorm(float[] x, float[] w, float[] y, int rows, int cols, float eps) {
        for (int r = 0; r < rows; r++) {
            float ss = 0;
            for (int c = 0; c < cols; c++) ss += x[r * cols + c] * x[r * cols + c];
            float inv = (float) (1 / Math.sqrt(ss / cols + eps));
            for (int c = 0; c < cols; c++) y[r * cols + c] = x[r * cols + c] * inv * w[c];
        }
    }

    static void layernorm(float[] x, float[] w, float[] b, float[] y, int rows, int cols, float eps) {
        for (int r = 0; r < rows; r++) {
            float mean = 0, var = 0;
            for (int c = 0; c < cols; c++) mean += x[r * cols + c];
            mean /= cols;
            for (int c = 0; c < cols; c++) var += (x[r * cols + c] - mean) * (x[r * cols + c] - mean);
            float inv = (float) (1 / Math.sqrt(var / cols + eps));
            for (int c = 0; c < cols; c++) y[r * cols + c] = (x[r * cols + c] - mean) * inv * w[c] + b[c];
        }
    }

    static void softmax(float[] x, float[] y, int rows, int cols) {
        for (int r = 0; r < rows; r++) {
            float max = Float.NEGATIVE_INFINITY;
            for (int c = 0; c < cols; c++) max = Math.max(max, x[r * cols + c]);
            float sum = 0;
            for (int c = 0; c < cols; c++) sum += y[r * cols + c] = (float) Math.exp(x[r * cols + c] - max);
            for (int c = 0; c < cols; c++) y[r * cols + c] /= sum;
        }
    }

    static void silu(float[] x, float[] y) {
        for (int i = 0; i < x.length; i++) y[i] = x[i] / (1 + (float) Math.exp(-x[i]));
    }

    static void swiglu(float[] x, float[] y, int rows, int f) {
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < f; c++) {
                float g = x[r * 2 * f + c], u = x[r * 2 * f + f + c];
                y[r * f + c] = g / (1 + (float) Math.exp(-g)) * u;
            }
        }
    }

    static void rope(float[] x, int[] pos, float[] y, int seq, int heads, int d, float theta) {
        int half = d / 2;
        for (int s = 0; s < seq; s++) {
            for (int h = 0; h < heads; h++) {
                int o = (s * heads + h) * d;
                for (int i = 0; i < half; i++) {
                    double ang = pos[s] * Math.pow(theta, -2.0 * i / d);
                    float cs = (float) Math.cos(ang), sn = (float) Math.sin(ang);
                    float a = x[o + i], b = x[o + i + half];
                    y[o + i] = a * cs - b * sn;
                    y[o + i + half] = b * cs + a * sn;
                }
            }
        }
    }
}
