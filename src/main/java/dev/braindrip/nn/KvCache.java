package dev.braindrip.nn;

import dev.braindrip.ops.AttentionResult;
import dev.braindrip.ops.AttentionSpec;
import dev.braindrip.ops.BlockSparseLayout;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Tensor;

/**
 * One layer's KV cache for a batch of sequences, by layer kind: a dense cache for full attention,
 * a ring of W slots for a sliding-window layer. Keys are stored after RoPE.
 */
public interface KvCache extends AutoCloseable {
    /** Appends T rows to sequence b: k (T, Hkv, D), v (T, Hkv, Dv). */
    void append(int b, Tensor k, Tensor v);

    /** Appends one row to every sequence: k (B, 1, Hkv, D), v (B, 1, Hkv, Dv). */
    void appendStep(Tensor k, Tensor v);

    /** q (B, 1, Hq, D) of the tokens appended last over each sequence's cached keys. */
    AttentionResult attendStep(Tensor q, Tensor sinks, AttentionSpec spec);

    /** Block-sparse attention of q (B, 1, Hq, D) over a dense cache. */
    default AttentionResult attendSparseStep(Tensor q, BlockSparseLayout layout, AttentionSpec spec) {
        throw new UnsupportedOperationException("this KV cache does not run block-sparse attention");
    }

    /** A ring holds exactly the window: the step's spec must carry no window. */
    default boolean isRing() {
        return false;
    }

    /** The dense cache of a differential layer (2Hkv key heads of d, Hkv value heads of 2d). */
    default DenseKvCache dense() {
        throw new UnsupportedOperationException("not a dense cache");
    }

    long bytes();

    @Override
    void close();

    static KvCache dense(Arena arena, int batch, int capacity, int kvHeads, int headDim, DType dtype) {
        return wrap(new DenseKvCache(arena, batch, capacity, kvHeads, headDim, headDim, dtype));
    }

    /** The cache of a differential-attention layer. */
    static KvCache differential(Arena arena, int batch, int capacity, int kvHeads, int headDim, DType dtype) {
        return wrap(DenseKvCache.differential(arena, batch, capacity, kvHeads, headDim, dtype));
    }

    private static KvCache wrap(DenseKvCache c) {
        return new KvCache() {
            @Override
            public AttentionResult attendSparseStep(Tensor q, BlockSparseLayout layout, AttentionSpec spec) {
                return c.attendSparse(q, layout, spec);
            }

            @Override
            public DenseKvCache dense() {
                return c;
            }

            @Override
            public void append(int b, Tensor k, Tensor v) {
                c.append(b, k, v);
            }

            @Override
            public void appendStep(Tensor k, Tensor v) {
                c.append(k, v);
            }

            @Override
            public AttentionResult attendStep(Tensor q, Tensor sinks, AttentionSpec spec) {
                return c.attend(q, sinks, spec);
            }

            @Override
            public long bytes() {
                return c.bytes();
            }

            @Override
            public void close() {
                c.close();
            }
        };
    }

    /**
     * A sliding layer that also keeps {@code sinkTokens} sink tokens (StreamingLLM attention as a
     * model's mask): the sinks plus a ring of the last {@code window} tokens, keys after RoPE at their
     * text positions; the spec given to attendStep must carry no window or sink tokens.
     */
    static KvCache sinkWindow(Arena arena, int batch, int sinkTokens, int window, int kvHeads, int headDim, DType dtype) {
        SinkWindowKvCache c = SinkWindowKvCache.textPositions(arena, batch, sinkTokens, window, kvHeads, headDim, dtype);
        return new KvCache() {
            @Override
            public void append(int b, Tensor k, Tensor v) {
                c.append(b, k, v);
            }

            @Override
            public void appendStep(Tensor k, Tensor v) {
                c.append(k, v);
            }

            @Override
            public AttentionResult attendStep(Tensor q, Tensor sinks, AttentionSpec spec) {
                return c.attend(q, sinks, spec);
            }

            @Override
            public boolean isRing() {
                return true;
            }

            @Override
            public long bytes() {
                return c.bytes();
            }

            @Override
            public void close() {
                c.close();
            }
        };
    }

    /** A ring of {@code window} slots (HF sliding_window W): the spec given to attendStep must carry no window. */
    static KvCache sliding(Arena arena, int batch, int window, int kvHeads, int headDim, DType dtype) {
        SlidingWindowKvCache c = new SlidingWindowKvCache(arena, batch, window, kvHeads, headDim, headDim, dtype);
        return new KvCache() {
            @Override
            public void append(int b, Tensor k, Tensor v) {
                c.append(b, k, v);
            }

            @Override
            public void appendStep(Tensor k, Tensor v) {
                c.append(k, v);
            }

            @Override
            public AttentionResult attendStep(Tensor q, Tensor sinks, AttentionSpec spec) {
                return c.attend(q, sinks, spec);
            }

            @Override
            public boolean isRing() {
                return true;
            }

            @Override
            public long bytes() {
                return c.bytes();
            }

            @Override
            public void close() {
                c.close();
            }
        };
    }
}
