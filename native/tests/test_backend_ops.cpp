// bd_test_backend_ops: every op of ops.h on CUDA against its CPU twin, in the manner of ggml's
// tests/test-backend-ops.cpp. Each case record names an op, a shape and a dtype, builds seeded
// random inputs, and runs the same call on both backends with every tensor inside guard regions
// (sentinel bytes before and after, checked untouched; inputs checked unmodified). Outputs are
// compared NaN/Inf first, then by NMSE against the CPU result with a per-op, per-dtype tolerance;
// integer outputs (argmax, top-k indices), conversions, copies and exactly-rounded sums must match
// bit for bit (top-k/argmax may differ only between equal values). Error paths (out-of-range
// embedding ids and cross-entropy targets, bad arguments) must fail the same way on both backends.
// The sampler (sample.h) must choose the same ids and write the same processed logits and top ids
// bit for bit (its selection and draw are exact by construction); its logprobs agree by NMSE.
//
//   bd_test_backend_ops [--quick] [--op NAME[,NAME...]] [--list] [--self-test]
//     --quick      small shapes only (for compute-sanitizer)
//     --op         only these ops
//     --self-test  compare the CPU twin with itself (checks the harness on machines without a GPU)
//   BD_SEED=<n>    fixes the seed (printed at start and on every failing line)
// Exit: 0 all passed, 1 some failed, 77 no usable CUDA device (CTest SKIP_RETURN_CODE).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "braindrip/cpu_runtime.h"
#include "braindrip/cuda_runtime_api.h"
#include "braindrip/ops.h"
#include "braindrip/sample.h"
#include "cpu_common.hpp"

using bd::cpu::load;
using bd::cpu::store;

namespace {

// ---- backends

#define BD_OP_LIST(X)                                                                                  \
    X(convert) X(add) X(mul) X(scale) X(softcap) X(add_bias) X(activation) X(glu) X(glu_clamped)     \
    X(rmsnorm) X(layernorm) X(add_rmsnorm) X(add_layernorm) X(softmax) X(embedding) X(rope) X(argmax) X(topk)      \
    X(cross_entropy) X(sample)

struct Ops {
#define BD_OP_FIELD(name) decltype(&bd_cpu_##name) name;
    BD_OP_LIST(BD_OP_FIELD)
#undef BD_OP_FIELD
};

const Ops CPU_OPS = {
#define BD_OP_CPU(name) &bd_cpu_##name,
    BD_OP_LIST(BD_OP_CPU)
#undef BD_OP_CPU
};

const Ops CUDA_OPS = {
#define BD_OP_CUDA(name) &bd_cuda_##name,
    BD_OP_LIST(BD_OP_CUDA)
#undef BD_OP_CUDA
};

struct Backend {
    const char* name;
    const Ops* ops;
    void* (*alloc)(int64_t);
    void (*release)(void*);
    int (*copy)(void*, const void*, int64_t);
    const char* (*last_error)();
    int (*sync)();
};

const Backend CPU = {"cpu", &CPU_OPS, bd_cpu_malloc, bd_cpu_free, bd_cpu_memcpy, bd_cpu_last_error,
                     [] { return 0; }};
const Backend CUDA = {"cuda", &CUDA_OPS, bd_cuda_malloc, [](void* p) { bd_cuda_free(p); }, bd_cuda_memcpy,
                      bd_cuda_last_error, bd_cuda_device_synchronize};

// ---- case records

enum class Role { In, Out, InOut };
enum class Cmp { None, Nmse, Exact, Index };

struct Tensor {
    std::string name;
    int dtype = BD_F32;
    int64_t n = 0;
    Role role = Role::In;
    Cmp cmp = Cmp::None;
    double tol = 0;
    std::vector<uint8_t> init;  // In / InOut contents; Out tensors start as 0xff bytes (NaN / -1)
    int tie_src = -1;           // Index: tensor whose values may tie, read at row * tie_cols + index
    int64_t tie_cols = 0, tie_k = 1;
};

struct Case {
    Case(std::string op_, std::string shape_, int dtype_) : op(std::move(op_)), shape(std::move(shape_)), dtype(dtype_) {}
    std::string op, shape;
    int dtype;
    std::vector<Tensor> t;
    std::function<int(const Ops&, void* const*)> call;
    int expect = BD_OK;      // both backends must return this status
    bool same_error = false;  // ... and the same bd_*_last_error() text
    size_t misalign = 0;      // extra offset of every tensor inside its allocation
};

constexpr size_t GUARD = 256;  // keeps the payload 256-byte aligned unless misalign says otherwise
constexpr uint8_t GUARD_BYTE = 0xa5;

size_t dtype_size(int dt) {
    switch (dt) {
        case BD_F32: case BD_I32: return 4;
        case BD_I64: return 8;
        case BD_U8: return 1;
        default: return 2;
    }
}

const char* dtype_str(int dt) { return bd::cpu::dtype_name(dt); }

// ---- random inputs

uint64_t splitmix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

uint64_t hash_str(const std::string& s, uint64_t h) {
    for (unsigned char c : s) h = splitmix(h ^ c);
    return h;
}

struct Gen {
    std::mt19937_64 rng;
    explicit Gen(uint64_t seed) : rng(seed) {}
    double normal() { return std::normal_distribution<double>(0.0, 1.0)(rng); }
    double uniform() { return std::uniform_real_distribution<double>(0.0, 1.0)(rng); }
    int64_t integer(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); }
};

Tensor make_tensor(const std::string& name, int dt, int64_t n, Role role) {
    Tensor t;
    t.name = name;
    t.dtype = dt;
    t.n = n;
    t.role = role;
    if (role != Role::Out) t.init.assign(static_cast<size_t>(n) * dtype_size(dt), 0);
    return t;
}

Tensor floats(const std::string& name, int dt, int64_t n, const std::function<double(int64_t)>& f,
              Role role = Role::In) {
    Tensor t = make_tensor(name, dt, n, role);
    for (int64_t i = 0; i < n; ++i) store(t.init.data(), dt, i, static_cast<float>(f(i)));
    return t;
}

Tensor indices(const std::string& name, int dt, int64_t n, const std::function<int64_t(int64_t)>& f) {
    Tensor t = make_tensor(name, dt, n, Role::In);
    for (int64_t i = 0; i < n; ++i) {
        if (dt == BD_I64) reinterpret_cast<int64_t*>(t.init.data())[i] = f(i);
        else reinterpret_cast<int32_t*>(t.init.data())[i] = static_cast<int32_t>(f(i));
    }
    return t;
}

Tensor output(const std::string& name, int dt, int64_t n, Cmp cmp, double tol = 0) {
    Tensor t = make_tensor(name, dt, n, Role::Out);
    t.cmp = cmp;
    t.tol = tol;
    return t;
}

// NMSE tolerance of a result stored in dt after F32 math that may differ in summation order and in
// a few ulps of expf/erff/tanhf/sincosf: one rounding flip of the storage type on a fraction of the
// elements stays well below these (F16 ulp^2 ~ 1e-6, BF16 ulp^2 ~ 6e-5, times the flipped share).
double tol_for(int dt) { return dt == BD_F32 ? 1e-9 : dt == BD_F16 ? 1e-5 : 1e-4; }

