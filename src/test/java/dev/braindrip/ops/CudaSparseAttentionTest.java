package dev.braindrip.ops;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.braindrip.ops.SparseAttentionHarness.SparseCase;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.Device;
import dev.braindrip.testing.GpuTest;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The CPU block-sparse cases (SparseAttentionHarness) on cuda:0 against the same oracle. A case
 * outside what the CUDA kernels implement must be refused with UnsupportedOperationException.
 */
@GpuTest
class CudaSparseAttentionTest {
    private static Arena arena;

    @BeforeAll
    static void open() {
        arena = Arena.on(Device.cuda(0), 4L << 30);
    }

    @AfterAll
    static void close() {
        if (arena != null) arena.close();
    }

    static List<SparseCase> cases() {
        return SparseAttentionHarness.cases();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void matchesOracle(SparseCase c) {
        if (CudaAttentionTest.cudaImplements(c.base())) {
            SparseAttentionHarness.check(arena, c);
        } else {
            UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class, () -> SparseAttentionHarness.check(arena, c));
            assertTrue(e.getMessage().startsWith("attention"), e.getMessage());
        }
    }
}
