package dev.braindrip.nn;

import dev.braindrip.ops.Ops;
import dev.braindrip.tensor.Tensor;

/**
 * y = x · Wᵀ + b with W stored (out, in) as nn.Linear and Hugging Face checkpoints keep it; the
 * weight's dtype is the compute dtype's; the bias (out) is optional and folded into the GEMM.
 */
public record Linear(Tensor weight, Tensor bias) {
    public Linear {
        if (weight == null || weight.rank() != 2) throw new IllegalArgumentException("linear: weight must be (out, in), got " + weight);
        if (bias != null && (bias.rank() != 1 || bias.dim(0) != weight.dim(0))) {
            throw new IllegalArgumentException("linear: bias " + bias + " does not match weight " + weight);
        }
    }

    public long in() {
        return weight.dim(1);
    }

    public long out() {
        return weight.dim(0);
    }

    /** x (..., in) → (..., out). */
    public Tensor apply(Ops ops, Tensor x) {
        return ops.gemm(x, weight, bias, true);
    }
}
