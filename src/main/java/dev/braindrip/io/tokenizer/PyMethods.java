package dev.braindrip.io.tokenizer;

import java.beans.FeatureDescriptor;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELResolver;

/**
 * The Python methods of {@code str} and {@code dict} that Hugging Face chat templates call
 * ({@code content.startswith('<tool_response>')}, {@code content.split('</think>')[-1].lstrip('\n')},
 * {@code message.get('tool_calls')}, {@code d.items()}), with Python's semantics, for Jinjava (whose
 * own method calls reach Java's {@code String}, where {@code split} takes a regular expression and
 * {@code startswith} does not exist). Only these names are taken over; any other call falls through.
 */
final class PyMethods extends ELResolver {
    @Override
    public Object invoke(ELContext context, Object base, Object method, Class<?>[] paramTypes, Object[] params) {
        if (!(method instanceof String)) return null;
        Object[] args = params == null ? new Object[0] : params;
        Object result;
        if (base instanceof String) {
            result = string((String) base, (String) method, args);
        } else if (base instanceof Map) {
            result = dict((Map<?, ?>) base, (String) method, args);
        } else {
            return null;
        }
        if (result == NOT_MINE) return null;
        context.setPropertyResolved(true);
        return result;
    }

    private static final Object NOT_MINE = new Object();

    private static Object string(String s, String method, Object[] a) {
        switch (method) {
            case "startswith": return affix(s, a, true);
            case "endswith": return affix(s, a, false);
            case "strip": return strip(s, chars(a), true, true);
            case "lstrip": return strip(s, chars(a), true, false);
            case "rstrip": return strip(s, chars(a), false, true);
            case "split": return split(s, a.length > 0 ? (String) a[0] : null, a.length > 1 ? toInt(a[1]) : -1);
            case "upper": return s.toUpperCase(Locale.ROOT);
            case "lower": return s.toLowerCase(Locale.ROOT);
            case "capitalize":
                return s.isEmpty() ? s : s.substring(0, 1).toUpperCase(Locale.ROOT) + s.substring(1).toLowerCase(Locale.ROOT);
            case "title": return title(s);
            case "replace": return replace(s, (String) a[0], (String) a[1], a.length > 2 ? toInt(a[2]) : -1);
            case "find": return s.indexOf((String) a[0]);
            case "rfind": return s.lastIndexOf((String) a[0]);
            case "count": return count(s, (String) a[0]);
            case "join": return join(s, a[0]);
            case "isspace": return !s.isEmpty() && s.chars().allMatch(PyMethods::isPySpace);
            case "isdigit": return !s.isEmpty() && s.chars().allMatch(Character::isDigit);
            case "isalpha": return !s.isEmpty() && s.codePoints().allMatch(Character::isLetter);
            case "isalnum": return !s.isEmpty() && s.codePoints().allMatch(Character::isLetterOrDigit);
            default: return NOT_MINE;
        }
    }

    private static Object dict(Map<?, ?> m, String method, Object[] a) {
        switch (method) {
            case "get":
                if (a.length == 0 || a.length > 2) return NOT_MINE;
                return m.containsKey(a[0]) ? m.get(a[0]) : a.length == 2 ? a[1] : null;
            case "items": return new ArrayList<>(m.entrySet());
            case "keys": return new ArrayList<>(m.keySet());
            case "values": return new ArrayList<>(m.values());
            default: return NOT_MINE;
        }
    }

    private static boolean affix(String s, Object[] a, boolean start) {
        if (a.length == 0) throw new IllegalArgumentException((start ? "startswith" : "endswith") + " takes an argument");
        if (a[0] instanceof Collection) {
            for (Object o : (Collection<?>) a[0]) if (start ? s.startsWith((String) o) : s.endsWith((String) o)) return true;
            return false;
        }
        return start ? s.startsWith((String) a[0]) : s.endsWith((String) a[0]);
    }

    private static String chars(Object[] a) {
        return a.length == 0 || a[0] == null ? null : a[0].toString();
    }

