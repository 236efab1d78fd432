package dev.braindrip.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.braindrip.ops.AttentionCase.Form;
import dev.braindrip.reference.AttentionReference;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Half;
import dev.braindrip.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Runs one {@link AttentionCase} through the Ops of an arena and checks it against
 * {@link AttentionReference}: NaN/Inf first, then rows that see no key (exact zeros, lse −inf or
 * the learned sink), then the error. F16/BF16 follow FlashAttention's rule
 * max|kernel − ref64| ≤ 2·max|naive same precision − ref64| + floor; F32 must also reach an NMSE
 * below 1e-10 (it is the same math in float).
 */
final class AttentionHarness {
    private AttentionHarness() {}

    /** Inputs of a case as stored (rounded to the dtype) and the oracle's problem. */
    record Inputs(float[] q, float[] k, float[] v, float[] sinks, int[] cuQ, int[] cuK, int[] used, int[] positions,
                  AttentionReference.Problem problem) {}

    static Inputs inputs(AttentionCase c) {
        SplittableRandom rng = new SplittableRandom(c.seed());
        int b = c.batch();
        int[] sq = new int[b], sk = new int[b];
        for (int i = 0; i < b; i++) {
            boolean first = i == 0; // sequence 0 keeps the maxima so they are real
            sq[i] = c.form() == Form.VARLEN && !first ? rng.nextInt(c.seqQ() + 1) : c.seqQ();
            sk[i] = c.form() == Form.VARLEN && !first ? rng.nextInt(c.seqK() + 1) : c.seqK();
        }
        int[] cuQ = null, cuK = null, used = null;
        int rowsQ = b * c.seqQ(), rowsK = b * c.seqK();
        if (c.form() == Form.VARLEN) {
            cuQ = new int[b + 1];
            cuK = new int[b + 1];
            for (int i = 0; i < b; i++) {
                cuQ[i + 1] = cuQ[i] + sq[i];
                cuK[i + 1] = cuK[i] + sk[i];
            }
            rowsQ = cuQ[b];
            rowsK = cuK[b];
        }
        if (c.form() == Form.CACHE) {
            used = new int[b];
            for (int i = 0; i < b; i++) used[i] = i == 0 ? c.seqK() : rng.nextInt(c.seqK() + 1);
        }
        float[] q = randn(rng, rowsQ * c.heads() * c.headDim(), c.qAmp(), c.dtype());
        float[] k = randn(rng, rowsK * c.kvHeads() * c.headDim(), 1f, c.dtype());
        float[] v = randn(rng, rowsK * c.kvHeads() * c.headDimV(), 1f, c.dtype());
        float[] sinks = null;
        if (c.learnedSinks()) {
            sinks = new float[c.heads()];
            for (int h = 0; h < sinks.length; h++) sinks[h] = (float) (0.5 + 1.5 * gauss(rng));
        }
        int[] positions = null;
        if (c.keyRope()) { // StreamingLLM-like in-cache positions: slot order, a jump after the sink tokens
            positions = new int[b * c.seqK()];
            int sinkN = c.spec().sinkTokens();
            for (int i = 0; i < b; i++) {
                int off = rng.nextInt(3001);
                for (int j = 0; j < c.seqK(); j++) positions[i * c.seqK() + j] = j < sinkN ? j : j + off;
            }
        }
        AttentionReference.Problem p = new AttentionReference.Problem(b, c.seqQ(), c.seqK(), c.heads(), c.kvHeads(), c.headDim(), c.headDimV(),
                q, k, v, c.spec());
        if (cuQ != null) p = p.varlen(cuQ, cuK);
        if (used != null) p = p.seqUsedK(used);
        if (sinks != null) p = p.sinks(sinks);
        if (positions != null) p = p.keyRope(positions, 10000f);
        return new Inputs(q, k, v, sinks, cuQ, cuK, used, positions, p);
    }

    private static double gauss(SplittableRandom rng) {
        double u1 = 1.0 - rng.nextDouble(), u2 = rng.nextDouble();
        return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }

