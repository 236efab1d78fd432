package dev.braindrip.ops.moe;

import dev.braindrip.jni.MoeKernels;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Tensor;

/**
 * The dispatch stage on its own, for callers that run their own expert GEMMs (and for tests):
 * {@link #align} orders the slots expert by expert, {@link #permute} gathers token rows into that
 * order, {@link #unpermute} brings sorted rows back to slot order. MoeLayer does not need these:
 * its grouped GEMMs read rows through the alignment and write slot rows directly.
 */
public final class MoeDispatch {
    private final Arena arena;
    private final MoeKernels kernels;

    public MoeDispatch(Arena arena) {
        this.arena = arena;
        this.kernels = MoeKernels.of(arena.device().isCuda());
    }

    /** The M tile the grouped GEMM uses for T·k slots over E experts (16, 32, 64 or 128). */
    public long blockM(long tokens, int topK, int experts) {
        return kernels.moeBlockM(tokens, topK, experts);
    }

    /** Aligns topkIds (T, k) I32 (−1 = dropped) over E experts with the kernels' own M tile. */
    public ExpertAlignment align(Tensor topkIds, int experts) {
        checkIds("moe_align", topkIds);
        return align(topkIds, experts, blockM(topkIds.dim(0), (int) topkIds.dim(1), experts));
    }

    /** As {@link #align(Tensor, int)} with a chosen M tile (≥ 1 on the CPU; 16, 32, 64 or 128 on CUDA). */
    public ExpertAlignment align(Tensor topkIds, int experts, long blockM) {
        String op = "moe_align";
        checkIds(op, topkIds);
        if (experts < 1 || experts > MoeConfig.MAX_EXPERTS) {
            throw new IllegalArgumentException(op + ": experts (" + experts + ") must be in [1, " + MoeConfig.MAX_EXPERTS + "]");
        }
        if (blockM < 1) throw new IllegalArgumentException(op + ": blockM (" + blockM + ") must be >= 1");
        long t = topkIds.dim(0);
        int k = (int) topkIds.dim(1);
        long maxRows = kernels.moeMaxRows(t, k, experts, blockM);
        if (maxRows < 0) throw new IllegalArgumentException(op + ": " + kernels.lastError());
        Tensor sorted = null, tiles = null, offsets = null, total = null, slotPos = null, counts = null;
        try {
            sorted = arena.empty(DType.I32, maxRows);
            tiles = arena.empty(DType.I32, maxRows / blockM);
            offsets = arena.empty(DType.I32, experts + 1L);
            total = arena.empty(DType.I32, 1);
            slotPos = arena.empty(DType.I32, t * k);
            counts = arena.empty(DType.I32, experts);
            ExpertAlignment a = new ExpertAlignment(t, k, experts, blockM, maxRows, sorted, tiles, offsets, total, slotPos, counts);
            MoeChecks.status(kernels, kernels.moeAlign(topkIds.address(), t, k, experts, blockM, maxRows, sorted.address(), tiles.address(),
                    offsets.address(), total.address(), slotPos.address(), counts.address(), 0L), op);
            return a;
        } catch (RuntimeException e) {
            MoeChecks.closeAll(sorted, tiles, offsets, total, slotPos, counts);
            throw e;
        }
    }

    /** out (maxRows, cols): row p = x[token of the slot at row p]; zero for padding rows and rows past the end. x: (T, cols). */
    public Tensor permute(Tensor x, ExpertAlignment a) {
        String op = "moe_permute";
        MoeChecks.onDevice(op, arena.device(), "x", x);
        MoeChecks.floatDType(op, "x", x);
        MoeChecks.rank(op, "x", x, 2, "(T, cols)");
        if (x.dim(0) != a.tokens()) throw new IllegalArgumentException(op + ": x has " + x.dim(0) + " rows, the alignment " + a.tokens() + " tokens");
        long cols = x.dim(1);
        Tensor out = arena.empty(x.dtype(), a.maxRows(), cols);
        return MoeChecks.run(kernels, out, op, () -> kernels.moePermute(x.address(), a.sortedTokenIds().address(), a.numTokensPostPadded().address(), a.tokens(),
                a.topK(), cols, a.maxRows(), out.address(), x.dtype().code(), 0L));
    }

    /** out (T·k, cols): row s = in[sorted row of slot s]; zero for a dropped slot. in: (maxRows, cols). */
    public Tensor unpermute(Tensor in, ExpertAlignment a) {
        String op = "moe_unpermute";
        MoeChecks.onDevice(op, arena.device(), "in", in);
        MoeChecks.floatDType(op, "in", in);
        MoeChecks.rank(op, "in", in, 2, "(maxRows, cols)");
        if (in.dim(0) != a.maxRows()) throw new IllegalArgumentException(op + ": in has " + in.dim(0) + " rows, expected maxRows (" + a.maxRows() + ")");
        long cols = in.dim(1);
        Tensor out = arena.empty(in.dtype(), a.slots(), cols);
        return MoeChecks.run(kernels, out, op, () -> kernels.moeUnpermute(in.address(), a.slotPos().address(), a.tokens(), a.topK(), cols, a.maxRows(),
                out.address(), in.dtype().code(), 0L));
    }

    private void checkIds(String op, Tensor topkIds) {
        MoeChecks.onDevice(op, arena.device(), "topk_ids", topkIds);
        MoeChecks.dtype(op, "topk_ids", topkIds, DType.I32);
        MoeChecks.rank(op, "topk_ids", topkIds, 2, "(T, k)");
    }
}
