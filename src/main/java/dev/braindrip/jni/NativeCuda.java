package dev.braindrip.jni;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Name;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * JNI binding of libbraindrip_cuda (absent when the build had no nvcc). The CUDA runtime
 * (libcudart.so.13) is bundled and preloaded, so this class loads on machines without a toolkit;
 * without a driver its calls return BD_ERR_NO_DEVICE. Use {@code CudaRuntime.probe()} rather than
 * touching this class directly: the probe catches load failures once and keeps the reason.
 */
@Platform(include = "braindrip_jni.h", link = "braindrip_cuda", preload = "cudart@.13")
public final class NativeCuda {
    static {
        Loader.load();
    }

    private NativeCuda() {}

    public static void load() {
        Loader.load(NativeCuda.class);
    }

    public static native @Cast("const char*") String bd_cuda_last_error();

    // ---- device, memory, streams, events
    public static native int bd_cuda_device_count();
    public static native int bd_cuda_set_device(int device);
    public static native int bd_cuda_device_info(int device, @Cast("char*") byte[] name, int nameLen, int[] major, int[] minor,
            int[] sms, @Cast("int64_t*") long[] totalBytes);
    public static native int bd_cuda_mem_info(@Cast("int64_t*") long[] freeBytes, @Cast("int64_t*") long[] totalBytes);
    public static native @Cast("intptr_t") long bd_cuda_malloc(long bytes);
    public static native int bd_cuda_free(@Cast("void*") long p);
    public static native int bd_cuda_memcpy(@Cast("void*") long dst, @Cast("const void*") long src, long bytes);
    public static native int bd_cuda_memcpy_async(@Cast("void*") long dst, @Cast("const void*") long src, long bytes,
            @Cast("void*") long stream);
    public static native int bd_cuda_memset_async(@Cast("void*") long p, int value, long bytes, @Cast("void*") long stream);
    public static native int bd_cuda_device_synchronize();
    // host array <-> device memory (synchronous cudaMemcpy from/to the pinned or copied array)
    public static native @Name("bd_cuda_memcpy") int copyIn(@Cast("void*") long dst, @Cast("const void*") float[] src, long bytes);
    public static native @Name("bd_cuda_memcpy") int copyIn(@Cast("void*") long dst, @Cast("const void*") short[] src, long bytes);
    public static native @Name("bd_cuda_memcpy") int copyIn(@Cast("void*") long dst, @Cast("const void*") int[] src, long bytes);
    public static native @Name("bd_cuda_memcpy") int copyIn(@Cast("void*") long dst, @Cast("const void*") long[] src, long bytes);
    public static native @Name("bd_cuda_memcpy") int copyIn(@Cast("void*") long dst, @Cast("const void*") byte[] src, long bytes);
    public static native @Name("bd_cuda_memcpy") int copyOut(@Cast("void*") float[] dst, @Cast("const void*") long src, long bytes);
    public static native @Name("bd_cuda_memcpy") int copyOut(@Cast("void*") short[] dst, @Cast("const void*") long src, long bytes);
    public static native @Name("bd_cuda_memcpy") int copyOut(@Cast("void*") int[] dst, @Cast("const void*") long src, long bytes);
    public static native @Name("bd_cuda_memcpy") int copyOut(@Cast("void*") long[] dst, @Cast("const void*") long src, long bytes);
    public static native @Name("bd_cuda_memcpy") int copyOut(@Cast("void*") byte[] dst, @Cast("const void*") long src, long bytes);
    public static native @Cast("intptr_t") long bd_cuda_stream_create();
    public static native int bd_cuda_stream_destroy(@Cast("void*") long stream);
    public static native int bd_cuda_stream_synchronize(@Cast("void*") long stream);
    public static native @Cast("intptr_t") long bd_cuda_event_create();
    public static native int bd_cuda_event_destroy(@Cast("void*") long event);
    public static native int bd_cuda_event_record(@Cast("void*") long event, @Cast("void*") long stream);
    public static native int bd_cuda_event_synchronize(@Cast("void*") long event);
    public static native float bd_cuda_event_elapsed_ms(@Cast("void*") long start, @Cast("void*") long end);

