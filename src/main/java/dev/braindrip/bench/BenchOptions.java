package dev.braindrip.bench;

/** How to measure: repeats and warm-up, whether to time the peer, and the rotation budget. */
public record BenchOptions(int warmup, int repeats, boolean peer) {
    public BenchOptions {
        if (warmup < 0) throw new IllegalArgumentException("--warmup (" + warmup + ") must be >= 0");
        if (repeats < 1) throw new IllegalArgumentException("--repeats (" + repeats + ") must be >= 1");
    }
}