std::string shape_str(std::initializer_list<int64_t> dims) {
    std::ostringstream s;
    s << "[";
    bool first = true;
    for (int64_t d : dims) {
        s << (first ? "" : ",") << d;
        first = false;
    }
    s << "]";
    return s.str();
}

// ---- running one case on one backend

struct Result {
    int status = 0;
    std::string error;
    std::vector<std::vector<uint8_t>> payload;
    std::string problem;  // harness-level failure (guards, device error, allocation)
};

Result run_on(const Case& c, const Backend& be) {
    Result r;
    std::vector<void*> bases(c.t.size(), nullptr), ptrs(c.t.size(), nullptr);
    std::vector<std::vector<uint8_t>> images(c.t.size());
    for (size_t i = 0; i < c.t.size() && r.problem.empty(); ++i) {
        const Tensor& t = c.t[i];
        const size_t bytes = static_cast<size_t>(t.n) * dtype_size(t.dtype);
        std::vector<uint8_t>& img = images[i];
        img.assign(GUARD + c.misalign + bytes + GUARD, GUARD_BYTE);
        if (t.role == Role::Out) std::memset(img.data() + GUARD + c.misalign, 0xff, bytes);
        else std::memcpy(img.data() + GUARD + c.misalign, t.init.data(), bytes);
        bases[i] = be.alloc(static_cast<int64_t>(img.size()));
        if (!bases[i]) r.problem = std::string("allocation failed: ") + be.last_error();
        else if (be.copy(bases[i], img.data(), static_cast<int64_t>(img.size())) != BD_OK)
            r.problem = std::string("upload failed: ") + be.last_error();
        if (bases[i]) ptrs[i] = static_cast<char*>(bases[i]) + GUARD + c.misalign;
    }
    if (r.problem.empty()) {
        r.status = c.call(*be.ops, ptrs.data());
        r.error = be.last_error();
        if (be.sync() != BD_OK) r.problem = std::string("device error after the call: ") + be.last_error();
    }
    r.payload.resize(c.t.size());
    for (size_t i = 0; i < c.t.size(); ++i) {
        if (!bases[i]) continue;
        const Tensor& t = c.t[i];
        std::vector<uint8_t> back(images[i].size());
        if (r.problem.empty() && be.copy(back.data(), bases[i], static_cast<int64_t>(back.size())) != BD_OK)
            r.problem = std::string("download failed: ") + be.last_error();
        be.release(bases[i]);
        if (!r.problem.empty()) continue;
        const size_t head = GUARD + c.misalign, bytes = static_cast<size_t>(t.n) * dtype_size(t.dtype);
        for (size_t b = 0; b < back.size() && r.problem.empty(); ++b)
            if ((b < head || b >= head + bytes) && back[b] != GUARD_BYTE)
                r.problem = "guard of '" + t.name + "' overwritten at byte " +
                            std::to_string(static_cast<long long>(b) - static_cast<long long>(head));
        if (r.problem.empty() && t.role == Role::In && std::memcmp(back.data() + head, t.init.data(), bytes) != 0)
            r.problem = "input '" + t.name + "' was modified";
        r.payload[i].assign(back.begin() + head, back.begin() + head + bytes);
    }
    return r;
}

// ---- comparison

struct Verdict {
    bool ok = true;
    double nmse = 0;
    std::string why;
};

bool float_equal_bits(const uint8_t* a, const uint8_t* b, int dt, int64_t i) {
    const float x = load(a, dt, i), y = load(b, dt, i);
    if (std::isnan(x) || std::isnan(y)) return std::isnan(x) && std::isnan(y);
    const size_t s = dtype_size(dt);
    return std::memcmp(a + i * s, b + i * s, s) == 0;
}

Verdict compare(const Case& c, const Tensor& t, const std::vector<uint8_t>& ref, const std::vector<uint8_t>& got,
                const Result& ref_run) {
    Verdict v;
    const bool is_float = bd::cpu::is_float_dtype(t.dtype);
    if (t.cmp == Cmp::Exact) {
        for (int64_t i = 0; i < t.n; ++i) {
            const bool eq = is_float ? float_equal_bits(ref.data(), got.data(), t.dtype, i)
                                     : std::memcmp(ref.data() + i * dtype_size(t.dtype),
                                                   got.data() + i * dtype_size(t.dtype), dtype_size(t.dtype)) == 0;
            if (!eq) {
                v.ok = false;
                std::ostringstream s;
                s << "'" << t.name << "' differs at " << i;
                if (is_float) s << ": cpu " << load(ref.data(), t.dtype, i) << " cuda " << load(got.data(), t.dtype, i);
                v.why = s.str();
                return v;
            }
        }
        return v;
    }
    if (t.cmp == Cmp::Index) {
        const int32_t* a = reinterpret_cast<const int32_t*>(ref.data());
        const int32_t* b = reinterpret_cast<const int32_t*>(got.data());
        for (int64_t i = 0; i < t.n; ++i) {
            if (a[i] == b[i]) continue;
            bool tie = false;
            if (t.tie_src >= 0 && b[i] >= 0 && b[i] < t.tie_cols) {
                const Tensor& src = c.t[t.tie_src];
                const int64_t row = i / t.tie_k;
                const float va = load(src.init.data(), src.dtype, row * t.tie_cols + a[i]);
                const float vb = load(src.init.data(), src.dtype, row * t.tie_cols + b[i]);
                tie = va == vb;
            }
            if (!tie) {
                v.ok = false;
                v.why = "'" + t.name + "' differs at " + std::to_string(i) + ": cpu " + std::to_string(a[i]) +
                        " cuda " + std::to_string(b[i]);
                return v;
            }
        }
        return v;
    }
    // Nmse: non-finite values first, then the normalized squared error over the finite ones
    double num = 0, den = 0;
    for (int64_t i = 0; i < t.n; ++i) {
        const double a = load(ref.data(), t.dtype, i), b = load(got.data(), t.dtype, i);
        if (!std::isfinite(a) || !std::isfinite(b)) {
            const bool same = (std::isnan(a) && std::isnan(b)) || a == b;
            if (!same) {
                v.ok = false;
                std::ostringstream s;
                s << "non-finite mismatch in '" << t.name << "' at " << i << ": cpu " << a << " cuda " << b;
                v.why = s.str();
                return v;
            }
            continue;
        }
        num += (a - b) * (a - b);
        den += a * a;
    }
    v.nmse = den > 0 ? num / den : num;
    if (!(v.nmse <= t.tol)) {
        v.ok = false;
        std::ostringstream s;
        s << "'" << t.name << "' nmse above tol " << t.tol;
        v.why = s.str();
    }
    (void)ref_run;
    return v;
}

// ---- the ops' cases

struct Entry {
    std::string op;
    std::function<Case()> make;
};

struct Registry {
    std::vector<Entry> entries;
    uint64_t seed;
    bool quick;
    // per-case generator seeded by (global seed, op, shape, dtype, variant): stable under filters
    Gen gen(const std::string& op, const std::string& shape, int dt, const std::string& variant = "") const {
        return Gen(hash_str(op + "|" + shape + "|" + dtype_str(dt) + "|" + variant, seed));
    }
    void add(const std::string& op, std::function<Case()> make) { entries.push_back({op, std::move(make)}); }
};

