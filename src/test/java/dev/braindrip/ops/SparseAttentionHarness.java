package dev.braindrip.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.braindrip.ops.AttentionCase.Form;
import dev.braindrip.reference.AttentionReference;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Block-sparse attention cases: an {@link AttentionCase} (its inputs, dtype and form: DENSE, or
 * CACHE for decode over a KV cache with seqused_k) plus a {@link BlockSparseLayout}. The oracle is
 * {@link AttentionReference} under the layout's element mask, checked with AttentionHarness's rule
 * (NaN first, empty rows exactly zero with lse −inf, FlashAttention's low-precision bound, F32 NMSE).
 */
final class SparseAttentionHarness {
    private SparseAttentionHarness() {}

    record SparseCase(AttentionCase base, BlockSparseLayout layout) {
        @Override
        public String toString() {
            return base + " " + layout;
        }
    }

    /** Runs a case on the arena's device; returns o and lse as floats. */
    static float[][] run(Arena arena, SparseCase sc, AttentionHarness.Inputs in) {
        AttentionCase c = sc.base();
        int b = c.batch(), hq = c.heads(), hkv = c.kvHeads(), d = c.headDim(), dv = c.headDimV();
        List<Tensor> made = new ArrayList<>();
        try {
            Tensor q = track(made, arena.fromFloats(in.q(), c.dtype(), b, c.seqQ(), hq, d));
            Tensor k = track(made, arena.fromFloats(in.k(), c.dtype(), b, c.seqK(), hkv, d));
            Tensor v = track(made, arena.fromFloats(in.v(), c.dtype(), b, c.seqK(), hkv, dv));
            AttentionResult r = c.form() == Form.CACHE
                    ? Ops.on(arena).sparseAttentionKvCache(q, k, v, track(made, arena.fromInts(in.used(), b)), sc.layout(), c.spec())
                    : Ops.on(arena).sparseAttention(q, k, v, sc.layout(), c.spec());
            try (r) {
                assertEquals(c.dtype(), r.o().dtype(), "o dtype");
                assertEquals(DType.F32, r.lse().dtype(), "lse dtype");
                return new float[][] {r.o().toFloatArray(), r.lse().toFloatArray()};
            }
        } finally {
            for (Tensor t : made) t.close();
        }
    }

    private static Tensor track(List<Tensor> made, Tensor t) {
        made.add(t);
        return t;
    }

    /** The oracle's inputs of a case: the base case's, with the layout. */
    static AttentionHarness.Inputs inputs(SparseCase sc) {
        AttentionHarness.Inputs in = AttentionHarness.inputs(sc.base());
        return new AttentionHarness.Inputs(in.q(), in.k(), in.v(), in.sinks(), in.cuQ(), in.cuK(), in.used(), in.positions(),
                in.problem().layout(sc.layout()));
    }

    static void check(Arena arena, SparseCase sc) {
        AttentionHarness.Inputs in = inputs(sc);
        float[][] got = run(arena, sc, in);
        AttentionHarness.compare(sc.base().withName(sc.base().name() + " / " + sc.layout()), in, got[0], got[1]);
    }

    /** A layout with each block listed with probability {@code pct}%, per head or shared. */
    static BlockSparseLayout random(int block, long seq, int heads, int pct, long seed) {
        int n = BlockSparseLayout.blocksFor(seq, block);
        SplittableRandom r = new SplittableRandom(seed);
        byte[] m = new byte[heads * n * n];
        for (int i = 0; i < m.length; i++) m[i] = (byte) (r.nextInt(100) < pct ? 1 : 0);
        return BlockSparseLayout.fromMask(m, heads, n, n, block);
    }

    /** The layout with query block row {@code row} emptied on every head. */
    static BlockSparseLayout withEmptyRow(BlockSparseLayout l, int row) {
        byte[] m = l.mask();
        int n = l.keyBlocks();
        for (int h = 0; h < l.heads(); h++) java.util.Arrays.fill(m, (h * l.queryBlocks() + row) * n, (h * l.queryBlocks() + row + 1) * n, (byte) 0);
        return BlockSparseLayout.fromMask(m, l.heads(), l.queryBlocks(), n, l.blockSize());
    }

    // ---- the cases both backends run

    static List<SparseCase> cases() {
        List<SparseCase> cs = new ArrayList<>();
        AttentionSpec causal = AttentionSpec.causal(), full = AttentionSpec.full();
        for (DType dt : new DType[] {DType.F32, DType.BF16, DType.F16}) {
            // lengths not a multiple of the block (300 = 4·64 + 44), GQA 2
            cs.add(new SparseCase(AttentionCase.of("sparse causal", dt, 2, 300, 300, 4, 2, 64, causal),
                    BlockSparseLayout.parse("local:2,stride:3", 64, 300)));
            cs.add(new SparseCase(AttentionCase.of("sparse full (not causal)", dt, 1, 260, 260, 4, 2, 64, full),
                    random(64, 260, 1, 40, 11 + dt.ordinal())));
            cs.add(new SparseCase(AttentionCase.of("sparse block 128 causal", dt, 1, 330, 330, 2, 1, 64, causal),
                    BlockSparseLayout.parse("local:1,vstride:2", 128, 330)));
            // per-head layouts (Phi-3-small's heterogeneous vertical stride; random)
            cs.add(new SparseCase(AttentionCase.of("sparse per-head vertical stride", dt, 1, 330, 330, 4, 2, 64, causal),
                    BlockSparseLayout.union(BlockSparseLayout.local(64, 330, 1), BlockSparseLayout.verticalStridePerHead(64, 330, 4, 4))));
            cs.add(new SparseCase(AttentionCase.of("sparse per-head random full", dt, 1, 200, 200, 4, 1, 64, full),
                    random(64, 200, 4, 50, 21 + dt.ordinal())));
            // rows that see nothing: an empty layout row; negative aligned positions (Sq > Skv)
            cs.add(new SparseCase(AttentionCase.of("sparse empty layout row", dt, 1, 200, 200, 4, 2, 64, causal),
                    withEmptyRow(BlockSparseLayout.parse("local:2,sink:1", 64, 200), 1)));
            cs.add(new SparseCase(AttentionCase.of("sparse Sq > Skv", dt, 1, 150, 70, 4, 2, 64, causal),
                    BlockSparseLayout.parse("local:2", 64, 70)));
            // Sq < Skv: rows are absolute query blocks of the aligned position
            cs.add(new SparseCase(AttentionCase.of("sparse Sq < Skv causal", dt, 1, 100, 333, 4, 2, 64, causal),
                    BlockSparseLayout.parse("local:2,sink:1", 64, 333)));
            // decode over a KV cache (seqused_k; GQA rows packed with a shared layout, not with a per-head one)
            cs.add(new SparseCase(AttentionCase.of("sparse cache decode gqa 4", dt, 3, 1, 700, 8, 2, 64, causal).withForm(Form.CACHE),
                    BlockSparseLayout.parse("local:3,stride:4", 64, 700)));
            cs.add(new SparseCase(AttentionCase.of("sparse cache chunk of 5", dt, 2, 5, 500, 8, 2, 64, full).withForm(Form.CACHE),
                    random(64, 500, 1, 50, 31 + dt.ordinal())));
            cs.add(new SparseCase(AttentionCase.of("sparse cache decode per-head", dt, 2, 2, 600, 8, 2, 64, causal).withForm(Form.CACHE),
                    BlockSparseLayout.union(BlockSparseLayout.local(64, 600, 1), BlockSparseLayout.verticalStridePerHead(64, 600, 3, 8))));
            // split-KV over the sparse walk
            for (int s : new int[] {2, 3}) {
                cs.add(new SparseCase(AttentionCase.of("sparse split-KV " + s + " decode", dt, 2, 1, 900, 8, 2, 64, causal.numSplits(s))
                        .withForm(Form.CACHE), BlockSparseLayout.parse("local:2,stride:3", 64, 900)));
                cs.add(new SparseCase(AttentionCase.of("sparse split-KV " + s + " prefill", dt, 1, 260, 260, 2, 1, 64, causal.numSplits(s)),
                        BlockSparseLayout.parse("local:2,vstride:2", 64, 260)));
            }
            cs.add(new SparseCase(AttentionCase.of("sparse head dim 128", dt, 1, 200, 200, 2, 1, 128, causal.scale(0.2f)),
                    BlockSparseLayout.parse("local:1,stride:2", 64, 200)));
        }
        return cs;
    }
}
