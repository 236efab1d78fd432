package dev.braindrip.bench;

import java.util.Map;

/**
 * One measured shape: times in milliseconds (median and min over repeats), work counted per
 * BENCHMARKS.md (FLOPs, bytes read + written), the peer measured in the same run, if any, and
 * op-specific extra fields that --json writes after the standard ones (empty for most ops; sparse
 * attention: density, speedup_vs_dense; differential attention: the one-causal and two-pass ratios).
 */
public record BenchResult(String op, String device, String dtype, Map<String, Object> shape, double medianMs, double minMs,
                          int repeats, double flops, double bytes, Peer peer, String note, Map<String, Object> extras) {
    public BenchResult {
        extras = extras == null ? Map.of() : java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(extras));
    }

    /** Without extra fields. */
    public BenchResult(String op, String device, String dtype, Map<String, Object> shape, double medianMs, double minMs, int repeats,
                       double flops, double bytes, Peer peer, String note) {
        this(op, device, dtype, shape, medianMs, minMs, repeats, flops, bytes, peer, note, Map.of());
    }

    /** A peer implementation timed on the same shape. */
    public record Peer(String name, double medianMs) {}

    public double tflops() {
        return flops <= 0 ? 0 : flops / (medianMs * 1e-3) / 1e12;
    }

    public double gbps() {
        return bytes <= 0 ? 0 : bytes / (medianMs * 1e-3) / 1e9;
    }
}