const int FLOAT_DTYPES[] = {BD_F32, BD_F16, BD_BF16};

std::vector<int64_t> flat_sizes(bool quick) {
    if (quick) return {1, 1031};
    return {1, 3, 5, 7, 13, 127, 257, 4099, (1 << 20) + 3};
}

std::vector<std::pair<int64_t, int64_t>> row_shapes(bool quick) {
    if (quick) return {{1, 1}, {3, 5}, {2, 257}};
    return {{1, 1}, {3, 5}, {7, 13}, {13, 127}, {5, 257}, {3, 4099}, {64, 4096}, {2, 16385}};
}

std::vector<std::pair<int64_t, int64_t>> vocab_shapes(bool quick) {
    if (quick) return {{2, 5003}};
    return {{4, 151936}, {2, 262147}};
}

// -- elementwise

void add_convert(Registry& R) {
    for (int src : FLOAT_DTYPES)
        for (int dst : FLOAT_DTYPES)
            for (int64_t n : flat_sizes(R.quick)) {
                if (n == (1 << 20) + 3 && src == dst) continue;
                const std::string shape = shape_str({n}) + std::string(dtype_str(src)) + "->" + dtype_str(dst);
                R.add("convert", [=, &R] {
                    Gen g = R.gen("convert", shape, src);
                    Case c{"convert", shape, src};
                    // specials first: NaN, infinities, zeros, F16 limits and halfway points, subnormals
                    const float specials[] = {NAN, INFINITY, -INFINITY, 0.f, -0.f, 65504.f, 65519.99f, 65520.f,
                                              5.9604645e-8f, 2.9802322e-8f, 8.940697e-8f, 1e-40f, -3.3895314e38f,
                                              1.f + 1.f / 2048, 1.f + 3.f / 2048, 1.f + 1.f / 256};
                    Tensor x = make_tensor("x", src, n, Role::In);
                    for (int64_t i = 0; i < n; ++i) {
                        if (src != BD_F32) {  // every 16-bit pattern is a legal input, NaNs included
                            reinterpret_cast<uint16_t*>(x.init.data())[i] = static_cast<uint16_t>(g.integer(0, 65535));
                        } else {
                            const float v = i < 16 ? specials[i]
                                                   : static_cast<float>(g.normal() * std::ldexp(1.0, static_cast<int>(g.integer(-30, 20))));
                            store(x.init.data(), BD_F32, i, v);
                        }
                    }
                    c.t = {x, output("y", dst, n, Cmp::Exact)};
                    c.call = [=](const Ops& o, void* const* p) { return o.convert(p[0], src, p[1], dst, n, nullptr); };
                    return c;
                });
            }
}

// a, b -> y for add and mul; variants: in place (y = a) and misaligned (every tensor one element off)
void add_binary(Registry& R, const std::string& op) {
    for (int dt : FLOAT_DTYPES)
        for (int64_t n : flat_sizes(R.quick))
            for (int variant = 0; variant < 3; ++variant) {
                if (variant > 0 && n != (R.quick ? 1031 : 4099)) continue;
                const std::string shape = shape_str({n}) + (variant == 1 ? " in-place" : variant == 2 ? " misaligned" : "");
                R.add(op, [=, &R] {
                    Gen g = R.gen(op, shape, dt);
                    Case c{op, shape, dt};
                    c.misalign = variant == 2 ? dtype_size(dt) : 0;
                    Tensor a = floats("a", dt, n, [&](int64_t) { return g.normal(); });
                    Tensor b = floats("b", dt, n, [&](int64_t) { return g.normal(); });
                    const bool mul = op == "mul";
                    if (variant == 1) {
                        a.role = Role::InOut;
                        a.cmp = Cmp::Exact;
                        c.t = {a, b};
                        c.call = [=](const Ops& o, void* const* p) {
                            return mul ? o.mul(p[0], p[1], p[0], n, dt, nullptr) : o.add(p[0], p[1], p[0], n, dt, nullptr);
                        };
                    } else {
                        c.t = {a, b, output("y", dt, n, Cmp::Exact)};
                        c.call = [=](const Ops& o, void* const* p) {
                            return mul ? o.mul(p[0], p[1], p[2], n, dt, nullptr) : o.add(p[0], p[1], p[2], n, dt, nullptr);
                        };
                    }
                    return c;
                });
            }
}

const char* act_name(int act) {
    switch (act) {
        case BD_ACT_RELU: return "relu";
        case BD_ACT_GELU: return "gelu";
        case BD_ACT_GELU_TANH: return "gelu_tanh";
        default: return "silu";
    }
}

// x -> y for scale (act = -1), softcap (act = -1; |x| up to 5 cap) and activation; same variants
// as add_binary
void add_unary(Registry& R, const std::string& op, int act) {
    for (int dt : FLOAT_DTYPES)
        for (int64_t n : flat_sizes(R.quick))
            for (int variant = 0; variant < 3; ++variant) {
                if (variant > 0 && n != (R.quick ? 1031 : 4099)) continue;
                const std::string shape = shape_str({n}) + (act >= 0 ? std::string(" ") + act_name(act) : "") +
                                          (variant == 1 ? " in-place" : variant == 2 ? " misaligned" : "");
                R.add(op, [=, &R] {
                    Gen g = R.gen(op, shape, dt);
                    Case c{op, shape, dt};
                    c.misalign = variant == 2 ? dtype_size(dt) : 0;
                    const bool softcap = op == "softcap";
                    const float s = 0.37f, cap = 2.5f;
                    Tensor x = softcap ? floats("x", dt, n, [&](int64_t) { return (2 * g.uniform() - 1) * 5 * cap; })
                                       : floats("x", dt, n, [&](int64_t) { return 3.0 * g.normal(); });
                    const Cmp cmp = act < 0 && !softcap ? Cmp::Exact : Cmp::Nmse;
                    auto run = [=](const Ops& o, const void* in, void* out) {
                        if (softcap) return o.softcap(in, out, n, cap, dt, nullptr);
                        return act < 0 ? o.scale(in, out, n, s, dt, nullptr) : o.activation(in, out, n, act, dt, nullptr);
                    };
                    if (variant == 1) {
                        x.role = Role::InOut;
                        x.cmp = cmp;
                        x.tol = tol_for(dt);
                        c.t = {x};
                        c.call = [=](const Ops& o, void* const* p) { return run(o, p[0], p[0]); };
                    } else {
                        c.t = {x, output("y", dt, n, cmp, tol_for(dt))};
                        c.call = [=](const Ops& o, void* const* p) { return run(o, p[0], p[1]); };
                    }
                    return c;
                });
            }
}

void add_add_bias(Registry& R) {
    for (int dt : FLOAT_DTYPES)
        for (auto [rows, cols] : row_shapes(R.quick)) {
            const std::string shape = shape_str({rows, cols});
            R.add("add_bias", [=, &R] {
                Gen g = R.gen("add_bias", shape, dt);
                Case c{"add_bias", shape, dt};
                Tensor y = floats("y", dt, rows * cols, [&](int64_t) { return g.normal(); }, Role::InOut);
                y.cmp = Cmp::Exact;
                c.t = {y, floats("bias", dt, cols, [&](int64_t) { return g.normal(); })};
                c.call = [=](const Ops& o, void* const* p) { return o.add_bias(p[0], p[1], rows, cols, dt, nullptr); };
                return c;
            });
        }
}

