package dev.braindrip.tensor;

import java.lang.ref.Cleaner;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * An allocator for tensors on one device, in the manner of Arrow's BufferAllocator: it counts
 * bytes, refuses allocations past its limit, and on close frees every tensor still alive and
 * throws IllegalStateException listing them (a leak is a bug to fix, not to ignore).
 *
 * <pre>{@code
 * try (Arena arena = Arena.on(Device.best(), 8L << 30)) {
 *     Tensor x = arena.randn(DType.BF16, 4096, 4096);
 *     Tensor y = Ops.on(arena).rmsnorm(x, w, 1e-6f);
 * }
 * }</pre>
 */
public final class Arena implements AutoCloseable {
    private static final Cleaner CLEANER = Cleaner.create();

    private final Device device;
    private final long limit;
    private final State state;
    private final Cleaner.Cleanable cleanable;
    private final SplittableRandom random;
    /** Per-arena services of the layers above (the ops of this arena), made once on first use. */
    private final Map<Class<?>, Object> extensions = new java.util.HashMap<>();

    /**
     * Memory bookkeeping kept apart from the Arena so the Cleaner can free it if the Arena is dropped.
     * The live tensors form an intrusive doubly-linked list through {@link Tensor#prevLive} and
     * {@link Tensor#nextLive} (in allocation order), and the pool keeps raw addresses in primitive
     * stacks, so an allocation and its release box nothing and hash nothing (a tiny op's output
     * used to cost ~160 ns in IdentityHashMap and Long boxing; now ~50 ns, docs/perf/overhead-cpu.md).
     * Guarded by the Arena's monitor (the Cleaner runs it only once the Arena is unreachable).
     */
    private static final class State implements Runnable {
        /** Block sizes up to 1 MiB are multiples of 256: their pools sit in an array by size / 256. */
        static final int SMALL_CLASSES = (1 << 20) / 256;

        final Device device;
        Tensor liveHead, liveTail;
        int liveCount;
        /** Freed blocks kept for reuse, by rounded size: device allocation is slow and cudaFree synchronizes. */
        final AddressStack[] small = new AddressStack[SMALL_CLASSES + 1];
        final Map<Long, AddressStack> large = new java.util.HashMap<>();
        long pooled;
        long allocated;
        long peak;
        boolean closed;

        State(Device device) {
            this.device = device;
        }

        void link(Tensor t) {
            t.prevLive = liveTail;
            t.nextLive = null;
            if (liveTail == null) liveHead = t;
            else liveTail.nextLive = t;
            liveTail = t;
            t.live = true;
            liveCount++;
        }

        void unlink(Tensor t) {
            if (t.prevLive == null) liveHead = t.nextLive;
            else t.prevLive.nextLive = t.nextLive;
            if (t.nextLive == null) liveTail = t.prevLive;
            else t.nextLive.prevLive = t.prevLive;
            t.prevLive = t.nextLive = null;
            t.live = false;
            liveCount--;
        }

        List<Tensor> liveList() {
            List<Tensor> l = new ArrayList<>(liveCount);
            for (Tensor t = liveHead; t != null; t = t.nextLive) l.add(t);
            return l;
        }

        private AddressStack stack(long size, boolean create) {
            if (size <= (1L << 20)) {
                int i = (int) (size >>> 8);
                AddressStack q = small[i];
                if (q == null && create) small[i] = q = new AddressStack();
                return q;
            }
            AddressStack q = large.get(size);
            if (q == null && create) large.put(size, q = new AddressStack());
            return q;
        }

        /** Returns every pooled block to the device. */
        void trim() {
            for (int i = 0; i < small.length; i++) {
                if (small[i] != null) small[i].freeAll(device);
                small[i] = null;
            }
            for (AddressStack q : large.values()) q.freeAll(device);
            large.clear();
            pooled = 0;
        }

        long take(long size) {
            AddressStack q = stack(size, false);
            if (q == null || q.n == 0) return 0;
            pooled -= size;
            return q.pop();
        }

        void give(long size, long address) {
            stack(size, true).push(address);
            pooled += size;
        }

