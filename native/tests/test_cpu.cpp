// bd_test_cpu: checks of the CPU library that need no GPU.
//   1. F16 and BF16 conversions of cpu_common.hpp, exhaustively over the 16-bit space: every
//      pattern decodes to the value its bits define (computed with ldexpl), every finite value
//      round-trips, and the F32 inputs at, just below and just above every midpoint between
//      neighbours round to nearest even; plus random F32 bit patterns against a long double
//      reference rounding (nearbyintl).
//   2. Op sanity checks against double-precision references written out in full: known vectors
//      (rmsnorm, layernorm), rows of softmax summing to 1, RoPE at position 0 being the identity,
//      uniform logits giving log(cols), NaN/tie rules of argmax and top-k, the error paths of
//      embedding and cross-entropy, and fused add+norm equal to add followed by the norm.
//   3. The sampler's exact arithmetic (braindrip/sample_draw.h): Philox4x32-10 against Random123's
//      known-answer vectors (tests/kat_vectors), the portable ln / exp against long double, E = -ln u
//      over the whole 2^24-value range of u (both ends included), and bd_cpu_sample's rules on hand
//      examples (greedy ties, top-k ties, the top-p boundary, min-p, penalties, logprobs, errors).
// Prints one line per failed check, then "N passed, M failed"; exits 1 if any failed.
#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "braindrip/ops.h"
#include "braindrip/sample.h"
#include "braindrip/sample_draw.h"
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

std::string fmt(const char* f, ...) __attribute__((format(printf, 1, 2)));
std::string fmt(const char* f, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, f);
    std::vsnprintf(buf, sizeof buf, f, ap);
    va_end(ap);
    return buf;
}

