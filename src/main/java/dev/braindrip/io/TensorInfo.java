package dev.braindrip.io;

import java.util.Arrays;
import java.util.Objects;

/**
 * Where one tensor lives in a safetensors file.
 *
 * @param name the tensor's name in the header
 * @param dtype its element type
 * @param shape its dimensions, row-major (a copy is kept and a copy is returned)
 * @param begin byte offset of its first byte, relative to the start of the data region
 * @param end byte offset one past its last byte, relative to the start of the data region
 */
public record TensorInfo(String name, SafeTensorsDType dtype, long[] shape, long begin, long end) {

    public TensorInfo {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(dtype, "dtype");
        shape = shape.clone();
    }

    /** A copy of the dimensions. */
    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** Number of dimensions (0 for a scalar). */
    public int rank() {
        return shape.length;
    }

    /** Number of elements: the product of the dimensions (1 for a scalar). */
    public long numel() {
        return numelOf(shape);
    }

    /** Number of bytes: {@code end - begin}. */
    public long byteSize() {
        return end - begin;
    }

    /**
     * The product of {@code shape}, 0 if any dimension is 0.
     *
     * @throws ArithmeticException if the product overflows a long
     * @throws IllegalArgumentException if a dimension is negative
     */
    public static long numelOf(long[] shape) {
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension " + d + " in shape " + Arrays.toString(shape));
            }
        }
        if (Arrays.stream(shape).anyMatch(d -> d == 0)) {
            return 0;
        }
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorInfo t && name.equals(t.name) && dtype == t.dtype
                && Arrays.equals(shape, t.shape) && begin == t.begin && end == t.end;
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, dtype, Arrays.hashCode(shape), begin, end);
    }

    @Override
    public String toString() {
        return "TensorInfo[" + name + ", " + dtype + ", " + Arrays.toString(shape) + ", [" + begin + ", " + end + ")]";
    }
}
