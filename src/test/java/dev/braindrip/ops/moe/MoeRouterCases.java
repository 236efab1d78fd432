package dev.braindrip.ops.moe;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.braindrip.reference.MoeReference;
import dev.braindrip.reference.Reference;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import dev.braindrip.tensor.Tensor;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The four routers against MoeReference: random logits, exact ties, k = E, odd E, one token, groups, capacity drops, statistics. */
abstract class MoeRouterCases {
    abstract Device device();

    Arena arena;

    @BeforeEach
    void open() {
        arena = Arena.on(device(), 256L << 20);
    }

    @AfterEach
    void close() {
        arena.close(); // throws on a leaked tensor
    }

    static MoeConfig.Builder cfg(int experts, int k, Routing r) {
        return MoeConfig.builder().experts(experts).topK(k).routing(r);
    }

    /** Routes logits (T, E) on the device and checks ids, weights, counts and statistics against the oracle. */
    MoeReference.Route check(String what, MoeConfig c, float[] logits, float[] bias, int tokens) {
        return check(what, c, logits, bias, tokens, DType.F32);
    }

    MoeReference.Route check(String what, MoeConfig c, float[] logits, float[] bias, int tokens, DType logitsDtype) {
        MoeRouter router = new MoeRouter(arena, c);
        try (Tensor l = arena.fromFloats(logits, logitsDtype, tokens, c.experts());
             Tensor b = bias == null ? null : arena.fromFloats(bias, DType.F32, c.experts());
             RoutingResult r = router.route(l, b)) {
            MoeReference.Route want = MoeReference.route(Reference.toDouble(l.toFloatArray()), b == null ? null : Reference.toDouble(bias), tokens, c);
            assertRoute(what + " " + c, want, r);
            return want;
        }
    }

    static void assertRoute(String what, MoeReference.Route want, RoutingResult r) {
        int[] ids = r.topkIds().toIntArray();
        float[] w = r.topkWeights().toFloatArray();
        assertArrayEquals(want.ids(), ids, what + ": topk_ids (best first, ties to the lower id)");
        MoeFixture.assertClose(what + ": topk_weights", want.weights(), w, 1e-6, 2e-6);
        MoeStats s = r.stats();
        assertArrayEquals(want.tokensPerExpert(), s.tokensPerExpert(), what + ": tokens_per_expert");
        assertArrayEquals(want.tokensPerExpert(), r.tokensPerExpert().toIntArray(), what + ": tokens_per_expert tensor");
        assertEquals(want.dropped(), s.tokensDropped(), what + ": dropped");
        assertEquals(want.lbLoss(), s.loadBalancingLoss(), 1e-5 * (1 + want.lbLoss()), what + ": load-balancing loss");
        assertEquals(want.zLoss(), s.routerZLoss(), 1e-5 * (1 + want.zLoss()), what + ": router z-loss");
    }

