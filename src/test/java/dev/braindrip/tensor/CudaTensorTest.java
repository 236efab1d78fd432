package dev.braindrip.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.braindrip.testing.GpuTest;
import org.junit.jupiter.api.Test;

/** Device memory, copies between devices, streams and events on a real GPU. */
@GpuTest
class CudaTensorTest {
    @Test
    void copiesRoundTripBetweenHostAndDevice() {
        float[] f = {1.5f, -2.25f, 3e-3f, 65504f, -0f, 1e-7f};
        try (Arena gpu = Arena.on(Device.cuda(0), 1 << 20); Arena cpu = Arena.on(Device.cpu(), 1 << 20)) {
            for (DType dt : new DType[] {DType.F32, DType.F16, DType.BF16}) {
                try (Tensor d = gpu.fromFloats(f, dt, 2, 3); Tensor h = d.copyTo(cpu); Tensor d2 = h.copyTo(gpu)) {
                    assertArrayEquals(h.toFloatArray(), d2.toFloatArray(), dt.name());
                    for (int i = 0; i < f.length; i++) assertEquals(Half.round(dt, f[i]), h.toFloatArray()[i], dt + " element " + i);
                }
            }
            try (Tensor ids = gpu.fromLongs(new long[] {1L << 40, -3}, 2)) {
                assertArrayEquals(new long[] {1L << 40, -3}, ids.toLongArray());
            }
        }
    }

    @Test
    void streamsAndEventsMeasureDeviceTime() {
        try (CudaStream s = CudaStream.create(Device.cuda(0)); CudaEvent a = CudaEvent.create(); CudaEvent b = CudaEvent.create();
             Arena gpu = Arena.on(Device.cuda(0), 64L << 20)) {
            Tensor x = gpu.zeros(DType.F32, 4 << 20);
            a.record(s);
            b.record(s);
            s.synchronize();
            assertTrue(a.elapsedMs(b) >= 0f);
            x.close();
        }
    }

    @Test
    void closedStreamAndOomAreClearErrors() {
        CudaStream s = CudaStream.create(Device.cuda(0));
        s.close();
        assertThrows(IllegalStateException.class, s::synchronize);
        try (Arena gpu = Arena.on(Device.cuda(0), Long.MAX_VALUE / 2)) {
            DeviceOutOfMemoryException e = assertThrows(DeviceOutOfMemoryException.class, () -> gpu.empty(DType.F32, 1L << 50));
            assertTrue(e.getMessage().contains("cuda"), e.getMessage());
        }
    }
}
