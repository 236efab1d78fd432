package dev.braindrip.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import dev.braindrip.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The layout generators against CLI.md's formulas, the BSR form, density, and the error messages. */
class BlockSparseLayoutTest {
    @FunctionalInterface
    interface Formula {
        boolean listed(int h, int qb, int kb);
    }

    private static void assertFollows(BlockSparseLayout l, int heads, int n, Formula f) {
        assertEquals(heads, l.heads(), l.toString());
        assertEquals(n, l.queryBlocks(), l.toString());
        assertEquals(n, l.keyBlocks(), l.toString());
        for (int h = 0; h < heads; h++) {
            for (int qb = 0; qb < n; qb++) {
                for (int kb = 0; kb < n; kb++) {
                    assertEquals(f.listed(h, qb, kb), l.sees(h, qb, kb), l + ": head " + h + " qb " + qb + " kb " + kb);
                }
            }
        }
    }

    @Test
    void generatorsFollowTheFormulas() {
        int n = 37; // 2350 tokens at block 64: ceil = 37
        long seq = 2350;
        for (int w : new int[] {1, 2, 4, 40}) {
            assertFollows(BlockSparseLayout.local(64, seq, w), 1, n, (h, qb, kb) -> qb - w < kb && kb <= qb);
        }
        for (int s : new int[] {1, 3, 8}) {
            assertFollows(BlockSparseLayout.strided(64, seq, s), 1, n, (h, qb, kb) -> kb <= qb && (qb - kb) % s == 0);
            assertFollows(BlockSparseLayout.verticalStride(64, seq, s), 1, n, (h, qb, kb) -> kb <= qb && (kb + 1) % s == 0);
        }
        for (int sink : new int[] {1, 3}) assertFollows(BlockSparseLayout.sinks(64, seq, sink), 1, n, (h, qb, kb) -> kb < sink);
        // Phi-3-small's per-head vertical stride: (kb + h * max(1, S / H) + 1) % S == 0
        assertFollows(BlockSparseLayout.verticalStridePerHead(64, seq, 8, 4), 4, n, (h, qb, kb) -> kb <= qb && (kb + h * 2 + 1) % 8 == 0);
        assertFollows(BlockSparseLayout.verticalStridePerHead(64, seq, 3, 8), 8, n, (h, qb, kb) -> kb <= qb && (kb + h + 1) % 3 == 0);
        assertEquals(BlockSparseLayout.verticalStride(64, seq, 8).mask().length * 4,
                BlockSparseLayout.verticalStridePerHead(64, seq, 8, 4).mask().length);
        // block 128: blocks of 128 tokens
        assertFollows(BlockSparseLayout.local(128, 1000, 2), 1, 8, (h, qb, kb) -> qb - 2 < kb && kb <= qb);
    }

    @Test
    void unionAndParse() {
        long seq = 1500;
        int n = 24;
        BlockSparseLayout u = BlockSparseLayout.parse("local:4,stride:8", 64, seq);
        assertFollows(u, 1, n, (h, qb, kb) -> (qb - 4 < kb && kb <= qb) || (kb <= qb && (qb - kb) % 8 == 0));
        assertEquals(BlockSparseLayout.union(BlockSparseLayout.local(64, seq, 4), BlockSparseLayout.strided(64, seq, 8)), u);
        assertEquals("local:4,stride:8", u.description());
        BlockSparseLayout v = BlockSparseLayout.parse(" local:1 , vstride:3,sink:2", 64, seq);
        assertFollows(v, 1, n, (h, qb, kb) -> kb == qb || (kb <= qb && (kb + 1) % 3 == 0) || kb < 2);
        // a shared layout joins every head of a per-head one
        BlockSparseLayout ph = BlockSparseLayout.union(BlockSparseLayout.local(64, seq, 1), BlockSparseLayout.verticalStridePerHead(64, seq, 4, 2));
        assertFollows(ph, 2, n, (h, qb, kb) -> kb == qb || (kb <= qb && (kb + 2 * h + 1) % 4 == 0));
    }

