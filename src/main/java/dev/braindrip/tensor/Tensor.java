package dev.braindrip.tensor;

import dev.braindrip.jni.NativeCpu;
import dev.braindrip.jni.NativeCuda;
import java.util.Arrays;

/**
 * A dense, row-major block of native memory with a shape and a storage type, on one device,
 * owned by an {@link Arena}. Closing a tensor frees its memory at once; any later use throws
 * IllegalStateException. A {@link #reshape view} shares its parent's memory, owns nothing, and
 * becomes unusable when the parent is closed.
 */
public final class Tensor implements AutoCloseable {
    private final Arena arena;
    private final Tensor parent; // non-null for views
    private final DType dtype;
    private final long[] shape; // never changed after construction, so tensors of one shape may share it
    private final long address;
    private final long bytes;
    private final String name;
    private boolean closed;
    // the arena's list of live tensors (guarded by the arena's monitor; roots only)
    Tensor prevLive, nextLive;
    boolean live;

    /** A tensor that owns its memory; {@code shape} becomes the tensor's (not copied). */
    Tensor(Arena arena, DType dtype, long[] shape, long bytes, long address, String name) {
        this(arena, null, dtype, shape, bytes, address, name);
    }

    /** A view of {@code parent}'s memory; {@code shape} is a fresh array that becomes the view's. */
    private Tensor(Arena arena, Tensor parent, DType dtype, long[] shape, long bytes, long address, String name) {
        this.arena = arena;
        this.parent = parent;
        this.dtype = dtype;
        this.shape = shape;
        this.address = address;
        this.bytes = bytes;
        this.name = name;
    }

