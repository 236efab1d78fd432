package dev.braindrip.nn;

import dev.braindrip.ops.AttentionResult;
import dev.braindrip.ops.AttentionSpec;
import dev.braindrip.ops.Ops;
import dev.braindrip.tensor.Tensor;

/**
 * Encoder-decoder attention (T5's EncDecAttention): decoder queries over the keys and values of
 * the encoder's output, with no mask but each sequence's own source, no position bias and no RoPE.
 * The source's keys and values are computed once per request ({@link #memory}); a generation
 * session keeps them in a static dense cache per layer ({@link #fill}), which every decode step
 * reads ({@link #step}) and nothing appends to. Ragged batches of sources run packed: no padding
 * rows are computed or attended.
 */
public final class CrossAttention {
    private final Linear q, k, v, o;
    private final int heads, kvHeads, headDim;
    private final AttentionSpec spec;

    /** Keys and values of packed encoder rows: k (S, Hkv, D), v (S, Hkv, D), views of the projections' outputs it owns. */
    public static final class Memory implements AutoCloseable {
        private final Tensor kOwner, vOwner, k, v;

        private Memory(Tensor kOwner, Tensor vOwner, int kvHeads, int headDim) {
            long s = kOwner.dim(0);
            this.kOwner = kOwner;
            this.vOwner = vOwner;
            this.k = kOwner.reshape(s, kvHeads, headDim);
            this.v = vOwner.reshape(s, kvHeads, headDim);
        }

        public Tensor k() {
            return k;
        }

        public Tensor v() {
            return v;
        }

        @Override
        public void close() {
            kOwner.close();
            vOwner.close();
        }
    }

    public CrossAttention(Linear q, Linear k, Linear v, Linear o, int heads, int kvHeads, int headDim, float scale) {
        if (q.out() != (long) heads * headDim) {
            throw new IllegalArgumentException("cross-attention: q gives " + q.out() + ", heads x headDim is " + heads * headDim);
        }
        if (k.out() != (long) kvHeads * headDim || v.out() != (long) kvHeads * headDim) {
            throw new IllegalArgumentException("cross-attention: k/v give " + k.out() + "/" + v.out() + ", kvHeads x headDim is " + kvHeads * headDim);
        }
        if (k.in() != v.in()) throw new IllegalArgumentException("cross-attention: k reads " + k.in() + " features, v " + v.in());
        this.q = q;
        this.k = k;
        this.v = v;
        this.o = o;
        this.heads = heads;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.spec = AttentionSpec.full().scale(scale);
    }

    /** The keys and values of encoder output rows enc (S, H_enc). */
    public Memory memory(Ops ops, Tensor enc) {
        Tensor kk = k.apply(ops, enc);
        try {
            return new Memory(kk, v.apply(ops, enc), kvHeads, headDim);
        } catch (RuntimeException e) {
            kk.close();
            throw e;
        }
    }

    /**
     * Packed decoder rows x (T, H), sequence b owning rows [cuQ[b], cuQ[b + 1]), over its source's
     * memory rows [cuK[b], cuK[b + 1]). Returns (T, H).
     */
    public Tensor forward(Ops ops, Tensor x, Tensor cuQ, Memory memory, Tensor cuK) {
        long t = x.dim(0);
        try (Tensor qq = q.apply(ops, x);
             AttentionResult r = ops.attentionVarlen(qq.reshape(t, heads, headDim), memory.k(), memory.v(), cuQ, cuK, null, spec)) {
            return o.apply(ops, r.o().reshape(t, (long) heads * headDim));
        }
    }

    /** Writes source b's memory rows [offsets[b], offsets[b + 1]) into sequence firstSlot + b of the cache (which must be empty there). */
    public static void fill(KvCache cache, Memory memory, int[] offsets, int firstSlot) {
        for (int b = 0; b + 1 < offsets.length; b++) {
            int len = offsets[b + 1] - offsets[b];
            cache.append(firstSlot + b, memory.k().narrow(offsets[b], len), memory.v().narrow(offsets[b], len));
        }
    }

    /** One decoder token per sequence, x (n, H), over the first n sequences' cached sources. Returns (n, H). */
    public Tensor step(Ops ops, Tensor x, KvCache cache) {
        long n = x.dim(0);
        try (Tensor qq = q.apply(ops, x); AttentionResult r = cache.attend(qq.reshape(n, 1, heads, headDim), null, spec)) {
            return o.apply(ops, r.o().reshape(n, (long) heads * headDim));
        }
    }
}
