package dev.braindrip.ops.moe;

import dev.braindrip.tensor.Tensor;

/**
 * The result of {@link MoeLayer#forward}: y (T, H) in the layer's dtype (the MoE output only; add
 * the residual yourself), the routing decisions and the load statistics. Closing frees every tensor.
 */
public final class MoeOutput implements AutoCloseable {
    private final Tensor y;
    private final RoutingResult routing;

    MoeOutput(Tensor y, RoutingResult routing) {
        this.y = y;
        this.routing = routing;
    }

    /** (T, H). */
    public Tensor y() {
        return y;
    }

    /** (T, k) I32: each token's experts, best first; −1 for a slot dropped by capacity. */
    public Tensor topkIds() {
        return routing.topkIds();
    }

    /** (T, k) F32: the routing weights y was combined with. */
    public Tensor topkWeights() {
        return routing.topkWeights();
    }

    /** (E) I32: slots each expert processed. */
    public Tensor tokensPerExpert() {
        return routing.tokensPerExpert();
    }

    /** Tokens per expert, tokens dropped, load-balancing loss and router z-loss (read from the device once). */
    public MoeStats stats() {
        return routing.stats();
    }

    public RoutingResult routing() {
        return routing;
    }

    @Override
    public void close() {
        MoeChecks.closeAll(y, routing);
    }
}
