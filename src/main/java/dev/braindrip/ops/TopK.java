package dev.braindrip.ops;

import dev.braindrip.tensor.Tensor;

/** Row top-k: values F32 (rows..., k) sorted descending, indices I32 (rows..., k), lower index first on ties. */
public record TopK(Tensor values, Tensor indices) implements AutoCloseable {
    @Override
    public void close() {
        values.close();
        indices.close();
    }
}
