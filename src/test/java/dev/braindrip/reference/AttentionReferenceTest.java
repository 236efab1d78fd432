package dev.braindrip.reference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.braindrip.ops.AttentionSpec;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Half;
import org.junit.jupiter.api.Test;

/** The attention oracle on cases small enough to work out by hand (CLI.md semantics, one rule each). */
class AttentionReferenceTest {
    private static final double EPS = 1e-12;

    /** One head, D = Dv = 1, scale 1: scores are q·k. */
    private static AttentionReference.Result one(int sq, int sk, float[] q, float[] k, float[] v, AttentionSpec spec) {
        return AttentionReference.exact(new AttentionReference.Problem(1, sq, sk, 1, 1, 1, 1, q, k, v, spec.scale(1f)));
    }

    @Test
    void softmaxWeightsAndLse() {
        // scores 0 and ln 3 → weights 1/4, 3/4; o = 2/4 + 18/4 = 5; lse = ln 4
        AttentionReference.Result r = one(1, 2, new float[] {1}, new float[] {0, (float) Math.log(3)}, new float[] {2, 6}, AttentionSpec.full());
        assertEquals(5.0, r.o()[0], 1e-6);
        assertEquals(Math.log(4), r.lse()[0], 1e-6);
    }

    @Test
    void causalIsBottomRightAligned() {
        // Sq 2 < Skv 3, equal scores: query 0 sees keys 0..1, query 1 sees keys 0..2
        AttentionReference.Result r = one(2, 3, new float[] {0, 0}, new float[] {1, 1, 1}, new float[] {1, 2, 4}, AttentionSpec.causal());
        assertEquals(1.5, r.o()[0], EPS);
        assertEquals(7.0 / 3, r.o()[1], EPS);
        assertEquals(Math.log(2), r.lse()[0], EPS);
        assertEquals(Math.log(3), r.lse()[1], EPS);
    }

    @Test
    void rowsThatSeeNoKeyAreZeroWithLseMinusInfinity() {
        // Sq 3 > Skv 1: only the last query (i' = 0) sees key 0
        AttentionReference.Result r = one(3, 1, new float[] {1, 1, 1}, new float[] {1}, new float[] {7}, AttentionSpec.causal());
        assertArrayEquals(new double[] {0, 0, 7}, r.o(), EPS);
        assertEquals(Double.NEGATIVE_INFINITY, r.lse()[0]);
        assertEquals(Double.NEGATIVE_INFINITY, r.lse()[1]);
        assertArrayEquals(new boolean[] {true, true, false}, r.empty());
    }

    @Test
    void learnedSinkJoinsOnlyTheDenominator() {
        // exp(scores) 1 and 3, exp(sink) 4: o = (2 + 18) / 8, lse = ln 8; an empty row gets lse = sink
        AttentionReference.Problem p = new AttentionReference.Problem(1, 1, 2, 1, 1, 1, 1, new float[] {1},
                new float[] {0, (float) Math.log(3)}, new float[] {2, 6}, AttentionSpec.full().scale(1f)).sinks(new float[] {(float) Math.log(4)});
        AttentionReference.Result r = AttentionReference.exact(p);
        assertEquals(2.5, r.o()[0], 1e-6);
        assertEquals(Math.log(8), r.lse()[0], 1e-6);
        AttentionReference.Problem empty = new AttentionReference.Problem(1, 2, 1, 1, 1, 1, 1, new float[] {1, 1}, new float[] {1},
                new float[] {7}, AttentionSpec.causal()).sinks(new float[] {0.75f});
        AttentionReference.Result e = AttentionReference.exact(empty);
        assertEquals(0.0, e.o()[0]);
        assertEquals(0.75, e.lse()[0], 1e-7);
    }

    @Test
    void softcapComesBeforeMasking() {
        // a single visible key: lse is its capped score 5·tanh(10 / 5)
        AttentionReference.Result r = one(1, 1, new float[] {10}, new float[] {1}, new float[] {3}, AttentionSpec.full().softcap(5f));
        assertEquals(5 * Math.tanh(2), r.lse()[0], 1e-6);
        assertEquals(3.0, r.o()[0], EPS);
    }

