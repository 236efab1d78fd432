package dev.braindrip.ops;

import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import dev.braindrip.testing.GpuTest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** Position biases in the CUDA kernels (tensor-core and F32 paths) against the oracle: PositionBiasSuite on cuda:0. */
@GpuTest
class CudaPositionBiasTest extends PositionBiasSuite {
    private static Arena arena;

    @BeforeAll
    static void open() {
        arena = Arena.on(Device.cuda(0), 4L << 30);
    }

    @AfterAll
    static void close() {
        if (arena != null) arena.close();
    }

    @Override
    Arena arena() {
        return arena;
    }

    @Override
    boolean implementsHeadDim(DType dtype, int headDim) {
        if (dtype == DType.F32) return headDim <= 256;
        return headDim == 64 || headDim == 80 || headDim == 96 || headDim == 128 || headDim == 256;
    }
}
