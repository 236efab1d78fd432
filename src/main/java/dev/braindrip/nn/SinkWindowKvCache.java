package dev.braindrip.nn;

import dev.braindrip.ops.AttentionResult;
import dev.braindrip.ops.AttentionSpec;
import dev.braindrip.ops.KeyRope;

import dev.braindrip.ops.Ops;
import dev.braindrip.ops.RopeSpec;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Tensor;

/**
 * StreamingLLM's cache (Xiao et al., "Efficient Streaming Language Models with Attention Sinks"):
 * per sequence it keeps the first {@code sinkTokens} tokens (the attention sinks) and the most
 * recent {@code window} tokens (the current one included), in 2·B·(sinks + window)·Hkv·D elements,
 * so a model decodes millions of tokens in fixed memory.
 *
 * <p>Positions are assigned in the cache, not in the text: the cached tokens, sinks first and then
 * the recent ones oldest to newest, sit at positions 0, 1, …, n − 1. Keys are therefore stored
 * <em>before</em> RoPE, and every attention call passes the kernel the in-cache position of each
 * slot ({@link KeyRope}), so it rotates each key as it loads it (split-half, HF rotate_half). The
 * query of a decode step must be rotated by the caller to its in-cache position n − 1:
 * {@link #rotateQuery} does that with the rope op, {@link #attendUnrotated} does both.
 *
 * <p>Layout: slots [0, sinks) hold the sinks; the recent tokens live in a ring of {@code window}
 * slots after them (token t ≥ sinks in slot sinks + (t − sinks) mod window). The ring is out of
 * time order, which attention does not mind (the sum over keys is order-free) once each slot's
 * position is right; the positions tensor is rewritten on every append (B·(sinks + window) ints).
 * Nothing is allocated after construction except the outputs of each call.
 */
public final class SinkWindowKvCache implements KvCache {
    private static final String KIND = "sink window kv cache";

    private final KvStorage s;
    private final int sinkTokens, window;
    private final float theta;
    private final boolean keysRotated; // keys stored after RoPE at their text positions (no in-cache re-rotation)
    private final long[] seen;
    private final int[] held;
    private final int[] positions; // host copy, (B, sinks + window)
    private final Tensor positionsTensor; // I32 (B, sinks + window)
    private final Tensor queryPositions; // I32 (B): in-cache position of each sequence's newest token
    private final int[] queryPos;

    /**
     * {@code sinkTokens} ≥ 0 first tokens kept forever, {@code window} ≥ 1 recent tokens, RoPE base
     * {@code ropeTheta} (split-half over the whole head dim, which must be even).
     */
    public SinkWindowKvCache(Arena arena, int batch, int sinkTokens, int window, int kvHeads, int headDim, int headDimV, DType dtype,
                             float ropeTheta) {
        this(arena, batch, sinkTokens, window, kvHeads, headDim, headDimV, dtype, ropeTheta, false);
    }

    /**
     * The same slots (sinks, then a ring of the last {@code window} tokens) for keys already rotated
     * at their text positions: attention over exactly the keys that a model whose mask is "the window
     * plus the first {@code sinkTokens} tokens" lets a new token see, so decoding through it equals
     * that model's full forward, in fixed memory. Queries are rotated by the caller at their text
     * positions too ({@link #rotateQuery} is not used).
     */
    public static SinkWindowKvCache textPositions(Arena arena, int batch, int sinkTokens, int window, int kvHeads, int headDim,
                                                  DType dtype) {
        return new SinkWindowKvCache(arena, batch, sinkTokens, window, kvHeads, headDim, headDim, dtype, 10000f, true);
    }

    private SinkWindowKvCache(Arena arena, int batch, int sinkTokens, int window, int kvHeads, int headDim, int headDimV, DType dtype,
                              float ropeTheta, boolean keysRotated) {
        if (sinkTokens < 0) throw new IllegalArgumentException(KIND + ": sinkTokens (" + sinkTokens + ") must be >= 0");
        if (window < 1) throw new IllegalArgumentException(KIND + ": window (" + window + ") must be >= 1 (it holds the current token)");
        if (headDim % 2 != 0) throw new IllegalArgumentException(KIND + ": headDim (" + headDim + ") must be even for RoPE");
        if (!(ropeTheta > 0) || Float.isInfinite(ropeTheta)) {
            throw new IllegalArgumentException(KIND + ": ropeTheta (" + ropeTheta + ") must be finite and > 0");
        }
        int slots = Math.addExact(sinkTokens, window);
        this.s = new KvStorage(KIND, arena, batch, slots, kvHeads, headDim, headDimV, dtype);
        this.sinkTokens = sinkTokens;
        this.window = window;
        this.theta = ropeTheta;
        this.keysRotated = keysRotated;
        this.seen = new long[batch];
        this.held = new int[batch];
        this.positions = new int[batch * slots];
        this.queryPos = new int[batch];
        Tensor pt = null;
        try {
            pt = arena.zeros(DType.I32, batch, slots);
            this.queryPositions = arena.zeros(DType.I32, batch);
        } catch (RuntimeException e) {
            if (pt != null) pt.close();
            s.close();
            throw e;
        }
        this.positionsTensor = pt;
    }

    /** Whether keys are stored before RoPE and rotated to their in-cache positions by the kernel (StreamingLLM proper). */
    public boolean rotatesKeys() {
        return !keysRotated;
    }

    public int sinkTokens() {
        return sinkTokens;
    }