void add_glu(Registry& R) {
    const char* names[] = {"swiglu", "geglu", "geglu_tanh"};
    for (int dt : FLOAT_DTYPES)
        for (int glu = BD_GLU_SWIGLU; glu <= BD_GLU_GEGLU_TANH; ++glu)
            for (auto [rows, f] : row_shapes(R.quick)) {
                const std::string shape = shape_str({rows, f}) + " " + names[glu];
                R.add("glu", [=, &R] {
                    Gen g = R.gen("glu", shape, dt);
                    Case c{"glu", shape, dt};
                    c.t = {floats("x", dt, rows * 2 * f, [&](int64_t) { return 2.0 * g.normal(); }),
                           output("y", dt, rows * f, Cmp::Nmse, tol_for(dt))};
                    c.call = [=](const Ops& o, void* const* p) { return o.glu(p[0], p[1], rows, f, glu, dt, nullptr); };
                    return c;
                });
            }
}

// Phi-3-small's clamped GeGELU: inputs of scale 12 so that limits 7 and 20 clamp some gates and ups;
// +inf = no clamp.
void add_glu_clamped(Registry& R) {
    for (int dt : FLOAT_DTYPES)
        for (float limit : {7.f, 20.f, INFINITY})
            for (auto [rows, f] : row_shapes(R.quick)) {
                const std::string shape = shape_str({rows, f}) + " limit " + std::to_string(limit);
                R.add("glu_clamped", [=, &R] {
                    Gen g = R.gen("glu_clamped", shape, dt);
                    Case c{"glu_clamped", shape, dt};
                    c.t = {floats("x", dt, rows * 2 * f, [&](int64_t) { return 12.0 * g.normal(); }),
                           output("y", dt, rows * f, Cmp::Nmse, tol_for(dt))};
                    c.call = [=](const Ops& o, void* const* p) { return o.glu_clamped(p[0], p[1], rows, f, limit, dt, nullptr); };
                    return c;
                });
            }
}

// -- norms: rmsnorm, add_rmsnorm, layernorm, add_layernorm (with and without bias)

void add_norms(Registry& R) {
    for (int dt : FLOAT_DTYPES)
        for (auto [rows, cols] : row_shapes(R.quick))
            for (int kind = 0; kind < 6; ++kind) {
                // 0 rmsnorm, 1 add_rmsnorm, 2 layernorm, 3 layernorm no bias, 4 add_layernorm, 5 no bias
                const char* ops[] = {"rmsnorm", "add_rmsnorm", "layernorm", "layernorm", "add_layernorm", "add_layernorm"};
                const std::string op = ops[kind];
                const bool bias = kind == 2 || kind == 4, residual = kind == 1 || kind == 4 || kind == 5;
                const bool layer = kind >= 2;
                const std::string shape = shape_str({rows, cols}) + (layer ? (bias ? " bias" : " no-bias") : "");
                R.add(op, [=, &R] {
                    Gen g = R.gen(op, shape, dt);
                    Case c{op, shape, dt};
                    const int64_t n = rows * cols;
                    const double offset = layer ? 5.0 : 0.0;  // layernorm must not cancel a common offset
                    c.t.push_back(floats("x", dt, n, [&](int64_t) { return offset + g.normal(); }));
                    c.t.push_back(floats("residual", dt, residual ? n : 0, [&](int64_t) { return g.normal(); }));
                    c.t.push_back(floats("w", dt, cols, [&](int64_t) { return 1.0 + 0.1 * g.normal(); }));
                    c.t.push_back(floats("b", dt, bias ? cols : 0, [&](int64_t) { return 0.1 * g.normal(); }));
                    c.t.push_back(output("y", dt, n, Cmp::Nmse, tol_for(dt)));
                    c.t.push_back(output("sum", dt, residual ? n : 0, Cmp::Exact));
                    const float eps = 1e-5f;
                    c.call = [=](const Ops& o, void* const* p) {
                        const void* b = bias ? p[3] : nullptr;
                        switch (kind) {
                            case 0: return o.rmsnorm(p[0], p[2], p[4], rows, cols, eps, dt, nullptr);
                            case 1: return o.add_rmsnorm(p[0], p[1], p[2], p[4], p[5], rows, cols, eps, dt, nullptr);
                            case 2: case 3: return o.layernorm(p[0], p[2], b, p[4], rows, cols, eps, dt, nullptr);
                            default: return o.add_layernorm(p[0], p[1], p[2], b, p[4], p[5], rows, cols, eps, dt, nullptr);
                        }
                    };
                    return c;
                });
            }
}

// -- softmax: plain, with temperature, and masked (-inf entries, one fully masked row)

void add_softmax(Registry& R) {
    auto shapes = row_shapes(R.quick);
    for (auto s : vocab_shapes(R.quick)) shapes.push_back(s);
    for (int dt : FLOAT_DTYPES)
        for (auto [rows, cols] : shapes)
            for (int variant = 0; variant < 3; ++variant) {
                if (variant == 2 && rows < 3) continue;
                const float inv_t = variant == 1 ? 1.f / 0.7f : 1.f;
                const std::string shape = shape_str({rows, cols}) + (variant == 1 ? " T=0.7" : variant == 2 ? " masked" : "");
                R.add("softmax", [=, &R] {
                    Gen g = R.gen("softmax", shape, dt);
                    Case c{"softmax", shape, dt};
                    c.t = {floats("x", dt, rows * cols,
                                  [&](int64_t i) {
                                      if (variant == 2 && (i / cols == 1 || g.uniform() < 0.3)) return -INFINITY * 1.0;
                                      return 3.0 * g.normal();
                                  }),
                           output("y", dt, rows * cols, Cmp::Nmse, tol_for(dt))};
                    c.call = [=](const Ops& o, void* const* p) { return o.softmax(p[0], p[1], rows, cols, inv_t, dt, nullptr); };
                    return c;
                });
            }
}

// -- embedding: I32/I64 ids, row sizes that pick every copy unit, and the out-of-range error path

void add_embedding(Registry& R) {
    struct S { int64_t vocab, dim, n; };
    std::vector<S> shapes = R.quick ? std::vector<S>{{13, 1, 5}, {50, 3, 7}, {1000, 64, 13}}
                                    : std::vector<S>{{13, 1, 5}, {50, 3, 7}, {1000, 64, 127}, {5000, 257, 13},
                                                     {4096, 1024, 33}, {7, 5, 3}, {11, 6, 9}};
    for (int dt : FLOAT_DTYPES)
        for (int ids_dt : {BD_I32, BD_I64})
            for (S s : shapes)
                for (int bad = 0; bad < 2; ++bad) {
                    if (bad && s.n < 6) continue;
                    const std::string shape = shape_str({s.vocab, s.dim, s.n}) + " ids " + dtype_str(ids_dt) +
                                              (bad ? " out-of-range" : "");
                    R.add("embedding", [=, &R] {
                        Gen g = R.gen("embedding", shape, dt);
                        Case c{"embedding", shape, dt};
                        // distinct, cheap values (tables reach 10^7 elements): a hash of the position
                        const uint64_t salt = g.rng();
                        c.t = {floats("table", dt, s.vocab * s.dim,
                                      [&](int64_t i) {
                                          return static_cast<double>(splitmix(salt + i) >> 40) / (1 << 20) - 8.0;
                                      }),
                               indices("ids", ids_dt, s.n,
                                       [&](int64_t i) -> int64_t {
                                           if (bad && i == 3) return s.vocab;  // first offender, reported
                                           if (bad && i == 5) return -1;
                                           return g.integer(0, s.vocab - 1);
                                       }),
                               output("y", dt, s.n * s.dim, Cmp::Exact)};
                        if (bad) {
                            c.expect = BD_ERR_INVALID_ARGUMENT;
                            c.same_error = true;
                        }
                        c.call = [=](const Ops& o, void* const* p) {
                            return o.embedding(p[0], p[1], ids_dt, p[2], s.n, s.vocab, s.dim, dt, nullptr);
                        };
                        return c;
                    });
                }
}

