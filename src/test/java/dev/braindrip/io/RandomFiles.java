package dev.braindrip.io;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Random;

/** Random valid safetensors files, written by {@link SafeTensorsWriter}. */
final class RandomFiles {
    private static final String[] NAMES = {"w", "model.layers.0.mlp.up_proj.weight", "größe", "a\"b\\c", "tab\tname",
        "__meta", "0", "💡", "x y"};

    private RandomFiles() {}

    /** One to five tensors of random dtypes and small shapes, sometimes with metadata. */
    static byte[] valid(Random r) {
        SafeTensorsWriter w = new SafeTensorsWriter();
        int count = 1 + r.nextInt(5);
        for (int i = 0; i < count; i++) {
            SafeTensorsDType dtype = SafeTensorsDType.values()[r.nextInt(SafeTensorsDType.values().length)];
            long[] shape = shape(r, dtype);
            int bytes = (int) dtype.byteSizeOf(TensorInfo.numelOf(shape));
            w.add(NAMES[r.nextInt(NAMES.length)] + i, dtype, shape, ByteBuffer.wrap(RawFiles.bytes(bytes, r.nextInt())));
        }
        if (r.nextBoolean()) {
            w.metadata("format", "pt").metadata("ключ", "значение");
        }
        return RawFiles.bytesOf(w);
    }

    private static long[] shape(Random r, SafeTensorsDType dtype) {
        long[] shape = new long[r.nextInt(4)];
        for (int d = 0; d < shape.length; d++) {
            shape[d] = r.nextInt(8) == 0 ? 0 : 1 + r.nextInt(5);
        }
        if (dtype.isPacked()) { // packed types need a whole number of bytes: a multiple of 4 elements
            long[] packed = Arrays.copyOf(shape, shape.length + 1);
            packed[shape.length] = 4L * (1 + r.nextInt(3));
            return packed;
        }
        return shape;
    }
}
