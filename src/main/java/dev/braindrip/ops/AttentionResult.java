package dev.braindrip.ops;

import dev.braindrip.tensor.Tensor;

/**
 * Output of a fused attention call: {@code o} in the storage dtype of the inputs, (B, Sq, Hq, Dv)
 * or packed (totalQ, Hq, Dv); {@code lse} F32, the natural log of each row's softmax denominator
 * (learned sink included), (B, Hq, Sq) or packed (totalQ, Hq). A row that sees no key has o = 0 and
 * lse = −inf (with learned sinks: lse = its sink). Closing it closes both tensors.
 */
public record AttentionResult(Tensor o, Tensor lse) implements AutoCloseable {
    @Override
    public void close() {
        o.close();
        lse.close();
    }
}
