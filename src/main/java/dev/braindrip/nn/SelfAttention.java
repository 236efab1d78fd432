package dev.braindrip.nn;

import dev.braindrip.ops.AttentionResult;
import dev.braindrip.ops.AttentionSpec;
import dev.braindrip.ops.Ops;
import dev.braindrip.ops.PositionBias;
import dev.braindrip.tensor.Tensor;

/**
 * Multi-head self-attention (MHA, GQA, MQA): q/k/v projections (optional biases), optional per-head
 * q/k RMSNorm (Qwen3), RoPE, the fused attention kernel with the layer's mask (causal or
 * bidirectional, sliding window, softcap, scale, learned sinks), and the output projection.
 * {@link #forward} runs a packed ragged batch (no padding) and may fill a KV cache;
 * {@link #step} runs one new token per sequence over it.
 */
public final class SelfAttention {
    private final Linear q, k, v, o;
    private final Norm qNorm, kNorm;
    private final Rotary rotary;
    private final int heads, kvHeads, headDim;
    private final AttentionSpec spec;      // prefill: the whole mask
    private final AttentionSpec stepSpec;  // decode over a cache
    private final Tensor sinks;            // learned sink logits (Hq) F32, or null
    private final int window;              // sliding window W, or 0
    private final SparseLayouts sparse;    // block-sparse layouts, or null
    private final PositionBias bias;       // position biases added in the kernel (T5), or null

    public SelfAttention(Linear q, Linear k, Linear v, Linear o, Norm qNorm, Norm kNorm, Rotary rotary, int heads, int kvHeads,
                         int headDim, boolean causal, int window, float softcap, float scale, Tensor sinks) {
        this(q, k, v, o, qNorm, kNorm, rotary, heads, kvHeads, headDim, causal, window, 0, null, softcap, scale, sinks);
    }

    /**
     * @param sinkTokens StreamingLLM sink tokens seen besides the window (0 = none)
     * @param sparse     block-sparse layouts (the mask is then the layout, causal inside it), or null
     */
    public SelfAttention(Linear q, Linear k, Linear v, Linear o, Norm qNorm, Norm kNorm, Rotary rotary, int heads, int kvHeads,
                         int headDim, boolean causal, int window, int sinkTokens, SparseLayouts sparse, float softcap, float scale,
                         Tensor sinks) {
        this(q, k, v, o, qNorm, kNorm, rotary, heads, kvHeads, headDim, causal, window, sinkTokens, sparse, softcap, scale, sinks, null);
    }

    /**
     * T5's attention: no RoPE, norms, window or sinks; {@code bias} (or null) is added to the scores in
     * the kernel by each sequence's own positions, and by absolute position over a dense cache.
     */
    public static SelfAttention biased(Linear q, Linear k, Linear v, Linear o, int heads, int kvHeads, int headDim, boolean causal,
                                       float scale, PositionBias bias) {
        return new SelfAttention(q, k, v, o, null, null, null, heads, kvHeads, headDim, causal, 0, 0, null, 0f, scale, null, bias);
    }

    private SelfAttention(Linear q, Linear k, Linear v, Linear o, Norm qNorm, Norm kNorm, Rotary rotary, int heads, int kvHeads,
                          int headDim, boolean causal, int window, int sinkTokens, SparseLayouts sparse, float softcap, float scale,
                          Tensor sinks, PositionBias bias) {
        this.bias = bias;
        this.q = q;
        this.k = k;
        this.v = v;
        this.o = o;
        this.qNorm = qNorm;
        this.kNorm = kNorm;
        this.rotary = rotary;
        this.heads = heads;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.sinks = sinks;
        this.window = window;
        this.sparse = sparse;
        if (sparse != null && (window > 0 || sinkTokens > 0 || softcap > 0)) {
            throw new IllegalArgumentException("attention: a block-sparse layer takes no window, sink tokens or softcap (list them in the layout)");
        }
        if (q.out() != (long) heads * headDim) throw new IllegalArgumentException("attention: q_proj gives " + q.out() + ", heads x headDim is " + heads * headDim);
        if (k.out() != (long) kvHeads * headDim || v.out() != (long) kvHeads * headDim) {
            throw new IllegalArgumentException("attention: k/v_proj give " + k.out() + "/" + v.out() + ", kvHeads x headDim is " + kvHeads * headDim);
        }
        AttentionSpec base = (causal ? AttentionSpec.causal() : AttentionSpec.full()).scale(scale);
        if (softcap > 0) base = base.softcap(softcap);
        this.stepSpec = base;
        AttentionSpec full = window > 0 ? base.slidingWindow(window) : base;
        this.spec = sinkTokens > 0 ? full.sinkTokens(sinkTokens) : full;
    }