        @Override
        public synchronized void run() {
            for (Tensor t = liveHead; t != null; t = t.nextLive) {
                try {
                    DeviceMemory.free(device, t.rawAddress());
                } catch (RuntimeException ignored) {
                    // safety net only: the driver may already be gone at exit
                }
            }
            liveHead = liveTail = null;
            liveCount = 0;
            trim();
            allocated = 0;
            closed = true;
        }
    }

    /** A stack of raw block addresses (no boxing). */
    private static final class AddressStack {
        long[] a = new long[4];
        int n;

        void push(long address) {
            if (n == a.length) a = java.util.Arrays.copyOf(a, 2 * n);
            a[n++] = address;
        }

        long pop() {
            return a[--n];
        }

        void freeAll(Device device) {
            for (int i = 0; i < n; i++) {
                try {
                    DeviceMemory.free(device, a[i]);
                } catch (RuntimeException ignored) {
                    // safety net only
                }
            }
            n = 0;
        }
    }

    private Arena(Device device, long limit, long seed) {
        if (limit <= 0) throw new IllegalArgumentException("arena limit (" + limit + " bytes) must be > 0");
        device.requireUsable();
        this.device = device;
        this.limit = limit;
        this.state = new State(device);
        this.cleanable = CLEANER.register(this, state);
        this.random = new SplittableRandom(seed);
    }

    /** An arena on {@code device} that may hold at most {@code limitBytes} at once. */
    public static Arena on(Device device, long limitBytes) {
        return new Arena(device, limitBytes, 0x5eedL);
    }

    /** As {@link #on(Device, long)} with the seed of {@link #randn} and {@link #uniform}. */
    public static Arena on(Device device, long limitBytes, long seed) {
        return new Arena(device, limitBytes, seed);
    }

    public Device device() {
        return device;
    }

    public long limit() {
        return limit;
    }

    public synchronized long allocatedBytes() {
        return state.allocated;
    }

    public synchronized long peakBytes() {
        return state.peak;
    }

    public synchronized int liveTensors() {
        return state.liveCount;
    }

    /**
     * The one instance of {@code type} attached to this arena, made by {@code make} on first use
     * (how {@code Ops.on(arena)} keeps one set of kernels, and their BLAS handle, per arena without
     * this package knowing the ops).
     */
    public synchronized <T> T extension(Class<T> type, java.util.function.Function<Arena, ? extends T> make) {
        checkOpen();
        Object e = extensions.get(type);
        if (e == null) {
            e = make.apply(this);
            extensions.put(type, e);
        }
        return type.cast(e);
    }

    // ---- allocation

    /** An uninitialized tensor. */
    public Tensor empty(DType dtype, long... shape) {
        return allocate(dtype, shape.clone(), null);
    }

    /**
     * An uninitialized tensor of {@code like}'s shape and the given dtype (the output of an
     * elementwise op or a norm): shares the shape array, which tensors never change.
     */
    public Tensor emptyLike(DType dtype, Tensor like) {
        return allocate(dtype, like.shapeArray(), null);
    }

    /** An uninitialized tensor with a name used in messages and leak reports. */
    public Tensor empty(String name, DType dtype, long... shape) {
        return allocate(dtype, shape.clone(), name);
    }

    public Tensor zeros(DType dtype, long... shape) {
        return empty(dtype, shape).zero();
    }

    /** A tensor holding {@code data} (rounded to dtype when F16/BF16). */
    public Tensor fromFloats(float[] data, DType dtype, long... shape) {
        Tensor t = empty(dtype, shape);
        try {
            return t.copyFrom(data);
        } catch (RuntimeException e) {
            t.close();
            throw e;
        }
    }

    public Tensor fromInts(int[] data, long... shape) {
        Tensor t = empty(DType.I32, shape);
        try {
            return t.copyFrom(data);
        } catch (RuntimeException e) {
            t.close();
            throw e;
        }
    }

    public Tensor fromLongs(long[] data, long... shape) {
        Tensor t = empty(DType.I64, shape);
        try {
            return t.copyFrom(data);
        } catch (RuntimeException e) {
            t.close();
            throw e;
        }
    }

