package dev.braindrip.ops.moe;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import dev.braindrip.tensor.Tensor;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** align / permute / unpermute: the invariants of the expert-contiguous order, and permute then un-permute = identity. */
abstract class MoeDispatchCases {
    abstract Device device();

    /** M tiles to try: the CUDA kernels accept 16, 32, 64 and 128 only. */
    long[] blockSizes() {
        return device().isCuda() ? new long[] {16, 64} : new long[] {1, 3, 16};
    }

    Arena arena;

    @BeforeEach
    void open() {
        arena = Arena.on(device(), 256L << 20);
    }

    @AfterEach
    void close() {
        arena.close();
    }

    /** Random distinct ids per token (k of E), with a fraction of slots set to −1 (dropped). */
    static int[] randomIds(long seed, int tokens, int k, int experts, double dropRate) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] ids = new int[tokens * k];
        for (int t = 0; t < tokens; t++) {
            boolean[] used = new boolean[experts];
            for (int j = 0; j < k; j++) {
                int e;
                do {
                    e = r.nextInt(experts);
                } while (used[e]);
                used[e] = true;
                ids[t * k + j] = r.nextDouble() < dropRate ? -1 : e;
            }
        }
        return ids;
    }

    /** Checks every output of align against its definition in moe.h. */
    static void assertAligned(String what, int[] ids, int tokens, int k, int experts, ExpertAlignment a) {
        long bm = a.blockM();
        int slots = tokens * k, sentinel = slots;
        int[] sorted = a.sortedTokenIds().toIntArray(), tiles = a.expertIds().toIntArray(), offsets = a.expertOffsets().toIntArray();
        int[] slotPos = a.slotPos().toIntArray(), counts = a.expertCounts().toIntArray();
        int total = a.numTokensPostPadded().toIntArray()[0];
        int[] want = new int[experts];
        for (int id : ids) if (id >= 0) want[id]++;
        assertArrayEquals(want, counts, what + ": expert_counts");
        assertEquals(0, offsets[0], what + ": first offset");
        for (int e = 0; e < experts; e++) {
            long padded = (want[e] + bm - 1) / bm * bm;
            assertEquals(offsets[e] + padded, offsets[e + 1], what + ": expert " + e + " segment is its count rounded up to block_m");
        }
        assertEquals(offsets[experts], total, what + ": num_tokens_post_padded = offsets[E]");
        assertTrue(total <= a.maxRows(), what + ": total rows within max_rows");
        for (int e = 0; e < experts; e++) {
            int prev = -1;
            for (int p = offsets[e]; p < offsets[e + 1]; p++) {
                int s = sorted[p];
                if (p - offsets[e] < want[e]) {
                    assertEquals(e, ids[s], what + ": row " + p + " holds slot " + s + " of another expert");
                    assertTrue(s > prev, what + ": slots ascending inside expert " + e);
                    assertEquals(p, slotPos[s], what + ": slot_pos is the inverse of sorted_token_ids");
                    prev = s;
                } else {
                    assertEquals(sentinel, s, what + ": padding row " + p);
                }
            }
            for (int p = offsets[e]; p < offsets[e + 1]; p += (int) bm) assertEquals(e, tiles[(int) (p / bm)], what + ": expert of tile " + p / bm);
        }
        for (int p = total; p < sorted.length; p++) assertEquals(sentinel, sorted[p], what + ": row past the end " + p);
        for (int i = (int) (total / bm); i < tiles.length; i++) assertEquals(-1, tiles[i], what + ": tile past the end " + i);
        for (int s = 0; s < slots; s++) if (ids[s] < 0) assertEquals(-1, slotPos[s], what + ": dropped slot " + s);
    }

    @Test
    void alignMeetsItsDefinition() {
        MoeDispatch d = new MoeDispatch(arena);
        int[][] shapes = {{37, 3, 12}, {1, 2, 8}, {5, 8, 8}, {64, 2, 5}, {3, 2, 64}};
        for (int[] s : shapes) {
            for (long bm : blockSizes()) {
                int tokens = s[0], k = s[1], e = s[2];
                int[] ids = randomIds(31 + tokens, tokens, k, e, 0);
                try (Tensor t = arena.fromInts(ids, tokens, k); ExpertAlignment a = d.align(t, e, bm)) {
                    assertAligned("T " + tokens + " k " + k + " E " + e + " block_m " + bm, ids, tokens, k, e, a);
                }
            }
        }
    }

    @Test
    void alignPlacesDroppedSlotsNowhere() {
        MoeDispatch d = new MoeDispatch(arena);
        int tokens = 23, k = 2, e = 6;
        int[] ids = randomIds(41, tokens, k, e, 0.3);
        for (long bm : blockSizes()) {
            try (Tensor t = arena.fromInts(ids, tokens, k); ExpertAlignment a = d.align(t, e, bm)) {
                assertAligned("drops, block_m " + bm, ids, tokens, k, e, a);
            }
        }
    }

    @Test
    void alignWithTheKernelsOwnTile() {
        MoeDispatch d = new MoeDispatch(arena);
        int tokens = 300, k = 2, e = 8;
        int[] ids = randomIds(43, tokens, k, e, 0);
        try (Tensor t = arena.fromInts(ids, tokens, k); ExpertAlignment a = d.align(t, e)) {
            assertEquals(d.blockM(tokens, k, e), a.blockM());
            assertEquals(64, a.blockM(), "600 slots over 8 experts: mean 75 per expert -> M tile 64");
            assertAligned("own tile", ids, tokens, k, e, a);
        }
    }

    @Test
    void permuteThenUnpermuteIsTheIdentity() {
        MoeDispatch d = new MoeDispatch(arena);
        int tokens = 19, k = 3, e = 7, cols = 13;
        for (double drop : new double[] {0, 0.25}) {
            int[] ids = randomIds(47, tokens, k, e, drop);
            SplittableRandom r = new SplittableRandom(48);
            float[] xs = new float[tokens * cols];
            for (int i = 0; i < xs.length; i++) xs[i] = (float) MoeFixture.gaussian(r);
            for (DType dt : new DType[] {DType.F32, DType.BF16}) {
                for (long bm : blockSizes()) {
                    try (Tensor t = arena.fromInts(ids, tokens, k);
                         Tensor x = arena.fromFloats(xs, dt, tokens, cols);
                         ExpertAlignment a = d.align(t, e, bm);
                         Tensor rows = d.permute(x, a);
                         Tensor back = d.unpermute(rows, a)) {
                        String what = dt + " drop " + drop + " block_m " + bm;
                        float[] xv = x.toFloatArray(), rv = rows.toFloatArray(), bv = back.toFloatArray();
                        int[] sorted = a.sortedTokenIds().toIntArray();
                        for (int p = 0; p < a.maxRows(); p++) {
                            int s = sorted[p];
                            for (int c = 0; c < cols; c++) {
                                float want = s < tokens * k ? xv[(s / k) * cols + c] : 0f;
                                assertEquals(want, rv[p * cols + c], what + ": permuted row " + p + " col " + c);
                            }
                        }
                        for (int s = 0; s < tokens * k; s++) {
                            for (int c = 0; c < cols; c++) {
                                float want = ids[s] >= 0 ? xv[(s / k) * cols + c] : 0f;
                                assertEquals(want, bv[s * cols + c], what + ": slot " + s + " col " + c + " after the round trip");
                            }
                        }
                    }
                }
            }
        }
    }
}
