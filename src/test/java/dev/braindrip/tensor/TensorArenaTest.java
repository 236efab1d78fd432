package dev.braindrip.tensor;

import dev.braindrip.ops.Ops;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class TensorArenaTest {
    @Test
    void roundTripsEveryDtype() {
        try (Arena arena = Arena.on(Device.cpu(), 1 << 20)) {
            float[] f = {1.5f, -2.25f, 3e-3f, 65504f, -0f, 1e-7f};
            try (Tensor t = arena.fromFloats(f, DType.F32, 2, 3)) {
                assertArrayEquals(f, t.toFloatArray());
            }
            try (Tensor t = arena.fromFloats(f, DType.BF16, 6)) {
                float[] back = t.toFloatArray();
                for (int i = 0; i < f.length; i++) assertEquals(Half.roundBf16(f[i]), back[i]);
            }
            try (Tensor t = arena.fromFloats(f, DType.F16, 6)) {
                float[] back = t.toFloatArray();
                for (int i = 0; i < f.length; i++) assertEquals(Half.roundF16(f[i]), back[i]);
            }
            try (Tensor t = arena.fromInts(new int[] {1, -2, 3}, 3)) {
                assertArrayEquals(new int[] {1, -2, 3}, t.toIntArray());
            }
            try (Tensor t = arena.fromLongs(new long[] {1L << 40, -2}, 2)) {
                assertArrayEquals(new long[] {1L << 40, -2}, t.toLongArray());
            }
        }
    }

    @Test
    void closedTensorThrowsIllegalState() {
        try (Arena arena = Arena.on(Device.cpu(), 1 << 20)) {
            Tensor t = arena.zeros(DType.F32, 4);
            Tensor view = t.reshape(2, 2);
            t.close();
            assertThrows(IllegalStateException.class, t::toFloatArray);
            assertThrows(IllegalStateException.class, view::toFloatArray);
            assertThrows(IllegalStateException.class, () -> Ops.on(arena).scale(t, 2f));
        }
    }

    @Test
    void arenaEnforcesLimitAndReportsLeaks() {
        Arena arena = Arena.on(Device.cpu(), 1024);
        Tensor kept = arena.empty("kept", DType.F32, 100);
        assertEquals(400, arena.allocatedBytes());
        DeviceOutOfMemoryException oom = assertThrows(DeviceOutOfMemoryException.class, () -> arena.empty(DType.F32, 200));
        assertTrue(oom.getMessage().contains("limit"), oom.getMessage());
        IllegalStateException leak = assertThrows(IllegalStateException.class, arena::close);
        assertTrue(leak.getMessage().contains("'kept'"), leak.getMessage());
        assertTrue(kept.isClosed());
        assertEquals(0, arena.allocatedBytes());
    }

    @Test
    void reshapeChecksElementCount() {
        try (Arena arena = Arena.on(Device.cpu(), 1 << 20); Tensor t = arena.zeros(DType.F32, 2, 6)) {
            assertArrayEquals(new long[] {3, 4}, t.reshape(3, -1).shape());
            assertThrows(IllegalArgumentException.class, () -> t.reshape(5, 5));
        }
    }

    @Test
    void halfConversionsMatchBitRules() {
        // exhaustive over all F16 / BF16 patterns: decode then encode is the identity (NaN stays NaN)
        for (int h = 0; h < 65536; h++) {
            short s = (short) h;
            float f16 = Half.f16ToF32(s);
            if (Float.isNaN(f16)) assertTrue(Float.isNaN(Half.f16ToF32(Half.f32ToF16(f16))));
            else assertEquals(s, Half.f32ToF16(f16), "f16 pattern " + h);
            float bf = Half.bf16ToF32(s);
            if (Float.isNaN(bf)) assertTrue(Float.isNaN(Half.bf16ToF32(Half.f32ToBf16(bf))));
            else assertEquals(s, Half.f32ToBf16(bf), "bf16 pattern " + h);
        }
        assertEquals(Float.POSITIVE_INFINITY, Half.f16ToF32(Half.f32ToF16(65520f)));
        assertEquals(65504f, Half.f16ToF32(Half.f32ToF16(65519f)));
        assertEquals(1f, Half.roundBf16(1f + 0x1p-9f)); // tie rounds to even
    }

    @Test
    void streamsRejectTheCpu() {
        assertThrows(IllegalArgumentException.class, () -> CudaStream.create(Device.cpu()));
    }

    @Test
    void deviceParsingAndBestNeverThrow() {
        assertEquals(Device.cpu(), Device.parse("cpu"));
        assertEquals(Device.cuda(1), Device.parse("cuda:1"));
        assertThrows(IllegalArgumentException.class, () -> Device.parse("tpu"));
        Device best = Device.best();
        assertTrue(best.isCpu() || CudaRuntime.probe().usable());
        System.out.println("CUDA probe: " + CudaRuntime.probe());
    }
}
