package dev.braindrip.ops.moe;

import dev.braindrip.ops.Ops;
import dev.braindrip.jni.MoeKernels;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Tensor;

/**
 * The routing stage of a MoE layer on its own (moe_route): router logits (T, E) in, each token's
 * k experts, their weights, tokens per expert and the load statistics out. The logits come from a
 * dense GEMM ({@link #logits}), since (T, H) × (H, E) is what a BLAS does best. Which function turns
 * logits into weights is the config's {@link Routing}.
 */
public final class MoeRouter {
    private static final String OP = "moe_route";

    private final Arena arena;
    private final MoeConfig config;
    private final MoeKernels kernels;

    public MoeRouter(Arena arena, MoeConfig config) {
        this.arena = arena;
        this.config = config;
        this.kernels = MoeKernels.of(arena.device().isCuda());
    }

    public MoeConfig config() {
        return config;
    }

    /** logits (T, E) = x (T, H) · router (E, H)ᵀ, in x's dtype. */
    public Tensor logits(Tensor x, Tensor router) {
        return Ops.on(arena).gemm(x, router, null, true);
    }

    /**
     * Routes T tokens. logits: (T, E) F32, F16 or BF16; bias: (E) F32 or null (only TOPK_SOFTMAX and
     * SIGMOID_GROUPED take one; see {@link Routing}).
     */
    public RoutingResult route(Tensor logits, Tensor bias) {
        MoeChecks.onDevice(OP, arena.device(), "logits", logits);
        MoeChecks.onDevice(OP, arena.device(), "router_bias", bias);
        MoeChecks.floatDType(OP, "logits", logits);
        MoeChecks.rank(OP, "logits", logits, 2, "(T, E)");
        int e = config.experts(), k = config.topK();
        long t = logits.dim(0);
        if (logits.dim(1) != e) {
            throw new IllegalArgumentException(OP + ": logits have " + logits.dim(1) + " columns, expected experts (" + e + ")");
        }
        MoeChecks.routerBias(OP, config, bias);
        RoutingResult r = RoutingResult.allocate(arena, t, k, e);
        if (t == 0) return r.zeroed();
        long wsBytes = kernels.moeRouterWorkspaceBytes(t, e);
        try (Tensor ws = wsBytes > 0 ? arena.empty(DType.U8, wsBytes) : null) {
            MoeChecks.status(kernels, kernels.moeRoute(logits.address(), logits.dtype().code(), MoeChecks.address(bias), t, e, k,
                    config.routing().code(), config.normTopk() ? 1 : 0, config.groups(), config.topkGroups(), config.scaling(),
                    config.capacityFactor(), r.topkIds().address(), r.topkWeights().address(), r.tokensPerExpert().address(),
                    r.statsAddress(), MoeChecks.address(ws), wsBytes, 0L), OP);
            return r;
        } catch (RuntimeException ex) {
            r.close();
            throw ex;
        }
    }
}