    public int window() {
        return window;
    }

    public int kvHeads() {
        return kvHeads;
    }

    public int headDim() {
        return headDim;
    }

    /** The owners of q, k, v after norms and RoPE (any shape of T·heads·D elements; see {@link #heads}). */
    private Tensor[] project(Ops ops, Tensor x, Tensor positions) {
        return project(ops, x, positions, positions);
    }

    /** As {@link #project(Ops, Tensor, Tensor)} with RoPE on q at qPositions and on k at kPositions (null: none). */
    private Tensor[] project(Ops ops, Tensor x, Tensor qPositions, Tensor kPositions) {
        long t = x.dim(0);
        Tensor qh = null, kh = null, vh = null;
        try {
            qh = headsOf(ops, q.apply(ops, x), t, heads, qNorm, qPositions);
            kh = headsOf(ops, k.apply(ops, x), t, kvHeads, kNorm, kPositions);
            vh = v.apply(ops, x);
            return new Tensor[] {qh, kh, vh};
        } catch (RuntimeException e) {
            closeAll(qh, kh, vh);
            throw e;
        }
    }

    private boolean rawKeys(KvCache cache) {
        if (!(cache instanceof SinkWindowKvCache sw) || !sw.rotatesKeys()) return false;
        if (rotary == null) throw new IllegalArgumentException("attention: a StreamingLLM cache with in-cache positions needs a RoPE model");
        return true;
    }

    /** The rotary embedding of this layer, or null. */
    public Rotary rotary() {
        return rotary;
    }

    /** A (T, h, D) view of an owner. */
    private Tensor heads(Tensor owner, long t, int h) {
        return owner.reshape(t, h, headDim);
    }

    private Tensor headsOf(Ops ops, Tensor proj, long t, int h, Norm norm, Tensor positions) {
        Tensor normed = null;
        try {
            if (norm != null) {
                normed = norm.apply(ops, proj.reshape(t * h, headDim));
                proj.close();
                proj = normed;
            }
            if (rotary == null || positions == null) return proj;
            try (Tensor in = proj) {
                return rotary.apply(ops, in.reshape(t, h, headDim), positions);
            }
        } catch (RuntimeException e) {
            proj.close();
            throw e;
        }
    }

    /**
     * x (T, H) packed rows, positions (T) I32, cuSeqlens (B + 1) I32 and their host copy; with a
     * cache, each row's keys and values are appended to its sequence. Returns (T, H).
     */
    public Tensor forward(Ops ops, Tensor x, Tensor positions, Tensor cuSeqlens, int[] offsets, KvCache cache) {
        return forward(ops, x, positions, cuSeqlens, offsets, cache, 0);
    }

