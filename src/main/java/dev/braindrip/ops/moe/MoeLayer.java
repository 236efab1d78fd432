package dev.braindrip.ops.moe;

import dev.braindrip.ops.Ops;
import dev.braindrip.jni.MoeKernels;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Tensor;

/**
 * A Mixture-of-Experts feed-forward layer: router GEMM (dense, BLAS) → moe_forward (route, then
 * align + one grouped gate/up GEMM with the activation fused + one grouped down GEMM that scales by
 * the routing weight, or the decode GEMVs for small batches, then a fixed-order combine) → y.
 * An optional shared expert runs as dense GEMMs and is added, gated, in the combine.
 *
 * <pre>{@code
 * MoeConfig c = MoeConfig.builder().experts(8).topK(2).normTopk(true).build();   // Mixtral
 * MoeLayer moe = new MoeLayer(arena, c, MoeWeights.of(router, wGate, wUp, wDown));
 * try (MoeOutput out = moe.forward(x)) {                                       // x (T, H)
 *     Tensor y = out.y();                                                       // (T, H), add the residual
 *     double aux = out.stats().loadBalancingLoss();
 * }
 * }</pre>
 *
 * Outputs and scratch come from the arena given here; the weights stay the caller's. Scratch is
 * sized by the kernels' own workspace query and returned to the arena's pool after the call.
 */
public final class MoeLayer {
    private static final String OP = "moe";

    private final Arena arena;
    private final MoeConfig config;
    private final MoeWeights weights;
    private final MoeKernels kernels;

    /** Checks every weight against the config and asks the backend whether it runs this configuration. */
    public MoeLayer(Arena arena, MoeConfig config, MoeWeights weights) {
        this.arena = arena;
        this.config = config;
        this.weights = weights;
        this.kernels = MoeKernels.of(arena.device().isCuda());
        weights.check(OP, config, arena.device());
        MoeChecks.status(kernels, kernels.moeSupports(weights.dtype().code(), weights.hidden(), weights.ffn(), config.experts(),
                config.topK(), config.routing().code(), config.groups(), config.topkGroups(), config.activation().code(),
                config.gateUpLayout().code()), OP);
    }

    public MoeConfig config() {
        return config;
    }

    public MoeWeights weights() {
        return weights;
    }

    public Arena arena() {
        return arena;
    }

    /** The expert-GEMM path a batch of {@code tokens} takes (the config's path unless AUTO). */
    public ExpertPath pathFor(long tokens) {
        if (config.path() != ExpertPath.AUTO) return config.path();
        int code = kernels.moeGemmPath(tokens, config.topK(), weights.hidden(), weights.ffn(), weights.dtype().code());
        if (code < 0) throw new IllegalArgumentException(OP + ": " + kernels.lastError());
        return ExpertPath.of(code);
    }

    /** Runs the layer on x (T, H) in the weights' dtype. */
    public MoeOutput forward(Tensor x) {
        MoeChecks.onDevice(OP, arena.device(), "x", x);
        MoeChecks.rank(OP, "x", x, 2, "(T, H)");
        MoeChecks.dtype(OP, "x", x, weights.dtype());
        long t = x.dim(0), h = weights.hidden(), f = weights.ffn();
        if (x.dim(1) != h) throw new IllegalArgumentException(OP + ": x has hidden size " + x.dim(1) + ", expected " + h + " (router is (E, H))");
        int e = config.experts(), k = config.topK();
        DType dt = weights.dtype();
        Tensor y = arena.empty(dt, t, h);
        RoutingResult r = null;
        try {
            r = RoutingResult.allocate(arena, t, k, e);
            if (t == 0) return new MoeOutput(y, r.zeroed());
            Tensor logits = null, shared = null, sharedGate = null, ws = null;
            try {
                logits = Ops.on(arena).gemm(x, weights.router(), null, true);
                if (weights.shared() != null) {
                    shared = weights.shared().apply(Ops.on(arena), x, config.activation());
                    sharedGate = sharedGateLogits(x);
                }
                long wsBytes = kernels.moeWorkspaceBytes(t, h, f, e, k, dt.code());
                if (wsBytes < 0) throw new IllegalArgumentException(OP + ": " + kernels.lastError());
                ws = wsBytes > 0 ? arena.empty(DType.U8, wsBytes) : null;
                MoeWeights w = weights;
                MoeChecks.status(kernels, kernels.moeForward(logits.address(), logits.dtype().code(), MoeChecks.address(w.routerBias()),
                        x.address(), t, h, f, e, k, config.routing().code(), config.normTopk() ? 1 : 0, config.groups(), config.topkGroups(),
                        config.scaling(), config.capacityFactor(), w.wGate().address(), MoeChecks.address(w.wUp()),
                        MoeChecks.address(w.bGate()), MoeChecks.address(w.bUp()), config.gateUpLayout().code(), config.activation().code(),
                        w.wDown().address(), MoeChecks.address(w.bDown()), MoeChecks.address(shared), MoeChecks.address(sharedGate),
                        y.address(), r.topkIds().address(), r.topkWeights().address(), r.tokensPerExpert().address(), r.statsAddress(),
                        config.path().code(), MoeChecks.address(ws), wsBytes, dt.code(), 0L), OP);
            } finally {
                MoeChecks.closeAll(logits, shared, sharedGate, ws);
            }
            return new MoeOutput(y, r);
        } catch (RuntimeException ex) {
            MoeChecks.closeAll(y, r);
            throw ex;
        }
    }

    /** s_router · x as F32 (T, 1), or null when the shared expert is ungated. */
    private Tensor sharedGateLogits(Tensor x) {
        Tensor router = weights.shared().router();
        if (router == null) return null;
        Tensor logits = Ops.on(arena).gemm(x, router, null, true);
        if (logits.dtype() == DType.F32) return logits;
        try (logits) {
            return Ops.on(arena).convert(logits, DType.F32);
        }
    }
}
