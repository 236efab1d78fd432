package dev.braindrip.reference;


import dev.braindrip.ops.moe.ExpertActivation;
import dev.braindrip.ops.moe.GateUpLayout;
import dev.braindrip.ops.moe.MoeConfig;
import dev.braindrip.ops.moe.Routing;
import java.util.Arrays;
import java.util.function.UnaryOperator;

/**
 * The oracle of the MoE and Mixture-of-Depths kernels (native/include/braindrip/moe.h) in double
 * precision over row-major {@code double[]} arrays: obvious loops, shapes in comments. The routers
 * follow the contract of {@link Routing} (ties → the lower expert id, NaN ranks lowest); the layer is
 * computed as its dense equivalent, every expert on every token, weighted by a (T, E) matrix that is
 * zero where a token did not choose the expert; statistics by their formulas; MoD by plain top-k.
 */
public final class MoeReference {
    private MoeReference() {}

    // ---- routing

    /**
     * What a router decided.
     *
     * @param ids             (T, k): each token's experts, best first; −1 for a dropped slot
     * @param weights         (T, k): routing weights (scaling applied; 0 for a dropped slot)
     * @param tokensPerExpert (E): slots per expert after drops
     * @param lbLoss          load-balancing loss E · Σ f_e P_e (f_e before drops)
     * @param zLoss           mean over tokens of logsumexp(z)²
     * @param dropped         slots dropped by capacity
     */
    public record Route(int tokens, int topK, int[] ids, double[] weights, int[] tokensPerExpert, double lbLoss, double zLoss, long dropped) {
        /** (T, E) dense weight matrix: W[t, e] = weight of e for t (0 when not chosen or dropped). */
        public double[] dense(int experts) {
            double[] w = new double[tokens * experts];
            for (int t = 0; t < tokens; t++) {
                for (int j = 0; j < topK; j++) {
                    int e = ids[t * topK + j];
                    if (e >= 0) w[t * experts + e] += weights[t * topK + j];
                }
            }
            return w;
        }
    }

    /**
     * Routes T tokens. logits: (T, E); bias: (E) or null (TOPK_SOFTMAX: the router's own bias;
     * SIGMOID_GROUPED: the selection-only correction bias).
     */
    public static Route route(double[] logits, double[] bias, int tokens, MoeConfig c) {
        int e = c.experts(), k = c.topK();
        int[] ids = new int[tokens * k];
        double[] w = new double[tokens * k];
        int[] before = new int[e];
        double[] meanProb = new double[e];
        double zLoss = 0;
        for (int t = 0; t < tokens; t++) {
            double[] l = Arrays.copyOfRange(logits, t * e, (t + 1) * e);
            double[] z = l.clone(); // the logits the statistics see
            double[] select; // selection score, NaN → −∞
            double[] prob; // the router probability of the load-balancing loss
            switch (c.routing()) {
                case SOFTMAX_TOPK, TOP1_CAPACITY -> {
                    select = l;
                    prob = softmax(l);
                }
                case TOPK_SOFTMAX -> {
                    if (bias != null) for (int i = 0; i < e; i++) z[i] += bias[i];
                    select = z;
                    prob = softmax(z);
                }
                case SIGMOID_GROUPED -> {
                    double[] s = new double[e];
                    for (int i = 0; i < e; i++) s[i] = sigmoid(l[i]);
                    select = s.clone();
                    if (bias != null) for (int i = 0; i < e; i++) select[i] += bias[i];
                    if (c.groups() > 1) maskGroups(select, c.groups(), c.topkGroups());
                    double sum = 0;
                    for (double v : s) sum += nanToZero(v);
                    prob = new double[e];
                    for (int i = 0; i < e; i++) prob[i] = nanToZero(s[i]) / sum;
                }
                default -> throw new AssertionError(c.routing());
            }
            int[] chosen = topk(select, k);
            double[] cw = weights(c, l, z, chosen);
            for (int j = 0; j < k; j++) {
                ids[t * k + j] = chosen[j];
                w[t * k + j] = cw[j] * c.scaling();
                before[chosen[j]]++;
            }
            for (int i = 0; i < e; i++) meanProb[i] += prob[i] / tokens;
            double lse = logSumExp(z);
            zLoss += lse * lse / tokens;
        }
        long dropped = 0;
        if (c.routing() == Routing.TOP1_CAPACITY) dropped = applyCapacity(ids, w, tokens, e, c.capacityFactor());
        int[] after = new int[e];
        for (int id : ids) if (id >= 0) after[id]++;
        double lb = 0;
        for (int i = 0; i < e; i++) lb += (double) before[i] / ((double) tokens * k) * meanProb[i];
        return new Route(tokens, k, ids, w, after, tokens == 0 ? 0 : e * lb, tokens == 0 ? 0 : zLoss, dropped);
    }