    // ---- ops (native/include/braindrip/ops.h; identical for both backends)
    public static native int bd_cuda_convert(@Cast("const void*") long x, int srcDtype, @Cast("void*") long y, int dstDtype, long n, @Cast("void*") long stream);
    public static native int bd_cuda_add(@Cast("const void*") long a, @Cast("const void*") long b, @Cast("void*") long y, long n, int dtype, @Cast("void*") long stream);
    public static native int bd_cuda_mul(@Cast("const void*") long a, @Cast("const void*") long b, @Cast("void*") long y, long n, int dtype, @Cast("void*") long stream);
    public static native int bd_cuda_scale(@Cast("const void*") long x, @Cast("void*") long y, long n, float s, int dtype, @Cast("void*") long stream);
    public static native int bd_cuda_add_bias(@Cast("void*") long y, @Cast("const void*") long bias, long rows, long cols, int dtype, @Cast("void*") long stream);
    public static native int bd_cuda_activation(@Cast("const void*") long x, @Cast("void*") long y, long n, int act, int dtype, @Cast("void*") long stream);
    public static native int bd_cuda_glu(@Cast("const void*") long x, @Cast("void*") long y, long rows, long f, int glu, int dtype, @Cast("void*") long stream);
    public static native int bd_cuda_rmsnorm(@Cast("const void*") long x, @Cast("const void*") long w, @Cast("void*") long y, long rows, long cols, float eps, int dtype, @Cast("void*") long stream);
    public static native int bd_cuda_layernorm(@Cast("const void*") long x, @Cast("const void*") long w, @Cast("const void*") long b, @Cast("void*") long y, long rows, long cols, float eps, int dtype, @Cast("void*") long stream);
    public static native int bd_cuda_add_rmsnorm(@Cast("const void*") long x, @Cast("const void*") long residual, @Cast("const void*") long w, @Cast("void*") long y, @Cast("void*") long sum, long rows, long cols, float eps, int dtype, @Cast("void*") long stream);
    public static native int bd_cuda_add_layernorm(@Cast("const void*") long x, @Cast("const void*") long residual, @Cast("const void*") long w, @Cast("const void*") long b, @Cast("void*") long y, @Cast("void*") long sum, long rows, long cols, float eps, int dtype, @Cast("void*") long stream);
    public static native int bd_cuda_softmax(@Cast("const void*") long x, @Cast("void*") long y, long rows, long cols, float invTemperature, int dtype, @Cast("void*") long stream);
    public static native int bd_cuda_embedding(@Cast("const void*") long table, @Cast("const void*") long ids, int idsDtype, @Cast("void*") long y, long n, long vocab, long dim, int dtype, @Cast("void*") long stream);
    public static native int bd_cuda_rope(@Cast("const void*") long x, @Cast("const void*") long positions, int posDtype, @Cast("void*") long y, long tokens, long heads, long headDim, long rotaryDim, float theta, int style, int dtype, @Cast("void*") long stream);
    public static native int bd_cuda_argmax(@Cast("const void*") long x, @Cast("int32_t*") long out, long rows, long cols, int dtype, @Cast("void*") long stream);
    public static native int bd_cuda_topk(@Cast("const void*") long x, @Cast("float*") long values, @Cast("int32_t*") long indices, long rows, long cols, long k, int dtype, @Cast("void*") long stream);
    public static native int bd_cuda_cross_entropy(@Cast("const void*") long logits, @Cast("const void*") long targets, int targetDtype, @Cast("float*") long loss, long rows, long cols, int dtype, @Cast("void*") long stream);

    // ---- fused attention (native/include/braindrip/attention.h, flat-argument forms)
    public static native int bd_cuda_attention(@Cast("const void*") long q, @Cast("const void*") long k, @Cast("const void*") long v,
            @Cast("void*") long o, @Cast("float*") long lse, int dtype, long batch, long seqlenQ, long seqlenK, int headsQ,
            int headsKv, int headDim, int headDimV, @Cast("const int32_t*") long cuSeqlensQ, @Cast("const int32_t*") long cuSeqlensK,
            @Cast("const int32_t*") long sequsedK, float scale, float softcap, int causal, int windowLeft, int windowRight,
            int sinkTokens, @Cast("const float*") long sinks, @Cast("const int32_t*") long kRopePositions, float ropeTheta,
            int numSplits, @Cast("void*") long workspace, @Cast("void*") long stream);
    public static native int bd_cuda_attention_supports(int headDim, int headDimV, int dtype);
    public static native long bd_cuda_attention_workspace_bytes_flat(int dtype, long batch, long seqlenQ, long seqlenK,
            int headsQ, int headsKv, int headDim, int headDimV, int numSplits);
    public static native int bd_cuda_attention_num_splits(long batch, int heads, long seqlenQ, long seqlenK, int headDim, int numSms);
}
