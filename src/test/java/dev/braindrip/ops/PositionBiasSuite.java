package dev.braindrip.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.braindrip.reference.AttentionReference;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Position biases inside the fused attention kernel (T5's bucketed relative position bias, ALiBi)
 * against the double-precision oracle, for one backend ({@link #arena}): CpuPositionBiasTest and
 * CudaPositionBiasTest.
 */
abstract class PositionBiasSuite {
    /** The arena of the backend under test. */
    abstract Arena arena();

    /** Whether the backend implements attention at this dtype and head dim (else it must refuse the call). */
    abstract boolean implementsHeadDim(DType dtype, int headDim);

    /** One case: the two sequence lengths, heads, the bias kind, causal or not, dtype. */
    record Case(String name, DType dtype, int batch, int seqQ, int seqK, int heads, int kvHeads, int headDim, boolean causal,
                boolean rel, boolean bidirectional, boolean alibi, int buckets, int maxDistance, int numSplits) {
        @Override
        public String toString() {
            return name + " " + dtype;
        }
    }

    static List<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (DType dt : new DType[] {DType.F32, DType.BF16, DType.F16}) {
            // T5 encoder: bidirectional buckets, no mask; distances past max_distance (S 300) and every bucket edge
            out.add(Arguments.of(new Case("t5 encoder", dt, 2, 300, 300, 4, 4, 32, false, true, true, false, 32, 128, 1)));
            // T5 decoder self-attention: causal buckets, causal mask, GQA rows packed
            out.add(Arguments.of(new Case("t5 decoder", dt, 1, 200, 200, 8, 2, 64, true, true, false, false, 32, 128, 1)));
            // a decoder chunk after a prefix (Sq < Skv: the bias by aligned absolute position)
            out.add(Arguments.of(new Case("t5 decoder chunk", dt, 2, 37, 170, 4, 4, 64, true, true, false, false, 32, 128, 1)));
            // small tables: few buckets, short max distance
            out.add(Arguments.of(new Case("small table", dt, 1, 90, 90, 2, 2, 16, false, true, true, false, 8, 20, 1)));
        }
        out.add(Arguments.of(new Case("alibi causal", DType.F32, 2, 130, 130, 4, 2, 64, true, false, false, true, 0, 0, 1)));
        out.add(Arguments.of(new Case("alibi + t5", DType.F32, 1, 100, 100, 4, 4, 32, false, true, true, true, 32, 128, 1)));
        // GQA heads packed into one tile's rows (a few queries over a long cache): rows of different heads
        out.add(Arguments.of(new Case("t5 decoder GQA packed", DType.F32, 2, 5, 300, 8, 2, 64, true, true, false, false, 32, 128, 1)));
        out.add(Arguments.of(new Case("t5 decoder GQA packed", DType.BF16, 1, 3, 260, 8, 2, 64, true, true, false, false, 32, 128, 1)));
        out.add(Arguments.of(new Case("t5 decoder split-KV", DType.F32, 1, 3, 600, 4, 4, 64, true, true, false, false, 32, 128, 4)));
        return out;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void matchesOracle(Case c) {
        if (!implementsHeadDim(c.dtype(), c.headDim())) {
            assertThrows(UnsupportedOperationException.class, () -> run(c), c + " is outside the backend's head dims");
            return;
        }
        run(c);
    }

    private void run(Case c) {
        SplittableRandom rnd = new SplittableRandom(c.name().hashCode() * 31L + c.dtype().ordinal());
        float[] q = randn(rnd, c.batch() * c.seqQ() * c.heads() * c.headDim(), c.dtype());
        float[] k = randn(rnd, c.batch() * c.seqK() * c.kvHeads() * c.headDim(), c.dtype());
        float[] v = randn(rnd, c.batch() * c.seqK() * c.kvHeads() * c.headDim(), c.dtype());
        // a table with every entry distinct and large enough to move the softmax: a wrong bucket shows
        float[] table = new float[c.heads() * Math.max(c.buckets(), 1)];
        for (int i = 0; i < table.length; i++) table[i] = (float) (2.0 * rnd.nextDouble() - 1.0) * 3f;
        float[] slopes = new float[c.heads()];
        for (int h = 0; h < c.heads(); h++) slopes[h] = (float) Math.pow(2, -8.0 * (h + 1) / c.heads());
        AttentionSpec spec = (c.causal() ? AttentionSpec.causal() : AttentionSpec.full()).scale(1f).numSplits(c.numSplits());
        AttentionReference.Problem p = new AttentionReference.Problem(c.batch(), c.seqQ(), c.seqK(), c.heads(), c.kvHeads(),
                c.headDim(), c.headDim(), q, k, v, spec);
        if (c.rel()) p = p.relativeBias(table, c.buckets(), c.maxDistance(), c.bidirectional());
        if (c.alibi()) p = p.alibi(slopes);
        float[] o;
        float[] lse;
        try (Tensor tq = arena().fromFloats(q, c.dtype(), c.batch(), c.seqQ(), c.heads(), c.headDim());
             Tensor tk = arena().fromFloats(k, c.dtype(), c.batch(), c.seqK(), c.kvHeads(), c.headDim());
             Tensor tv = arena().fromFloats(v, c.dtype(), c.batch(), c.seqK(), c.kvHeads(), c.headDim());
             Tensor tt = c.rel() ? arena().fromFloats(table, DType.F32, c.heads(), c.buckets()) : null;
             Tensor ts = c.alibi() ? arena().fromFloats(slopes, DType.F32, c.heads()) : null;
             AttentionResult r = Ops.on(arena()).attentionBiased(tq, tk, tv,
                     new PositionBias(tt, c.buckets(), c.maxDistance(), c.bidirectional(), ts), spec)) {
            o = r.o().toFloatArray();
            lse = r.lse().toFloatArray();
        }
        compare(c.toString(), p, c.dtype(), o, lse);
    }

    /** Decoding one token at a time over a KV cache gives the rows of the full causal call (bias by absolute position). */
    @Test
    void cachedDecodeEqualsFullCall() {
        int s = 160, hq = 4, d = 32, nb = 32, md = 128, cap = 192;
        SplittableRandom rnd = new SplittableRandom(7);
        float[] q = randn(rnd, s * hq * d, DType.F32), k = randn(rnd, s * hq * d, DType.F32), v = randn(rnd, s * hq * d, DType.F32);
        float[] table = new float[hq * nb];
        for (int i = 0; i < table.length; i++) table[i] = (float) (2.0 * rnd.nextDouble() - 1.0) * 3f;
        AttentionSpec spec = AttentionSpec.causal().scale(1f);
        float[] kc = new float[cap * hq * d], vc = new float[cap * hq * d];
        System.arraycopy(k, 0, kc, 0, k.length);
        System.arraycopy(v, 0, vc, 0, v.length);
        try (Tensor tt = arena().fromFloats(table, DType.F32, hq, nb);
             Tensor tq = arena().fromFloats(q, DType.F32, 1, s, hq, d);
             Tensor tk = arena().fromFloats(k, DType.F32, 1, s, hq, d);
             Tensor tv = arena().fromFloats(v, DType.F32, 1, s, hq, d);
             Tensor kcache = arena().fromFloats(kc, DType.F32, 1, cap, hq, d);
             Tensor vcache = arena().fromFloats(vc, DType.F32, 1, cap, hq, d);
             AttentionResult full = Ops.on(arena()).attentionBiased(tq, tk, tv, PositionBias.t5(tt, nb, md, false), spec)) {
            float[] fo = full.o().toFloatArray();
            for (int t : new int[] {0, 1, 15, 16, 17, 63, 64, 127, 128, 129, 159}) {
                float[] qt = new float[hq * d];
                System.arraycopy(q, t * hq * d, qt, 0, hq * d);
                try (Tensor one = arena().fromFloats(qt, DType.F32, 1, 1, hq, d); Tensor used = arena().fromInts(new int[] {t + 1}, 1);
                     AttentionResult r = Ops.on(arena()).attentionKvCacheBiased(one, kcache, vcache, used, PositionBias.t5(tt, nb, md, false),
                             spec)) {
                    float[] ro = r.o().toFloatArray();
                    for (int x = 0; x < hq * d; x++) {
                        float want = fo[t * hq * d + x];
                        // F32 sums in another order (one row, split keys): ~1e-6; a bias at a wrong position moves o by ~0.1
                        if (Math.abs(ro[x] - want) > 2e-5f) {
                            fail("decode step " + t + ": o[" + x + "] = " + ro[x] + ", full call " + want);
                        }
                    }
                }
            }
        }
    }

    /**
     * A packed ragged batch (attentionVarlenBiased, as the T5 model runs it) gives each sequence
     * what the oracle gives it alone: the bias by each sequence's own positions, in an encoder
     * (bidirectional, past max distance), a decoder (causal), and queries fewer than keys.
     */
    @Test
    void varlenMatchesEachSequenceAlone() {
        int hq = 4, hkv = 2, d = 32, nb = 16, md = 40;
        int[][] shapes = {{1, 1}, {75, 75}, {9, 9}, {130, 130}};          // self-attention rows (Sq = Skv)
        int[][] chunks = {{3, 50}, {1, 7}, {20, 90}};                      // queries after a prefix
        for (DType dt : new DType[] {DType.F32, DType.BF16}) {
            for (boolean causal : new boolean[] {false, true}) {
                varlen(dt, causal, shapes, hq, hkv, d, nb, md);
            }
            varlen(dt, true, chunks, hq, hkv, d, nb, md);
        }
    }

    private void varlen(DType dt, boolean causal, int[][] lens, int hq, int hkv, int d, int nb, int md) {
        if (!implementsHeadDim(dt, d)) return;
        String ctx = "varlen " + dt + (causal ? " causal" : " bidirectional") + " " + java.util.Arrays.deepToString(lens);
        SplittableRandom rnd = new SplittableRandom(41 + lens.length + (causal ? 1 : 0) + dt.ordinal());
        int n = lens.length, tq = 0, tk = 0;
        int[] cuQ = new int[n + 1], cuK = new int[n + 1];
        for (int b = 0; b < n; b++) {
            cuQ[b + 1] = tq += lens[b][0];
            cuK[b + 1] = tk += lens[b][1];
        }
        float[] q = randn(rnd, tq * hq * d, dt), k = randn(rnd, tk * hkv * d, dt), v = randn(rnd, tk * hkv * d, dt);
        float[] table = new float[hq * nb];
        for (int i = 0; i < table.length; i++) table[i] = (float) (2.0 * rnd.nextDouble() - 1.0) * 3f;
        AttentionSpec spec = (causal ? AttentionSpec.causal() : AttentionSpec.full()).scale(1f);
        float[] o, lse;
        try (Tensor tqT = arena().fromFloats(q, dt, tq, hq, d); Tensor tkT = arena().fromFloats(k, dt, tk, hkv, d);
             Tensor tvT = arena().fromFloats(v, dt, tk, hkv, d); Tensor tt = arena().fromFloats(table, DType.F32, hq, nb);
             Tensor cq = arena().fromInts(cuQ, n + 1); Tensor ck = arena().fromInts(cuK, n + 1);
             AttentionResult r = Ops.on(arena()).attentionVarlenBiased(tqT, tkT, tvT, cq, ck, PositionBias.t5(tt, nb, md, !causal), spec)) {
            o = r.o().toFloatArray();
            lse = r.lse().toFloatArray(); // (totalQ, Hq)
        }
        for (int b = 0; b < n; b++) {
            int sq = lens[b][0], sk = lens[b][1];
            float[] qb = java.util.Arrays.copyOfRange(q, cuQ[b] * hq * d, cuQ[b + 1] * hq * d);
            float[] kb = java.util.Arrays.copyOfRange(k, cuK[b] * hkv * d, cuK[b + 1] * hkv * d);
            float[] vb = java.util.Arrays.copyOfRange(v, cuK[b] * hkv * d, cuK[b + 1] * hkv * d);
            AttentionReference.Problem p = new AttentionReference.Problem(1, sq, sk, hq, hkv, d, d, qb, kb, vb, spec)
                    .relativeBias(table, nb, md, !causal);
            float[] ob = java.util.Arrays.copyOfRange(o, cuQ[b] * hq * d, cuQ[b + 1] * hq * d);
            float[] lb = new float[hq * sq]; // the oracle's (1, Hq, Sq) from the varlen (totalQ, Hq)
            for (int i = 0; i < sq; i++) for (int h = 0; h < hq; h++) lb[h * sq + i] = lse[(cuQ[b] + i) * hq + h];
            compare(ctx + " sequence " + b, p, dt, ob, lb);
        }
    }

    /** A table that does not vary with the bucket adds a constant per row: softmax does not see it. */
    @Test
    void constantTableChangesOnlyTheLse() {
        int s = 70, hq = 2, d = 16, nb = 16;
        SplittableRandom rnd = new SplittableRandom(3);
        float[] q = randn(rnd, s * hq * d, DType.F32), k = randn(rnd, s * hq * d, DType.F32), v = randn(rnd, s * hq * d, DType.F32);
        float[] table = new float[hq * nb];
        java.util.Arrays.fill(table, 0, nb, 0.5f);
        java.util.Arrays.fill(table, nb, 2 * nb, -1.25f);
        AttentionSpec spec = AttentionSpec.full().scale(1f);
        try (Tensor tq = arena().fromFloats(q, DType.F32, 1, s, hq, d); Tensor tk = arena().fromFloats(k, DType.F32, 1, s, hq, d);
             Tensor tv = arena().fromFloats(v, DType.F32, 1, s, hq, d); Tensor tt = arena().fromFloats(table, DType.F32, hq, nb);
             AttentionResult plain = Ops.on(arena()).attention(tq, tk, tv, spec);
             AttentionResult biased = Ops.on(arena()).attentionBiased(tq, tk, tv, PositionBias.t5(tt, nb, 32, true), spec)) {
            float[] a = plain.o().toFloatArray(), b = biased.o().toFloatArray();
            for (int i = 0; i < a.length; i++) assertEquals(a[i], b[i], 2e-6f * (1 + Math.abs(a[i])), "o[" + i + "]");
            float[] la = plain.lse().toFloatArray(), lb = biased.lse().toFloatArray();
            for (int i = 0; i < la.length; i++) {
                float shift = i / s == 0 ? 0.5f : -1.25f; // lse (B, Hq, Sq)
                assertEquals(la[i] + shift, lb[i], 1e-5f * (1 + Math.abs(la[i])), "lse[" + i + "]");
            }
        }
    }

    @Test
    void badArgumentsAreRefused() {
        try (Tensor q = arena().zeros(DType.F32, 1, 4, 2, 8); Tensor k = arena().zeros(DType.F32, 1, 4, 2, 8);
             Tensor v = arena().zeros(DType.F32, 1, 4, 2, 8); Tensor wrong = arena().zeros(DType.F32, 3, 32);
             Tensor bf = arena().zeros(DType.BF16, 2, 32); Tensor slopes = arena().zeros(DType.F32, 3)) {
            AttentionSpec spec = AttentionSpec.full();
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Ops.on(arena()).attentionBiased(q, k, v, PositionBias.t5(wrong, 32, 128, true), spec));
            assertTrue(e.getMessage().contains("[2, 32]"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> Ops.on(arena()).attentionBiased(q, k, v, PositionBias.t5(bf, 32, 128, true), spec));
            assertThrows(IllegalArgumentException.class, () -> Ops.on(arena()).attentionBiased(q, k, v, PositionBias.alibi(slopes), spec));
            e = assertThrows(IllegalArgumentException.class, () -> PositionBias.t5(wrong, 2, 128, true));
            assertTrue(e.getMessage().contains("buckets (2) must be >= 4"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> PositionBias.t5(wrong, 32, 8, true));
            assertTrue(e.getMessage().contains("maxDistance (8)"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> new PositionBias(null, 0, 0, false, null));
        }
    }

    @Test
    void noBiasGivesTheSameBitsAsPlainAttention() {
        // bd_cpu_attention is bd_cpu_attention_biased without biases: one code path
        try (Tensor q = arena().randn(DType.BF16, 2, 50, 4, 64); Tensor k = arena().randn(DType.BF16, 2, 90, 2, 64);
             Tensor v = arena().randn(DType.BF16, 2, 90, 2, 64); Tensor zeros = arena().zeros(DType.F32, 4, 32);
             AttentionResult a = Ops.on(arena()).attention(q, k, v, AttentionSpec.causal());
             AttentionResult b = Ops.on(arena()).attentionBiased(q, k, v, PositionBias.t5(zeros, 32, 128, false), AttentionSpec.causal())) {
            assertArrayEquals(a.o().toFloatArray(), b.o().toFloatArray(), "o with an all-zero table");
            assertArrayEquals(a.lse().toFloatArray(), b.lse().toFloatArray(), "lse with an all-zero table");
        }
    }

    // ---- helpers

    private static float[] randn(SplittableRandom rnd, int n, DType dt) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            double u1 = rnd.nextDouble(), u2 = rnd.nextDouble();
            x[i] = dev.braindrip.tensor.Half.round(dt, (float) (Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2)));
        }
        return x;
    }

    /** The harness's rule: |kernel − F64| within twice the storage-precision naive version's error plus half an ulp. */
    private static void compare(String ctx, AttentionReference.Problem p, DType dt, float[] o, float[] lse) {
        AttentionReference.Result ref = AttentionReference.exact(p), naive = AttentionReference.naive(p, dt);
        assertEquals(ref.o().length, o.length, ctx + ": o size");
        double errK = 0, errN = 0, maxRef = 0, lseK = 0, lseN = 0, lseFloor = 0;
        for (int i = 0; i < o.length; i++) {
            assertTrue(Float.isFinite(o[i]), ctx + ": o[" + i + "] = " + o[i]);
            errK = Math.max(errK, Math.abs(o[i] - ref.o()[i]));
            errN = Math.max(errN, Math.abs(naive.o()[i] - ref.o()[i]));
            maxRef = Math.max(maxRef, Math.abs(ref.o()[i]));
        }
        for (int i = 0; i < lse.length; i++) {
            lseK = Math.max(lseK, Math.abs(lse[i] - ref.lse()[i]));
            lseN = Math.max(lseN, Math.abs(naive.lse()[i] - ref.lse()[i]));
            lseFloor = Math.max(lseFloor, 2e-5 * (1 + Math.abs(ref.lse()[i])));
        }
        double half = dt == DType.BF16 ? 0x1p-9 : dt == DType.F16 ? 0x1p-12 : 0x1p-21;
        double boundO = 2 * errN + half * Math.max(maxRef, 1e-3) + 1e-6, boundL = 2 * lseN + lseFloor;
        assertTrue(errK <= boundO, String.format("%s: o max|kernel - ref64| = %.3g > bound %.3g (naive %.3g)", ctx, errK, boundO, errN));
        assertTrue(lseK <= boundL, String.format("%s: lse max|kernel - ref64| = %.3g > bound %.3g (naive %.3g)", ctx, lseK, boundL, lseN));
    }
}
