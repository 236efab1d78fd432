package dev.braindrip.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Files written by {@link SafeTensorsWriter} read back by {@link SafeTensors}. */
class SafeTensorsRoundTripTest {
    @TempDir
    Path dir;

    private SafeTensors writeAndOpen(SafeTensorsWriter writer) throws IOException {
        Path file = dir.resolve("model.safetensors");
        writer.write(file);
        return SafeTensors.open(file);
    }

    private static byte[] contents(ByteBuffer b) {
        byte[] out = new byte[b.remaining()];
        b.duplicate().get(out);
        return out;
    }

    @ParameterizedTest
    @EnumSource(SafeTensorsDType.class)
    void everyDtypeRoundTrips(SafeTensorsDType dtype) throws IOException {
        long[] shape = {3, 4};
        byte[] data = RawFiles.bytes((int) dtype.byteSizeOf(12), dtype.ordinal());
        long[] scalarShape = dtype.isPacked() ? new long[] {8} : new long[] {}; // packed: whole bytes only
        long scalarNumel = TensorInfo.numelOf(scalarShape);
        SafeTensorsWriter writer = new SafeTensorsWriter()
                .add("pre", SafeTensorsDType.U8, new long[] {3}, ByteBuffer.wrap(new byte[] {1, 2, 3}))
                .add("t", dtype, shape, ByteBuffer.wrap(data))
                .add("scalar", dtype, scalarShape, ByteBuffer.wrap(RawFiles.bytes((int) dtype.byteSizeOf(scalarNumel), 9)))
                .add("empty", dtype, new long[] {0, 7}, ByteBuffer.allocate(0));
        try (SafeTensors st = writeAndOpen(writer)) {
            assertEquals(List.of("pre", "t", "scalar", "empty"), st.names());
            TensorInfo info = st.info("t");
            assertEquals(dtype, info.dtype());
            assertArrayEquals(shape, info.shape());
            assertEquals(3, info.begin());
            assertEquals(3 + data.length, info.end());
            ByteBuffer b = st.buffer("t");
            assertTrue(b.isReadOnly());
            assertEquals(ByteOrder.LITTLE_ENDIAN, b.order());
            assertEquals(0, b.position());
            assertArrayEquals(data, contents(b));
            assertEquals(scalarShape.length, st.info("scalar").rank());
            assertEquals(scalarNumel, st.info("scalar").numel());
            assertEquals(0, st.buffer("empty").remaining());
        }
    }

    @Test
    void headerIsPaddedWithSpacesToEightByteAlignment() throws IOException {
        for (int len = 1; len <= 16; len++) {
            String name = "x".repeat(len);
            byte[] bytes = RawFiles.bytesOf(new SafeTensorsWriter().addF32(name, new long[] {1}, new float[] {1f}));
            long n = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
            assertEquals(0, (8 + n) % 8, name);
            String header = new String(bytes, 8, (int) n, StandardCharsets.UTF_8);
            assertTrue(header.startsWith("{") && header.stripTrailing().endsWith("}"), header);
            assertTrue(header.substring(header.lastIndexOf('}') + 1).chars().allMatch(c -> c == ' '), header);
            assertEquals(8 + n + 4, bytes.length);
        }
    }

    @Test
    void dataStartIsAligned() throws IOException {
        try (SafeTensors st = writeAndOpen(new SafeTensorsWriter().addI32("abc", new long[] {2}, new int[] {7, 8}))) {
            assertEquals(0, st.dataStart() % 8);
        }
    }

    @Test
    void metadataRoundTrips() throws IOException {
        SafeTensorsWriter writer = new SafeTensorsWriter().metadata("format", "pt").metadata("note", "ünïcode \"q\"")
                .metadata("format", "np").addF32("w", new long[] {1}, new float[] {2f});
        try (SafeTensors st = writeAndOpen(writer)) {
            assertEquals(Map.of("format", "np", "note", "ünïcode \"q\""), st.metadata());
            assertEquals(List.of("w"), st.names());
        }
    }

    @Test
    void typedAddersConvert() throws IOException {
        float[] values = {0f, -0f, 1f, -2.5f, 65504f, 1e-7f, 3.14159f, Float.POSITIVE_INFINITY, Float.NaN, 1e6f};
        long[] longs = {Long.MIN_VALUE, -1, 0, Long.MAX_VALUE};
        int[] ints = {Integer.MIN_VALUE, -1, 0, 42, Integer.MAX_VALUE};
        SafeTensorsWriter writer = new SafeTensorsWriter()
                .addF32("f32", new long[] {2, 5}, values).addF16("f16", new long[] {10}, values)
                .addBF16("bf16", new long[] {10}, values).addI32("i32", new long[] {5}, ints)
                .addI64("i64", new long[] {4}, longs);
        try (SafeTensors st = writeAndOpen(writer)) {
            assertArrayEquals(values, st.toFloatArray("f32"));
            float[] f16 = st.toFloatArray("f16");
            float[] bf16 = st.toFloatArray("bf16");
            for (int i = 0; i < values.length; i++) {
                assertEquals(HalfFloats.f16ToFloat(HalfFloats.floatToF16(values[i])), f16[i]);
                assertEquals(HalfFloats.bf16ToFloat(HalfFloats.floatToBf16(values[i])), bf16[i]);
            }
            assertEquals(Float.POSITIVE_INFINITY, f16[9]); // 1e6 overflows F16
            assertEquals(0x1.ab8p-24f, HalfFloats.f16ToFloat(HalfFloats.floatToF16(1e-7f)), 0x1p-24f); // subnormal
            assertTrue(Float.isNaN(f16[8]) && Float.isNaN(bf16[8]));
            assertArrayEquals(ints, st.toIntArray("i32"));
            assertArrayEquals(longs, st.toLongArray("i64"));
            assertArrayEquals(new long[] {Integer.MIN_VALUE, -1, 0, 42, Integer.MAX_VALUE}, st.toLongArray("i32"));
        }
    }

