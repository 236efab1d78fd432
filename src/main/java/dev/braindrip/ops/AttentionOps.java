package dev.braindrip.ops;

import dev.braindrip.jni.Kernels;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.NativeStatus;
import dev.braindrip.tensor.Tensor;
import java.util.Arrays;

/**
 * The fused attention op of {@link NativeOps} (native/include/braindrip/attention.h, flat form):
 * checks every argument in Java (IllegalArgumentException naming the op and the mismatch), asks the
 * backend whether it implements the head dims and dtype (UnsupportedOperationException naming the
 * limit), allocates the outputs and, when the call splits the keys, the split-KV workspace in the
 * arena, runs the kernel and frees the workspace again. The block-sparse form uploads the layout's
 * BSR arrays as I32 tensors of the call (freed with the workspace).
 */
final class AttentionOps {
    private static final String OP = "attention";

    private final Arena arena;
    private final Kernels k;
    private final long stream;

    AttentionOps(Arena arena, Kernels kernels, long stream) {
        this.arena = arena;
        this.k = kernels;
        this.stream = stream;
    }

    /** Shapes and pointers of one call, checked; 0 for an absent pointer. */
    private record Call(Tensor q, Tensor k, Tensor v, long batch, long seqQ, long seqK, int heads, int kvHeads, int headDim,
                        int headDimV, long[] oShape, long[] lseShape, long cuQ, long cuK, long seqUsedK, long sinks,
                        long ropePositions, float ropeTheta, AttentionSpec spec, PositionBias bias) {}

    // ---- the three forms

    /** q (B, Sq, Hq, D), k (B, Skv, Hkv, D), v (B, Skv, Hkv, Dv), sinks (Hq) F32 or null. */
    AttentionResult dense(Tensor q, Tensor kk, Tensor v, Tensor sinks, AttentionSpec spec) {
        return dense(q, kk, v, sinks, spec, null);
    }

    /** As above with position biases (or null). */
    AttentionResult dense(Tensor q, Tensor kk, Tensor v, Tensor sinks, AttentionSpec spec, PositionBias bias) {
        common(q, kk, v, sinks, spec, 4, "(B, Sq, Hq, D)", "(B, Skv, Hkv, D)", "(B, Skv, Hkv, Dv)");
        batchesMatch(q, kk, v);
        long b = q.dim(0), sq = q.dim(1), skv = kk.dim(1);
        int hq = (int) q.dim(2), hkv = (int) kk.dim(2), d = (int) q.dim(3), dv = (int) v.dim(3);
        biasMatches(bias, hq);
        return execute(new Call(q, kk, v, b, sq, skv, hq, hkv, d, dv, new long[] {b, sq, hq, dv}, new long[] {b, hq, sq}, 0, 0, 0,
                address(sinks), 0, 0f, spec, bias));
    }

    /**
     * Packed sequences: q (totalQ, Hq, D), k (totalK, Hkv, D), v (totalK, Hkv, Dv); cuSeqlensQ and
     * cuSeqlensK (B + 1) I32 prefix sums, read to the host here to be checked and to find the
     * maximum lengths. Outputs o (totalQ, Hq, Dv) and lse (totalQ, Hq).
     */
    AttentionResult varlen(Tensor q, Tensor kk, Tensor v, Tensor cuQ, Tensor cuK, Tensor sinks, AttentionSpec spec) {
        return varlen(q, kk, v, cuQ, cuK, sinks, spec, null);
    }

