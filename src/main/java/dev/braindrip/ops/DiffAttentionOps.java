package dev.braindrip.ops;

import dev.braindrip.jni.Kernels;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.NativeStatus;
import dev.braindrip.tensor.Tensor;
import java.util.Arrays;

/**
 * The fused differential attention op of {@link NativeOps} (native/include/braindrip/diff_attention.h):
 * checks every argument in Java (IllegalArgumentException naming the op, the tensor and the expected
 * against the given shape), asks the backend whether it implements the head dim and dtype
 * (UnsupportedOperationException naming the limit), allocates o in the arena and runs the kernel.
 */
final class DiffAttentionOps {
    private static final String OP = "diff_attention";

    private final Arena arena;
    private final Kernels k;
    private final long stream;

    DiffAttentionOps(Arena arena, Kernels kernels, long stream) {
        this.arena = arena;
        this.k = kernels;
        this.stream = stream;
    }

    /** q (B, Sq, 2H, D), k (B, Skv, 2Hkv, D), v (B, Skv, Hkv, 2D), subln (2D) → o (B, Sq, H, 2D). */
    Tensor dense(Tensor q, Tensor kk, Tensor v, Tensor subln, DiffAttentionSpec spec) {
        check(q, kk, v, subln, spec, "Skv");
        return execute(q, kk, v, subln, 0L, spec);
    }

    /**
     * A KV cache: kCache (B, capacity, 2Hkv, D), vCache (B, capacity, Hkv, 2D), of which sequence b uses
     * the first seqUsedK[b] slots (I32 (B), read to the host to be checked); masks align bottom-right to that length.
     */
    Tensor kvCache(Tensor q, Tensor kCache, Tensor vCache, Tensor seqUsedK, Tensor subln, DiffAttentionSpec spec) {
        check(q, kCache, vCache, subln, spec, "capacity");
        if (seqUsedK == null) throw new IllegalArgumentException(OP + ": a KV cache call needs seqUsedK");
        onDevice(seqUsedK);
        long b = q.dim(0), cap = kCache.dim(1);
        if (seqUsedK.dtype() != DType.I32 || seqUsedK.rank() != 1 || seqUsedK.dim(0) != b) {
            throw new IllegalArgumentException(OP + ": seqUsedK must be I32 of shape [" + b + "], got " + seqUsedK);
        }
        int[] used = seqUsedK.toIntArray();
        for (int i = 0; i < used.length; i++) {
            if (used[i] < 0 || used[i] > cap) {
                throw new IllegalArgumentException(OP + ": seqUsedK[" + i + "] (" + used[i] + ") must be in [0, " + cap + "] (the capacity)");
            }
        }
        return execute(q, kCache, vCache, subln, seqUsedK.address(), spec);
    }

    // ---- checks

    private void check(Tensor q, Tensor kk, Tensor v, Tensor subln, DiffAttentionSpec spec, String keys) {
        if (q == null || kk == null || v == null || subln == null) throw new IllegalArgumentException(OP + ": q, k, v and subln must be given");
        if (spec == null) throw new IllegalArgumentException(OP + ": spec must be given (DiffAttentionSpec.causal(lambda, lambdaInit))");
        onDevice(q, kk, v, subln);
        if (!q.dtype().isFloat()) throw new IllegalArgumentException(OP + ": q is " + q.dtype() + ", expected F32, F16 or BF16");
        if (kk.dtype() != q.dtype() || v.dtype() != q.dtype() || subln.dtype() != q.dtype()) {
            throw new IllegalArgumentException(OP + ": q, k, v and subln must share a dtype, got q " + q.dtype() + ", k " + kk.dtype() + ", v "
                    + v.dtype() + ", subln " + subln.dtype());
        }
        if (q.rank() != 4) throw new IllegalArgumentException(OP + ": q must be (B, Sq, 2H, D), got shape " + Arrays.toString(q.shape()));
        long b = q.dim(0), hq = q.dim(2), d = q.dim(3);
        if (hq % 2 != 0) {
            throw new IllegalArgumentException(OP + ": q must have an even number of heads (2H: two query heads per output head), got "
                    + hq + " in shape " + Arrays.toString(q.shape()));
        }
        if (kk.rank() != 4 || kk.dim(0) != b || kk.dim(3) != d || kk.dim(2) % 2 != 0) {
            throw new IllegalArgumentException(OP + ": k must be (" + b + ", " + keys + ", 2Hkv, " + d + "), got shape "
                    + Arrays.toString(kk.shape()));
        }
        long skv = kk.dim(1), hkv = kk.dim(2) / 2;
        long[] vWant = {b, skv, hkv, 2 * d};
        if (!Arrays.equals(v.shape(), vWant)) {
            throw new IllegalArgumentException(OP + ": v must be " + Arrays.toString(vWant) + " (B, " + keys + ", Hkv, 2D), got shape "
                    + Arrays.toString(v.shape()));
        }
        if (subln.rank() != 1 || subln.dim(0) != 2 * d) {
            throw new IllegalArgumentException(OP + ": subln must be [" + 2 * d + "] (2D), got shape " + Arrays.toString(subln.shape()));
        }
        if (hkv < 1 || (hq / 2) % hkv != 0) {
            throw new IllegalArgumentException(OP + ": heads H (" + hq / 2 + ", q has 2H) must be divisible by kvHeads Hkv (" + hkv
                    + ", k has 2Hkv)");
        }
        if (d < 1 || d > Integer.MAX_VALUE || hq > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(OP + ": heads and head dim must be in [1, 2^31), got q " + Arrays.toString(q.shape()));
        }
    }

    private void onDevice(Tensor... ts) {
        for (Tensor t : ts) {
            if (t == null) continue;
            t.checkOpen();
            if (!t.device().equals(arena.device())) throw new IllegalArgumentException(OP + ": " + t + " is not on " + arena.device());
        }
    }

    private void status(int status) {
        if (status == NativeStatus.OK) return;
        if (k.isCuda()) NativeStatus.checkCuda(status, OP);
        else NativeStatus.checkCpu(status, OP);
    }

    // ---- the call

    private Tensor execute(Tensor q, Tensor kk, Tensor v, Tensor subln, long seqUsedK, DiffAttentionSpec spec) {
        int dtype = q.dtype().code();
        long b = q.dim(0), sq = q.dim(1), skv = kk.dim(1);
        int h = (int) (q.dim(2) / 2), hkv = (int) (kk.dim(2) / 2), d = (int) q.dim(3);
        AttentionSpec m = spec.mask();
        status(k.diffAttentionSupports(d, dtype)); // UnsupportedOperationException naming the limit
        Tensor o = arena.empty("diff_attention o", q.dtype(), b, sq, h, 2L * d);
        try {
            status(k.diffAttention(q.address(), kk.address(), v.address(), subln.address(), o.address(), dtype, b, sq, skv, h, hkv, d,
                    seqUsedK, m.scaleFor(d), m.isCausal() ? 1 : 0, m.windowLeft(), m.windowRight(), spec.lambda(), spec.lambdaInit(),
                    spec.eps(), stream));
            return o;
        } catch (RuntimeException e) {
            o.close();
            throw e;
        }
    }
}
