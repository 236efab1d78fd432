package dev.braindrip.ops.moe;

import dev.braindrip.tensor.Device;

class MoeLayerCpuTest extends MoeLayerCases {
    @Override
    Device device() {
        return Device.cpu();
    }
}