// -- rope: both styles, partial rotary, both position types, in place, the >512 rotary fallback

void add_rope(Registry& R) {
    struct S { int64_t tokens, heads, head_dim, rotary_dim; float theta; };
    std::vector<S> shapes = R.quick ? std::vector<S>{{1, 1, 2, 2, 1e4f}, {3, 3, 8, 8, 1e4f}, {5, 2, 80, 32, 1e4f}}
                                    : std::vector<S>{{1, 1, 2, 2, 1e4f},     {3, 3, 8, 8, 1e4f},
                                                     {13, 8, 64, 64, 1e4f},  {127, 4, 128, 128, 5e5f},
                                                     {7, 5, 80, 32, 1e4f},   {33, 2, 128, 64, 1e6f},
                                                     {3, 2, 1024, 1024, 1e4f}, {257, 1, 96, 96, 1e4f}};
    for (int dt : FLOAT_DTYPES)
        for (int style : {BD_ROPE_HALF, BD_ROPE_INTERLEAVED})
            for (size_t si = 0; si < shapes.size(); ++si)
                for (int in_place = 0; in_place < 2; ++in_place) {
                    const S s = shapes[si];
                    const int pos_dt = (si + in_place) % 2 ? BD_I64 : BD_I32;
                    const std::string shape = shape_str({s.tokens, s.heads, s.head_dim}) + " rot " +
                                              std::to_string(s.rotary_dim) +
                                              (style == BD_ROPE_HALF ? " half" : " interleaved") + " pos " +
                                              dtype_str(pos_dt) + (in_place ? " in-place" : "");
                    R.add("rope", [=, &R] {
                        Gen g = R.gen("rope", shape, dt);
                        Case c{"rope", shape, dt};
                        const int64_t n = s.tokens * s.heads * s.head_dim;
                        Tensor x = floats("x", dt, n, [&](int64_t) { return g.normal(); });
                        // rotary_dim > 512 uses the device powf, a few ulps off glibc's: keep its angles small
                        const int64_t max_pos = s.rotary_dim > 512 ? 63 : 8191;
                        Tensor pos = indices("positions", pos_dt, s.tokens,
                                             [&](int64_t i) { return i == 0 ? 0 : g.integer(0, max_pos); });
                        auto run = [=](const Ops& o, const void* in, const void* ps, void* out) {
                            return o.rope(in, ps, pos_dt, out, s.tokens, s.heads, s.head_dim, s.rotary_dim, s.theta,
                                          style, dt, nullptr);
                        };
                        if (in_place) {
                            x.role = Role::InOut;
                            x.cmp = Cmp::Nmse;
                            x.tol = tol_for(dt);
                            c.t = {x, pos};
                            c.call = [=](const Ops& o, void* const* p) { return run(o, p[0], p[1], p[0]); };
                        } else {
                            c.t = {x, pos, output("y", dt, n, Cmp::Nmse, tol_for(dt))};
                            c.call = [=](const Ops& o, void* const* p) { return run(o, p[0], p[1], p[2]); };
                        }
                        return c;
                    });
                }
}

// -- argmax and topk: random values, many ties, and NaN / inf / signed zeros

double special_value(Gen& g, int variant) {
    if (variant == 1) return static_cast<double>(g.integer(0, 3));  // ties everywhere
    if (variant == 2) {
        const double u = g.uniform();
        if (u < 0.05) return NAN;
        if (u < 0.08) return -INFINITY;
        if (u < 0.09) return INFINITY;
        if (u < 0.12) return 0.0;
        if (u < 0.15) return -0.0;
    }
    return g.normal();
}

const char* variant_name(int v) { return v == 1 ? " ties" : v == 2 ? " nan-inf" : ""; }

void add_argmax(Registry& R) {
    auto shapes = row_shapes(R.quick);
    for (auto s : vocab_shapes(R.quick)) shapes.push_back(s);
    for (int dt : FLOAT_DTYPES)
        for (auto [rows, cols] : shapes)
            for (int variant = 0; variant < 3; ++variant) {
                const std::string shape = shape_str({rows, cols}) + variant_name(variant);
                R.add("argmax", [=, &R] {
                    Gen g = R.gen("argmax", shape, dt);
                    Case c{"argmax", shape, dt};
                    Tensor out = output("out", BD_I32, rows, Cmp::Index);
                    out.tie_src = 0;
                    out.tie_cols = cols;
                    out.tie_k = 1;
                    c.t = {floats("x", dt, rows * cols, [&](int64_t) { return special_value(g, variant); }), out};
                    c.call = [=](const Ops& o, void* const* p) {
                        return o.argmax(p[0], static_cast<int32_t*>(p[1]), rows, cols, dt, nullptr);
                    };
                    return c;
                });
            }
}

void add_topk(Registry& R) {
    std::vector<std::pair<int64_t, int64_t>> shapes = row_shapes(R.quick);
    if (!R.quick) shapes.push_back({4096, 64});  // MoE router: many rows, few experts
    for (auto s : vocab_shapes(R.quick)) shapes.push_back(s);
    for (int dt : FLOAT_DTYPES)
        for (auto [rows, cols] : shapes) {
            std::set<int64_t> ks = {1, std::min<int64_t>(2, cols), std::min<int64_t>(16, cols),
                                    std::min<int64_t>(17, cols), std::max<int64_t>(1, cols / 2), cols};
            if (cols > 4096) ks = {1, 16, 50, 1000, cols};
            if (cols == 64) ks = {2, 8, 40};
            if (R.quick) ks = {1, std::min<int64_t>(16, cols), std::min<int64_t>(17, cols), cols};
            for (int64_t k : ks)
                for (int variant = 0; variant < 3; ++variant) {
                    if (variant > 0 && k != cols && k != 16 && k != 50) continue;
                    const std::string shape = shape_str({rows, cols}) + " k=" + std::to_string(k) + variant_name(variant);
                    R.add("topk", [=, &R] {
                        Gen g = R.gen("topk", shape, dt);
                        Case c{"topk", shape, dt};
                        Tensor idx = output("indices", BD_I32, rows * k, Cmp::Index);
                        idx.tie_src = 0;
                        idx.tie_cols = cols;
                        idx.tie_k = k;
                        c.t = {floats("x", dt, rows * cols, [&](int64_t) { return special_value(g, variant); }),
                               output("values", BD_F32, rows * k, Cmp::Exact), idx};
                        c.call = [=](const Ops& o, void* const* p) {
                            return o.topk(p[0], static_cast<float*>(p[1]), static_cast<int32_t*>(p[2]), rows, cols, k, dt,
                                          nullptr);
                        };
                        return c;
                    });
                }
        }
}