    @Test
    void windowAndSinkTokens() {
        float[] zeros = new float[4], ones = {1, 1, 1, 1}, v = {1, 10, 100, 1000};
        // window (1, 0): query 3 sees keys 2 and 3
        assertEquals(550.0, one(4, 4, zeros, ones, v, AttentionSpec.full().window(1, 0)).o()[3], EPS);
        // window (0, 1): query 0 sees keys 0 and 1
        assertEquals(5.5, one(4, 4, zeros, ones, v, AttentionSpec.full().window(0, 1)).o()[0], EPS);
        // causal, window left 0, one sink token: query 3 sees keys 0 and 3; query 0 only key 0
        AttentionReference.Result s = one(4, 4, zeros, ones, v, AttentionSpec.causal().windowLeft(0).sinkTokens(1));
        assertEquals(500.5, s.o()[3], EPS);
        assertEquals(1.0, s.o()[0], EPS);
        // sink tokens stay under the causal rule: query 0 does not see sink key 1
        AttentionReference.Result s2 = one(4, 4, zeros, ones, v, AttentionSpec.causal().windowLeft(0).sinkTokens(2));
        assertEquals(1.0, s2.o()[0], EPS);
        assertEquals(37.0, s2.o()[2], EPS); // keys 0, 1, 2
    }

    @Test
    void gqaMapsQueryHeadToKvHeadByDivision() {
        // Hq 4, Hkv 2, one key: query head h copies the value of KV head h / 2
        AttentionReference.Problem p = new AttentionReference.Problem(1, 1, 1, 4, 2, 1, 1, new float[] {1, 1, 1, 1}, new float[] {1, 1},
                new float[] {5, 9}, AttentionSpec.full());
        assertArrayEquals(new double[] {5, 5, 9, 9}, AttentionReference.exact(p).o(), EPS);
    }

    @Test
    void varlenAndSeqUsedPickEachSequencesRows() {
        // two packed sequences: (1 query, 2 keys) and (1 query, 1 key)
        AttentionReference.Problem p = new AttentionReference.Problem(2, 1, 2, 1, 1, 1, 1, new float[] {0, 0}, new float[] {1, 1, 1},
                new float[] {2, 4, 8}, AttentionSpec.causal()).varlen(new int[] {0, 1, 2}, new int[] {0, 2, 3});
        assertArrayEquals(new double[] {3, 8}, AttentionReference.exact(p).o(), EPS);
        // a cache of capacity 3 per sequence, using 1 and 3 keys
        AttentionReference.Problem c = new AttentionReference.Problem(2, 1, 3, 1, 1, 1, 1, new float[] {0, 0}, new float[6],
                new float[] {2, 100, 100, 1, 2, 3}, AttentionSpec.causal()).seqUsedK(new int[] {1, 3});
        assertArrayEquals(new double[] {2, 2}, AttentionReference.exact(c).o(), EPS);
    }

    @Test
    void naiveRoundsProbabilitiesAndOutputToStorage() {
        float[] q = {0.3f, -1.1f}, k = {0.7f, 0.2f, -0.4f, 1.3f, 0.9f, -0.6f}, v = {0.123456f, 0.987654f, -0.55555f};
        AttentionReference.Problem p = new AttentionReference.Problem(1, 1, 3, 1, 1, 2, 1, q, k, v, AttentionSpec.full());
        double exact = AttentionReference.exact(p).o()[0];
        double bf = AttentionReference.naive(p, DType.BF16).o()[0];
        assertEquals(Half.roundBf16((float) bf), (float) bf, "the naive output is a BF16 value");
        assertTrue(Math.abs(bf - exact) < 0.02 && bf != exact, "naive BF16 " + bf + " vs exact " + exact);
        assertEquals(exact, AttentionReference.naive(p, DType.F32).o()[0], 1e-6);
    }
}
