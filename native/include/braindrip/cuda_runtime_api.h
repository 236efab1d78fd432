/* braindrip C ABI: the CUDA runtime surface that Java needs (device probe, memory, streams,
 * events). Implemented in libbraindrip_cuda over the shared libcudart; no CUDA headers here.
 * Every function is safe to call on a machine without a driver: it returns an error code
 * (BD_ERR_NO_DEVICE), never crashes.
 */
#ifndef BRAINDRIP_CUDA_RUNTIME_API_H
#define BRAINDRIP_CUDA_RUNTIME_API_H

#include "braindrip/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Number of usable devices (>= 0), or -1 with bd_cuda_last_error() saying why (no driver...). */
int bd_cuda_device_count(void);
int bd_cuda_set_device(int device);
/* Name, compute capability, SM count, memory; returns bd_status. */
int bd_cuda_device_info(int device, char* name, int name_len, int* major, int* minor, int* sms,
                        int64_t* total_bytes);
int bd_cuda_mem_info(int64_t* free_bytes, int64_t* total_bytes);

/* Device memory. bd_cuda_malloc returns NULL on failure (message in bd_cuda_last_error). */
void* bd_cuda_malloc(int64_t bytes);
int bd_cuda_free(void* p);
/* Copies in any direction (cudaMemcpyDefault). The plain form is synchronous. */
int bd_cuda_memcpy(void* dst, const void* src, int64_t bytes);
int bd_cuda_memcpy_async(void* dst, const void* src, int64_t bytes, void* stream);
int bd_cuda_memset_async(void* p, int value, int64_t bytes, void* stream);
int bd_cuda_device_synchronize(void);

/* Streams and events. Create functions return NULL on failure. */
void* bd_cuda_stream_create(void);
int bd_cuda_stream_destroy(void* stream);
int bd_cuda_stream_synchronize(void* stream);
void* bd_cuda_event_create(void);
int bd_cuda_event_destroy(void* event);
int bd_cuda_event_record(void* event, void* stream);
int bd_cuda_event_synchronize(void* event);
/* Milliseconds between two recorded events, or a negative value on error. */
float bd_cuda_event_elapsed_ms(void* start, void* end);

#ifdef __cplusplus
}
#endif

#endif
