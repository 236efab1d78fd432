package dev.braindrip.generate;

import java.util.List;

/**
 * A finished request: the generated text (null for a model that takes ids only), the generated ids
 * (never the prompt; the EOS or stop id that ended it is not included), why it finished, the
 * prompt and generated token counts, and the per-token logprobs when requested (else empty).
 */
public record Completion(String text, int[] tokens, FinishReason finishReason, int promptTokens, List<TokenLogprob> logprobs) {
    public Completion {
        logprobs = logprobs == null ? List.of() : List.copyOf(logprobs);
    }

    public int generatedTokens() {
        return tokens.length;
    }
}
