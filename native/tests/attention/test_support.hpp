// What the attention test binaries share: pass/fail counters with one-line failure reports, and
// (with BD_TEST_SUPPORT_CUDA defined before the include) scope-owned device buffers, guard-byte
// constants and a cudaEvent median timer over the C ABI. Each binary includes it once.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#ifdef BD_TEST_SUPPORT_CUDA
#include "braindrip/cuda_runtime_api.h"
#endif

namespace {

int g_passed = 0, g_failed = 0;

void report(bool ok, const std::string& what, const std::string& why = "") {
    if (ok) {
        ++g_passed;
    } else {
        ++g_failed;
        std::printf("FAIL %s%s%s\n", what.c_str(), why.empty() ? "" : ": ", why.c_str());
    }
    std::fflush(stdout);
}

#ifdef BD_TEST_SUPPORT_CUDA
// Device allocation freed on scope exit.
struct DevBuf {
    void* p = nullptr;
    DevBuf() = default;
    explicit DevBuf(size_t bytes) { p = bd_cuda_malloc((int64_t)std::max<size_t>(bytes, 1)); }
    DevBuf(const DevBuf&) = delete;
    DevBuf& operator=(const DevBuf&) = delete;
    ~DevBuf() { bd_cuda_free(p); }
    char* c() const { return static_cast<char*>(p); }
};

template <typename V>
void upload(DevBuf& d, const std::vector<V>& h) {
    d.p = bd_cuda_malloc((int64_t)std::max<size_t>(h.size() * sizeof(V), 1));
    if (!h.empty()) bd_cuda_memcpy(d.p, h.data(), (int64_t)(h.size() * sizeof(V)));
}

constexpr size_t kGuard = 256;  // bytes of kPattern on each side of every output buffer
constexpr unsigned char kPattern = 0xA5;

struct Timer {
    void* e0 = bd_cuda_event_create();
    void* e1 = bd_cuda_event_create();
    ~Timer() {
        bd_cuda_event_destroy(e0);
        bd_cuda_event_destroy(e1);
    }
    // median milliseconds of `repeats` runs of f after `warmup` runs
    template <typename F>
    double median_ms(F f, int warmup, int repeats) {
        for (int i = 0; i < warmup; ++i) f();
        bd_cuda_device_synchronize();
        std::vector<double> ms;
        for (int i = 0; i < repeats; ++i) {
            bd_cuda_event_record(e0, nullptr);
            f();
            bd_cuda_event_record(e1, nullptr);
            bd_cuda_event_synchronize(e1);
            ms.push_back(bd_cuda_event_elapsed_ms(e0, e1));
        }
        std::sort(ms.begin(), ms.end());
        return ms[ms.size() / 2];
    }
};
#endif

}  // namespace
