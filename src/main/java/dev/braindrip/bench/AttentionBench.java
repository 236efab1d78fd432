package dev.braindrip.bench;

import dev.braindrip.ops.AttentionSpec;
import dev.braindrip.ops.PositionBias;
import dev.braindrip.ops.Ops;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import dev.braindrip.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Benchmarks of fused attention at the standard shapes of BENCHMARKS.md. FLOPs = 4·B·Hq·D·(visible
 * query-key pairs), counted exactly for the mask (a full causal S×S has S(S+1)/2 pairs); decode
 * (Sq = 1) also reports GB/s of K and V read. The peer is the naive unfused version built from our
 * own ops, per (batch, head): S = Q·Kᵀ (gemm), scale, + mask, softmax, O = P·V (gemm), with the
 * score matrix materialized. Both run on the same inputs; the fused call's and the peer's own
 * memory (outputs, workspace, score matrices) are measured in separate arenas and reported.
 */
public final class AttentionBench {
    /** Shape keys, in the order --json writes them. */
    public static final List<String> KEYS = List.of("batch", "seq_q", "seq_kv", "heads", "kv_heads", "head_dim", "causal", "window_left");

    private AttentionBench() {}

    public static Map<String, Object> shape(int batch, int seqQ, int seqKv, int heads, int kvHeads, int headDim, boolean causal,
                                            int windowLeft) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("batch", batch);
        m.put("seq_q", seqQ);
        m.put("seq_kv", seqKv);
        m.put("heads", heads);
        m.put("kv_heads", kvHeads);
        m.put("head_dim", headDim);
        m.put("causal", causal);
        m.put("window_left", windowLeft);
        return m;
    }

    /**
     * GPU: FlashAttention's sweep (width 2048, D ∈ {64, 128}, B·S = 16384, causal and not), GQA 32/8
     * at D 128 (causal), decode B ∈ {1, 8, 64} × cache {1k, 8k, 32k} at 32/8/128, and a 4k sliding
     * window at 32k against full causal. CPU: causal B 1, H 8, D 128 at S 2048 and 4096.
     */
    public static List<Map<String, Object>> standardShapes(Device device) {
        List<Map<String, Object>> out = new ArrayList<>();
        if (!device.isCuda()) {
            out.add(shape(1, 2048, 2048, 8, 8, 128, true, -1));
            out.add(shape(1, 4096, 4096, 8, 8, 128, true, -1));
            return out;
        }
        int[] seqs = {512, 1024, 2048, 4096, 8192, 16384};
        for (int d : new int[] {64, 128}) {
            for (boolean causal : new boolean[] {false, true}) {
                for (int s : seqs) out.add(shape(16384 / s, s, s, 2048 / d, 2048 / d, d, causal, -1));
            }
        }
        for (int s : seqs) out.add(shape(16384 / s, s, s, 32, 8, 128, true, -1));
        for (int b : new int[] {1, 8, 64}) {
            for (int len : new int[] {1024, 8192, 32768}) out.add(shape(b, 1, len, 32, 8, 128, true, -1));
        }
        out.add(shape(1, 32768, 32768, 32, 8, 128, true, 4095));
        out.add(shape(1, 32768, 32768, 32, 8, 128, true, -1));
        return out;
    }

    private static int dim(Map<String, Object> shape, String key) {
        Object v = shape.get(key);
        if (v == null) throw new IllegalArgumentException("bench attention: missing shape option --" + key.replace('_', '-'));
        int n = ((Number) v).intValue();
        return n;
    }

    static AttentionSpec spec(Map<String, Object> shape) {
        boolean causal = Boolean.TRUE.equals(shape.get("causal"));
        AttentionSpec s = causal ? AttentionSpec.causal() : AttentionSpec.full();
        return s.windowLeft(dim(shape, "window_left"));
    }

    /** Visible (query, key) pairs of one sequence under a causal / left-window mask, bottom-right aligned. */
    public static long visiblePairs(long sq, long skv, boolean causal, int windowLeft) {
        long pairs = 0;
        for (long i = 0; i < sq; i++) {
            long ip = i + skv - sq;
            long hi = causal ? Math.min(skv - 1, ip) : skv - 1;
            long lo = windowLeft < 0 ? 0 : Math.max(0, ip - windowLeft);
            if (hi >= lo) pairs += hi - lo + 1;
        }
        return pairs;
    }

    /** Measures one shape. */
    public static BenchResult run(Map<String, Object> shape, Device device, DType dt, BenchOptions o) {
        int b = dim(shape, "batch"), sq = dim(shape, "seq_q"), skv = dim(shape, "seq_kv"), hq = dim(shape, "heads"),
                hkv = dim(shape, "kv_heads"), d = dim(shape, "head_dim");
        for (String k : new String[] {"batch", "seq_q", "seq_kv", "heads", "kv_heads", "head_dim"}) {
            if (dim(shape, k) < 1) throw new IllegalArgumentException("bench attention: --" + k.replace('_', '-') + " (" + dim(shape, k) + ") must be >= 1");
        }
        AttentionSpec spec = spec(shape);
        try (Arena arena = Arena.on(device, 120L << 30); Arena fusedScratch = Arena.on(device, 120L << 30)) {
            long qBytes = (long) b * sq * hq * d * dt.bytes(), kvBytes = 2L * b * skv * hkv * d * dt.bytes();
            int copies = Rotation.copies(device, qBytes + kvBytes);
            List<Tensor> qs = new ArrayList<>(), ks = new ArrayList<>(), vs = new ArrayList<>();
            for (int i = 0; i < copies; i++) {
                qs.add(random(arena, dt, b, sq, hq, d));
                ks.add(random(arena, dt, b, skv, hkv, d));
                vs.add(random(arena, dt, b, skv, hkv, d));
            }
            Ops ops = Ops.on(fusedScratch); // outputs and workspace land in their own arena: its peak is the call's memory
            boolean t5 = Boolean.TRUE.equals(shape.get("t5_bias"));
            float[] table = t5 ? t5Table(hq) : null;
            PositionBias bias = t5 ? PositionBias.t5(arena.fromFloats(table, DType.F32, hq, T5_BUCKETS), T5_BUCKETS, T5_MAX_DISTANCE,
                    !spec.isCausal()) : null;
            // timed: the kernel (outputs come from the arena's pool after warm-up)
            double cpu0 = processCpuSeconds();
            double[] ms = Timer.time(device, Math.max(1, o.warmup()), o.repeats(), i -> (bias == null
                    ? ops.attention(qs.get(i % copies), ks.get(i % copies), vs.get(i % copies), spec)
                    : ops.attentionBiased(qs.get(i % copies), ks.get(i % copies), vs.get(i % copies), bias, spec)).close());
            double fusedCpu = (processCpuSeconds() - cpu0) / (Math.max(1, o.warmup()) + o.repeats());
            Map<String, Object> extras = new LinkedHashMap<>();
            if (t5) { // the same call without the bias, in the same run
                double[] plain = Timer.time(device, Math.max(1, o.warmup()), o.repeats(),
                        i -> ops.attention(qs.get(i % copies), ks.get(i % copies), vs.get(i % copies), spec).close());
                extras.put("no_bias_median_ms", Timer.median(plain));
                extras.put("bias_over_no_bias", Timer.median(ms) / Timer.median(plain));
            }
            long pairs = visiblePairs(sq, skv, spec.isCausal(), spec.windowLeft());
            double flops = 4.0 * b * hq * d * pairs;
            double bytes = sq == 1 ? kvBytes : qBytes + kvBytes + qBytes; // decode: K and V read; prefill: q, k, v read + o written
            StringBuilder note = new StringBuilder(String.format(Locale.ROOT, "fused call memory (o, lse, workspace): %s",
                    mib(fusedScratch.peakBytes())));
            BenchResult.Peer peer = null;
            double peerCpu = Double.NaN;
            if (o.peer()) {
                long scoreBytes = (long) sq * skv * dt.bytes();
                long hostElements = Math.max((long) b * sq * hq * d, (long) b * skv * hkv * d);
                if (scoreBytes >= (2L << 30)) {
                    note.append("; peer skipped: one head's score matrix would be ").append(mib(scoreBytes));
                } else if (hostElements > (1L << 28)) {
                    note.append("; peer skipped: inputs of ").append(hostElements).append(" elements are too large to re-lay out on the host");
                } else {
                    NaivePeer np = new NaivePeer(device, qs.get(0), ks.get(0), vs.get(0), spec, b, sq, skv, hq, hkv, d, table);
                    try (np) {
                        double c0 = processCpuSeconds();
                        double[] pm = Timer.time(device, 1, Math.min(o.repeats(), 5), i -> np.run());
                        peerCpu = (processCpuSeconds() - c0) / (1 + Math.min(o.repeats(), 5));
                        peer = new BenchResult.Peer(t5 ? "naive-unfused (gemm, materialized T5 bias, softmax)" : "naive-unfused (gemm, softmax)",
                                Timer.median(pm));
                        note.append("; peer memory (score matrices): ").append(mib(np.peakBytes()));
                    }
                }
            }
            if (!device.isCuda() && fusedCpu >= 0) { // on a shared host, CPU seconds per call do not depend on the load
                note.append(String.format(Locale.ROOT, "; process CPU time per call: fused %.2f s", fusedCpu));
                if (!Double.isNaN(peerCpu)) note.append(String.format(Locale.ROOT, ", peer %.2f s", peerCpu));
            }
            String rss = processPeakRss();
            if (rss != null) note.append("; process peak RSS ").append(rss);
            if (t5) {
                note.append(String.format(Locale.ROOT, "; T5 bias (%d buckets, max distance %d, %s) in the kernel: %.3f ms without it, "
                        + "%.2fx (goal <= 1.15)", T5_BUCKETS, T5_MAX_DISTANCE, spec.isCausal() ? "causal" : "bidirectional",
                        (double) extras.get("no_bias_median_ms"), (double) extras.get("bias_over_no_bias")));
            }
            fusedScratch.releaseAll();
            arena.releaseAll();
            Map<String, Object> sh = new LinkedHashMap<>(shape);
            return new BenchResult("attention", device.toString(), dt.name().toLowerCase(Locale.ROOT), sh, Timer.median(ms), ms[0], o.repeats(),
                    flops, bytes, peer, note.toString(), extras);
        }
    }

    static final int T5_BUCKETS = 32, T5_MAX_DISTANCE = 128;

    /** A T5-like (Hq, 32) bias table: values of the size trained T5 tables hold (a few units). */
    static float[] t5Table(int hq) {
        java.util.SplittableRandom r = new java.util.SplittableRandom(5);
        float[] t = new float[hq * T5_BUCKETS];
        for (int i = 0; i < t.length; i++) t[i] = (float) (4 * r.nextDouble() - 2);
        return t;
    }

    /** Standard normal values; past 16M elements a random block tiled over the tensor (fast, and values do not change timings). */
    static Tensor random(Arena arena, DType dt, long... shape) {
        long n = 1;
        for (long x : shape) n = Math.multiplyExact(n, x);
        long block = 1L << 24;
        if (n <= block) return arena.randn(dt, shape);
        Tensor t = arena.empty(dt, shape);
        try (Tensor r = arena.randn(dt, block)) {
            long bytes = block * dt.bytes(), total = n * dt.bytes();
            for (long off = 0; off < total; off += bytes) t.copyRange(r, 0, off, Math.min(bytes, total - off));
        } catch (RuntimeException e) {
            t.close();
            throw e;
        }
        return t;
    }

    static String mib(long bytes) {
        return String.format(Locale.ROOT, "%.1f MiB", bytes / (double) (1L << 20));
    }

    /** User + system CPU seconds of this process so far (Linux /proc/self/stat, 100 ticks per second), or −1. */
    static double processCpuSeconds() {
        try {
            String stat = Files.readString(Path.of("/proc/self/stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" "); // fields from 3 (state) on
            return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / 100.0; // utime (14), stime (15)
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    /** VmHWM of /proc/self/status (Linux), or null. */
    static String processPeakRss() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    long kb = Long.parseLong(line.replaceAll("[^0-9]", ""));
                    return mib(kb * 1024);
                }
            }
        } catch (IOException | RuntimeException e) {
            return null;
        }
        return null;
    }

    /**
     * The unfused peer: inputs re-laid out once (outside the timed region) as one (S, D) tensor per
     * (batch, head), which favours the peer; the mask as a (Sq, Skv) tensor of 0 / −inf. Each run
     * materializes, per head, the scores (Sq, Skv) in F32-or-storage precision through gemm, scale,
     * add and softmax, then P·V.
     */
    private static final class NaivePeer implements AutoCloseable {
        private final Arena inputs, scratch;
        private final Tensor[] q, k, v;
        private final Tensor[] masks; // one, or one per query head with the T5 bias (in units of the scaled score)
        private final int b, hq, hkv;
        private final float scale;

        NaivePeer(Device device, Tensor q4, Tensor k4, Tensor v4, AttentionSpec spec, int b, int sq, int skv, int hq, int hkv, int d,
                  float[] t5Table) {
            this.inputs = Arena.on(device, 120L << 30);
            this.scratch = Arena.on(device, 120L << 30);
            this.b = b;
            this.hq = hq;
            this.hkv = hkv;
            this.scale = spec.scaleFor(d);
            DType dt = q4.dtype();
            float[] qh = q4.toFloatArray(), kh = k4.toFloatArray(), vh = v4.toFloatArray();
            this.q = perHead(qh, dt, b, sq, hq, d);
            this.k = perHead(kh, dt, b, skv, hkv, d);
            this.v = perHead(vh, dt, b, skv, hkv, d);
            // the mask as 0 / -inf, or with a T5 table one (Sq, Skv) bias + mask tensor per head, materialized
            int tables = t5Table == null ? 1 : hq;
            this.masks = new Tensor[tables];
            float[] m = new float[Math.multiplyExact(sq, skv)];
            for (int h = 0; h < tables; h++) {
                for (int i = 0; i < sq; i++) {
                    for (int j = 0; j < skv; j++) {
                        long ip = (long) i + skv - sq;
                        boolean vis = (!spec.isCausal() || j <= ip) && (spec.windowLeft() < 0 || j >= ip - spec.windowLeft());
                        float bias = t5Table == null ? 0f
                                : t5Table[h * T5_BUCKETS + PositionBias.t5Bucket(j - ip, !spec.isCausal(), T5_BUCKETS, T5_MAX_DISTANCE)];
                        m[i * skv + j] = vis ? bias : Float.NEGATIVE_INFINITY;
                    }
                }
                masks[h] = inputs.fromFloats(m, dt, sq, skv);
            }
        }

        private Tensor[] perHead(float[] x, DType dt, int b, int s, int h, int d) {
            Tensor[] out = new Tensor[b * h];
            float[] buf = new float[s * d];
            for (int bi = 0; bi < b; bi++) {
                for (int hi = 0; hi < h; hi++) {
                    for (int t = 0; t < s; t++) System.arraycopy(x, ((bi * s + t) * h + hi) * d, buf, t * d, d);
                    out[bi * h + hi] = inputs.fromFloats(buf, dt, s, d);
                }
            }
            return out;
        }

        void run() {
            Ops ops = Ops.on(scratch);
            int group = hq / hkv;
            for (int bi = 0; bi < b; bi++) {
                for (int h = 0; h < hq; h++) {
                    Tensor kk = k[bi * hkv + h / group], vv = v[bi * hkv + h / group];
                    Tensor s = ops.gemm(q[bi * hq + h], kk, null, true);
                    Tensor scaled = ops.scale(s, scale);
                    s.close();
                    Tensor masked = ops.add(scaled, masks[masks.length == 1 ? 0 : h]);
                    scaled.close();
                    Tensor p = ops.softmax(masked, 1f);
                    masked.close();
                    ops.matmul(p, vv).close();
                    p.close();
                }
            }
        }

        long peakBytes() {
            return scratch.peakBytes();
        }

        @Override
        public void close() {
            scratch.releaseAll();
            inputs.releaseAll();
            scratch.close();
            inputs.close();
        }
    }
}
