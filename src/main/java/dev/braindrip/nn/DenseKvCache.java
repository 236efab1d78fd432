package dev.braindrip.nn;

import dev.braindrip.ops.AttentionResult;
import dev.braindrip.ops.AttentionSpec;
import dev.braindrip.ops.BlockSparseLayout;
import dev.braindrip.ops.DiffAttentionSpec;

import dev.braindrip.ops.Ops;
import dev.braindrip.ops.PositionBias;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Tensor;

/**
 * The plain KV cache: per sequence a fixed capacity of key/value rows, filled in order. Keys are
 * stored as given (RoPE'd by the caller at their absolute positions). Attention runs the fused
 * kernel over the whole (B, capacity, Hkv, D) buffers with seqused_k = each sequence's length, so
 * masks align bottom-right to what is cached: appending T tokens and attending with their T queries
 * under {@link AttentionSpec#causal()} is a chunk of prefill; T = 1 is decode.
 *
 * <pre>{@code
 * try (DenseKvCache cache = new DenseKvCache(arena, 1, 4096, 8, 128, 128, DType.BF16)) {
 *     cache.append(k, v);                                  // (B, T, Hkv, D)
 *     try (AttentionResult r = cache.attend(q, AttentionSpec.causal())) { ... }
 * }
 * }</pre>
 */
public final class DenseKvCache implements KvCache {
    private static final String KIND = "dense kv cache";

    private final KvStorage s;
    private final int[] lengths;

    /** Memory: 2 · batch · capacity · kvHeads · head dims · dtype bytes, allocated (and zeroed) now. */
    public DenseKvCache(Arena arena, int batch, int capacity, int kvHeads, int headDim, int headDimV, DType dtype) {
        this(new KvStorage(KIND, arena, batch, capacity, kvHeads, headDim, headDimV, dtype));
    }

    private DenseKvCache(KvStorage s) {
        this.s = s;
        this.lengths = new int[s.batch];
    }

    /**
     * A cache for differential attention ({@link #attendDifferential}): keys (B, capacity, 2Hkv, d)
     * and values (B, capacity, Hkv, 2d), appended as {@code append(k (B, T, 2Hkv, d), v (B, T, Hkv, 2d))}.
     */
    public static DenseKvCache differential(Arena arena, int batch, int capacity, int kvHeads, int headDim, DType dtype) {
        if (kvHeads < 1 || headDim < 1) {
            throw new IllegalArgumentException(KIND + ": kvHeads (" + kvHeads + ") and headDim (" + headDim + ") must be >= 1");
        }
        return new DenseKvCache(new KvStorage(KIND, arena, batch, capacity, 2 * kvHeads, headDim, kvHeads, 2 * headDim, dtype));
    }

    @Override
    public int batch() {
        return s.batch;
    }

    @Override
    public int capacity() {
        return s.slots;
    }

    /** Tokens cached for sequence b. */
    @Override
    public int length(int b) {
        s.checkSequence(KIND, b);
        return lengths[b];
    }

    /** Appends T rows to each of the first n sequences: k (n, T, Hkv, D), v (n, T, Hkv, Dv). */
    @Override
    public void append(Tensor k, Tensor v) {
        int t = s.checkBatchRows(KIND, k, v), n = (int) k.dim(0);
        for (int b = 0; b < n; b++) room(b, t);
        for (int b = 0; b < n; b++) {
            s.writeRows(b, lengths[b], k, v, (long) b * t, t);
            lengths[b] += t;
        }
        s.setUsed(lengths);
    }

    /** Appends T rows to sequence b: k (T, Hkv, D), v (T, Hkv, Dv) (a leading 1 is allowed). */
    @Override
    public void append(int b, Tensor k, Tensor v) {
        s.checkSequence(KIND, b);
        int t = s.checkRows(KIND, k, v);
        room(b, t);
        s.writeRows(b, lengths[b], k, v, 0, t);
        lengths[b] += t;
        s.setUsed(lengths);
    }

