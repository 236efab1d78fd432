package dev.braindrip.ops.moe;

import dev.braindrip.tensor.Device;

class MixtureOfDepthsCpuTest extends MixtureOfDepthsCases {
    @Override
    Device device() {
        return Device.cpu();
    }
}
