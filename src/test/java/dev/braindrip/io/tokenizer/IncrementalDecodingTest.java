package dev.braindrip.io.tokenizer;

import static dev.braindrip.io.tokenizer.TinyTokenizers.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Streaming detokenization: the pieces of {@code incremental()} never split a character, and
 * together with {@code flush()} they are exactly {@code decode(allIds)}, for byte-level BPE, byte
 * fallback, SentencePiece spaces, clean-up and the byte tokenizer, on random id sequences (seeded;
 * the seed is in every failure message) and on the ids of tricky texts.
 */
class IncrementalDecodingTest {
    @TempDir
    Path tmp;

    private static final long SEED = Long.getLong("braindrip.tokenizerSeed", new SplittableRandom().nextLong());
    /** More sequences per case with -Dbraindrip.tokenizerFuzz=N. */
    private static final int SCALE = Integer.getInteger("braindrip.tokenizerFuzz", 1);

    /** The pieces, one per id, then the flush. */
    static List<String> pieces(Tokenizer t, int[] ids, boolean skip) {
        Tokenizer.IncrementalDecoder d = t.incremental(skip);
        List<String> out = new ArrayList<>();
        for (int id : ids) out.add(d.next(id));
        out.add(d.flush());
        return out;
    }

    static String joined(List<String> pieces) {
        return String.join("", pieces);
    }

    private HfTokenizer load(String name, ObjectNode json, Map<String, String> files) throws Exception {
        return HfTokenizer.load(dir(tmp, name, json, files), TokenizerHints.NONE);
    }