    private static ByteBuffer le(int bytes) {
        return ByteBuffer.allocate(bytes).order(ByteOrder.LITTLE_ENDIAN);
    }

    @Test
    void integerTypesConvertWithRangeChecks() throws IOException {
        SafeTensorsWriter writer = new SafeTensorsWriter()
                .add("bool", SafeTensorsDType.BOOL, new long[] {3}, ByteBuffer.wrap(new byte[] {0, 1, 0}))
                .add("u8", SafeTensorsDType.U8, new long[] {2}, ByteBuffer.wrap(new byte[] {(byte) 255, 7}))
                .add("i8", SafeTensorsDType.I8, new long[] {2}, ByteBuffer.wrap(new byte[] {(byte) -128, 7}))
                .add("u16", SafeTensorsDType.U16, new long[] {1}, le(2).putShort(0, (short) 0xffff))
                .add("i16", SafeTensorsDType.I16, new long[] {1}, le(2).putShort(0, (short) -300))
                .add("u32", SafeTensorsDType.U32, new long[] {2}, le(8).putInt(0, 5).putInt(4, 0xffffffff))
                .add("u64", SafeTensorsDType.U64, new long[] {2}, le(16).putLong(0, 9).putLong(8, -1L))
                .add("i64", SafeTensorsDType.I64, new long[] {1}, le(8).putLong(0, 1L << 40));
        try (SafeTensors st = writeAndOpen(writer)) {
            assertArrayEquals(new int[] {0, 1, 0}, st.toIntArray("bool"));
            assertArrayEquals(new int[] {255, 7}, st.toIntArray("u8"));
            assertArrayEquals(new int[] {-128, 7}, st.toIntArray("i8"));
            assertArrayEquals(new int[] {65535}, st.toIntArray("u16"));
            assertArrayEquals(new float[] {-300f}, st.toFloatArray("i16"));
            assertArrayEquals(new long[] {5, 4294967295L}, st.toLongArray("u32"));
            assertArrayEquals(new float[] {5f, 4294967295f}, st.toFloatArray("u32"));
            assertArrayEquals(new float[] {9f, 0x1p64f}, st.toFloatArray("u64"));
            ArithmeticException e = assertThrows(ArithmeticException.class, () -> st.toIntArray("u32"));
            assertEquals("tensor 'u32' element 1 (4294967295) does not fit in an int", e.getMessage());
            assertThrows(ArithmeticException.class, () -> st.toIntArray("i64"));
            e = assertThrows(ArithmeticException.class, () -> st.toLongArray("u64"));
            assertTrue(e.getMessage().contains("(18446744073709551615) does not fit in a long"), e.getMessage());
            assertArrayEquals(new long[] {1L << 40}, st.toLongArray("i64"));
        }
    }

