package dev.braindrip.tensor;

import dev.braindrip.jni.NativeCpu;
import dev.braindrip.jni.NativeCuda;

/** Turns bd_status codes into Java exceptions carrying the native library's message. */
public final class NativeStatus {
    public static final int OK = 0;
    public static final int INVALID_ARGUMENT = 1;
    public static final int UNSUPPORTED = 2;
    public static final int CUDA = 3;
    public static final int OUT_OF_MEMORY = 4;
    public static final int NO_DEVICE = 5;

    private NativeStatus() {}

    /** Checks a status returned by a bd_cpu_* call. */
    public static void checkCpu(int status, String op) {
        if (status != OK) throw toException(status, op, NativeCpu.bd_cpu_last_error());
    }

    /** Checks a status returned by a bd_cuda_* call. */
    public static void checkCuda(int status, String op) {
        if (status != OK) throw toException(status, op, NativeCuda.bd_cuda_last_error());
    }

    static RuntimeException toException(int status, String op, String message) {
        String m = message == null || message.isEmpty() ? op + ": failed with status " + status : message;
        if (!m.startsWith(op)) m = op + ": " + m;
        return switch (status) {
            case INVALID_ARGUMENT -> new IllegalArgumentException(m);
            case UNSUPPORTED -> new UnsupportedOperationException(m);
            case OUT_OF_MEMORY -> new DeviceOutOfMemoryException(m);
            case NO_DEVICE -> new IllegalStateException(m);
            default -> new CudaException(m);
        };
    }
}
