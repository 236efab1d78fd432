package dev.braindrip.nn;

import dev.braindrip.ops.Activation;
import dev.braindrip.ops.Glu;
import dev.braindrip.ops.Ops;
import dev.braindrip.tensor.Tensor;

/**
 * Dense FFN. Gated: one GEMM with the fused (2F, H) gate|up weight, the GLU (SwiGLU, GeGLU erf or
 * tanh, or Phi-3-small's clamped GeGELU) over its two halves, then down. Plain: up, the activation,
 * down (GPT-2, BERT).
 */
public final class FeedForward {
    private final Linear up;     // gated: gate|up (2F, H); plain: up (F, H)
    private final Linear down;   // (H, F)
    private final Glu glu;       // gated
    private final Activation act; // plain
    private final float limit;    // clamped GeGELU's limit (+inf: no clamp), NaN for the others

    private FeedForward(Linear up, Linear down, Glu glu, Activation act) {
        this(up, down, glu, act, Float.NaN);
    }

    private FeedForward(Linear up, Linear down, Glu glu, Activation act, float limit) {
        this.up = up;
        this.down = down;
        this.glu = glu;
        this.act = act;
        this.limit = limit;
    }

    public static FeedForward gated(Linear gateUp, Linear down, Glu glu) {
        if (gateUp.out() != 2 * down.in()) {
            throw new IllegalArgumentException("gated ffn: gate|up gives " + gateUp.out() + " columns, down takes " + down.in() + " (need 2x)");
        }
        return new FeedForward(gateUp, down, glu, null);
    }

    /** Phi-3-small's gated FFN: {@link Ops#gluClamped} with {@code limit} (+inf: no clamp) over the [gate; up] halves. */
    public static FeedForward gatedClamped(Linear gateUp, Linear down, float limit) {
        FeedForward f = gated(gateUp, down, null);
        if (!(limit > 0)) throw new IllegalArgumentException("gated ffn: clamp limit (" + limit + ") must be > 0 (+inf: no clamp)");
        return new FeedForward(f.up, f.down, null, null, limit);
    }

    public static FeedForward plain(Linear up, Linear down, Activation act) {
        if (up.out() != down.in()) throw new IllegalArgumentException("ffn: up gives " + up.out() + ", down takes " + down.in());
        return new FeedForward(up, down, null, act);
    }

    /** x (T, H) → (T, H). */
    public Tensor apply(Ops ops, Tensor x) {
        try (Tensor h = up.apply(ops, x);
             Tensor a = glu != null ? ops.glu(h, glu) : act != null ? ops.activation(h, act) : ops.gluClamped(h, limit)) {
            return down.apply(ops, a);
        }
    }
}
