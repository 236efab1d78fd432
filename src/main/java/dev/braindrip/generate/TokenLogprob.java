package dev.braindrip.generate;

/**
 * The log-probability of a generated token under the model's raw logits at its step (log-softmax
 * before penalties, temperature and truncation), and the {@code topIds.length} most likely ids with
 * theirs, most likely first.
 */
public record TokenLogprob(int token, float logprob, int[] topIds, float[] topLogprobs) {
}
