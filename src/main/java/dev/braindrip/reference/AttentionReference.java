package dev.braindrip.reference;

import dev.braindrip.ops.AttentionSpec;
import dev.braindrip.ops.BlockSparseLayout;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Half;
import java.util.Arrays;

/**
 * The oracle of fused attention: plain materialized attention over host arrays, written from the
 * contract in CLI.md and native/include/braindrip/attention.h, independently of the kernels.
 *
 * <p>{@link #exact} computes in double precision from the stored input values. {@link #naive}
 * is the obvious implementation in the storage precision, the yardstick of FlashAttention's
 * low-precision rule (max|kernel − exact| ≤ 2·max|naive − exact| + floor): scores as float dot
 * products of the stored values (keys RoPE'd in float and rounded to storage), softmax in float,
 * the normalized probabilities rounded to storage before P·V in float, the output rounded to storage.
 *
 * <p>Semantics, per sequence b with Sq_b queries and Skv_b keys (i' = i + Skv_b − Sq_b):
 * <ul>
 *   <li>visible(i, j): j &lt; Skv_b; j ≤ i' + right (right = 0 under causal; −1 unbounded);
 *       and (j &lt; sinkTokens or j ≥ i' − left) (left −1 unbounded);
 *   <li>score = (q·k)·scale, then c·tanh(score / c) with softcap c &gt; 0, before masking;
 *   <li>query head h reads KV head h / (Hq / Hkv) (GQA, HF repeat_kv);
 *   <li>learned sink s_h joins the denominator only: Σ exp(score) + exp(s_h);
 *   <li>lse = log of the denominator; a row that sees no key: o = 0, lse = −inf (or s_h);
 *   <li>with a block-sparse layout (CLI.md, "sparse-attention"), additionally i' ≥ 0 and the layout
 *       row ⌊i' / blk⌋ of head h lists ⌊j / blk⌋: dense attention under that element mask.
 * </ul>
 * Layouts are the kernel's: q (B, Sq, Hq, D), k (B, Skv, Hkv, D), v (B, Skv, Hkv, Dv), o (B, Sq, Hq, Dv),
 * lse (B, Hq, Sq); with cu_seqlens the tensors are packed (total, H, D) and lse is (totalQ, Hq).
 */
public final class AttentionReference {
    private AttentionReference() {}

    /** Outputs: o and lse in the kernel's layouts; {@code empty[row]} marks rows (lse index) that see no key. */
    public record Result(double[] o, double[] lse, boolean[] empty) {}

    /**
     * One call, described the way the kernel receives it. Arrays hold the values the tensors hold
     * (already in storage precision); the problem is immutable once built.
     */
    public static final class Problem {
        final int batch, seqQ, seqK, heads, kvHeads, headDim, headDimV;
        final float[] q, k, v;
        final AttentionSpec spec;
        int[] cuSeqlensQ, cuSeqlensK, seqUsedK, kRopePositions;
        float[] sinks;
        float ropeTheta = 10000f;
        BlockSparseLayout layout;
        float[] relBias, alibi;
        int relBuckets, relMaxDistance;
        boolean relBidirectional;

        /**
         * Dense problem: q (B, Sq, Hq, D), k (B, Skv, Hkv, D), v (B, Skv, Hkv, Dv). For a varlen
         * problem pass the packed arrays, B, and the maximum lengths, then call {@link #varlen}.
         */
        public Problem(int batch, int seqQ, int seqK, int heads, int kvHeads, int headDim, int headDimV, float[] q, float[] k,
                       float[] v, AttentionSpec spec) {
            this.batch = batch;
            this.seqQ = seqQ;
            this.seqK = seqK;
            this.heads = heads;
            this.kvHeads = kvHeads;
            this.headDim = headDim;
            this.headDimV = headDimV;
            this.q = q;
            this.k = k;
            this.v = v;
            this.spec = spec;
            if (heads % kvHeads != 0) throw new IllegalArgumentException("reference: heads (" + heads + ") % kvHeads (" + kvHeads + ") != 0");
        }

        private Problem copy() {
            Problem p = new Problem(batch, seqQ, seqK, heads, kvHeads, headDim, headDimV, q, k, v, spec);
            p.cuSeqlensQ = cuSeqlensQ;
            p.cuSeqlensK = cuSeqlensK;
            p.seqUsedK = seqUsedK;
            p.kRopePositions = kRopePositions;
            p.sinks = sinks;
            p.ropeTheta = ropeTheta;
            p.layout = layout;
            p.relBias = relBias;
            p.relBuckets = relBuckets;
            p.relMaxDistance = relMaxDistance;
            p.relBidirectional = relBidirectional;
            p.alibi = alibi;
            return p;
        }

