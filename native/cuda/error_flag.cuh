// A device word through which a kernel reports the first (lowest) position holding an invalid
// value (an embedding id or a cross-entropy target out of range): the entry point creates it set
// to "none" (all ones), the kernel lowers it with atomicMin, and the entry reads it back
// synchronously after the launch, so the call can fail with a message naming position and value.
// Stream-ordered allocation (cudaMallocAsync) keeps it off the device-wide synchronizing path.
#pragma once

#include "cuda_common.cuh"

namespace bd::cuda {

constexpr unsigned long long NO_ERROR_POSITION = ~0ull;

inline int error_flag_create(unsigned long long** flag, cudaStream_t stream, const char* what) {
    *flag = nullptr;
    int st = check_cuda(cudaMallocAsync(reinterpret_cast<void**>(flag), sizeof(unsigned long long), stream), what);
    if (st != BD_OK) return st;
    return check_cuda(cudaMemsetAsync(*flag, 0xff, sizeof(unsigned long long), stream), what);
}

// Frees the flag and waits for the stream; *first gets the lowest reported position or
// NO_ERROR_POSITION. Returns the first CUDA failure met, else BD_OK.
inline int error_flag_read(unsigned long long* flag, cudaStream_t stream, unsigned long long* first, const char* what) {
    unsigned long long host = NO_ERROR_POSITION;
    int st = check_cuda(cudaMemcpyAsync(&host, flag, sizeof host, cudaMemcpyDeviceToHost, stream), what);
    const int st_free = check_cuda(cudaFreeAsync(flag, stream), what);
    const int st_sync = check_cuda(cudaStreamSynchronize(stream), what);
    if (st == BD_OK) st = st_free;
    if (st == BD_OK) st = st_sync;
    *first = host;
    return st;
}

}  // namespace bd::cuda
