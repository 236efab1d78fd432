package dev.braindrip.ops;

import dev.braindrip.nn.DenseKvCache;
import dev.braindrip.nn.SinkWindowKvCache;
import dev.braindrip.nn.SlidingWindowKvCache;

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

/**
 * Every wrong call fails in Java with a message that names the op and the mismatch, before any
 * kernel runs, and leaves no tensor behind; the capability query turns a head dim the backend
 * does not implement into UnsupportedOperationException naming the limit.
 */
class AttentionErrorTest {
    private Arena arena;
    private Ops ops;

    @BeforeEach
    void open() {
        arena = Arena.on(Device.cpu(), 64L << 20, 3);
        ops = Ops.on(arena);
    }

    @AfterEach
    void close() {
        arena.close(); // throws if anything leaked
    }

    private Tensor t(DType dt, long... shape) {
        return arena.randn(dt, shape);
    }

    /** Asserts the exception type and that its message contains every fragment, and that no tensor was left alive. */
    private <T extends Throwable> void fails(Class<T> type, Executable call, String... fragments) {
        int live = arena.liveTensors();
        long bytes = arena.allocatedBytes();
        T e = assertThrows(type, call);
        for (String f : fragments) assertTrue(e.getMessage().contains(f), "message '" + e.getMessage() + "' lacks '" + f + "'");
        assertEquals(live, arena.liveTensors(), "a failed call left tensors alive");
        assertEquals(bytes, arena.allocatedBytes(), "a failed call left bytes allocated");
    }

    @Test
    void headsMustBeDivisibleByKvHeads() {
        Tensor q = t(DType.F32, 1, 4, 12, 16), k = t(DType.F32, 1, 4, 5, 16), v = t(DType.F32, 1, 4, 5, 16);
        fails(IllegalArgumentException.class, () -> ops.attention(q, k, v, AttentionSpec.causal()), "attention: heads (12) must be divisible by kvHeads (5)");
        arena.releaseAll();
    }

    @Test
    void dtypesMustMatch() {
        Tensor q = t(DType.BF16, 1, 4, 2, 16), k = t(DType.F32, 1, 4, 2, 16), v = t(DType.BF16, 1, 4, 2, 16);
        fails(IllegalArgumentException.class, () -> ops.attention(q, k, v, AttentionSpec.full()), "attention:", "share a dtype", "k F32");
        Tensor qi = arena.zeros(DType.I32, 1, 4, 2, 16);
        fails(IllegalArgumentException.class, () -> ops.attention(qi, qi, qi, AttentionSpec.full()), "attention: q is I32");
        arena.releaseAll();
    }

    @Test
    void shapesMustMatch() {
        Tensor q = t(DType.F32, 2, 4, 2, 16), k = t(DType.F32, 2, 6, 2, 16), v = t(DType.F32, 2, 6, 2, 16);
        Tensor kD = t(DType.F32, 2, 6, 2, 32), kB = t(DType.F32, 3, 6, 2, 16), vB = t(DType.F32, 3, 6, 2, 16);
        Tensor v5 = t(DType.F32, 2, 5, 2, 16), vH = t(DType.F32, 2, 6, 1, 16), q3 = t(DType.F32, 4, 2, 16);
        AttentionSpec s = AttentionSpec.causal();
        fails(IllegalArgumentException.class, () -> ops.attention(q, kD, v, s), "attention: head dims differ, q has D = 16, k has D = 32");
        fails(IllegalArgumentException.class, () -> ops.attention(q, kB, vB, s), "attention: batch sizes differ, q 2, k 3, v 3");
        fails(IllegalArgumentException.class, () -> ops.attention(q, k, v5, s), "attention: k has 6 key rows but v has 5");
        fails(IllegalArgumentException.class, () -> ops.attention(q, k, vH, s), "attention: kvHeads differ");
        fails(IllegalArgumentException.class, () -> ops.attention(q3, k, v, s), "attention: q must be (B, Sq, Hq, D)");
        fails(IllegalArgumentException.class, () -> ops.attention(q, k, v, null), "attention: spec must be given");
        arena.releaseAll();
    }

    @Test
    void learnedSinksMustBeOnePerQueryHead() {
        Tensor q = t(DType.F32, 1, 4, 4, 16), k = t(DType.F32, 1, 4, 2, 16), v = t(DType.F32, 1, 4, 2, 16);
        Tensor wrong = t(DType.F32, 2), bf = t(DType.BF16, 4);
        fails(IllegalArgumentException.class, () -> ops.attention(q, k, v, wrong, AttentionSpec.causal()), "learned sinks must be F32 of shape [4]");
        fails(IllegalArgumentException.class, () -> ops.attention(q, k, v, bf, AttentionSpec.causal()), "learned sinks must be F32");
        arena.releaseAll();
    }