        /** T5's relative position bias: table (Hq, buckets), added in natural units after softcap. */
        public Problem relativeBias(float[] table, int buckets, int maxDistance, boolean bidirectional) {
            Problem p = copy();
            p.relBias = table.clone();
            p.relBuckets = buckets;
            p.relMaxDistance = maxDistance;
            p.relBidirectional = bidirectional;
            return p;
        }

        /** ALiBi slopes (Hq): + slope[h] * (j - i'), natural units. */
        public Problem alibi(float[] slopes) {
            Problem p = copy();
            p.alibi = slopes.clone();
            return p;
        }

        /** The position biases of query head h at key j and aligned query position ip (0 without any). */
        double bias(int h, long ip, int j) {
            double x = 0;
            if (relBias != null) x += relBias[h * relBuckets + t5Bucket(j - ip, relBidirectional, relBuckets, relMaxDistance)];
            if (alibi != null) x += (double) alibi[h] * (j - ip);
            return x;
        }

        /** A block-sparse layout: query i of head h sees key j only where the layout lists their blocks. */
        public Problem layout(BlockSparseLayout l) {
            Problem p = copy();
            p.layout = l;
            return p;
        }

        /** Packed sequences: (B + 1) prefix sums of the query rows and of the key rows. */
        public Problem varlen(int[] cuQ, int[] cuK) {
            Problem p = copy();
            p.cuSeqlensQ = cuQ.clone();
            p.cuSeqlensK = cuK.clone();
            return p;
        }

        /** Keys used per sequence (the rest of the capacity is ignored; alignment uses this length). */
        public Problem seqUsedK(int[] used) {
            Problem p = copy();
            p.seqUsedK = used.clone();
            return p;
        }

        /** Learned sink logits (Hq), natural units. */
        public Problem sinks(float[] s) {
            Problem p = copy();
            p.sinks = s.clone();
            return p;
        }

        /** RoPE applied to each key at {@code positions} ((B, Skv) dense, (totalK) packed), split-half, base theta. */
        public Problem keyRope(int[] positions, float theta) {
            Problem p = copy();
            p.kRopePositions = positions.clone();
            p.ropeTheta = theta;
            return p;
        }

        int sq(int b) {
            return cuSeqlensQ == null ? seqQ : cuSeqlensQ[b + 1] - cuSeqlensQ[b];
        }

        int sk(int b) {
            if (seqUsedK != null) return seqUsedK[b];
            return cuSeqlensK == null ? seqK : cuSeqlensK[b + 1] - cuSeqlensK[b];
        }

        /** Row of query i of sequence b in the (rows, H, D) view of q / o. */
        int qRow(int b, int i) {
            return cuSeqlensQ == null ? b * seqQ + i : cuSeqlensQ[b] + i;
        }

        /** Row of key j of sequence b in the (rows, Hkv, D) view of k / v (and the rope positions). */
        int kRow(int b, int j) {
            return cuSeqlensK == null ? b * seqK + j : cuSeqlensK[b] + j;
        }

        int lseIndex(int b, int h, int i) {
            return cuSeqlensQ == null ? (b * heads + h) * seqQ + i : (cuSeqlensQ[b] + i) * heads + h;
        }

        int rowsQ() {
            return cuSeqlensQ == null ? batch * seqQ : cuSeqlensQ[batch];
        }

        /** The visibility rule of CLI.md, for query head h of one sequence of sq queries over sk keys. */
        boolean visible(int h, int sq, int sk, int i, int j) {
            if (j < 0 || j >= sk) return false;
            long ip = (long) i + sk - sq;
            if (layout != null && (ip < 0 || !layout.sees(h, ip / layout.blockSize(), j / layout.blockSize()))) return false;
            int right = spec.isCausal() ? 0 : spec.windowRight();
            if (right >= 0 && j > ip + right) return false;
            if (j < spec.sinkTokens()) return true;
            return spec.windowLeft() < 0 || j >= ip - spec.windowLeft();
        }
    }

    /** Double-precision attention. */
    public static Result exact(Problem p) {
        return run(p, null);
    }

    /** The naive implementation in the storage precision {@code dtype} (F32, F16 or BF16). */
    public static Result naive(Problem p, DType dtype) {
        if (!dtype.isFloat()) throw new IllegalArgumentException("reference: naive needs a float dtype, got " + dtype);
        return run(p, dtype);
    }

