package dev.braindrip.reference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * The sampler's oracle checked by hand: Philox4x32-10 against Random123's published known-answer
 * vectors (tests/kat_vectors of DEShawResearch/random123), the uniform's range, and the rules of
 * penalties, top-k, top-p and min-p on examples small enough to work out on paper.
 */
class SamplingReferenceTest {
    @Test
    void philoxMatchesRandom123KnownAnswers() {
        int[][][] kats = {
            {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
            {{-1, -1, -1, -1}, {-1, -1}, {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
            {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0}, {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
        };
        for (int[][] k : kats) assertArrayEquals(k[2], SamplingReference.philox4x32_10(k[0], k[1]));
    }

    @Test
    void theUniformIsTheTopWordBitsInTheOpenInterval() {
        // key = seed (low word first), counter = (id, step low, step high, 0)
        long seed = 0x299f31d0a4093822L, step = 0x0370734413198a2eL;
        int[] words = SamplingReference.philox4x32_10(new int[] {0x243f6a88, 0x13198a2e, 0x03707344, 0}, new int[] {0xa4093822, 0x299f31d0});
        assertEquals(((words[0] >>> 8) + 0.5) / (1 << 24), SamplingReference.uniform(seed, step, 0x243f6a88));
        for (int id = 0; id < 10_000; id++) {
            double u = SamplingReference.uniform(7, id, id);
            assertTrue(u > 0 && u < 1 && u >= 0.5 / (1 << 24) && u <= 1 - 0.5 / (1 << 24), "u = " + u);
        }
    }

    @Test
    void penaltiesFollowHuggingFaceAndVllm() {
        double[] x = {2, -2, 3, -1, 0.5};
        double[] z = SamplingReference.penalize(x, new int[] {0, 1}, new int[] {1, 3, 3}, 2, 0.5, 0.25);
        assertArrayEquals(new double[] {1, -4.75, 3, -3, 0.5}, z);
    }

    @Test
    void truncationRules() {
        double[] x = {1, 3, 3, 2, 0};
        // top-k 2 of {1, 3, 3, 2, 0}: the two 3s
        SamplingReference.Row k = SamplingReference.process(x, new int[0], new int[0], new SamplingReference.Params(1, 2, 1, 0, 1, 0, 0));
        assertArrayEquals(new boolean[] {false, true, true, false, false}, k.kept());
        assertEquals(0.5, k.probs()[1], 1e-15);
        // top-k 1 with a tie: the lower id
        k = SamplingReference.process(x, new int[0], new int[0], new SamplingReference.Params(1, 1, 1, 0, 1, 0, 0));
        assertArrayEquals(new boolean[] {false, true, false, false, false}, k.kept());
        // top-p: p = softmax(x); the two 3s hold 2e^3 / (e + 2e^3 + e^2 + 1) = 0.7834: 0.78 keeps them, 0.79 adds the 2
        SamplingReference.Row p = SamplingReference.process(x, new int[0], new int[0], new SamplingReference.Params(1, 0, 0.78, 0, 1, 0, 0));
        assertArrayEquals(new boolean[] {false, true, true, false, false}, p.kept());
        p = SamplingReference.process(x, new int[0], new int[0], new SamplingReference.Params(1, 0, 0.79, 0, 1, 0, 0));
        assertArrayEquals(new boolean[] {false, true, true, true, false}, p.kept());
        // min-p 0.3: e^(2 - 3) = 0.37 stays, e^(1 - 3) = 0.14 goes
        SamplingReference.Row m = SamplingReference.process(x, new int[0], new int[0], new SamplingReference.Params(1, 0, 1, 0.3, 1, 0, 0));
        assertArrayEquals(new boolean[] {false, true, true, true, false}, m.kept());
        // greedy: the first 3
        assertEquals(1, SamplingReference.process(x, new int[0], new int[0], SamplingReference.Params.sampling(0)).greedy());
    }

    @Test
    void logprobsAndTopIds() {
        double[] x = {1, 3, 3, 0};
        double lse = Math.log(Math.exp(1) + 2 * Math.exp(3) + 1);
        assertEquals(3 - lse, SamplingReference.logSoftmax(x)[2], 1e-15);
        assertArrayEquals(new int[] {1, 2, 0, 3, -1}, SamplingReference.topIds(x, 5));
    }
}
