package dev.braindrip.tensor;

import dev.braindrip.jni.NativeCuda;

/**
 * One cached probe of the CUDA library and driver. Loading can fail in several ways (library not
 * built, no driver: UnsatisfiedLinkError, or NoClassDefFoundError after a failed static
 * initializer); each is caught once and kept as the reason, so GPU tests can skip with it and
 * {@link Device#best()} never crashes on a machine without a GPU.
 */
public final class CudaRuntime {
    /** Result of the probe: usable, device count, and the reason when not usable. */
    public record Probe(boolean usable, int deviceCount, String reason) {}

    private static volatile Probe probe;

    private CudaRuntime() {}

    public static Probe probe() {
        Probe p = probe;
        if (p == null) {
            synchronized (CudaRuntime.class) {
                p = probe;
                if (p == null) probe = p = doProbe();
            }
        }
        return p;
    }

    private static Probe doProbe() {
        try {
            NativeCuda.load();
        } catch (Throwable t) {
            Throwable cause = t.getCause() != null ? t.getCause() : t;
            return new Probe(false, 0, "CUDA library not loadable (" + cause.getClass().getSimpleName() + ": "
                    + cause.getMessage() + ")");
        }
        try {
            int n = NativeCuda.bd_cuda_device_count();
            if (n < 0) return new Probe(false, 0, "no usable CUDA driver: " + NativeCuda.bd_cuda_last_error());
            if (n == 0) return new Probe(false, 0, "no CUDA device found");
            return new Probe(true, n, "");
        } catch (Throwable t) {
            return new Probe(false, 0, "CUDA probe failed (" + t + ")");
        }
    }

    /** Device name, compute capability, SM count and memory, e.g. "NVIDIA H200 (sm_90, 132 SMs, 139.8 GiB)". */
    public static String describe(int device) {
        Device.cuda(device).requireUsable();
        byte[] name = new byte[256];
        int[] major = new int[1], minor = new int[1], sms = new int[1];
        long[] total = new long[1];
        NativeStatus.checkCuda(NativeCuda.bd_cuda_device_info(device, name, name.length, major, minor, sms, total),
                "cudaGetDeviceProperties");
        int len = 0;
        while (len < name.length && name[len] != 0) len++;
        return String.format(java.util.Locale.ROOT, "%s (sm_%d%d, %d SMs, %.1f GiB)",
                new String(name, 0, len, java.nio.charset.StandardCharsets.UTF_8), major[0], minor[0], sms[0],
                total[0] / (double) (1L << 30));
    }

    /** Streaming multiprocessor count of the device. */
    public static int multiprocessors(int device) {
        Device.cuda(device).requireUsable();
        int[] major = new int[1], minor = new int[1], sms = new int[1];
        long[] total = new long[1];
        NativeStatus.checkCuda(NativeCuda.bd_cuda_device_info(device, new byte[8], 8, major, minor, sms, total),
                "cudaGetDeviceProperties");
        return sms[0];
    }

    public static void synchronize() {
        NativeStatus.checkCuda(NativeCuda.bd_cuda_device_synchronize(), "cudaDeviceSynchronize");
    }
}
