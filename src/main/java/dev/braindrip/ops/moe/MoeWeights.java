package dev.braindrip.ops.moe;

import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import dev.braindrip.tensor.Tensor;

/**
 * The tensors of a MoE layer, in Hugging Face nn.Linear layout (out, in). The caller owns them;
 * a {@link MoeLayer} only reads them. Float tensors share one dtype, except the router bias (F32:
 * routing is F32 throughout).
 *
 * @param router     router (E, H)
 * @param routerBias router_bias (E) F32 or null: TOPK_SOFTMAX's own router bias, or SIGMOID_GROUPED's selection-only correction bias
 * @param wGate      w_gate (E, F, H); (E, 2F, H) for the INTERLEAVED and CONCAT layouts
 * @param wUp        w_up (E, F, H); null for INTERLEAVED and CONCAT
 * @param bGate      b_gate (E, F) ((E, 2F) fused) or null
 * @param bUp        b_up (E, F) or null
 * @param wDown      w_down (E, H, F)
 * @param bDown      b_down (E, H) or null
 * @param shared     the shared expert or null
 */
public record MoeWeights(Tensor router, Tensor routerBias, Tensor wGate, Tensor wUp, Tensor bGate, Tensor bUp, Tensor wDown,
                         Tensor bDown, SharedExpert shared) {
    /** The common case: router, gate, up and down, nothing else. */
    public static MoeWeights of(Tensor router, Tensor wGate, Tensor wUp, Tensor wDown) {
        return new MoeWeights(router, null, wGate, wUp, null, null, wDown, null, null);
    }

    public MoeWeights withRouterBias(Tensor bias) {
        return new MoeWeights(router, bias, wGate, wUp, bGate, bUp, wDown, bDown, shared);
    }

    public MoeWeights withBiases(Tensor gateBias, Tensor upBias, Tensor downBias) {
        return new MoeWeights(router, routerBias, wGate, wUp, gateBias, upBias, wDown, downBias, shared);
    }

    public MoeWeights withShared(SharedExpert s) {
        return new MoeWeights(router, routerBias, wGate, wUp, bGate, bUp, wDown, bDown, s);
    }

    /** H. */
    public long hidden() {
        return router.dim(1);
    }

    /** F, the width of one expert. */
    public long ffn() {
        return wDown.dim(2);
    }

    /** The storage type of x, the weights and the outputs. */
    public DType dtype() {
        return router.dtype();
    }

    /** Checks every tensor against the config: shapes, dtypes, device; throws IllegalArgumentException naming the tensor. */
    void check(String op, MoeConfig c, Device device) {
        if (router == null || wGate == null || wDown == null) throw new IllegalArgumentException(op + ": router, w_gate and w_down are required");
        named(op, device);
        MoeChecks.floatDType(op, "router", router);
        MoeChecks.rank(op, "router", router, 2, "(E, H)");
        MoeChecks.rank(op, "w_down", wDown, 3, "(E, H, F)");
        long e = c.experts(), h = hidden(), f = ffn();
        if (router.dim(0) != e) {
            throw new IllegalArgumentException(op + ": router has " + router.dim(0) + " rows, expected experts (" + e + ")");
        }
        MoeChecks.shape(op, "w_down", wDown, "(E, H, F)", e, h, f);
        boolean fused = c.gateUpLayout() != GateUpLayout.SEPARATE;
        long gateRows = fused ? 2 * f : f;
        MoeChecks.shape(op, "w_gate", wGate, fused ? "(E, 2F, H)" : "(E, F, H)", e, gateRows, h);
        if (fused) {
            if (wUp != null || bUp != null) {
                throw new IllegalArgumentException(op + ": w_up and b_up must be absent with the " + c.gateUpLayout() + " gate/up layout");
            }
        } else {
            if (wUp == null) throw new IllegalArgumentException(op + ": w_up is required with the SEPARATE gate/up layout");
            MoeChecks.shape(op, "w_up", wUp, "(E, F, H)", e, f, h);
        }
        if (bGate != null) MoeChecks.shape(op, "b_gate", bGate, fused ? "(E, 2F)" : "(E, F)", e, gateRows);
        if (bUp != null) MoeChecks.shape(op, "b_up", bUp, "(E, F)", e, f);
        if (bDown != null) MoeChecks.shape(op, "b_down", bDown, "(E, H)", e, h);
        sameDType(op, "w_gate", wGate);
        sameDType(op, "w_up", wUp);
        sameDType(op, "b_gate", bGate);
        sameDType(op, "b_up", bUp);
        sameDType(op, "w_down", wDown);
        sameDType(op, "b_down", bDown);
        MoeChecks.routerBias(op, c, routerBias);
        if (shared != null) checkShared(op, c, h);
    }

    private void checkShared(String op, MoeConfig c, long h) {
        if (shared.gate() == null || shared.up() == null || shared.down() == null) {
            throw new IllegalArgumentException(op + ": the shared expert needs s_gate, s_up and s_down");
        }
        MoeChecks.rank(op, "s_gate", shared.gate(), 2, "(Fs, H)");
        long fs = shared.ffn();
        MoeChecks.shape(op, "s_gate", shared.gate(), "(Fs, H)", fs, h);
        MoeChecks.shape(op, "s_up", shared.up(), "(Fs, H)", fs, h);
        MoeChecks.shape(op, "s_down", shared.down(), "(H, Fs)", h, fs);
        sameDType(op, "s_gate", shared.gate());
        sameDType(op, "s_up", shared.up());
        sameDType(op, "s_down", shared.down());
        if (shared.router() != null) {
            MoeChecks.shape(op, "s_router", shared.router(), "(1, H)", 1, h);
            sameDType(op, "s_router", shared.router());
        }
        if (c.activation() == ExpertActivation.GPTOSS_CLAMPED) {
            throw new UnsupportedOperationException(op + ": a shared expert with the gptoss-clamped activation is not supported"
                    + " (no model has one; the dense path offers swiglu, geglu and geglu_tanh)");
        }
    }

    private void sameDType(String op, String name, Tensor t) {
        if (t != null && t.dtype() != router.dtype()) {
            throw new IllegalArgumentException(op + ": " + name + " is " + t.dtype() + ", expected " + router.dtype() + " like router");
        }
    }

    private void named(String op, Device device) {
        MoeChecks.onDevice(op, device, "router", router);
        MoeChecks.onDevice(op, device, "router_bias", routerBias);
        MoeChecks.onDevice(op, device, "w_gate", wGate);
        MoeChecks.onDevice(op, device, "w_up", wUp);
        MoeChecks.onDevice(op, device, "b_gate", bGate);
        MoeChecks.onDevice(op, device, "b_up", bUp);
        MoeChecks.onDevice(op, device, "w_down", wDown);
        MoeChecks.onDevice(op, device, "b_down", bDown);
        if (shared != null) {
            MoeChecks.onDevice(op, device, "s_gate", shared.gate());
            MoeChecks.onDevice(op, device, "s_up", shared.up());
            MoeChecks.onDevice(op, device, "s_down", shared.down());
            MoeChecks.onDevice(op, device, "s_router", shared.router());
        }
    }
}