    static long numel(long[] shape) {
        long n = 1;
        for (long d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    // ---- metadata

    public DType dtype() {
        return dtype;
    }

    public Device device() {
        return arena.device();
    }

    public Arena arena() {
        return arena;
    }

    public long[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    /** True when {@code other} has the same shape (without copying either shape). */
    public boolean sameShape(Tensor other) {
        return Arrays.equals(shape, other.shape);
    }

    /** The shape array itself, for the arena to share with a tensor of the same shape; never to be changed. */
    long[] shapeArray() {
        return shape;
    }

    /** The address without the open check: the arena's bookkeeping of blocks it owns. */
    long rawAddress() {
        return address;
    }

    /** Size of dimension i; negative i counts from the end. */
    public long dim(int i) {
        int k = i < 0 ? shape.length + i : i;
        if (k < 0 || k >= shape.length) {
            throw new IllegalArgumentException("dimension " + i + " out of range for shape " + Arrays.toString(shape));
        }
        return shape[k];
    }

    public long numel() {
        return bytes / dtype.bytes();
    }

    public long bytes() {
        return bytes;
    }

    /** Product of all dimensions but the last (1 for a scalar or vector). */
    public long rows() {
        return shape.length == 0 ? 1 : numel() / Math.max(1, shape[shape.length - 1]) ;
    }

    /** Last dimension (1 for a scalar). */
    public long cols() {
        return shape.length == 0 ? 1 : shape[shape.length - 1];
    }

    public String name() {
        return name;
    }

    /**
     * Native address of the first element, for ops implementations and bindings only.
     * Throws IllegalStateException if the tensor (or the tensor it views) is closed.
     */
    public long address() {
        checkOpen();
        return address;
    }

    public boolean isClosed() {
        return closed || (parent != null && parent.isClosed());
    }

    public void checkOpen() {
        if (isClosed()) throw new IllegalStateException("use of a closed tensor: " + this);
    }

    // ---- views

    /** A view with another shape of the same element count, sharing memory (one dim may be -1). */
    public Tensor reshape(long... newShape) {
        checkOpen();
        long[] s = newShape.clone();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < s.length; i++) {
            if (s[i] == -1) {
                if (infer >= 0) throw new IllegalArgumentException("reshape: more than one -1 in " + Arrays.toString(newShape));
                infer = i;
            } else {
                if (s[i] < 0) throw new IllegalArgumentException("reshape: negative dimension in " + Arrays.toString(newShape));
                known = Math.multiplyExact(known, s[i]);
            }
        }
        if (infer >= 0) {
            if (known == 0 || numel() % known != 0) {
                throw new IllegalArgumentException("reshape: cannot infer -1 in " + Arrays.toString(newShape)
                        + " for " + numel() + " elements");
            }
            s[infer] = numel() / known;
        }
        if (numel(s) != numel()) {
            throw new IllegalArgumentException("reshape: " + Arrays.toString(shape) + " (" + numel()
                    + " elements) cannot become " + Arrays.toString(newShape));
        }
        return new Tensor(arena, root(), dtype, s, bytes, address, name);
    }

    /**
     * A view of rows [start, start + length) of dimension 0, sharing memory (the other dimensions
     * are kept): for taking one sequence out of a packed batch.
     */
    public Tensor narrow(long start, long length) {
        checkOpen();
        if (shape.length == 0) throw new IllegalArgumentException("narrow: a scalar has no rows");
        if (start < 0 || length < 0 || start > shape[0] - length) {
            throw new IllegalArgumentException("narrow: rows [" + start + ", " + (start + length) + ") outside " + Arrays.toString(shape));
        }
        long[] s = shape.clone();
        s[0] = length;
        long rowBytes = shape[0] == 0 ? 0 : bytes / shape[0];
        return new Tensor(arena, root(), dtype, s, length * rowBytes, address + start * rowBytes, name);
    }

    private Tensor root() {
        return parent == null ? this : parent;
    }

    // ---- copies to and from Java arrays

    /** All elements as floats (F16/BF16 converted exactly, integer types converted). */
    public float[] toFloatArray() {
        checkOpen();
        int n = checkedLength();
        float[] out = new float[n];
        switch (dtype) {
            case F32 -> copyOut(out, bytes);
            case F16, BF16 -> {
                short[] raw = new short[n];
                copyOut(raw, bytes);
                for (int i = 0; i < n; i++) out[i] = dtype == DType.F16 ? Half.f16ToF32(raw[i]) : Half.bf16ToF32(raw[i]);
            }
            case I32 -> {
                int[] raw = toIntArray();
                for (int i = 0; i < n; i++) out[i] = raw[i];
            }
            case I64 -> {
                long[] raw = toLongArray();
                for (int i = 0; i < n; i++) out[i] = raw[i];
            }
            case U8 -> {
                byte[] raw = toByteArray();
                for (int i = 0; i < n; i++) out[i] = raw[i] & 0xff;
            }
        }
        return out;
    }

    public int[] toIntArray() {
        requireDType(DType.I32, "toIntArray");
        int[] out = new int[checkedLength()];
        copyOut(out, bytes);
        return out;
    }

    public long[] toLongArray() {
        requireDType(DType.I64, "toLongArray");
        long[] out = new long[checkedLength()];
        copyOut(out, bytes);
        return out;
    }

    public byte[] toByteArray() {
        requireDType(DType.U8, "toByteArray");
        byte[] out = new byte[checkedLength()];
        copyOut(out, bytes);
        return out;
    }

    /** Raw 16-bit patterns of an F16 or BF16 tensor. */
    public short[] toShortArray() {
        if (dtype != DType.F16 && dtype != DType.BF16) {
            throw new IllegalArgumentException("toShortArray: tensor is " + dtype + ", expected F16 or BF16");
        }
        short[] out = new short[checkedLength()];
        copyOut(out, bytes);
        return out;
    }

    /** Overwrites the tensor from floats, rounding to nearest even for F16/BF16. */
    public Tensor copyFrom(float[] data) {
        checkOpen();
        checkLength(data.length);
        switch (dtype) {
            case F32 -> copyIn(data, bytes);
            case F16, BF16 -> {
                short[] raw = new short[data.length];
                for (int i = 0; i < data.length; i++) raw[i] = dtype == DType.F16 ? Half.f32ToF16(data[i]) : Half.f32ToBf16(data[i]);
                copyIn(raw, bytes);
            }
            default -> throw new IllegalArgumentException("copyFrom(float[]): tensor is " + dtype + ", expected a float type");
        }
        return this;
    }

    public Tensor copyFrom(int[] data) {
        requireDType(DType.I32, "copyFrom(int[])");
        checkLength(data.length);
        copyIn(data, bytes);
        return this;
    }

    public Tensor copyFrom(long[] data) {
        requireDType(DType.I64, "copyFrom(long[])");
        checkLength(data.length);
        copyIn(data, bytes);
        return this;
    }

    public Tensor copyFrom(byte[] data) {
        requireDType(DType.U8, "copyFrom(byte[])");
        checkLength(data.length);
        copyIn(data, bytes);
        return this;
    }

    /** Copies raw 16-bit patterns into an F16 or BF16 tensor. */
    public Tensor copyFrom(short[] data) {
        if (dtype != DType.F16 && dtype != DType.BF16) {
            throw new IllegalArgumentException("copyFrom(short[]): tensor is " + dtype + ", expected F16 or BF16");
        }
        checkOpen();
        checkLength(data.length);
        copyIn(data, bytes);
        return this;
    }

    /**
     * Copies {@code src.remaining()} raw bytes (this tensor's storage format, little-endian), e.g.
     * a memory-mapped safetensors entry, without a Java array in between when src is direct.
     */
    public Tensor copyFrom(java.nio.ByteBuffer src) {
        checkOpen();
        if (src.remaining() != bytes) {
            throw new IllegalArgumentException("copyFrom: " + src.remaining() + " bytes for " + describe() + " (" + bytes + " bytes)");
        }
        if (src.isDirect()) {
            org.bytedeco.javacpp.BytePointer p = new org.bytedeco.javacpp.BytePointer(src);
            DeviceMemory.copy(device(), address, Device.cpu(), p.address() + p.position(), bytes);
            return this;
        }
        byte[] raw = new byte[(int) bytes];
        src.duplicate().get(raw);
        copyIn(raw, bytes);
        return this;
    }

    /** Copies the bytes of another tensor of the same dtype and element count (any devices). */
    public Tensor copyFrom(Tensor src) {
        checkOpen();
        src.checkOpen();
        if (src.dtype != dtype || src.numel() != numel()) {
            throw new IllegalArgumentException("copyFrom: source " + src.describe() + " does not match " + describe());
        }
        DeviceMemory.copy(device(), address, src.device(), src.address, bytes);
        return this;
    }

    /**
     * Copies {@code byteCount} bytes of {@code src}, starting {@code srcOffsetBytes} into it, to
     * this tensor at {@code dstOffsetBytes} (any devices; dtypes may differ, bytes are bytes).
     * For writing rows into a KV cache: offsets are in bytes so callers compute row positions.
     * Both ranges must lie inside their tensors; overlapping ranges of one tensor are not allowed.
     */
    public Tensor copyRange(Tensor src, long srcOffsetBytes, long dstOffsetBytes, long byteCount) {
        checkOpen();
        src.checkOpen();
        if (byteCount < 0 || srcOffsetBytes < 0 || dstOffsetBytes < 0) {
            throw new IllegalArgumentException("copyRange: negative offset or count (src " + srcOffsetBytes + ", dst "
                    + dstOffsetBytes + ", " + byteCount + " bytes)");
        }
        if (srcOffsetBytes > src.bytes - byteCount) {
            throw new IllegalArgumentException("copyRange: source range [" + srcOffsetBytes + ", " + (srcOffsetBytes + byteCount)
                    + ") exceeds " + src.describe() + " (" + src.bytes + " bytes)");
        }
        if (dstOffsetBytes > bytes - byteCount) {
            throw new IllegalArgumentException("copyRange: destination range [" + dstOffsetBytes + ", " + (dstOffsetBytes + byteCount)
                    + ") exceeds " + describe() + " (" + bytes + " bytes)");
        }
        long s = src.address + srcOffsetBytes, d = address + dstOffsetBytes;
        boolean sameDevice = src.device().equals(device());
        if (sameDevice && s == d) return this; // copying a range onto itself
        if (sameDevice && byteCount > 0 && s < d + byteCount && d < s + byteCount) {
            throw new IllegalArgumentException("copyRange: overlapping source and destination ranges");
        }
        DeviceMemory.copy(device(), d, src.device(), s, byteCount);
        return this;
    }

    /** Copies raw bytes from native memory at {@code srcAddress} on {@code srcDevice}. */
    public Tensor copyFromAddress(Device srcDevice, long srcAddress, long byteCount) {
        checkOpen();
        if (byteCount != bytes) throw new IllegalArgumentException("copyFromAddress: " + byteCount + " bytes for " + describe());
        DeviceMemory.copy(device(), address, srcDevice, srcAddress, bytes);
        return this;
    }

    /** A copy of this tensor in another arena (on that arena's device). */
    public Tensor copyTo(Arena target) {
        checkOpen();
        Tensor t = target.empty(dtype, shape);
        return t.copyFrom(this);
    }

    /** Fills with zero bytes. */
    public Tensor zero() {
        checkOpen();
        DeviceMemory.zero(device(), address, bytes);
        return this;
    }

    // ---- lifecycle

    /** Frees the memory now (views: marks only the view closed). Idempotent. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        if (parent == null) arena.release(this);
    }

    String describe() {
        return (name == null ? "tensor" : "'" + name + "'") + " " + dtype + Arrays.toString(shape) + " on " + device();
    }

    @Override
    public String toString() {
        return describe() + (isClosed() ? " (closed)" : "");
    }

    // ---- internals

    private void requireDType(DType want, String op) {
        checkOpen();
        if (dtype != want) throw new IllegalArgumentException(op + ": tensor is " + dtype + ", expected " + want);
    }

    private int checkedLength() {
        long n = numel();
        if (n > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("tensor too large for a Java array: " + describe());
        return (int) n;
    }

    private void checkLength(int length) {
        if (length != numel()) {
            throw new IllegalArgumentException("array of " + length + " elements for " + describe() + " (" + numel() + " elements)");
        }
    }

    private void copyIn(Object array, long n) {
        if (n == 0) return;
        boolean cpu = device().isCpu();
        int st;
        if (array instanceof float[] a) st = cpu ? NativeCpu.copyIn(address, a, n) : NativeCuda.copyIn(address, a, n);
        else if (array instanceof short[] a) st = cpu ? NativeCpu.copyIn(address, a, n) : NativeCuda.copyIn(address, a, n);
        else if (array instanceof int[] a) st = cpu ? NativeCpu.copyIn(address, a, n) : NativeCuda.copyIn(address, a, n);
        else if (array instanceof long[] a) st = cpu ? NativeCpu.copyIn(address, a, n) : NativeCuda.copyIn(address, a, n);
        else if (array instanceof byte[] a) st = cpu ? NativeCpu.copyIn(address, a, n) : NativeCuda.copyIn(address, a, n);
        else throw new AssertionError(array);
        checkCopy(st, cpu);
    }

    private void copyOut(Object array, long n) {
        if (n == 0) return;
        boolean cpu = device().isCpu();
        int st;
        if (array instanceof float[] a) st = cpu ? NativeCpu.copyOut(a, address, n) : NativeCuda.copyOut(a, address, n);
        else if (array instanceof short[] a) st = cpu ? NativeCpu.copyOut(a, address, n) : NativeCuda.copyOut(a, address, n);
        else if (array instanceof int[] a) st = cpu ? NativeCpu.copyOut(a, address, n) : NativeCuda.copyOut(a, address, n);
        else if (array instanceof long[] a) st = cpu ? NativeCpu.copyOut(a, address, n) : NativeCuda.copyOut(a, address, n);
        else if (array instanceof byte[] a) st = cpu ? NativeCpu.copyOut(a, address, n) : NativeCuda.copyOut(a, address, n);
        else throw new AssertionError(array);
        checkCopy(st, cpu);
    }

    private static void checkCopy(int status, boolean cpu) {
        if (cpu) NativeStatus.checkCpu(status, "memcpy");
        else NativeStatus.checkCuda(status, "cudaMemcpy");
    }
}