uint32_t bits(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
}
float from_bits(uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

// ---- references for the 16-bit formats, from the definition of the bits

struct Format {
    const char* name;
    int exp_bits, man_bits;  // F16: 5, 10; BF16: 8, 7
    float (*decode)(uint16_t);
    uint16_t (*encode)(float);
    int bias() const { return (1 << (exp_bits - 1)) - 1; }
    int exp_max() const { return (1 << exp_bits) - 1; }
};

const Format F16 = {"F16", 5, 10, f16_to_f32, f32_to_f16};
const Format BF16 = {"BF16", 8, 7, bf16_to_f32, f32_to_bf16};

// The value of a 16-bit pattern (NaN for NaN patterns).
long double ref_decode(const Format& f, uint16_t h) {
    const int sign = h >> 15, e = (h >> f.man_bits) & f.exp_max(), m = h & ((1 << f.man_bits) - 1);
    long double v;
    if (e == f.exp_max()) v = m ? std::numeric_limits<long double>::quiet_NaN() : std::numeric_limits<long double>::infinity();
    else if (e == 0) v = std::ldexp(static_cast<long double>(m), 1 - f.bias() - f.man_bits);
    else v = std::ldexp(static_cast<long double>((1 << f.man_bits) + m), e - f.bias() - f.man_bits);
    return sign ? -v : v;
}

// Round a finite F32 to the format, to nearest even, by scaling to an integer significand in
// long double (exact) and letting nearbyintl round; returns the 16-bit pattern.
uint16_t ref_encode(const Format& f, float x) {
    const uint16_t sign = std::signbit(x) ? 0x8000 : 0;
    const long double a = std::fabs(static_cast<long double>(x));
    const int emin = 1 - f.bias();  // exponent of the smallest normal
    const int emax = f.exp_max() - 1 - f.bias();
    const uint16_t inf = static_cast<uint16_t>(f.exp_max() << f.man_bits);
    if (a == 0) return sign;
    int e = std::ilogb(a);
    if (e < emin) e = emin;  // subnormal range: fixed quantum 2^(emin - man_bits)
    long double q = std::nearbyint(std::ldexp(a, f.man_bits - e));
    if (q == std::ldexp(1.0L, f.man_bits + 1)) {  // rounded up into the next binade
        q /= 2;
        ++e;
    }
    if (e > emax) return sign | inf;
    const long double lead = std::ldexp(1.0L, f.man_bits);
    if (q < lead) return sign | static_cast<uint16_t>(q);  // subnormal (or rounded up to the smallest normal)
    return sign | static_cast<uint16_t>(((e + f.bias()) << f.man_bits) | static_cast<int>(q - lead));
}

void check_format(const Format& f) {
    struct Count {
        int n = 0;
        std::string first;
    } decode_bad, roundtrip_bad, midpoint_bad, random_bad;
    auto note = [](Count& c, const std::string& s) {
        if (c.n++ == 0) c.first = s;
    };
    for (uint32_t h = 0; h <= 0xffff; ++h) {
        const long double ref = ref_decode(f, static_cast<uint16_t>(h));
        const float got = f.decode(static_cast<uint16_t>(h));
        const bool nan = std::isnan(ref);
        if (nan ? !(std::isnan(got) && std::signbit(got) == bool(h >> 15))  // BF16 keeps a signaling payload
                : !(static_cast<long double>(got) == ref && std::signbit(got) == bool(h >> 15)))
            note(decode_bad, fmt("%s decode 0x%04x: got %a", f.name, h, got));
        if (nan) {
            const float back = f.decode(f.encode(got));
            if (!std::isnan(back)) note(roundtrip_bad, fmt("%s NaN 0x%04x did not stay NaN", f.name, h));
            continue;
        }
        if (f.encode(got) != h) note(roundtrip_bad, fmt("%s round trip 0x%04x -> %a -> 0x%04x", f.name, h, got, f.encode(got)));
        // midpoint to the next pattern of larger magnitude (the last finite one's is the overflow threshold)
        if ((h & 0x7fff) >= static_cast<uint32_t>(f.exp_max() << f.man_bits)) continue;  // inf
        const long double next = (h & 0x7fff) + 1 == static_cast<uint32_t>(f.exp_max() << f.man_bits)
                                     ? std::ldexp(1.0L, f.exp_max() - f.bias()) * (ref < 0 ? -1 : 1)
                                     : ref_decode(f, static_cast<uint16_t>(h + 1));
        const long double mid = (ref + next) / 2;  // exactly representable in F32 for both formats
        const float m = static_cast<float>(mid);
        if (static_cast<long double>(m) != mid) {
            note(midpoint_bad, fmt("%s midpoint after 0x%04x not exact in F32", f.name, h));
            continue;
        }
        for (float x : {m, std::nextafter(m, 0.f), std::nextafter(m, std::copysign(INFINITY, m))}) {
            const uint16_t want = ref_encode(f, x), got16 = f.encode(x);
            if (want != got16)
                note(midpoint_bad, fmt("%s encode %a: got 0x%04x want 0x%04x", f.name, x, got16, want));
        }
    }
    std::mt19937 rng(12345);
    for (int i = 0; i < (1 << 22); ++i) {
        const float x = from_bits(rng());
        if (std::isnan(x)) {
            if (!std::isnan(f.decode(f.encode(x)))) note(random_bad, fmt("%s NaN %a encoded to a number", f.name, x));
            continue;
        }
        const uint16_t want = ref_encode(f, x), got16 = f.encode(x);
        if (want != got16) note(random_bad, fmt("%s encode %a: got 0x%04x want 0x%04x", f.name, x, got16, want));
    }
    check(decode_bad.n == 0, fmt("%s: %d patterns decode wrong; first: %s", f.name, decode_bad.n, decode_bad.first.c_str()));
    check(roundtrip_bad.n == 0,
          fmt("%s: %d values do not round-trip; first: %s", f.name, roundtrip_bad.n, roundtrip_bad.first.c_str()));
    check(midpoint_bad.n == 0,
          fmt("%s: %d midpoint roundings wrong; first: %s", f.name, midpoint_bad.n, midpoint_bad.first.c_str()));
    check(random_bad.n == 0,
          fmt("%s: %d of 4M random F32 round wrong; first: %s", f.name, random_bad.n, random_bad.first.c_str()));
}

// ---- op sanity checks

std::vector<uint8_t> buffer(int dt, int64_t n) { return std::vector<uint8_t>(static_cast<size_t>(n) * (dt == BD_F32 ? 4 : 2)); }

std::vector<uint8_t> from_doubles(int dt, const std::vector<double>& v) {
    std::vector<uint8_t> b = buffer(dt, static_cast<int64_t>(v.size()));
    for (size_t i = 0; i < v.size(); ++i) store(b.data(), dt, static_cast<int64_t>(i), static_cast<float>(v[i]));
    return b;
}

std::vector<double> to_doubles(int dt, const std::vector<uint8_t>& b, int64_t n) {
    std::vector<double> v(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) v[i] = load(b.data(), dt, i);
    return v;
}

// max |a - b| / max(1, |b|)
double max_rel(const std::vector<double>& a, const std::vector<double>& b) {
    double e = 0;
    for (size_t i = 0; i < a.size(); ++i) e = std::max(e, std::fabs(a[i] - b[i]) / std::max(1.0, std::fabs(b[i])));
    return e;
}

double tol_of(int dt) { return dt == BD_F32 ? 1e-5 : dt == BD_F16 ? 2e-3 : 1.6e-2; }
const char* dt_name(int dt) { return dtype_name(dt); }

void check_rmsnorm_layernorm(int dt) {
    const std::vector<double> x = {1, 2, 3, 4};
    auto xb = from_doubles(dt, x), w = from_doubles(dt, {1, 1, 1, 1}), b = from_doubles(dt, {0.5, 0.5, 0.5, 0.5});
    auto y = buffer(dt, 4);
    int st = bd_cpu_rmsnorm(xb.data(), w.data(), y.data(), 1, 4, 0.f, dt, nullptr);
    std::vector<double> want(4);
    for (int i = 0; i < 4; ++i) want[i] = x[i] / std::sqrt(7.5);
    check(st == BD_OK && max_rel(to_doubles(dt, y, 4), want) < tol_of(dt), fmt("rmsnorm of [1,2,3,4] (%s)", dt_name(dt)));
    st = bd_cpu_layernorm(xb.data(), w.data(), b.data(), y.data(), 1, 4, 0.f, dt, nullptr);
    for (int i = 0; i < 4; ++i) want[i] = (x[i] - 2.5) / std::sqrt(1.25) + 0.5;
    check(st == BD_OK && max_rel(to_doubles(dt, y, 4), want) < tol_of(dt), fmt("layernorm of [1,2,3,4] + 0.5 (%s)", dt_name(dt)));
    // a large common offset must not cancel (two-pass variance): [1e4 + 1, 1e4 + 2, ...] in F32
    if (dt == BD_F32) {
        auto xo = from_doubles(dt, {10001, 10002, 10003, 10004});
        st = bd_cpu_layernorm(xo.data(), w.data(), nullptr, y.data(), 1, 4, 0.f, dt, nullptr);
        for (int i = 0; i < 4; ++i) want[i] = (x[i] - 2.5) / std::sqrt(1.25);
        check(st == BD_OK && max_rel(to_doubles(dt, y, 4), want) < 1e-4, "layernorm with offset 1e4 (F32)");
    }
}

void check_fused_equals_unfused(int dt) {
    std::mt19937_64 rng(7);
    std::normal_distribution<double> nd;
    const int64_t rows = 5, cols = 301;
    std::vector<double> xv(rows * cols), rv(rows * cols), wv(cols), bv(cols);
    for (auto* v : {&xv, &rv}) for (double& e : *v) e = nd(rng);
    for (double& e : wv) e = 1 + 0.1 * nd(rng);
    for (double& e : bv) e = 0.1 * nd(rng);
    auto x = from_doubles(dt, xv), r = from_doubles(dt, rv), w = from_doubles(dt, wv), b = from_doubles(dt, bv);
    auto sum1 = buffer(dt, rows * cols), sum2 = buffer(dt, rows * cols);
    auto y1 = buffer(dt, rows * cols), y2 = buffer(dt, rows * cols);
    bd_cpu_add(x.data(), r.data(), sum2.data(), rows * cols, dt, nullptr);
    bd_cpu_add_rmsnorm(x.data(), r.data(), w.data(), y1.data(), sum1.data(), rows, cols, 1e-6f, dt, nullptr);
    bd_cpu_rmsnorm(sum2.data(), w.data(), y2.data(), rows, cols, 1e-6f, dt, nullptr);
    check(sum1 == sum2 && y1 == y2, fmt("add_rmsnorm == add then rmsnorm, bit for bit (%s)", dt_name(dt)));
    bd_cpu_add_layernorm(x.data(), r.data(), w.data(), b.data(), y1.data(), sum1.data(), rows, cols, 1e-5f, dt, nullptr);
    bd_cpu_layernorm(sum2.data(), w.data(), b.data(), y2.data(), rows, cols, 1e-5f, dt, nullptr);
    check(sum1 == sum2 && y1 == y2, fmt("add_layernorm == add then layernorm, bit for bit (%s)", dt_name(dt)));
}

void check_softmax(int dt) {
    std::mt19937_64 rng(11);
    std::normal_distribution<double> nd;
    const int64_t rows = 3, cols = 1000;
    std::vector<double> xv(rows * cols);
    for (double& e : xv) e = 4 * nd(rng);
    xv[5] = -INFINITY;
    auto x = from_doubles(dt, xv), y = buffer(dt, rows * cols);
    const float inv_t = 1.f / 0.8f;
    int st = bd_cpu_softmax(x.data(), y.data(), rows, cols, inv_t, dt, nullptr);
    auto xs = to_doubles(dt, x, rows * cols), ys = to_doubles(dt, y, rows * cols);
    double worst_sum = 0, worst = 0;
    for (int64_t r = 0; r < rows; ++r) {
        double m = -INFINITY, s = 0, total = 0;
        for (int64_t c = 0; c < cols; ++c) m = std::max(m, xs[r * cols + c] * inv_t);
        for (int64_t c = 0; c < cols; ++c) s += std::exp(xs[r * cols + c] * inv_t - m);
        for (int64_t c = 0; c < cols; ++c) {
            const double p = std::exp(xs[r * cols + c] * inv_t - m) / s;
            worst = std::max(worst, std::fabs(ys[r * cols + c] - p) / std::max(p, 1e-30) * (p > 1e-4));  // F16 normals start at 6.1e-5
            total += ys[r * cols + c];
        }
        worst_sum = std::max(worst_sum, std::fabs(total - 1));
    }
    const double sum_tol = dt == BD_F32 ? 1e-5 : dt == BD_F16 ? 2e-3 : 2e-2;
    check(st == BD_OK && worst_sum < sum_tol, fmt("softmax rows sum to 1 (%s): worst |sum - 1| = %g", dt_name(dt), worst_sum));
    check(worst < tol_of(dt), fmt("softmax against a double reference (%s): worst rel %g", dt_name(dt), worst));
    check(ys[5] == 0, fmt("softmax of -inf is 0 (%s)", dt_name(dt)));
    // a fully masked row gives zeros, never NaN
    std::vector<double> masked(8, -INFINITY);
    auto xm = from_doubles(dt, masked), ym = buffer(dt, 8);
    st = bd_cpu_softmax(xm.data(), ym.data(), 1, 8, 1.f, dt, nullptr);
    auto yd = to_doubles(dt, ym, 8);
    check(st == BD_OK && std::all_of(yd.begin(), yd.end(), [](double v) { return v == 0; }),
          fmt("softmax of a fully masked row is all zeros (%s)", dt_name(dt)));
}

void check_rope(int dt) {
    const int64_t tokens = 2, heads = 3, hd = 10, rd = 8;
    std::mt19937_64 rng(3);
    std::normal_distribution<double> nd;
    std::vector<double> xv(tokens * heads * hd);
    for (double& e : xv) e = nd(rng);
    auto x = from_doubles(dt, xv), y = buffer(dt, tokens * heads * hd);
    const int32_t pos[2] = {0, 5};
    for (int style : {BD_ROPE_HALF, BD_ROPE_INTERLEAVED}) {
        int st = bd_cpu_rope(x.data(), pos, BD_I32, y.data(), tokens, heads, hd, rd, 10000.f, style, dt, nullptr);
        const size_t es = dt == BD_F32 ? 4 : 2;
        const bool identity = std::memcmp(x.data(), y.data(), heads * hd * es) == 0;
        check(st == BD_OK && identity, fmt("rope at position 0 is the identity (%s, style %d)", dt_name(dt), style));
        // token 1 at position 5 against a double reference
        auto xs = to_doubles(dt, x, tokens * heads * hd), ys = to_doubles(dt, y, tokens * heads * hd);
        std::vector<double> want(xs.begin() + heads * hd, xs.end()), got(ys.begin() + heads * hd, ys.end());
        for (int64_t h = 0; h < heads; ++h)
            for (int64_t p = 0; p < rd / 2; ++p) {
                const int64_t a = style == BD_ROPE_HALF ? p : 2 * p, b = style == BD_ROPE_HALF ? p + rd / 2 : 2 * p + 1;
                const double ang = 5.0 * std::pow(10000.0, -2.0 * p / rd);
                const double xa = xs[heads * hd + h * hd + a], xb = xs[heads * hd + h * hd + b];
                want[h * hd + a] = xa * std::cos(ang) - xb * std::sin(ang);
                want[h * hd + b] = xb * std::cos(ang) + xa * std::sin(ang);
            }
        check(st == BD_OK && max_rel(got, want) < tol_of(dt), fmt("rope at position 5 against double (%s, style %d)", dt_name(dt), style));
        // in place gives the same bits as out of place
        auto z = x;
        st = bd_cpu_rope(z.data(), pos, BD_I32, z.data(), tokens, heads, hd, rd, 10000.f, style, dt, nullptr);
        check(st == BD_OK && z == y, fmt("rope in place == out of place (%s, style %d)", dt_name(dt), style));
    }
}

void check_activations(int dt) {
    const std::vector<double> x = {-3, -1, -0.5, 0, 0.5, 1, 3};
    auto xb = from_doubles(dt, x), y = buffer(dt, 7);
    auto ref = [](int act, double v) {
        switch (act) {
            case BD_ACT_RELU: return v > 0 ? v : 0.0;
            case BD_ACT_GELU: return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)));
            case BD_ACT_GELU_TANH: return 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
            default: return v / (1 + std::exp(-v));
        }
    };
    for (int act = BD_ACT_RELU; act <= BD_ACT_SILU; ++act) {
        int st = bd_cpu_activation(xb.data(), y.data(), 7, act, dt, nullptr);
        std::vector<double> want(7);
        for (int i = 0; i < 7; ++i) want[i] = ref(act, load(xb.data(), dt, i));
        check(st == BD_OK && max_rel(to_doubles(dt, y, 7), want) < tol_of(dt), fmt("activation %d at known points (%s)", act, dt_name(dt)));
    }
    // glu: x (2, 2F) with F = 3, gate first
    const std::vector<double> g = {-1, 0.5, 2, 1, 2, 3, 0.25, -2, 1, -1, 1, 0.5};
    auto gb = from_doubles(dt, g), gy = buffer(dt, 6);
    const int acts[] = {BD_ACT_SILU, BD_ACT_GELU, BD_ACT_GELU_TANH};
    for (int glu = BD_GLU_SWIGLU; glu <= BD_GLU_GEGLU_TANH; ++glu) {
        int st = bd_cpu_glu(gb.data(), gy.data(), 2, 3, glu, dt, nullptr);
        std::vector<double> want(6);
        for (int r = 0; r < 2; ++r)
            for (int c = 0; c < 3; ++c)
                want[r * 3 + c] = ref(acts[glu], load(gb.data(), dt, r * 6 + c)) * load(gb.data(), dt, r * 6 + 3 + c);
        check(st == BD_OK && max_rel(to_doubles(dt, gy, 6), want) < tol_of(dt), fmt("glu %d (%s)", glu, dt_name(dt)));
    }
    // glu_clamped (Phi-3-small's gegelu) with limit 1.5: the gate 2 and the ups 2, 3 are clamped
    for (float limit : {1.5f, INFINITY}) {
        int st = bd_cpu_glu_clamped(gb.data(), gy.data(), 2, 3, limit, dt, nullptr);
        std::vector<double> want(6);
        for (int r = 0; r < 2; ++r)
            for (int c = 0; c < 3; ++c) {
                double gate = std::min<double>(load(gb.data(), dt, r * 6 + c), limit);
                double up = std::max<double>(-limit, std::min<double>(limit, load(gb.data(), dt, r * 6 + 3 + c)));
                want[r * 3 + c] = gate / (1 + std::exp(-1.702 * gate)) * (up + 1);
            }
        check(st == BD_OK && max_rel(to_doubles(dt, gy, 6), want) < tol_of(dt), fmt("glu_clamped limit %g (%s)", limit, dt_name(dt)));
    }
    // add_bias and scale
    auto yb = from_doubles(dt, {1, 2, 3, 4, 5, 6}), bias = from_doubles(dt, {0.5, -1, 2});
    int st = bd_cpu_add_bias(yb.data(), bias.data(), 2, 3, dt, nullptr);
    check(st == BD_OK && to_doubles(dt, yb, 6) == std::vector<double>({1.5, 1, 5, 4.5, 4, 8}), fmt("add_bias (%s)", dt_name(dt)));
    st = bd_cpu_scale(yb.data(), yb.data(), 6, 2.f, dt, nullptr);
    check(st == BD_OK && to_doubles(dt, yb, 6) == std::vector<double>({3, 2, 10, 9, 8, 16}), fmt("scale in place (%s)", dt_name(dt)));
}