    public int window() {
        return window;
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

    /** Tokens held for sequence b: min(tokensSeen, sinks + window); the newest sits at in-cache position length − 1. */
    @Override
    public int length(int b) {
        s.checkSequence(KIND, b);
        return held[b];
    }

    /** Appends T tokens to each of the first n sequences, keys NOT RoPE'd: k (n, T, Hkv, D), v (n, T, Hkv, Dv). */
    @Override
    public void append(Tensor k, Tensor v) {
        int t = s.checkBatchRows(KIND, k, v), n = (int) k.dim(0);
        for (int b = 0; b < n; b++) write(b, k, v, (long) b * t, t);
        publish();
    }

    /** Appends T tokens to sequence b, keys NOT RoPE'd: k (T, Hkv, D), v (T, Hkv, Dv) (a leading 1 is allowed). */
    @Override
    public void append(int b, Tensor k, Tensor v) {
        s.checkSequence(KIND, b);
        int t = s.checkRows(KIND, k, v);
        write(b, k, v, 0, t);
        publish();
    }

    /** Writes the rows of tokens [seen, seen + t) that survive this append: the sinks, and the last `window`. */
    private void write(int b, Tensor k, Tensor v, long srcRow, int t) {
        long start = seen[b], end = start + t;
        long keepFrom = Math.max(start, end - window); // recent tokens that stay
        for (long n = start; n < end; n++) {
            if (n < sinkTokens) {
                s.writeRows(b, (int) n, k, v, srcRow + (n - start), 1);
            } else if (n >= keepFrom) {
                // one contiguous run up to the end of the ring (rows are written one copy per run)
                int slot = ringSlot(n);
                int run = (int) Math.min(end - n, sinkTokens + window - slot);
                s.writeRows(b, slot, k, v, srcRow + (n - start), run);
                n += run - 1;
            }
        }
        seen[b] = end;
        held[b] = (int) Math.min(end, (long) sinkTokens + window);
        assignPositions(b);
    }

    private int ringSlot(long n) {
        return sinkTokens + (int) ((n - sinkTokens) % window);
    }

    /** In-cache positions of sequence b's slots: sinks 0..S−1, then the recent tokens S.. in time order. */
    private void assignPositions(int b) {
        int slots = sinkTokens + window, base = b * slots;
        long n = seen[b];
        if (n <= slots) {
            for (int j = 0; j < slots; j++) positions[base + j] = j < n ? j : 0;
        } else {
            for (int j = 0; j < sinkTokens; j++) positions[base + j] = j;
            for (long t = n - window; t < n; t++) positions[base + ringSlot(t)] = (int) (sinkTokens + t - (n - window));
        }
        queryPos[b] = Math.max(0, held[b] - 1);
    }

    private void publish() {
        s.setUsed(held);
        positionsTensor.copyFrom(positions);
        queryPositions.copyFrom(queryPos);
    }

    /** Forgets sequence b. */
    @Override
    public void reset(int b) {
        s.checkSequence(KIND, b);
        seen[b] = 0;
        held[b] = 0;
        assignPositions(b);
        publish();
    }

    @Override
    public void move(int from, int to) {
        s.checkSequence(KIND, from);
        s.checkSequence(KIND, to);
        if (from == to) return;
        int slots = sinkTokens + window;
        s.copySequence(from, to, slots);
        seen[to] = seen[from];
        held[to] = held[from];
        System.arraycopy(positions, from * slots, positions, to * slots, slots);
        queryPos[to] = queryPos[from];
        publish();
    }

    /**
     * The query of the newest token, q (n ≤ B, 1, Hq, D) before RoPE, rotated to its in-cache position
     * length(b) − 1 (split-half, this cache's theta) with the rope op; a new tensor.
     */
    public Tensor rotateQuery(Tensor q) {
        int n = s.checkQuery(KIND, q, true);
        return Ops.on(s.arena).rope(q, n == s.batch ? queryPositions : queryPositions.narrow(0, n), new RopeSpec(theta, RopeSpec.Style.HALF, 0));
    }

    /**
     * One decode step with a query already rotated to its in-cache position ({@link #rotateQuery}).
     * The spec gives the score transform; it must not set a window or sink tokens (the cache is the window).
     */
    @Override
    public AttentionResult attend(Tensor rotatedQ, Tensor sinks, AttentionSpec spec) {
        int n = s.checkQuery(KIND, rotatedQ, true);
        if (spec.hasWindow()) {
            throw new IllegalArgumentException(KIND + ": the spec must not set a window or sink tokens (" + spec
                    + "): the cache holds exactly the visible keys");
        }
        KeyRope keyRope = keysRotated ? null : new KeyRope(n == s.batch ? positionsTensor : positionsTensor.narrow(0, n), theta);
        return Ops.on(s.arena).attentionKvCache(rotatedQ, s.keys(n), s.values(n), s.used(n), keyRope, sinks, spec);
    }

    public AttentionResult attend(Tensor rotatedQ, AttentionSpec spec) {
        return attend(rotatedQ, null, spec);
    }

    /** {@link #rotateQuery} then {@link #attend}: q (B, 1, Hq, D) before RoPE. */
    public AttentionResult attendUnrotated(Tensor q, Tensor sinks, AttentionSpec spec) {
        try (Tensor rq = rotateQuery(q)) {
            return attend(rq, sinks, spec);
        }
    }

    /** A copy of the in-cache positions of every slot, (B, sinks + window) row-major. */
    public int[] slotPositions() {
        return positions.clone();
    }

    /** Device bytes held: fixed at construction. */
    @Override
    public boolean isRing() {
        return true;
    }

    @Override
    public int capacity() {
        return sinkTokens + window;
    }

    @Override
    public long bytes() {
        return s.bytes() + positionsTensor.bytes() + queryPositions.bytes();
    }

    @Override
    public void close() {
        s.close();
        positionsTensor.close();
        queryPositions.close();
    }
}