    /** Standard normal values from this arena's seeded generator. */
    public Tensor randn(DType dtype, long... shape) {
        float[] v = new float[checkedCount(shape)];
        synchronized (this) {
            for (int i = 0; i < v.length; i += 2) {
                double u1 = 1.0 - random.nextDouble(), u2 = random.nextDouble();
                double r = Math.sqrt(-2 * Math.log(u1));
                v[i] = (float) (r * Math.cos(2 * Math.PI * u2));
                if (i + 1 < v.length) v[i + 1] = (float) (r * Math.sin(2 * Math.PI * u2));
            }
        }
        return fromFloats(v, dtype, shape);
    }

    /** Uniform values in [lo, hi) from this arena's seeded generator. */
    public Tensor uniform(DType dtype, float lo, float hi, long... shape) {
        float[] v = new float[checkedCount(shape)];
        synchronized (this) {
            for (int i = 0; i < v.length; i++) v[i] = (float) (lo + (hi - lo) * random.nextDouble());
        }
        return fromFloats(v, dtype, shape);
    }

    private static int checkedCount(long[] shape) {
        long n = Tensor.numel(shape);
        if (n > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("too many elements for a host buffer: " + n);
        return (int) n;
    }

    /** {@code shape} is owned by the new tensor (callers pass a copy or an immutable tensor shape). */
    private Tensor allocate(DType dtype, long[] shape, String name) {
        long bytes = Math.multiplyExact(Tensor.numel(shape), (long) dtype.bytes());
        synchronized (this) {
            checkOpen();
            if (state.allocated + bytes > limit) {
                throw new DeviceOutOfMemoryException("arena on " + device + ": allocating " + bytes + " bytes would exceed its limit ("
                        + state.allocated + " of " + limit + " bytes in use)");
            }
            long size = blockSize(bytes);
            long address = state.take(size);
            if (address == 0) {
                try {
                    address = DeviceMemory.allocate(device, size);
                } catch (DeviceOutOfMemoryException e) {
                    state.trim(); // give cached blocks back and try once more
                    address = DeviceMemory.allocate(device, size);
                }
            }
            Tensor t = new Tensor(this, dtype, shape, bytes, address, name);
            state.link(t);
            state.allocated += bytes;
            if (state.allocated > state.peak) state.peak = state.allocated;
            return t;
        }
    }

    /** Called by Tensor.close(): the block goes back to the pool (sizes rounded so blocks get reused). */
    synchronized void release(Tensor t) {
        if (!t.live) return;
        state.unlink(t);
        state.allocated -= t.bytes();
        state.give(blockSize(t.bytes()), t.rawAddress());
    }

    /** Allocation granule: 256 B up to 1 MiB, then 1/8 of the next power of two (at most 12.5% slack). */
    static long blockSize(long bytes) {
        if (bytes <= 256) return 256;
        if (bytes <= (1L << 20)) return (bytes + 255) & ~255L;
        long step = Long.highestOneBit(bytes - 1) >>> 3;
        return (bytes + step - 1) / step * step;
    }

    /** Bytes held in the reuse pool (not counted against the limit). */
    public synchronized long pooledBytes() {
        return state.pooled;
    }

    /** Returns pooled blocks to the device. */
    public synchronized void trim() {
        state.trim();
    }

    /**
     * Frees every tensor still alive, without a leak report: for scopes that own all the tensors
     * they make (a command-line run, a benchmark). Returns how many were freed.
     */
    public synchronized int releaseAll() {
        List<Tensor> all = state.liveList();
        for (Tensor t : all) t.close();
        return all.size();
    }

    private void checkOpen() {
        if (state.closed) throw new IllegalStateException("use of a closed arena on " + device);
    }

    /**
     * Frees everything; throws IllegalStateException naming the tensors that were still alive
     * (their memory is freed all the same).
     */
    @Override
    public void close() {
        List<String> leaked = new ArrayList<>();
        synchronized (this) {
            if (state.closed) return;
            List<Tensor> live = state.liveList();
            for (Tensor t : live) leaked.add(t.describe());
            for (Tensor t : live) t.close();
        }
        cleanable.clean();
        if (!leaked.isEmpty()) {
            throw new IllegalStateException("arena on " + device + " closed with " + leaked.size()
                    + " tensor(s) still alive: " + String.join(", ", leaked.subList(0, Math.min(20, leaked.size())))
                    + (leaked.size() > 20 ? ", ..." : ""));
        }
    }
}
