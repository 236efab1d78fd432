// bd_test_row_kernels: the vector toolkit of the CPU row kernels (native/cpu/vec.hpp) and the
// kernels' vector paths.
//   - vexp against F64 exp over [-110, 90] (normal results within 2 ulp, subnormal ones within
//     two units of the smallest subnormal) and its special values;
//   - sincos4 against F64 sin/cos of the same F32 angles in [0, 2^20] (within 1 ulp);
//   - store8/load8 for F16 and BF16 bit for bit against cpu_common.hpp's scalar store/load, on
//     random values, ties, subnormals, overflow and infinities (NaN: stays NaN);
//   - every row kernel against an F64 reference, in F32/F16/BF16, with row lengths that are and
//     are not a multiple of 8 (the tail path), on 1 row (the calling thread) and many rows (the
//     OpenMP path), each row also bit-identical between the two paths (softmax, SiLU, the tanh
//     GELU and their GLUs take their AVX-512 copies when the CPU has them; ctest runs the binary
//     again with BRAINDRIP_CPU_ISA=avx2);
//   - argmax's tie and NaN rules (first maximum; -0 == +0; a NaN row gives 0).
// Prints failures, then "N passed, M failed".
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "braindrip/ops.h"
#include "cpu_common.hpp"
#include "vec.hpp"

using namespace bd::cpu;