void check_convert() {
    const std::vector<double> v = {0.1, -2.5, 65504, 1e-6, 3.14159, -0.0};
    auto f = from_doubles(BD_F32, v);
    for (int dst : {BD_F16, BD_BF16}) {
        auto h = buffer(dst, 6);
        auto back = buffer(BD_F32, 6);
        int st = bd_cpu_convert(f.data(), BD_F32, h.data(), dst, 6, nullptr);
        st |= bd_cpu_convert(h.data(), dst, back.data(), BD_F32, 6, nullptr);
        bool ok = st == BD_OK;
        for (int i = 0; i < 6; ++i) ok &= bits(load(back.data(), BD_F32, i)) == bits(round_to(dst, static_cast<float>(v[i])));
        check(ok, fmt("convert F32 -> %s -> F32 equals round_to", dt_name(dst)));
    }
}

void check_argmax_topk() {
    // row 0: ties at max -> lower index; row 1: NaN never wins; row 2: all NaN -> 0; row 3: -0 vs +0 tie
    const float nan = NAN;
    const std::vector<float> x = {1, 3, 2, 3, 0,  nan, -1, nan, -2, -1,  nan, nan, nan, nan, nan,  -INFINITY, -0.f, 0.f, -5, -INFINITY};
    int32_t out[4] = {-1, -1, -1, -1};
    int st = bd_cpu_argmax(x.data(), out, 4, 5, BD_F32, nullptr);
    check(st == BD_OK && out[0] == 1 && out[1] == 1 && out[2] == 0 && out[3] == 1,
          fmt("argmax ties/NaN rules: got %d %d %d %d, want 1 1 0 1", out[0], out[1], out[2], out[3]));
    float vals[20];
    int32_t idx[20];
    st = bd_cpu_topk(x.data(), vals, idx, 4, 5, 5, BD_F32, nullptr);
    const int32_t want[20] = {1, 3, 2, 0, 4,  1, 4, 3, 0, 2,  0, 1, 2, 3, 4,  1, 2, 3, 0, 4};
    check(st == BD_OK && std::equal(idx, idx + 20, want), "topk full sort: descending, ties lower index first, NaN last");
    bool vals_ok = true;
    for (int i = 0; i < 20; ++i) vals_ok &= bits(vals[i]) == bits(x[(i / 5) * 5 + idx[i]]);
    check(vals_ok, "topk values are the row's values at the indices");
    st = bd_cpu_topk(x.data(), vals, idx, 4, 5, 2, BD_F32, nullptr);
    check(st == BD_OK && idx[0] == 1 && idx[1] == 3 && idx[2] == 1 && idx[3] == 4, "topk k=2 is the prefix of the full sort");
    // larger random rows against std::stable_sort on value (descending), NaN excluded
    std::mt19937_64 rng(5);
    std::uniform_int_distribution<int> ud(0, 50);
    std::vector<float> r(3 * 777);
    for (float& e : r) e = static_cast<float>(ud(rng));  // many ties
    std::vector<float> tv(3 * 100);
    std::vector<int32_t> ti(3 * 100);
    st = bd_cpu_topk(r.data(), tv.data(), ti.data(), 3, 777, 100, BD_F32, nullptr);
    bool ok = st == BD_OK;
    for (int row = 0; row < 3; ++row) {
        std::vector<int32_t> order(777);
        for (int i = 0; i < 777; ++i) order[i] = i;
        std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return r[row * 777 + a] > r[row * 777 + b]; });
        ok &= std::equal(order.begin(), order.begin() + 100, ti.begin() + row * 100);
    }
    check(ok, "topk k=100 of 777 with ties equals a stable descending sort");
}

