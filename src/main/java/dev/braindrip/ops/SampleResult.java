package dev.braindrip.ops;

import dev.braindrip.tensor.Tensor;

/**
 * What {@link Ops#sample} brings back to the host, per row: the chosen id, its logprob under the raw
 * logits (log_softmax before penalties, temperature and truncation), and the row's requested top
 * logprobs (the most likely ids of the raw logits, most likely first, lower id first on ties; entries
 * past the vocabulary are −1 / −inf). {@code topIds[r]} has the length row r asked for (an empty
 * array when none). {@code processed} is null unless asked for: F32 (rows, vocab) on the device, the
 * logits the draw used (−inf for every removed id; greedy rows: the penalized logits), owned by the
 * caller ({@link #close} frees it).
 */
public record SampleResult(int[] ids, float[] logprobs, int[][] topIds, float[][] topLogprobs, Tensor processed)
        implements AutoCloseable {
    @Override
    public void close() {
        if (processed != null) processed.close();
    }
}