    /** As above with position biases (or null), by each sequence's own positions. */
    AttentionResult varlen(Tensor q, Tensor kk, Tensor v, Tensor cuQ, Tensor cuK, Tensor sinks, AttentionSpec spec, PositionBias bias) {
        common(q, kk, v, sinks, spec, 3, "(totalQ, Hq, D)", "(totalK, Hkv, D)", "(totalK, Hkv, Dv)");
        onDevice(cuQ, cuK);
        if (cuQ == null || cuK == null) throw new IllegalArgumentException(OP + ": varlen needs cuSeqlensQ and cuSeqlensK");
        int[] cq = prefixSums("cuSeqlensQ", cuQ, q.dim(0), "query rows of q");
        int[] ck = prefixSums("cuSeqlensK", cuK, kk.dim(0), "key rows of k");
        if (cq.length != ck.length) {
            throw new IllegalArgumentException(OP + ": cuSeqlensQ has " + cq.length + " entries but cuSeqlensK has " + ck.length
                    + " (both are batch + 1)");
        }
        long b = cq.length - 1, maxQ = 0, maxK = 0;
        for (int i = 0; i < b; i++) {
            maxQ = Math.max(maxQ, cq[i + 1] - cq[i]);
            maxK = Math.max(maxK, ck[i + 1] - ck[i]);
        }
        long tq = q.dim(0);
        int hq = (int) q.dim(1), hkv = (int) kk.dim(1), d = (int) q.dim(2), dv = (int) v.dim(2);
        biasMatches(bias, hq);
        return execute(new Call(q, kk, v, b, maxQ, maxK, hq, hkv, d, dv, new long[] {tq, hq, dv}, new long[] {tq, hq},
                cuQ.address(), cuK.address(), 0, address(sinks), 0, 0f, spec, bias));
    }

    /**
     * A KV cache: q (B, Sq, Hq, D) over kCache (B, capacity, Hkv, D) and vCache (B, capacity, Hkv, Dv)
     * of which sequence b uses the first seqUsedK[b] slots (I32 (B), read to the host to be checked);
     * the causal / window alignment uses that length. With keyRope the kernel rotates each key slot
     * to its position (I32 (B, capacity)) as it loads it.
     */
    AttentionResult kvCache(Tensor q, Tensor kCache, Tensor vCache, Tensor seqUsedK, KeyRope keyRope, Tensor sinks, AttentionSpec spec) {
        return kvCache(q, kCache, vCache, seqUsedK, keyRope, sinks, spec, null);
    }

    /** As above with position biases (or null), applied by absolute position. */
    AttentionResult kvCache(Tensor q, Tensor kCache, Tensor vCache, Tensor seqUsedK, KeyRope keyRope, Tensor sinks, AttentionSpec spec,
                            PositionBias bias) {
        common(q, kCache, vCache, sinks, spec, 4, "(B, Sq, Hq, D)", "(B, capacity, Hkv, D)", "(B, capacity, Hkv, Dv)");
        batchesMatch(q, kCache, vCache);
        long b = q.dim(0), sq = q.dim(1), cap = kCache.dim(1);
        if (seqUsedK == null) throw new IllegalArgumentException(OP + ": a KV cache call needs seqUsedK");
        onDevice(seqUsedK);
        if (seqUsedK.dtype() != DType.I32 || seqUsedK.rank() != 1 || seqUsedK.dim(0) != b) {
            throw new IllegalArgumentException(OP + ": seqUsedK must be I32 of shape [" + b + "], got " + seqUsedK);
        }
        int[] used = seqUsedK.toIntArray();
        for (int i = 0; i < used.length; i++) {
            if (used[i] < 0 || used[i] > cap) {
                throw new IllegalArgumentException(OP + ": seqUsedK[" + i + "] (" + used[i] + ") must be in [0, " + cap + "] (the capacity)");
            }
        }
        long rope = 0;
        float theta = 0f;
        if (keyRope != null) {
            Tensor pos = keyRope.positions();
            onDevice(pos);
            if (pos.dtype() != DType.I32 || !Arrays.equals(pos.shape(), new long[] {b, cap})) {
                throw new IllegalArgumentException(OP + ": key RoPE positions must be I32 of shape [" + b + ", " + cap + "], got " + pos);
            }
            if (q.dim(3) % 2 != 0) throw new IllegalArgumentException(OP + ": key RoPE needs an even head dim, got " + q.dim(3));
            rope = pos.address();
            theta = keyRope.theta();
        }
        int hq = (int) q.dim(2), hkv = (int) kCache.dim(2), d = (int) q.dim(3), dv = (int) vCache.dim(3);
        biasMatches(bias, hq);
        return execute(new Call(q, kCache, vCache, b, sq, cap, hq, hkv, d, dv, new long[] {b, sq, hq, dv}, new long[] {b, hq, sq}, 0, 0,
                seqUsedK.address(), address(sinks), rope, theta, spec, bias));
    }