    /** The chosen experts' weights before scaling: see {@link Routing}. */
    private static double[] weights(MoeConfig c, double[] logits, double[] z, int[] chosen) {
        int k = chosen.length;
        double[] w = new double[k];
        switch (c.routing()) {
            case SOFTMAX_TOPK, TOP1_CAPACITY -> {
                double[] p = softmax(logits);
                for (int j = 0; j < k; j++) w[j] = p[chosen[j]];
            }
            case TOPK_SOFTMAX -> {
                double[] sub = new double[k];
                for (int j = 0; j < k; j++) sub[j] = z[chosen[j]];
                w = softmax(sub);
                return w; // normTopk has no effect
            }
            case SIGMOID_GROUPED -> {
                for (int j = 0; j < k; j++) w[j] = sigmoid(logits[chosen[j]]);
            }
            default -> throw new AssertionError(c.routing());
        }
        if (c.normTopk() && c.routing() != Routing.TOP1_CAPACITY) {
            double sum = 0;
            for (double v : w) sum += v;
            for (int j = 0; j < k; j++) w[j] /= sum;
        }
        return w;
    }

    /** Keeps the topkGroups best groups of score (group score: sum of its two best); the rest become −∞. */
    private static void maskGroups(double[] score, int groups, int keep) {
        int per = score.length / groups;
        double[] gs = new double[groups];
        for (int g = 0; g < groups; g++) {
            int[] two = topk(Arrays.copyOfRange(score, g * per, (g + 1) * per), 2);
            gs[g] = rank(score[g * per + two[0]]) + rank(score[g * per + two[1]]);
        }
        int[] kept = topk(gs, keep);
        boolean[] on = new boolean[groups];
        for (int g : kept) on[g] = true;
        for (int i = 0; i < score.length; i++) if (!on[i / per]) score[i] = Double.NEGATIVE_INFINITY;
    }

    /** Switch capacity: walking tokens in order, a token whose expert already holds C = ceil(cf·T/E) is dropped. */
    private static long applyCapacity(int[] ids, double[] w, int tokens, int experts, float capacityFactor) {
        double c = (double) capacityFactor * tokens / experts;
        long cap = (long) Math.ceil(c);
        int[] held = new int[experts];
        long dropped = 0;
        for (int t = 0; t < tokens; t++) {
            int e = ids[t];
            if (held[e] < cap) {
                held[e]++;
            } else {
                ids[t] = -1;
                w[t] = 0;
                dropped++;
            }
        }
        return dropped;
    }

    /** Indices of the k largest values, best first; ties → the lower index; NaN ranks below −∞. */
    public static int[] topk(double[] v, int k) {
        Integer[] order = new Integer[v.length];
        for (int i = 0; i < v.length; i++) order[i] = i;
        Arrays.sort(order, (a, b) -> {
            double va = rank(v[a]), vb = rank(v[b]); // numeric order: -0 ties with +0
            if (va != vb) return va > vb ? -1 : 1;
            if (Double.isNaN(v[a]) != Double.isNaN(v[b])) return Double.isNaN(v[a]) ? 1 : -1;
            return Integer.compare(a, b);
        });
        int[] out = new int[k];
        for (int j = 0; j < k; j++) out[j] = order[j];
        return out;
    }

    private static double rank(double v) {
        return Double.isNaN(v) ? Double.NEGATIVE_INFINITY : v;
    }

    private static double nanToZero(double v) {
        return Double.isNaN(v) ? 0 : v;
    }

    /** Softmax with NaN taken as −∞. */
    public static double[] softmax(double[] v) {
        double max = Double.NEGATIVE_INFINITY;
        for (double x : v) max = Math.max(max, rank(x));
        double[] p = new double[v.length];
        double sum = 0;
        for (int i = 0; i < v.length; i++) sum += p[i] = Math.exp(rank(v[i]) - max);
        for (int i = 0; i < v.length; i++) p[i] /= sum;
        return p;
    }

    public static double logSumExp(double[] v) {
        double max = Double.NEGATIVE_INFINITY;
        for (double x : v) max = Math.max(max, rank(x));
        double sum = 0;
        for (double x : v) sum += Math.exp(rank(x) - max);
        return max + Math.log(sum);
    }