    /** Random ids biased towards what makes streaming hard: multi-byte pieces, specials, spaces. */
    private static int[] randomIds(SplittableRandom r, int vocab, int[] hard, int maxLen) {
        int[] ids = new int[r.nextInt(maxLen + 1)];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = r.nextInt(3) == 0 ? r.nextInt(vocab) : hard[r.nextInt(hard.length)];
        }
        return ids;
    }

    private static void checkRandom(String name, Tokenizer t, int[] hard, int sequences) {
        SplittableRandom r = new SplittableRandom(SEED ^ name.hashCode());
        for (int k = 0; k < sequences * SCALE; k++) {
            int[] ids = randomIds(r, t.vocabSize(), hard, 40);
            for (boolean skip : new boolean[] {false, true}) {
                List<String> p = pieces(t, ids, skip);
                assertEquals(t.decode(ids, skip), joined(p), () -> name + " seed " + SEED + " skip " + skip + " ids "
                        + java.util.Arrays.toString(ids) + " pieces " + p);
                for (String piece : p) {
                    assertFalse(!piece.isEmpty() && Character.isHighSurrogate(piece.charAt(piece.length() - 1)),
                            () -> name + " seed " + SEED + ": a piece ends inside a surrogate pair: " + p);
                }
            }
        }
    }

    private static void checkTexts(String name, Tokenizer t, boolean addSpecial) {
        for (String s : HfTokenizerTest.TRICKY) {
            int[] ids = t.encode(s, addSpecial);
            List<String> p = pieces(t, ids, true);
            assertEquals(t.decode(ids, true), joined(p), name + ": " + s);
            for (String piece : p) assertFalse(piece.contains("\uFFFD"), () -> name + ": half a character emitted for '" + s + "': " + p);
        }
    }

    private static int[] range(int from, int to) {
        int[] out = new int[to - from];
        for (int i = from; i < to; i++) out[i - from] = i;
        return out;
    }

    private static int[] concat(int[]... parts) {
        int n = 0;
        for (int[] p : parts) n += p.length;
        int[] out = new int[n];
        int at = 0;
        for (int[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }

    @Test
    void byteLevelBpe() throws Exception {
        try (HfTokenizer g = load("gpt2", gpt2(), Map.of()); HfTokenizer l = load("llama3", llama3(), Map.of())) {
            // € is E2 82 AC: nothing until its last byte
            assertEquals(List.of("", "", "€", ""), pieces(g, new int[] {0xE2, 0x82, 0xAC}, false));
            // 🤖 is F0 9F A4 96
            assertEquals(List.of("a", "", "", "", "🤖", ""), pieces(g, new int[] {'a', 0xF0, 0x9F, 0xA4, 0x96}, false));
            // an unfinished character comes out at the flush, as decode writes it
            assertEquals(List.of("x", "", "", "\uFFFD"), pieces(g, new int[] {'x', 0xE2, 0x82}, false));
            assertEquals(List.of("", "hello", " the", ""), pieces(l, new int[] {G_BOT, G_HELLO, G_THE}, true));
            assertEquals(List.of("<|begin_of_text|>", "hello", ""), pieces(l, new int[] {G_BOT, G_HELLO}, false));
            int[] hard = concat(range(0x80, 0x100), new int[] {' ', 'a', G_THE, G_HELLO, G_EOT, G_IM_START, G_IM_END});
            checkRandom("gpt2", g, hard, 300);
            checkRandom("llama3", l, concat(hard, new int[] {G_BOT}), 300);
            checkTexts("gpt2", g, false);
            checkTexts("llama3", l, true);
        }
    }

    @Test
    void sentencePieceSpacesAndByteFallback() throws Exception {
        try (HfTokenizer l = load("llama2", llama2(), Map.of()); HfTokenizer m = load("metaspace", metaspace(), Map.of())) {
            for (HfTokenizer t : new HfTokenizer[] {l, m}) {
                // the leading ▁ of a word is a space, except for the first word of the text
                assertEquals(List.of("", "hello", " world", " hello", ""),
                        pieces(t, new int[] {S_BOS, S_SP_HELLO, S_SP_WORLD, S_SP_HELLO}, true));
                // byte fallback: <0xE2><0x82><0xAC> is one €, given when the run of byte tokens ends
                // (a bad byte after it would turn the whole run into U+FFFD)
                assertEquals(List.of("hello", " ", "", "", "", "€ world", ""), pieces(t, new int[] {S_SP_HELLO, S_SPACE,
                    S_BYTE0 + 0xE2, S_BYTE0 + 0x82, S_BYTE0 + 0xAC, S_SP_WORLD}, true));
                assertEquals(List.of("hello", "", "", "", "", "\uFFFD\uFFFD\uFFFD\uFFFD"), pieces(t, new int[] {S_SP_HELLO,
                    S_BYTE0 + 0xE2, S_BYTE0 + 0x82, S_BYTE0 + 0xAC, S_BYTE0 + 0xFF}, true));
                assertEquals("€", joined(pieces(t, new int[] {S_BYTE0 + 0xE2, S_BYTE0 + 0x82, S_BYTE0 + 0xAC}, true)));
            }
            // Llama 2: " hello" is ▁ ▁hello; the first ▁ is the one the decoder strips
            assertEquals(List.of("", " hello", ""), pieces(l, new int[] {S_SPACE, S_SP_HELLO}, true));
            assertEquals(List.of("<s>", " hello", "</s>", ""), pieces(l, new int[] {S_BOS, S_SP_HELLO, S_EOS}, false));
            int[] hard = concat(range(S_BYTE0 + 0x80, S_BYTE0 + 0x100), new int[] {S_BOS, S_EOS, S_SPACE, S_SPACE,
                S_SP_HELLO, S_SP_WORLD, S_H, S_IM_START, S_IM_END, S_THINK, S_BYTE0 + ' ', S_BYTE0 + 'a', S_UNK});
            checkRandom("llama2", l, hard, 300);
            checkRandom("metaspace", m, hard, 300);
            checkTexts("llama2", l, true);
            checkTexts("metaspace", m, true);
        }
    }

    @Test
    void cleanUpSpacesStreamLikeDecode() throws Exception {
        String config = "{\"clean_up_tokenization_spaces\": true}";
        try (HfTokenizer t = load("cleanup", gpt2(), Map.of("tokenizer_config.json", config))) {
            int[] ids = t.encode("hello , the . hello 's don 't", false);
            assertEquals(t.decode(ids, false), joined(pieces(t, ids, false)));
            int[] hard = {' ', ' ', '.', ',', '?', '!', '\'', 's', 'n', 't', 'm', 'v', 'e', 'r', G_HELLO, G_THE, 0xC3, 0xA9, G_EOT};
            checkRandom("gpt2+cleanup", t, hard, 500);
        }
    }

    @Test
    void byteTokenizer() {
        ByteTokenizer plain = ByteTokenizer.plain();
        assertEquals(List.of("", "", "€", ""), pieces(plain, new int[] {0xE2, 0x82, 0xAC}, true));
        ByteTokenizer blt = new ByteTokenizer(260, 4, 1, Set.of(2));
        assertEquals(List.of("", "h", "", "é", ""), pieces(blt, new int[] {1, 'h' + 4, 0xC3 + 4, 0xA9 + 4}, true));
        assertEquals(List.of("<bos>", "h", "<eos>", ""), pieces(blt, new int[] {1, 'h' + 4, 2}, false));
        ByteTokenizer special = new ByteTokenizer(300, 0, 256, Set.of(257, 258));
        int[] hard = concat(range(0x80, 0x100), new int[] {'a', ' ', 256, 257, 299});
        checkRandom("bytes", special, hard, 500);
        checkRandom("blt", blt, concat(range(0x84, 0x104), new int[] {0, 1, 2, 3, 'a' + 4}), 500);
        for (String s : HfTokenizerTest.TRICKY) {
            List<String> p = pieces(special, special.encode(s, true), true);
            assertEquals(s, joined(p));
            for (String piece : p) assertFalse(piece.contains("\uFFFD"), s);
        }
    }

    @Test
    void piecesAreShortWindowsNotWholePrefixes() throws Exception {
        // a long stream: each step decodes only the ids since the last emission, so this stays fast
        try (HfTokenizer t = load("long", llama2(), Map.of())) {
            int[] ids = t.encode("hello world ".repeat(2000), true);
            long start = System.nanoTime();
            String text = joined(pieces(t, ids, true));
            long ms = (System.nanoTime() - start) / 1_000_000;
            assertEquals(t.decode(ids, true), text);
            assertTrue(ms < 20_000, "4000 ids took " + ms + " ms");
        }
    }
}
