package dev.braindrip.nn;

import dev.braindrip.ops.Activation;
import dev.braindrip.ops.Glu;
import dev.braindrip.ops.Ops;
import dev.braindrip.tensor.Tensor;

/**
 * Dense FFN. Gated: one GEMM with the fused (2F, H) gate|up weight, the GLU (SwiGLU, GeGLU erf or
 * tanh) over its two halves, then down. Plain: up, the activation, down (GPT-2, BERT).
 */
public final class FeedForward {
    private final Linear up;     // gated: gate|up (2F, H); plain: up (F, H)
    private final Linear down;   // (H, F)
    private final Glu glu;       // gated
    private final Activation act; // plain

    private FeedForward(Linear up, Linear down, Glu glu, Activation act) {
        this.up = up;
        this.down = down;
        this.glu = glu;
        this.act = act;
    }

    public static FeedForward gated(Linear gateUp, Linear down, Glu glu) {
        if (gateUp.out() != 2 * down.in()) {
            throw new IllegalArgumentException("gated ffn: gate|up gives " + gateUp.out() + " columns, down takes " + down.in() + " (need 2x)");
        }
        return new FeedForward(gateUp, down, glu, null);
    }

    public static FeedForward plain(Linear up, Linear down, Activation act) {
        if (up.out() != down.in()) throw new IllegalArgumentException("ffn: up gives " + up.out() + ", down takes " + down.in());
        return new FeedForward(up, down, null, act);
    }

    /** x (T, H) → (T, H). */
    public Tensor apply(Ops ops, Tensor x) {
        try (Tensor h = up.apply(ops, x); Tensor a = glu != null ? ops.glu(h, glu) : ops.activation(h, act)) {
            return down.apply(ops, a);
        }
    }
}
