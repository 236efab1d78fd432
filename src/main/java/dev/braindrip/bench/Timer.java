package dev.braindrip.bench;

import dev.braindrip.jni.NativeCuda;
import dev.braindrip.tensor.CudaEvent;
import dev.braindrip.tensor.Device;
import dev.braindrip.tensor.NativeStatus;
import java.util.Arrays;

/**
 * Times a body after warm-up: CUDA events around each repeat on the GPU, System.nanoTime on the
 * CPU. Returns the sorted per-repeat times in milliseconds.
 */
public final class Timer {
    private Timer() {}

    /** The body receives the repeat index (to rotate inputs). */
    @FunctionalInterface
    public interface Body {
        void run(int i);
    }

    public static double[] time(Device device, int warmup, int repeats, Body body) {
        for (int i = 0; i < warmup; i++) body.run(i);
        double[] ms = new double[repeats];
        if (device.isCuda()) {
            NativeStatus.checkCuda(NativeCuda.bd_cuda_device_synchronize(), "cudaDeviceSynchronize");
            try (CudaEvent start = CudaEvent.create(); CudaEvent stop = CudaEvent.create()) {
                for (int i = 0; i < repeats; i++) {
                    start.record();
                    body.run(warmup + i);
                    stop.record();
                    ms[i] = start.elapsedMs(stop);
                }
            }
        } else {
            for (int i = 0; i < repeats; i++) {
                long t0 = System.nanoTime();
                body.run(warmup + i);
                ms[i] = (System.nanoTime() - t0) / 1e6;
            }
        }
        Arrays.sort(ms);
        return ms;
    }

    public static double median(double[] sorted) {
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
    }
}