    @Test
    void namedCombinationsFollowTheFormulas() {
        long seq = 1500;
        int n = 24;
        assertFollows(BlockSparseLayout.localStrided(64, seq, 3, 5), 1, n,
                (h, qb, kb) -> kb <= qb && (qb - 3 < kb || (qb - kb) % 5 == 0));
        assertFollows(BlockSparseLayout.localVerticalStride(64, seq, 2, 4), 1, n,
                (h, qb, kb) -> kb <= qb && (qb - 2 < kb || (kb + 1) % 4 == 0));
        assertFollows(BlockSparseLayout.localVerticalStridePerHead(64, seq, 1, 8, 4), 4, n,
                (h, qb, kb) -> kb <= qb && (kb == qb || (kb + 2 * h + 1) % 8 == 0));
        // sink blocks are listed for every query block, also above the diagonal (causal masks them)
        assertFollows(BlockSparseLayout.sinksWindow(64, seq, 2, 3), 1, n,
                (h, qb, kb) -> kb < 2 || (kb <= qb && qb - 3 < kb));
    }

    @Test
    void bsrListsTheMaskRowByRow() {
        BlockSparseLayout l = SparseAttentionHarness.random(64, 700, 3, 35, 5);
        BlockSparseLayout.Bsr bsr = l.bsr(700);
        int n = l.keyBlocks();
        assertEquals(3 * n + 1, bsr.rowPtr().length);
        assertEquals(0, bsr.rowPtr()[0]);
        int listed = 0;
        for (int r = 0; r < 3 * n; r++) {
            List<Integer> want = new ArrayList<>(), got = new ArrayList<>();
            for (int kb = 0; kb < n; kb++) if (l.sees(r / n, r % n, kb)) want.add(kb);
            for (int x = bsr.rowPtr()[r]; x < bsr.rowPtr()[r + 1]; x++) got.add(bsr.colIdx()[x]);
            assertEquals(want, got, "row " + r);
            listed += want.size();
        }
        assertEquals(listed, l.listedBlocks());
        // fewer keys: columns past ceil(Skv / blk) are dropped, every row stays
        BlockSparseLayout.Bsr cut = l.bsr(200); // 4 key blocks
        assertEquals(3 * n + 1, cut.rowPtr().length);
        for (int c : cut.colIdx()) assertTrue(c < 4, "column " + c);
        int kept = 0;
        for (int r = 0; r < 3 * n; r++) for (int kb = 0; kb < 4; kb++) if (l.sees(r / n, r % n, kb)) kept++;
        assertEquals(kept, cut.colIdx().length);
    }

    /** Visible pairs counted one by one from the definition. */
    private static double bruteDensity(BlockSparseLayout l, int sq, int skv, boolean causal) {
        long pairs = 0;
        for (int h = 0; h < l.heads(); h++) {
            for (int i = 0; i < sq; i++) {
                long ip = (long) i + skv - sq;
                if (ip < 0) continue;
                for (int j = 0; j < skv; j++) {
                    if (causal && j > ip) continue;
                    if (l.sees(h, ip / l.blockSize(), j / l.blockSize())) pairs++;
                }
            }
        }
        return pairs / ((double) l.heads() * sq * skv);
    }

    @Test
    void densityCountsVisiblePairs() {
        BlockSparseLayout l = BlockSparseLayout.parse("local:2,stride:3", 64, 500);
        BlockSparseLayout ph = SparseAttentionHarness.random(64, 500, 2, 50, 9);
        for (int[] s : new int[][] {{500, 500}, {130, 500}, {1, 500}, {500, 300}, {77, 77}}) {
            for (boolean causal : new boolean[] {true, false}) {
                assertEquals(bruteDensity(l, s[0], s[1], causal), l.density(s[0], s[1], causal), 1e-12, s[0] + "x" + s[1] + " causal " + causal);
                assertEquals(bruteDensity(ph, s[0], s[1], causal), ph.density(s[0], s[1], causal), 1e-12, "per-head " + s[0] + "x" + s[1]);
            }
        }
        BlockSparseLayout all = BlockSparseLayout.parse("sink:100", 64, 500);
        assertEquals(1.0, all.density(500, 500, false), 1e-12);
        assertEquals(1.0, all.causalFraction(500, 500), 1e-12);
        assertEquals(1.0, all.causalFraction(120, 500), 1e-12);
        assertEquals(500.0 * 501 / 2 / (500.0 * 500), all.density(500, 500, true), 1e-12);
        double frac = l.causalFraction(500, 500);
        assertEquals(bruteDensity(l, 500, 500, true) * 500 * 500 / (500.0 * 501 / 2), frac, 1e-12);
        assertTrue(frac > 0 && frac < 1, "local:2,stride:3 over 8 blocks is sparse: " + frac);
    }