// ---- the sampler

void check_philox() {
    // Random123 tests/kat_vectors: "philox4x32 10 <ctr0..3> <key0..1> <out0..3>"
    struct Kat { uint32_t ctr[4], key[2], out[4]; };
    const Kat kats[] = {
        {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}},
        {{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, {0xffffffffu, 0xffffffffu},
         {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}},
        {{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}, {0xa4093822u, 0x299f31d0u},
         {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}},
    };
    for (const Kat& k : kats) {
        uint32_t out[4];
        bd_philox4x32_10(k.ctr, k.key, out);
        check(std::equal(out, out + 4, k.out), fmt("philox4x32-10 ctr %08x.. key %08x %08x: got %08x %08x %08x %08x", k.ctr[0],
                                                   k.key[0], k.key[1], out[0], out[1], out[2], out[3]));
    }
    // the sampler's word: key = seed (low, high), counter = (id, step low, step high, 0)
    const uint32_t ctr[4] = {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0};
    const uint32_t key[2] = {0xa4093822u, 0x299f31d0u};
    uint32_t out[4];
    bd_philox4x32_10(ctr, key, out);
    check(bd_sample_random_bits(0x299f31d0a4093822ull, static_cast<int64_t>(0x13198a2e85a308d3ull), 0x243f6a88u) == out[0],
          "bd_sample_random_bits packs seed and step low word first");
}

