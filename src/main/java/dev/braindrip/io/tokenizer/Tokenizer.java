package dev.braindrip.io.tokenizer;

import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Text to token ids and back, for one model: a Hugging Face {@code tokenizer.json} (through the
 * Hugging Face tokenizers library, {@link HfTokenizer}) or the byte-level mapping of a model without a
 * tokenizer file ({@link ByteTokenizer}); {@link Tokenizers#forModel} picks one for a model directory.
 * Instances are safe for use from several threads; {@link #incremental(boolean)} decoders are not.
 */
public interface Tokenizer extends AutoCloseable {
    /** Ids of {@code text}; with {@code addSpecialTokens} the model's BOS / template tokens are added as Hugging Face adds them. */
    int[] encode(String text, boolean addSpecialTokens);

    /**
     * Text of {@code ids}; special tokens are left out when {@code skipSpecialTokens}.
     *
     * @throws IllegalArgumentException naming the id when an id is not in the vocabulary
     */
    String decode(int[] ids, boolean skipSpecialTokens);

    /** The BOS id, or -1 when the model has none. */
    int bosId();

    /** Ids that end generation (EOS and the ids tokenizer_config / generation config name as such); empty when none. */
    Set<Integer> eosIds();

    /** Whether the id is a special (added, control) token. */
    boolean isSpecial(int id);

    /** The number of ids this tokenizer can produce. */
    int vocabSize();

    /** Whether a chat template is available ({@link #applyChatTemplate}). */
    boolean hasChatTemplate();

    /**
     * The prompt text of a chat, rendered with the model's template (tokenizer_config.json's
     * {@code chat_template}), with {@code add_generation_prompt} set as given; encode it with
     * {@code addSpecialTokens = false} (the template writes the BOS itself).
     *
     * @throws UnsupportedOperationException when there is no template (saying why)
     * @throws ChatTemplateException when the template refuses the chat ({@code raise_exception}) or fails
     */
    String applyChatTemplate(List<Map<String, Object>> messages, boolean addGenerationPrompt);

    /**
     * A decoder fed one id at a time that returns only complete text (never half a UTF-8 character);
     * everything it returns, the {@link IncrementalDecoder#flush} included, is exactly
     * {@code decode(allIds, skipSpecialTokens)}, spaces of SentencePiece tokenizers included.
     */
    IncrementalDecoder incremental(boolean skipSpecialTokens);

    @Override
    void close();

    /** Streaming detokenization of one sequence. */
    interface IncrementalDecoder {
        /**
         * Feeds the next id; returns the text it completes (possibly empty).
         *
         * @throws IllegalArgumentException for an id not in the vocabulary (which is then not taken)
         */
        String next(int id);

        /** The text still held back at the end of the sequence (an incomplete character is flushed as U+FFFD). */
        String flush();
    }
}