    /** Python's str.strip family: {@code chars} null means whitespace as str.isspace() has it. */
    static String strip(String s, String chars, boolean left, boolean right) {
        int b = 0;
        int e = s.length();
        if (left) while (b < e && stripped(s.charAt(b), chars)) b++;
        if (right) while (e > b && stripped(s.charAt(e - 1), chars)) e--;
        return s.substring(b, e);
    }

    private static boolean stripped(char c, String chars) {
        return chars == null ? isPySpace(c) : chars.indexOf(c) >= 0;
    }

    /** str.isspace() for one character: Unicode whitespace and the separators \x1c–\x1f. */
    static boolean isPySpace(int c) {
        return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680
                || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F
                || c == 0x3000;
    }

    private static List<String> split(String s, String sep, int maxsplit) {
        List<String> out = new ArrayList<>();
        if (sep == null) {   // runs of whitespace, no empty strings
            int i = 0;
            int n = s.length();
            while (true) {
                while (i < n && isPySpace(s.charAt(i))) i++;
                if (i >= n) break;
                if (maxsplit >= 0 && out.size() == maxsplit) {
                    out.add(s.substring(i));   // Python keeps the rest as it is
                    break;
                }
                int j = i;
                while (j < n && !isPySpace(s.charAt(j))) j++;
                out.add(s.substring(i, j));
                i = j;
            }
            return out;
        }
        if (sep.isEmpty()) throw new IllegalArgumentException("empty separator");
        int from = 0;
        while (maxsplit < 0 || out.size() < maxsplit) {
            int at = s.indexOf(sep, from);
            if (at < 0) break;
            out.add(s.substring(from, at));
            from = at + sep.length();
        }
        out.add(s.substring(from));
        return out;
    }

    private static String title(String s) {
        StringBuilder out = new StringBuilder(s.length());
        boolean prevCased = false;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean cased = Character.isUpperCase(c) || Character.isLowerCase(c) || Character.isTitleCase(c);
            out.append(cased ? (prevCased ? Character.toLowerCase(c) : Character.toTitleCase(c)) : c);
            prevCased = cased;
        }
        return out.toString();
    }

    private static String replace(String s, String old, String neu, int count) {
        if (count < 0 || old.isEmpty()) return s.replace(old, neu);
        StringBuilder out = new StringBuilder();
        int from = 0;
        for (int k = 0; k < count; k++) {
            int at = s.indexOf(old, from);
            if (at < 0) break;
            out.append(s, from, at).append(neu);
            from = at + old.length();
        }
        return out.append(s.substring(from)).toString();
    }

    private static int count(String s, String sub) {
        if (sub.isEmpty()) return s.length() + 1;
        int n = 0;
        for (int at = s.indexOf(sub); at >= 0; at = s.indexOf(sub, at + sub.length())) n++;
        return n;
    }

    private static String join(String sep, Object items) {
        Iterable<?> it = items instanceof Iterable ? (Iterable<?>) items : List.of(String.valueOf(items));
        StringBuilder out = new StringBuilder();
        Iterator<?> i = it.iterator();
        while (i.hasNext()) {
            out.append(i.next());
            if (i.hasNext()) out.append(sep);
        }
        return out.toString();
    }

    private static int toInt(Object o) {
        return ((Number) o).intValue();
    }

    // ---- not a property resolver: everything else falls through

    @Override
    public Object getValue(ELContext context, Object base, Object property) {
        return null;
    }

    @Override
    public Class<?> getType(ELContext context, Object base, Object property) {
        return null;
    }

    @Override
    public void setValue(ELContext context, Object base, Object property, Object value) {}

    @Override
    public boolean isReadOnly(ELContext context, Object base, Object property) {
        return true;
    }

    @Override
    public Iterator<FeatureDescriptor> getFeatureDescriptors(ELContext context, Object base) {
        return null;
    }

    @Override
    public Class<?> getCommonPropertyType(ELContext context, Object base) {
        return null;
    }
}
