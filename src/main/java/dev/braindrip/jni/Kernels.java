package dev.braindrip.jni;

/**
 * The kernel surface shared by both backends (native/include/braindrip/ops.h): the same
 * arguments, the same contract. {@link #CPU} calls libbraindrip_cpu, {@link #cuda()} calls
 * libbraindrip_cuda. Every method returns a bd_status code; {@link #lastError()} says why.
 */
public interface Kernels {
    Kernels CPU = new CpuKernels();

    /** The CUDA kernels; loads libbraindrip_cuda on first use. */
    static Kernels cuda() {
        return CudaKernels.INSTANCE;
    }

    boolean isCuda();

    String lastError();

    int convert(long x, int srcDtype, long y, int dstDtype, long n, long stream);

    int add(long a, long b, long y, long n, int dtype, long stream);

    int mul(long a, long b, long y, long n, int dtype, long stream);

    int scale(long x, long y, long n, float s, int dtype, long stream);

    int addBias(long y, long bias, long rows, long cols, int dtype, long stream);

    int activation(long x, long y, long n, int act, int dtype, long stream);

    int glu(long x, long y, long rows, long f, int glu, int dtype, long stream);

    int rmsnorm(long x, long w, long y, long rows, long cols, float eps, int dtype, long stream);

    int layernorm(long x, long w, long b, long y, long rows, long cols, float eps, int dtype, long stream);

    int addRmsnorm(long x, long residual, long w, long y, long sum, long rows, long cols, float eps, int dtype, long stream);

    int addLayernorm(long x, long residual, long w, long b, long y, long sum, long rows, long cols, float eps, int dtype, long stream);

    int softmax(long x, long y, long rows, long cols, float invTemperature, int dtype, long stream);

    int embedding(long table, long ids, int idsDtype, long y, long n, long vocab, long dim, int dtype, long stream);

    int rope(long x, long positions, int posDtype, long y, long tokens, long heads, long headDim, long rotaryDim, float theta, int style, int dtype, long stream);

    int argmax(long x, long out, long rows, long cols, int dtype, long stream);

    int topk(long x, long values, long indices, long rows, long cols, long k, int dtype, long stream);

    int crossEntropy(long logits, long targets, int targetDtype, long loss, long rows, long cols, int dtype, long stream);
}
