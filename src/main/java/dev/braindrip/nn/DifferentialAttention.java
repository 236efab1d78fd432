package dev.braindrip.nn;

import dev.braindrip.ops.DiffAttentionSpec;

import dev.braindrip.ops.Ops;
import dev.braindrip.ops.RopeSpec;
import dev.braindrip.tensor.Tensor;
import java.util.Arrays;

/**
 * One multi-head differential attention layer (Differential Transformer, Ye et al. 2024; the
 * reference module is microsoft/unilm Diff-Transformer multihead_diffattn.py, MultiheadDiffAttn),
 * running the fused kernel ({@link Ops#diffAttention}).
 *
 * <p>Shapes, with embed dim E, H heads (half the baseline's), Hkv KV heads (H % Hkv = 0, r = H / Hkv),
 * head dim d = E / H / 2:
 * <pre>
 *   q = x·q_projᵀ → (B, S, 2H, d)     k = x·k_projᵀ → (B, S, 2Hkv, d)     v = x·v_projᵀ → (B, S, Hkv, 2d)
 *   q, k ← interleaved RoPE at the token positions (apply_rotary_emb(..., interleaved=True))
 *   o = diff_attention(q, k, v, subln; λ, λinit) → (B, S, H·2d = E) → ·out_projᵀ
 *   λ = exp(λq1·λk1) − exp(λq2·λk2) + λinit,   λinit = 0.8 − 0.6·exp(−0.3·depth)
 * </pre>
 *
 * <p>Weights, by the reference module's parameter names (nn.Linear layout (out, in), no biases):
 * {@code q_proj.weight} (E, E), {@code k_proj.weight} (E / r, E), {@code v_proj.weight} (E / r, E),
 * {@code out_proj.weight} (E, E), {@code lambda_q1}, {@code lambda_k1}, {@code lambda_q2},
 * {@code lambda_k2} (d each), {@code subln.weight} (2d). The tensors are borrowed, not owned: the
 * caller closes them. All float tensors share one dtype and the device of {@code ops}.
 */
public final class DifferentialAttention {
    private final Ops ops;
    private final int embed, heads, kvHeads, headDim, depth;
    private final Tensor qProj, kProj, vProj, outProj, subln;
    private final float lambda, lambdaInit;
    private final RopeSpec rope;
    private final DiffAttentionSpec spec;

    /**
     * @param lambdaQ1 the four λ vectors (d each), read once: λ is a constant of the layer at inference
     * @param ropeTheta the RoPE base of the positions passed to {@link #forward} (interleaved pairs)
     */
    public DifferentialAttention(Ops ops, int embed, int heads, int kvHeads, int depth, Tensor qProj, Tensor kProj, Tensor vProj,
                                 Tensor outProj, float[] lambdaQ1, float[] lambdaK1, float[] lambdaQ2, float[] lambdaK2, Tensor subln,
                                 float ropeTheta) {
        if (ops == null) throw new IllegalArgumentException("differential attention: ops must be given");
        if (heads < 1 || kvHeads < 1 || heads % kvHeads != 0) {
            throw new IllegalArgumentException("differential attention: heads (" + heads + ") must be a positive multiple of kvHeads ("
                    + kvHeads + ")");
        }
        if (embed < 1 || embed % (2 * heads) != 0) {
            throw new IllegalArgumentException("differential attention: embed dim (" + embed + ") must be a positive multiple of 2 * heads ("
                    + 2 * heads + ") (head dim d = E / H / 2)");
        }
        this.ops = ops;
        this.embed = embed;
        this.heads = heads;
        this.kvHeads = kvHeads;
        this.headDim = embed / heads / 2;
        this.depth = depth;
        this.lambdaInit = DiffAttentionSpec.lambdaInit(depth);
        int ekv = 2 * kvHeads * headDim;
        shape("q_proj.weight", qProj, embed, embed);
        shape("k_proj.weight", kProj, ekv, embed);
        shape("v_proj.weight", vProj, ekv, embed);
        shape("out_proj.weight", outProj, embed, embed);
        shape("subln.weight", subln, 2L * headDim);
        for (Tensor t : new Tensor[] {kProj, vProj, outProj, subln}) {
            if (t.dtype() != qProj.dtype()) {
                throw new IllegalArgumentException("differential attention: weights must share a dtype, q_proj.weight is " + qProj.dtype()
                        + " but " + t + " is not");
            }
        }
        for (float[] l : new float[][] {lambdaQ1, lambdaK1, lambdaQ2, lambdaK2}) {
            if (l == null || l.length != headDim) {
                throw new IllegalArgumentException("differential attention: lambda_q1/k1/q2/k2 must have head dim " + headDim + " entries, got "
                        + (l == null ? "null" : l.length));
            }
        }
        this.qProj = qProj;
        this.kProj = kProj;
        this.vProj = vProj;
        this.outProj = outProj;
        this.subln = subln;
        this.lambda = DiffAttentionSpec.lambda(lambdaQ1, lambdaK1, lambdaQ2, lambdaK2, lambdaInit);
        this.rope = new RopeSpec(ropeTheta, RopeSpec.Style.INTERLEAVED, 0);
        this.spec = DiffAttentionSpec.causal(lambda, lambdaInit);
    }