    @Test
    void unsupportedHeadDimNamesTheLimit() {
        Tensor q = t(DType.F32, 1, 1, 1, 1040), k = t(DType.F32, 1, 2, 1, 1040), v = t(DType.F32, 1, 2, 1, 1040);
        fails(UnsupportedOperationException.class, () -> ops.attention(q, k, v, AttentionSpec.full()), "attention", "1024");
        arena.releaseAll();
    }

    @Test
    void closedInputThrowsIllegalState() {
        Tensor q = t(DType.F32, 1, 4, 2, 16), k = t(DType.F32, 1, 4, 2, 16), v = t(DType.F32, 1, 4, 2, 16);
        k.close();
        fails(IllegalStateException.class, () -> ops.attention(q, k, v, AttentionSpec.causal()), "closed tensor");
        arena.releaseAll();
    }

    @Test
    void varlenPrefixSumsAreChecked() {
        Tensor q = t(DType.F32, 7, 2, 16), k = t(DType.F32, 9, 2, 16), v = t(DType.F32, 9, 2, 16);
        Tensor good = arena.fromInts(new int[] {0, 3, 7}, 3), goodK = arena.fromInts(new int[] {0, 4, 9}, 3);
        Tensor shortEnd = arena.fromInts(new int[] {0, 3, 6}, 3), down = arena.fromInts(new int[] {0, 5, 4, 7}, 4);
        Tensor notZero = arena.fromInts(new int[] {1, 3, 7}, 3), longs = arena.fromLongs(new long[] {0, 3, 7}, 3);
        Tensor four = arena.fromInts(new int[] {0, 3, 7, 9}, 4);
        AttentionSpec s = AttentionSpec.causal();
        fails(IllegalArgumentException.class, () -> ops.attentionVarlen(q, k, v, shortEnd, goodK, null, s),
                "cuSeqlensQ ends at 6 but there are 7 query rows");
        fails(IllegalArgumentException.class, () -> ops.attentionVarlen(q, k, v, down, goodK, null, s), "cuSeqlensQ must be non-decreasing");
        fails(IllegalArgumentException.class, () -> ops.attentionVarlen(q, k, v, notZero, goodK, null, s), "cuSeqlensQ[0] (1) must be 0");
        fails(IllegalArgumentException.class, () -> ops.attentionVarlen(q, k, v, longs, goodK, null, s), "cuSeqlensQ must be I32");
        fails(IllegalArgumentException.class, () -> ops.attentionVarlen(q, k, v, good, four, null, s), "cuSeqlensQ has 3 entries but cuSeqlensK has 4");
        try (AttentionResult r = ops.attentionVarlen(q, k, v, good, goodK, null, s)) {
            assertEquals(java.util.List.of(7L, 2L, 16L), java.util.Arrays.stream(r.o().shape()).boxed().toList());
            assertEquals(java.util.List.of(7L, 2L), java.util.Arrays.stream(r.lse().shape()).boxed().toList());
        }
        arena.releaseAll();
    }

    @Test
    void cacheLengthsAreChecked() {
        Tensor q = t(DType.F32, 2, 1, 2, 16), k = t(DType.F32, 2, 8, 2, 16), v = t(DType.F32, 2, 8, 2, 16);
        Tensor tooMany = arena.fromInts(new int[] {8, 9}, 2), wrongShape = arena.fromInts(new int[] {1, 2, 3}, 3);
        Tensor pos = arena.zeros(DType.I32, 2, 7), used = arena.fromInts(new int[] {8, 3}, 2);
        AttentionSpec s = AttentionSpec.causal();
        fails(IllegalArgumentException.class, () -> ops.attentionKvCache(q, k, v, tooMany, null, null, s), "seqUsedK[1] (9) must be in [0, 8]");
        fails(IllegalArgumentException.class, () -> ops.attentionKvCache(q, k, v, wrongShape, null, null, s), "seqUsedK must be I32 of shape [2]");
        fails(IllegalArgumentException.class, () -> ops.attentionKvCache(q, k, v, used, new KeyRope(pos, 10000f), null, s),
                "key RoPE positions must be I32 of shape [2, 8]");
        arena.releaseAll();
    }

    @Test
    void splitKvWorkspaceComesFromTheArenaAndIsFreed() {
        Tensor q = t(DType.F32, 1, 1, 4, 64), k = t(DType.F32, 1, 500, 2, 64), v = t(DType.F32, 1, 500, 2, 64);
        long base = arena.allocatedBytes();
        long outputs = 4 * 64 * 4 + 4 * 4;
        try (AttentionResult r = ops.attention(q, k, v, AttentionSpec.causal().numSplits(4))) {
            assertEquals(base + outputs, arena.allocatedBytes(), "only o and lse stay");
        }
        // workspace: 4 splits x (o_accum 4x64 floats, rounded to 256 B, + lse_accum 4 floats)
        long workspace = (4L * 4 * 64 * 4 + 255) / 256 * 256 + 4L * 4 * 4;
        assertTrue(arena.peakBytes() >= base + outputs + workspace, "peak " + arena.peakBytes() + " shows no split-KV workspace");
        assertEquals(base, arena.allocatedBytes());
        arena.releaseAll();
    }

