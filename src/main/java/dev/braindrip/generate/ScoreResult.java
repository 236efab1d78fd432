package dev.braindrip.generate;

/**
 * What {@link Scorer} measured over one text.
 *
 * @param tokens      ids in the text (with a BOS when the text has one); the first is context only,
 *                    so {@code tokens - 1} are scored
 * @param bytes       UTF-8 bytes of the text, or -1 when unknown (ids scored directly)
 * @param meanNll     mean negative log-likelihood of the scored tokens, in nats
 * @param perplexity  exp(meanNll)
 * @param bitsPerByte total NLL / ln 2 / bytes; NaN when {@code bytes} is unknown
 * @param window      tokens per window
 * @param stride      tokens each window advances by
 */
public record ScoreResult(int tokens, long bytes, double meanNll, double perplexity, double bitsPerByte, int window, int stride) {
    /** The tokens whose likelihood was measured: all but the first. */
    public int scoredTokens() {
        return tokens - 1;
    }

    /** Sum of the scored tokens' negative log-likelihoods, in nats. */
    public double totalNll() {
        return meanNll * scoredTokens();
    }

    public boolean hasBytes() {
        return bytes >= 0;
    }
}