void check_sample_math() {
    // ln: relative error against long double over [2^-149, 2^20] (subnormals included) and ln 1 == 0
    std::mt19937_64 rng(11);
    double worst_log = 0, worst_exp = 0;
    for (int i = 0; i < 2000000; ++i) {
        const float x = from_bits(static_cast<uint32_t>(rng() % 0x4b800000u) + 1u);  // (0, 2^24)
        const long double want = std::log(static_cast<long double>(x));
        const long double err = std::fabs(bd_sample_logf(x) - want) / std::max(1.0L, std::fabs(want));
        worst_log = std::max(worst_log, static_cast<double>(err));
    }
    // the race adds ln E to s, so the error that matters is absolute (relative above |ln x| = 1)
    check(worst_log < 2.5e-7, fmt("portable ln: worst error %.3g (absolute, relative above 1)", worst_log));
    check(bd_sample_logf(1.f) == 0.f && bd_sample_logf(0.f) == -INFINITY && std::isnan(bd_sample_logf(-1.f)),
          "portable ln: ln 1 = 0, ln 0 = -inf, ln -1 = NaN");
    for (int i = 0; i < 2000000; ++i) {
        const float d = -87.f * static_cast<float>(std::uniform_real_distribution<double>(0, 1)(rng));
        const long double want = std::exp(static_cast<long double>(d));
        worst_exp = std::max(worst_exp, static_cast<double>(std::fabs((bd_sample_exp_nonpos(d) - want) / want)));
    }
    check(worst_exp < 2.5e-7, fmt("portable exp on [-87, 0]: worst relative error %.3g", worst_exp));
    check(bd_sample_exp_nonpos(0.f) == 1.f && bd_sample_exp_nonpos(-INFINITY) == 0.f && bd_sample_exp_nonpos(-100.f) == 0.f,
          "portable exp: e^0 = 1, e^-inf = 0, 0 below -87");
    // E = -ln u for u = (m + 0.5) 2^-24, every m (the ends are where F32 u would fail)
    double worst_e = 0;
    for (uint32_t m = 0; m < (1u << 24); ++m) {
        const long double u = (static_cast<long double>(m) + 0.5L) / 16777216.0L;
        const long double want = -std::log(u);
        const float got = bd_sample_neg_log_uniform(m << 8 | (m & 255u));  // the low 8 bits are ignored
        worst_e = std::max(worst_e, static_cast<double>(std::fabs((got - want) / want)));
    }
    check(worst_e < 2.5e-7, fmt("E = -ln u over all 2^24 u: worst relative error %.3g", worst_e));
    check(bd_sample_neg_log_uniform(0xffffffffu) > 0.f && bd_sample_neg_log_uniform(0) < 17.4f,
          "E is positive and finite at both ends of u");
    // the race's pruning bound: an id is skipped only if even its largest possible key (the smallest
    // E) is below the best, for any logit magnitude
    const float ln_e_min = bd_sample_logf(bd_sample_neg_log_uniform(0xffffffffu));
    bool sound = true;
    for (float s : {-3e38f, -1e7f, -4097.5f, -100.f, -1.f, 0.f, 0.37f, 5.f, 1e4f, 1e7f, 3e38f}) {
        const float race_max = s - ln_e_min;
        sound &= !bd_sample_race_cannot_win(s, race_max) && bd_sample_race_cannot_win(s, race_max + 1.f + std::fabs(race_max) * 1e-6f);
    }
    check(sound && bd_sample_race_cannot_win(-INFINITY, -1e30f) && !bd_sample_race_cannot_win(-INFINITY, -INFINITY),
          fmt("race pruning: never skips an id that could reach the best (ln E_min = %.6f)", ln_e_min));
}

