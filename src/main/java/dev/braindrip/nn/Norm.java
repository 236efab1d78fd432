package dev.braindrip.nn;

import dev.braindrip.ops.NormResult;
import dev.braindrip.ops.Ops;
import dev.braindrip.tensor.Tensor;

/**
 * RMSNorm or LayerNorm over the last dimension, with its weight (and LayerNorm's optional bias).
 * Gemma's (1 + w) form is made by the caller once, as a weight tensor of its own.
 */
public record Norm(Kind kind, Tensor weight, Tensor bias, float eps) {
    public enum Kind { RMS, LAYER }

    public Norm {
        if (kind == null || weight == null) throw new IllegalArgumentException("norm: kind and weight must be given");
        if (kind == Kind.RMS && bias != null) throw new IllegalArgumentException("norm: RMSNorm has no bias");
        if (!(eps > 0)) throw new IllegalArgumentException("norm: eps (" + eps + ") must be > 0");
    }

    public Tensor apply(Ops ops, Tensor x) {
        return kind == Kind.RMS ? ops.rmsnorm(x, weight, eps) : ops.layernorm(x, weight, bias, eps);
    }

    /** sum = x + residual and its norm, in one fused pass. */
    public NormResult addApply(Ops ops, Tensor x, Tensor residual) {
        return kind == Kind.RMS ? ops.addRmsnorm(x, residual, weight, eps) : ops.addLayernorm(x, residual, weight, bias, eps);
    }
}
