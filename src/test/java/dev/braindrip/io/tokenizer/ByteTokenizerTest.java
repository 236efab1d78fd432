package dev.braindrip.io.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HexFormat;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The byte tokenizer of models without tokenizer files (CLI.md): id = byte + offset, specials from config.json. */
class ByteTokenizerTest {
    /**
     * Byte strings and their text by Python's {@code bytes.decode("utf-8", errors="replace")}
     * (CPython 3.11, run on these bytes and pasted here): one U+FFFD per maximal ill-formed subpart.
     */
    static final String[][] PYTHON_REPLACE = {
        {"e28241", "\ufffdA"},
        {"eda080", "\ufffd\ufffd\ufffd"},
        {"e282", "\ufffd"},
        {"f09fa4", "\ufffd"},
        {"f09fa496", "\ud83e\udd16"},
        {"c0af", "\ufffd\ufffd"},
        {"e080af", "\ufffd\ufffd\ufffd"},
        {"f4908080", "\ufffd\ufffd\ufffd\ufffd"},
        {"f580", "\ufffd\ufffd"},
        {"808061", "\ufffd\ufffda"},
        {"c3", "\ufffd"},
        {"61c3a9fffe62", "a\u00e9\ufffd\ufffdb"},
        {"efbfbd", "\ufffd"},
        {"f09080e282ac", "\ufffd\u20ac"},
        {"bff4808290ac", "\ufffd\udbc0\udc90\ufffd"},
        {"80a0c38082f5", "\ufffd\ufffd\u00c0\ufffd\ufffd"},
        {"82e08290f580ac", "\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd"},
        {"80f480e0", "\ufffd\ufffd\ufffd"},
        {"90", "\ufffd"},
        {"edf5bf", "\ufffd\ufffd\ufffd"},
        {"ed90", "\ufffd"},
        {"acc3f0", "\ufffd\ufffd\ufffd"},
        {"9082", "\ufffd\ufffd"},
        {"c3", "\ufffd"},
        {"90f5effffff0ede0", "\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd"},
        {"e082ed", "\ufffd\ufffd\ufffd"},
        {"efffed82aca0f5c2", "\ufffd\ufffd\ud0ac\ufffd\ufffd\ufffd"},
        {"bf9ff5808290", "\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd"},
        {"eff09fff8282", "\ufffd\ufffd\ufffd\ufffd\ufffd"},
        {"9f8280edff", "\ufffd\ufffd\ufffd\ufffd\ufffd"},
    };

    @Test
    void decodesInvalidUtf8AsPython() {
        ByteTokenizer t = ByteTokenizer.plain();
        for (String[] v : PYTHON_REPLACE) {
            byte[] bytes = HexFormat.of().parseHex(v[0]);
            int[] ids = new int[bytes.length];
            for (int i = 0; i < bytes.length; i++) ids[i] = bytes[i] & 0xFF;
            assertEquals(v[1], t.decode(ids, true), v[0]);
        }
    }

    @Test
    void encodesBytesWithBosWhenNamed() {
        ByteTokenizer noBos = new ByteTokenizer(258, 0, -1, Set.of(257));
        assertArrayEquals(new int[] {'h', 'i', 0xC3, 0xA9}, noBos.encode("hié", true));
        ByteTokenizer bos = new ByteTokenizer(258, 0, 256, Set.of(257));
        assertArrayEquals(new int[] {256, 'h', 'i'}, bos.encode("hi", true));
        assertArrayEquals(new int[] {'h', 'i'}, bos.encode("hi", false));
        assertArrayEquals(new int[] {256}, bos.encode("", true));
        assertArrayEquals(new int[] {'x', 0xEF, 0xBF, 0xBD}, noBos.encode("x\uD800", false));   // a lone surrogate as U+FFFD
        assertEquals(256, bos.bosId());
        assertEquals(Set.of(257), bos.eosIds());
        assertTrue(bos.isSpecial(256));
        assertFalse(bos.isSpecial('h'));
    }

    @Test
    void bltOffsetFour() {
        // Hugging Face's BLT: ids 0-3 special (boe, bos, eos, pad), byte b is id b + 4
        ByteTokenizer t = new ByteTokenizer(260, 4, 1, Set.of(2));
        assertArrayEquals(new int[] {1, 'h' + 4, 'i' + 4, 0xF0 + 4, 0x9F + 4, 0xA4 + 4, 0x96 + 4}, t.encode("hi🤖", true));
        assertEquals("hi🤖", t.decode(t.encode("hi🤖", true), true));
        assertEquals("<bos>hi<eos>", t.decode(new int[] {1, 'h' + 4, 'i' + 4, 2}, false));
        assertEquals("<special:0>a<special:3>", t.decode(new int[] {0, 'a' + 4, 3}, false));
        assertEquals("a", t.decode(new int[] {0, 'a' + 4, 3}, true));
        assertTrue(t.isSpecial(3));
        assertFalse(t.isSpecial(4));
        assertFalse(t.isSpecial(259 + 1));
        assertEquals(260, t.vocabSize());
    }

    @Test
    void roundTripsText() {
        ByteTokenizer t = new ByteTokenizer(300, 0, 256, Set.of(257));
        for (String s : HfTokenizerTest.TRICKY) assertEquals(s, t.decode(t.encode(s, true), true), s);
        // skipped special ids do not break a character; a marker ends the bytes before it
        assertEquals("€", t.decode(new int[] {0xE2, 256, 0x82, 0xAC}, true));
        assertEquals("\uFFFD<bos>\uFFFD\uFFFD", t.decode(new int[] {0xE2, 256, 0x82, 0xAC}, false));
    }

    @Test
    void rejectsBadIdsAndConfigs() {
        ByteTokenizer t = new ByteTokenizer(258, 0, 256, Set.of(257));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> t.decode(new int[] {'a', 258}, true));
        assertTrue(e.getMessage().contains("258"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> t.decode(new int[] {-1}, false));
        assertTrue(e.getMessage().contains("-1"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new ByteTokenizer(255, 0, -1, Set.of()));
        assertTrue(e.getMessage().contains("vocabSize"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new ByteTokenizer(260, 4, 100, Set.of()));
        assertTrue(e.getMessage().contains("byte 96"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new ByteTokenizer(258, 0, -1, Set.of(300)));
    }
}
