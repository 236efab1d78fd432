package dev.braindrip.io.tokenizer;

/**
 * UTF-8 decoding with replacement exactly as Python's {@code bytes.decode("utf-8", errors="replace")}
 * (and Rust's {@code String::from_utf8_lossy}): each maximal subpart of an ill-formed sequence
 * becomes one U+FFFD (Unicode's "substitution of maximal subparts"), so {@code E2 82 41} decodes to
 * "\uFFFDA" and a lone surrogate encoding {@code ED A0 80} to three U+FFFD.
 */
final class Utf8 {
    static final char REPLACEMENT = '\uFFFD';

    private Utf8() {}

    /** The text of {@code bytes[from, to)}. */
    static String decode(byte[] bytes, int from, int to) {
        StringBuilder out = new StringBuilder(to - from);
        int i = from;
        while (i < to) {
            int b0 = bytes[i] & 0xFF;
            if (b0 < 0x80) {
                out.append((char) b0);
                i++;
                continue;
            }
            int need;          // continuation bytes after the lead
            int lo = 0x80;     // valid range of the first continuation byte
            int hi = 0xBF;
            if (b0 >= 0xC2 && b0 <= 0xDF) {
                need = 1;
            } else if (b0 >= 0xE0 && b0 <= 0xEF) {
                need = 2;
                if (b0 == 0xE0) lo = 0xA0;
                if (b0 == 0xED) hi = 0x9F;
            } else if (b0 >= 0xF0 && b0 <= 0xF4) {
                need = 3;
                if (b0 == 0xF0) lo = 0x90;
                if (b0 == 0xF4) hi = 0x8F;
            } else {
                out.append(REPLACEMENT);   // 80..C1, F5..FF never start a character
                i++;
                continue;
            }
            int cp = b0 & (0x3F >> need);
            int j = i + 1;
            boolean ok = true;
            for (int k = 0; k < need; k++, j++) {
                int lower = k == 0 ? lo : 0x80;
                int upper = k == 0 ? hi : 0xBF;
                if (j >= to || (bytes[j] & 0xFF) < lower || (bytes[j] & 0xFF) > upper) {
                    ok = false;
                    break;
                }
                cp = (cp << 6) | (bytes[j] & 0x3F);
            }
            if (ok) {
                out.appendCodePoint(cp);
            } else {
                out.append(REPLACEMENT);   // the lead and the valid continuations so far; resume at j
            }
            i = j;
        }
        return out.toString();
    }

    /** {@code s} with each unpaired UTF-16 surrogate replaced by U+FFFD. */
    static String withoutLoneSurrogates(String s) {
        StringBuilder out = null;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean paired = Character.isHighSurrogate(c) ? i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))
                    : Character.isLowSurrogate(c) && i > 0 && Character.isHighSurrogate(s.charAt(i - 1));
            boolean lone = Character.isSurrogate(c) && !paired;
            if (lone && out == null) out = new StringBuilder(s.length()).append(s, 0, i);
            if (out != null) out.append(lone ? '\uFFFD' : c);
        }
        return out == null ? s : out.toString();
    }
}
