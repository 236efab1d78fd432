package dev.braindrip.nn;

import dev.braindrip.ops.Ops;
import dev.braindrip.ops.RopeSpec;
import dev.braindrip.tensor.Tensor;

/**
 * Rotary position embedding of one model: plain θ RoPE through the rope kernel, or a scaled one
 * (linear, Llama 3, YaRN) through the kernel that takes the inverse frequencies and YaRN's factor
 * on cos and sin.
 *
 * @param spec    θ, style and rotary dim (the plain form)
 * @param invFreq scaled inverse frequencies, or null for plain RoPE
 * @param mscale  factor on cos and sin (1 unless YaRN)
 */
public record Rotary(RopeSpec spec, float[] invFreq, float mscale) {
    /** x (T, H, D) at positions (T) I32 → rotated copy. */
    public Tensor apply(Ops ops, Tensor x, Tensor positions) {
        if (invFreq == null) return ops.rope(x, positions, spec);
        return ops.ropeFreqs(x, positions, spec.style(), invFreq, mscale);
    }
}