    public static double sigmoid(double x) {
        return 1 / (1 + Math.exp(-x));
    }

    // ---- experts

    /**
     * A MoE layer's weights as doubles, in the layouts of {@code MoeWeights}: router (E, H);
     * routerBias (E) or null; wGate (E, F, H) or (E, 2F, H) fused; wUp (E, F, H) or null; bGate, bUp,
     * bDown or null; wDown (E, H, F); shared sGate (Fs, H), sUp (Fs, H), sDown (H, Fs), sRouter (H), each
     * null when absent.
     */
    public record Weights(int hidden, int ffn, double[] router, double[] routerBias, double[] wGate, double[] wUp, double[] bGate,
                          double[] bUp, double[] wDown, double[] bDown, int sharedFfn, double[] sGate, double[] sUp, double[] sDown,
                          double[] sRouter) {}

    /** act(gate, up) in double. */
    public static double activation(ExpertActivation a, double gate, double up) {
        return switch (a) {
            case SWIGLU -> Reference.silu(gate) * up;
            case GEGLU -> Reference.gelu(gate) * up;
            case GEGLU_TANH -> Reference.geluTanh(gate) * up;
            case GPTOSS_CLAMPED -> {
                double g = Math.min(gate, 7), u = Math.max(-7, Math.min(up, 7));
                yield (u + 1) * g * sigmoid(1.702 * g);
            }
        };
    }

    /** One expert on one token: w_down[e] · act(w_gate[e] · x + b_gate[e], w_up[e] · x + b_up[e]) + b_down[e]; x (H) → (H). */
    public static double[] expert(Weights w, MoeConfig c, int e, double[] x, int xOff) {
        int h = w.hidden(), f = w.ffn();
        double[] a = new double[f];
        for (int i = 0; i < f; i++) {
            int gateRow, upRow;
            double[] upMatrix, upBias;
            switch (c.gateUpLayout()) {
                case SEPARATE -> {
                    gateRow = i;
                    upRow = i;
                    upMatrix = w.wUp();
                    upBias = w.bUp();
                }
                case INTERLEAVED -> {
                    gateRow = 2 * i;
                    upRow = 2 * i + 1;
                    upMatrix = w.wGate();
                    upBias = w.bGate();
                }
                default -> {
                    gateRow = i;
                    upRow = f + i;
                    upMatrix = w.wGate();
                    upBias = w.bGate();
                }
            }
            int rows = c.gateUpLayout() == GateUpLayout.SEPARATE ? f : 2 * f;
            double gate = dot(w.wGate(), ((long) e * rows + gateRow) * h, x, xOff, h) + (w.bGate() == null ? 0 : w.bGate()[e * rows + gateRow]);
            double up = dot(upMatrix, ((long) e * rows + upRow) * h, x, xOff, h) + (upBias == null ? 0 : upBias[e * rows + upRow]);
            a[i] = activation(c.activation(), gate, up);
        }
        double[] out = new double[h];
        for (int o = 0; o < h; o++) out[o] = dot(w.wDown(), ((long) e * h + o) * f, a, 0, f) + (w.bDown() == null ? 0 : w.bDown()[e * h + o]);
        return out;
    }

    /** logits (T, E) = x (T, H) · router (E, H)ᵀ. */
    public static double[] logits(double[] x, int tokens, Weights w, int experts) {
        double[] l = new double[tokens * experts];
        for (int t = 0; t < tokens; t++) {
            for (int e = 0; e < experts; e++) l[t * experts + e] = dot(w.router(), (long) e * w.hidden(), x, t * w.hidden(), w.hidden());
        }
        return l;
    }

    /**
     * The MoE layer as its dense equivalent, expert by expert: y (T, H) = Σ_e W[:, e] ⊙ expert_e(x) +
     * the gated shared expert. x: (T, H); logits: (T, E), or null to compute x · routerᵀ here.
     * Returns y and the routing it used.
     */
    public static Result forward(double[] x, int tokens, double[] logits, Weights w, MoeConfig c) {
        int h = w.hidden(), e = c.experts();
        double[] l = logits != null ? logits : logits(x, tokens, w, e);
        Route r = route(l, w.routerBias(), tokens, c);
        double[] dense = r.dense(e);
        double[] y = new double[tokens * h];
        for (int ex = 0; ex < e; ex++) {
            for (int t = 0; t < tokens; t++) {
                double g = dense[t * e + ex];
                if (g == 0) continue; // the expert's output times 0 (finite inputs): skipping it changes nothing
                double[] o = expert(w, c, ex, x, t * h);
                for (int i = 0; i < h; i++) y[t * h + i] += g * o[i];
            }
        }
        if (w.sGate() != null) {
            for (int t = 0; t < tokens; t++) {
                double[] o = sharedExpert(w, c.activation(), x, t * h);
                double gate = w.sRouter() == null ? 1 : sigmoid(dot(w.sRouter(), 0, x, t * h, h));
                for (int i = 0; i < h; i++) y[t * h + i] += gate * o[i];
            }
        }
        return new Result(y, r);
    }