// -- cross-entropy: I32/I64 targets with ignored (-100) rows, and the target >= cols error path

void add_cross_entropy(Registry& R) {
    auto shapes = row_shapes(R.quick);
    for (auto s : vocab_shapes(R.quick)) shapes.push_back(s);
    for (int dt : FLOAT_DTYPES)
        for (int tdt : {BD_I32, BD_I64})
            for (auto [rows, cols] : shapes)
                for (int bad = 0; bad < 2; ++bad) {
                    if (bad && rows < 3) continue;
                    const std::string shape = shape_str({rows, cols}) + " targets " + dtype_str(tdt) +
                                              (bad ? " out-of-range" : "");
                    R.add("cross_entropy", [=, &R] {
                        Gen g = R.gen("cross_entropy", shape, dt);
                        Case c{"cross_entropy", shape, dt};
                        c.t = {floats("logits", dt, rows * cols, [&](int64_t) { return 3.0 * g.normal(); }),
                               indices("targets", tdt, rows,
                                       [&](int64_t r) -> int64_t {
                                           if (bad && r == 2) return cols;  // first offender, reported
                                           if (bad && r == rows - 1 && r > 2) return cols + 7;
                                           if (rows > 1 && r == 1) return -100;  // ignored row
                                           return g.integer(0, cols - 1);
                                       }),
                               output("loss", BD_F32, rows, Cmp::Nmse, 1e-9)};
                        if (bad) {
                            c.expect = BD_ERR_INVALID_ARGUMENT;
                            c.same_error = true;
                        }
                        c.call = [=](const Ops& o, void* const* p) {
                            return o.cross_entropy(p[0], p[1], tdt, static_cast<float*>(p[2]), rows, cols, dt, nullptr);
                        };
                        return c;
                    });
                }
}

// -- sample: mixed batches (every row its own parameters and history), special logits, error paths

struct SampleConfig {
    float temperature, top_p, min_p, rep, presence, frequency;
    int32_t top_k;
};

// Row r's parameters: greedy, plain, top-k, top-p, min-p, penalties and their combinations in turn.
SampleConfig sample_config(int64_t r, int64_t vocab, Gen& g) {
    const int32_t v = static_cast<int32_t>(vocab);
    switch (r % 8) {
        case 0: return {0.f, 1.f, 0.f, 1.2f, 0.5f, 0.25f, 0};
        case 1: return {1.f, 1.f, 0.f, 1.f, 0.f, 0.f, 0};
        case 2: return {0.7f, 1.f, 0.f, 1.f, 0.f, 0.f, static_cast<int32_t>(g.integer(1, std::max(1, std::min(v, 40))))};
        case 3: return {1.f, 0.9f, 0.f, 1.f, 0.f, 0.f, 0};
        case 4: return {0.8f, 0.95f, 0.05f, 1.f, 0.f, 0.f, 50};
        case 5: return {1.f, 1.f, 0.f, 1.3f, 0.5f, 0.2f, std::max(1, v / 2)};
        case 6: return {1.5f, 0.5f, 0.f, 1.f, 0.f, 0.f, v + 3};
        default: return {0.3f, 1.f, 0.2f, 0.9f, -0.4f, 0.1f, 0};
    }
}

// bad: 0 none, 1 a bad temperature in row 2, 2 a history id = vocab, 3 falling history offsets
Case sample_case(Registry& R, const std::string& shape, int dt, int64_t rows, int64_t vocab, int variant, int bad) {
    Gen g = R.gen("sample", shape, dt);
    Case c{"sample", shape, dt};
    const int64_t max_lp = 5;
    std::vector<SampleConfig> cfg;
    for (int64_t r = 0; r < rows; ++r) cfg.push_back(sample_config(r, vocab, g));
    std::vector<int64_t> offsets(rows + 1, 0);
    std::vector<int32_t> prompt(rows), hist;
    for (int64_t r = 0; r < rows; ++r) {
        const int64_t np = g.integer(0, 40), no = g.integer(0, 40);
        const int64_t pool = std::min<int64_t>(vocab, 12);  // few distinct ids: counts above 1
        for (int64_t j = 0; j < np + no; ++j) hist.push_back(static_cast<int32_t>(g.integer(0, vocab - 1) % pool * (vocab / pool)));
        prompt[r] = static_cast<int32_t>(np);
        offsets[r + 1] = static_cast<int64_t>(hist.size());
    }
    if (bad == 2 && !hist.empty()) hist[hist.size() / 2] = static_cast<int32_t>(vocab);
    if (bad == 3 && rows > 2) offsets[2] = offsets[1] + 1000000;
    const int64_t hn = static_cast<int64_t>(hist.size());
    auto row_floats = [&](const char* name, float SampleConfig::*f) {
        return floats(name, BD_F32, rows, [&](int64_t r) {
            if (bad == 1 && r == 2 && f == &SampleConfig::temperature) return -1.0;
            return static_cast<double>(cfg[r].*f);
        });
    };
    c.t = {
        floats("logits", dt, rows * vocab, [&](int64_t) { return variant == 0 ? 3.0 * g.normal() : special_value(g, variant); }),
        row_floats("temperature", &SampleConfig::temperature),
        indices("top_k", BD_I32, rows, [&](int64_t r) { return cfg[r].top_k; }),
        row_floats("top_p", &SampleConfig::top_p),
        row_floats("min_p", &SampleConfig::min_p),
        row_floats("repetition_penalty", &SampleConfig::rep),
        row_floats("presence_penalty", &SampleConfig::presence),
        row_floats("frequency_penalty", &SampleConfig::frequency),
        indices("seed", BD_I64, rows, [&](int64_t) { return static_cast<int64_t>(g.rng()); }),
        indices("step", BD_I64, rows, [&](int64_t) { return g.integer(0, 1 << 20); }),
        indices("n_logprobs", BD_I32, rows, [&](int64_t) { return g.integer(0, max_lp); }),
        indices("history", BD_I32, hn, [&](int64_t j) { return hist[j]; }),
        indices("history_offsets", BD_I64, rows + 1, [&](int64_t r) { return offsets[r]; }),
        indices("history_prompt", BD_I32, rows, [&](int64_t r) { return prompt[r]; }),
        output("out_ids", BD_I32, rows, bad ? Cmp::None : Cmp::Exact),
        output("out_logprobs", BD_F32, rows, bad ? Cmp::None : Cmp::Nmse, 1e-9),
        output("top_ids", BD_I32, rows * max_lp, bad ? Cmp::None : Cmp::Exact),
        output("top_logprobs", BD_F32, rows * max_lp, bad ? Cmp::None : Cmp::Nmse, 1e-9),
        output("processed", BD_F32, rows * vocab, bad ? Cmp::None : Cmp::Exact),
        output("workspace", BD_U8, bd_cpu_sample_workspace_bytes(rows, vocab, max_lp), Cmp::None),
    };
    // special values: no +inf (outside the contract); NaN counts as -inf
    if (variant == 2)
        for (int64_t i = 0; i < rows * vocab; ++i)
            if (load(c.t[0].init.data(), dt, i) == INFINITY) store(c.t[0].init.data(), dt, i, 2.5f);
    if (bad) {
        c.expect = BD_ERR_INVALID_ARGUMENT;
        c.same_error = true;
    }
    c.call = [=](const Ops& o, void* const* p) {
        bd_sample_params sp;
        bd_sample_params_init(&sp, dt, rows, vocab);
        sp.logits = p[0];
        sp.temperature = static_cast<const float*>(p[1]);
        sp.top_k = static_cast<const int32_t*>(p[2]);
        sp.top_p = static_cast<const float*>(p[3]);
        sp.min_p = static_cast<const float*>(p[4]);
        sp.repetition_penalty = static_cast<const float*>(p[5]);
        sp.presence_penalty = static_cast<const float*>(p[6]);
        sp.frequency_penalty = static_cast<const float*>(p[7]);
        sp.seed = static_cast<const uint64_t*>(p[8]);
        sp.step = static_cast<const int64_t*>(p[9]);
        sp.n_logprobs = static_cast<const int32_t*>(p[10]);
        sp.history = static_cast<const int32_t*>(p[11]);
        sp.history_offsets = static_cast<const int64_t*>(p[12]);
        sp.history_prompt = static_cast<const int32_t*>(p[13]);
        sp.history_len = hn;
        sp.out_ids = static_cast<int32_t*>(p[14]);
        sp.out_logprobs = static_cast<float*>(p[15]);
        sp.top_ids = static_cast<int32_t*>(p[16]);
        sp.top_logprobs = static_cast<float*>(p[17]);
        sp.max_logprobs = max_lp;
        sp.processed = static_cast<float*>(p[18]);
        sp.workspace = p[19];
        sp.workspace_bytes = bd_cpu_sample_workspace_bytes(rows, vocab, max_lp);
        return o.sample(&sp, nullptr);
    };
    return c;
}

