package dev.braindrip.generate;

import dev.braindrip.model.Session;

/**
 * How a {@link Generator} runs: at most {@code maxBatch} sequences decode together; their KV caches
 * together stay within {@code kvBudgetBytes} (requests wait when it is full); each sequence holds
 * up to {@code maxSequenceLength} tokens (0: the model's context); {@code maxPrefillTokens} bounds
 * the prompt tokens one prefill call takes (the activation memory of a step); {@code streaming}
 * turns every full-attention layer into a StreamingLLM cache (null: off); {@code seed} is the
 * default seed (a request without one uses seed + its submission index).
 */
public record GeneratorOptions(int maxBatch, long kvBudgetBytes, int maxSequenceLength, int maxPrefillTokens, Session.Streaming streaming,
                               long seed) {
    public static final long DEFAULT_KV_BUDGET = 4L << 30;

    public GeneratorOptions {
        if (maxBatch < 1) throw new IllegalArgumentException("maxBatch (" + maxBatch + ") must be >= 1");
        if (kvBudgetBytes < 1) throw new IllegalArgumentException("kvBudgetBytes (" + kvBudgetBytes + ") must be > 0");
        if (maxSequenceLength < 0) throw new IllegalArgumentException("maxSequenceLength (" + maxSequenceLength + ") must be >= 0 (0: the model's context)");
        if (maxPrefillTokens < 1) throw new IllegalArgumentException("maxPrefillTokens (" + maxPrefillTokens + ") must be >= 1");
    }

    /** Batch 64, a 4 GiB KV budget, the model's context, 4096 prefill tokens per call, no streaming, seed 0. */
    public static GeneratorOptions defaults() {
        return new GeneratorOptions(64, DEFAULT_KV_BUDGET, 0, 4096, null, 0L);
    }

    public GeneratorOptions maxBatch(int v) {
        return new GeneratorOptions(v, kvBudgetBytes, maxSequenceLength, maxPrefillTokens, streaming, seed);
    }

    public GeneratorOptions kvBudgetBytes(long v) {
        return new GeneratorOptions(maxBatch, v, maxSequenceLength, maxPrefillTokens, streaming, seed);
    }

    public GeneratorOptions maxSequenceLength(int v) {
        return new GeneratorOptions(maxBatch, kvBudgetBytes, v, maxPrefillTokens, streaming, seed);
    }

    public GeneratorOptions maxPrefillTokens(int v) {
        return new GeneratorOptions(maxBatch, kvBudgetBytes, maxSequenceLength, v, streaming, seed);
    }

    /** StreamingLLM with {@code sinks} sink tokens and a window of {@code window} recent ones. */
    public GeneratorOptions streaming(int sinks, int window) {
        return new GeneratorOptions(maxBatch, kvBudgetBytes, maxSequenceLength, maxPrefillTokens, new Session.Streaming(sinks, window), seed);
    }

    public GeneratorOptions streaming(Session.Streaming v) {
        return new GeneratorOptions(maxBatch, kvBudgetBytes, maxSequenceLength, maxPrefillTokens, v, seed);
    }

    public GeneratorOptions seed(long v) {
        return new GeneratorOptions(maxBatch, kvBudgetBytes, maxSequenceLength, maxPrefillTokens, streaming, v);
    }
}