    static float[] randomLogits(long seed, int n, double sd) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (sd * MoeFixture.gaussian(r));
        return v;
    }

    // ---- random logits, every routing

    @Test
    void softmaxTopkMatchesOracle() {
        int t = 37, e = 12; // E not a power of two
        float[] l = randomLogits(11, t * e, 2);
        check("seed 11", cfg(e, 3, Routing.SOFTMAX_TOPK).build(), l, null, t);
        check("seed 11 norm", cfg(e, 3, Routing.SOFTMAX_TOPK).normTopk(true).build(), l, null, t);
        check("seed 11 scaled", cfg(e, 3, Routing.SOFTMAX_TOPK).normTopk(true).scaling(2.5f).build(), l, null, t);
    }

    @Test
    void topkSoftmaxMatchesOracleWithAndWithoutBias() {
        int t = 29, e = 7;
        float[] l = randomLogits(12, t * e, 2);
        check("seed 12", cfg(e, 2, Routing.TOPK_SOFTMAX).build(), l, null, t);
        check("seed 12 bias", cfg(e, 2, Routing.TOPK_SOFTMAX).build(), l, randomLogits(13, e, 1), t);
        check("seed 12 normTopk ignored", cfg(e, 2, Routing.TOPK_SOFTMAX).normTopk(true).build(), l, randomLogits(13, e, 1), t);
    }

    @Test
    void sigmoidGroupedMatchesOracle() {
        int t = 31, e = 16;
        float[] l = randomLogits(14, t * e, 2);
        float[] bias = randomLogits(15, e, 0.3);
        check("seed 14 ungrouped", cfg(e, 4, Routing.SIGMOID_GROUPED).build(), l, null, t);
        check("seed 14 ungrouped bias norm", cfg(e, 4, Routing.SIGMOID_GROUPED).normTopk(true).build(), l, bias, t);
        check("seed 14 groups 4/2", cfg(e, 4, Routing.SIGMOID_GROUPED).groups(4).topkGroups(2).normTopk(true).scaling(2.5f).build(), l, bias, t);
        check("seed 14 groups 8/3", cfg(e, 5, Routing.SIGMOID_GROUPED).groups(8).topkGroups(3).build(), l, bias, t);
        check("seed 14 E 12 groups 4/1 k 3", cfg(12, 3, Routing.SIGMOID_GROUPED).groups(4).topkGroups(1).build(),
                randomLogits(16, t * 12, 2), randomLogits(17, 12, 0.3), t);
    }

    @Test
    void top1CapacityMatchesOracle() {
        int t = 40, e = 6;
        float[] l = randomLogits(18, t * e, 2);
        for (float cf : new float[] {0.5f, 1f, 1.25f, 4f}) {
            check("seed 18 cf " + cf, cfg(e, 1, Routing.TOP1_CAPACITY).capacityFactor(cf).build(), l, null, t);
        }
    }

    // ---- ties, k = E, one token, empty experts

    @Test
    void tiesGoToTheLowerExpertId() {
        int e = 6;
        // token 0: all equal; token 1: a three-way tie for second place; token 2: tie at the top
        float[] l = {
            0, 0, 0, 0, 0, 0,
            5, 1, 3, 3, 3, -2,
            -1, 4, 2, 4, 4, 2};
        for (Routing r : new Routing[] {Routing.SOFTMAX_TOPK, Routing.TOPK_SOFTMAX, Routing.SIGMOID_GROUPED}) {
            MoeReference.Route want = check("ties", cfg(e, 2, r).build(), l, null, 3);
            assertArrayEquals(new int[] {0, 1, 0, 2, 1, 3}, want.ids(), "oracle tie rule for " + r);
        }
        MoeReference.Route top1 = check("ties", cfg(e, 1, Routing.TOP1_CAPACITY).capacityFactor(6f).build(), l, null, 3);
        assertArrayEquals(new int[] {0, 0, 1}, top1.ids(), "oracle tie rule for top1");
    }

    @Test
    void groupTiesGoToTheLowerGroupAndGroupsCanOutvoteTheBestExpert() {
        // E 8 in 4 groups of 2; group score = the sum of its two best sigmoid scores
        // groups 1 {2, 1} and 2 {1, 2} tie exactly: with one group kept, group 1 wins
        MoeReference.Route a = check("group tie", cfg(8, 2, Routing.SIGMOID_GROUPED).groups(4).topkGroups(1).build(),
                new float[] {0, 0, 2, 1, 1, 2, -3, 4}, null, 1);
        assertArrayEquals(new int[] {2, 3}, a.ids(), "oracle group tie rule");
        // expert 0 has the best logit, but its group {3, -4} scores below groups 2 {2.5, 2.5} and 1 {0, 0} (tied with 3, lower id)
        MoeReference.Route b = check("group vote", cfg(8, 2, Routing.SIGMOID_GROUPED).groups(4).topkGroups(2).build(),
                new float[] {3, -4, 0, 0, 2.5f, 2.5f, 0, 0}, null, 1);
        assertArrayEquals(new int[] {4, 5}, b.ids(), "oracle group rule");
    }

    @Test
    void kEqualToExpertsSelectsEveryone() {
        int t = 9, e = 5;
        float[] l = randomLogits(19, t * e, 1);
        for (Routing r : new Routing[] {Routing.SOFTMAX_TOPK, Routing.TOPK_SOFTMAX, Routing.SIGMOID_GROUPED}) {
            MoeReference.Route want = check("k = E", cfg(e, e, r).normTopk(true).build(), l, null, t);
            for (int c : want.tokensPerExpert()) assertEquals(t, c);
        }
    }

    @Test
    void oneTokenAndOneExpert() {
        check("one token", cfg(10, 3, Routing.SOFTMAX_TOPK).normTopk(true).build(), randomLogits(20, 10, 1), null, 1);
        check("one token", cfg(10, 3, Routing.SIGMOID_GROUPED).groups(5).topkGroups(2).build(), randomLogits(21, 10, 1), null, 1);
        check("one token", cfg(10, 1, Routing.TOP1_CAPACITY).build(), randomLogits(22, 10, 1), null, 1);
        MoeReference.Route single = check("one expert", cfg(1, 1, Routing.SOFTMAX_TOPK).build(), randomLogits(23, 4, 1), null, 4);
        assertArrayEquals(new int[] {4}, single.tokensPerExpert());
    }

    @Test
    void emptyExpertsCountZero() {
        int t = 2, e = 16;
        MoeReference.Route want = check("empty experts", cfg(e, 2, Routing.SOFTMAX_TOPK).build(), randomLogits(24, t * e, 2), null, t);
        int empty = 0;
        for (int c : want.tokensPerExpert()) if (c == 0) empty++;
        assertTrue(empty >= 12, "at most 4 of 16 experts can be used");
    }

    @Test
    void nanLogitsAreNeverChosenBeforeANumber() {
        float n = Float.NaN;
        float[] l = {n, 1, n, 0, -1, -5, n, n};
        try (Tensor logits = arena.fromFloats(l, DType.F32, 2, 4);
             RoutingResult r = new MoeRouter(arena, cfg(4, 3, Routing.SOFTMAX_TOPK).build()).route(logits, null)) {
            // token 0: the numbers 1 (id 1) and 0 (id 3) first, then the NaNs by id; token 1: -1, -5, then NaN
            assertArrayEquals(new int[] {1, 3, 0, 0, 1, 2}, r.topkIds().toIntArray());
            assertArrayEquals(new int[] {2, 2, 1, 1}, r.tokensPerExpert().toIntArray());
        }
    }

    // ---- capacity and statistics

    @Test
    void capacityDropsLaterTokensOfAFullExpert() {
        int t = 8, e = 4;
        float[] l = new float[t * e];
        for (int i = 0; i < t; i++) l[i * e] = 3; // every token prefers expert 0
        l[5 * e + 2] = 9; // except token 5
        MoeReference.Route want = check("drops", cfg(e, 1, Routing.TOP1_CAPACITY).capacityFactor(1f).build(), l, null, t);
        // capacity ceil(1 * 8 / 4) = 2: tokens 0 and 1 keep expert 0, token 5 takes expert 2, the other five are dropped
        assertArrayEquals(new int[] {0, 0, -1, -1, -1, 2, -1, -1}, want.ids());
        assertEquals(5, want.dropped());
        assertArrayEquals(new int[] {2, 0, 1, 0}, want.tokensPerExpert());
    }

    @Test
    void statisticsOfABalancedRouterAreOne() {
        // every token's logits are equal: P_e = 1/E, and the slots spread evenly by construction below
        int e = 4, t = 8;
        float[] l = new float[t * e];
        for (int i = 0; i < t; i++) l[i * e + (i % e)] = 1e-3f;
        MoeReference.Route want = check("balanced", cfg(e, 1, Routing.SOFTMAX_TOPK).build(), l, null, t);
        assertEquals(1.0, want.lbLoss(), 1e-3);
    }

    @Test
    void bf16AndF16LogitsRouteAsTheirValues() {
        int t = 21, e = 8;
        float[] l = randomLogits(25, t * e, 2);
        check("bf16 logits", cfg(e, 2, Routing.SOFTMAX_TOPK).normTopk(true).build(), l, null, t, DType.BF16);
        check("f16 logits", cfg(e, 2, Routing.TOPK_SOFTMAX).build(), l, randomLogits(26, e, 1), t, DType.F16);
    }

    @Test
    void zeroTokensRouteNothing() {
        try (Tensor logits = arena.empty(DType.F32, 0, 8);
             RoutingResult r = new MoeRouter(arena, cfg(8, 2, Routing.SOFTMAX_TOPK).build()).route(logits, null)) {
            assertEquals(0, r.topkIds().numel());
            assertArrayEquals(new int[8], r.stats().tokensPerExpert());
            assertEquals(0.0, r.stats().loadBalancingLoss());
            assertEquals(0.0, r.stats().routerZLoss());
        }
    }
}
