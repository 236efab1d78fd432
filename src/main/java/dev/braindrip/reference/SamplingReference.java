package dev.braindrip.reference;

import java.util.Arrays;
import java.util.Comparator;

/**
 * The oracle of the token sampler (native/include/braindrip/sample.h; CLI contract, Hugging Face /
 * vLLM rules), one row at a time, in double precision and in the most literal form: sort, cumulate,
 * compare. The draw follows the kernels' definition exactly (Philox4x32-10 and the same uniform),
 * with the race in double: the kernels must pick the oracle's id unless two race keys are within
 * F32 rounding of each other.
 *
 * <p>Logits are the values a tensor holds, widened to double; NaN counts as −inf.
 */
public final class SamplingReference {
    private SamplingReference() {}

    /** One row's parameters (ranges as sample.h; topK ≤ 0, topP 1, minP 0, penalties 1 / 0 / 0 are off). */
    public record Params(double temperature, int topK, double topP, double minP, double repetitionPenalty, double presencePenalty,
                         double frequencyPenalty) {
        public static Params sampling(double temperature) {
            return new Params(temperature, 0, 1, 0, 1, 0, 0);
        }
    }

    /**
     * One row processed.
     *
     * @param penalized (V) the logits after the penalties
     * @param processed (V) what the draw uses: penalized / temperature on kept ids, −inf elsewhere;
     *                  greedy rows: penalized
     * @param kept      (V) ids the draw may choose (greedy rows: only the argmax)
     * @param probs     (V) the draw's distribution: softmax of processed over the kept ids (greedy: 1 at the argmax)
     * @param greedy    the argmax of penalized (lower id on ties) for temperature 0, else −1
     */
    public record Row(double[] penalized, double[] processed, boolean[] kept, double[] probs, int greedy) {}

    // ---- penalties, truncation, probabilities

    /**
     * x (V) after the penalties: repetitionPenalty once per distinct id of prompt and output (a positive
     * logit divided, a negative one multiplied), then presence + frequency · count subtracted for every
     * id with count > 0 occurrences in output.
     */
    public static double[] penalize(double[] x, int[] prompt, int[] output, double repetitionPenalty, double presencePenalty,
                                    double frequencyPenalty) {
        int v = x.length;
        boolean[] seen = new boolean[v];
        int[] count = new int[v];
        for (int id : prompt) seen[id] = true;
        for (int id : output) {
            seen[id] = true;
            count[id]++;
        }
        double[] z = new double[v];
        for (int i = 0; i < v; i++) {
            double zi = clean(x[i]);
            if (seen[i]) zi = zi > 0 ? zi / repetitionPenalty : zi * repetitionPenalty;
            if (count[i] > 0) zi -= presencePenalty + frequencyPenalty * count[i];
            z[i] = zi;
        }
        return z;
    }

    /** Penalties, temperature, top-k, top-p, min-p, in that order. logits (V); prompt and output ids in [0, V). */
    public static Row process(double[] logits, int[] prompt, int[] output, Params p) {
        int v = logits.length;
        double[] z = penalize(logits, prompt, output, p.repetitionPenalty(), p.presencePenalty(), p.frequencyPenalty());
        boolean[] kept = new boolean[v];
        double[] probs = new double[v];
        if (p.temperature() == 0) {
            int best = order(z)[0];
            kept[best] = true;
            probs[best] = 1;
            return new Row(z, z.clone(), kept, probs, best);
        }
        double[] s = new double[v];
        for (int i = 0; i < v; i++) s[i] = z[i] / p.temperature();
        int[] order = order(s); // most likely first, lower id first on ties
        int n = p.topK() > 0 ? Math.min(p.topK(), v) : v;
        for (int j = 0; j < n; j++) kept[order[j]] = true;
        double sMax = s[order[0]];
        if (sMax > Double.NEGATIVE_INFINITY && p.topP() < 1) {
            double total = 0;
            for (int j = 0; j < n; j++) total += Math.exp(s[order[j]] - sMax);
            double before = 0;
            for (int j = 0; j < n; j++) {
                double pj = Math.exp(s[order[j]] - sMax) / total;
                if (!(before < p.topP())) kept[order[j]] = false;
                before += pj;
            }
        }
        if (sMax > Double.NEGATIVE_INFINITY && p.minP() > 0) {
            double floor = sMax + Math.log(p.minP());
            for (int i = 0; i < v; i++) if (s[i] < floor) kept[i] = false;
        }
        double[] processed = new double[v];
        double total = 0;
        for (int i = 0; i < v; i++) {
            processed[i] = kept[i] ? s[i] : Double.NEGATIVE_INFINITY;
            if (kept[i] && sMax > Double.NEGATIVE_INFINITY) total += Math.exp(s[i] - sMax);
        }
        if (sMax == Double.NEGATIVE_INFINITY) { // nothing finite: the lowest kept id
            for (int i = 0; i < v; i++) {
                if (kept[i]) {
                    probs[i] = 1;
                    break;
                }
            }
        } else {
            for (int i = 0; i < v; i++) probs[i] = kept[i] ? Math.exp(s[i] - sMax) / total : 0;
        }
        return new Row(z, processed, kept, probs, -1);
    }