    /** y (T, H) and the routing of {@link #forward}. */
    public record Result(double[] y, Route route) {}

    /** s_down · (act(s_gate · x) ⊙ s_up · x) for one token: (H). */
    public static double[] sharedExpert(Weights w, ExpertActivation act, double[] x, int xOff) {
        int h = w.hidden(), fs = w.sharedFfn();
        double[] a = new double[fs];
        for (int i = 0; i < fs; i++) {
            a[i] = activation(act, dot(w.sGate(), (long) i * h, x, xOff, h), dot(w.sUp(), (long) i * h, x, xOff, h));
        }
        double[] out = new double[h];
        for (int o = 0; o < h; o++) out[o] = dot(w.sDown(), (long) o * fs, a, 0, fs);
        return out;
    }

    private static double dot(double[] a, long aOff, double[] b, int bOff, int n) {
        double s = 0;
        for (int i = 0; i < n; i++) s += a[(int) aOff + i] * b[bOff + i];
        return s;
    }

    // ---- Mixture of Depths

    /** k = ⌈C·T⌉ clamped to [1, T] (0 for T = 0); a product within 1e-9 above an integer counts as that integer. */
    public static int modCapacity(int tokens, double capacity) {
        if (tokens == 0) return 0;
        long k = (long) Math.ceil(capacity * tokens - 1e-9);
        return (int) Math.max(1, Math.min(tokens, k));
    }

    /** r (T) = x (T, H) · router (H). */
    public static double[] modScores(double[] x, double[] router, int tokens, int hidden) {
        double[] s = new double[tokens];
        for (int t = 0; t < tokens; t++) s[t] = dot(router, 0, x, t * hidden, hidden);
        return s;
    }

    /**
     * MoD routing of one sequence: selected (k) in sequence order, weights (k) their scores, and
     * threshold the k-th largest score.
     */
    public record ModRoute(int[] selected, double[] weights, double threshold) {}

    /** The k tokens with the largest score (ties → the earlier token; NaN lowest), listed in sequence order. */
    public static ModRoute modRoute(double[] scores, int k) {
        int[] best = topk(scores, k);
        double threshold = k == 0 ? Double.POSITIVE_INFINITY : scores[best[k - 1]];
        int[] sel = best.clone();
        Arrays.sort(sel);
        double[] w = new double[k];
        for (int i = 0; i < k; i++) w[i] = scores[sel[i]];
        return new ModRoute(sel, w, threshold);
    }

    /** The causal rule: tokens with score ≥ threshold, in order. */
    public static ModRoute modRouteThreshold(double[] scores, double threshold) {
        int n = 0;
        int[] sel = new int[scores.length];
        for (int t = 0; t < scores.length; t++) if (scores[t] >= threshold) sel[n++] = t;
        sel = Arrays.copyOf(sel, n);
        double[] w = new double[n];
        for (int i = 0; i < n; i++) w[i] = scores[sel[i]];
        return new ModRoute(sel, w, threshold);
    }

    /**
     * y (T, H) = x with y[s] += w_s · f(x[s]) for the selected tokens; {@code block} maps the gathered
     * rows (k, H) to their update (k, H).
     */
    public static double[] modApply(double[] x, int tokens, int hidden, ModRoute r, UnaryOperator<double[]> block) {
        int k = r.selected().length;
        double[] y = x.clone();
        if (k == 0) return y;
        double[] rows = new double[k * hidden];
        for (int i = 0; i < k; i++) System.arraycopy(x, r.selected()[i] * hidden, rows, i * hidden, hidden);
        double[] f = block.apply(rows);
        for (int i = 0; i < k; i++) {
            for (int c = 0; c < hidden; c++) y[r.selected()[i] * hidden + c] += r.weights()[i] * f[i * hidden + c];
        }
        return y;
    }
}
