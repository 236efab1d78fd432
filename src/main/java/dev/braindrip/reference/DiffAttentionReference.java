package dev.braindrip.reference;

import dev.braindrip.ops.DiffAttentionSpec;
import dev.braindrip.ops.RopeSpec;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Half;

/**
 * The oracle of fused differential attention: the unfused two-pass computation, written from the
 * contract (diff_attention.h, CLI.md, microsoft/unilm multihead_diffattn.py), independently of the
 * kernels: two attentions through {@link AttentionReference} (map 0 over query heads 2h, map 1 over
 * 2h + 1), u = A1·V − λ·A2·V, RMSNorm over 2D, × subln × (1 − λinit).
 *
 * <p>{@link #exact} is in double precision from the stored values. {@link #naive} is the unfused
 * version in the storage precision, the yardstick of the low-precision rule: each map's attention as
 * {@link AttentionReference#naive} (output rounded to storage), then subtraction, RMSNorm and scaling
 * in float, the output rounded to storage — what two attention calls and the element-wise ops compute.
 *
 * <p>Layouts are the kernel's: q (B, Sq, 2H, D), k (B, Skv, 2Hkv, D), v (B, Skv, Hkv, 2D), subln (2D),
 * o (B, Sq, H, 2D). A row that sees no key gets o = 0.
 */
public final class DiffAttentionReference {
    private DiffAttentionReference() {}

    /** o in the kernel's layout; {@code empty[(b·Sq + i)·H + h]} marks rows that see no key. */
    public record Result(double[] o, boolean[] empty) {}

    /** One call, described the way the kernel receives it (arrays hold the stored values). */
    public static final class Problem {
        final int batch, seqQ, seqK, heads, kvHeads, headDim;
        final float[] q, k, v, subln;
        final DiffAttentionSpec spec;
        int[] seqUsedK;

        /** heads = H output heads (q has 2H), kvHeads = Hkv (k has 2Hkv heads, v has Hkv). */
        public Problem(int batch, int seqQ, int seqK, int heads, int kvHeads, int headDim, float[] q, float[] k, float[] v, float[] subln,
                       DiffAttentionSpec spec) {
            if (heads % kvHeads != 0) throw new IllegalArgumentException("reference: heads (" + heads + ") % kvHeads (" + kvHeads + ") != 0");
            this.batch = batch;
            this.seqQ = seqQ;
            this.seqK = seqK;
            this.heads = heads;
            this.kvHeads = kvHeads;
            this.headDim = headDim;
            this.q = q;
            this.k = k;
            this.v = v;
            this.subln = subln;
            this.spec = spec;
        }

        /** Keys used per sequence of a KV cache of capacity seqK (alignment uses this length). */
        public Problem seqUsedK(int[] used) {
            Problem p = new Problem(batch, seqQ, seqK, heads, kvHeads, headDim, q, k, v, subln, spec);
            p.seqUsedK = used.clone();
            return p;
        }

        /**
         * Map m (0 or 1) as a plain attention problem: query heads 2h + m as H heads, each reading its
         * own copy of key head (2h + m) / r and of V head h / r (r = H / Hkv), so the attention oracle's
         * head mapping is the identity.
         */
        AttentionReference.Problem map(int m) {
            int d = headDim, dv = 2 * d, r = heads / kvHeads;
            float[] qm = new float[batch * seqQ * heads * d];
            float[] km = new float[batch * seqK * heads * d];
            float[] vm = new float[batch * seqK * heads * dv];
            for (int t = 0; t < batch * seqQ; t++) {
                for (int h = 0; h < heads; h++) System.arraycopy(q, (t * 2 * heads + 2 * h + m) * d, qm, (t * heads + h) * d, d);
            }
            for (int t = 0; t < batch * seqK; t++) {
                for (int h = 0; h < heads; h++) {
                    System.arraycopy(k, (t * 2 * kvHeads + (2 * h + m) / r) * d, km, (t * heads + h) * d, d);
                    System.arraycopy(v, (t * kvHeads + h / r) * dv, vm, (t * heads + h) * dv, dv);
                }
            }
            AttentionReference.Problem p = new AttentionReference.Problem(batch, seqQ, seqK, heads, heads, d, dv, qm, km, vm, spec.mask());
            return seqUsedK == null ? p : p.seqUsedK(seqUsedK);
        }
    }

    /** Double precision. */
    public static Result exact(Problem p) {
        AttentionReference.Result a1 = AttentionReference.exact(p.map(0)), a2 = AttentionReference.exact(p.map(1));
        return combine(p, a1, a2, null);
    }

    /** The unfused version in the storage precision {@code dtype}. */
    public static Result naive(Problem p, DType dtype) {
        AttentionReference.Result a1 = AttentionReference.naive(p.map(0), dtype), a2 = AttentionReference.naive(p.map(1), dtype);
        return combine(p, a1, a2, dtype);
    }

