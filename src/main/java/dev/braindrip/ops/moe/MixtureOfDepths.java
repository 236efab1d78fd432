package dev.braindrip.ops.moe;

import dev.braindrip.jni.MoeKernels;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Tensor;
import java.util.function.UnaryOperator;

/**
 * Mixture of Depths (Raposo et al. 2024): a per-layer scalar router lets only k = ⌈C·T⌉ tokens of a
 * sequence through the layer's block; the others ride the residual unchanged. Capacity C defaults
 * to 0.125 (the paper's best trade-off: 12.5% of the tokens per routed block).
 *
 * <h2>Training-style routing: {@link #route}</h2>
 * Scores r = x · routerᵀ; the k tokens with the largest r (ties → the earlier token) are selected and
 * listed in sequence order. {@link #apply} gathers them, runs the block on those k rows only, and
 * adds r · f(x) back to their residual rows: x_{l+1} = x + r · f(x) for routed tokens, x otherwise.
 * The block costs k/T of its dense FLOPs ({@link ModRoute#flopsSaved}).
 *
 * <h2>Causal generation rule: {@link #routeCausal}</h2>
 * Top-k over a sequence looks at the future: whether token t is among the k best depends on tokens
 * after t. During generation each token must be decided when it arrives, so the rule is per token:
 * token t goes through the block iff r_t ≥ threshold, a threshold calibrated on prefill so that, on
 * that data, a fraction C of the tokens passes ({@link #calibrate}: the k-th largest score of a
 * prefill, at the same capacity). A token's decision never depends on a later token, so a prefix is
 * routed the same whether or not the rest of the sequence exists.
 * <p><b>Trade-off.</b> The threshold costs nothing (no extra weights, no training) and matches C on
 * data like the calibration prefill, but the fraction actually processed drifts with the text: a
 * passage whose scores run higher than the calibration data sends more than C of its tokens through
 * (more compute, no quality loss), one whose scores run lower sends fewer (less compute, tokens that
 * top-k would have processed skip the block). The paper's alternative, a small auxiliary predictor
 * trained to imitate the top-k decisions, tracks C more closely but needs training and its own
 * weights; its logits can be routed by the same rule with threshold 0.
 */
public final class MixtureOfDepths {
    public static final double DEFAULT_CAPACITY = 0.125;

    private final Arena arena;
    private final Tensor router;
    private final double capacity;
    private final MoeKernels kernels;

    /** router: (1, H) (or (H)) in the dtype of the x it will route; capacity C = {@value #DEFAULT_CAPACITY}. */
    public MixtureOfDepths(Arena arena, Tensor router) {
        this(arena, router, DEFAULT_CAPACITY);
    }

    /** router: (1, H) (or (H)); capacity C in (0, 1]: the fraction of a sequence's tokens that go through the block. */
    public MixtureOfDepths(Arena arena, Tensor router, double capacity) {
        String op = "mod";
        MoeChecks.onDevice(op, arena.device(), "router", router);
        MoeChecks.floatDType(op, "router", router);
        if (!(router.rank() == 1 || (router.rank() == 2 && router.dim(0) == 1))) {
            throw new IllegalArgumentException(op + ": router must be (1, H) or (H), got shape " + java.util.Arrays.toString(router.shape()));
        }
        if (!(capacity > 0 && capacity <= 1)) throw new IllegalArgumentException(op + ": capacity (" + capacity + ") must be in (0, 1]");
        this.arena = arena;
        this.router = router;
        this.capacity = capacity;
        this.kernels = MoeKernels.of(arena.device().isCuda());
    }

    public double capacity() {
        return capacity;
    }

    public long hidden() {
        return router.dim(-1);
    }

    /** k = ⌈C·T⌉ clamped to [1, T] (0 for T = 0): the same function the kernels use. */
    public long capacityTokens(long tokens) {
        if (tokens < 0) throw new IllegalArgumentException("mod: tokens (" + tokens + ") must be >= 0");
        return kernels.modCapacity(tokens, (float) capacity);
    }

    /** r = x · routerᵀ: (T) F32. x: (T, H) of one sequence. */
    public Tensor scores(Tensor x) {
        String op = "mod_scores";
        checkX(op, x);
        long t = x.dim(0);
        Tensor s = arena.empty(DType.F32, t);
        return MoeChecks.run(kernels, s, op, () -> kernels.modScores(x.address(), router.address(), t, hidden(), s.address(), x.dtype().code(), 0L));
    }

