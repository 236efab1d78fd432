package dev.braindrip.ops.moe;

import dev.braindrip.ops.Ops;

import dev.braindrip.tensor.Tensor;

/**
 * A shared expert that every token passes through besides its routed ones:
 * y += g · s_down(act(s_gate · x) ⊙ s_up · x), with g = sigmoid(s_router · x) when {@code router} is
 * given (Qwen2-MoE) and g = 1 without it (DeepSeek-V3). Run with dense GEMMs; uses the layer's
 * activation.
 *
 * @param gate   s_gate (Fs, H)
 * @param up     s_up (Fs, H)
 * @param down   s_down (H, Fs)
 * @param router s_router (1, H) or null
 */
public record SharedExpert(Tensor gate, Tensor up, Tensor down, Tensor router) {
    public long ffn() {
        return gate.dim(0);
    }

    /** s_down(act(s_gate · x) ⊙ s_up · x) for x (T, H) by dense GEMMs: (T, H), ungated. */
    public Tensor apply(Ops ops, Tensor x, ExpertActivation act) {
        try (Tensor g = ops.gemm(x, gate, null, true);
             Tensor u = ops.gemm(x, up, null, true);
             Tensor a = ops.activation(g, act.gateActivation());
             Tensor au = ops.mul(a, u)) {
            return ops.gemm(au, down, null, true);
        }
    }
}
