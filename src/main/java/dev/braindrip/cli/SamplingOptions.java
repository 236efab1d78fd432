package dev.braindrip.cli;

import dev.braindrip.generate.SamplingParams;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * The sampling options of {@code braindrip generate} (CLI.md), as a picocli mixin: the values for
 * prompt lines that omit the field of the same name. Shared with the Spark job, so both take the
 * same options with the same defaults and checks.
 */
public final class SamplingOptions {
    @Option(names = "--max-tokens", defaultValue = "128", paramLabel = "N", description = "Tokens to generate per line (default: ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--temperature", defaultValue = "1", paramLabel = "T", description = "0 is greedy (default: ${DEFAULT-VALUE}).")
    float temperature;

    @Option(names = "--top-k", defaultValue = "-1", paramLabel = "K", description = "Keep the K most likely ids; 0 or -1: off (default: ${DEFAULT-VALUE}).")
    int topK;

    @Option(names = "--top-p", defaultValue = "1", paramLabel = "P", description = "Nucleus sampling (default: ${DEFAULT-VALUE}).")
    float topP;

    @Option(names = "--min-p", defaultValue = "0", paramLabel = "P", description = "Min-p sampling (default: ${DEFAULT-VALUE}).")
    float minP;

    @Option(names = "--repetition-penalty", defaultValue = "1", paramLabel = "R", description = "(default: ${DEFAULT-VALUE}: off).")
    float repetitionPenalty;

    @Option(names = "--presence-penalty", defaultValue = "0", paramLabel = "P", description = "(default: ${DEFAULT-VALUE}: off).")
    float presencePenalty;

    @Option(names = "--frequency-penalty", defaultValue = "0", paramLabel = "F", description = "(default: ${DEFAULT-VALUE}: off).")
    float frequencyPenalty;

    @Option(names = "--stop", paramLabel = "TEXT", description = "A stop string (repeatable).")
    List<String> stop;

    @Option(names = "--ignore-eos", description = "Keep generating past the model's EOS.")
    boolean ignoreEos;

    @Option(names = "--logprobs", defaultValue = "0", paramLabel = "N", description = "Report the N most likely ids per generated token (default: none).")
    int logprobs;

    /**
     * The options as sampling defaults, checked as {@link SamplingParams} checks them; a bad value
     * throws "usage: --top-p must be in (0, 1], got 1.5" (the option's name in place of the field's).
     */
    public SamplingParams params() {
        try {
            return SamplingParams.builder().maxTokens(maxTokens).temperature(temperature).topK(topK).topP(topP).minP(minP)
                    .repetitionPenalty(repetitionPenalty).presencePenalty(presencePenalty).frequencyPenalty(frequencyPenalty)
                    .stop(stop == null ? List.of() : stop).ignoreEos(ignoreEos).logprobs(logprobs).build();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("usage: --" + e.getMessage().replace('_', '-'));
        }
    }
}
