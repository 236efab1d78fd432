// Host memory, threads and the thread-local error string of the CPU library.
#include <omp.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "braindrip/cpu_runtime.h"
#include "braindrip/ops.h"
#include "cpu_common.hpp"

namespace bd::cpu {

static thread_local char g_last_error[1024] = {0};

int fail(int status, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(g_last_error, sizeof g_last_error, fmt, ap);
    va_end(ap);
    return status;
}

void clear_error() { g_last_error[0] = 0; }

static bool choose_avx512() {
    const char* want = std::getenv("BRAINDRIP_CPU_ISA");
    if (want && std::strcmp(want, "avx2") == 0) return false;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
}

bool use_avx512() {
    static const bool yes = choose_avx512();
    return yes;
}

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

}  // namespace bd::cpu

// ---- entry points

extern "C" const char* bd_cpu_last_error(void) { return bd::cpu::g_last_error; }

extern "C" void* bd_cpu_malloc(int64_t bytes) {
    if (bytes < 0) {
        bd::cpu::fail(BD_ERR_INVALID_ARGUMENT, "malloc: negative size %lld", (long long)bytes);
        return nullptr;
    }
    size_t n = (static_cast<size_t>(bytes) + 63) & ~static_cast<size_t>(63);
    if (n == 0) n = 64;
    void* p = std::aligned_alloc(64, n);
    if (!p) bd::cpu::fail(BD_ERR_OUT_OF_MEMORY, "malloc: out of host memory for %lld bytes", (long long)bytes);
    return p;
}

extern "C" void bd_cpu_free(void* p) { std::free(p); }

extern "C" int bd_cpu_memcpy(void* dst, const void* src, int64_t bytes) {
    BD_CHECK(bytes >= 0, "memcpy", "negative size %lld", (long long)bytes);
    if (bytes == 0) return BD_OK;
    BD_CHECK(dst && src, "memcpy", "null pointer");
    std::memmove(dst, src, static_cast<size_t>(bytes));
    return BD_OK;
}

extern "C" int bd_cpu_memset(void* p, int value, int64_t bytes) {
    BD_CHECK(bytes >= 0, "memset", "negative size %lld", (long long)bytes);
    if (bytes == 0) return BD_OK;
    BD_CHECK(p, "memset", "null pointer");
    std::memset(p, value, static_cast<size_t>(bytes));
    return BD_OK;
}

static int g_default_threads = 0;

extern "C" void bd_cpu_set_threads(int n) {
    if (g_default_threads == 0) g_default_threads = omp_get_max_threads();
    omp_set_num_threads(n > 0 ? n : g_default_threads);
}

extern "C" int bd_cpu_threads(void) { return omp_get_max_threads(); }