    private static void shape(String name, Tensor t, long... want) {
        if (t == null) throw new IllegalArgumentException("differential attention: " + name + " must be given");
        t.checkOpen();
        if (!Arrays.equals(t.shape(), want)) {
            throw new IllegalArgumentException("differential attention: " + name + " must be " + Arrays.toString(want) + ", got "
                    + Arrays.toString(t.shape()));
        }
    }

    public int headDim() {
        return headDim;
    }

    public int depth() {
        return depth;
    }

    /** λ of this layer (from its λ vectors and λinit). */
    public float lambda() {
        return lambda;
    }

    public float lambdaInit() {
        return lambdaInit;
    }

    /** The causal spec the layer runs with. */
    public DiffAttentionSpec spec() {
        return spec;
    }

    /** A KV cache for {@link #step}: keys (B, capacity, 2Hkv, d), values (B, capacity, Hkv, 2d). */
    public DenseKvCache newCache(int batch, int capacity) {
        return DenseKvCache.differential(ops.arena(), batch, capacity, kvHeads, headDim, qProj.dtype());
    }

    /** Causal prefill: x (B, S, E) with positions (B, S) I32/I64 → (B, S, E). */
    public Tensor forward(Tensor x, Tensor positions) {
        return run(x, positions, null, -1);
    }

    /**
     * Causal prefill of one sequence, x (1, S, E) at positions (1, S), whose keys and values are
     * appended to sequence {@code b} of {@code cache} (a model session's ragged prefill). Returns (1, S, E).
     */
    public Tensor prefill(Tensor x, Tensor positions, DenseKvCache cache, int b) {
        if (cache == null) throw new IllegalArgumentException("differential attention: prefill needs a cache (newCache)");
        if (x.rank() != 3 || x.dim(0) != 1) throw new IllegalArgumentException("differential attention: prefill takes one sequence (1, S, E)");
        return run(x, positions, cache, b);
    }

    /**
     * A decode (or chunked-prefill) step: x (B, T, E) for the next T tokens at positions (B, T); their
     * keys and values are appended to {@code cache} (from {@link #newCache}) and the queries attend
     * causally over everything cached. Returns (B, T, E).
     */
    public Tensor step(Tensor x, Tensor positions, DenseKvCache cache) {
        if (cache == null) throw new IllegalArgumentException("differential attention: step needs a cache (newCache)");
        return run(x, positions, cache, -1);
    }

    private Tensor run(Tensor x, Tensor positions, DenseKvCache cache, int row) {
        if (x == null || positions == null) throw new IllegalArgumentException("differential attention: x and positions must be given");
        x.checkOpen();
        if (x.rank() != 3 || x.dim(2) != embed) {
            throw new IllegalArgumentException("differential attention: x must be (B, S, " + embed + "), got " + Arrays.toString(x.shape()));
        }
        long b = x.dim(0), s = x.dim(1);
        if (positions.numel() != b * s) {
            throw new IllegalArgumentException("differential attention: positions must be (" + b + ", " + s + "), got "
                    + Arrays.toString(positions.shape()));
        }
        Tensor q = null, k = null, v = null, qr = null, kr = null, o = null;
        try {
            q = ops.gemm(x, qProj, null, true);
            k = ops.gemm(x, kProj, null, true);
            v = ops.gemm(x, vProj, null, true);
            qr = ops.rope(q.reshape(b, s, 2L * heads, headDim), positions, rope);
            kr = ops.rope(k.reshape(b, s, 2L * kvHeads, headDim), positions, rope);
            Tensor vh = v.reshape(b, s, kvHeads, 2L * headDim);
            if (cache == null || row >= 0) {
                o = ops.diffAttention(qr, kr, vh, subln, spec);
                if (cache != null) cache.append(row, kr.reshape(s, 2L * kvHeads, headDim), vh.reshape(s, kvHeads, 2L * headDim));
            } else {
                cache.append(kr, vh);
                o = cache.attendDifferential(qr, subln, spec);
            }
            return ops.gemm(o.reshape(b, s, embed), outProj, null, true);
        } finally {
            for (Tensor t : new Tensor[] {q, k, v, qr, kr, o}) if (t != null) t.close();
        }
    }
}