    /**
     * Block-sparse attention (attention.h, sparse flat form): q (B, Sq, Hq, D) over k (B, Skv, Hkv, D)
     * and v (B, Skv, Hkv, Dv), or over a KV cache of capacity Skv when seqUsedK (I32 (B)) is given.
     * The layout replaces windows and sink tokens; the spec gives causal, scale and numSplits.
     */
    AttentionResult sparse(Tensor q, Tensor kk, Tensor v, Tensor seqUsedK, BlockSparseLayout layout, AttentionSpec spec) {
        common(q, kk, v, null, spec, 4, "(B, Sq, Hq, D)", "(B, Skv, Hkv, D)", "(B, Skv, Hkv, Dv)");
        batchesMatch(q, kk, v);
        String op = "sparse-attention";
        if (layout == null) throw new IllegalArgumentException(op + ": a block-sparse layout must be given");
        if (spec.hasWindow() || spec.softcap() > 0f) {
            throw new IllegalArgumentException(op + ": a block-sparse layout replaces windows and sink tokens, and the sparse form has no "
                    + "softcap (list local and sink blocks in the layout instead), got " + spec);
        }
        long b = q.dim(0), sq = q.dim(1), skv = kk.dim(1);
        int hq = (int) q.dim(2), hkv = (int) kk.dim(2), d = (int) q.dim(3), dv = (int) v.dim(3);
        if (layout.heads() != 1 && layout.heads() != hq) {
            throw new IllegalArgumentException(op + ": the layout has " + layout.heads() + " heads; it must have 1 (shared) or " + hq
                    + " (one per query head)");
        }
        int need = BlockSparseLayout.blocksFor(skv, layout.blockSize());
        if (layout.queryBlocks() < need) {
            throw new IllegalArgumentException(op + ": the layout has " + layout.queryBlocks() + " query blocks but " + skv + " keys need "
                    + need + " (rows are absolute query blocks of i' = i + Skv - Sq: ceil(Skv / " + layout.blockSize() + "))");
        }
        if (seqUsedK != null) {
            onDevice(seqUsedK);
            if (seqUsedK.dtype() != DType.I32 || seqUsedK.rank() != 1 || seqUsedK.dim(0) != b) {
                throw new IllegalArgumentException(op + ": seqUsedK must be I32 of shape [" + b + "], got " + seqUsedK);
            }
            int[] used = seqUsedK.toIntArray();
            for (int i = 0; i < used.length; i++) {
                if (used[i] < 0 || used[i] > skv) {
                    throw new IllegalArgumentException(op + ": seqUsedK[" + i + "] (" + used[i] + ") must be in [0, " + skv + "] (the capacity)");
                }
            }
        }
        int dtype = q.dtype().code();
        check(k.attentionSupports(d, dv, dtype));
        long wsBytes = k.sparseAttentionWorkspaceBytes(dtype, b, sq, skv, hq, hkv, d, dv, layout.heads(), spec.numSplits());
        if (wsBytes < 0) check(NativeStatus.INVALID_ARGUMENT);
        BlockSparseLayout.Bsr bsr = layout.bsr(skv);
        Tensor o = arena.empty("sparse-attention o", q.dtype(), b, sq, hq, dv);
        Tensor lse = null, ws = null, rowPtr = null, colIdx = null;
        try {
            lse = arena.empty("sparse-attention lse", DType.F32, b, hq, sq);
            rowPtr = arena.fromInts(bsr.rowPtr(), bsr.rowPtr().length);
            // an all-empty layout still passes a valid pointer (never read)
            colIdx = bsr.colIdx().length > 0 ? arena.fromInts(bsr.colIdx(), bsr.colIdx().length) : arena.fromInts(new int[] {0}, 1);
            ws = wsBytes > 0 ? arena.empty("sparse-attention split-KV workspace", DType.U8, wsBytes) : null;
            check(k.sparseAttention(q.address(), kk.address(), v.address(), o.address(), lse.address(), dtype, b, sq, skv, hq, hkv, d, dv,
                    address(seqUsedK), spec.scaleFor(d), spec.isCausal() ? 1 : 0, layout.blockSize(), layout.heads(), layout.queryBlocks(),
                    rowPtr.address(), colIdx.address(), spec.numSplits(), ws == null ? 0L : ws.address(), stream));
            return new AttentionResult(o, lse);
        } catch (RuntimeException e) {
            o.close();
            if (lse != null) lse.close();
            throw e;
        } finally { // back to the arena's pool; later work on the stream is ordered after the kernel
            if (ws != null) ws.close();
            if (rowPtr != null) rowPtr.close();
            if (colIdx != null) colIdx.close();
        }
    }

