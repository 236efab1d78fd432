package dev.braindrip.bench;

import dev.braindrip.ops.Activation;
import dev.braindrip.ops.Glu;
import dev.braindrip.ops.Ops;
import dev.braindrip.ops.RopeSpec;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import dev.braindrip.tensor.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntFunction;

/**
 * Benchmarks of the basic ops (gemm, rmsnorm, layernorm, softmax, activation, glu, rope; overhead:
 * the cost of one call on a tiny tensor, {@link OverheadBench}) at the
 * standard shapes of BENCHMARKS.md: inputs rotate through enough copies to defeat the cache,
 * outputs come from the arena's pool (no allocation in the timed region after warm-up), and the
 * naive Java peer runs on the same shape when asked.
 */
public final class OpBench {
    /** Every benchmarked op family, in the order `bench all` runs them: the one list. */
    public static final List<String> OPS = List.of("gemm", "rmsnorm", "layernorm", "softmax", "activation", "glu", "rope", "attention", "sparse-attention", "diff-attention", "moe", "overhead");

    private OpBench() {}

    /** The standard shapes of an op on a device (GPU sizes on CUDA, 2-core sizes on the CPU). */
    public static List<Map<String, Object>> standardShapes(String op, Device device) {
        boolean gpu = device.isCuda();
        List<Map<String, Object>> out = new ArrayList<>();
        switch (op) {
            case "gemm" -> {
                if (gpu) {
                    out.add(shape("m", 4096, "n", 4096, "k", 4096));
                    for (int m : new int[] {1, 16, 128, 4096}) out.add(shape("m", m, "n", 14336, "k", 4096));
                } else {
                    out.add(shape("m", 2048, "n", 2048, "k", 2048));
                }
            }
            case "rope" -> out.add(shape("seq", 4096, "heads", 32, "head_dim", 128));
            case "moe" -> out.addAll(MoeBench.standardShapes(device));
            case "overhead" -> out.addAll(OverheadBench.standardShapes(device));
            case "attention" -> out.addAll(AttentionBench.standardShapes(device));
            case "sparse-attention" -> out.addAll(SparseAttentionBench.standardShapes(device));
            case "diff-attention" -> out.addAll(DiffAttentionBench.standardShapes(device));
            case "rmsnorm", "layernorm", "softmax", "activation", "glu" -> {
                out.add(shape("rows", 4096, "cols", 4096));
                out.add(shape("rows", 16, "cols", 4096));
            }
            default -> throw new IllegalArgumentException("bench: unknown op '" + op + "' (expected one of " + OPS + ")");
        }
        return out;
    }

