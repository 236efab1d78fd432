package dev.braindrip.tensor;

import dev.braindrip.jni.NativeCuda;

/**
 * A non-blocking CUDA stream. Work queued on different streams may overlap; {@link #synchronize()}
 * waits for this one. Closing destroys it (idempotent). {@link #handle()} is the raw cudaStream_t
 * for bindings; 0 is the legacy default stream that the ops use unless told otherwise.
 */
public final class CudaStream implements AutoCloseable {
    private final Device device;
    private long handle;

    private CudaStream(Device device, long handle) {
        this.device = device;
        this.handle = handle;
    }

    /** Creates a stream on a usable CUDA device. */
    public static CudaStream create(Device device) {
        if (!device.isCuda()) throw new IllegalArgumentException("CudaStream: " + device + " is not a CUDA device");
        device.requireUsable();
        NativeStatus.checkCuda(NativeCuda.bd_cuda_set_device(device.index()), "cudaSetDevice");
        long h = NativeCuda.bd_cuda_stream_create();
        if (h == 0) throw new CudaException("cudaStreamCreate: " + NativeCuda.bd_cuda_last_error());
        return new CudaStream(device, h);
    }

    public Device device() {
        return device;
    }

    public long handle() {
        checkOpen();
        return handle;
    }

    /** Blocks until all work queued on this stream has finished; a kernel error surfaces here. */
    public void synchronize() {
        NativeStatus.checkCuda(NativeCuda.bd_cuda_stream_synchronize(handle()), "cudaStreamSynchronize");
    }

    private void checkOpen() {
        if (handle == 0) throw new IllegalStateException("use of a closed CUDA stream on " + device);
    }

    @Override
    public void close() {
        if (handle == 0) return;
        long h = handle;
        handle = 0;
        NativeStatus.checkCuda(NativeCuda.bd_cuda_stream_destroy(h), "cudaStreamDestroy");
    }
}
