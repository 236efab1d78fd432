package dev.braindrip.nn;

import dev.braindrip.ops.Ops;
import dev.braindrip.ops.moe.MoeLayer;
import dev.braindrip.ops.moe.MoeOutput;
import dev.braindrip.tensor.Tensor;

/** A MoE FFN: the fused MoE op (router GEMM, routing, grouped expert GEMMs, combine, shared expert). */
public final class MoeFeedForward {
    private final MoeLayer layer;

    public MoeFeedForward(MoeLayer layer) {
        this.layer = layer;
    }

    public MoeLayer layer() {
        return layer;
    }

    /** x (T, H) → (T, H); the routing statistics are dropped. */
    public Tensor apply(Ops ops, Tensor x) {
        MoeOutput out = layer.forward(x);
        try {
            out.routing().close();
        } catch (RuntimeException e) {
            out.y().close();
            throw e;
        }
        return out.y();
    }
}