    @Test
    void fromTensorChecksDtypeAndShape() {
        try (Arena arena = Arena.on(Device.cpu(), 16L << 20)) {
            byte[] m = new byte[2 * 3 * 3];
            for (int i = 0; i < m.length; i++) m[i] = (byte) (i % 3 == 0 ? 7 : 0);
            try (Tensor t = arena.empty(DType.U8, 2, 3, 3).copyFrom(m)) {
                BlockSparseLayout l = BlockSparseLayout.fromTensor(t, 128);
                assertEquals(2, l.heads());
                assertEquals(128, l.blockSize());
                for (int i = 0; i < m.length; i++) assertEquals(m[i] != 0, l.sees(i / 9, i / 3 % 3, i % 3), "entry " + i);
                assertArrayEquals(new byte[] {1, 0, 0}, java.util.Arrays.copyOf(l.mask(), 3));
            }
            try (Tensor f = arena.zeros(DType.F32, 1, 3, 3)) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BlockSparseLayout.fromTensor(f, 64));
                assertTrue(e.getMessage().contains("must be U8 of shape (heads, query blocks, key blocks)"), e.getMessage());
            }
            try (Tensor r2 = arena.zeros(DType.U8, 3, 3)) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BlockSparseLayout.fromTensor(r2, 64));
                assertTrue(e.getMessage().contains("got"), e.getMessage());
            }
            arena.releaseAll();
        }
    }

    private static void rejects(Runnable call, String... fragments) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call::run);
        for (String f : fragments) assertTrue(e.getMessage().contains(f), "message '" + e.getMessage() + "' lacks '" + f + "'");
    }

    @Test
    void badBlockSizesAndPatternsNameTheProblem() {
        rejects(() -> BlockSparseLayout.local(96, 1000, 2), "block size (96) must be a positive multiple of 64");
        rejects(() -> BlockSparseLayout.parse("local:2", 0, 1000), "block size (0)");
        rejects(() -> BlockSparseLayout.parse("local:4,strid:8", 64, 1000), "'strid:8' is unknown");
        rejects(() -> BlockSparseLayout.parse("local:x", 64, 1000), "'local:x'", "not a whole number");
        rejects(() -> BlockSparseLayout.parse("local", 64, 1000), "'local' needs a number");
        rejects(() -> BlockSparseLayout.parse("stride:0", 64, 1000), "'stride:0'", ">= 1");
        rejects(() -> BlockSparseLayout.parse("local:2,", 64, 1000), "''");
        rejects(() -> BlockSparseLayout.parse("", 64, 1000), "pattern is empty");
        rejects(() -> BlockSparseLayout.local(64, 0, 2), "maxSeq (0)");
        rejects(() -> BlockSparseLayout.fromMask(new byte[5], 1, 2, 3, 64), "mask has 5 entries, expected 1 x 2 x 3");
        rejects(() -> BlockSparseLayout.union(BlockSparseLayout.local(64, 1000, 1), BlockSparseLayout.local(64, 2000, 1)),
                "differ in block size or block count");
        rejects(() -> BlockSparseLayout.union(BlockSparseLayout.verticalStridePerHead(64, 1000, 4, 2),
                BlockSparseLayout.verticalStridePerHead(64, 1000, 4, 4)), "differ in head count (2 vs 4)");
        rejects(() -> BlockSparseLayout.local(64, 1000, 2).density(100, 2000, true), "has 16 query blocks but 2000 keys need 32");
    }
}
