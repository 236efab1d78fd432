package dev.braindrip.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import dev.braindrip.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** Wrong block-sparse calls fail in Java with a message naming the problem, leaving no tensor behind. */
class SparseAttentionErrorTest {
    private Arena arena;
    private Ops ops;
    private Tensor q, k, v;

    @BeforeEach
    void open() {
        arena = Arena.on(Device.cpu(), 64L << 20, 3);
        ops = Ops.on(arena);
        q = arena.randn(DType.F32, 1, 100, 4, 16);
        k = arena.randn(DType.F32, 1, 300, 2, 16);
        v = arena.randn(DType.F32, 1, 300, 2, 16);
    }

    @AfterEach
    void close() {
        arena.releaseAll();
        arena.close();
    }

    private <T extends Throwable> void fails(Class<T> type, Executable call, String... fragments) {
        int live = arena.liveTensors();
        long bytes = arena.allocatedBytes();
        T e = assertThrows(type, call);
        for (String f : fragments) assertTrue(e.getMessage().contains(f), "message '" + e.getMessage() + "' lacks '" + f + "'");
        assertEquals(live, arena.liveTensors(), "a failed call left tensors alive");
        assertEquals(bytes, arena.allocatedBytes(), "a failed call left bytes allocated");
    }

    @Test
    void layoutMustCoverTheKeys() {
        BlockSparseLayout small = BlockSparseLayout.local(64, 100, 2); // 2 blocks, the call needs ceil(300/64) = 5
        fails(IllegalArgumentException.class, () -> ops.sparseAttention(q, k, v, small, AttentionSpec.causal()),
                "sparse-attention: the layout has 2 query blocks but 300 keys need 5");
    }

    @Test
    void layoutHeadsMustBeOneOrHq() {
        BlockSparseLayout two = BlockSparseLayout.verticalStridePerHead(64, 300, 4, 2);
        fails(IllegalArgumentException.class, () -> ops.sparseAttention(q, k, v, two, AttentionSpec.causal()),
                "the layout has 2 heads; it must have 1 (shared) or 4");
    }

    @Test
    void windowsSinkTokensAndSoftcapAreRefused() {
        BlockSparseLayout l = BlockSparseLayout.local(64, 300, 2);
        for (AttentionSpec s : new AttentionSpec[] {AttentionSpec.causal().windowLeft(10), AttentionSpec.causal().sinkTokens(4),
                AttentionSpec.full().windowRight(3), AttentionSpec.causal().softcap(30f)}) {
            fails(IllegalArgumentException.class, () -> ops.sparseAttention(q, k, v, l, s), "a block-sparse layout replaces windows");
        }
    }

    @Test
    void missingLayoutAndBadCacheLengths() {
        fails(IllegalArgumentException.class, () -> ops.sparseAttention(q, k, v, null, AttentionSpec.causal()), "a block-sparse layout must be given");
        BlockSparseLayout l = BlockSparseLayout.local(64, 300, 2);
        fails(IllegalArgumentException.class, () -> ops.sparseAttentionKvCache(q, k, v, null, l, AttentionSpec.causal()), "needs seqUsedK");
        Tensor used = arena.fromInts(new int[] {301}, 1);
        fails(IllegalArgumentException.class, () -> ops.sparseAttentionKvCache(q, k, v, used, l, AttentionSpec.causal()),
                "seqUsedK[0] (301) must be in [0, 300]");
        Tensor wrong = arena.fromInts(new int[] {1, 2}, 2);
        fails(IllegalArgumentException.class, () -> ops.sparseAttentionKvCache(q, k, v, wrong, l, AttentionSpec.causal()),
                "seqUsedK must be I32 of shape [1]");
    }

    @Test
    void tensorChecksAreTheAttentionOnes() {
        BlockSparseLayout l = BlockSparseLayout.local(64, 300, 2);
        Tensor k5 = arena.randn(DType.F32, 1, 300, 3, 16);
        fails(IllegalArgumentException.class, () -> ops.sparseAttention(q, k5, k5, l, AttentionSpec.causal()),
                "heads (4) must be divisible by kvHeads (3)");
        Tensor kb = arena.randn(DType.BF16, 1, 300, 2, 16);
        fails(IllegalArgumentException.class, () -> ops.sparseAttention(q, kb, v, l, AttentionSpec.causal()), "must share a dtype");
    }
}
