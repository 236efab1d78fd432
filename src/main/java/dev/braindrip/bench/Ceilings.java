package dev.braindrip.bench;

import dev.braindrip.ops.Ops;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.Device;
import dev.braindrip.tensor.Tensor;

/**
 * The machine's measured ceilings, taken in the same run as the figures they bound
 * (BENCHMARKS.md): copy bandwidth (bytes read + written per second of a large device copy) and
 * the dense matrix rate (a large GEMM through the vendor BLAS: cuBLAS BF16 8192³ on the GPU,
 * OpenBLAS F32 2048³ on the CPU).
 */
public record Ceilings(double copyGBps, double gemmTflops, String gemmShape) {
    public static Ceilings measure(Device device) {
        try (Arena arena = Arena.on(device, 8L << 30)) {
            double gbps = copyBandwidth(arena, device);
            boolean gpu = device.isCuda();
            int n = gpu ? 8192 : 2048;
            DType dt = gpu ? DType.BF16 : DType.F32;
            double tflops;
            try (Tensor a = arena.randn(dt, n, n); Tensor b = arena.randn(dt, n, n)) {
                double[] ms = Timer.time(device, 2, gpu ? 10 : 3, i -> Ops.on(arena).matmul(a, b).close());
                tflops = 2.0 * n * n * n / (Timer.median(ms) * 1e-3) / 1e12;
            }
            arena.releaseAll();
            return new Ceilings(gbps, tflops, n + "³ " + dt);
        }
    }

    private static double copyBandwidth(Arena arena, Device device) {
        long n = device.isCuda() ? (512L << 20) / 4 : (128L << 20) / 4; // 512 MiB on the GPU, 128 MiB on the host
        try (Tensor src = arena.zeros(DType.F32, n); Tensor dst = arena.empty(DType.F32, n)) {
            double[] ms = Timer.time(device, 2, 10, i -> dst.copyFrom(src));
            return 2.0 * n * 4 / (Timer.median(ms) * 1e-3) / 1e9;
        }
    }
}
