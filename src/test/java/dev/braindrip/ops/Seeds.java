package dev.braindrip.ops;

import java.util.SplittableRandom;

/**
 * The run's base seed: -Dbraindrip.seed=N, else a fresh one per run (DESIGN: inputs are random for
 * every run). Every case derives its own seed from the base and its name, so one case reproduces
 * alone; every assertion message prints the base seed and how to rerun with it.
 */
final class Seeds {
    private static final long BASE = initBase();

    private Seeds() {}

    private static long initBase() {
        Long fixed = Long.getLong("braindrip.seed");
        long seed = fixed != null ? fixed : new SplittableRandom().nextLong() >>> 16;
        System.out.println("[ops] input seed " + seed + (fixed != null ? " (from -Dbraindrip.seed)" : " (rerun with -Dbraindrip.seed=" + seed + ")"));
        return seed;
    }

    static long base() {
        return BASE;
    }

    /** The seed of one case: the base mixed with the case's name. */
    static long forCase(String name) {
        long h = BASE * 0x9E3779B97F4A7C15L + name.hashCode();
        h ^= h >>> 31;
        h *= 0xBF58476D1CE4E5B9L;
        return h ^ (h >>> 29);
    }

    /** Appended to every assertion message. */
    static String tag() {
        return "[seed " + BASE + ": rerun with -Dbraindrip.seed=" + BASE + "]";
    }
}