namespace {

int g_passed = 0, g_failed = 0;

void check(bool ok, const std::string& what) {
    if (ok) {
        ++g_passed;
    } else {
        ++g_failed;
        if (g_failed <= 40) std::printf("FAIL %s\n", what.c_str());
    }
}

double ulp_of(double v) { return std::ldexp(1.0, std::ilogb(std::fabs(v) < 0x1p-126 ? 0x1p-126 : v) - 23); }
int64_t esize(int dt) { return dt == BD_F32 ? 4 : 2; }
const char* dn(int dt) { return dt == BD_F32 ? "f32" : dt == BD_F16 ? "f16" : "bf16"; }

void check_vexp() {
    double worst = 0.0;
    int bad = 0;
    for (int i = 0; i <= 2000000; ++i) {
        float x[8];
        for (int k = 0; k < 8; ++k) x[k] = -110.f + 200.f * static_cast<float>(i * 8 + k) / 16000000.f;
        float y[8];
        vec::st(y, vec::vexp(vec::ld(x)));
        for (int k = 0; k < 8; ++k) {
            const double ref = std::exp(static_cast<double>(x[k]));
            double err;
            if (ref >= 0x1p-126 && ref <= 3.4028234663852886e38) err = std::fabs(y[k] - ref) / ulp_of(ref);
            else if (ref < 0x1p-126) err = std::fabs(y[k] - ref) / 0x1p-149 / 1.0;
            else err = std::isinf(y[k]) ? 0.0 : 1e9;
            if (err > worst) worst = err;
            if (err > 2.0 && bad++ < 5) std::printf("  vexp(%a) = %a, ref %a (%.2f)\n", x[k], y[k], ref, err);
        }
    }
    check(bad == 0, "vexp within 2 ulp on [-110, 90] (worst " + std::to_string(worst) + ")");
    const float sp[8] = {-INFINITY, INFINITY, NAN, 0.f, -0.f, 88.7f, 89.f, -104.f};
    float y[8];
    vec::st(y, vec::vexp(vec::ld(sp)));
    check(y[0] == 0.f && std::isinf(y[1]) && y[1] > 0 && std::isnan(y[2]) && y[3] == 1.f && y[4] == 1.f &&
              std::isfinite(y[5]) && std::isinf(y[6]) && y[7] >= 0.f && y[7] < 1e-44f,
          "vexp special values");
}

void check_sincos() {
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> u(0.f, 1.f);
    int bad = 0;
    double worst = 0.0;
    for (int i = 0; i < 400000; ++i) {
        float a[4], s[4], c[4];
        for (int k = 0; k < 4; ++k) {
            const float scale = std::ldexp(1.f, static_cast<int>(i % 21));  // up to 2^20
            a[k] = u(rng) * scale;
        }
        vec::sincos4(a, s, c);
        for (int k = 0; k < 4; ++k) {
            const double rs = std::sin(static_cast<double>(a[k])), rc = std::cos(static_cast<double>(a[k]));
            // within 1 ulp of the F32 result, or 2^-30 absolute near a zero of sin/cos
            const double es = std::fabs(s[k] - rs) / std::fmax(ulp_of(rs), 0x1p-30);
            const double ec = std::fabs(c[k] - rc) / std::fmax(ulp_of(rc), 0x1p-30);
            worst = std::fmax(worst, std::fmax(es, ec));
            if ((es > 1.0 || ec > 1.0) && bad++ < 5)
                std::printf("  sincos(%a) = %a %a, ref %a %a\n", a[k], s[k], c[k], rs, rc);
        }
    }
    check(bad == 0, "sincos4 within 1 ulp on [0, 2^20] (worst " + std::to_string(worst) + ")");
}

template <int DT>
void check_storage() {
    std::mt19937 rng(5);
    std::vector<float> v;
    std::normal_distribution<float> nd(0.f, 1.f);
    for (int i = 0; i < 200000; ++i) v.push_back(nd(rng) * std::ldexp(1.f, static_cast<int>(rng() % 60) - 30));
    // ties, subnormals, overflow, infinities
    const float sp[] = {0.f, -0.f, 65504.f, 65519.f, 65520.f, -65520.f, 1e30f, -1e30f, INFINITY, -INFINITY,
                        0x1p-24f, 0x1p-25f, 0x1.8p-25f, 0x1p-14f, 0x1.ff8p-15f, 3.0e-39f, -1e-45f,
                        1.00390625f, 1.01171875f, 3.3895314e38f, -3.3895314e38f};
    for (float f : sp) v.push_back(f);
    for (uint32_t b = 0x3f800000u; b < 0x3f800000u + 4096; ++b) {  // every rounding case of bits 0..11
        float f;
        std::memcpy(&f, &b, 4);
        v.push_back(f);
    }
    while (v.size() % 8) v.push_back(1.f);
    std::vector<uint16_t> hv(v.size()), hs(v.size());
    for (size_t i = 0; i < v.size(); i += 8) vec::store8<DT>(hv.data(), static_cast<int64_t>(i), vec::ld(v.data() + i));
    for (size_t i = 0; i < v.size(); ++i) store(hs.data(), DT, static_cast<int64_t>(i), v[i]);
    int bad = 0;
    for (size_t i = 0; i < v.size(); ++i)
        if (hv[i] != hs[i] && bad++ < 5) std::printf("  %s store %a: vector %04x scalar %04x\n", dn(DT), v[i], hv[i], hs[i]);
    check(bad == 0, std::string(dn(DT)) + " store8 equals the scalar store bit for bit");
    // loads: every 16-bit pattern
    std::vector<uint16_t> all(65536);
    for (int i = 0; i < 65536; ++i) all[i] = static_cast<uint16_t>(i);
    bad = 0;
    for (int i = 0; i < 65536; i += 8) {
        float f[8];
        vec::st(f, vec::load8<DT>(all.data(), i));
        for (int k = 0; k < 8; ++k) {
            const float s = load(all.data(), DT, i + k);
            const bool same = std::isnan(s) ? std::isnan(f[k]) : std::memcmp(&s, &f[k], 4) == 0;
            if (!same && bad++ < 5) std::printf("  %s load %04x: vector %a scalar %a\n", dn(DT), i + k, f[k], s);
        }
    }
    check(bad == 0, std::string(dn(DT)) + " load8 equals the scalar load on all 65536 patterns");
    float nanv[8] = {NAN, -NAN, 1.f, 1.f, 1.f, 1.f, 1.f, 1.f};
    uint16_t hn[8];
    vec::store8<DT>(hn, 0, vec::ld(nanv));
    check(std::isnan(load(hn, DT, 0)) && std::isnan(load(hn, DT, 1)), std::string(dn(DT)) + " NaN stays NaN");
}

// ---- row kernels against F64 references

struct Buf {
    int dt;
    std::vector<uint8_t> b;
    Buf(int d, int64_t n) : dt(d), b(static_cast<size_t>(n * esize(d))) {}
    void* p() { return b.data(); }
    double at(int64_t i) const { return load(b.data(), dt, i); }
    void set(int64_t i, float v) { store(b.data(), dt, i, v); }
};

double tol_of(int dt) { return dt == BD_F32 ? 1e-5 : dt == BD_F16 ? 2e-3 : 1.6e-2; }

// |got - ref| <= tol * (|ref| + scale) per element; scale: the row's magnitude
bool close_rows(const Buf& y, const std::vector<double>& ref, double tol, double scale, std::string& where) {
    for (size_t i = 0; i < ref.size(); ++i) {
        const double g = y.at(static_cast<int64_t>(i));
        // (+ one F16 subnormal step: below 2^-14 F16 keeps an absolute, not a relative, precision)
        if (!(std::fabs(g - ref[i]) <= tol * (std::fabs(ref[i]) + scale) + (y.dt == BD_F16 ? 0x1p-24 : 0.0))) {
            char m[160];
            std::snprintf(m, sizeof m, " at %zu: %.9g vs %.9g", i, g, ref[i]);
            where = m;
            return false;
        }
    }
    return true;
}

// Runs op on rows x cols and on its first row alone; checks against ref and that row 0 agrees.
template <typename Op, typename Ref>
void row_case(const char* name, int dt, int64_t rows, int64_t cols, int64_t in_cols, int64_t out_cols, Op op, Ref ref,
              double scale) {
    std::mt19937 rng(static_cast<uint32_t>(rows * 131 + cols));
    std::normal_distribution<float> nd(0.f, 1.5f);
    Buf x(dt, rows * in_cols), y(dt, rows * out_cols), y1(dt, out_cols);
    for (int64_t i = 0; i < rows * in_cols; ++i) x.set(i, nd(rng));
    std::vector<double> xd(rows * in_cols), yd(rows * out_cols);
    for (int64_t i = 0; i < rows * in_cols; ++i) xd[i] = x.at(i);
    int st = op(x.p(), y.p(), rows);
    st |= op(x.p(), y1.p(), 1);
    for (int64_t r = 0; r < rows; ++r) ref(xd.data() + r * in_cols, yd.data() + r * out_cols);
    std::string where;
    const std::string id = std::string(name) + " " + dn(dt) + " " + std::to_string(rows) + "x" + std::to_string(cols);
    check(st == BD_OK, id + " status " + bd_cpu_last_error());
    const bool close = close_rows(y, yd, tol_of(dt), scale, where);
    check(close, id + where);
    check(std::memcmp(y.p(), y1.p(), y1.b.size()) == 0, id + ": row 0 alone equals row 0 of the threaded call");
}

void check_kernels(int dt) {
    const float eps = 1e-5f;
    for (int64_t cols : {5, 8, 37, 4096}) {
        for (int64_t rows : {1, 9, 64}) {
            // weights
            std::vector<float> wf(cols), bf(cols);
            for (int64_t c = 0; c < cols; ++c) {
                wf[c] = 0.5f + 0.01f * static_cast<float>(c % 97);
                bf[c] = -0.2f + 0.003f * static_cast<float>(c % 53);
            }
            Buf w(dt, cols), b(dt, cols);
            for (int64_t c = 0; c < cols; ++c) {
                w.set(c, wf[c]);
                b.set(c, bf[c]);
            }
            std::vector<double> wd(cols), bd(cols);
            for (int64_t c = 0; c < cols; ++c) {
                wd[c] = w.at(c);
                bd[c] = b.at(c);
            }
            row_case("rmsnorm", dt, rows, cols, cols, cols,
                     [&](void* x, void* y, int64_t r) { return bd_cpu_rmsnorm(x, w.p(), y, r, cols, eps, dt, nullptr); },
                     [&](const double* x, double* y) {
                         double ss = 0;
                         for (int64_t c = 0; c < cols; ++c) ss += x[c] * x[c];
                         const double inv = 1.0 / std::sqrt(ss / cols + eps);
                         for (int64_t c = 0; c < cols; ++c) y[c] = x[c] * inv * wd[c];
                     },
                     0.05);
            row_case("layernorm", dt, rows, cols, cols, cols,
                     [&](void* x, void* y, int64_t r) { return bd_cpu_layernorm(x, w.p(), b.p(), y, r, cols, eps, dt, nullptr); },
                     [&](const double* x, double* y) {
                         double s = 0, ss = 0;
                         for (int64_t c = 0; c < cols; ++c) s += x[c];
                         const double mean = s / cols;
                         for (int64_t c = 0; c < cols; ++c) ss += (x[c] - mean) * (x[c] - mean);
                         const double rstd = 1.0 / std::sqrt(ss / cols + eps);
                         for (int64_t c = 0; c < cols; ++c) y[c] = (x[c] - mean) * rstd * wd[c] + bd[c];
                     },
                     0.05);
            row_case("softmax", dt, rows, cols, cols, cols,
                     [&](void* x, void* y, int64_t r) { return bd_cpu_softmax(x, y, r, cols, 0.7f, dt, nullptr); },
                     [&](const double* x, double* y) {
                         double m = -INFINITY, s = 0;
                         for (int64_t c = 0; c < cols; ++c) m = std::fmax(m, x[c] * (double)0.7f);
                         for (int64_t c = 0; c < cols; ++c) s += std::exp(x[c] * (double)0.7f - m);
                         for (int64_t c = 0; c < cols; ++c) y[c] = std::exp(x[c] * (double)0.7f - m) / s;
                     },
                     0.0);
            const int acts[] = {BD_ACT_RELU, BD_ACT_GELU, BD_ACT_GELU_TANH, BD_ACT_SILU};
            const char* an[] = {"relu", "gelu", "gelu_tanh", "silu"};
            for (int a = 0; a < 4; ++a)
                row_case(an[a], dt, rows, cols, cols, cols,
                         [&](void* x, void* y, int64_t r) { return bd_cpu_activation(x, y, r * cols, acts[a], dt, nullptr); },
                         [&](const double* x, double* y) {
                             for (int64_t c = 0; c < cols; ++c) {
                                 const double v = x[c];
                                 y[c] = a == 0 ? (v > 0 ? v : 0)
                                      : a == 1 ? 0.5 * v * std::erfc(-v / std::sqrt(2.0))
                                      : a == 2 ? 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)))
                                               : v / (1 + std::exp(-v));
                             }
                         },
                         1e-3);
            const int glus[] = {BD_GLU_SWIGLU, BD_GLU_GEGLU, BD_GLU_GEGLU_TANH};
            const char* gn[] = {"swiglu", "geglu", "geglu_tanh"};
            for (int g = 0; g < 3; ++g)
                row_case(gn[g], dt, rows, cols, 2 * cols, cols,
                         [&](void* x, void* y, int64_t r) { return bd_cpu_glu(x, y, r, cols, glus[g], dt, nullptr); },
                         [&](const double* x, double* y) {
                             for (int64_t c = 0; c < cols; ++c) {
                                 const double v = x[c], u = x[cols + c];
                                 const double gate = g == 0 ? v / (1 + std::exp(-v))
                                                   : g == 1 ? 0.5 * v * std::erfc(-v / std::sqrt(2.0))
                                                            : 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
                                 y[c] = gate * u;
                             }
                         },
                         1e-2);
            row_case("add_bias", dt, rows, cols, cols, cols,
                     [&](void* x, void* y, int64_t r) {
                         std::memcpy(y, x, static_cast<size_t>(r * cols * esize(dt)));
                         return bd_cpu_add_bias(y, b.p(), r, cols, dt, nullptr);
                     },
                     [&](const double* x, double* y) {
                         for (int64_t c = 0; c < cols; ++c) y[c] = x[c] + bd[c];
                     },
                     0.0);
        }
    }
}

