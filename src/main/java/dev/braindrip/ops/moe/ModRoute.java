package dev.braindrip.ops.moe;

import dev.braindrip.tensor.Tensor;

/**
 * Which tokens of one sequence a Mixture-of-Depths router sends through its block.
 *
 * @param tokens    T, the sequence length
 * @param scores    (T) F32: the router score r = x · router of every token
 * @param selected  (count) I32: the chosen tokens in sequence order
 * @param weights   (count) F32: their scores, by which the block's update is scaled
 * @param threshold the k-th largest score for top-k routing (the value to calibrate the causal rule
 *                  with); the threshold that was applied for causal routing
 */
public record ModRoute(long tokens, Tensor scores, Tensor selected, Tensor weights, float threshold) implements AutoCloseable {
    /** Tokens that go through the block. */
    public long count() {
        return selected.numel();
    }

    /** Tokens that skip the block (ride the residual). */
    public long skipped() {
        return tokens - count();
    }

    /** FLOPs the routing saved against running the block on all T tokens: skipped · blockFlopsPerToken. */
    public double flopsSaved(double blockFlopsPerToken) {
        return skipped() * blockFlopsPerToken;
    }

    @Override
    public void close() {
        MoeChecks.closeAll(scores, selected, weights);
    }
}
