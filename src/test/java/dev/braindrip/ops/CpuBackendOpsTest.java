package dev.braindrip.ops;

import dev.braindrip.jni.Kernels;
import dev.braindrip.tensor.Device;

/** {@link BackendOpsSuite} on the CPU backend (runs everywhere). */
class CpuBackendOpsTest extends BackendOpsSuite {
    @Override
    Device device() {
        return Device.cpu();
    }

    @Override
    Kernels kernels() {
        return Kernels.CPU;
    }
}
