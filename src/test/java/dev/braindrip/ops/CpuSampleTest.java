package dev.braindrip.ops;

import dev.braindrip.tensor.Device;

/** {@link SampleSuite} on the CPU backend (runs everywhere). */
class CpuSampleTest extends SampleSuite {
    @Override
    Device device() {
        return Device.cpu();
    }
}
