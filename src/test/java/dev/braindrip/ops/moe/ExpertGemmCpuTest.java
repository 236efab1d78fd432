package dev.braindrip.ops.moe;

import dev.braindrip.tensor.Device;

class ExpertGemmCpuTest extends ExpertGemmCases {
    @Override
    Device device() {
        return Device.cpu();
    }
}