    private static Result run(Problem p, DType lowp) {
        int rows = p.rowsQ();
        double[] o = new double[rows * p.heads * p.headDimV];
        double[] lse = new double[rows * p.heads];
        boolean[] empty = new boolean[rows * p.heads];
        Arrays.fill(lse, Double.NEGATIVE_INFINITY);
        int group = p.heads / p.kvHeads;
        double scale = p.spec.scaleFor(p.headDim);
        for (int b = 0; b < p.batch; b++) {
            int sq = p.sq(b), sk = p.sk(b);
            for (int hk = 0; hk < p.kvHeads; hk++) {
                double[][] keys = keys(p, b, hk, sk, lowp);
                for (int h = hk * group; h < (hk + 1) * group; h++) {
                    for (int i = 0; i < sq; i++) {
                        int li = p.lseIndex(b, h, i);
                        int oi = (p.qRow(b, i) * p.heads + h) * p.headDimV;
                        if (lowp == null) exactRow(p, b, h, hk, i, sq, sk, keys, scale, o, oi, lse, li, empty);
                        else naiveRow(p, b, h, hk, i, sq, sk, keys, (float) scale, lowp, o, oi, lse, li, empty);
                    }
                }
            }
        }
        return new Result(o, lse, empty);
    }

    /** Keys of (b, hk): sk rows of D, RoPE'd when asked (double, or float rounded to storage). */
    private static double[][] keys(Problem p, int b, int hk, int sk, DType lowp) {
        int d = p.headDim;
        double[][] keys = new double[sk][d];
        for (int j = 0; j < sk; j++) {
            int base = (p.kRow(b, j) * p.kvHeads + hk) * d;
            for (int c = 0; c < d; c++) keys[j][c] = p.k[base + c];
            if (p.kRopePositions != null) rope(keys[j], p.kRopePositions[p.kRow(b, j)], p.ropeTheta, lowp);
        }
        return keys;
    }

    /**
     * Split-half RoPE of one key: pair (t, t + D/2) rotated by angle pos·θ^(−2t/D). The angle is the
     * contract's (attention.h, and HF's float32 RoPE): inv_freq = θ^(−2t/D) and pos·inv_freq both
     * rounded to float. exact: cos, sin and the rotation in double; naive: in float, the rotated key
     * rounded to storage as the kernel does.
     */
    static void rope(double[] x, int pos, float theta, DType lowp) {
        int half = x.length / 2;
        for (int t = 0; t < half; t++) {
            float inv = (float) Math.pow(theta, -(float) (2 * t) / (float) x.length);
            float ang = (float) pos * inv;
            double x1 = x[t], x2 = x[t + half];
            if (lowp == null) {
                x[t] = x1 * Math.cos(ang) - x2 * Math.sin(ang);
                x[t + half] = x2 * Math.cos(ang) + x1 * Math.sin(ang);
            } else {
                float cs = (float) Math.cos(ang), sn = (float) Math.sin(ang);
                x[t] = Half.round(lowp, (float) x1 * cs - (float) x2 * sn);
                x[t + half] = Half.round(lowp, (float) x2 * cs + (float) x1 * sn);
            }
        }
    }

    /**
     * Split-half RoPE of a query (or any) tensor x (rows, heads, D) in double, row r at positions[r],
     * angles as {@link #rope}: what the rope op computes, without its float rounding.
     */
    public static double[] ropeRows(float[] x, int rows, int heads, int d, int[] positions, float theta) {
        double[] y = new double[x.length];
        double[] head = new double[d];
        for (int r = 0; r < rows; r++) {
            for (int h = 0; h < heads; h++) {
                int base = (r * heads + h) * d;
                for (int c = 0; c < d; c++) head[c] = x[base + c];
                rope(head, positions[r], theta, null);
                System.arraycopy(head, 0, y, base, d);
            }
        }
        return y;
    }