struct SampleCall {
    int64_t rows, vocab;
    std::vector<float> logits, temperature, top_p, min_p, rep, presence, frequency;
    std::vector<int32_t> top_k, n_logprobs, history, prompt;
    std::vector<uint64_t> seed;
    std::vector<int64_t> step, offsets;
    std::vector<int32_t> ids, top_ids;
    std::vector<float> logprobs, top_logprobs, processed;
    std::vector<uint8_t> workspace;
    int64_t max_logprobs = 0;

    SampleCall(int64_t r, int64_t v, std::vector<float> x)
        : rows(r), vocab(v), logits(std::move(x)), temperature(r, 1.f), top_p(r, 1.f), min_p(r, 0.f), rep(r, 1.f),
          presence(r, 0.f), frequency(r, 0.f), top_k(r, 0), n_logprobs(r, 0), prompt(r, 0), seed(r, 7), step(r, 0),
          offsets(r + 1, 0) {}

    int run() {
        ids.assign(rows, -2);
        logprobs.assign(rows, 0.f);
        top_ids.assign(rows * max_logprobs, -2);
        top_logprobs.assign(rows * max_logprobs, 0.f);
        processed.assign(rows * vocab, 0.f);
        workspace.assign(bd_cpu_sample_workspace_bytes(rows, vocab, max_logprobs), 0);
        bd_sample_params p;
        bd_sample_params_init(&p, BD_F32, rows, vocab);
        p.logits = logits.data();
        p.temperature = temperature.data();
        p.top_k = top_k.data();
        p.top_p = top_p.data();
        p.min_p = min_p.data();
        p.repetition_penalty = rep.data();
        p.presence_penalty = presence.data();
        p.frequency_penalty = frequency.data();
        p.seed = seed.data();
        p.step = step.data();
        p.n_logprobs = n_logprobs.data();
        p.history = history.empty() ? nullptr : history.data();
        p.history_len = static_cast<int64_t>(history.size());
        p.history_offsets = offsets.data();
        p.history_prompt = prompt.data();
        p.out_ids = ids.data();
        p.out_logprobs = logprobs.data();
        p.top_ids = max_logprobs ? top_ids.data() : nullptr;
        p.top_logprobs = max_logprobs ? top_logprobs.data() : nullptr;
        p.max_logprobs = max_logprobs;
        p.processed = processed.data();
        p.workspace = workspace.data();
        p.workspace_bytes = static_cast<int64_t>(workspace.size());
        return bd_cpu_sample(&p, nullptr);
    }

