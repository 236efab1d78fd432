package dev.braindrip.io.tokenizer;

import java.util.ArrayDeque;
import java.util.Deque;

/**
 * Rewrites a jinja2 template where Jinjava would read it differently, before Jinjava parses it.
 *
 * <p>Jinjava parses a keyword argument's value at the precedence of {@code +}, so
 * {@code namespace(last=messages|length - 1)} becomes {@code (last=messages|length) - 1} and fails
 * (Qwen3's template has exactly this). Wrapping each keyword argument's value in parentheses,
 * {@code namespace(last=(messages|length - 1))}, means the same in jinja2 and parses right in Jinjava.
 * Values that are one plain token are left alone, and so are {@code macro} and {@code call} tags,
 * whose argument lists Jinjava reads itself.
 *
 * <p>Jinjava's slices take no step: {@code x[::-1]} (Qwen3 walks its messages backwards so) becomes
 * {@code x|reverse}.
 */
final class JinjaSource {
    private JinjaSource() {}

    static String wrapKeywordArguments(String src) {
        StringBuilder out = new StringBuilder(src.length() + 16);
        int i = 0;
        int n = src.length();
        while (i < n) {
            int open = nextOpening(src, i);
            if (open < 0) {
                out.append(src, i, n);
                break;
            }
            out.append(src, i, open);
            String closer = src.startsWith("{{", open) ? "}}" : src.startsWith("{%", open) ? "%}" : "#}";
            int end = findClose(src, open + 2, closer);
            String body = src.substring(open + 2, end);
            if (closer.equals("#}") || isMacroOrCall(body)) out.append(src, open, end);
            else out.append(src, open, open + 2).append(rewrite(body));
            i = end;
        }
        return out.toString();
    }

    private static int nextOpening(String s, int from) {
        for (int k = from; k + 1 < s.length(); k++) {
            if (s.charAt(k) == '{' && (s.charAt(k + 1) == '{' || s.charAt(k + 1) == '%' || s.charAt(k + 1) == '#')) return k;
        }
        return -1;
    }

    /** The index of {@code closer} ending a tag opened before {@code from}, skipping string literals. */
    private static int findClose(String s, int from, String closer) {
        char quote = 0;
        for (int k = from; k < s.length(); k++) {
            char c = s.charAt(k);
            if (quote != 0) {
                if (c == '\\') k++;
                else if (c == quote) quote = 0;
            } else if (!closer.equals("#}") && (c == '\'' || c == '"')) {
                quote = c;
            } else if (s.startsWith(closer, k)) {
                return k;
            }
        }
        return s.length();
    }

    private static boolean isMacroOrCall(String body) {
        String t = body.strip();
        if (t.startsWith("-") || t.startsWith("+")) t = t.substring(1).strip();
        return t.startsWith("macro ") || t.startsWith("call ") || t.startsWith("call(");
    }

    /** Wraps keyword-argument values inside (...) of an expression body. */
    private static String rewrite(String body) {
        StringBuilder out = new StringBuilder(body.length() + 8);
        Deque<Character> brackets = new ArrayDeque<>();
        Deque<Integer> wrapDepth = new ArrayDeque<>();   // bracket depths where a "(" was opened for a value
        char quote = 0;
        int n = body.length();
        for (int k = 0; k < n; k++) {
            char c = body.charAt(k);
            if (quote != 0) {
                out.append(c);
                if (c == '\\' && k + 1 < n) out.append(body.charAt(++k));
                else if (c == quote) quote = 0;
                continue;
            }
            if (c == '\'' || c == '"') {
                quote = c;
                out.append(c);
                continue;
            }
            if (c == '[' && body.startsWith("[::-1]", k)) {   // no slice steps in Jinjava
                out.append("|reverse");
                k += 5;
                continue;
            }
            if (c == '(' || c == '[' || c == '{') {
                brackets.push(c);
                out.append(c);
                continue;
            }
            if ((c == ',' || c == ')' || c == ']' || c == '}') && !wrapDepth.isEmpty() && wrapDepth.peek() == brackets.size()) {
                wrapDepth.pop();
                out.append(')');
            }
            if (c == ')' || c == ']' || c == '}') {
                if (!brackets.isEmpty()) brackets.pop();
                out.append(c);
                continue;
            }
            if (c == '=' && isKeywordEquals(body, k) && !brackets.isEmpty() && brackets.peek() == '('
                    && !plainValue(body, k + 1)) {
                out.append("=(");
                wrapDepth.push(brackets.size());
                continue;
            }
            out.append(c);
        }
        return out.toString();
    }

    /** An "=" of {@code name=value}: not part of ==, !=, <=, >=, and after an identifier. */
    private static boolean isKeywordEquals(String s, int k) {
        if (k + 1 < s.length() && s.charAt(k + 1) == '=') return false;
        int p = k - 1;
        while (p >= 0 && s.charAt(p) == ' ') p--;
        if (p < 0) return false;
        char before = s.charAt(p);
        if (before == '=' || before == '!' || before == '<' || before == '>') return false;
        return Character.isLetterOrDigit(before) || before == '_';
    }

    /** Whether the value from {@code k} to the next ',' or ')' is one token (a name, number or string). */
    private static boolean plainValue(String s, int k) {
        int e = k;
        char quote = 0;
        while (e < s.length()) {
            char c = s.charAt(e);
            if (quote != 0) {
                if (c == '\\') e++;
                else if (c == quote) quote = 0;
            } else if (c == '\'' || c == '"') {
                quote = c;
            } else if (c == ',' || c == ')' || c == '(' || c == '[' || c == '{') {
                break;
            }
            e++;
        }
        if (e < s.length() && (s.charAt(e) == '(' || s.charAt(e) == '[' || s.charAt(e) == '{')) return false;
        String v = s.substring(k, e).strip();
        return v.matches("[A-Za-z_][A-Za-z_0-9.]*|-?[0-9][0-9.]*|'([^'\\\\]|\\\\.)*'|\"([^\"\\\\]|\\\\.)*\"");
    }
}
