package dev.braindrip.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.braindrip.reference.DiffAttentionReference;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Half;
import dev.braindrip.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Runs one differential attention case through the Ops of an arena and checks it against the
 * two-pass oracle ({@link DiffAttentionReference}): NaN/Inf first, then rows that see no key (exact
 * zeros), then the error under the attention tests' rule (AttentionHarness): max|kernel − ref64| ≤
 * 2·max|naive unfused same precision − ref64| + half an ulp of storage × max|ref|; F32 must also
 * reach an NMSE below 1e-10.
 */
final class DiffAttentionHarness {
    private DiffAttentionHarness() {}

    /**
     * One case: H output heads over Hkv (q has 2H heads of D, k 2Hkv, v Hkv of 2D); cache = the
     * KV-cache form with random used lengths (sequence 0 uses the whole capacity seqK).
     */
    record Case(String name, DType dtype, int batch, int seqQ, int seqK, int heads, int kvHeads, int headDim, boolean cache,
                DiffAttentionSpec spec, float qAmp, long seed) {
        static Case of(String name, DType dt, int b, int sq, int sk, int h, int hkv, int d, DiffAttentionSpec spec) {
            return new Case(name, dt, b, sq, sk, h, hkv, d, false, spec, 1f, 0x5EEDL + name.hashCode() * 31L + dt.ordinal() * 7L + d);
        }

        Case asCache() {
            return new Case(name, dtype, batch, seqQ, seqK, heads, kvHeads, headDim, true, spec, qAmp, seed);
        }

        Case amp(float a) {
            return new Case(name, dtype, batch, seqQ, seqK, heads, kvHeads, headDim, cache, spec, a, seed);
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "%s [%s B%d Sq%d Skv%d H%d Hkv%d D%d%s %s]", name, dtype, batch, seqQ, seqK, heads, kvHeads,
                    headDim, cache ? " cache" : "", spec);
        }
    }

    /** Inputs as stored (rounded to the dtype) and the oracle's problem. */
    record Inputs(float[] q, float[] k, float[] v, float[] subln, int[] used, DiffAttentionReference.Problem problem) {}

    static Inputs inputs(Case c) {
        SplittableRandom rng = new SplittableRandom(c.seed());
        int b = c.batch(), d = c.headDim();
        float[] q = randn(rng, b * c.seqQ() * 2 * c.heads() * d, c.qAmp(), c.dtype());
        float[] k = randn(rng, b * c.seqK() * 2 * c.kvHeads() * d, 1f, c.dtype());
        float[] v = randn(rng, b * c.seqK() * c.kvHeads() * 2 * d, 1f, c.dtype());
        float[] subln = new float[2 * d];
        for (int i = 0; i < subln.length; i++) subln[i] = Half.round(c.dtype(), (float) (0.5 + rng.nextDouble()));
        int[] used = null;
        DiffAttentionReference.Problem p = new DiffAttentionReference.Problem(b, c.seqQ(), c.seqK(), c.heads(), c.kvHeads(), d, q, k, v,
                subln, c.spec());
        if (c.cache()) {
            used = new int[b];
            for (int i = 0; i < b; i++) used[i] = i == 0 ? c.seqK() : rng.nextInt(c.seqK() + 1);
            p = p.seqUsedK(used);
        }
        return new Inputs(q, k, v, subln, used, p);
    }

    static double gauss(SplittableRandom rng) {
        double u1 = 1.0 - rng.nextDouble(), u2 = rng.nextDouble();
        return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }

    static float[] randn(SplittableRandom rng, int n, float amp, DType dt) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = Half.round(dt, (float) (amp * gauss(rng)));
        return x;
    }

    /** Runs the case on the arena's device; returns o as floats. */
    static float[] run(Arena arena, Case c, Inputs in) {
        int b = c.batch(), d = c.headDim();
        List<Tensor> made = new ArrayList<>();
        try {
            Tensor q = track(made, arena.fromFloats(in.q(), c.dtype(), b, c.seqQ(), 2L * c.heads(), d));
            Tensor k = track(made, arena.fromFloats(in.k(), c.dtype(), b, c.seqK(), 2L * c.kvHeads(), d));
            Tensor v = track(made, arena.fromFloats(in.v(), c.dtype(), b, c.seqK(), c.kvHeads(), 2L * d));
            Tensor subln = track(made, arena.fromFloats(in.subln(), c.dtype(), 2L * d));
            Tensor o;
            if (c.cache()) {
                Tensor used = track(made, arena.fromInts(in.used(), b));
                o = track(made, Ops.on(arena).diffAttentionKvCache(q, k, v, used, subln, c.spec()));
            } else {
                o = track(made, Ops.on(arena).diffAttention(q, k, v, subln, c.spec()));
            }
            assertEquals(c.dtype(), o.dtype(), "o dtype");
            assertEquals(List.of((long) b, (long) c.seqQ(), (long) c.heads(), 2L * d), List.of(o.dim(0), o.dim(1), o.dim(2), o.dim(3)),
                    "o shape");
            return o.toFloatArray();
        } finally {
            for (Tensor t : made) t.close();
        }
    }

    private static Tensor track(List<Tensor> made, Tensor t) {
        made.add(t);
        return t;
    }

    static void check(Arena arena, Case c) {
        Inputs in = inputs(c);
        compare(c, in, run(arena, c, in));
    }

    static void compare(Case c, Inputs in, float[] o) {
        DiffAttentionReference.Result ref = DiffAttentionReference.exact(in.problem());
        DiffAttentionReference.Result naive = DiffAttentionReference.naive(in.problem(), c.dtype());
        assertEquals(ref.o().length, o.length, c + ": o size");
        for (int i = 0; i < o.length; i++) if (!Float.isFinite(o[i])) fail(c + ": o[" + i + "] = " + o[i] + " is not finite");
        int dv = 2 * c.headDim();
        double maxRef = 0, errK = 0, errN = 0, num = 0, den = 0;
        int worst = -1;
        for (int row = 0; row < ref.empty().length; row++) {
            int base = row * dv;
            if (ref.empty()[row]) {
                for (int x = 0; x < dv; x++) {
                    if (o[base + x] != 0f) fail(c + ": row " + row + " sees no key but o[" + (base + x) + "] = " + o[base + x]);
                }
                continue;
            }
            for (int x = 0; x < dv; x++) {
                double r = ref.o()[base + x];
                maxRef = Math.max(maxRef, Math.abs(r));
                double e = Math.abs(o[base + x] - r);
                if (e > errK) {
                    errK = e;
                    worst = base + x;
                }
                errN = Math.max(errN, Math.abs(naive.o()[base + x] - r));
                num += e * e;
                den += r * r;
            }
        }
        double bound = 2 * errN + AttentionHarness.halfUlp(c.dtype()) * Math.max(maxRef, 1e-3) + 1e-6;
        String where = worst < 0 ? "" : String.format(Locale.ROOT, " (worst o[%d]: got %.7g, want %.7g)", worst, o[worst], ref.o()[worst]);
        assertTrue(errK <= bound, String.format(Locale.ROOT, "%s: o max|kernel - ref64| = %.3g > bound %.3g (naive %.3g)%s", c, errK, bound,
                errN, where));
        if (c.dtype() == DType.F32 && den > 0) {
            double nmse = num / den;
            assertTrue(nmse <= 1e-10, String.format(Locale.ROOT, "%s: F32 NMSE %.3g > 1e-10%s", c, nmse, where));
        }
    }

    // ---- the cases both backends run

    static List<Case> standardCases() {
        List<Case> cs = new ArrayList<>();
        DiffAttentionSpec causal = DiffAttentionSpec.causal(0.45f, DiffAttentionSpec.lambdaInit(3));
        DiffAttentionSpec full = causal.withMask(AttentionSpec.full());
        for (DType dt : new DType[] {DType.F32, DType.BF16, DType.F16}) {
            for (int d : new int[] {64, 128}) {
                cs.add(Case.of("full Sq != Skv", dt, 2, 77, 93, 2, 2, d, full));
                cs.add(Case.of("causal", dt, 2, 131, 131, 2, 2, d, causal));
            }
            // GQA r = 1, 2, 4 (r >= 2: both maps of a head read one key head)
            for (int hkv : new int[] {4, 2, 1}) {
                cs.add(Case.of("gqa causal r" + 4 / hkv, dt, 2, 70, 129, 4, hkv, 64, causal));
                cs.add(Case.of("gqa full r" + 4 / hkv, dt, 1, 33, 70, 4, hkv, 64, full));
            }
            cs.add(Case.of("causal Sq < Skv (bottom-right)", dt, 1, 37, 150, 4, 2, 64, causal));
            cs.add(Case.of("causal Sq > Skv (rows that see no key)", dt, 1, 150, 37, 4, 2, 64, causal));
            cs.add(Case.of("Skv = 0 (every row empty)", dt, 1, 5, 0, 4, 2, 64, causal));
            cs.add(Case.of("window 5/7 non-causal", dt, 1, 140, 140, 4, 2, 64, full.withMask(AttentionSpec.full().window(5, 7))));
            cs.add(Case.of("sliding window 16 causal", dt, 1, 140, 140, 4, 2, 64, causal.withMask(AttentionSpec.causal().slidingWindow(16))));
            cs.add(Case.of("window left 3, Sq > Skv", dt, 1, 100, 20, 4, 2, 64, causal.withMask(AttentionSpec.causal().windowLeft(3))));
            cs.add(Case.of("decode over a cache", dt, 3, 1, 300, 4, 2, 64, causal).asCache());
            cs.add(Case.of("4 queries over a cache, r4", dt, 3, 4, 200, 4, 1, 64, causal).asCache());
            cs.add(Case.of("peaky scores (q x6)", dt, 1, 90, 90, 4, 2, 64, causal).amp(6f));
            cs.add(Case.of("lambda 0.8, lambdaInit 0.8", dt, 1, 90, 90, 2, 1, 64, DiffAttentionSpec.causal(0.8f, 0.8f)));
            cs.add(Case.of("negative lambda, scale 0.3", dt, 1, 60, 60, 2, 1, 64,
                    new DiffAttentionSpec(AttentionSpec.causal().scale(0.3f), -0.4f, 0.2f, 1e-6f)));
        }
        // other head dims on F32 (the CPU supports 1..512; CUDA refuses what it does not implement)
        for (int d : new int[] {1, 7, 33, 96, 256}) cs.add(Case.of("odd head dim", DType.F32, 1, 45, 70, 2, 1, d, causal));
        return cs;
    }
}
