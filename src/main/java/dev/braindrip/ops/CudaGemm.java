package dev.braindrip.ops;

import dev.braindrip.jni.Addresses;
import dev.braindrip.tensor.Arena;
import dev.braindrip.tensor.CudaException;
import dev.braindrip.tensor.DType;
import dev.braindrip.tensor.NativeStatus;
import dev.braindrip.tensor.Tensor;
import dev.braindrip.jni.NativeCuda;
import java.util.HashMap;
import java.util.Map;
import org.bytedeco.cuda.cublas.cublasContext;
import org.bytedeco.cuda.global.cublas;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.FloatPointer;

/**
 * GEMM on CUDA through cuBLAS (JavaCPP presets; libcublas comes from the system at run time).
 * Row-major C = A·B is column-major Cᵀ = Bᵀ·Aᵀ, so the operands swap: cublasGemmEx(N or T, N,
 * n, m, k, B, A, C) with F32 accumulation (CUBLAS_COMPUTE_32F) for every storage type.
 */
final class CudaGemm implements Gemm {
    private static final Map<Integer, cublasContext> HANDLES = new HashMap<>();

    private final int device;

    CudaGemm(int device) {
        this.device = device;
    }

    private static synchronized cublasContext handle(int device) {
        cublasContext h = HANDLES.get(device);
        if (h != null) return h;
        try {
            NativeStatus.checkCuda(NativeCuda.bd_cuda_set_device(device), "cudaSetDevice");
            h = new cublasContext();
            int st = cublas.cublasCreate_v2(h);
            if (st != cublas.CUBLAS_STATUS_SUCCESS) throw new CudaException("cublasCreate: status " + st);
        } catch (UnsatisfiedLinkError | NoClassDefFoundError e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            throw new CudaException("gemm: cuBLAS could not be loaded (" + cause.getMessage()
                    + "); put the directory holding libcublas.so.13 on LD_LIBRARY_PATH");
        }
        HANDLES.put(device, h);
        return h;
    }

    private static int cudaType(DType d) {
        return switch (d) {
            case F32 -> cudart.CUDA_R_32F;
            case F16 -> cudart.CUDA_R_16F;
            case BF16 -> cudart.CUDA_R_16BF;
            default -> throw new IllegalArgumentException("gemm: unsupported dtype " + d);
        };
    }

    @Override
    public void run(Arena arena, Tensor a, Tensor b, Tensor c, int m, int n, int k, boolean transB, boolean accumulate) {
        if (m == 0 || n == 0) return;
        if (k == 0) {
            if (!accumulate) c.zero();
            return;
        }
        int t = cudaType(a.dtype());
        synchronized (CudaGemm.class) {
            cublasContext h = handle(device);
            try (FloatPointer alpha = new FloatPointer(1f); FloatPointer beta = new FloatPointer(accumulate ? 1f : 0f)) {
                int st = cublas.cublasGemmEx(h, transB ? cublas.CUBLAS_OP_T : cublas.CUBLAS_OP_N, cublas.CUBLAS_OP_N, n, m, k, alpha,
                        Addresses.pointer(b.address()), t, transB ? k : n, Addresses.pointer(a.address()), t, k, beta,
                        Addresses.pointer(c.address()), t, n, cublas.CUBLAS_COMPUTE_32F, cublas.CUBLAS_GEMM_DEFAULT);
                if (st != cublas.CUBLAS_STATUS_SUCCESS) {
                    throw new CudaException("gemm: cublasGemmEx failed with status " + st + " (m=" + m + ", n=" + n + ", k=" + k
                            + ", " + a.dtype() + ")");
                }
            }
        }
    }
}