    // ---- checks

    private void common(Tensor q, Tensor kk, Tensor v, Tensor sinks, AttentionSpec spec, int rank, String qLayout, String kLayout,
                        String vLayout) {
        if (q == null || kk == null || v == null) throw new IllegalArgumentException(OP + ": q, k and v must be given");
        if (spec == null) throw new IllegalArgumentException(OP + ": spec must be given (AttentionSpec.causal() or .full())");
        onDevice(q, kk, v, sinks);
        if (!q.dtype().isFloat()) throw new IllegalArgumentException(OP + ": q is " + q.dtype() + ", expected F32, F16 or BF16");
        if (kk.dtype() != q.dtype() || v.dtype() != q.dtype()) {
            throw new IllegalArgumentException(OP + ": q, k and v must share a dtype, got q " + q.dtype() + ", k " + kk.dtype() + ", v "
                    + v.dtype());
        }
        layout("q", q, rank, qLayout);
        layout("k", kk, rank, kLayout);
        layout("v", v, rank, vLayout);
        long hq = q.dim(-2), hkv = kk.dim(-2), d = q.dim(-1), dk = kk.dim(-1), dv = v.dim(-1);
        if (kk.dim(-3) != v.dim(-3)) {
            throw new IllegalArgumentException(OP + ": k has " + kk.dim(-3) + " key rows but v has " + v.dim(-3));
        }
        if (v.dim(-2) != hkv) throw new IllegalArgumentException(OP + ": kvHeads differ, k has " + hkv + ", v has " + v.dim(-2));
        if (d != dk) throw new IllegalArgumentException(OP + ": head dims differ, q has D = " + d + ", k has D = " + dk);
        for (long x : new long[] {hq, hkv, d, dv}) {
            if (x < 1 || x > Integer.MAX_VALUE) {
                throw new IllegalArgumentException(OP + ": heads and head dims must be in [1, 2^31), got q " + Arrays.toString(q.shape())
                        + ", k " + Arrays.toString(kk.shape()) + ", v " + Arrays.toString(v.shape()));
            }
        }
        if (hq % hkv != 0) throw new IllegalArgumentException(OP + ": heads (" + hq + ") must be divisible by kvHeads (" + hkv + ")");
        if (sinks != null && (sinks.dtype() != DType.F32 || sinks.rank() != 1 || sinks.dim(0) != hq)) {
            throw new IllegalArgumentException(OP + ": learned sinks must be F32 of shape [" + hq + "] (one per query head), got " + sinks);
        }
    }

    /** The bias tensors: on this arena's device, F32, (Hq, buckets) and (Hq). */
    private void biasMatches(PositionBias bias, int hq) {
        if (bias == null) return;
        if (bias.relBias() != null) {
            Tensor t = bias.relBias();
            onDevice(t);
            if (t.dtype() != DType.F32 || t.rank() != 2 || t.dim(0) != hq || t.dim(1) != bias.buckets()) {
                throw new IllegalArgumentException(OP + ": the relative position bias must be F32 of shape [" + hq + ", " + bias.buckets()
                        + "] (heads, buckets), got " + t);
            }
        }
        if (bias.alibiSlopes() != null) {
            Tensor t = bias.alibiSlopes();
            onDevice(t);
            if (t.dtype() != DType.F32 || t.rank() != 1 || t.dim(0) != hq) {
                throw new IllegalArgumentException(OP + ": ALiBi slopes must be F32 of shape [" + hq + "] (one per query head), got " + t);
            }
        }
    }

    private static void layout(String name, Tensor t, int rank, String layout) {
        if (t.rank() != rank) {
            throw new IllegalArgumentException(OP + ": " + name + " must be " + layout + ", got shape " + Arrays.toString(t.shape()));
        }
    }

