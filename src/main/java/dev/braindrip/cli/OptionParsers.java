package dev.braindrip.cli;

import dev.braindrip.model.Session;
import java.util.Locale;

/**
 * Parsers of option values that several commands share (braindrip generate, bench soak, the Spark
 * job). A bad value throws {@link IllegalArgumentException} with a message that starts with
 * "usage: " and names the option, so a command's handler exits 2 with it.
 */
public final class OptionParsers {
    private OptionParsers() {}

    /**
     * A size in bytes: a positive number with an optional binary suffix K, M, G or T (powers of
     * 1024) and an optional trailing B, case-insensitive: "2G", "512m", "1.5GB", "1000000".
     *
     * @param option the option's name for the message, e.g. "--kv-budget"
     */
    public static long bytes(String option, String value) {
        String t = value.trim().toUpperCase(Locale.ROOT);
        long mul = 1;
        if (t.endsWith("B")) t = t.substring(0, t.length() - 1);
        if (t.endsWith("K")) mul = 1L << 10;
        else if (t.endsWith("M")) mul = 1L << 20;
        else if (t.endsWith("G")) mul = 1L << 30;
        else if (t.endsWith("T")) mul = 1L << 40;
        if (mul > 1) t = t.substring(0, t.length() - 1);
        try {
            double v = Double.parseDouble(t);
            if (!(v > 0)) throw new NumberFormatException();
            return (long) (v * mul);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("usage: " + option + " takes a size in bytes such as 2G, 512M or 1000000, got '" + value + "'");
        }
    }

    /** StreamingLLM's "SINKS,WINDOW" (two integers, checked as {@link Session.Streaming} checks them); null for null. */
    public static Session.Streaming streaming(String option, String value) {
        if (value == null) return null;
        String[] p = value.split(",");
        try {
            if (p.length != 2) throw new NumberFormatException();
            return new Session.Streaming(Integer.parseInt(p[0].trim()), Integer.parseInt(p[1].trim()));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("usage: " + option + " takes SINKS,WINDOW (two integers, e.g. 4,1020), got '" + value + "'");
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("usage: --" + e.getMessage());
        }
    }
}
