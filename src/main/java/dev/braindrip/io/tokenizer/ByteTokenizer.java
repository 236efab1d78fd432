package dev.braindrip.io.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The tokenizer of a byte-level model without a tokenizer file (CLI.md): byte {@code b} is id
 * {@code b + offset}, every other id below {@code vocabSize} is special (Hugging Face's BLT: offset 4,
 * ids 0–3 special; most byte models: offset 0 and the ids from 256 up named in config.json, such as
 * {@code bos_token_id} and {@code eos_token_id}).
 *
 * <p>{@code encode} gives the BOS id (when there is one and special tokens are asked for) and then the
 * text's UTF-8 bytes (a lone UTF-16 surrogate as U+FFFD's). {@code decode} turns byte ids back into
 * bytes and decodes them as Python's {@code bytes.decode("utf-8", errors="replace")} does; a special
 * id is left out when special tokens are skipped and otherwise written as a marker: {@code <bos>} for
 * the BOS id, {@code <eos>} for an EOS id, {@code <special:N>} for any other (bytes on either side of
 * a marker decode apart). There is no chat template.
 */
public final class ByteTokenizer implements Tokenizer {
    private final int vocabSize;
    private final int offset;
    private final int bosId;
    private final Set<Integer> eosIds;

    /**
     * @param vocabSize the model's vocabulary size, at least {@code offset + 256}
     * @param offset the id of byte 0
     * @param bosId the BOS id, or -1 for none; a special id
     * @param eosIds the ids that end generation; special ids
     */
    public ByteTokenizer(int vocabSize, int offset, int bosId, Set<Integer> eosIds) {
        if (offset < 0) throw new IllegalArgumentException("byte offset (" + offset + ") must be >= 0");
        if (vocabSize < offset + 256) {
            throw new IllegalArgumentException("vocabSize (" + vocabSize + ") must hold the 256 byte ids from offset "
                    + offset + " (at least " + (offset + 256) + ")");
        }
        this.vocabSize = vocabSize;
        this.offset = offset;
        if (bosId != -1) checkSpecial("bosId", bosId);
        this.bosId = bosId;
        for (int id : eosIds) checkSpecial("eos id", id);
        this.eosIds = Collections.unmodifiableSortedSet(new TreeSet<>(eosIds));
    }

    /** Byte ids from 0, no BOS and no EOS. */
    public static ByteTokenizer plain() {
        return new ByteTokenizer(256, 0, -1, Set.of());
    }

    private void checkSpecial(String what, int id) {
        if (id < 0 || id >= vocabSize) {
            throw new IllegalArgumentException(what + " (" + id + ") must be in [0, " + vocabSize + ")");
        }
        if (!isSpecial(id)) {
            throw new IllegalArgumentException(what + " (" + id + ") is the id of byte " + (id - offset)
                    + "; special ids are below " + offset + " or from " + (offset + 256) + " up");
        }
    }

    /** The id of byte 0. */
    public int offset() {
        return offset;
    }

    @Override
    public int[] encode(String text, boolean addSpecialTokens) {
        byte[] bytes = Utf8.withoutLoneSurrogates(text).getBytes(StandardCharsets.UTF_8);
        int bos = addSpecialTokens && bosId >= 0 ? 1 : 0;
        int[] ids = new int[bos + bytes.length];
        if (bos == 1) ids[0] = bosId;
        for (int i = 0; i < bytes.length; i++) ids[bos + i] = (bytes[i] & 0xFF) + offset;
        return ids;
    }

    @Override
    public String decode(int[] ids, boolean skipSpecialTokens) {
        return decode(ids, 0, ids.length, skipSpecialTokens);
    }

    private String decode(int[] ids, int from, int to, boolean skipSpecialTokens) {
        StringBuilder out = new StringBuilder();
        byte[] run = new byte[to - from];
        int n = 0;
        for (int i = from; i < to; i++) {
            int id = ids[i];
            if (id < 0 || id >= vocabSize) {
                throw new IllegalArgumentException("token id " + id + " is out of range [0, " + vocabSize + ")");
            }
            if (!isSpecial(id)) {
                run[n++] = (byte) (id - offset);
                continue;
            }
            if (!skipSpecialTokens) {   // a marker ends the bytes before it
                out.append(Utf8.decode(run, 0, n));
                n = 0;
                out.append(marker(id));
            }
        }
        return out.append(Utf8.decode(run, 0, n)).toString();
    }

    private String marker(int id) {
        if (id == bosId) return "<bos>";
        if (eosIds.contains(id)) return "<eos>";
        return "<special:" + id + ">";
    }

    @Override
    public int bosId() {
        return bosId;
    }

    @Override
    public Set<Integer> eosIds() {
        return eosIds;
    }

    @Override
    public boolean isSpecial(int id) {
        return id >= 0 && id < vocabSize && (id < offset || id >= offset + 256);
    }

    @Override
    public int vocabSize() {
        return vocabSize;
    }

    @Override
    public boolean hasChatTemplate() {
        return false;
    }

    @Override
    public String applyChatTemplate(List<Map<String, Object>> messages, boolean addGenerationPrompt) {
        throw new UnsupportedOperationException("a byte-level model without tokenizer files has no chat template; "
                + "give it plain text");
    }

    @Override
    public IncrementalDecoder incremental(boolean skipSpecialTokens) {
        return new PrefixDecoder((ids, from, to) -> decode(ids, from, to, skipSpecialTokens), false);
    }

    @Override
    public void close() {}

    @Override
    public String toString() {
        return "ByteTokenizer[vocabSize=" + vocabSize + ", offset=" + offset + ", bos=" + bosId + ", eos=" + eosIds + "]";
    }
}
