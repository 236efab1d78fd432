package dev.braindrip.io;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;

/**
 * Named tensors read from safetensors storage: one file ({@link SafeTensors}) or a sharded
 * checkpoint ({@link ShardedSafeTensors}). Every method throws {@link IllegalStateException} once
 * the source is closed, and {@link IllegalArgumentException} for a name it does not hold.
 */
public interface TensorSource extends AutoCloseable {

    /** The tensor names, in the order the header (or the index's weight_map) lists them. */
    List<String> names();

    /** Whether a tensor of this name exists. */
    boolean contains(String name);

    /** Dtype, shape and byte range of a tensor. */
    TensorInfo info(String name);

    /** The string-to-string metadata (empty when there is none). */
    Map<String, String> metadata();

    /**
     * A read-only, little-endian buffer of exactly the tensor's bytes (position 0, limit = size).
     * It stays readable after {@link #close()} until it is garbage collected.
     *
     * @throws UnsupportedOperationException if the tensor is larger than {@link Integer#MAX_VALUE} bytes
     * @throws java.io.UncheckedIOException if the file cannot be mapped
     */
    ByteBuffer buffer(String name);

    /**
     * The tensor's elements as floats. Converts F32, F64, F16, BF16 and the F8 types (F16, BF16 and
     * F8 exactly), and BOOL and the integer types (rounding integers beyond 2^24 to nearest).
     *
     * @throws IllegalArgumentException for the packed types (F4, F6_*)
     */
    default float[] toFloatArray(String name) {
        return TensorArrays.toFloats(info(name), buffer(name));
    }

    /**
     * The elements of an integer (or BOOL, as 0/1) tensor as ints.
     *
     * @throws IllegalArgumentException if the tensor is not of an integer type
     * @throws ArithmeticException if an element does not fit in an int
     */
    default int[] toIntArray(String name) {
        return TensorArrays.toInts(info(name), buffer(name));
    }

    /**
     * The elements of an integer (or BOOL, as 0/1) tensor as longs.
     *
     * @throws IllegalArgumentException if the tensor is not of an integer type
     * @throws ArithmeticException if a U64 element is above {@link Long#MAX_VALUE}
     */
    default long[] toLongArray(String name) {
        return TensorArrays.toLongs(info(name), buffer(name));
    }

    /** Releases the files; idempotent. Buffers already handed out remain readable. */
    @Override
    void close();
}
