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
                float[] got = Fixtures.forward(m, exp.batch(), exp.cols());
                int off = 0;
                for (int r = 0; r < exp.rows(); r++) {
                    double e = Fixtures.nmse(got, off, exp.cols(), exp.values()[r]);
                    assertTrue(e <= 1e-6, n + " row " + r + ": NMSE vs HF " + e);
                    off += exp.tokens()[r].length;
                }
            }
            try (Transformer g = Fixtures.load(n, Device.cuda(0), DType.BF16); Transformer c = Fixtures.load(n, Device.cpu(), DType.BF16)) {
                float[] a = Fixtures.forward(g, exp.batch(), exp.cols()), b = Fixtures.forward(c, exp.batch(), exp.cols());
                double e = Fixtures.nmse(a, 0, b, 0, a.length);
                assertTrue(e <= 1e-3, n + ": BF16 CUDA vs BF16 CPU NMSE " + e);
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