void check_rope_kernel(int dt) {
    for (int style : {BD_ROPE_HALF, BD_ROPE_INTERLEAVED}) {
        for (auto [hd, rd] : {std::pair<int64_t, int64_t>{128, 128}, {24, 20}, {64, 32}, {10, 6}}) {
            const int64_t heads = 3;
            for (int64_t tokens : {1, 70}) {
                std::vector<int32_t> pos(tokens);
                for (int64_t t = 0; t < tokens; ++t) pos[t] = static_cast<int32_t>(t * 37 + 5);
                row_case(style == BD_ROPE_HALF ? "rope-half" : "rope-interleaved", dt, tokens, heads * hd, heads * hd, heads * hd,
                         [&](void* x, void* y, int64_t t) {
                             return bd_cpu_rope(x, pos.data(), BD_I32, y, t, heads, hd, rd, 10000.f, style, dt, nullptr);
                         },
                         [&, t = int64_t{0}](const double* x, double* y) mutable {
                             const int64_t tok = t++ % tokens;
                             const int64_t half = rd / 2;
                             for (int64_t h = 0; h < heads; ++h) {
                                 const double* xh = x + h * hd;
                                 double* yh = y + h * hd;
                                 for (int64_t ch = 0; ch < hd; ++ch) yh[ch] = xh[ch];
                                 for (int64_t p = 0; p < half; ++p) {
                                     const float invf = std::pow(10000.f, -static_cast<float>(2 * p) / static_cast<float>(rd));
                                     const double ang = static_cast<float>(pos[tok]) * invf;  // the F32 angle
                                     const int64_t a = style == BD_ROPE_HALF ? p : 2 * p, bb = style == BD_ROPE_HALF ? p + half : 2 * p + 1;
                                     yh[a] = xh[a] * std::cos(ang) - xh[bb] * std::sin(ang);
                                     yh[bb] = xh[bb] * std::cos(ang) + xh[a] * std::sin(ang);
                                 }
                             }
                         },
                         0.05);
            }
        }
    }
}

