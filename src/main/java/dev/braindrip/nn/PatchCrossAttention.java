package dev.braindrip.nn;

import dev.braindrip.ops.AttentionResult;
import dev.braindrip.ops.AttentionSpec;
import dev.braindrip.ops.Ops;
import dev.braindrip.tensor.Tensor;

/**
 * The Byte Latent Transformer's cross-attention between bytes and patches (Hugging Face's
 * BltCrossAttention): q = q_proj(q_norm(queries)), k = k_proj(k_norm(states)), v =
 * v_proj(k_norm(states)), softmax(q kᵀ / √d) v over the keys each query may see, no RoPE, and the
 * module's output o_proj(attn) + queries (the caller adds the queries once more). Which keys a
 * query sees is block-structured — a patch's slots see its own bytes (encoder), a byte sees the k
 * slots of one patch (decoder) — so both run as a packed varlen batch: query rows [cuQ[g],
 * cuQ[g + 1]) over key rows [cuK[g], cuK[g + 1]), one group g per block; no mask is built.
 */
public final class PatchCrossAttention {
    private final Norm qNorm, kNorm;
    private final Linear q, k, v, o;
    private final int heads, kvHeads, headDim;
    private final AttentionSpec spec;

    public PatchCrossAttention(Norm qNorm, Norm kNorm, Linear q, Linear k, Linear v, Linear o, int heads, int kvHeads, int headDim) {
        if (q.out() != (long) heads * headDim || k.out() != (long) kvHeads * headDim || v.out() != (long) kvHeads * headDim) {
            throw new IllegalArgumentException("patch cross-attention: q/k/v give " + q.out() + "/" + k.out() + "/" + v.out() + " for " + heads
                    + " heads and " + kvHeads + " KV heads of " + headDim);
        }
        this.qNorm = qNorm;
        this.kNorm = kNorm;
        this.q = q;
        this.k = k;
        this.v = v;
        this.o = o;
        this.heads = heads;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.spec = AttentionSpec.full().scale((float) (1.0 / Math.sqrt(headDim)));
    }

    /** Keys and values of key rows {@code states} (S, H): k (S, Hkv, D) and v, owned by the caller ({@link CrossAttention.Memory} style). */
    public Tensor[] keysValues(Ops ops, Tensor states) {
        long s = states.dim(0);
        try (Tensor n = kNorm.apply(ops, states)) {
            Tensor kk = k.apply(ops, n);
            try {
                Tensor vv = v.apply(ops, n);
                return new Tensor[] {kk, vv};
            } catch (RuntimeException e) {
                kk.close();
                throw e;
            }
        }
    }

    /** queries (Tq, H) grouped by cuQ over states (Tk, H) grouped by cuK: o_proj(attn) + queries, (Tq, H). */
    public Tensor forward(Ops ops, Tensor queries, Tensor cuQ, Tensor states, Tensor cuK) {
        Tensor[] kv = keysValues(ops, states);
        try (Tensor kk = kv[0]; Tensor vv = kv[1]) {
            long tk = states.dim(0);
            return attend(ops, queries, cuQ, kk.reshape(tk, kvHeads, headDim), vv.reshape(tk, kvHeads, headDim), cuK);
        }
    }

    /** As {@link #forward} with the keys and values already made (k, v: (Tk, Hkv, D)). */
    public Tensor attend(Ops ops, Tensor queries, Tensor cuQ, Tensor kk, Tensor vv, Tensor cuK) {
        long tq = queries.dim(0);
        try (Tensor n = qNorm.apply(ops, queries); Tensor qq = q.apply(ops, n);
             AttentionResult r = ops.attentionVarlen(qq.reshape(tq, heads, headDim), kk, vv, cuQ, cuK, null, spec);
             Tensor out = o.apply(ops, r.o().reshape(tq, (long) heads * headDim))) {
            return ops.add(out, queries);
        }
    }

    /** One query row per sequence, x (n, H), over each sequence's cached keys (the first n of the cache). */
    public Tensor step(Ops ops, Tensor x, KvCache cache) {
        long n = x.dim(0);
        try (Tensor xn = qNorm.apply(ops, x); Tensor qq = q.apply(ops, xn);
             AttentionResult r = cache.attend(qq.reshape(n, 1, heads, headDim), null, spec);
             Tensor out = o.apply(ops, r.o().reshape(n, (long) heads * headDim))) {
            return ops.add(out, x);
        }
    }

    public int kvHeads() {
        return kvHeads;
    }

    public int headDim() {
        return headDim;
    }
}
