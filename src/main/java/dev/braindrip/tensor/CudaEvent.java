package dev.braindrip.tensor;

import dev.braindrip.jni.NativeCuda;

/**
 * A CUDA event for ordering and timing: {@link #record(long)} marks a point in a stream's work,
 * {@link #elapsedMs(CudaEvent)} measures between two recorded events (device time, as benchmarks
 * report it). Closing destroys it (idempotent).
 */
public final class CudaEvent implements AutoCloseable {
    private long handle;

    private CudaEvent(long handle) {
        this.handle = handle;
    }

    /** Creates an event (the current device must be usable). */
    public static CudaEvent create() {
        Device.cuda(0).requireUsable();
        long h = NativeCuda.bd_cuda_event_create();
        if (h == 0) throw new CudaException("cudaEventCreate: " + NativeCuda.bd_cuda_last_error());
        return new CudaEvent(h);
    }

    /** Records on the default stream. */
    public CudaEvent record() {
        return record(0L);
    }

    public CudaEvent record(CudaStream stream) {
        return record(stream.handle());
    }

    private CudaEvent record(long stream) {
        NativeStatus.checkCuda(NativeCuda.bd_cuda_event_record(handle(), stream), "cudaEventRecord");
        return this;
    }

    /** Blocks until the work before the recorded point has finished. */
    public void synchronize() {
        NativeStatus.checkCuda(NativeCuda.bd_cuda_event_synchronize(handle()), "cudaEventSynchronize");
    }

    /** Milliseconds from this event to {@code end} (both recorded; waits for {@code end}). */
    public float elapsedMs(CudaEvent end) {
        end.synchronize();
        float ms = NativeCuda.bd_cuda_event_elapsed_ms(handle(), end.handle());
        if (ms < 0) throw new CudaException("cudaEventElapsedTime: " + NativeCuda.bd_cuda_last_error());
        return ms;
    }

    private long handle() {
        if (handle == 0) throw new IllegalStateException("use of a closed CUDA event");
        return handle;
    }

    @Override
    public void close() {
        if (handle == 0) return;
        long h = handle;
        handle = 0;
        NativeStatus.checkCuda(NativeCuda.bd_cuda_event_destroy(h), "cudaEventDestroy");
    }
}
