package dev.braindrip.ops.moe;

import dev.braindrip.tensor.Device;

class MoeDispatchCpuTest extends MoeDispatchCases {
    @Override
    Device device() {
        return Device.cpu();
    }
}