    private static void batchesMatch(Tensor q, Tensor kk, Tensor v) {
        if (kk.dim(0) != q.dim(0) || v.dim(0) != q.dim(0)) {
            throw new IllegalArgumentException(OP + ": batch sizes differ, q " + q.dim(0) + ", k " + kk.dim(0) + ", v " + v.dim(0));
        }
    }

    private void onDevice(Tensor... ts) {
        for (Tensor t : ts) {
            if (t == null) continue;
            t.checkOpen();
            if (!t.device().equals(arena.device())) throw new IllegalArgumentException(OP + ": " + t + " is not on " + arena.device());
        }
    }

    /** Reads and checks (B + 1) prefix sums: I32, start 0, non-decreasing, ending at {@code total}. */
    private static int[] prefixSums(String name, Tensor cu, long total, String what) {
        if (cu.dtype() != DType.I32 || cu.rank() != 1 || cu.dim(0) < 1) {
            throw new IllegalArgumentException(OP + ": " + name + " must be I32 of shape [batch + 1], got " + cu);
        }
        int[] c = cu.toIntArray();
        if (c[0] != 0) throw new IllegalArgumentException(OP + ": " + name + "[0] (" + c[0] + ") must be 0");
        for (int i = 0; i + 1 < c.length; i++) {
            if (c[i + 1] < c[i]) {
                throw new IllegalArgumentException(OP + ": " + name + " must be non-decreasing, but [" + i + "] = " + c[i] + " > ["
                        + (i + 1) + "] = " + c[i + 1]);
            }
        }
        if (c[c.length - 1] != total) {
            throw new IllegalArgumentException(OP + ": " + name + " ends at " + c[c.length - 1] + " but there are " + total + " " + what);
        }
        return c;
    }

    private static long address(Tensor t) {
        return t == null ? 0L : t.address();
    }

    // ---- the call

    private void check(int status) {
        if (status == NativeStatus.OK) return;
        if (k.isCuda()) NativeStatus.checkCuda(status, OP);
        else NativeStatus.checkCpu(status, OP);
    }

    private AttentionResult execute(Call c) {
        int dtype = c.q().dtype().code();
        AttentionSpec s = c.spec();
        PositionBias pb = c.bias();
        check(k.attentionSupports(c.headDim(), c.headDimV(), dtype)); // UnsupportedOperationException naming the limit
        long wsBytes = k.attentionWorkspaceBytes(dtype, c.batch(), c.seqQ(), c.seqK(), c.heads(), c.kvHeads(), c.headDim(),
                c.headDimV(), s.numSplits());
        if (wsBytes < 0) check(NativeStatus.INVALID_ARGUMENT);
        Tensor o = arena.empty("attention o", c.q().dtype(), c.oShape());
        Tensor lse = null, ws = null;
        try {
            lse = arena.empty("attention lse", DType.F32, c.lseShape());
            ws = wsBytes > 0 ? arena.empty("attention split-KV workspace", DType.U8, wsBytes) : null;
            check(k.attention(c.q().address(), c.k().address(), c.v().address(), o.address(), lse.address(), dtype, c.batch(), c.seqQ(),
                    c.seqK(), c.heads(), c.kvHeads(), c.headDim(), c.headDimV(), c.cuQ(), c.cuK(), c.seqUsedK(), s.scaleFor(c.headDim()),
                    s.softcap(), s.isCausal() ? 1 : 0, s.windowLeft(), s.windowRight(), s.sinkTokens(), c.sinks(), c.ropePositions(),
                    c.ropeTheta() > 0 ? c.ropeTheta() : 10000f, pb == null ? 0L : address(pb.relBias()), pb == null ? 0 : pb.buckets(),
                    pb == null ? 0 : pb.maxDistance(), pb != null && pb.bidirectional() ? 1 : 0, pb == null ? 0L : address(pb.alibiSlopes()),
                    s.numSplits(), ws == null ? 0L : ws.address(), stream));
            return new AttentionResult(o, lse);
        } catch (RuntimeException e) {
            o.close();
            if (lse != null) lse.close();
            throw e;
        } finally {
            if (ws != null) ws.close(); // back to the arena's pool; later work on the stream is ordered after the kernel
        }
    }
}
