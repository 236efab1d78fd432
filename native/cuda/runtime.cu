// Device probe, memory, streams and events for Java, plus the CUDA library's error string.
// Safe without a driver: every call reports BD_ERR_NO_DEVICE instead of crashing.
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "braindrip/cuda_runtime_api.h"
#include "braindrip/ops.h"
#include "cuda_common.cuh"

namespace bd::cuda {

static thread_local char g_last_error[1024] = {0};

int fail(int status, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(g_last_error, sizeof g_last_error, fmt, ap);
    va_end(ap);
    return status;
}

static int status_of(cudaError_t err) {
    switch (err) {
        case cudaErrorInsufficientDriver:
        case cudaErrorNoDevice:
        case cudaErrorInitializationError: return BD_ERR_NO_DEVICE;
        case cudaErrorMemoryAllocation: return BD_ERR_OUT_OF_MEMORY;
        default: return BD_ERR_CUDA;
    }
}

int check_cuda(cudaError_t err, const char* what) {
    if (err == cudaSuccess) return BD_OK;
    // clear a non-sticky error (a failed cudaMalloc, say) so the next launch check does not
    // report it as its own
    cudaGetLastError();
    return fail(status_of(err), "%s: %s (%s)", what, cudaGetErrorString(err), cudaGetErrorName(err));
}

int check_launch(const char* kernel) { return check_cuda(cudaGetLastError(), kernel); }

const char* dtype_name(int dt) {
    switch (dt) {
        case BD_F32: return "F32";
        case BD_F16: return "F16";
        case BD_BF16: return "BF16";
        case BD_I32: return "I32";
        case BD_I64: return "I64";
        case BD_U8: return "U8";
        default: return "unknown dtype";
    }
}

}  // namespace bd::cuda

using bd::cuda::check_cuda;

// ---- entry points

extern "C" const char* bd_cuda_last_error(void) { return bd::cuda::g_last_error; }

extern "C" int bd_cuda_device_count(void) {
    int n = 0;
    cudaError_t err = cudaGetDeviceCount(&n);
    if (err != cudaSuccess) {
        check_cuda(err, "cudaGetDeviceCount");
        cudaGetLastError();  // clear the sticky-free error so later probes start clean
        return -1;
    }
    return n;
}

extern "C" int bd_cuda_set_device(int device) { return check_cuda(cudaSetDevice(device), "cudaSetDevice"); }