    private static Result combine(Problem p, AttentionReference.Result a1, AttentionReference.Result a2, DType lowp) {
        int dv = 2 * p.headDim, rows = p.batch * p.seqQ * p.heads;
        double[] o = new double[rows * dv];
        boolean[] empty = new boolean[rows];
        double lambda = p.spec.lambda(), scale = 1.0 - p.spec.lambdaInit();
        double[] u = new double[dv];
        for (int b = 0; b < p.batch; b++) {
            for (int i = 0; i < p.seqQ; i++) {
                for (int h = 0; h < p.heads; h++) {
                    int row = (b * p.seqQ + i) * p.heads + h, base = row * dv;
                    if (a1.empty()[(b * p.heads + h) * p.seqQ + i]) { // the maps share the mask
                        empty[row] = true;
                        continue; // o stays 0
                    }
                    if (lowp == null) {
                        for (int c = 0; c < dv; c++) u[c] = a1.o()[base + c] - lambda * a2.o()[base + c];
                        double[] y = Reference.rmsnorm(u, Reference.toDouble(p.subln), 1, dv, p.spec.eps());
                        for (int c = 0; c < dv; c++) o[base + c] = y[c] * scale;
                    } else {
                        float ss = 0f;
                        for (int c = 0; c < dv; c++) {
                            float x = (float) a1.o()[base + c] - p.spec.lambda() * (float) a2.o()[base + c];
                            u[c] = x;
                            ss += x * x;
                        }
                        float inv = 1f / (float) Math.sqrt(ss / dv + p.spec.eps());
                        for (int c = 0; c < dv; c++) {
                            o[base + c] = Half.round(lowp, (float) u[c] * inv * p.subln[c] * (1f - p.spec.lambdaInit()));
                        }
                    }
                }
            }
        }
        return new Result(o, empty);
    }

    // ---- the whole layer

    /**
     * The weights of one layer as host arrays (PyTorch nn.Linear layout: (out, in)): qProj (E, E),
     * kProj and vProj (E / r, E), outProj (E, E), the four λ vectors (d) and subln (2d).
     */
    public record LayerWeights(float[] qProj, float[] kProj, float[] vProj, float[] outProj, float[] lambdaQ1, float[] lambdaK1,
                               float[] lambdaQ2, float[] lambdaK2, float[] subln) {}

    /**
     * The reference module's forward (multihead_diffattn.py, causal) in double: x (B, S, E) at
     * positions (B, S); H output heads over Hkv, head dim d = E / H / 2; projections, interleaved RoPE
     * of q and k at base theta, the two-pass differential attention ({@link #exact}), out_proj.
     * λ is {@link DiffAttentionSpec#lambda} of the weights and λinit of {@code depth}. The rotated q and
     * k are held in float between RoPE and attention (the attention oracle takes stored values).
     */
    public static double[] layer(float[] x, int batch, int seq, int embed, int heads, int kvHeads, int depth, int[] positions,
                                 float theta, LayerWeights w) {
        int d = embed / heads / 2, ekv = 2 * kvHeads * d, tokens = batch * seq;
        double[] xd = Reference.toDouble(x);
        double[] q = Reference.gemm(xd, Reference.toDouble(w.qProj()), null, tokens, embed, embed, true);
        double[] k = Reference.gemm(xd, Reference.toDouble(w.kProj()), null, tokens, embed, ekv, true);
        double[] v = Reference.gemm(xd, Reference.toDouble(w.vProj()), null, tokens, embed, ekv, true);
        long[] pos = new long[tokens];
        for (int t = 0; t < tokens; t++) pos[t] = positions[t];
        q = Reference.rope(q, pos, tokens, 2 * heads, d, d, theta, RopeSpec.Style.INTERLEAVED);
        k = Reference.rope(k, pos, tokens, 2 * kvHeads, d, d, theta, RopeSpec.Style.INTERLEAVED);
        float lambdaInit = DiffAttentionSpec.lambdaInit(depth);
        float lambda = DiffAttentionSpec.lambda(w.lambdaQ1(), w.lambdaK1(), w.lambdaQ2(), w.lambdaK2(), lambdaInit);
        Problem p = new Problem(batch, seq, seq, heads, kvHeads, d, toFloat(q), toFloat(k), toFloat(v), w.subln(),
                DiffAttentionSpec.causal(lambda, lambdaInit));
        double[] o = exact(p).o();
        return Reference.gemm(o, Reference.toDouble(w.outProj()), null, tokens, embed, embed, true);
    }

    private static float[] toFloat(double[] x) {
        float[] y = new float[x.length];
        for (int i = 0; i < x.length; i++) y[i] = (float) x[i];
        return y;
    }
}
