package dev.braindrip.ops;

import java.util.Locale;

/**
 * What a fused differential attention call computes besides its tensors (Differential Transformer,
 * microsoft/unilm multihead_diffattn.py; CLI.md, "diff-attention"; native/include/braindrip/diff_attention.h):
 * for output head h with query heads 2h, 2h + 1,
 * <pre>
 *   u = (softmax(q[2h]·k1ᵀ·scale) − λ·softmax(q[2h+1]·k2ᵀ·scale)) · v      (2D wide)
 *   o = u / √(mean(u²) + eps) · subln · (1 − λinit)
 * </pre>
 * {@code mask} gives the visibility (causal, window edges) and the scale exactly as for
 * {@link AttentionSpec}; softcap, sink tokens and split-KV are not part of differential attention
 * and are rejected here. λ is the layer's λ (see {@link #lambda(float[], float[], float[], float[], float)});
 * λinit is the depth-dependent constant of {@link #lambdaInit(int)}.
 *
 * @param mask       causal / window / scale (softcap 0, no sink tokens, numSplits 0 or 1)
 * @param lambda     λ, finite
 * @param lambdaInit λinit, finite (the output is scaled by 1 − λinit)
 * @param eps        the RMSNorm epsilon, finite and &gt; 0 (the reference uses 1e-5)
 */
public record DiffAttentionSpec(AttentionSpec mask, float lambda, float lambdaInit, float eps) {
    /** The reference module's RMSNorm epsilon. */
    public static final float DEFAULT_EPS = 1e-5f;

    public DiffAttentionSpec {
        if (mask == null) throw new IllegalArgumentException("diff attention spec: mask must be given (AttentionSpec.causal() or .full())");
        if (mask.softcap() != 0f) {
            throw new IllegalArgumentException("diff attention spec: softcap (" + mask.softcap() + ") is not part of differential attention");
        }
        if (mask.sinkTokens() != 0) {
            throw new IllegalArgumentException("diff attention spec: sinkTokens (" + mask.sinkTokens()
                    + ") is not part of differential attention");
        }
        if (mask.numSplits() > 1) {
            throw new IllegalArgumentException("diff attention spec: numSplits (" + mask.numSplits()
                    + ") is not supported (the fused kernel keeps one pass per query tile)");
        }
        if (!Float.isFinite(lambda)) throw new IllegalArgumentException("diff attention spec: lambda (" + lambda + ") must be finite");
        if (!Float.isFinite(lambdaInit)) {
            throw new IllegalArgumentException("diff attention spec: lambdaInit (" + lambdaInit + ") must be finite");
        }
        if (!(eps > 0) || Float.isInfinite(eps)) throw new IllegalArgumentException("diff attention spec: eps (" + eps + ") must be finite and > 0");
    }

    /** Causal, default scale, eps {@value #DEFAULT_EPS}. */
    public static DiffAttentionSpec causal(float lambda, float lambdaInit) {
        return new DiffAttentionSpec(AttentionSpec.causal(), lambda, lambdaInit, DEFAULT_EPS);
    }

    /** The same with another mask (window edges, full attention, scale). */
    public DiffAttentionSpec withMask(AttentionSpec m) {
        return new DiffAttentionSpec(m, lambda, lambdaInit, eps);
    }

    /** The same with another RMSNorm epsilon. */
    public DiffAttentionSpec withEps(float e) {
        return new DiffAttentionSpec(mask, lambda, lambdaInit, e);
    }

    /** λinit of a layer at 0-based depth l: 0.8 − 0.6·exp(−0.3·l) (MODELS.md; the reference's lambda_init_fn). */
    public static float lambdaInit(int depth) {
        if (depth < 0) throw new IllegalArgumentException("diff attention: depth (" + depth + ") must be >= 0 (0-based layer index)");
        return (float) (0.8 - 0.6 * Math.exp(-0.3 * depth));
    }

    /**
     * λ = exp(λq1·λk1) − exp(λq2·λk2) + λinit from the layer's four learned vectors (head dim d each),
     * with the dot products summed in double and each exp taken in float as the reference does
     * ({@code torch.exp(torch.sum(lambda_q1 * lambda_k1).float())}).
     */
    public static float lambda(float[] lambdaQ1, float[] lambdaK1, float[] lambdaQ2, float[] lambdaK2, float lambdaInit) {
        int d = lambdaQ1.length;
        if (lambdaK1.length != d || lambdaQ2.length != d || lambdaK2.length != d) {
            throw new IllegalArgumentException("diff attention: lambda vectors must share a length (head dim), got " + d + ", "
                    + lambdaK1.length + ", " + lambdaQ2.length + ", " + lambdaK2.length);
        }
        double s1 = 0, s2 = 0;
        for (int i = 0; i < d; i++) {
            s1 += (double) lambdaQ1[i] * lambdaK1[i];
            s2 += (double) lambdaQ2[i] * lambdaK2[i];
        }
        float l = (float) Math.exp((float) s1) - (float) Math.exp((float) s2) + lambdaInit;
        if (!Float.isFinite(l)) throw new IllegalArgumentException("diff attention: lambda (" + l + ") is not finite (lambda vectors too large)");
        return l;
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "%s lambda %g lambdaInit %g eps %g", mask, lambda, lambdaInit, eps);
    }
}
