package dev.braindrip.nn;

import dev.braindrip.ops.AttentionResult;
import dev.braindrip.ops.AttentionSpec;
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

    long bytes();

    @Override
    void close();

    static KvCache dense(Arena arena, int batch, int capacity, int kvHeads, int headDim, DType dtype) {
        DenseKvCache c = new DenseKvCache(arena, batch, capacity, kvHeads, headDim, headDim, dtype);
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
