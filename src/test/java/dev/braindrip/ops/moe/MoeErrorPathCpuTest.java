package dev.braindrip.ops.moe;

import dev.braindrip.tensor.Device;

class MoeErrorPathCpuTest extends MoeErrorPathCases {
    @Override
    Device device() {
        return Device.cpu();
    }
}