    @Test
    void specRulesNameTheField() {
        assertMessage(() -> AttentionSpec.causal().windowLeft(-2), "windowLeft (-2) must be >= -1");
        assertMessage(() -> AttentionSpec.full().windowRight(-5), "windowRight (-5) must be >= -1");
        assertMessage(() -> AttentionSpec.causal().windowRight(3), "windowRight (3) must be -1 or 0 under causal");
        assertMessage(() -> AttentionSpec.causal().softcap(-1f), "softcap (-1.0) must be finite and >= 0");
        assertMessage(() -> AttentionSpec.causal().softcap(Float.NaN), "softcap (NaN)");
        assertMessage(() -> AttentionSpec.causal().scale(0f), "scale (0.0) must be finite and > 0");
        assertMessage(() -> AttentionSpec.causal().sinkTokens(-1), "sinkTokens (-1) must be >= 0");
        assertMessage(() -> AttentionSpec.causal().numSplits(129), "numSplits (129) must be in [0, 128]");
        assertMessage(() -> AttentionSpec.causal().slidingWindow(0), "slidingWindow (0) must be >= 1");
        AttentionSpec s = AttentionSpec.causal().windowLeft(4095).softcap(50f);
        assertEquals(4095, s.windowLeft());
        assertEquals(50f, s.softcap());
        assertTrue(s.isCausal() && s.hasDefaultScale());
        assertEquals(0.125f, s.scaleFor(64));
        assertEquals(0.5f, s.scale(0.5f).scaleFor(64));
        assertEquals(AttentionSpec.causal().slidingWindow(4096), AttentionSpec.causal().windowLeft(4095));
        assertEquals(AttentionSpec.full(), AttentionSpec.full().windowLeft(-1), "specs are values");
    }

    private static void assertMessage(Executable call, String fragment) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().contains(fragment), "message '" + e.getMessage() + "' lacks '" + fragment + "'");
    }

    @Test
    void cachesCheckTheirInputs() {
        try (DenseKvCache dense = new DenseKvCache(arena, 1, 4, 2, 16, 16, DType.F32);
             SlidingWindowKvCache ring = new SlidingWindowKvCache(arena, 1, 4, 2, 16, 16, DType.F32);
             SinkWindowKvCache sink = new SinkWindowKvCache(arena, 1, 2, 4, 2, 16, 16, DType.F32, 10000f)) {
            Tensor k3 = t(DType.F32, 1, 3, 2, 16), v3 = t(DType.F32, 1, 3, 2, 16);
            dense.append(k3, v3);
            IllegalStateException full = assertThrows(IllegalStateException.class, () -> dense.append(k3, v3));
            assertTrue(full.getMessage().contains("holds 3 of 4 tokens; appending 3 would exceed the capacity"), full.getMessage());
            assertEquals(3, dense.length(0), "a refused append changes nothing");
            Tensor kBad = t(DType.F32, 1, 3, 2, 8), kBf = t(DType.BF16, 1, 3, 2, 16);
            assertMessage(() -> ring.append(kBad, v3), "new keys must be (n <= 1, T, 2, 16)");
            Tensor k2seq = t(DType.F32, 2, 3, 2, 16), v2seq = t(DType.F32, 2, 3, 2, 16);
            assertMessage(() -> dense.append(k2seq, v2seq), "new keys must be (n <= 1, T, 2, 16)");
            assertMessage(() -> ring.append(kBf, v3), "the cache stores F32");
            assertMessage(() -> dense.append(5, k3, v3), "sequence 5 out of range");
            Tensor q2 = t(DType.F32, 1, 2, 4, 16), q1 = t(DType.F32, 1, 1, 4, 16);
            ring.append(k3, v3);
            assertMessage(() -> ring.attend(q2, AttentionSpec.causal()), "one query per sequence (decode), got Sq = 2");
            assertMessage(() -> ring.attend(q1, AttentionSpec.causal().windowLeft(3)), "must not set a window");
            assertMessage(() -> sink.attend(q1, AttentionSpec.causal().sinkTokens(2)), "must not set a window or sink tokens");
            assertMessage(() -> new SinkWindowKvCache(arena, 1, 2, 4, 2, 15, 15, DType.F32, 10000f), "headDim (15) must be even");
            assertMessage(() -> new SlidingWindowKvCache(arena, 1, 0, 2, 16, 16, DType.F32), "window (0) must be >= 1");
            assertMessage(() -> new DenseKvCache(arena, 0, 4, 2, 16, 16, DType.F32), "batch (0) must be >= 1");
            arena.releaseAll();
        }
    }
}
