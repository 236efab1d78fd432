package dev.braindrip.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import dev.braindrip.tensor.Tensor;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Steady-state memory: every activation a forward or a decode step allocates is freed when it
 * returns (only its output stays until the caller closes it), and the reuse pool serves repeated
 * calls, so the activation arena's peak and its device footprint (allocated + pooled) stay flat
 * from call to call.
 */
class ActivationMemoryTest {
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"llama", "gemma2", "qwen2_moe", "gpt2", "bert", "gpt_oss"})
    void forwardAndStepsKeepMemoryFlat(String name) throws Exception {
        try (Transformer m = Fixtures.load(name, Device.cpu(), DType.F32)) {
            Arena a = m.activations();
            TokenBatch batch = TokenBatch.of(new int[] {1, 2, 3, 4, 5, 6, 7}, new int[] {8, 9, 10});
            long base = a.allocatedBytes();
            long[] footprint = new long[6], peak = new long[6];
            for (int i = 0; i < footprint.length; i++) {
                m.forward(batch).close();
                assertEquals(base, a.allocatedBytes(), name + ": forward " + i + " left activations alive");
                footprint[i] = a.allocatedBytes() + a.pooledBytes();
                peak[i] = a.peakBytes();
            }
            for (int i = 2; i < footprint.length; i++) {
                assertEquals(footprint[1], footprint[i], name + ": device footprint grew on forward " + i + " " + List.of(footprint));
                assertEquals(peak[1], peak[i], name + ": peak grew on forward " + i);
            }
            if (m.config().stack() != ModelConfig.Stack.DECODER) return;
            try (Session s = m.session(2, 32)) {
                s.prefill(batch).close();
                long held = a.allocatedBytes();
                assertEquals(base + s.cacheBytes(), held, name + ": after prefill only the caches stay");
                long[] stepFoot = new long[10];
                for (int i = 0; i < stepFoot.length; i++) {
                    try (Tensor lg = s.step(new int[] {i + 1, i + 2})) {
                        assertEquals(2, lg.dim(0));
                    }
                    assertEquals(held, a.allocatedBytes(), name + ": step " + i + " left activations alive");
                    stepFoot[i] = a.allocatedBytes() + a.pooledBytes();
                }
                for (int i = 2; i < stepFoot.length; i++) {
                    assertEquals(stepFoot[1], stepFoot[i], name + ": footprint grew at step " + i + " " + java.util.Arrays.toString(stepFoot));
                }
                assertTrue(stepFoot[1] > 0);
            }
        }
    }
}