extern "C" int bd_cuda_device_info(int device, char* name, int name_len, int* major, int* minor,
                                   int* sms, int64_t* total_bytes) {
    cudaDeviceProp prop;
    int st = check_cuda(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
    if (st != BD_OK) return st;
    if (name && name_len > 0) {
        std::strncpy(name, prop.name, static_cast<size_t>(name_len) - 1);
        name[name_len - 1] = 0;
    }
    if (major) *major = prop.major;
    if (minor) *minor = prop.minor;
    if (sms) *sms = prop.multiProcessorCount;
    if (total_bytes) *total_bytes = static_cast<int64_t>(prop.totalGlobalMem);
    return BD_OK;
}

extern "C" int bd_cuda_mem_info(int64_t* free_bytes, int64_t* total_bytes) {
    size_t f = 0, t = 0;
    int st = check_cuda(cudaMemGetInfo(&f, &t), "cudaMemGetInfo");
    if (free_bytes) *free_bytes = static_cast<int64_t>(f);
    if (total_bytes) *total_bytes = static_cast<int64_t>(t);
    return st;
}

extern "C" void* bd_cuda_malloc(int64_t bytes) {
    if (bytes < 0) {
        bd::cuda::fail(BD_ERR_INVALID_ARGUMENT, "cudaMalloc: negative size %lld", (long long)bytes);
        return nullptr;
    }
    void* p = nullptr;
    // round up to 256 bytes so vectorized tails never read past the allocation
    size_t n = (static_cast<size_t>(bytes) + 255) & ~static_cast<size_t>(255);
    if (n == 0) n = 256;
    if (check_cuda(cudaMalloc(&p, n), "cudaMalloc") != BD_OK) return nullptr;
    return p;
}

extern "C" int bd_cuda_free(void* p) { return p ? check_cuda(cudaFree(p), "cudaFree") : BD_OK; }

extern "C" int bd_cuda_memcpy(void* dst, const void* src, int64_t bytes) {
    BD_CHECK(bytes >= 0, "memcpy", "negative size %lld", (long long)bytes);
    if (bytes == 0) return BD_OK;
    BD_CHECK(dst && src, "memcpy", "null pointer");
    return check_cuda(cudaMemcpy(dst, src, static_cast<size_t>(bytes), cudaMemcpyDefault), "cudaMemcpy");
}

extern "C" int bd_cuda_memcpy_async(void* dst, const void* src, int64_t bytes, void* stream) {
    BD_CHECK(bytes >= 0, "memcpy_async", "negative size %lld", (long long)bytes);
    if (bytes == 0) return BD_OK;
    BD_CHECK(dst && src, "memcpy_async", "null pointer");
    return check_cuda(cudaMemcpyAsync(dst, src, static_cast<size_t>(bytes), cudaMemcpyDefault,
                                      bd::cuda::as_stream(stream)),
                      "cudaMemcpyAsync");
}

extern "C" int bd_cuda_memset_async(void* p, int value, int64_t bytes, void* stream) {
    BD_CHECK(bytes >= 0, "memset_async", "negative size %lld", (long long)bytes);
    if (bytes == 0) return BD_OK;
    BD_CHECK(p, "memset_async", "null pointer");
    return check_cuda(cudaMemsetAsync(p, value, static_cast<size_t>(bytes), bd::cuda::as_stream(stream)),
                      "cudaMemsetAsync");
}

extern "C" int bd_cuda_device_synchronize(void) {
    return check_cuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
}

extern "C" void* bd_cuda_stream_create(void) {
    cudaStream_t s = nullptr;
    if (check_cuda(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate") != BD_OK)
        return nullptr;
    return s;
}

extern "C" int bd_cuda_stream_destroy(void* stream) {
    return stream ? check_cuda(cudaStreamDestroy(bd::cuda::as_stream(stream)), "cudaStreamDestroy") : BD_OK;
}

extern "C" int bd_cuda_stream_synchronize(void* stream) {
    return check_cuda(cudaStreamSynchronize(bd::cuda::as_stream(stream)), "cudaStreamSynchronize");
}

extern "C" void* bd_cuda_event_create(void) {
    cudaEvent_t e = nullptr;
    if (check_cuda(cudaEventCreate(&e), "cudaEventCreate") != BD_OK) return nullptr;
    return e;
}

extern "C" int bd_cuda_event_destroy(void* event) {
    return event ? check_cuda(cudaEventDestroy(static_cast<cudaEvent_t>(event)), "cudaEventDestroy") : BD_OK;
}

extern "C" int bd_cuda_event_record(void* event, void* stream) {
    BD_CHECK(event, "event_record", "null event");
    return check_cuda(cudaEventRecord(static_cast<cudaEvent_t>(event), bd::cuda::as_stream(stream)),
                      "cudaEventRecord");
}

extern "C" int bd_cuda_event_synchronize(void* event) {
    BD_CHECK(event, "event_synchronize", "null event");
    return check_cuda(cudaEventSynchronize(static_cast<cudaEvent_t>(event)), "cudaEventSynchronize");
}

extern "C" float bd_cuda_event_elapsed_ms(void* start, void* end) {
    float ms = 0.f;
    if (!start || !end) {
        bd::cuda::fail(BD_ERR_INVALID_ARGUMENT, "event_elapsed_ms: null event");
        return -1.f;
    }
    if (check_cuda(cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(start), static_cast<cudaEvent_t>(end)),
                   "cudaEventElapsedTime") != BD_OK)
        return -1.f;
    return ms;
}
