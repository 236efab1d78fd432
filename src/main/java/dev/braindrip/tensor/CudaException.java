package dev.braindrip.tensor;

/** A CUDA runtime or launch error; the message names the kernel or call that failed. */
public final class CudaException extends RuntimeException {
    public CudaException(String message) {
        super(message);
    }
}
