package dev.braindrip.io.tokenizer;

import java.util.Collection;
import java.util.Iterator;
import java.util.Map;
import java.util.TreeMap;

/**
 * JSON as Python's {@code json.dumps(x, ensure_ascii=False, indent=..., separators=..., sort_keys=...)}
 * writes it, which is what Hugging Face's chat templates get from their {@code tojson} filter:
 * {@code ", "} and {@code ": "} between items (or {@code ","} at line ends when indented), non-ASCII
 * characters as they are, control characters escaped.
 */
final class PyJson {
    private PyJson() {}

    /**
     * @param indent spaces per level, or -1 for one line
     * @param itemSep between items (Python's default: ", " on one line, "," indented)
     * @param keySep between a key and its value (default ": ")
     */
    static String dumps(Object value, int indent, String itemSep, String keySep, boolean sortKeys) {
        StringBuilder out = new StringBuilder();
        String items = itemSep != null ? itemSep : indent >= 0 ? "," : ", ";
        write(out, value, indent, items, keySep != null ? keySep : ": ", sortKeys, 0);
        return out.toString();
    }

    private static void write(StringBuilder out, Object v, int indent, String itemSep, String keySep,
            boolean sortKeys, int level) {
        if (v == null) {
            out.append("null");
        } else if (v instanceof Boolean) {
            out.append((Boolean) v ? "true" : "false");
        } else if (v instanceof Double || v instanceof Float) {
            double d = ((Number) v).doubleValue();
            if (Double.isNaN(d)) out.append("NaN");
            else if (Double.isInfinite(d)) out.append(d > 0 ? "Infinity" : "-Infinity");
            else if (d == Math.rint(d) && Math.abs(d) < 1e16) out.append((long) d).append(".0");
            else out.append(d);
        } else if (v instanceof Number) {
            out.append(v);
        } else if (v instanceof Map) {
            Map<?, ?> m = (Map<?, ?>) v;
            if (sortKeys) {
                Map<String, Object> sorted = new TreeMap<>();
                for (Map.Entry<?, ?> e : m.entrySet()) sorted.put(String.valueOf(e.getKey()), e.getValue());
                m = sorted;
            }
            if (m.isEmpty()) {
                out.append("{}");
                return;
            }
            out.append('{');
            Iterator<? extends Map.Entry<?, ?>> it = m.entrySet().iterator();
            while (it.hasNext()) {
                Map.Entry<?, ?> e = it.next();
                newline(out, indent, level + 1);
                string(out, String.valueOf(e.getKey()));
                out.append(keySep);
                write(out, e.getValue(), indent, itemSep, keySep, sortKeys, level + 1);
                if (it.hasNext()) out.append(itemSep);
            }
            newline(out, indent, level);
            out.append('}');
        } else if (v instanceof Collection || v instanceof Object[]) {
            Collection<?> c = v instanceof Collection ? (Collection<?>) v : java.util.Arrays.asList((Object[]) v);
            if (c.isEmpty()) {
                out.append("[]");
                return;
            }
            out.append('[');
            Iterator<?> it = c.iterator();
            while (it.hasNext()) {
                newline(out, indent, level + 1);
                write(out, it.next(), indent, itemSep, keySep, sortKeys, level + 1);
                if (it.hasNext()) out.append(itemSep);
            }
            newline(out, indent, level);
            out.append(']');
        } else {
            string(out, v.toString());
        }
    }

    private static void newline(StringBuilder out, int indent, int level) {
        if (indent < 0) return;
        out.append('\n');
        for (int i = 0; i < indent * level; i++) out.append(' ');
    }

    private static void string(StringBuilder out, String s) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"': out.append("\\\""); break;
                case '\\': out.append("\\\\"); break;
                case '\n': out.append("\\n"); break;
                case '\r': out.append("\\r"); break;
                case '\t': out.append("\\t"); break;
                case '\b': out.append("\\b"); break;
                case '\f': out.append("\\f"); break;
                default:
                    if (c < 0x20) out.append(String.format("\\u%04x", (int) c));
                    else out.append(c);
            }
        }
        out.append('"');
    }
}
