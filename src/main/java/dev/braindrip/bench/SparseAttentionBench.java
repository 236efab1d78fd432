package dev.braindrip.bench;

import dev.braindrip.ops.AttentionSpec;
import dev.braindrip.ops.BlockSparseLayout;
import dev.braindrip.ops.Ops;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import dev.braindrip.tensor.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Block-sparse attention at BENCHMARKS.md's "sparse" row, measured against dense fused attention
 * of the same shape and mask (causal or not) in the same run, on the same inputs: the dense call is
 * the peer (table columns peer_ms and speedup), and --json gets {@code density} (visible pairs over
 * Sq·Skv), {@code causal_fraction} (visible pairs over the dense causal ones, when causal),
 * {@code dense_median_ms} and {@code speedup_vs_dense}. FLOPs count the pairs the layout leaves
 * visible: 4·B·Hq·D·density·Sq·Skv.
 */
public final class SparseAttentionBench {
    /** Shape keys, in the order --json writes them. */
    public static final List<String> KEYS = List.of("batch", "seq_q", "seq_kv", "heads", "kv_heads", "head_dim", "causal", "block", "pattern");

    private SparseAttentionBench() {}

    public static Map<String, Object> shape(int batch, int seqQ, int seqKv, int heads, int kvHeads, int headDim, boolean causal, int block,
                                            String pattern) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("batch", batch);
        m.put("seq_q", seqQ);
        m.put("seq_kv", seqKv);
        m.put("heads", heads);
        m.put("kv_heads", kvHeads);
        m.put("head_dim", headDim);
        m.put("causal", causal);
        m.put("block", block);
        m.put("pattern", pattern);
        return m;
    }

    /**
     * GPU: S 16k causal, block 64, local:4 + stride:8, D 128, 16 heads (model width 2048). CPU: the same
     * pattern at B 1, H 8, S 4096, D 128, which a 2-core machine finishes in seconds.
     */
    public static List<Map<String, Object>> standardShapes(Device device) {
        if (device.isCuda()) return List.of(shape(1, 16384, 16384, 16, 16, 128, true, 64, "local:4,stride:8"));
        return List.of(shape(1, 4096, 4096, 8, 8, 128, true, 64, "local:4,stride:8"));
    }

    private static int dim(Map<String, Object> shape, String key) {
        Object v = shape.get(key);
        if (v == null) throw new IllegalArgumentException("bench sparse-attention: missing shape option --" + key.replace('_', '-'));
        int n = ((Number) v).intValue();
        if (n < 1) throw new IllegalArgumentException("bench sparse-attention: --" + key.replace('_', '-') + " (" + n + ") must be >= 1");
        return n;
    }

    /** Measures one shape: the sparse call, then the dense call of the same shape and mask. */
    public static BenchResult run(Map<String, Object> shape, Device device, DType dt, BenchOptions o) {
        int b = dim(shape, "batch"), sq = dim(shape, "seq_q"), skv = dim(shape, "seq_kv"), hq = dim(shape, "heads"),
                hkv = dim(shape, "kv_heads"), d = dim(shape, "head_dim"), block = dim(shape, "block");
        Object pattern = shape.get("pattern");
        if (pattern == null) throw new IllegalArgumentException("bench sparse-attention: missing shape option --pattern");
        boolean causal = Boolean.TRUE.equals(shape.get("causal"));
        BlockSparseLayout layout = BlockSparseLayout.parse(pattern.toString(), block, skv);
        AttentionSpec spec = causal ? AttentionSpec.causal() : AttentionSpec.full();
        try (Arena arena = Arena.on(device, 120L << 30); Arena scratch = Arena.on(device, 120L << 30)) {
            long qBytes = (long) b * sq * hq * d * dt.bytes(), kvBytes = 2L * b * skv * hkv * d * dt.bytes();
            int copies = Rotation.copies(device, qBytes + kvBytes);
            List<Tensor> qs = new ArrayList<>(), ks = new ArrayList<>(), vs = new ArrayList<>();
            for (int i = 0; i < copies; i++) {
                qs.add(AttentionBench.random(arena, dt, b, sq, hq, d));
                ks.add(AttentionBench.random(arena, dt, b, skv, hkv, d));
                vs.add(AttentionBench.random(arena, dt, b, skv, hkv, d));
            }
            Ops ops = Ops.on(scratch);
            int warm = Math.max(1, o.warmup());
            double[] ms = Timer.time(device, warm, o.repeats(),
                    i -> ops.sparseAttention(qs.get(i % copies), ks.get(i % copies), vs.get(i % copies), layout, spec).close());
            double[] dense = Timer.time(device, warm, o.repeats(),
                    i -> ops.attention(qs.get(i % copies), ks.get(i % copies), vs.get(i % copies), spec).close());
            double density = layout.density(sq, skv, causal);
            double flops = 4.0 * b * hq * d * density * sq * skv;
            double bytes = sq == 1 ? kvBytes : qBytes + kvBytes + qBytes; // as AttentionBench: inputs read + o written
            double median = Timer.median(ms), denseMedian = Timer.median(dense);
            Map<String, Object> extras = new LinkedHashMap<>();
            extras.put("density", density);
            if (causal) extras.put("causal_fraction", layout.causalFraction(sq, skv));
            extras.put("dense_median_ms", denseMedian);
            extras.put("speedup_vs_dense", denseMedian / median);
            String note = String.format(Locale.ROOT, "layout %s: density %.4f of Sq*Skv%s; dense %s %.3f ms, speedup %.2fx; %d listed blocks",
                    layout.description(), density,
                    causal ? String.format(Locale.ROOT, " (%.4f of the causal pairs)", layout.causalFraction(sq, skv)) : "",
                    causal ? "causal" : "full", denseMedian, denseMedian / median, layout.listedBlocks());
            scratch.releaseAll();
            arena.releaseAll();
            return new BenchResult("sparse-attention", device.toString(), dt.name().toLowerCase(Locale.ROOT), new LinkedHashMap<>(shape), median,
                    ms[0], o.repeats(), flops, bytes, new BenchResult.Peer("dense " + (causal ? "causal" : "full") + " fused attention", denseMedian),
                    note, extras);
        }
    }
}