    @Test
    void floatTypesConvertExactly() throws IOException {
        SafeTensorsWriter writer = new SafeTensorsWriter()
                .add("f64", SafeTensorsDType.F64, new long[] {2}, le(16).putDouble(0, 0.1).putDouble(8, -1e300))
                .add("f16", SafeTensorsDType.F16, new long[] {4}, le(8).putShort(0, (short) 0x0001)
                        .putShort(2, (short) 0x7c00).putShort(4, (short) 0xfc00).putShort(6, (short) 0x7e01))
                .add("bf16", SafeTensorsDType.BF16, new long[] {2}, le(4).putShort(0, (short) 0x0001)
                        .putShort(2, (short) 0x3f81))
                .add("e4m3", SafeTensorsDType.F8_E4M3, new long[] {2}, ByteBuffer.wrap(new byte[] {0x7e, (byte) 0xb8}))
                .add("e5m2", SafeTensorsDType.F8_E5M2, new long[] {1}, ByteBuffer.wrap(new byte[] {0x3c}));
        try (SafeTensors st = writeAndOpen(writer)) {
            assertArrayEquals(new float[] {0.1f, Float.NEGATIVE_INFINITY}, st.toFloatArray("f64"));
            float[] f16 = st.toFloatArray("f16");
            assertEquals(0x1p-24f, f16[0]);
            assertEquals(Float.POSITIVE_INFINITY, f16[1]);
            assertEquals(Float.NEGATIVE_INFINITY, f16[2]);
            assertTrue(Float.isNaN(f16[3]));
            assertArrayEquals(new float[] {Float.intBitsToFloat(0x10000), 1.0078125f}, st.toFloatArray("bf16"));
            assertArrayEquals(new float[] {448f, -1f}, st.toFloatArray("e4m3"));
            assertArrayEquals(new float[] {1f}, st.toFloatArray("e5m2"));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> st.toIntArray("f16"));
            assertEquals("toIntArray: tensor 'f16' has dtype F16, which it cannot convert", e.getMessage());
        }
    }

    @Test
    void packedTypesGiveBytesButNoFloats() throws IOException {
        SafeTensorsWriter writer = new SafeTensorsWriter()
                .add("f4", SafeTensorsDType.F4, new long[] {2, 3}, ByteBuffer.wrap(new byte[] {1, 2, 3}));
        try (SafeTensors st = writeAndOpen(writer)) {
            assertEquals(3, st.buffer("f4").remaining());
            assertThrows(IllegalArgumentException.class, () -> st.toFloatArray("f4"));
        }
    }

    @Test
    void filesOfSeveralMegabytes() throws IOException {
        Random random = new Random(3);
        float[] big = new float[3 * 1024 * 1024]; // 12 MB of F32
        for (int i = 0; i < big.length; i++) {
            big[i] = (float) random.nextGaussian();
        }
        SafeTensorsWriter writer = new SafeTensorsWriter();
        for (int i = 0; i < 50; i++) {
            writer.addBF16("layer." + i + ".w", new long[] {64, 64}, java.util.Arrays.copyOfRange(big, i * 4096, (i + 1) * 4096));
        }
        writer.addF32("big", new long[] {3, 1024, 1024}, big);
        try (SafeTensors st = writeAndOpen(writer)) {
            assertTrue(Files.size(dir.resolve("model.safetensors")) > 12_000_000);
            assertArrayEquals(big, st.toFloatArray("big"));
            assertEquals(HalfFloats.bf16ToFloat(HalfFloats.floatToBf16(big[7 * 4096 + 5])), st.toFloatArray("layer.7.w")[5]);
            assertEquals(51, st.names().size());
        }
    }

    /** A sparse file with a tensor beyond 2 GiB: the data after it is still reachable. */
    @Test
    void tensorsBeyondTwoGibibytes() throws IOException {
        long huge = 3L << 30;
        String json = "{\"huge\":{\"dtype\":\"U8\",\"shape\":[" + huge + "],\"data_offsets\":[0," + huge + "]},"
                + "\"tail\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[" + huge + "," + (huge + 8) + "]}}";
        byte[] prefix = RawFiles.file(json, new byte[0]);
        Path file = dir.resolve("sparse.safetensors");
        try (var raf = new java.io.RandomAccessFile(file.toFile(), "rw")) {
            raf.write(prefix);
            raf.seek(prefix.length + huge);
            raf.write(le(8).putFloat(0, 1.5f).putFloat(4, -2f).array());
        }
        try (SafeTensors st = SafeTensors.open(file)) {
            assertArrayEquals(new float[] {1.5f, -2f}, st.toFloatArray("tail"));
            UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class, () -> st.buffer("huge"));
            assertEquals("sparse.safetensors: tensor 'huge' is 3221225472 bytes; a ByteBuffer holds at most 2147483647",
                    e.getMessage());
        }
    }

    @Test
    void unknownNamesAndClosedFiles() throws IOException {
        SafeTensors st = writeAndOpen(new SafeTensorsWriter().addF32("w", new long[] {1}, new float[] {1f}));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> st.info("v"));
        assertEquals("model.safetensors: no tensor named 'v'", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> st.buffer("v"));
        assertThrows(IllegalArgumentException.class, () -> st.toFloatArray("v"));
        assertFalse(st.contains("v"));
        ByteBuffer kept = st.buffer("w");
        st.close();
        st.close(); // idempotent
        assertEquals(1f, kept.getFloat(0)); // handed-out buffers stay readable
        IllegalStateException closed = assertThrows(IllegalStateException.class, () -> st.buffer("w"));
        assertEquals("model.safetensors is closed", closed.getMessage());
        assertThrows(IllegalStateException.class, st::names);
        assertThrows(IllegalStateException.class, st::metadata);
        assertThrows(IllegalStateException.class, () -> st.info("w"));
        assertThrows(IllegalStateException.class, () -> st.toIntArray("w"));
    }

    @Test
    void tensorInfoCopiesItsShape() throws IOException {
        try (SafeTensors st = writeAndOpen(new SafeTensorsWriter().addF32("w", new long[] {1, 2}, new float[2]))) {
            st.info("w").shape()[0] = 99;
            assertArrayEquals(new long[] {1, 2}, st.info("w").shape());
            assertEquals(new TensorInfo("w", SafeTensorsDType.F32, new long[] {1, 2}, 0, 8), st.info("w"));
        }
    }
}
