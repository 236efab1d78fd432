package dev.braindrip.ops.moe;

import dev.braindrip.tensor.Device;
import dev.braindrip.testing.GpuTest;
import org.junit.jupiter.api.Nested;

/**
 * Every MoE and MoD case of the CPU tests, on cuda:0 against the same oracle. Skipped with the
 * CUDA probe's reason where no GPU is usable; fails instead under -Dbraindrip.requireGpu=true.
 */
@GpuTest
class MoeCudaTest {
    static final Device CUDA = Device.cuda(0);

    @Nested
    class Routers extends MoeRouterCases {
        @Override
        Device device() {
            return CUDA;
        }
    }

    @Nested
    class Dispatch extends MoeDispatchCases {
        @Override
        Device device() {
            return CUDA;
        }
    }

    @Nested
    class Gemms extends ExpertGemmCases {
        @Override
        Device device() {
            return CUDA;
        }
    }

    @Nested
    class Layer extends MoeLayerCases {
        @Override
        Device device() {
            return CUDA;
        }
    }

    @Nested
    class Depths extends MixtureOfDepthsCases {
        @Override
        Device device() {
            return CUDA;
        }
    }

    @Nested
    class ErrorPaths extends MoeErrorPathCases {
        @Override
        Device device() {
            return CUDA;
        }
    }
}