    private static float[] randn(SplittableRandom rng, int n, float amp, DType dt) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = Half.round(dt, (float) (amp * gauss(rng)));
        return x;
    }

    /** Runs the case on the arena's device; returns o and lse as floats. */
    static float[][] run(Arena arena, AttentionCase c, Inputs in) {
        int b = c.batch(), hq = c.heads(), hkv = c.kvHeads(), d = c.headDim(), dv = c.headDimV();
        List<Tensor> made = new ArrayList<>();
        try {
            Tensor sinks = in.sinks() == null ? null : track(made, arena.fromFloats(in.sinks(), DType.F32, hq));
            AttentionResult r;
            if (c.form() == Form.VARLEN) {
                long tq = in.cuQ()[b], tk = in.cuK()[b];
                Tensor q = track(made, arena.fromFloats(in.q(), c.dtype(), tq, hq, d));
                Tensor k = track(made, arena.fromFloats(in.k(), c.dtype(), tk, hkv, d));
                Tensor v = track(made, arena.fromFloats(in.v(), c.dtype(), tk, hkv, dv));
                Tensor cq = track(made, arena.fromInts(in.cuQ(), b + 1)), ck = track(made, arena.fromInts(in.cuK(), b + 1));
                r = Ops.on(arena).attentionVarlen(q, k, v, cq, ck, sinks, c.spec());
            } else {
                Tensor q = track(made, arena.fromFloats(in.q(), c.dtype(), b, c.seqQ(), hq, d));
                Tensor k = track(made, arena.fromFloats(in.k(), c.dtype(), b, c.seqK(), hkv, d));
                Tensor v = track(made, arena.fromFloats(in.v(), c.dtype(), b, c.seqK(), hkv, dv));
                if (c.form() == Form.CACHE) {
                    Tensor used = track(made, arena.fromInts(in.used(), b));
                    KeyRope rope = in.positions() == null ? null
                            : new KeyRope(track(made, arena.fromInts(in.positions(), b, c.seqK())), 10000f);
                    r = Ops.on(arena).attentionKvCache(q, k, v, used, rope, sinks, c.spec());
                } else {
                    r = Ops.on(arena).attention(q, k, v, sinks, c.spec());
                }
            }
            try (r) {
                assertEquals(c.dtype(), r.o().dtype(), "o dtype");
                assertEquals(DType.F32, r.lse().dtype(), "lse dtype");
                return new float[][] {r.o().toFloatArray(), r.lse().toFloatArray()};
            }
        } finally {
            for (Tensor t : made) t.close();
        }
    }

    private static Tensor track(List<Tensor> made, Tensor t) {
        made.add(t);
        return t;
    }

    /** The whole check of one case on one arena. */
    static void check(Arena arena, AttentionCase c) {
        Inputs in = inputs(c);
        float[][] got = run(arena, c, in);
        compare(c, in, got[0], got[1]);
    }

    static void compare(AttentionCase c, Inputs in, float[] o, float[] lse) {
        AttentionReference.Result ref = AttentionReference.exact(in.problem());
        AttentionReference.Result naive = AttentionReference.naive(in.problem(), c.dtype());
        assertEquals(ref.o().length, o.length, c + ": o size");
        assertEquals(ref.lse().length, lse.length, c + ": lse size");
        for (int i = 0; i < o.length; i++) if (!Float.isFinite(o[i])) fail(c + ": o[" + i + "] = " + o[i] + " is not finite");
        for (int i = 0; i < lse.length; i++) {
            if (Float.isNaN(lse[i]) || lse[i] == Float.POSITIVE_INFINITY) fail(c + ": lse[" + i + "] = " + lse[i]);
        }
        int dv = c.headDimV(), hq = c.heads();
        double maxRef = 0, errK = 0, errN = 0, lseK = 0, lseN = 0, lseFloor = 0, num = 0, den = 0;
        int worst = -1;
        for (int row = 0; row < ref.empty().length; row++) {
            // lse index → o row: dense lse is (B, Hq, Sq), o (B, Sq, Hq, Dv); packed both (totalQ, Hq)
            int oBase = oRowOf(c, in, row) * dv;
            if (ref.empty()[row]) {
                for (int x = 0; x < dv; x++) {
                    if (o[oBase + x] != 0f) fail(c + ": lse row " + row + " sees no key but o[" + (oBase + x) + "] = " + o[oBase + x]);
                }
                if (lse[row] != (float) ref.lse()[row]) fail(c + ": lse row " + row + " sees no key: lse " + lse[row] + ", want " + ref.lse()[row]);
                continue;
            }
            for (int x = 0; x < dv; x++) {
                double r = ref.o()[oBase + x];
                maxRef = Math.max(maxRef, Math.abs(r));
                double e = Math.abs(o[oBase + x] - r);
                if (e > errK) {
                    errK = e;
                    worst = oBase + x;
                }
                errN = Math.max(errN, Math.abs(naive.o()[oBase + x] - r));
                num += e * e;
                den += r * r;
            }
            lseK = Math.max(lseK, Math.abs(lse[row] - ref.lse()[row]));
            lseN = Math.max(lseN, Math.abs(naive.lse()[row] - ref.lse()[row]));
            lseFloor = Math.max(lseFloor, 2e-5 * (1 + Math.abs(ref.lse()[row])));
        }
        double boundO = 2 * errN + halfUlp(c.dtype()) * Math.max(maxRef, 1e-3) + 1e-6;
        double boundL = 2 * lseN + lseFloor;
        String where = worst < 0 ? "" : String.format(" (worst o[%d]: got %.7g, want %.7g)", worst, o[worst], ref.o()[worst]);
        assertTrue(errK <= boundO, String.format("%s: o max|kernel - ref64| = %.3g > bound %.3g (naive %.3g)%s", c, errK, boundO, errN, where));
        assertTrue(lseK <= boundL, String.format("%s: lse max|kernel - ref64| = %.3g > bound %.3g (naive %.3g)", c, lseK, boundL, lseN));
        if (c.dtype() == DType.F32 && den > 0) {
            double nmse = num / den;
            assertTrue(nmse <= 1e-10, String.format("%s: F32 NMSE %.3g > 1e-10%s", c, nmse, where));
        }
    }

    /** Row of o (in units of Dv) for a given lse index. */
    static int oRowOf(AttentionCase c, Inputs in, int lseIndex) {
        if (c.form() == Form.VARLEN) return lseIndex; // both (totalQ, Hq)
        int sq = c.seqQ(), hq = c.heads();
        int b = lseIndex / (hq * sq), h = lseIndex / sq % hq, i = lseIndex % sq;
        return (b * sq + i) * hq + h;
    }

    /** Half an ulp at 1.0 of the storage type: the rounding floor of the rule. */
    static double halfUlp(DType dt) {
        return switch (dt) {
            case BF16 -> 0x1p-9;
            case F16 -> 0x1p-12;
            default -> 0x1p-21;
        };
    }

    // ---- the cases both backends run

    static List<AttentionCase> standardCases() {
        List<AttentionCase> cs = new ArrayList<>();
        AttentionSpec causal = AttentionSpec.causal(), full = AttentionSpec.full();
        for (DType dt : new DType[] {DType.F32, DType.BF16, DType.F16}) {
            // head dims, lengths not a multiple of any tile (tiles are 16/32 and 64)
            for (int d : new int[] {64, 128}) {
                cs.add(AttentionCase.of("full Sq != Skv", dt, 2, 77, 93, 2, 2, d, full));
                cs.add(AttentionCase.of("causal", dt, 2, 131, 131, 2, 2, d, causal));
            }
            cs.add(AttentionCase.of("causal Sq < Skv (bottom-right)", dt, 1, 37, 150, 4, 2, 64, causal));
            cs.add(AttentionCase.of("causal Sq > Skv (fully masked rows)", dt, 1, 150, 37, 4, 2, 64, causal));
            cs.add(AttentionCase.of("decode Sq = 1", dt, 3, 1, 300, 4, 2, 64, causal));
            cs.add(AttentionCase.of("Skv = 0 (every row empty)", dt, 1, 5, 0, 4, 2, 64, causal));
            cs.add(AttentionCase.of("window 5/7 non-causal", dt, 1, 140, 140, 4, 2, 64, full.window(5, 7)));
            cs.add(AttentionCase.of("sliding window 16 causal", dt, 1, 140, 140, 4, 2, 64, causal.slidingWindow(16)));
            cs.add(AttentionCase.of("window larger than the sequence", dt, 1, 140, 140, 4, 2, 64, causal.windowLeft(1000)));
            cs.add(AttentionCase.of("window 0/0 (diagonal only)", dt, 1, 70, 70, 4, 2, 64, full.window(0, 0)));
            cs.add(AttentionCase.of("window left 3, Sq > Skv", dt, 1, 100, 20, 4, 2, 64, causal.windowLeft(3)));
            cs.add(AttentionCase.of("sink tokens 4 + window 20", dt, 1, 200, 200, 4, 2, 64, causal.windowLeft(20).sinkTokens(4)));
            cs.add(AttentionCase.of("sink tokens 70 + window 30", dt, 1, 200, 200, 4, 2, 64, causal.windowLeft(30).sinkTokens(70)));
            cs.add(AttentionCase.of("sink tokens, decode over 300 keys", dt, 2, 3, 300, 4, 2, 64, causal.windowLeft(60).sinkTokens(4)));
            cs.add(AttentionCase.of("learned sinks causal", dt, 1, 90, 90, 4, 2, 64, causal).withLearnedSinks());
            cs.add(AttentionCase.of("learned sinks, Sq > Skv (empty rows: lse = sink)", dt, 1, 70, 20, 4, 2, 64, causal).withLearnedSinks());
            cs.add(AttentionCase.of("learned sinks + window 8", dt, 1, 100, 100, 4, 2, 64, causal.windowLeft(8)).withLearnedSinks());
            cs.add(AttentionCase.of("softcap 30", dt, 1, 90, 90, 4, 2, 64, causal.softcap(30f)).withQAmp(3f));
            cs.add(AttentionCase.of("softcap 2 (saturating)", dt, 1, 90, 90, 4, 2, 64, causal.softcap(2f)).withQAmp(6f));
            cs.add(AttentionCase.of("custom scale 0.3", dt, 1, 60, 75, 4, 2, 64, full.scale(0.3f)));
            cs.add(AttentionCase.of("peaky scores (q x 8)", dt, 1, 90, 90, 4, 2, 64, causal).withQAmp(8f));
            // GQA ratios 1/2/4/8, decode, a few queries, prefill
            for (int hkv : new int[] {8, 4, 2, 1}) {
                for (int sq : new int[] {1, 5, 70}) cs.add(AttentionCase.of("gqa " + 8 / hkv, dt, 2, sq, 129, 8, hkv, 128, causal));
            }
            // variable lengths and caches
            cs.add(AttentionCase.of("varlen causal", dt, 5, 150, 150, 4, 2, 64, causal).withForm(Form.VARLEN));
            cs.add(AttentionCase.of("varlen full Sq != Skv", dt, 5, 60, 200, 4, 2, 64, full).withForm(Form.VARLEN));
            cs.add(AttentionCase.of("varlen window + sink tokens + learned sinks", dt, 4, 180, 180, 4, 2, 64,
                    causal.windowLeft(25).sinkTokens(3)).withForm(Form.VARLEN).withLearnedSinks());
            cs.add(AttentionCase.of("cache decode (seqused_k)", dt, 4, 1, 300, 4, 2, 64, causal).withForm(Form.CACHE));
            cs.add(AttentionCase.of("cache chunk of 4 (seqused_k)", dt, 4, 4, 300, 4, 2, 64, causal).withForm(Form.CACHE));
            cs.add(AttentionCase.of("cache + key RoPE, sink tokens + window", dt, 2, 1, 260, 4, 2, 64,
                    causal.windowLeft(200).sinkTokens(4)).withKeyRope());
            cs.add(AttentionCase.of("cache + key RoPE prefill", dt, 1, 100, 100, 4, 2, 128, causal).withKeyRope());
            // split-KV ("flash-decoding"): every split count agrees with the oracle
            for (int s : new int[] {2, 3, 8}) {
                cs.add(AttentionCase.of("split-KV " + s + " decode gqa", dt, 2, 1, 1000, 8, 2, 128, causal.numSplits(s)));
                cs.add(AttentionCase.of("split-KV " + s + " prefill causal", dt, 1, 200, 200, 2, 1, 64, causal.numSplits(s)));
                cs.add(AttentionCase.of("split-KV " + s + " window + sink tokens + learned sinks", dt, 1, 3, 700, 2, 1, 64,
                        causal.windowLeft(100).sinkTokens(4).numSplits(s)).withLearnedSinks());
                cs.add(AttentionCase.of("split-KV " + s + " varlen", dt, 3, 2, 500, 2, 1, 64, causal.numSplits(s)).withForm(Form.VARLEN));
            }
            // head dims besides 64/128: Dv = 2D (differential attention's V), odd dims
            cs.add(AttentionCase.of("Dv = 2D", dt, 1, 70, 70, 2, 1, 64, causal).withHeadDimV(128));
            cs.add(AttentionCase.of("odd head dims D40 Dv72", dt, 1, 70, 70, 2, 1, 40, causal).withHeadDimV(72));
            cs.add(AttentionCase.of("head dim 256", dt, 1, 33, 70, 2, 1, 256, causal));
        }
        return cs;
    }
}