    private static void exactRow(Problem p, int b, int h, int hk, int i, int sq, int sk, double[][] keys, double scale, double[] o,
                                 int oi, double[] lse, int li, boolean[] empty) {
        int d = p.headDim, dv = p.headDimV;
        int qb = (p.qRow(b, i) * p.heads + h) * d;
        double[] s = new double[sk];
        double max = Double.NEGATIVE_INFINITY;
        boolean any = false;
        for (int j = 0; j < sk; j++) {
            if (!p.visible(h, sq, sk, i, j)) {
                s[j] = Double.NEGATIVE_INFINITY;
                continue;
            }
            double dot = 0;
            for (int c = 0; c < d; c++) dot += p.q[qb + c] * keys[j][c];
            double x = dot * scale;
            if (p.spec.softcap() > 0) x = p.spec.softcap() * Math.tanh(x / p.spec.softcap());
            x += p.bias(h, (long) i + sk - sq, j);
            s[j] = x;
            max = Math.max(max, x);
            any = true;
        }
        double sink = p.sinks == null ? Double.NEGATIVE_INFINITY : p.sinks[h];
        if (!any) {
            empty[li] = true;
            lse[li] = sink; // −inf without learned sinks; o stays 0
            return;
        }
        max = Math.max(max, sink);
        double sum = p.sinks == null ? 0 : Math.exp(sink - max);
        for (int j = 0; j < sk; j++) if (s[j] != Double.NEGATIVE_INFINITY) sum += Math.exp(s[j] - max);
        lse[li] = max + Math.log(sum);
        for (int j = 0; j < sk; j++) {
            if (s[j] == Double.NEGATIVE_INFINITY) continue;
            double pj = Math.exp(s[j] - max) / sum;
            int vb = (p.kRow(b, j) * p.kvHeads + hk) * dv;
            for (int c = 0; c < dv; c++) o[oi + c] += pj * p.v[vb + c];
        }
    }

    private static void naiveRow(Problem p, int b, int h, int hk, int i, int sq, int sk, double[][] keys, float scale, DType dt,
                                 double[] o, int oi, double[] lse, int li, boolean[] empty) {
        int d = p.headDim, dv = p.headDimV;
        int qb = (p.qRow(b, i) * p.heads + h) * d;
        float[] s = new float[sk];
        float max = Float.NEGATIVE_INFINITY;
        boolean any = false;
        float cap = p.spec.softcap();
        for (int j = 0; j < sk; j++) {
            if (!p.visible(h, sq, sk, i, j)) {
                s[j] = Float.NEGATIVE_INFINITY;
                continue;
            }
            float dot = 0;
            for (int c = 0; c < d; c++) dot += p.q[qb + c] * (float) keys[j][c];
            float x = dot * scale;
            if (cap > 0) x = cap * (float) Math.tanh(x / cap);
            x += (float) p.bias(h, (long) i + sk - sq, j);
            s[j] = x;
            max = Math.max(max, x);
            any = true;
        }
        float sink = p.sinks == null ? Float.NEGATIVE_INFINITY : p.sinks[h];
        if (!any) {
            empty[li] = true;
            lse[li] = sink;
            return;
        }
        max = Math.max(max, sink);
        float sum = p.sinks == null ? 0f : (float) Math.exp(sink - max);
        for (int j = 0; j < sk; j++) if (s[j] != Float.NEGATIVE_INFINITY) sum += (float) Math.exp(s[j] - max);
        lse[li] = max + (float) Math.log(sum);
        float[] acc = new float[dv];
        for (int j = 0; j < sk; j++) {
            if (s[j] == Float.NEGATIVE_INFINITY) continue;
            float pj = Half.round(dt, (float) Math.exp(s[j] - max) / sum);
            int vb = (p.kRow(b, j) * p.kvHeads + hk) * dv;
            for (int c = 0; c < dv; c++) acc[c] += pj * p.v[vb + c];
        }
        for (int c = 0; c < dv; c++) o[oi + c] = Half.round(dt, acc[c]);
    }

    /**
     * HF's T5Attention._relative_position_bucket for one relative position (memory − context),
     * written the way the model computes it on tensors: the sign split, max_exact, is_small, and
     * relative_position_if_large in float32 (log of the float ratio, divided by
     * math.log(max_distance / max_exact) and multiplied by num_buckets − max_exact in float,
     * truncated by .to(long)), then min with num_buckets − 1.
     */
    public static int t5Bucket(long relativePosition, boolean bidirectional, int numBuckets, int maxDistance) {
        long relativeBuckets = 0;
        long rp = relativePosition;
        if (bidirectional) {
            numBuckets /= 2;
            relativeBuckets += (rp > 0 ? 1 : 0) * (long) numBuckets;
            rp = Math.abs(rp);
        } else {
            rp = -Math.min(rp, 0);
        }
        int maxExact = numBuckets / 2;
        boolean isSmall = rp < maxExact;
        if (isSmall) return (int) (relativeBuckets + rp);
        float ratio = (float) rp / maxExact;                             // relative_position.float() / max_exact
        float logRatio = (float) Math.log(ratio);                         // torch.log (float32)
        float divisor = (float) Math.log((double) maxDistance / maxExact); // math.log(...) as a float32 scalar
        float scaled = logRatio / divisor * (float) (numBuckets - maxExact);
        long ifLarge = maxExact + (long) scaled;                          // .to(torch.long) truncates
        ifLarge = Math.min(ifLarge, numBuckets - 1);
        return (int) (relativeBuckets + ifLarge);
    }
}
