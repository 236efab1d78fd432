package dev.braindrip.io.tokenizer;

import java.util.Arrays;
import java.util.function.IntPredicate;

/**
 * Incremental detokenization by the prefix / read offset method of Hugging Face's TextStreamer and
 * vLLM's detokenizer: the text of the ids from {@code prefix} on is compared with the text of
 * {@code ids[prefix, read)}, and the difference is emitted only when it does not end in U+FFFD (an
 * incomplete character). Both texts start at the same id, so a decoder's rule for the first token
 * (SentencePiece's dropped leading space) cancels out, and each emitted piece is the text its ids have
 * in context. The window is only the ids since the last emission and the ones before them, so a step
 * costs a short decode however long the sequence.
 *
 * <p>One more hold-back keeps the result exact for SentencePiece byte fallback: its decoder turns a
 * whole run of {@code <0xXX>} tokens into one U+FFFD per byte when any of the run is not valid
 * UTF-8, so text ending in such a token (the last one the decoder sees; skipped special tokens do
 * not end a run) waits until the run ends. Byte-level BPE and the byte tokenizer decode each
 * character on its own and need no such wait.
 *
 * <p>The concatenation of every {@link #next} and {@link #flush} equals the full decode of the
 * sequence. With Hugging Face's {@code clean_up_tokenization_spaces} the raw pieces pass through
 * {@link SpaceCleanup}, which holds text back only until a point that no clean-up rule can cross.
 */
final class PrefixDecoder implements Tokenizer.IncrementalDecoder {
    /** Decodes {@code ids[from, to)} (raw: without clean-up), throwing on an invalid id. */
    interface RangeDecoder {
        String decode(int[] ids, int from, int to);
    }

    private final RangeDecoder decoder;
    private final SpaceCleanup cleanup;   // null: no clean-up
    private final IntPredicate extendsRun;   // a token whose text a later token may still change
    private final IntPredicate invisible;    // a token the decoder does not see (a skipped special token)
    private int[] ids = new int[16];
    private int size;
    private int prefix;
    private int read;
    private String prefixText = "";

    PrefixDecoder(RangeDecoder decoder, boolean cleanUpSpaces) {
        this(decoder, cleanUpSpaces, id -> false, id -> false);
    }

    PrefixDecoder(RangeDecoder decoder, boolean cleanUpSpaces, IntPredicate extendsRun, IntPredicate invisible) {
        this.decoder = decoder;
        this.cleanup = cleanUpSpaces ? new SpaceCleanup() : null;
        this.extendsRun = extendsRun;
        this.invisible = invisible;
    }

    private boolean runOpen() {
        for (int k = size - 1; k >= prefix; k--) {
            if (!invisible.test(ids[k])) return extendsRun.test(ids[k]);
        }
        return false;
    }

    @Override
    public String next(int id) {
        if (size == ids.length) ids = Arrays.copyOf(ids, size * 2);
        ids[size] = id;
        String text = decoder.decode(ids, prefix, size + 1);   // throws on a bad id, which is then not taken
        size++;
        if (text.length() <= prefixText.length() || text.charAt(text.length() - 1) == Utf8.REPLACEMENT || runOpen()) {
            return "";
        }
        String piece = text.substring(prefixText.length());
        prefix = read;
        read = size;
        prefixText = decoder.decode(ids, prefix, read);
        return cleanup == null ? piece : cleanup.push(piece);
    }

    /** Ends the sequence; ids fed afterwards start a new text. */
    @Override
    public String flush() {
        String rest = "";
        if (read < size) {
            String text = decoder.decode(ids, prefix, size);
            rest = text.length() > prefixText.length() ? text.substring(prefixText.length()) : "";
            prefix = size;
            read = size;
            prefixText = "";
        }
        return cleanup == null ? rest : cleanup.push(rest) + cleanup.flush();
    }
}
