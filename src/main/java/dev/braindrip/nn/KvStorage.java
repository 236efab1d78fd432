package dev.braindrip.nn;

import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Tensor;
import java.util.Arrays;

/**
 * The device memory of a KV cache: K (B, slots, Hkv, D) and V (B, slots, HkvV, Dv) in one storage
 * dtype (HkvV = Hkv, except for differential attention: 2Hkv key heads of d, Hkv value heads of 2d), plus the I32 (B) count of used slots per sequence that the kernel reads as seqused_k.
 * Rows are written with byte-offset copies ({@link Tensor#copyRange}); nothing is allocated after
 * construction.
 */
final class KvStorage implements AutoCloseable {
    final Arena arena;
    final int batch, slots, kvHeads, headDim, valueHeads, headDimV;
    final DType dtype;
    final Tensor k, v, used;
    private final long kRowBytes, vRowBytes;

    KvStorage(String kind, Arena arena, int batch, int slots, int kvHeads, int headDim, int headDimV, DType dtype) {
        this(kind, arena, batch, slots, kvHeads, headDim, kvHeads, headDimV, dtype);
    }

    KvStorage(String kind, Arena arena, int batch, int slots, int kvHeads, int headDim, int valueHeads, int headDimV, DType dtype) {
        positive(kind, "batch", batch);
        positive(kind, "capacity", slots);
        positive(kind, "kvHeads", kvHeads);
        positive(kind, "headDim", headDim);
        positive(kind, "headDimV", headDimV);
        positive(kind, "valueHeads", valueHeads);
        if (dtype == null || !dtype.isFloat()) throw new IllegalArgumentException(kind + ": dtype (" + dtype + ") must be F32, F16 or BF16");
        this.arena = arena;
        this.batch = batch;
        this.slots = slots;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.valueHeads = valueHeads;
        this.headDimV = headDimV;
        this.dtype = dtype;
        this.kRowBytes = (long) kvHeads * headDim * dtype.bytes();
        this.vRowBytes = (long) valueHeads * headDimV * dtype.bytes();
        Tensor kk = null, vv = null;
        try {
            kk = arena.empty(kind + " keys", dtype, batch, slots, kvHeads, headDim).zero();
            vv = arena.empty(kind + " values", dtype, batch, slots, valueHeads, headDimV).zero();
            this.used = arena.zeros(DType.I32, batch);
        } catch (RuntimeException e) {
            if (kk != null) kk.close();
            if (vv != null) vv.close();
            throw e;
        }
        this.k = kk;
        this.v = vv;
    }

    private static void positive(String kind, String field, int value) {
        if (value < 1) throw new IllegalArgumentException(kind + ": " + field + " (" + value + ") must be >= 1");
    }

    /**
     * Checks new rows for sequence b: k (T, Hkv, D) and v (T, Hkv, Dv) in the cache's dtype, or the
     * same with a leading 1. Returns T.
     */
    int checkRows(String kind, Tensor newK, Tensor newV) {
        newK.checkOpen();
        newV.checkOpen();
        long[] ks = squeezeLeadingOne(newK.shape()), vs = squeezeLeadingOne(newV.shape());
        if (ks.length != 3 || ks[1] != kvHeads || ks[2] != headDim) {
            throw new IllegalArgumentException(kind + ": new keys must be (T, " + kvHeads + ", " + headDim + "), got "
                    + Arrays.toString(newK.shape()));
        }
        if (vs.length != 3 || vs[0] != ks[0] || vs[1] != valueHeads || vs[2] != headDimV) {
            throw new IllegalArgumentException(kind + ": new values must be (" + ks[0] + ", " + valueHeads + ", " + headDimV + "), got "
                    + Arrays.toString(newV.shape()));
        }
        if (newK.dtype() != dtype || newV.dtype() != dtype) {
            throw new IllegalArgumentException(kind + ": new rows are " + newK.dtype() + "/" + newV.dtype() + " but the cache stores " + dtype);
        }
        return Math.toIntExact(ks[0]);
    }

    private static long[] squeezeLeadingOne(long[] s) {
        return s.length == 4 && s[0] == 1 ? Arrays.copyOfRange(s, 1, 4) : s;
    }