    /**
     * As {@link #forward(Ops, Tensor, Tensor, Tensor, int[], KvCache)}, row r filling sequence
     * {@code firstSlot + r} of the cache. A StreamingLLM cache with in-cache positions
     * ({@link SinkWindowKvCache#rotatesKeys}) receives the keys before RoPE; the rows must then be
     * fresh sequences of at most sinks + window tokens, whose text and in-cache positions agree.
     */
    public Tensor forward(Ops ops, Tensor x, Tensor positions, Tensor cuSeqlens, int[] offsets, KvCache cache, int firstSlot) {
        boolean raw = rawKeys(cache);
        Tensor[] qkv = project(ops, x, positions, raw ? null : positions);
        try {
            if (cache != null) {
                for (int b = 0; b + 1 < offsets.length; b++) {
                    int len = offsets[b + 1] - offsets[b];
                    Tensor kb = heads(qkv[1], x.dim(0), kvHeads).narrow(offsets[b], len);
                    Tensor vb = heads(qkv[2], x.dim(0), kvHeads).narrow(offsets[b], len);
                    cache.append(firstSlot + b, kb, vb);
                }
            }
            if (raw) {
                Tensor rotated = rotary.apply(ops, heads(qkv[1], x.dim(0), kvHeads), positions);
                qkv[1].close();
                qkv[1] = rotated;
            }
            if (sparse != null) {
                try (Tensor rows = sparseRows(ops, qkv, x.dim(0), offsets)) {
                    return o.apply(ops, rows);
                }
            }
            Tensor qh = heads(qkv[0], x.dim(0), heads), kh = heads(qkv[1], x.dim(0), kvHeads), vh = heads(qkv[2], x.dim(0), kvHeads);
            try (AttentionResult r = bias != null ? ops.attentionVarlenBiased(qh, kh, vh, cuSeqlens, cuSeqlens, bias, spec)
                    : ops.attentionVarlen(qh, kh, vh, cuSeqlens, cuSeqlens, sinks, spec)) {
                return o.apply(ops, r.o().reshape(x.dim(0), (long) heads * headDim));
            }
        } finally {
            closeAll(qkv);
        }
    }

    /** One new token per sequence: x (B, H), positions (B) I32; appends to the cache and attends over it. */
    public Tensor step(Ops ops, Tensor x, Tensor positions, KvCache cache) {
        long b = x.dim(0);
        boolean raw = rawKeys(cache);
        Tensor[] qkv = raw ? project(ops, x, null, null) : project(ops, x, positions);
        try {
            cache.append(qkv[1].reshape(b, 1, kvHeads, headDim), qkv[2].reshape(b, 1, kvHeads, headDim));
            Tensor q1 = qkv[0].reshape(b, 1, heads, headDim);
            if (raw) {
                // StreamingLLM: the cache rotates q to its in-cache position and each key to its slot's
                try (AttentionResult r = ((SinkWindowKvCache) cache).attendUnrotated(q1, sinks, stepSpec)) {
                    return o.apply(ops, r.o().reshape(b, (long) heads * headDim));
                }
            }
            if (sparse != null) {
                try (AttentionResult r = cache.attendSparse(q1, sparse.forLength(cache.capacity()), stepSpec)) {
                    return o.apply(ops, r.o().reshape(b, (long) heads * headDim));
                }
            }
            if (bias != null) {
                if (!(cache instanceof DenseKvCache dense)) {
                    throw new IllegalArgumentException("attention: position biases need a dense KV cache, not " + cache.getClass().getSimpleName());
                }
                try (AttentionResult r = dense.attendBiased(q1, bias, stepSpec)) {
                    return o.apply(ops, r.o().reshape(b, (long) heads * headDim));
                }
            }
            AttentionSpec s = cache.isRing() ? stepSpec : spec;
            try (AttentionResult r = cache.attend(q1, sinks, s)) {
                return o.apply(ops, r.o().reshape(b, (long) heads * headDim));
            }
        } finally {
            closeAll(qkv);
        }
    }

    /** Block-sparse attention row by row (the kernel takes a dense batch): o (T, heads·D). */
    private Tensor sparseRows(Ops ops, Tensor[] qkv, long t, int[] offsets) {
        Tensor out = ops.arena().empty(qkv[0].dtype(), t, (long) heads * headDim);
        try {
            long rowBytes = (long) heads * headDim * out.dtype().bytes();
            for (int b = 0; b + 1 < offsets.length; b++) {
                int len = offsets[b + 1] - offsets[b];
                Tensor qb = heads(qkv[0], t, heads).narrow(offsets[b], len).reshape(1, len, heads, headDim);
                Tensor kb = heads(qkv[1], t, kvHeads).narrow(offsets[b], len).reshape(1, len, kvHeads, headDim);
                Tensor vb = heads(qkv[2], t, kvHeads).narrow(offsets[b], len).reshape(1, len, kvHeads, headDim);
                try (AttentionResult r = ops.sparseAttention(qb, kb, vb, sparse.forLength(len), stepSpec)) {
                    out.copyRange(r.o(), 0, offsets[b] * rowBytes, len * rowBytes);
                }
            }
            return out;
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
    }

    static void closeAll(Tensor... ts) {
        for (Tensor t : ts) if (t != null) t.close();
    }
}
