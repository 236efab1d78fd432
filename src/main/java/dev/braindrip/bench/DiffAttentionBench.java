package dev.braindrip.bench;

import dev.braindrip.ops.AttentionSpec;
import dev.braindrip.ops.DiffAttentionSpec;
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
 * Benchmarks of fused differential attention at the standard shapes of BENCHMARKS.md ("differential"),
 * measuring in the same run, on the same inputs:
 * <ol>
 *   <li>the fused kernel ({@link Ops#diffAttention}): q (B, S, 2H, D), k (B, S, 2Hkv, D), v (B, S, Hkv, 2D);
 *   <li>one causal attention with 2H query heads of D and V width 2D ({@link Ops#attention} with
 *       Dv = 2D, over 2Hkv KV heads); where the backend does not implement Dv = 2D, two attention
 *       calls with V split in halves of width D, and the note says so;
 *   <li>the two-pass unfused version as Ops calls: attention of the even query heads, attention of the
 *       odd ones (each Dv = 2D), o1 + (−λ)·o2, RMSNorm over 2D with subln, × (1 − λinit).
 * </ol>
 * FLOPs (all three, so their TFLOP/s compare): BENCHMARKS' attention rule with Dv,
 * 2·B·Hq·pairs·(D + Dv) with Hq = 2H and Dv = 2D, i.e. 12·B·H·D·pairs (the element-wise epilogue is
 * not counted). The row's time and TFLOP/s are the fused kernel's; the peer is the two-pass version;
 * the note and the JSON extras give the one-causal time and the ratios fused / one-causal (target
 * ≤ 1.3) and fused / two-pass.
 */
public final class DiffAttentionBench {
    private DiffAttentionBench() {}

    public static Map<String, Object> shape(int batch, int seq, int heads, int kvHeads, int headDim, boolean causal) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("batch", batch);
        m.put("seq_q", seq);
        m.put("seq_kv", seq);
        m.put("heads", heads);
        m.put("kv_heads", kvHeads);
        m.put("head_dim", headDim);
        m.put("causal", causal);
        return m;
    }

    /**
     * GPU: S ∈ {2k, 8k} with B·S = 16384 (the attention sweep's token count), H 16 (32 query/key heads
     * of D 64, V heads of 128), causal. CPU: B 1, H 16, D 64, causal at S 1024 and 2048.
     */
    public static List<Map<String, Object>> standardShapes(Device device) {
        List<Map<String, Object>> out = new ArrayList<>();
        if (!device.isCuda()) {
            out.add(shape(1, 1024, 16, 16, 64, true));
            out.add(shape(1, 2048, 16, 16, 64, true));
            return out;
        }
        for (int s : new int[] {2048, 8192}) out.add(shape(16384 / s, s, 16, 16, 64, true));
        return out;
    }

    private static int dim(Map<String, Object> shape, String key) {
        Object v = shape.get(key);
        if (v == null) throw new IllegalArgumentException("bench diff-attention: missing shape option --" + key.replace('_', '-'));
        int n = ((Number) v).intValue();
        if (n < 1) throw new IllegalArgumentException("bench diff-attention: --" + key.replace('_', '-') + " (" + n + ") must be >= 1");
        return n;
    }

    /** Measures one shape. */
    public static BenchResult run(Map<String, Object> shape, Device device, DType dt, BenchOptions o) {
        int b = dim(shape, "batch"), sq = dim(shape, "seq_q"), skv = dim(shape, "seq_kv"), h = dim(shape, "heads"),
                hkv = dim(shape, "kv_heads"), d = dim(shape, "head_dim");
        if (h % hkv != 0) throw new IllegalArgumentException("bench diff-attention: --heads (" + h + ") must be divisible by --kv-heads (" + hkv + ")");
        boolean causal = Boolean.TRUE.equals(shape.get("causal"));
        AttentionSpec mask = causal ? AttentionSpec.causal() : AttentionSpec.full();
        float lambdaInit = DiffAttentionSpec.lambdaInit(4);
        DiffAttentionSpec spec = new DiffAttentionSpec(mask, 0.5f, lambdaInit, DiffAttentionSpec.DEFAULT_EPS);
        int warm = Math.max(1, o.warmup());
        try (Arena arena = Arena.on(device, 120L << 30); Arena scratch = Arena.on(device, 120L << 30)) {
            Ops ops = Ops.on(scratch);
            Tensor q = AttentionBench.random(arena, dt, b, sq, 2L * h, d);
            Tensor k = AttentionBench.random(arena, dt, b, skv, 2L * hkv, d);
            Tensor v = AttentionBench.random(arena, dt, b, skv, hkv, 2L * d);
            Tensor subln = arena.uniform(dt, 0.5f, 1.5f, 2L * d);
            long pairs = AttentionBench.visiblePairs(sq, skv, causal, -1);
            double flops = 2.0 * b * (2L * h) * pairs * (d + 2.0 * d);
            double bytes = (double) (q.bytes() + k.bytes() + v.bytes()) + (double) b * sq * h * 2L * d * dt.bytes();

            // (a) the fused kernel
            double c0 = AttentionBench.processCpuSeconds();
            double[] fused = Timer.time(device, warm, o.repeats(), i -> ops.diffAttention(q, k, v, subln, spec).close());
            double fusedCpu = (AttentionBench.processCpuSeconds() - c0) / (warm + o.repeats());
            double fusedMs = Timer.median(fused);
            StringBuilder note = new StringBuilder("FLOPs = 2*B*2H*pairs*(D + 2D) for all three");

            // (b) one causal pass over 2H heads with V width 2D (2Hkv KV heads), or two passes over V halves
            double oneMs, oneCpu;
            String oneForm;
            Tensor vWide = AttentionBench.random(arena, dt, b, skv, 2L * hkv, 2L * d);
            boolean wide = supportsWideV(ops, q, k, vWide, mask);
            c0 = AttentionBench.processCpuSeconds();
            if (wide) {
                oneForm = "one attention call, Dv = 2D";
                oneMs = Timer.median(Timer.time(device, warm, o.repeats(), i -> ops.attention(q, k, vWide, mask).close()));
            } else {
                oneForm = "two attention calls over V halves of width D (the backend lacks Dv = 2D)";
                Tensor vHalf = AttentionBench.random(arena, dt, b, skv, 2L * hkv, d);
                oneMs = Timer.median(Timer.time(device, warm, o.repeats(), i -> {
                    ops.attention(q, k, vHalf, mask).close();
                    ops.attention(q, k, vHalf, mask).close();
                }));
            }
            oneCpu = (AttentionBench.processCpuSeconds() - c0) / (warm + o.repeats());
            note.append(String.format(Locale.ROOT, "; one causal pass (%s): %.4f ms, fused / one-causal %.2f (target <= 1.3)", oneForm, oneMs,
                    fusedMs / oneMs));

            // (c) the two-pass unfused version (inputs split per map outside the timed region)
            BenchResult.Peer peer = null;
            double twoCpu = Double.NaN;
            Map<String, Object> extra = new LinkedHashMap<>();
            extra.put("flop_rule", "2*B*Hq*pairs*(D+Dv), Hq = 2H, Dv = 2D");
            extra.put("one_causal_ms", oneMs);
            extra.put("one_causal_form", oneForm);
            extra.put("fused_over_one_causal", fusedMs / oneMs);
            if (!wide) {
                note.append("; two-pass skipped: the backend lacks Dv = 2D");
                extra.put("two_pass_ms", null);
                extra.put("fused_over_two_pass", null);
            } else {
                Tensor[][] maps = splitMaps(arena, q, k, v, b, sq, skv, h, hkv, d);
                c0 = AttentionBench.processCpuSeconds();
                double twoMs = Timer.median(Timer.time(device, warm, o.repeats(), i -> twoPass(ops, maps, subln, spec, b, sq, h, d).close()));
                twoCpu = (AttentionBench.processCpuSeconds() - c0) / (warm + o.repeats());
                peer = new BenchResult.Peer("two-pass unfused (2 attention, add, rmsnorm, scale)", twoMs);
                note.append(String.format(Locale.ROOT, "; two-pass unfused: %.4f ms, fused / two-pass %.2f", twoMs, fusedMs / twoMs));
                extra.put("two_pass_ms", twoMs);
                extra.put("fused_over_two_pass", fusedMs / twoMs);
            }
            if (!device.isCuda() && fusedCpu > 0 && oneCpu > 0) { // on a shared host, CPU seconds per call depend less on the load
                note.append(String.format(Locale.ROOT, "; process CPU time per call: fused %.3f s, one-causal %.3f s (ratio %.2f)", fusedCpu,
                        oneCpu, fusedCpu / oneCpu));
                Map<String, Object> cpu = new LinkedHashMap<>();
                cpu.put("fused", fusedCpu);
                cpu.put("one_causal", oneCpu);
                if (twoCpu > 0) {
                    note.append(String.format(Locale.ROOT, ", two-pass %.3f s", twoCpu));
                    cpu.put("two_pass", twoCpu);
                }
                extra.put("cpu_s_per_call", cpu);
            }
            scratch.releaseAll();
            arena.releaseAll();
            return new BenchResult("diff-attention", device.toString(), dt.name().toLowerCase(Locale.ROOT), new LinkedHashMap<>(shape), fusedMs,
                    fused[0], o.repeats(), flops, bytes, peer, note.toString(), extra);
        }
    }

    private static boolean supportsWideV(Ops ops, Tensor q, Tensor k, Tensor vWide, AttentionSpec mask) {
        try {
            ops.attention(q, k, vWide, mask).close();
            return true;
        } catch (UnsupportedOperationException e) {
            return false;
        }
    }

    /**
     * Per map m: q_m (B, S, H, D) = query heads 2h + m; k_m (B, S, H', D) and v_m (B, S, H', 2D) such that
     * attention's head mapping reads key head (2h + m) / r and V head h / r. With r = 1 (the standard
     * shapes) k_m holds the even or odd key heads and v_m is v; otherwise both are expanded per output head.
     */
    private static Tensor[][] splitMaps(Arena arena, Tensor q, Tensor k, Tensor v, int b, int sq, int skv, int h, int hkv, int d) {
        int r = h / hkv;
        float[] qh = q.toFloatArray(), kh = k.toFloatArray(), vh = v.toFloatArray();
        Tensor[][] out = new Tensor[2][];
        for (int m = 0; m < 2; m++) {
            float[] qm = new float[b * sq * h * d];
            for (int t = 0; t < b * sq; t++) {
                for (int hh = 0; hh < h; hh++) System.arraycopy(qh, (t * 2 * h + 2 * hh + m) * d, qm, (t * h + hh) * d, d);
            }
            Tensor qt = arena.fromFloats(qm, q.dtype(), b, sq, h, d);
            if (r == 1) {
                float[] km = new float[b * skv * h * d];
                for (int t = 0; t < b * skv; t++) {
                    for (int hh = 0; hh < h; hh++) System.arraycopy(kh, (t * 2 * h + 2 * hh + m) * d, km, (t * h + hh) * d, d);
                }
                out[m] = new Tensor[] {qt, arena.fromFloats(km, k.dtype(), b, skv, h, d), v};
            } else {
                float[] km = new float[b * skv * h * d], vm = new float[b * skv * h * 2 * d];
                for (int t = 0; t < b * skv; t++) {
                    for (int hh = 0; hh < h; hh++) {
                        System.arraycopy(kh, (t * 2 * hkv + (2 * hh + m) / r) * d, km, (t * h + hh) * d, d);
                        System.arraycopy(vh, (t * hkv + hh / r) * 2 * d, vm, (t * h + hh) * 2 * d, 2 * d);
                    }
                }
                out[m] = new Tensor[] {qt, arena.fromFloats(km, k.dtype(), b, skv, h, d), arena.fromFloats(vm, v.dtype(), b, skv, h, 2L * d)};
            }
        }
        return out;
    }

    /** The unfused computation as Ops calls; returns o (B·S·H, 2D). */
    static Tensor twoPass(Ops ops, Tensor[][] maps, Tensor subln, DiffAttentionSpec spec, int b, int sq, int h, int d) {
        AttentionSpec mask = spec.mask();
        Tensor o1 = null, o2 = null, t = null, u = null, n = null;
        try (var r1 = ops.attention(maps[0][0], maps[0][1], maps[0][2], mask);
             var r2 = ops.attention(maps[1][0], maps[1][1], maps[1][2], mask)) {
            o1 = r1.o().reshape((long) b * sq * h, 2L * d);
            o2 = r2.o().reshape((long) b * sq * h, 2L * d);
            t = ops.scale(o2, -spec.lambda());
            u = ops.add(o1, t);
            n = ops.rmsnorm(u, subln, spec.eps());
            return ops.scale(n, 1f - spec.lambdaInit());
        } finally {
            for (Tensor x : new Tensor[] {t, u, n}) if (x != null) x.close();
        }
    }
}
