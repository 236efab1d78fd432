package dev.braindrip.ops;

import dev.braindrip.jni.Addresses;
import dev.braindrip.jni.NativeCpu;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.NativeStatus;
import dev.braindrip.tensor.Tensor;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.openblas.global.openblas_nolapack;

/**
 * GEMM on the CPU through OpenBLAS (JavaCPP presets): F32 directly with cblas_sgemm; F16/BF16
 * are converted to F32 first (the CPU backend may convert) and the result rounded back — except
 * for a few rows against a Linear's weight (decode: m <= 16, b transposed), where our own kernel
 * (bd_cpu_gemm_small) reads F16/BF16 weights in place instead of converting them every call. F32
 * stays on OpenBLAS (GEMV for one row): routing F32 2..16 rows to the small kernel made the demo
 * model's batch-8 decode 1.35x slower (its weights sit in the L3 cache, where OpenBLAS's packed
 * GEMM wins; docs/perf/cpu-backend.md).
 */
final class CpuGemm implements Gemm {
    /** Rows up to which products against a transposed b take bd_cpu_gemm_small. */
    static final int SMALL_MAX_M = 16;

    @Override
    public void run(Arena arena, Tensor a, Tensor b, Tensor c, int m, int n, int k, boolean transB, boolean accumulate) {
        if (m == 0 || n == 0) return;
        if (transB && m <= SMALL_MAX_M && a.dtype() != DType.F32) {
            NativeStatus.checkCpu(NativeCpu.bd_cpu_gemm_small(a.address(), b.address(), c.address(), m, n, k,
                    accumulate ? 1 : 0, a.dtype().code()), "gemm");
            return;
        }
        if (a.dtype() == DType.F32) {
            sgemm(a.address(), b.address(), c.address(), m, n, k, transB, accumulate);
            return;
        }
        Ops ops = Ops.on(arena);
        try (Tensor a32 = ops.convert(a, DType.F32);
             Tensor b32 = ops.convert(b, DType.F32);
             Tensor c32 = accumulate ? ops.convert(c, DType.F32) : arena.empty(DType.F32, c.shape())) {
            sgemm(a32.address(), b32.address(), c32.address(), m, n, k, transB, accumulate);
            try (Tensor back = ops.convert(c32, c.dtype())) {
                c.copyFrom(back);
            }
        }
    }

    private static void sgemm(long a, long b, long c, int m, int n, int k, boolean transB, boolean accumulate) {
        if (k == 0) {
            if (!accumulate) new FloatPointer(Addresses.pointer(c)).capacity((long) m * n).fill(0);
            return;
        }
        if (m == 1) {
            // one row (batch-1 decode): OpenBLAS's GEMV streams the weights near memory bandwidth, its GEMM
            // with M = 1 does not (4-5x slower at 2048 x 8192 and 2048 x 128256 on the 2-core build machine)
            if (transB) {
                openblas_nolapack.cblas_sgemv(openblas_nolapack.CblasRowMajor, openblas_nolapack.CblasNoTrans, n, k, 1f,
                        new FloatPointer(Addresses.pointer(b)), k, new FloatPointer(Addresses.pointer(a)), 1, accumulate ? 1f : 0f,
                        new FloatPointer(Addresses.pointer(c)), 1);
            } else {
                openblas_nolapack.cblas_sgemv(openblas_nolapack.CblasRowMajor, openblas_nolapack.CblasTrans, k, n, 1f,
                        new FloatPointer(Addresses.pointer(b)), n, new FloatPointer(Addresses.pointer(a)), 1, accumulate ? 1f : 0f,
                        new FloatPointer(Addresses.pointer(c)), 1);
            }
            return;
        }
        openblas_nolapack.cblas_sgemm(openblas_nolapack.CblasRowMajor, openblas_nolapack.CblasNoTrans, transB ? openblas_nolapack.CblasTrans : openblas_nolapack.CblasNoTrans,
                m, n, k, 1f, new FloatPointer(Addresses.pointer(a)), k, new FloatPointer(Addresses.pointer(b)), transB ? k : n,
                accumulate ? 1f : 0f, new FloatPointer(Addresses.pointer(c)), n);
    }
}