    /** Top-k routing of one sequence x (T, H): the k = ⌈C·T⌉ best-scored tokens, in sequence order. */
    public ModRoute route(Tensor x) {
        String op = "mod_route";
        Tensor scores = scores(x);
        long t = x.dim(0), k = capacityTokens(t);
        Tensor selected = null, weights = null, threshold = null;
        try {
            selected = arena.empty(DType.I32, k);
            weights = arena.empty(DType.F32, k);
            threshold = arena.empty(DType.F32, 1);
            if (t == 0) return new ModRoute(0, scores, selected, weights, Float.POSITIVE_INFINITY);
            Tensor sel = selected, w = weights, th = threshold;
            MoeChecks.status(kernels, kernels.modRoute(scores.address(), t, k, sel.address(), w.address(), th.address(), 0L), op);
            return new ModRoute(t, scores, selected, weights, threshold.toFloatArray()[0]);
        } catch (RuntimeException e) {
            MoeChecks.closeAll(scores, selected, weights);
            throw e;
        } finally {
            MoeChecks.closeAll(threshold);
        }
    }

    /**
     * The causal rule: token t is selected iff its score ≥ threshold, decided without looking at
     * any later token. x: (T, H), e.g. the one new token of a decode step.
     */
    public ModRoute routeCausal(Tensor x, float threshold) {
        String op = "mod_route_threshold";
        Tensor scores = scores(x);
        long t = x.dim(0);
        Tensor all = null, allWeights = null, count = null, selected = null, weights = null;
        try {
            all = arena.empty(DType.I32, t);
            allWeights = arena.empty(DType.F32, t);
            count = arena.zeros(DType.I32, 1);
            Tensor a = all, aw = allWeights, c = count;
            if (t > 0) {
                MoeChecks.status(kernels, kernels.modRouteThreshold(scores.address(), t, threshold, a.address(), aw.address(), c.address(), 0L), op);
            }
            int n = count.toIntArray()[0];
            selected = arena.empty(DType.I32, n).copyFromAddress(arena.device(), all.address(), 4L * n);
            weights = arena.empty(DType.F32, n).copyFromAddress(arena.device(), allWeights.address(), 4L * n);
            return new ModRoute(t, scores, selected, weights, threshold);
        } catch (RuntimeException e) {
            MoeChecks.closeAll(scores, selected, weights);
            throw e;
        } finally {
            MoeChecks.closeAll(all, allWeights, count);
        }
    }

    /**
     * The causal rule's threshold calibrated on a prefill x (T, H): the k-th largest score at this
     * capacity, so that exactly the top-k tokens of that prefill (ties aside) pass the rule. Average
     * it over several prefills for a steadier value.
     */
    public float calibrate(Tensor prefill) {
        try (ModRoute r = route(prefill)) {
            return r.threshold();
        }
    }

    /** Routes x (T, H) top-k and applies the block: see {@link #apply(Tensor, ModRoute, UnaryOperator)}. */
    public Tensor apply(Tensor x, UnaryOperator<Tensor> block) {
        try (ModRoute r = route(x)) {
            return apply(x, r, block);
        }
    }

    /**
     * y (T, H) = x, with y[s] = x[s] + w_s · f(x[s]) for each selected token s. {@code block} receives
     * the selected rows (count, H) in sequence order and returns their update f (count, H) in x's
     * dtype: the block's output minus its input (for a transformer block, attention + MLP without the
     * residual); it is not called when no token is selected. x is left unchanged; the caller owns y.
     */
    public Tensor apply(Tensor x, ModRoute route, UnaryOperator<Tensor> block) {
        String op = "mod_apply";
        checkX(op, x);
        long t = x.dim(0), h = x.dim(1), k = route.count();
        if (route.tokens() != t) throw new IllegalArgumentException(op + ": route is for " + route.tokens() + " tokens, x has " + t);
        Tensor y = x.copyTo(arena);
        if (k == 0) return y;
        try (Tensor gathered = arena.empty(x.dtype(), k, h)) {
            MoeChecks.status(kernels, kernels.modGather(x.address(), route.selected().address(), k, t, h, gathered.address(), x.dtype().code(), 0L),
                    "mod_gather");
            Tensor update = block.apply(gathered);
            try {
                MoeChecks.onDevice(op, arena.device(), "block output", update);
                MoeChecks.dtype(op, "block output", update, x.dtype());
                MoeChecks.shape(op, "block output", update, "(selected, H)", k, h);
                MoeChecks.status(kernels, kernels.modScatterAdd(y.address(), route.selected().address(), route.weights().address(),
                        update.address(), k, t, h, x.dtype().code(), 0L), "mod_scatter_add");
            } finally {
                if (update != gathered) MoeChecks.closeAll(update);
            }
            return y;
        } catch (RuntimeException e) {
            y.close();
            throw e;
        }
    }

    private void checkX(String op, Tensor x) {
        MoeChecks.onDevice(op, arena.device(), "x", x);
        MoeChecks.rank(op, "x", x, 2, "(T, H) of one sequence");
        MoeChecks.dtype(op, "x", x, router.dtype());
        if (x.dim(1) != hidden()) throw new IllegalArgumentException(op + ": x has hidden size " + x.dim(1) + ", the router " + hidden());
    }
}