    /** Ids sorted by value descending, lower id first on equal values. */
    public static int[] order(double[] x) {
        Integer[] ids = new Integer[x.length];
        for (int i = 0; i < ids.length; i++) ids[i] = i;
        Arrays.sort(ids, Comparator.<Integer>comparingDouble(i -> -clean(x[i])).thenComparingInt(i -> i));
        int[] out = new int[ids.length];
        for (int i = 0; i < out.length; i++) out[i] = ids[i];
        return out;
    }

    // ---- the draw

    /** The race key of every id: processed − ln(−ln u) on kept ids, −inf elsewhere (greedy rows: 0 at the argmax). */
    public static double[] raceKeys(Row row, long seed, long step) {
        double[] keys = new double[row.kept().length];
        for (int i = 0; i < keys.length; i++) {
            if (!row.kept()[i]) keys[i] = Double.NEGATIVE_INFINITY;
            else keys[i] = row.greedy() >= 0 ? 0 : row.processed()[i] - Math.log(-Math.log(uniform(seed, step, i)));
        }
        return keys;
    }

    /** The id the kernels must choose: the largest race key, lower id on ties (the lowest kept id when all are −inf). */
    public static int draw(Row row, long seed, long step) {
        if (row.greedy() >= 0) return row.greedy();
        double[] keys = raceKeys(row, seed, step);
        int best = -1;
        for (int i = 0; i < keys.length; i++) {
            if (row.kept()[i] && (best < 0 || keys[i] > keys[best])) best = i;
        }
        return best;
    }

    /** u = ((x0 >> 8) + 0.5) 2^-24 in (0, 1), x0 = word 0 of Philox4x32-10 at key (seed), counter (id, step, 0). */
    public static double uniform(long seed, long step, int id) {
        int[] out = philox4x32_10(new int[] {id, (int) step, (int) (step >>> 32), 0}, new int[] {(int) seed, (int) (seed >>> 32)});
        return ((out[0] >>> 8) + 0.5) * 0x1p-24;
    }

    /** Philox4x32-10 (Salmon et al., SC11; Random123's philox4x32_R(10, ctr, key)): ctr (4), key (2) → 4 words. */
    public static int[] philox4x32_10(int[] ctr, int[] key) {
        int c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3], k0 = key[0], k1 = key[1];
        for (int round = 0; round < 10; round++) {
            if (round > 0) {
                k0 += 0x9E3779B9;
                k1 += 0xBB67AE85;
            }
            long p0 = (0xD2511F53L) * Integer.toUnsignedLong(c0); // < 2^64: the unsigned product's bits
            long p1 = (0xCD9E8D57L) * Integer.toUnsignedLong(c2);
            int hi0 = (int) (p0 >>> 32), lo0 = (int) p0, hi1 = (int) (p1 >>> 32), lo1 = (int) p1;
            c0 = hi1 ^ c1 ^ k0;
            c1 = lo1;
            c2 = hi0 ^ c3 ^ k1;
            c3 = lo0;
        }
        return new int[] {c0, c1, c2, c3};
    }

    // ---- logprobs

    /** log_softmax of x (V); all −inf when every logit is −inf. */
    public static double[] logSoftmax(double[] x) {
        double m = Double.NEGATIVE_INFINITY;
        for (double v : x) m = Math.max(m, clean(v));
        double[] out = new double[x.length];
        if (m == Double.NEGATIVE_INFINITY) {
            Arrays.fill(out, Double.NEGATIVE_INFINITY);
            return out;
        }
        double s = 0;
        for (double v : x) s += Math.exp(clean(v) - m);
        double lse = m + Math.log(s);
        for (int i = 0; i < x.length; i++) out[i] = clean(x[i]) - lse;
        return out;
    }

    /** The n most likely ids of x, most likely first, lower id first on ties; −1 past the vocabulary. */
    public static int[] topIds(double[] x, int n) {
        int[] order = order(x), out = new int[n];
        for (int j = 0; j < n; j++) out[j] = j < order.length ? order[j] : -1;
        return out;
    }

    private static double clean(double v) {
        return Double.isNaN(v) ? Double.NEGATIVE_INFINITY : v;
    }
}