void add_sample(Registry& R) {
    std::vector<std::pair<int64_t, int64_t>> shapes = {{1, 1}, {3, 3}, {8, 7}, {9, 13}, {16, 257}, {5, 4099}, {64, 4096},
                                                       {5, 50000}, {3, 151936}, {2, 262147}};
    if (R.quick) shapes = {{3, 1}, {8, 257}, {2, 5003}};
    for (int dt : FLOAT_DTYPES)
        for (auto [rows, vocab] : shapes)
            for (int variant = 0; variant < 3; ++variant) {
                if (variant > 0 && vocab > 50000) continue;
                const std::string shape = shape_str({rows, vocab}) + variant_name(variant);
                R.add("sample", [=, &R] { return sample_case(R, shape, dt, rows, vocab, variant, 0); });
            }
    const char* bad_names[] = {"", " bad temperature", " bad history id", " bad offsets"};
    for (int bad = 1; bad <= 3; ++bad) {
        const std::string shape = shape_str({8, 257}) + bad_names[bad];
        R.add("sample", [=, &R] { return sample_case(R, shape, BD_F32, 8, 257, 0, bad); });
    }
}

// -- argument checks: both backends reject the same bad calls and accept zero-sized ones

void add_contract(Registry& R) {
    struct Check { std::string op, what; int expect; std::function<int(const Ops&)> call; };
    static const std::vector<Check> checks = {
        {"add", "zero-sized with null pointers", BD_OK, [](const Ops& o) { return o.add(nullptr, nullptr, nullptr, 0, BD_F32, nullptr); }},
        {"add", "I32 dtype", BD_ERR_INVALID_ARGUMENT, [](const Ops& o) { return o.add(nullptr, nullptr, nullptr, 4, BD_I32, nullptr); }},
        {"add", "null pointer", BD_ERR_INVALID_ARGUMENT, [](const Ops& o) { return o.add(nullptr, nullptr, nullptr, 4, BD_F32, nullptr); }},
        {"convert", "I64 destination", BD_ERR_INVALID_ARGUMENT, [](const Ops& o) { return o.convert(nullptr, BD_F32, nullptr, BD_I64, 4, nullptr); }},
        {"activation", "unknown code", BD_ERR_INVALID_ARGUMENT, [](const Ops& o) { return o.activation(nullptr, nullptr, 4, 9, BD_F32, nullptr); }},
        {"glu", "unknown code", BD_ERR_INVALID_ARGUMENT, [](const Ops& o) { return o.glu(nullptr, nullptr, 1, 4, 9, BD_F32, nullptr); }},
        {"glu_clamped", "limit 0", BD_ERR_INVALID_ARGUMENT, [](const Ops& o) { return o.glu_clamped(nullptr, nullptr, 1, 4, 0.f, BD_F32, nullptr); }},
        {"glu_clamped", "limit NaN, zero-sized", BD_ERR_INVALID_ARGUMENT, [](const Ops& o) { return o.glu_clamped(nullptr, nullptr, 0, 4, NAN, BD_F32, nullptr); }},
        {"layernorm", "zero rows", BD_OK, [](const Ops& o) { return o.layernorm(nullptr, nullptr, nullptr, nullptr, 0, 8, 1e-5f, BD_F32, nullptr); }},
        {"layernorm", "zero cols", BD_ERR_INVALID_ARGUMENT, [](const Ops& o) { return o.layernorm(nullptr, nullptr, nullptr, nullptr, 2, 0, 1e-5f, BD_F32, nullptr); }},
        {"softmax", "inv_temperature 0", BD_ERR_INVALID_ARGUMENT, [](const Ops& o) { return o.softmax(nullptr, nullptr, 1, 4, 0.f, BD_F32, nullptr); }},
        {"softcap", "cap 0", BD_ERR_INVALID_ARGUMENT, [](const Ops& o) { return o.softcap(nullptr, nullptr, 4, 0.f, BD_F32, nullptr); }},
        {"softcap", "cap NaN", BD_ERR_INVALID_ARGUMENT, [](const Ops& o) { return o.softcap(nullptr, nullptr, 4, NAN, BD_F32, nullptr); }},
        {"softcap", "cap inf, zero-sized", BD_ERR_INVALID_ARGUMENT, [](const Ops& o) { return o.softcap(nullptr, nullptr, 0, INFINITY, BD_F32, nullptr); }},
        {"rope", "odd rotary_dim", BD_ERR_INVALID_ARGUMENT, [](const Ops& o) { return o.rope(nullptr, nullptr, BD_I32, nullptr, 1, 1, 8, 3, 1e4f, 0, BD_F32, nullptr); }},
        {"rope", "rotary_dim > head_dim", BD_ERR_INVALID_ARGUMENT, [](const Ops& o) { return o.rope(nullptr, nullptr, BD_I32, nullptr, 1, 1, 8, 10, 1e4f, 0, BD_F32, nullptr); }},
        {"rope", "F32 positions", BD_ERR_INVALID_ARGUMENT, [](const Ops& o) { return o.rope(nullptr, nullptr, BD_F32, nullptr, 1, 1, 8, 8, 1e4f, 0, BD_F32, nullptr); }},
        {"embedding", "F16 ids", BD_ERR_INVALID_ARGUMENT, [](const Ops& o) { return o.embedding(nullptr, nullptr, BD_F16, nullptr, 1, 4, 4, BD_F32, nullptr); }},
        {"topk", "k > cols", BD_ERR_INVALID_ARGUMENT, [](const Ops& o) { return o.topk(nullptr, nullptr, nullptr, 1, 4, 5, BD_F32, nullptr); }},
        {"topk", "k = 0", BD_ERR_INVALID_ARGUMENT, [](const Ops& o) { return o.topk(nullptr, nullptr, nullptr, 1, 4, 0, BD_F32, nullptr); }},
        {"argmax", "zero rows", BD_OK, [](const Ops& o) { return o.argmax(nullptr, nullptr, 0, 4, BD_F32, nullptr); }},
        {"cross_entropy", "U8 targets", BD_ERR_INVALID_ARGUMENT, [](const Ops& o) { return o.cross_entropy(nullptr, nullptr, BD_U8, nullptr, 1, 4, BD_F32, nullptr); }},
        {"sample", "zero rows with null pointers", BD_OK, [](const Ops& o) { bd_sample_params p; bd_sample_params_init(&p, BD_F32, 0, 8); return o.sample(&p, nullptr); }},
        {"sample", "vocab 0", BD_ERR_INVALID_ARGUMENT, [](const Ops& o) { bd_sample_params p; bd_sample_params_init(&p, BD_F32, 0, 0); return o.sample(&p, nullptr); }},
        {"sample", "I32 logits", BD_ERR_INVALID_ARGUMENT, [](const Ops& o) { bd_sample_params p; bd_sample_params_init(&p, BD_I32, 0, 8); return o.sample(&p, nullptr); }},
        {"sample", "null per-row arrays", BD_ERR_INVALID_ARGUMENT, [](const Ops& o) { bd_sample_params p; bd_sample_params_init(&p, BD_F32, 2, 8); return o.sample(&p, nullptr); }},
        {"sample", "max_logprobs above the limit", BD_ERR_INVALID_ARGUMENT, [](const Ops& o) { bd_sample_params p; bd_sample_params_init(&p, BD_F32, 0, 8); p.max_logprobs = BD_SAMPLE_MAX_LOGPROBS + 1; return o.sample(&p, nullptr); }},
    };
    for (const Check& k : checks)
        R.add(k.op, [&k] {
            Case c{k.op, "contract: " + k.what, BD_F32};
            c.expect = k.expect;
            c.call = [&k](const Ops& o, void* const*) { return k.call(o); };
            return c;
        });
}