    public static Map<String, Object> shape(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], kv[i + 1]);
        return m;
    }

    private static int dim(Map<String, Object> shape, String key) {
        Object v = shape.get(key);
        if (v == null) throw new IllegalArgumentException("bench: missing shape option --" + key.replace('_', '-'));
        int n = ((Number) v).intValue();
        if (n < 1) throw new IllegalArgumentException("bench: --" + key.replace('_', '-') + " (" + n + ") must be >= 1");
        return n;
    }

    /** Measures one op at one shape. */
    public static BenchResult run(String op, Map<String, Object> shape, Device device, DType dtype, BenchOptions o) {
        if (op.equals("moe")) return MoeBench.run(shape, device, dtype, o); // its own arena
        if (op.equals("overhead")) return OverheadBench.run(shape, device, dtype, o); // its own arena
        if (op.equals("attention")) return AttentionBench.run(shape, device, dtype, o); // its own arenas
        if (op.equals("sparse-attention")) return SparseAttentionBench.run(shape, device, dtype, o); // its own arenas
        if (op.equals("diff-attention")) return DiffAttentionBench.run(shape, device, dtype, o); // its own arenas
        try (Arena arena = Arena.on(device, 64L << 30)) {
            BenchResult r = switch (op) {
                case "gemm" -> gemm(arena, shape, dtype, o);
                case "rmsnorm", "layernorm", "softmax", "activation" -> rowOp(op, arena, shape, dtype, o);
                case "glu" -> glu(arena, shape, dtype, o);
                case "rope" -> rope(arena, shape, dtype, o);
                default -> throw new IllegalArgumentException("bench: unknown op '" + op + "' (expected one of " + OPS + ")");
            };
            arena.releaseAll();
            return r;
        }
    }

    private static List<Tensor> rotated(Arena arena, DType dt, long[] shape, int copies) {
        List<Tensor> l = new ArrayList<>();
        for (int i = 0; i < copies; i++) l.add(arena.uniform(dt, -1f, 1f, shape)); // uniform: cheap to make on the host
        return l;
    }

    private static double[] timeOp(Arena arena, BenchOptions o, IntFunction<Tensor> body) {
        return Timer.time(arena.device(), Math.max(1, o.warmup()), o.repeats(), i -> body.apply(i).close());
    }

    private static BenchResult.Peer peer(BenchOptions o, String name, Runnable body) {
        if (!o.peer()) return null;
        double[] ms = Timer.time(Device.cpu(), 1, Math.min(o.repeats(), 3), i -> body.run());
        return new BenchResult.Peer(name, Timer.median(ms));
    }

    private static BenchResult result(String op, Arena arena, DType dt, Map<String, Object> shape, double[] ms, BenchOptions o,
                                      double flops, double bytes, BenchResult.Peer peer, String note) {
        return new BenchResult(op, arena.device().toString(), dt.name().toLowerCase(java.util.Locale.ROOT), shape, Timer.median(ms),
                ms[0], o.repeats(), flops, bytes, peer, note);
    }

    private static BenchResult gemm(Arena arena, Map<String, Object> shape, DType dt, BenchOptions o) {
        int m = dim(shape, "m"), n = dim(shape, "n"), k = dim(shape, "k");
        long inBytes = ((long) m * k + (long) k * n) * dt.bytes();
        int copies = Rotation.copies(arena.device(), inBytes);
        List<Tensor> as = rotated(arena, dt, new long[] {m, k}, copies), bs = rotated(arena, dt, new long[] {k, n}, copies);
        Ops ops = Ops.on(arena);
        double[] ms = timeOp(arena, o, i -> ops.matmul(as.get(i % copies), bs.get(i % copies)));
        double flops = 2.0 * m * n * k;
        BenchResult.Peer peer = null;
        String note = null;
        if (o.peer()) {
            if ((double) m * n * k <= (arena.device().isCpu() ? 1.1e10 : 1.1e9)) { // the naive loop runs ~1 GFLOP/s; keep GPU runs short
                float[] a = as.get(0).toFloatArray(), b = bs.get(0).toFloatArray(), c = new float[m * n];
                peer = peer(o, "java-naive", () -> NaivePeers.gemm(a, b, c, m, n, k));
            } else {
                note = "peer skipped: " + m + "x" + n + "x" + k + " is too large for the naive loop";
            }
        }
        return result("gemm", arena, dt, shape, ms, o, flops, inBytes + (double) m * n * dt.bytes(), peer, note);
    }

    private static BenchResult rowOp(String op, Arena arena, Map<String, Object> shape, DType dt, BenchOptions o) {
        int rows = dim(shape, "rows"), cols = dim(shape, "cols");
        long[] s = {rows, cols};
        long xBytes = (long) rows * cols * dt.bytes();
        int copies = Rotation.copies(arena.device(), xBytes);
        List<Tensor> xs = rotated(arena, dt, s, copies);
        Tensor w = arena.randn(dt, cols), b = arena.randn(dt, cols);
        Ops ops = Ops.on(arena);
        IntFunction<Tensor> body = switch (op) {
            case "rmsnorm" -> i -> ops.rmsnorm(xs.get(i % copies), w, 1e-6f);
            case "layernorm" -> i -> ops.layernorm(xs.get(i % copies), w, b, 1e-5f);
            case "softmax" -> i -> ops.softmax(xs.get(i % copies), 1f);
            default -> i -> ops.activation(xs.get(i % copies), Activation.SILU);
        };
        double[] ms = timeOp(arena, o, body);
        double bytes = 2.0 * xBytes + (op.endsWith("norm") ? (op.equals("layernorm") ? 2.0 : 1.0) * cols * dt.bytes() : 0);
        BenchResult.Peer peer = null;
        if (o.peer()) {
            float[] x = xs.get(0).toFloatArray(), y = new float[x.length], wf = w.toFloatArray(), bf = b.toFloatArray();
            peer = switch (op) {
                case "rmsnorm" -> peer(o, "java-naive", () -> NaivePeers.rmsnorm(x, wf, y, rows, cols, 1e-6f));
                case "layernorm" -> peer(o, "java-naive", () -> NaivePeers.layernorm(x, wf, bf, y, rows, cols, 1e-5f));
                case "softmax" -> peer(o, "java-naive", () -> NaivePeers.softmax(x, y, rows, cols));
                default -> peer(o, "java-naive", () -> NaivePeers.silu(x, y));
            };
        }
        Map<String, Object> sh = new LinkedHashMap<>(shape);
        if (op.equals("activation")) sh.put("fn", "silu");
        return result(op, arena, dt, sh, ms, o, 0, bytes, peer, null);
    }

    private static BenchResult glu(Arena arena, Map<String, Object> shape, DType dt, BenchOptions o) {
        int rows = dim(shape, "rows"), f = dim(shape, "cols");
        long xBytes = (long) rows * 2 * f * dt.bytes();
        int copies = Rotation.copies(arena.device(), xBytes);
        List<Tensor> xs = rotated(arena, dt, new long[] {rows, 2L * f}, copies);
        Ops ops = Ops.on(arena);
        double[] ms = timeOp(arena, o, i -> ops.glu(xs.get(i % copies), Glu.SWIGLU));
        BenchResult.Peer peer = null;
        if (o.peer()) {
            float[] x = xs.get(0).toFloatArray(), y = new float[rows * f];
            peer = peer(o, "java-naive", () -> NaivePeers.swiglu(x, y, rows, f));
        }
        Map<String, Object> sh = new LinkedHashMap<>(shape);
        sh.put("fn", "swiglu");
        return result("glu", arena, dt, sh, ms, o, 0, 1.5 * xBytes, peer, null);
    }

    private static BenchResult rope(Arena arena, Map<String, Object> shape, DType dt, BenchOptions o) {
        int seq = dim(shape, "seq"), heads = dim(shape, "heads"), d = dim(shape, "head_dim");
        long xBytes = (long) seq * heads * d * dt.bytes();
        int copies = Rotation.copies(arena.device(), xBytes);
        List<Tensor> xs = rotated(arena, dt, new long[] {seq, heads, d}, copies);
        int[] p = new int[seq];
        for (int i = 0; i < seq; i++) p[i] = i;
        Tensor pos = arena.fromInts(p, seq);
        Ops ops = Ops.on(arena);
        RopeSpec spec = new RopeSpec(10000f, RopeSpec.Style.HALF, 0);
        double[] ms = timeOp(arena, o, i -> ops.rope(xs.get(i % copies), pos, spec));
        BenchResult.Peer peer = null;
        if (o.peer()) {
            float[] x = xs.get(0).toFloatArray(), y = new float[x.length];
            peer = peer(o, "java-naive", () -> NaivePeers.rope(x, p, y, seq, heads, d, 10000f));
        }
        return result("rope", arena, dt, shape, ms, o, 0, 2.0 * xBytes + 4.0 * seq, peer, null);
    }
}