void check_cross_entropy(int dt) {
    for (int64_t cols : {3, 8, 1001}) {
        const int64_t rows = 40;
        std::mt19937 rng(static_cast<uint32_t>(cols));
        std::normal_distribution<float> nd(0.f, 3.f);
        Buf x(dt, rows * cols);
        for (int64_t i = 0; i < rows * cols; ++i) x.set(i, nd(rng));
        std::vector<int32_t> tg(rows);
        for (int64_t r = 0; r < rows; ++r) tg[r] = static_cast<int32_t>((r * 7) % cols);
        tg[3] = -100;
        std::vector<float> loss(rows), loss1(1);
        int st = bd_cpu_cross_entropy(x.p(), tg.data(), BD_I32, loss.data(), rows, cols, dt, nullptr);
        st |= bd_cpu_cross_entropy(x.p(), tg.data(), BD_I32, loss1.data(), 1, cols, dt, nullptr);
        bool ok = st == BD_OK && loss[3] == 0.f && loss1[0] == loss[0];
        for (int64_t r = 0; r < rows && ok; ++r) {
            if (tg[r] < 0) continue;
            double m = -INFINITY, s = 0;
            for (int64_t c = 0; c < cols; ++c) m = std::fmax(m, x.at(r * cols + c));
            for (int64_t c = 0; c < cols; ++c) s += std::exp(x.at(r * cols + c) - m);
            const double ref = std::log(s) + m - x.at(r * cols + tg[r]);
            ok = std::fabs(loss[r] - ref) <= 1e-5 * (std::fabs(ref) + std::fabs(m));
        }
        check(ok, std::string("cross_entropy ") + dn(dt) + " cols " + std::to_string(cols));
    }
}

