package dev.braindrip.ops;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.braindrip.jni.Kernels;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import dev.braindrip.testing.GpuTest;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The CPU correctness cases of differential attention (DiffAttentionHarness) on cuda:0. A case the
 * CUDA kernel does not implement must be refused by the capability query with
 * UnsupportedOperationException naming the op.
 */
@GpuTest
class CudaDiffAttentionTest {
    private static Arena arena;

    @BeforeAll
    static void open() {
        arena = Arena.on(Device.cuda(0), 4L << 30);
    }

    @AfterAll
    static void close() {
        if (arena != null) arena.close();
    }

    static List<DiffAttentionHarness.Case> cases() {
        return DiffAttentionHarness.standardCases();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void matchesOracle(DiffAttentionHarness.Case c) {
        int code = c.dtype().code();
        if (Kernels.cuda().diffAttentionSupports(c.headDim(), code) == 0) {
            DiffAttentionHarness.check(arena, c);
        } else {
            DiffAttentionHarness.Inputs in = DiffAttentionHarness.inputs(c);
            UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class, () -> DiffAttentionHarness.run(arena, c, in));
            assertTrue(e.getMessage().startsWith("diff_attention"), e.getMessage());
            // the benchmark shape (BENCHMARKS.md: BF16, D 64) must be implemented
            assertTrue(c.dtype() != DType.BF16 || c.headDim() != 64, c + ": the CUDA kernel must implement BF16 at D 64");
        }
    }
}
