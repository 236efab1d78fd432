package dev.braindrip.bench;

import java.util.Map;

/**
 * One measured shape: times in milliseconds (median and min over repeats), work counted per
 * BENCHMARKS.md (FLOPs, bytes read + written), and the peer measured in the same run, if any.
 */
public record BenchResult(String op, String device, String dtype, Map<String, Object> shape, double medianMs, double minMs,
                          int repeats, double flops, double bytes, Peer peer, String note) {
    /** A peer implementation timed on the same shape. */
    public record Peer(String name, double medianMs) {}

    public double tflops() {
        return flops <= 0 ? 0 : flops / (medianMs * 1e-3) / 1e12;
    }

    public double gbps() {
        return bytes <= 0 ? 0 : bytes / (medianMs * 1e-3) / 1e9;
    }
}
