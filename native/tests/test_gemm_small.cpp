// bd_test_gemm_small: bd_cpu_gemm_small (braindrip/cpu_gemm.h) against a double-precision
// reference on the same (storage-rounded) inputs: every m in 1..16, k with and without a tail past
// the 8-wide lanes, n below and above the threaded size, with and without accumulate, in F32, F16
// and BF16; bound: |c - ref| <= 1e-5 * sum |a||b| + half an ulp of the storage type at |ref|, and
// the argument checks (m out of range, overlap, dtype). Prints failures, then "N passed, M failed".
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "braindrip/cpu_gemm.h"
#include "cpu_common.hpp"

using namespace bd::cpu;

namespace {

int g_passed = 0, g_failed = 0;

void check(bool ok, const std::string& what) {
    if (ok) {
        ++g_passed;
    } else {
        ++g_failed;
        std::printf("FAIL %s\n", what.c_str());
    }
}

int64_t esize(int dt) { return dt == BD_F32 ? 4 : 2; }
double ulp_half(int dt, double v) {  // half an ulp of the storage type at |v| (relative)
    const double rel = dt == BD_F32 ? 0x1p-24 : dt == BD_F16 ? 0x1p-11 : 0x1p-8;
    return std::fabs(v) * rel * 2.0 + (dt == BD_F16 ? 0x1p-24 : 0.0);
}

void run(int dt, int64_t m, int64_t n, int64_t k, bool acc, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.f, 1.f);
    std::vector<uint8_t> a(m * k * esize(dt)), b(n * k * esize(dt)), c(m * n * esize(dt));
    for (int64_t i = 0; i < m * k; ++i) store(a.data(), dt, i, nd(rng));
    for (int64_t i = 0; i < n * k; ++i) store(b.data(), dt, i, nd(rng));
    for (int64_t i = 0; i < m * n; ++i) store(c.data(), dt, i, nd(rng));
    std::vector<double> ref(m * n), mag(m * n);
    for (int64_t r = 0; r < m; ++r)
        for (int64_t j = 0; j < n; ++j) {
            double s = acc ? load(c.data(), dt, r * n + j) : 0.0, g = std::fabs(s);
            for (int64_t i = 0; i < k; ++i) {
                const double p = (double)load(a.data(), dt, r * k + i) * load(b.data(), dt, j * k + i);
                s += p;
                g += std::fabs(p);
            }
            ref[r * n + j] = s;
            mag[r * n + j] = g;
        }
    const int st = bd_cpu_gemm_small(a.data(), b.data(), c.data(), m, n, k, acc ? 1 : 0, dt);
    double worst = 0;
    bool ok = st == BD_OK;
    for (int64_t i = 0; i < m * n && ok; ++i) {
        const double got = load(c.data(), dt, i);
        const double bound = 1e-5 * mag[i] + ulp_half(dt, ref[i]) + 1e-30;
        worst = std::max(worst, std::fabs(got - ref[i]) / bound);
        if (!(std::fabs(got - ref[i]) <= bound)) ok = false;
    }
    char what[160];
    std::snprintf(what, sizeof what, "gemm_small %s m %lld n %lld k %lld%s (status %d, worst error / bound %.3g)",
                  dt == BD_F32 ? "f32" : dt == BD_F16 ? "f16" : "bf16", (long long)m, (long long)n, (long long)k,
                  acc ? " accumulate" : "", st, worst);
    check(ok, what);
}

}  // namespace

int main() {
    uint32_t seed = 1;
    for (int dt : {BD_F32, BD_F16, BD_BF16}) {
        for (int64_t m = 1; m <= BD_CPU_GEMM_SMALL_MAX_M; ++m) run(dt, m, 37, 64, m % 3 == 0, seed++);
        for (int64_t k : {0, 1, 7, 8, 9, 100, 1027}) run(dt, 3, 21, k, k % 2 == 1, seed++);
        run(dt, 1, 2048, 1536, false, seed++);  // threaded (>= 256 KiB of weights)
        run(dt, 5, 4099, 256, true, seed++);
        run(dt, 16, 1000, 333, false, seed++);
    }
    std::vector<float> a(64), b(64), c(64);
    check(bd_cpu_gemm_small(a.data(), b.data(), c.data(), 0, 4, 4, 0, BD_F32) == BD_ERR_INVALID_ARGUMENT,
          "gemm_small rejects m = 0");
    check(bd_cpu_gemm_small(a.data(), b.data(), c.data(), 17, 1, 1, 0, BD_F32) == BD_ERR_INVALID_ARGUMENT,
          "gemm_small rejects m = 17");
    check(bd_cpu_gemm_small(a.data(), b.data(), c.data(), 1, 4, 4, 0, 7) == BD_ERR_INVALID_ARGUMENT,
          "gemm_small rejects an integer dtype");
    check(bd_cpu_gemm_small(a.data(), b.data(), a.data() + 2, 1, 4, 4, 0, BD_F32) == BD_ERR_INVALID_ARGUMENT,
          "gemm_small rejects c overlapping a");
    check(bd_cpu_gemm_small(a.data(), nullptr, c.data(), 1, 4, 4, 0, BD_F32) == BD_ERR_INVALID_ARGUMENT,
          "gemm_small rejects a null b");
    std::printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed == 0 ? 0 : 1;
}