    private void room(int b, int t) {
        if ((long) lengths[b] + t > s.slots) {
            throw new IllegalStateException(KIND + ": sequence " + b + " holds " + lengths[b] + " of " + s.slots + " tokens; appending " + t
                    + " would exceed the capacity");
        }
    }

    /** Forgets sequence b's tokens (its memory is reused). */
    @Override
    public void reset(int b) {
        s.checkSequence(KIND, b);
        lengths[b] = 0;
        s.setUsed(lengths);
    }

    @Override
    public void move(int from, int to) {
        s.checkSequence(KIND, from);
        s.checkSequence(KIND, to);
        s.copySequence(from, to, lengths[from]);
        lengths[to] = lengths[from];
        s.setUsed(lengths);
    }

    /** q (n ≤ B, Sq, Hq, D) over the cached tokens of the first n sequences; the last Sq cached tokens are the queries' own under causal. */
    public AttentionResult attend(Tensor q, AttentionSpec spec) {
        return attend(q, null, spec);
    }

    /** As {@link #attend(Tensor, AttentionSpec)} with learned sink logits (Hq) F32, or null. */
    @Override
    public AttentionResult attend(Tensor q, Tensor sinks, AttentionSpec spec) {
        int n = s.checkQuery(KIND, q, false);
        return Ops.on(s.arena).attentionKvCache(q, s.keys(n), s.values(n), s.used(n), null, sinks, spec);
    }

    /**
     * As {@link #attend(Tensor, AttentionSpec)} with position biases (T5, ALiBi) by absolute
     * position: query i of Sq is at length − Sq + i, key j at j.
     */
    public AttentionResult attendBiased(Tensor q, PositionBias bias, AttentionSpec spec) {
        int n = s.checkQuery(KIND, q, false);
        return Ops.on(s.arena).attentionKvCacheBiased(q, s.keys(n), s.values(n), s.used(n), bias, spec);
    }

    /**
     * Differential attention of q (B, Sq, 2H, d) over the cached tokens of a {@link #differential} cache;
     * returns o (B, Sq, H, 2d). The last Sq cached tokens are the queries' own under a causal mask.
     */
    public Tensor attendDifferential(Tensor q, Tensor subln, DiffAttentionSpec spec) {
        if (s.kvHeads != 2 * s.valueHeads || s.headDimV != 2 * s.headDim) {
            throw new IllegalStateException(KIND + ": differential attention needs a cache made by DenseKvCache.differential (2Hkv key heads "
                    + "of d, Hkv value heads of 2d), this one holds " + s.kvHeads + " key heads of " + s.headDim + " and " + s.valueHeads
                    + " value heads of " + s.headDimV);
        }
        int n = s.checkQuery(KIND, q, false);
        return Ops.on(s.arena).diffAttentionKvCache(q, s.keys(n), s.values(n), s.used(n), subln, spec);
    }

    /** Block-sparse attention of q (B, Sq, Hq, D) over the cached tokens; the layout covers at least ⌈capacity / block⌉ rows. */
    @Override
    public AttentionResult attendSparse(Tensor q, BlockSparseLayout layout, AttentionSpec spec) {
        int n = s.checkQuery(KIND, q, false);
        return Ops.on(s.arena).sparseAttentionKvCache(q, s.keys(n), s.values(n), s.used(n), layout, spec);
    }

    /** A view of the key buffer (B, capacity, Hkv, D); only the first length(b) rows of sequence b are meaningful. */
    public Tensor keys() {
        return s.k.reshape(s.k.shape());
    }

    /** A view of the value buffer (B, capacity, Hkv, Dv) (Hkv value heads of 2d for a differential cache). */
    public Tensor values() {
        return s.v.reshape(s.v.shape());
    }

    /** Device bytes held. */
    @Override
    public long bytes() {
        return s.bytes();
    }

    @Override
    public void close() {
        s.close();
    }
}
