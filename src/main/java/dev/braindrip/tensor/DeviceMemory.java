package dev.braindrip.tensor;

import dev.braindrip.jni.NativeCpu;
import dev.braindrip.jni.NativeCuda;

/** Raw allocation and copies by device; Tensor and Arena are its only callers. */
final class DeviceMemory {
    private DeviceMemory() {}

    static long allocate(Device device, long bytes) {
        if (device.isCpu()) {
            long p = NativeCpu.bd_cpu_malloc(bytes);
            if (p == 0) throw new DeviceOutOfMemoryException("cpu: " + NativeCpu.bd_cpu_last_error());
            return p;
        }
        device.requireUsable();
        NativeStatus.checkCuda(NativeCuda.bd_cuda_set_device(device.index()), "cudaSetDevice");
        long p = NativeCuda.bd_cuda_malloc(bytes);
        if (p == 0) throw new DeviceOutOfMemoryException(device + ": " + NativeCuda.bd_cuda_last_error());
        return p;
    }

    static void free(Device device, long address) {
        if (device.isCpu()) {
            NativeCpu.bd_cpu_free(address);
        } else {
            NativeStatus.checkCuda(NativeCuda.bd_cuda_free(address), "cudaFree");
        }
    }

    /** Copies between any two devices (host-host, host-device, device-device). */
    static void copy(Device dstDevice, long dst, Device srcDevice, long src, long bytes) {
        if (bytes == 0) return;
        if (dstDevice.isCpu() && srcDevice.isCpu()) {
            NativeStatus.checkCpu(NativeCpu.bd_cpu_memcpy(dst, src, bytes), "memcpy");
        } else {
            NativeStatus.checkCuda(NativeCuda.bd_cuda_memcpy(dst, src, bytes), "cudaMemcpy");
        }
    }

    static void zero(Device device, long address, long bytes) {
        if (device.isCpu()) {
            NativeStatus.checkCpu(NativeCpu.bd_cpu_memset(address, 0, bytes), "memset");
        } else {
            NativeStatus.checkCuda(NativeCuda.bd_cuda_memset_async(address, 0, bytes, 0L), "cudaMemset");
            NativeStatus.checkCuda(NativeCuda.bd_cuda_stream_synchronize(0L), "cudaStreamSynchronize");
        }
    }
}
