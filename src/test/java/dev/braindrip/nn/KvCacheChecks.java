package dev.braindrip.nn;

import dev.braindrip.ops.AttentionResult;
import dev.braindrip.ops.AttentionSpec;
import dev.braindrip.ops.KeyRope;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.braindrip.ops.Ops;
import dev.braindrip.ops.RopeSpec;
import dev.braindrip.reference.AttentionReference;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Tensor;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Decoding token by token through each KV cache must give what one prefill over the same tokens
 * gives (for the ring cache: the prefill with the equivalent sliding window; for the sink + window
 * cache: attention with StreamingLLM's in-cache positions). F32 throughout: the two paths run the
 * same math in a different order, so they agree to float rounding. Shared by the CPU and GPU tests.
 */
public final class KvCacheChecks {
    static final int B = 2, HQ = 4, HKV = 2, D = 64;

    private KvCacheChecks() {}

    /** Host tokens: q (B, N, Hq, D), k and v (B, N, Hkv, D), standard normal, F32. */
    record Tokens(int n, float[] q, float[] k, float[] v) {
        static Tokens random(int n, long seed) {
            SplittableRandom r = new SplittableRandom(seed);
            return new Tokens(n, normal(r, B * n * HQ * D), normal(r, B * n * HKV * D), normal(r, B * n * HKV * D));
        }

        /** Rows [t0, t1) of every sequence of x (B, N, H, D) as a (B, t1 − t0, H, D) array. */
        float[] slice(float[] x, int heads, int t0, int t1) {
            int row = heads * D;
            float[] out = new float[B * (t1 - t0) * row];
            for (int b = 0; b < B; b++) System.arraycopy(x, (b * n + t0) * row, out, b * (t1 - t0) * row, (t1 - t0) * row);
            return out;
        }

        /** Token t of sequence b of x (B, N, H, D): H·D values. */
        float[] token(float[] x, int heads, int b, int t) {
            int row = heads * D;
            return Arrays.copyOfRange(x, (b * n + t) * row, (b * n + t + 1) * row);
        }
    }

    static float[] normal(SplittableRandom r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i += 2) {
            double u1 = 1.0 - r.nextDouble(), u2 = r.nextDouble(), m = Math.sqrt(-2 * Math.log(u1));
            x[i] = (float) (m * Math.cos(2 * Math.PI * u2));
            if (i + 1 < n) x[i + 1] = (float) (m * Math.sin(2 * Math.PI * u2));
        }
        return x;
    }

    private static Tensor t4(Arena a, float[] x, int t, int heads) {
        return a.fromFloats(x, DType.F32, B, t, heads, D);
    }

    /** Asserts that rows of `got` (B, 1, Hq, D) equal rows t of `want` (B, N, Hq, D), and lse likewise. */
    private static void sameRow(String what, float[] got, float[] gotLse, float[] want, float[] wantLse, int n, int t) {
        int row = HQ * D;
        for (int b = 0; b < B; b++) {
            for (int x = 0; x < row; x++) {
                float g = got[b * row + x], w = want[(b * n + t) * row + x];
                if (!(Math.abs(g - w) <= 2e-5f * (1 + Math.abs(w)))) fail(what + ": step " + t + " seq " + b + " o[" + x + "] " + g + " vs prefill " + w);
            }
            for (int h = 0; h < HQ; h++) {
                float g = gotLse[b * HQ + h], w = wantLse[(b * HQ + h) * n + t];
                if (!(Math.abs(g - w) <= 2e-5f * (1 + Math.abs(w)))) fail(what + ": step " + t + " seq " + b + " lse[" + h + "] " + g + " vs prefill " + w);
            }
        }
    }

    private static float[][] prefill(Arena a, Tokens tk, AttentionSpec spec) {
        try (Tensor q = t4(a, tk.q(), tk.n(), HQ); Tensor k = t4(a, tk.k(), tk.n(), HKV); Tensor v = t4(a, tk.v(), tk.n(), HKV);
             AttentionResult r = Ops.on(a).attention(q, k, v, spec)) {
            return new float[][] {r.o().toFloatArray(), r.lse().toFloatArray()};
        }
    }

    // ---- dense

    public static void denseDecodeMatchesPrefill(Arena a) {
        int n = 41;
        Tokens tk = Tokens.random(n, 11);
        float[][] want = prefill(a, tk, AttentionSpec.causal());
        try (DenseKvCache cache = new DenseKvCache(a, B, 64, HKV, D, D, DType.F32)) {
            int t = 0;
            // a prompt chunk of 7 tokens first: its 7 queries against the cache = prefill rows 0..6
            try (Tensor k = t4(a, tk.slice(tk.k(), HKV, 0, 7), 7, HKV); Tensor v = t4(a, tk.slice(tk.v(), HKV, 0, 7), 7, HKV);
                 Tensor q = t4(a, tk.slice(tk.q(), HQ, 0, 7), 7, HQ)) {
                cache.append(k, v);
                try (AttentionResult r = cache.attend(q, AttentionSpec.causal())) {
                    float[] o = r.o().toFloatArray(), lse = r.lse().toFloatArray();
                    for (int i = 0; i < 7; i++) {
                        float[] oi = new float[B * HQ * D], li = new float[B * HQ];
                        for (int b = 0; b < B; b++) {
                            System.arraycopy(o, (b * 7 + i) * HQ * D, oi, b * HQ * D, HQ * D);
                            for (int h = 0; h < HQ; h++) li[b * HQ + h] = lse[(b * HQ + h) * 7 + i];
                        }
                        sameRow("dense cache chunk", oi, li, want[0], want[1], n, i);
                    }
                }
                t = 7;
            }
            for (; t < n; t++) {
                decodeStep(a, tk, t, (q, k, v) -> {
                    cache.append(k, v);
                    return cache.attend(q, AttentionSpec.causal());
                }, want, "dense cache decode");
                assertEquals(t + 1, cache.length(0));
            }
        }
    }

    interface Step {
        AttentionResult run(Tensor q, Tensor k, Tensor v);
    }

    private static void decodeStep(Arena a, Tokens tk, int t, Step step, float[][] want, String what) {
        try (Tensor q = t4(a, tk.slice(tk.q(), HQ, t, t + 1), 1, HQ); Tensor k = t4(a, tk.slice(tk.k(), HKV, t, t + 1), 1, HKV);
             Tensor v = t4(a, tk.slice(tk.v(), HKV, t, t + 1), 1, HKV); AttentionResult r = step.run(q, k, v)) {
            sameRow(what, r.o().toFloatArray(), r.lse().toFloatArray(), want[0], want[1], tk.n(), t);
        }
    }

    // ---- sliding window (ring)

    public static void slidingWindowDecodeMatchesWindowedPrefill(Arena a) {
        int w = 16, n = 3 * w + 5, prompt = 20; // the prompt is longer than the window: its first 4 rows are dropped
        Tokens tk = Tokens.random(n, 12);
        float[][] want = prefill(a, tk, AttentionSpec.causal().slidingWindow(w));
        try (SlidingWindowKvCache cache = new SlidingWindowKvCache(a, B, w, HKV, D, D, DType.F32)) {
            long before = a.allocatedBytes();
            try (Tensor k = t4(a, tk.slice(tk.k(), HKV, 0, prompt), prompt, HKV); Tensor v = t4(a, tk.slice(tk.v(), HKV, 0, prompt), prompt, HKV)) {
                cache.append(k, v);
            }
            assertEquals(w, cache.length(0));
            for (int t = prompt; t < n; t++) {
                decodeStep(a, tk, t, (q, k, v) -> {
                    cache.append(k, v);
                    return cache.attend(q, AttentionSpec.causal());
                }, want, "sliding window cache decode");
                assertEquals(before, a.allocatedBytes(), "the ring allocates nothing per step");
            }
            assertEquals(n, cache.tokensSeen(1));
        }
    }

    // ---- sink + window (StreamingLLM)

    public static void sinkWindowDecodeMatchesInCachePositions(Arena a) {
        int sinks = 4, w = 12, n = 50, prompt = 3;
        float theta = 10000f;
        Tokens tk = Tokens.random(n, 13);
        Ops ops = Ops.on(a);
        // while nothing was evicted, in-cache positions are absolute ones: one prefill with the
        // kernel rotating keys to positions 0..n-1 and queries rotated by the rope op
        float[][] prefix;
        int[] abs = new int[B * n], qpos = new int[B * n];
        for (int i = 0; i < B * n; i++) abs[i] = qpos[i] = i % n;
        try (Tensor q = t4(a, tk.q(), n, HQ); Tensor k = t4(a, tk.k(), n, HKV); Tensor v = t4(a, tk.v(), n, HKV);
             Tensor qp = a.fromInts(qpos, B, n); Tensor kp = a.fromInts(abs, B, n); Tensor used = a.fromInts(new int[] {n, n}, B);
             Tensor qr = ops.rope(q, qp, new RopeSpec(theta, RopeSpec.Style.HALF, 0));
             AttentionResult r = ops.attentionKvCache(qr, k, v, used, new KeyRope(kp, theta), null, AttentionSpec.causal())) {
            prefix = new float[][] {r.o().toFloatArray(), r.lse().toFloatArray()};
        }
        try (SinkWindowKvCache cache = new SinkWindowKvCache(a, B, sinks, w, HKV, D, D, DType.F32, theta)) {
            try (Tensor k = t4(a, tk.slice(tk.k(), HKV, 0, prompt), prompt, HKV); Tensor v = t4(a, tk.slice(tk.v(), HKV, 0, prompt), prompt, HKV)) {
                cache.append(k, v);
            }
            for (int t = prompt; t < n; t++) {
                int step = t;
                try (Tensor q = t4(a, tk.slice(tk.q(), HQ, t, t + 1), 1, HQ); Tensor k = t4(a, tk.slice(tk.k(), HKV, t, t + 1), 1, HKV);
                     Tensor v = t4(a, tk.slice(tk.v(), HKV, t, t + 1), 1, HKV)) {
                    cache.append(k, v);
                    try (AttentionResult r = cache.attendUnrotated(q, null, AttentionSpec.causal())) {
                        float[] o = r.o().toFloatArray(), lse = r.lse().toFloatArray();
                        if (step < sinks + w) sameRow("sink cache before eviction vs prefill", o, lse, prefix[0], prefix[1], n, step);
                        for (int b = 0; b < B; b++) matchesInCacheOracle(tk, b, step + 1, sinks, w, theta, o, lse, "sink cache step " + step);
                    }
                }
                assertEquals(Math.min(t + 1, sinks + w), cache.length(1));
            }
            // slot positions after the last step: sinks 0..3, then the ring in time order
            int[] pos = cache.slotPositions();
            int[] seq0 = Arrays.copyOfRange(pos, 0, sinks + w), sorted = seq0.clone();
            Arrays.sort(sorted);
            for (int i = 0; i < sinks + w; i++) assertEquals(i, sorted[i], "positions are a permutation of 0..n-1");
            assertArrayEquals(new int[] {0, 1, 2, 3}, Arrays.copyOfRange(seq0, 0, sinks));
        }
    }

    /**
     * The oracle for the newest token of a sequence that has seen `seen` tokens: keys of the sinks
     * and of the last `window` tokens, at in-cache positions 0..m−1, the query rotated to m − 1.
     */
    static void matchesInCacheOracle(Tokens tk, int b, int seen, int sinks, int window, float theta, float[] o, float[] lse,
                                     String what) {
        int[] kept = keptTokens(seen, sinks, window);
        int m = kept.length;
        float[] k = new float[m * HKV * D], v = new float[m * HKV * D];
        int[] pos = new int[m];
        for (int j = 0; j < m; j++) {
            System.arraycopy(tk.token(tk.k(), HKV, b, kept[j]), 0, k, j * HKV * D, HKV * D);
            System.arraycopy(tk.token(tk.v(), HKV, b, kept[j]), 0, v, j * HKV * D, HKV * D);
            pos[j] = j;
        }
        double[] qr = AttentionReference.ropeRows(tk.token(tk.q(), HQ, b, seen - 1), 1, HQ, D, new int[] {m - 1}, theta);
        float[] q = new float[qr.length];
        for (int i = 0; i < q.length; i++) q[i] = (float) qr[i];
        AttentionReference.Problem p = new AttentionReference.Problem(1, 1, m, HQ, HKV, D, D, q, k, v, AttentionSpec.causal())
                .keyRope(pos, theta);
        AttentionReference.Result ref = AttentionReference.exact(p);
        double num = 0, den = 0;
        for (int x = 0; x < HQ * D; x++) {
            double e = o[b * HQ * D + x] - ref.o()[x];
            num += e * e;
            den += ref.o()[x] * ref.o()[x];
        }
        assertTrue(num / den <= 1e-10, what + " seq " + b + ": NMSE " + num / den + " against the in-cache oracle");
        for (int h = 0; h < HQ; h++) {
            assertEquals(ref.lse()[h], lse[b * HQ + h], 1e-4 * (1 + Math.abs(ref.lse()[h])), what + " seq " + b + " lse head " + h);
        }
    }

    /** Token indices a sink + window cache holds after `seen` tokens, in cache order. */
    static int[] keptTokens(int seen, int sinks, int window) {
        if (seen <= sinks + window) {
            int[] all = new int[seen];
            for (int i = 0; i < seen; i++) all[i] = i;
            return all;
        }
        int[] kept = new int[sinks + window];
        for (int i = 0; i < sinks; i++) kept[i] = i;
        for (int i = 0; i < window; i++) kept[sinks + i] = seen - window + i;
        return kept;
    }
    // ---- StreamingLLM for a long time in fixed memory

    /**
     * Decodes {@code steps} tokens (H 2, D 64, sinks 4, window 64) through a sink + window cache,
     * inputs cycling through a pool made up front. After warm-up the arena's allocated, peak and
     * pooled bytes must not move; the last step must match the in-cache oracle.
     */
    public static void streamingRunsInFixedMemory(Arena a, int steps) {
        int h = 2, d = 64, sinks = 4, window = 64, pool = 97;
        float theta = 10000f;
        SplittableRandom r = new SplittableRandom(14);
        float[][] qs = new float[pool][], ks = new float[pool][], vs = new float[pool][];
        Tensor[] q = new Tensor[pool], k = new Tensor[pool], v = new Tensor[pool];
        try (SinkWindowKvCache cache = new SinkWindowKvCache(a, 1, sinks, window, h, d, d, DType.F32, theta)) {
            for (int i = 0; i < pool; i++) {
                q[i] = a.fromFloats(qs[i] = normal(r, h * d), DType.F32, 1, 1, h, d);
                k[i] = a.fromFloats(ks[i] = normal(r, h * d), DType.F32, 1, 1, h, d);
                v[i] = a.fromFloats(vs[i] = normal(r, h * d), DType.F32, 1, 1, h, d);
            }
            int warmup = sinks + window + 8;
            long allocated = -1, peak = -1, pooled = -1;
            float[] lastO = null, lastLse = null;
            for (int t = 0; t < steps; t++) {
                int i = t % pool;
                cache.append(k[i], v[i]);
                try (AttentionResult res = cache.attendUnrotated(q[i], null, AttentionSpec.causal())) {
                    if (t == steps - 1) {
                        lastO = res.o().toFloatArray();
                        lastLse = res.lse().toFloatArray();
                    }
                }
                if (t == warmup) {
                    allocated = a.allocatedBytes();
                    peak = a.peakBytes();
                    pooled = a.pooledBytes();
                } else if (t > warmup && (a.allocatedBytes() != allocated || a.peakBytes() != peak || a.pooledBytes() != pooled)) {
                    fail("step " + t + ": arena moved after warm-up: allocated " + a.allocatedBytes() + " (was " + allocated + "), peak "
                            + a.peakBytes() + " (was " + peak + "), pooled " + a.pooledBytes() + " (was " + pooled + ")");
                }
            }
            assertEquals(steps, cache.tokensSeen(0));
            assertEquals(sinks + window, cache.length(0));
            // the last step against the oracle: sinks (tokens 0..3) + the last 64 tokens, positions 0..67
            int[] kept = keptTokens(steps, sinks, window);
            int m = kept.length;
            float[] kk = new float[m * h * d], vv = new float[m * h * d];
            int[] pos = new int[m];
            for (int j = 0; j < m; j++) {
                System.arraycopy(ks[kept[j] % pool], 0, kk, j * h * d, h * d);
                System.arraycopy(vs[kept[j] % pool], 0, vv, j * h * d, h * d);
                pos[j] = j;
            }
            double[] qr = AttentionReference.ropeRows(qs[(steps - 1) % pool], 1, h, d, new int[] {m - 1}, theta);
            float[] qf = new float[qr.length];
            for (int x = 0; x < qf.length; x++) qf[x] = (float) qr[x];
            AttentionReference.Result ref = AttentionReference.exact(
                    new AttentionReference.Problem(1, 1, m, h, h, d, d, qf, kk, vv, AttentionSpec.causal()).keyRope(pos, theta));
            double num = 0, den = 0;
            for (int x = 0; x < h * d; x++) {
                num += (lastO[x] - ref.o()[x]) * (lastO[x] - ref.o()[x]);
                den += ref.o()[x] * ref.o()[x];
            }
            assertTrue(num / den <= 1e-10, "after " + steps + " steps: NMSE " + num / den + " against the in-cache oracle");
            for (int x = 0; x < h; x++) assertEquals(ref.lse()[x], lastLse[x], 1e-4 * (1 + Math.abs(ref.lse()[x])), "lse head " + x);
        } finally {
            for (int i = 0; i < pool; i++) {
                if (q[i] != null) q[i].close();
                if (k[i] != null) k[i].close();
                if (v[i] != null) v[i].close();
            }
        }
    }
}