// ---- main

std::vector<std::string> split(const std::string& s) {
    std::vector<std::string> out;
    std::stringstream ss(s);
    for (std::string item; std::getline(ss, item, ',');)
        if (!item.empty()) out.push_back(item);
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    bool quick = false, list = false, self_test = false;
    std::set<std::string> only;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--quick") quick = true;
        else if (a == "--list") list = true;
        else if (a == "--self-test") self_test = true;
        else if (a == "--op" && i + 1 < argc) for (const auto& name : split(argv[++i])) only.insert(name);
        else {
            std::fprintf(stderr, "usage: %s [--quick] [--op NAME[,NAME...]] [--list] [--self-test]\n", argv[0]);
            return 2;
        }
    }

    uint64_t seed;
    if (const char* env = std::getenv("BD_SEED")) seed = std::strtoull(env, nullptr, 10);
    else seed = (static_cast<uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}();

    Registry R{{}, seed, quick};
    add_convert(R);
    add_binary(R, "add");
    add_binary(R, "mul");
    add_unary(R, "scale", -1);
    add_unary(R, "softcap", -1);
    for (int act = BD_ACT_RELU; act <= BD_ACT_SILU; ++act) add_unary(R, "activation", act);
    add_add_bias(R);
    add_glu(R);
    add_glu_clamped(R);
    add_norms(R);
    add_softmax(R);
    add_embedding(R);
    add_rope(R);
    add_argmax(R);
    add_topk(R);
    add_cross_entropy(R);
    add_sample(R);
    add_contract(R);

    std::set<std::string> known;
    for (const Entry& e : R.entries) known.insert(e.op);
    for (const std::string& name : only)
        if (!known.count(name)) {
            std::fprintf(stderr, "unknown op '%s'\n", name.c_str());
            return 2;
        }
    if (list) {
        for (const Entry& e : R.entries)
            if (only.empty() || only.count(e.op)) {
                const Case c = e.make();
                std::printf("%s %s %s\n", c.op.c_str(), c.shape.c_str(), dtype_str(c.dtype));
            }
        return 0;
    }

    const Backend& tested = self_test ? CPU : CUDA;
    if (!self_test) {
        const int devices = bd_cuda_device_count();
        if (devices <= 0) {
            const char* why = bd_cuda_last_error();
            std::printf("skipped: no usable CUDA device (%s)\n", devices == 0 ? "0 devices" : why);
            return 77;
        }
        char name[256] = {0};
        int major = 0, minor = 0, sms = 0;
        int64_t mem = 0;
        bd_cuda_device_info(0, name, sizeof name, &major, &minor, &sms, &mem);
        std::printf("device 0: %s (sm_%d%d, %d SMs, %.0f GiB)\n", name, major, minor, sms, mem / 1073741824.0);
    } else {
        std::printf("self-test: the CPU twin against itself (no GPU involved)\n");
    }
    std::printf("seed %llu%s\n", static_cast<unsigned long long>(seed), quick ? " (quick)" : "");
    std::fflush(stdout);

    const auto start = std::chrono::steady_clock::now();
    int passed = 0, failed = 0;
    for (const Entry& e : R.entries) {
        if (!only.empty() && !only.count(e.op)) continue;
        const Case c = e.make();
        const Result ref = run_on(c, CPU);
        const Result got = run_on(c, tested);
        std::string why;
        double nmse = 0;
        if (!ref.problem.empty()) why = "cpu: " + ref.problem;
        else if (!got.problem.empty()) why = std::string(tested.name) + ": " + got.problem;
        else if (ref.status != c.expect || got.status != c.expect)
            why = "status cpu " + std::to_string(ref.status) + " cuda " + std::to_string(got.status) + " (expected " +
                  std::to_string(c.expect) + "): cpu '" + ref.error + "' cuda '" + got.error + "'";
        else if (c.same_error && ref.error != got.error)
            why = "error text differs: cpu '" + ref.error + "' cuda '" + got.error + "'";
        else
            for (size_t i = 0; i < c.t.size() && why.empty(); ++i) {
                if (c.t[i].cmp == Cmp::None) continue;
                const Verdict v = compare(c, c.t[i], ref.payload[i], got.payload[i], ref);
                nmse = std::max(nmse, v.nmse);
                if (!v.ok) why = v.why;
            }
        if (why.empty()) {
            ++passed;
        } else {
            ++failed;
            std::printf("FAIL %s %s %s seed=%llu nmse=%.3g: %s\n", c.op.c_str(), c.shape.c_str(), dtype_str(c.dtype),
                        static_cast<unsigned long long>(seed), nmse, why.c_str());
            std::fflush(stdout);
            if (got.problem.rfind("device error", 0) == 0) {
                std::printf("stopping: the CUDA context is unusable after a device error\n");
                break;
            }
        }
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("(%.1f s)\n%d passed, %d failed\n", secs, passed, failed);
    return failed ? 1 : 0;
}
