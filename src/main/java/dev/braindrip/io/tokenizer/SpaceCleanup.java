package dev.braindrip.io.tokenizer;

/**
 * Hugging Face's {@code clean_up_tokenization} (transformers' {@code PreTrainedTokenizerBase}): the
 * space before {@code . ? ! ,} and in {@code ' }, {@code n't}, {@code 'm}, {@code 's}, {@code 've},
 * {@code 're} is removed, rule after rule, as transformers does when tokenizer_config.json sets
 * {@code clean_up_tokenization_spaces}.
 *
 * <p>As a stream stage ({@link #push}) it emits text up to the last <em>safe cut</em>: a point between
 * two non-space characters that occur next to each other in no rule. Only spaces are ever removed and
 * every match contains a space, so no match of any rule spans a safe cut, in any pass, and the
 * clean-up of the whole text is the concatenation of the clean-ups of the pieces between safe cuts.
 */
final class SpaceCleanup {
    private static final String[][] RULES = {
        {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"},
        {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"},
    };
    /** Adjacent non-space pairs inside the rules' patterns. */
    private static final String[] INNER_PAIRS = {"n'", "'t", "'m", "'s", "'v", "ve", "'r", "re"};

    private final StringBuilder pending = new StringBuilder();

    /** The cleaned text. */
    static String clean(String text) {
        String out = text;
        for (String[] rule : RULES) out = out.replace(rule[0], rule[1]);
        return out;
    }

    /** Adds raw text; returns the cleaned text up to the last safe cut. */
    String push(String raw) {
        if (raw.isEmpty()) return "";
        pending.append(raw);
        for (int cut = pending.length() - 1; cut > 0; cut--) {
            if (safeCut(pending.charAt(cut - 1), pending.charAt(cut))) {
                String ready = pending.substring(0, cut);
                pending.delete(0, cut);
                return clean(ready);
            }
        }
        return "";
    }

    /** The cleaned rest. */
    String flush() {
        String rest = clean(pending.toString());
        pending.setLength(0);
        return rest;
    }

    private static boolean safeCut(char before, char after) {
        if (before == ' ' || after == ' ' || Character.isHighSurrogate(before)) return false;
        for (String pair : INNER_PAIRS) {
            if (pair.charAt(0) == before && pair.charAt(1) == after) return false;
        }
        return true;
    }
}