void check_argmax() {
    // first maximum wins; -0 == +0; NaN never wins; a NaN row gives 0; tails past 8 columns
    const float a[] = {1, 3, 3, 2, 0, 0, 0, 0, 0, 0, 0};                    // 1
    const float b[] = {-0.f, -1, -2, -3, -4, -5, -6, -7, -8, 0.f, -1};       // 0
    const float c[] = {NAN, 1, NAN, 1, 2, NAN, 2, 0, 0, 0, 5};               // 10
    const float d[] = {NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN};  // 0
    const float e[] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY,
                       -INFINITY, -INFINITY, NAN, -INFINITY, -INFINITY};    // 0
    const float f[] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1};                    // 8
    std::vector<float> x;
    for (const float* r : {a, b, c, d, e, f}) x.insert(x.end(), r, r + 11);
    int32_t out[6];
    int st = bd_cpu_argmax(x.data(), out, 6, 11, BD_F32, nullptr);
    check(st == BD_OK && out[0] == 1 && out[1] == 0 && out[2] == 10 && out[3] == 0 && out[4] == 0 && out[5] == 8,
          "argmax ties, -0, NaN, tails: " + std::to_string(out[0]) + " " + std::to_string(out[1]) + " " +
              std::to_string(out[2]) + " " + std::to_string(out[3]) + " " + std::to_string(out[4]) + " " + std::to_string(out[5]));
    // many rows (the threaded path) against a scalar scan, BF16 (many equal values)
    const int64_t rows = 300, cols = 1000;
    Buf xb(BD_BF16, rows * cols);
    std::mt19937 rng(9);
    for (int64_t i = 0; i < rows * cols; ++i) xb.set(i, static_cast<float>(static_cast<int>(rng() % 64)));
    std::vector<int32_t> o(rows);
    st = bd_cpu_argmax(xb.p(), o.data(), rows, cols, BD_BF16, nullptr);
    bool ok = st == BD_OK;
    for (int64_t r = 0; r < rows && ok; ++r) {
        int64_t best = 0;
        for (int64_t j = 1; j < cols; ++j)
            if (xb.at(r * cols + j) > xb.at(r * cols + best)) best = j;
        ok = o[r] == best;
    }
    check(ok, "argmax bf16 300x1000 equals the first maximum");
}

}  // namespace

int main() {
    check_vexp();
    check_sincos();
    check_storage<BD_F16>();
    check_storage<BD_BF16>();
    for (int dt : {BD_F32, BD_F16, BD_BF16}) {
        check_kernels(dt);
        check_rope_kernel(dt);
        check_cross_entropy(dt);
    }
    check_argmax();
    std::printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed == 0 ? 0 : 1;
}
