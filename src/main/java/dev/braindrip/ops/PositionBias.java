package dev.braindrip.ops;

import dev.braindrip.tensor.Tensor;

/**
 * Position biases that the fused attention kernel adds to every score, in natural units (not
 * multiplied by the scale), after softcap and before masking, from the key position j and the
 * bottom-right aligned query position i' = i + Skv − Sq (so a KV-cache call applies them by
 * absolute position). No (Hq, Sq, Skv) bias is ever built (native/include/braindrip/attention.h).
 * <ul>
 *   <li>T5's bucketed relative position bias: {@code relBias[h, bucket(j − i')]}, relBias an F32
 *       (Hq, buckets) table, the bucket function HF's {@code T5Attention._relative_position_bucket}
 *       with its F32 arithmetic ({@link #t5Bucket}); bidirectional in an encoder, causal (keys
 *       after the query share bucket 0) in a decoder;</li>
 *   <li>ALiBi: {@code alibiSlopes[h] · (j − i')}, F32 (Hq) (equal under softmax to Bloom's
 *       {@code slope · j} for causal rows).</li>
 * </ul>
 * Either or both may be given. Both backends implement them (the CUDA paths have been compiled
 * but, as of this writing, never run on a GPU: see docs/perf/).
 */
public record PositionBias(Tensor relBias, int buckets, int maxDistance, boolean bidirectional, Tensor alibiSlopes) {
    public PositionBias {
        if (relBias == null && alibiSlopes == null) {
            throw new IllegalArgumentException("position bias: give a relative bias table, ALiBi slopes, or both");
        }
        if (relBias != null) {
            int half = bidirectional ? buckets / 2 : buckets;
            if (half < 2) {
                throw new IllegalArgumentException("position bias: buckets (" + buckets + ") must be >= " + (bidirectional ? 4 : 2)
                        + (bidirectional ? " (bidirectional)" : " (causal)"));
            }
            if (maxDistance <= half / 2 || maxDistance > (1 << 24)) {
                throw new IllegalArgumentException("position bias: maxDistance (" + maxDistance + ") must be in (" + half / 2
                        + ", 2^24] (past the exact buckets)");
            }
        }
    }

    /** T5's relative position bias: table (Hq, buckets) F32 (HF's relative_attention_bias.weight transposed is (buckets, Hq)). */
    public static PositionBias t5(Tensor table, int buckets, int maxDistance, boolean bidirectional) {
        if (table == null) throw new IllegalArgumentException("position bias: the relative bias table must be given");
        return new PositionBias(table, buckets, maxDistance, bidirectional, null);
    }

    /** ALiBi slopes (Hq) F32. */
    public static PositionBias alibi(Tensor slopes) {
        if (slopes == null) throw new IllegalArgumentException("position bias: the ALiBi slopes must be given");
        return new PositionBias(null, 0, 0, false, slopes);
    }

    /**
     * T5's bucket of the relative position rp = key − query position, as HF computes it (F32 log,
     * truncation): |rp| below the exact range maps to itself, beyond it log-spaced up to
     * maxDistance, capped at the last bucket; bidirectional halves the buckets and gives keys after
     * the query (rp &gt; 0) the upper half. The same expression as the kernels' bd_t5_bucket.
     */
    public static int t5Bucket(long rp, boolean bidirectional, int buckets, int maxDistance) {
        int nb = buckets, base = 0;
        if (bidirectional) {
            nb /= 2;
            if (rp > 0) base = nb;
            rp = Math.abs(rp);
        } else {
            rp = rp < 0 ? -rp : 0;
        }
        int maxExact = nb / 2;
        if (rp < maxExact) return base + (int) rp;
        float logRatio = (float) Math.log((double) maxDistance / maxExact);
        float v = (float) Math.log((float) rp / (float) maxExact) / logRatio * (float) (nb - maxExact);
        int large = maxExact + (int) v;
        return base + Math.min(large, nb - 1);
    }
}