    int kept(int64_t r) const {
        int n = 0;
        for (int64_t i = 0; i < vocab; ++i) n += processed[r * vocab + i] != -INFINITY;
        return n;
    }
};

void check_sample() {
    // greedy: ties to the lower id; processed = the logits
    SampleCall g(2, 5, {1, 3, 2, 3, 0, -1, -1, -1, -1, -1});
    g.temperature = {0, 0};
    check(g.run() == BD_OK && g.ids[0] == 1 && g.ids[1] == 0 && g.processed[3] == 3.f, "sample greedy: ties to the lower id");
    // top-k with ties at the boundary: {5, 4, 4, 4, 1}, k = 2 keeps ids 0 and 1
    SampleCall k(1, 5, {5, 4, 4, 4, 1});
    k.top_k = {2};
    check(k.run() == BD_OK && k.kept(0) == 2 && k.processed[1] == 4.f && k.processed[2] == -INFINITY,
          "sample top-k: exactly k kept, ties toward the lower id");
    // top-p: four equal logits, top_p 0.5 keeps exactly the two lowest ids (mass before id 2 reaches 0.5)
    SampleCall tp(1, 4, {2, 2, 2, 2});
    tp.top_p = {0.5f};
    int st = tp.run();
    check(st == BD_OK && tp.kept(0) == 2 && tp.processed[0] == 2.f && tp.processed[1] == 2.f,
          fmt("sample top-p 0.5 of four equal: keeps 2 (got %d)", tp.kept(0)));
    tp.top_p = {0.25f};
    check(tp.run() == BD_OK && tp.kept(0) == 1 && tp.ids[0] == 0, "sample top-p 0.25 of four equal: keeps only id 0");
    tp.top_p = {0.2500001f};
    check(tp.run() == BD_OK && tp.kept(0) == 2, "sample top-p just above 0.25 of four equal: keeps 2");
    // min-p: p_i / p_max = e^(s_i - s_max); min_p = e^-1 keeps s >= s_max - 1
    SampleCall mp(1, 4, {0.f, -0.5f, -0.99f, -1.01f});
    mp.min_p = {std::exp(-1.f)};
    st = mp.run();
    check(st == BD_OK && mp.kept(0) == 3, fmt("sample min-p e^-1: keeps 3 (got %d)", mp.kept(0)));
    // penalties: prompt {0, 0}, output {1, 1, 3}: repetition 2 once per distinct id, frequency 0.5 per
    // output occurrence, presence 0.25 once; temperature 0.5
    SampleCall pen(1, 5, {4, -2, 1, 3, 8});
    pen.rep = {2.f};
    pen.frequency = {0.5f};
    pen.presence = {0.25f};
    pen.temperature = {0.5f};
    pen.history = {0, 0, 1, 1, 3};
    pen.offsets = {0, 5};
    pen.prompt = {2};
    const float want[5] = {4.f, (-4.f - 1.25f) / 0.5f, 2.f, (1.5f - 0.75f) / 0.5f, 16.f};
    bool same = pen.run() == BD_OK;  // (the message below reads processed after this)
    for (int i = 0; i < 5; ++i) same &= pen.processed[i] == want[i];
    check(same, fmt("sample penalties: processed %g %g %g %g %g", pen.processed[0], pen.processed[1], pen.processed[2],
                    pen.processed[3], pen.processed[4]));
    // logprobs: log_softmax of the raw logits, top-3 most likely first, the rest -1 / -inf
    SampleCall lp(1, 4, {1, 3, 3, 0});
    lp.max_logprobs = 5;
    lp.n_logprobs = {3};
    lp.temperature = {0};
    const double lse = std::log(std::exp(1.0) + 2 * std::exp(3.0) + 1.0);
    check(lp.run() == BD_OK && lp.top_ids == std::vector<int32_t>({1, 2, 0, -1, -1}) &&
              std::fabs(lp.top_logprobs[0] - (3 - lse)) < 1e-6 && std::fabs(lp.logprobs[0] - (3 - lse)) < 1e-6 &&
              lp.top_logprobs[4] == -INFINITY,
          "sample logprobs: raw log-softmax, top ids most likely first, ties lower id, padding -1 / -inf");
    // errors: a bad value names the field and row; a history id out of range names its position
    SampleCall bad(3, 4, std::vector<float>(12, 1.f));
    bad.top_p = {1, 1, 0};
    check(bad.run() == BD_ERR_INVALID_ARGUMENT && std::string(bd_cpu_last_error()) == "sample: top_p[2] (0) must be in (0, 1]",
          std::string("sample bad top_p: ") + bd_cpu_last_error());
    bad.top_p = {1, 1, 1};
    bad.history = {0, 4};
    bad.offsets = {0, 0, 2, 2};
    check(bad.run() == BD_ERR_INVALID_ARGUMENT &&
              std::string(bd_cpu_last_error()) == "sample: history[1] (4) is outside [0, vocab=4)",
          std::string("sample bad history id: ") + bd_cpu_last_error());
    check(bad.ids[0] == -2, "sample checks everything before writing any output");
}

