package dev.braindrip.ops;

import dev.braindrip.tensor.Tensor;

/** Output of a fused residual-add + norm: the normalized value and the new residual stream. */
public record NormResult(Tensor normed, Tensor sum) implements AutoCloseable {
    @Override
    public void close() {
        normed.close();
        sum.close();
    }
}
