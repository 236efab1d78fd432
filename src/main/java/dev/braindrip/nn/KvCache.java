package dev.braindrip.nn;

import dev.braindrip.ops.AttentionResult;
import dev.braindrip.ops.AttentionSpec;
import dev.braindrip.ops.BlockSparseLayout;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Tensor;

/**
 * One layer's KV cache for a batch of sequences, by layer kind: {@link DenseKvCache} for full
 * attention (and differential layers), {@link SlidingWindowKvCache} (a ring of W slots) for a
 * sliding-window layer, {@link SinkWindowKvCache} (sinks + ring) for StreamingLLM attention.
 */
public interface KvCache extends AutoCloseable {
    /** Appends T rows to sequence b: k (T, Hkv, D), v (T, Hkv, Dv). */
    void append(int b, Tensor k, Tensor v);

    /** Appends T rows to each of the first n ≤ B sequences: k (n, T, Hkv, D), v (n, T, Hkv, Dv). */
    void append(Tensor k, Tensor v);

    /**
     * q (n ≤ B, Sq, Hq, D) of the tokens appended last over the cached keys of the first n
     * sequences; learned sinks (Hq) F32 or null. A generation batch keeps its live sequences in
     * slots [0, n) ({@link #move}), so one kernel call serves them all.
     */
    AttentionResult attend(Tensor q, Tensor sinks, AttentionSpec spec);

    /** Block-sparse attention of q (B, Sq, Hq, D) over the cached keys (dense caches only). */
    default AttentionResult attendSparse(Tensor q, BlockSparseLayout layout, AttentionSpec spec) {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " does not run block-sparse attention");
    }

    /** Whether the cache holds exactly the visible keys (a ring): the spec given to attend must then carry no window. */
    default boolean isRing() {
        return false;
    }

    /** Forgets sequence b (its slots are reused by the next sequence placed there). */
    void reset(int b);

    /** Places sequence {@code from}'s state in slot {@code to} (overwriting it); {@code from} is then to be reset or reused. */
    void move(int from, int to);

    /** Sequences (slots) this cache holds. */
    int batch();

    /** Keys held for sequence b. */
    int length(int b);

    /** Slots per sequence. */
    int capacity();

    long bytes();

    @Override
    void close();

    static KvCache dense(Arena arena, int batch, int capacity, int kvHeads, int headDim, DType dtype) {
        return new DenseKvCache(arena, batch, capacity, kvHeads, headDim, headDim, dtype);
    }

    /** The cache of a differential-attention layer (2Hkv key heads of d, Hkv value heads of 2d). */
    static DenseKvCache differential(Arena arena, int batch, int capacity, int kvHeads, int headDim, DType dtype) {
        return DenseKvCache.differential(arena, batch, capacity, kvHeads, headDim, dtype);
    }

    /** A ring of {@code window} slots (HF sliding_window W). */
    static KvCache sliding(Arena arena, int batch, int window, int kvHeads, int headDim, DType dtype) {
        return new SlidingWindowKvCache(arena, batch, window, kvHeads, headDim, headDim, dtype);
    }

    /** StreamingLLM attention as a model's mask: the sinks plus a ring of the last {@code window} tokens, keys at text positions. */
    static KvCache sinkWindow(Arena arena, int batch, int sinkTokens, int window, int kvHeads, int headDim, DType dtype) {
        return SinkWindowKvCache.textPositions(arena, batch, sinkTokens, window, kvHeads, headDim, dtype);
    }
}
