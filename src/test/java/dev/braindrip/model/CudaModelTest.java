package dev.braindrip.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import dev.braindrip.tensor.Tensor;
import dev.braindrip.testing.GpuTest;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * The model path on CUDA through the same code as the CPU: every Hugging Face fixture in F32
 * against transformers' float64 outputs (bound 1e-6: TF32 is off in our cuBLAS calls, so F32 rounding
 * only), in BF16 against the CPU's BF16 run (the low-precision bound of Bf16ModelTest), and a
 * session's steps against the full forward. Skipped without a usable GPU (with the probe's reason).
 */
@GpuTest
class CudaModelTest {
    @TestFactory
    Stream<DynamicTest> fixturesMatchHuggingFaceOnCuda() {
        return Fixtures.EXPECTED.stream().map(n -> DynamicTest.dynamicTest(n, () -> {
            Fixtures.Expected exp = Fixtures.expected(n);
            try (Transformer m = Fixtures.load(n, Device.cuda(0), DType.F32)) {
                float[] got = Fixtures.forward(m, exp);
                int off = 0;
                for (int r = 0; r < exp.rows(); r++) {
                    double e = Fixtures.nmse(got, off, exp.cols(), exp.values()[r]);
                    assertTrue(e <= 1e-6, n + " row " + r + ": NMSE vs HF " + e);
                    off += exp.tokens()[r].length;
                }
            }
            try (Transformer g = Fixtures.load(n, Device.cuda(0), DType.BF16); Transformer c = Fixtures.load(n, Device.cpu(), DType.BF16)) {
                float[] a = Fixtures.forward(g, exp), b = Fixtures.forward(c, exp);
                double e = Fixtures.nmse(a, 0, b, 0, a.length);
                assertTrue(e <= 1e-3, n + ": BF16 CUDA vs BF16 CPU NMSE " + e);
            }
        }));
    }

    /** An encoder-decoder session on CUDA: prefill of two ragged sources, then steps (and a slot move), against full forwards. */
    @TestFactory
    Stream<DynamicTest> t5StepsEqualFullForwardOnCuda() {
        return Stream.of("t5", "t5-v1_1").map(n -> DynamicTest.dynamicTest(n, () -> {
            try (Transformer m = Fixtures.load(n, Device.cuda(0), DType.F32)) {
                int v = m.config().vocabSize(), start = m.config().decoderStartTokenId();
                int[][] src = {{5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18}, {20, 21}};
                int[][] seen = {{start}, {start}};
                try (Session s = m.session(2, 32)) {
                    s.prefill(TokenBatch.of(src), 0).close();
                    for (int t = 0; t < 14; t++) {
                        int live = t < 7 ? 2 : 1;
                        if (t == 7) { // sequence 0 leaves; sequence 1 moves into slot 0
                            s.move(1, 0);
                            src = new int[][] {src[1]};
                            seen = new int[][] {seen[1]};
                        }
                        int[] ids = new int[live];
                        for (int b = 0; b < live; b++) ids[b] = (3 + 7 * t + b) % v;
                        float[] step;
                        try (Tensor lg = s.step(ids)) {
                            step = lg.toFloatArray();
                        }
                        for (int b = 0; b < live; b++) {
                            seen[b] = java.util.Arrays.copyOf(seen[b], seen[b].length + 1);
                            seen[b][seen[b].length - 1] = ids[b];
                            float[] full;
                            try (Tensor y = m.forward(TokenBatch.of(src[b]), TokenBatch.of(seen[b]))) {
                                full = y.toFloatArray();
                            }
                            double e = Fixtures.nmse(step, b * v, full, (seen[b].length - 1) * v, v);
                            assertTrue(e <= 1e-9, n + " step " + t + " row " + b + ": NMSE " + e);
                        }
                    }
                }
            }
        }));
    }

    /** A Byte Latent Transformer's cached byte steps on CUDA (patches closing, the global model stepping) against full forwards. */
    @TestFactory
    Stream<DynamicTest> bltStepsEqualFullForwardOnCuda() {
        return Stream.of("blt", "blt-maxpatch").map(n -> DynamicTest.dynamicTest(n, () -> {
            try (Transformer m = Fixtures.load(n, Device.cuda(0), DType.F32)) {
                int v = m.config().vocabSize();
                byte[] text = "In the beginning ✓ naïve café 🙂 was the word".getBytes(java.nio.charset.StandardCharsets.UTF_8);
                int[] seq = new int[text.length + 1];
                seq[0] = 1;
                for (int i = 0; i < text.length; i++) seq[i + 1] = (text[i] & 0xFF) + 4;
                float[] full;
                try (Tensor y = m.forward(TokenBatch.of(seq))) {
                    full = y.toFloatArray();
                }
                int p = 5;
                try (Session s = m.session(1, 64)) {
                    float[] pre;
                    try (Tensor y = s.prefill(TokenBatch.of(java.util.Arrays.copyOf(seq, p)), 0)) {
                        pre = y.toFloatArray();
                    }
                    assertTrue(Fixtures.nmse(pre, 0, full, (p - 1) * v, v) <= 1e-9, n + " prefill");
                    for (int t = p; t < seq.length; t++) {
                        float[] step;
                        try (Tensor lg = s.step(new int[] {seq[t]})) {
                            step = lg.toFloatArray();
                        }
                        double e = Fixtures.nmse(step, 0, full, t * v, v);
                        assertTrue(e <= 1e-9, n + " byte " + t + ": NMSE " + e);
                    }
                }
            }
        }));
    }

    @TestFactory
    Stream<DynamicTest> stepsEqualFullForwardOnCuda() {
        return Stream.of("llama", "mistral", "qwen2_moe", "gemma2", "gpt2").map(n -> DynamicTest.dynamicTest(n, () -> {
            try (Transformer m = Fixtures.load(n, Device.cuda(0), DType.F32)) {
                int v = m.config().vocabSize();
                int[] prompt = {1, 2, 3, 4, 5, 6}, next = {7, 8, 9, 10, 11, 12};
                try (Session s = m.session(1, 16)) {
                    s.prefill(TokenBatch.of(prompt)).close();
                    int[] seen = prompt.clone();
                    for (int t : next) {
                        float[] step;
                        try (Tensor lg = s.step(new int[] {t % v})) {
                            step = lg.toFloatArray();
                        }
                        seen = java.util.Arrays.copyOf(seen, seen.length + 1);
                        seen[seen.length - 1] = t % v;
                        float[] full = Fixtures.forward(m, TokenBatch.of(seen), v);
                        double e = Fixtures.nmse(step, 0, full, (seen.length - 1) * v, v);
                        assertTrue(e <= 1e-9, n + " step at " + seen.length + ": NMSE " + e);
                    }
                    assertEquals(prompt.length + next.length, s.length(0));
                }
            }
        }));
    }
}