void check_errors() {
    // embedding: id out of range -> INVALID_ARGUMENT naming the first position and value, row zeroed
    std::vector<float> table = {1, 2, 3, 4, 5, 6};  // vocab 3, dim 2
    const int64_t ids[4] = {2, 9, 0, -1};
    std::vector<float> y(8, 42.f);
    int st = bd_cpu_embedding(table.data(), ids, BD_I64, y.data(), 4, 3, 2, BD_F32, nullptr);
    const std::string msg = bd_cpu_last_error();
    check(st == BD_ERR_INVALID_ARGUMENT && msg.find("ids[1] = 9") != std::string::npos,
          "embedding id out of range fails naming position and value: '" + msg + "'");
    check(y == std::vector<float>({5, 6, 0, 0, 1, 2, 0, 0}), "embedding leaves zeros in out-of-range rows, copies the rest");
    // cross-entropy: uniform logits -> log(cols); negative target -> 0; target >= cols -> error
    std::vector<float> logits(4 * 10, 0.25f);
    int32_t targets[4] = {3, -100, 0, 9};
    float loss[4];
    st = bd_cpu_cross_entropy(logits.data(), targets, BD_I32, loss, 4, 10, BD_F32, nullptr);
    check(st == BD_OK && std::fabs(loss[0] - std::log(10.0)) < 1e-6 && loss[1] == 0.f,
          fmt("cross_entropy of uniform logits is log(cols), ignored row 0: %g %g", loss[0], loss[1]));
    targets[2] = 10;
    targets[3] = 12;
    st = bd_cpu_cross_entropy(logits.data(), targets, BD_I32, loss, 4, 10, BD_F32, nullptr);
    const std::string msg2 = bd_cpu_last_error();
    check(st == BD_ERR_INVALID_ARGUMENT && msg2.find("targets[2] = 10") != std::string::npos && loss[2] == 0.f,
          "cross_entropy target >= cols fails naming row and value: '" + msg2 + "'");
    // argument checks
    check(bd_cpu_add(nullptr, nullptr, nullptr, 0, BD_F32, nullptr) == BD_OK, "zero-sized add with null pointers is OK");
    check(bd_cpu_add(nullptr, nullptr, nullptr, 3, BD_F32, nullptr) == BD_ERR_INVALID_ARGUMENT, "add with null pointers fails");
    check(bd_cpu_softmax(logits.data(), logits.data(), 1, 4, 1.f, BD_I32, nullptr) == BD_ERR_INVALID_ARGUMENT, "softmax on I32 fails");
    check(bd_cpu_topk(logits.data(), loss, targets, 1, 4, 5, BD_F32, nullptr) == BD_ERR_INVALID_ARGUMENT, "topk with k > cols fails");
}

}  // namespace

int main() {
    check_format(F16);
    check_format(BF16);
    for (int dt : {BD_F32, BD_F16, BD_BF16}) {
        check_rmsnorm_layernorm(dt);
        check_fused_equals_unfused(dt);
        check_softmax(dt);
        check_rope(dt);
        check_activations(dt);
    }
    check_convert();
    check_argmax_topk();
    check_errors();
    check_philox();
    check_sample_math();
    check_sample();
    std::printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed ? 1 : 0;
}
