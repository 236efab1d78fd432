package dev.braindrip.generate;

/**
 * One generated token, as a streaming callback sees it: its index in the output, its id, the text
 * it releases (possibly empty: a character still incomplete, or text held back while it could be
 * the start of a stop string), and its logprob entry when requested (else null). A stop id or EOS
 * is not reported. When a sequence ends with text still held back (an incomplete character, the
 * tail kept while it could start a stop string), a last call carries it with {@code token -1}.
 * The callbacks' texts concatenated are the completion's text.
 */
public record GeneratedToken(int index, int token, String text, TokenLogprob logprob) {
}