    void checkSequence(String kind, int b) {
        if (b < 0 || b >= batch) throw new IllegalArgumentException(kind + ": sequence " + b + " out of range [0, " + batch + ")");
    }

    /** Copies {@code count} rows starting at row {@code srcRow} of newK/newV into slots [slot, slot + count) of sequence b. */
    void writeRows(int b, int slot, Tensor newK, Tensor newV, long srcRow, int count) {
        if (count == 0) return;
        long dstRow = (long) b * slots + slot;
        k.copyRange(newK, srcRow * kRowBytes, dstRow * kRowBytes, count * kRowBytes);
        v.copyRange(newV, srcRow * vRowBytes, dstRow * vRowBytes, count * vRowBytes);
    }

    /** Uploads the used-slot counts (B ints). */
    void setUsed(int[] counts) {
        used.copyFrom(counts);
    }

    /** Bytes of device memory held (K, V and the counts). */
    long bytes() {
        return k.bytes() + v.bytes() + used.bytes();
    }

    /**
     * Checks a query (n, Sq, Hq, D) against the cache: n ≤ B queries attend over the first n
     * sequences (the live ones of a generation batch); {@code decodeOnly} demands Sq = 1. Returns n.
     */
    int checkQuery(String kind, Tensor q, boolean decodeOnly) {
        q.checkOpen();
        if (q.rank() != 4 || q.dim(0) < 1 || q.dim(0) > batch || q.dim(3) != headDim) {
            throw new IllegalArgumentException(kind + ": q must be (n <= " + batch + ", Sq, Hq, " + headDim + "), got " + Arrays.toString(q.shape()));
        }
        if (decodeOnly && q.dim(1) != 1) {
            throw new IllegalArgumentException(kind + ": takes one query per sequence (decode), got Sq = " + q.dim(1));
        }
        return (int) q.dim(0);
    }

    /** Keys of the first n sequences (n, slots, Hkv, D): a view. */
    Tensor keys(int n) {
        return n == batch ? k : k.narrow(0, n);
    }

    /** Values of the first n sequences (n, slots, HkvV, Dv): a view. */
    Tensor values(int n) {
        return n == batch ? v : v.narrow(0, n);
    }

    /** Used-slot counts of the first n sequences: a view. */
    Tensor used(int n) {
        return n == batch ? used : used.narrow(0, n);
    }

    /** Copies the first {@code count} slots of sequence {@code from} over those of sequence {@code to}. */
    void copySequence(int from, int to, int count) {
        if (from == to || count == 0) return;
        long src = (long) from * slots, dst = (long) to * slots;
        k.copyRange(k, src * kRowBytes, dst * kRowBytes, count * kRowBytes);
        v.copyRange(v, src * vRowBytes, dst * vRowBytes, count * vRowBytes);
    }

    /**
     * Checks batched new rows for the first n ≤ B sequences: k (n, T, Hkv, D) and v (n, T, Hkv, Dv).
     * Returns T; n is {@code newK.dim(0)}.
     */
    int checkBatchRows(String kind, Tensor newK, Tensor newV) {
        newK.checkOpen();
        newV.checkOpen();
        if (newK.rank() != 4 || newK.dim(0) < 1 || newK.dim(0) > batch || newK.dim(2) != kvHeads || newK.dim(3) != headDim) {
            throw new IllegalArgumentException(kind + ": new keys must be (n <= " + batch + ", T, " + kvHeads + ", " + headDim + "), got "
                    + Arrays.toString(newK.shape()));
        }
        if (newV.rank() != 4 || newV.dim(0) != newK.dim(0) || newV.dim(1) != newK.dim(1) || newV.dim(2) != valueHeads || newV.dim(3) != headDimV) {
            throw new IllegalArgumentException(kind + ": new values must be (" + newK.dim(0) + ", " + newK.dim(1) + ", " + valueHeads + ", " + headDimV
                    + "), got " + Arrays.toString(newV.shape()));
        }
        if (newK.dtype() != dtype || newV.dtype() != dtype) {
            throw new IllegalArgumentException(kind + ": new rows are " + newK.dtype() + "/" + newV.dtype() + " but the cache stores " + dtype);
        }
        return Math.toIntExact(newK.dim(1));
    }

    @Override
    public void close() {
        k.close();
        v.close();
        used.close();
    }
}
