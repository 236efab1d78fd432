package dev.braindrip.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.braindrip.ops.SparseAttentionHarness.SparseCase;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import dev.braindrip.tensor.Tensor;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Block-sparse attention on the CPU backend against the oracle under the layout's element mask. */
class CpuSparseAttentionTest {
    private static Arena arena;

    @BeforeAll
    static void open() {
        arena = Arena.on(Device.cpu(), 1L << 30);
    }

    @AfterAll
    static void close() {
        arena.close(); // throws if a case leaked a tensor
    }

    static List<SparseCase> cases() {
        return SparseAttentionHarness.cases();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void matchesOracle(SparseCase c) {
        SparseAttentionHarness.check(arena, c);
    }

    /** A layout that lists every block is dense attention: the same tiles in the same order, so the same bits. */
    @Test
    void everyBlockListedEqualsDenseAttention() {
        for (DType dt : new DType[] {DType.F32, DType.BF16}) {
            for (boolean causal : new boolean[] {true, false}) {
                AttentionSpec spec = causal ? AttentionSpec.causal() : AttentionSpec.full();
                try (Tensor q = arena.randn(dt, 2, 150, 4, 64); Tensor k = arena.randn(dt, 2, 290, 2, 64); Tensor v = arena.randn(dt, 2, 290, 2, 64);
                     AttentionResult dense = Ops.on(arena).attention(q, k, v, spec);
                     AttentionResult sparse = Ops.on(arena).sparseAttention(q, k, v, BlockSparseLayout.parse("sink:5", 64, 290), spec)) {
                    assertArrayEquals(dense.o().toFloatArray(), sparse.o().toFloatArray(), dt + " causal " + causal + ": o");
                    assertArrayEquals(dense.lse().toFloatArray(), sparse.lse().toFloatArray(), dt + " causal " + causal + ": lse");
                }
            }
        }
    }
}
