package dev.braindrip.ops;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.braindrip.jni.Kernels;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import dev.braindrip.tensor.Tensor;
import dev.braindrip.testing.GpuTest;
import org.junit.jupiter.api.Test;

/**
 * {@link BackendOpsSuite} on CUDA device 0: the same case streams as the CPU. Without a usable GPU
 * it is skipped with the probe's reason; -Dbraindrip.requireGpu=true makes that a failure.
 */
@GpuTest
class CudaBackendOpsTest extends BackendOpsSuite {
    @Override
    Device device() {
        return Device.cuda(0);
    }

    @Override
    Kernels kernels() {
        return Kernels.cuda();
    }

    @Test
    void inputsOnAnotherDeviceAreRejected() {
        try (Arena gpu = newArena(); Arena cpu = Arena.on(Device.cpu(), 1 << 20);
             Tensor onGpu = gpu.fromFloats(new float[] {1, 2, 3, 4}, DType.F32, 2, 2);
             Tensor onCpu = cpu.fromFloats(new float[] {1, 2, 3, 4}, DType.F32, 2, 2);
             Tensor wCpu = cpu.fromFloats(new float[] {1, 2}, DType.F32, 2)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Ops.on(gpu).add(onGpu, onCpu));
            assertTrue(e.getMessage().startsWith("add: ") && e.getMessage().contains("is not on cuda:0"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> Ops.on(gpu).rmsnorm(onGpu, wCpu, 1e-5f));
            assertTrue(e.getMessage().startsWith("rmsnorm: ") && e.getMessage().contains("is not on cuda:0"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> Ops.on(cpu).gemm(onCpu, onGpu, null, false));
            assertTrue(e.getMessage().startsWith("gemm: ") && e.getMessage().contains("is not on cpu"), e.getMessage());
        }
    }
}
