package dev.braindrip.ops.moe;

import dev.braindrip.tensor.Device;

class MoeRouterCpuTest extends MoeRouterCases {
    @Override
    Device device() {
        return Device.cpu();
    }
}
