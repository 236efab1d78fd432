package dev.braindrip.nn;

import dev.braindrip.ops.AttentionResult;
import dev.braindrip.ops.AttentionSpec;

import dev.braindrip.ops.Ops;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Tensor;

/**
 * A ring-buffer KV cache for sliding-window layers (Mistral, Qwen2, Gemma 2, gpt-oss): with the
 * Hugging Face {@code sliding_window = W} a query sees itself and the W − 1 tokens before it
 * ({@code windowLeft(W − 1)}), so W slots per sequence hold every key a decode step can see, and
 * memory stays 2·B·W·Hkv·D elements however long the sequence grows.
 *
 * <p>Token n goes to slot n mod W, overwriting token n − W, which the next query can no longer
 * see. The ring is therefore not in time order — and need not be: softmax and the weighted sum
 * over (key, value) pairs do not depend on the order of the pairs, and the keys carry their
 * positions already (RoPE'd by the caller at absolute positions before they are appended). So a
 * decode step runs the kernel over the min(n, W) filled slots with no mask at all beyond that count
 * (seqused_k), and gets the same result as windowed attention over the time-ordered sequence, up to
 * the order of floating-point accumulation.
 *
 * <p>Prefill: run {@code ops.attention(q, k, v, AttentionSpec.causal().slidingWindow(W))} over the
 * prompt, then {@link #append} the prompt's keys and values (only the last W are kept). Decode:
 * append the new token's K/V, then {@link #attend} with its query.
 */
public final class SlidingWindowKvCache implements KvCache {
    private static final String KIND = "sliding window kv cache";

    private final KvStorage s;
    private final long[] seen; // tokens appended per sequence
    private final int[] held;

    /** {@code window} = HF sliding_window W (the query's own token included). */
    public SlidingWindowKvCache(Arena arena, int batch, int window, int kvHeads, int headDim, int headDimV, DType dtype) {
        if (window < 1) throw new IllegalArgumentException(KIND + ": window (" + window + ") must be >= 1 (HF sliding_window)");
        this.s = new KvStorage(KIND, arena, batch, window, kvHeads, headDim, headDimV, dtype);
        this.seen = new long[batch];
        this.held = new int[batch];
    }

    public int window() {
        return s.slots;
    }

    @Override
    public int batch() {
        return s.batch;
    }

    /** Tokens ever appended to sequence b. */
    public long tokensSeen(int b) {
        s.checkSequence(KIND, b);
        return seen[b];
    }

    /** Keys held for sequence b: min(tokensSeen, window). */
    @Override
    public int length(int b) {
        s.checkSequence(KIND, b);
        return held[b];
    }

    /** Appends T tokens to each of the first n sequences: k (n, T, Hkv, D), v (n, T, Hkv, Dv); only the last W stay. */
    @Override
    public void append(Tensor k, Tensor v) {
        int t = s.checkBatchRows(KIND, k, v), n = (int) k.dim(0);
        for (int b = 0; b < n; b++) write(b, k, v, (long) b * t, t);
        s.setUsed(held);
    }

    /** Appends T tokens to sequence b: k (T, Hkv, D), v (T, Hkv, Dv) (a leading 1 is allowed). */
    @Override
    public void append(int b, Tensor k, Tensor v) {
        s.checkSequence(KIND, b);
        int t = s.checkRows(KIND, k, v);
        write(b, k, v, 0, t);
        s.setUsed(held);
    }

    private void write(int b, Tensor k, Tensor v, long srcRow, int t) {
        int w = s.slots;
        int keep = Math.min(t, w); // earlier rows of this append would be overwritten within it
        long first = seen[b] + (t - keep); // token index of the first row kept
        int slot = (int) (first % w);
        int head = Math.min(keep, w - slot); // up to the end of the ring, then wrap to slot 0
        s.writeRows(b, slot, k, v, srcRow + (t - keep), head);
        s.writeRows(b, 0, k, v, srcRow + (t - keep) + head, keep - head);
        seen[b] += t;
        held[b] = (int) Math.min(seen[b], w);
    }

    /** Forgets sequence b. */
    @Override
    public void reset(int b) {
        s.checkSequence(KIND, b);
        seen[b] = 0;
        held[b] = 0;
        s.setUsed(held);
    }

    @Override
    public void move(int from, int to) {
        s.checkSequence(KIND, from);
        s.checkSequence(KIND, to);
        s.copySequence(from, to, held[from]);
        seen[to] = seen[from];
        held[to] = held[from];
        s.setUsed(held);
    }

    /**
     * One decode step: q (n ≤ B, 1, Hq, D), the query of the token appended last. The spec gives the
     * score transform (scale, softcap, splits); it must not set a window or sink tokens — the ring
     * is the window. Causal or full give the same result for one query.
     */
    public AttentionResult attend(Tensor q, AttentionSpec spec) {
        return attend(q, null, spec);
    }

    /** As {@link #attend(Tensor, AttentionSpec)} with learned sink logits (Hq) F32 (gpt-oss's sliding layers), or null. */
    @Override
    public AttentionResult attend(Tensor q, Tensor sinks, AttentionSpec spec) {
        int n = s.checkQuery(KIND, q, true);
        if (spec.hasWindow()) {
            throw new IllegalArgumentException(KIND + ": the spec must not set a window or sink tokens (" + spec
                    + "): the ring holds exactly the visible keys");
        }
        return Ops.on(s.arena).attentionKvCache(q, s.keys(n), s.values(n), s.used(n), null, sinks, spec);
    }

    /** Device bytes held: fixed at construction. */
    @Override
    public boolean isRing() {
        return true;
    }

    @Override
    public int capacity() {
        return window();
    }

    @Override
    public long bytes() {
        return s.bytes();
    }

    @Override
    public void close() {
        s.close();
    }
}
