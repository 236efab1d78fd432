// Test support for the fused attention kernels: random cases, the F64 oracle and the naive
// same-precision version (FlashAttention's rule: max|kernel - ref64| <= 2 max|naive - ref64| + floor),
// written from the contract in attention.h / CLI.md, independently of the kernels' plan code.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "braindrip/attention.h"
#include "cpu_common.hpp"  // F16/BF16 conversion (round to nearest even)

namespace bdt {

using bd::cpu::bf16_to_f32;
using bd::cpu::f16_to_f32;
using bd::cpu::f32_to_bf16;
using bd::cpu::f32_to_f16;
using bd::cpu::round_to;

inline const char* dtype_str(int dt) { return dt == BD_F32 ? "f32" : dt == BD_F16 ? "f16" : "bf16"; }
inline size_t dtype_size(int dt) { return dt == BD_F32 ? 4 : 2; }

struct Case {
    std::string name;
    int dtype = BD_F32;
    int64_t B = 1, Sq = 1, Sk = 1;
    int Hq = 1, Hkv = 1, D = 64, Dv = 64;
    bool causal = false;
    int wl = -1, wr = -1, sink_tokens = 0;
    float softcap = 0.f;
    bool learned_sinks = false;
    int rel_buckets = 0;        // > 0: T5 relative position bias (rel_bias) with this many buckets
    int rel_max_distance = 128;
    bool rel_bidirectional = false;
    bool alibi = false;         // ALiBi slopes
    bool varlen = false;    // packed q/k/v with cu_seqlens (random lengths <= Sq, Sk)
    bool seqused = false;   // seqused_k <= capacity
    bool rope = false;      // k_rope_positions
    int num_splits = 1;
    bool fused_qkv = false; // q, k, v are views of one (B, S, Hq + 2Hkv, D) buffer
    float q_amp = 1.f;      // query magnitude (peakier softmax when larger)
    // block-sparse layout (attention.h, block_row_ptr): block > 0 turns it on. `layout` is a union
    // of comma-separated terms over query block qb and key block kb (CLI.md's patterns):
    //   local:W (qb-W < kb <= qb), stride:S (kb <= qb, (qb-kb) % S == 0), vstride:S (kb <= qb,
    //   (kb+1) % S == 0), hvstride:S (vstride shifted by h*max(1, S/Hq) on layout head h), sink:N
    //   (kb < N), all, random:P (each block with P% probability), then hole:R empties row R.
    int block = 0;
    int block_heads = 1;      // 1 = one layout for every head, else Hq
    int64_t block_rows = 0;   // 0 = ceil(Sk / block)
    std::string layout;
    uint64_t seed = 1;

    // the default softmax scale 1/sqrt(D), as bd_attention_params_init computes it (F32)
    double scale_or_default() const { return (double)(1.f / std::sqrt((float)D)); }

    std::string label() const {
        char buf[512];
        std::snprintf(buf, sizeof buf,
                      "%s [%s B%lld Sq%lld Sk%lld Hq%d Hkv%d D%d Dv%d%s wl%d wr%d sinkN%d cap%g%s%s%s%s split%d%s%s%s seed%llu]",
                      name.c_str(), dtype_str(dtype), (long long)B, (long long)Sq, (long long)Sk, Hq, Hkv, D, Dv,
                      causal ? " causal" : "", wl, wr, sink_tokens, (double)softcap, learned_sinks ? " sinks" : "",
                      varlen ? " varlen" : "", seqused ? " seqused" : "", rope ? " rope" : "", num_splits,
                      fused_qkv ? " fused_qkv" : "", rel_buckets ? (rel_bidirectional ? " t5-bi" : " t5-causal") : "",
                      alibi ? " alibi" : "", (unsigned long long)seed);
        if (block > 0)
            return std::string(buf) + " sparse[blk" + std::to_string(block) + " heads" + std::to_string(block_heads) +
                   " " + layout + "]";
        return buf;
    }
};

// T5's bucket as HF's T5Attention._relative_position_bucket computes it (float32 log, truncation),
// written from that code for the reference; rp = key - query position.
inline int ref_t5_bucket(int64_t rp, bool bidirectional, int num_buckets, int max_distance) {
    int64_t buckets = 0;
    if (bidirectional) {
        num_buckets /= 2;
        buckets += rp > 0 ? num_buckets : 0;
        rp = rp < 0 ? -rp : rp;
    } else {
        rp = -std::min<int64_t>(rp, 0);
    }
    const int max_exact = num_buckets / 2;
    if (rp < max_exact) return (int)(buckets + rp);
    const float large = std::log((float)rp / (float)max_exact) / (float)std::log((double)max_distance / max_exact) *
                        (float)(num_buckets - max_exact);
    return (int)(buckets + std::min<int64_t>(max_exact + (int64_t)large, num_buckets - 1));
}

// Host tensors of one case, in storage precision, plus a params struct pointing at them.
struct Inputs {
    Case c;
    std::vector<uint8_t> qkv;     // fused buffer when c.fused_qkv
    std::vector<uint8_t> q, k, v; // separate buffers otherwise
    std::vector<int32_t> cu_q, cu_k, used, pos;
    std::vector<float> sinks;
    std::vector<float> rel_table, alibi_slopes;  // (Hq, rel_buckets), (Hq)
    std::vector<int64_t> sq, sk, q_start, k_start;  // per batch row
    int64_t total_q = 0, total_k = 0;               // rows of q/o and of k/v (dense: B * S)
    int64_t o_elems = 0, lse_elems = 0;
    std::vector<uint8_t> lay;            // dense block layout (block_heads, lay_rows, lay_cols), 1 = listed
    int64_t lay_rows = 0, lay_cols = 0;
    std::vector<int32_t> row_ptr, col_idx;  // its BSR form, as the kernels read it
    bd_attention_params p{};  // host pointers (o, lse, workspace left NULL)

    // The contract's rule for head h, including the block-sparse layout (attention.h).
    bool visible(int h, int64_t sq, int64_t sk, int64_t i, int64_t j) const;

    const void* qbuf() const { return c.fused_qkv ? static_cast<const void*>(qkv.data()) : q.data(); }
    const void* kbuf() const {
        return c.fused_qkv ? static_cast<const void*>(qkv.data() + (size_t)c.Hq * c.D * dtype_size(c.dtype)) : k.data();
    }
    const void* vbuf() const {
        return c.fused_qkv ? static_cast<const void*>(qkv.data() + (size_t)(c.Hq + c.Hkv) * c.D * dtype_size(c.dtype))
                           : v.data();
    }
    double ld(const void* base, int64_t idx) const { return bd::cpu::load(base, c.dtype, idx); }
    // element (b, i, h, d) of q / k / v via the params' strides
    double qe(int64_t b, int64_t i, int h, int d) const {
        return ld(qbuf(), (p.cu_seqlens_q ? (q_start[b] + i) * p.q_row_stride : b * p.q_batch_stride + i * p.q_row_stride) +
                              (int64_t)h * p.q_head_stride + d);
    }
    double ke(int64_t b, int64_t j, int h, int d) const {
        return ld(kbuf(), (p.cu_seqlens_k ? (k_start[b] + j) * p.k_row_stride : b * p.k_batch_stride + j * p.k_row_stride) +
                              (int64_t)h * p.k_head_stride + d);
    }
    double ve(int64_t b, int64_t j, int h, int d) const {
        return ld(vbuf(), (p.cu_seqlens_k ? (k_start[b] + j) * p.v_row_stride : b * p.v_batch_stride + j * p.v_row_stride) +
                              (int64_t)h * p.v_head_stride + d);
    }
    int32_t kpos(int64_t b, int64_t j) const {
        return p.cu_seqlens_k ? pos[(size_t)(k_start[b] + j)] : pos[(size_t)(b * c.Sk + j)];
    }
    // o (B, Sq, Hq, Dv) dense or (total_q, Hq, Dv) packed; lse (B, Hq, Sq) or (total_q, Hq)
    int64_t o_index(int64_t b, int64_t i, int h) const {
        return ((p.cu_seqlens_q ? q_start[b] + i : b * c.Sq + i) * c.Hq + h) * c.Dv;
    }
    int64_t lse_index(int64_t b, int64_t i, int h) const {
        return p.cu_seqlens_q ? (q_start[b] + i) * c.Hq + h : (b * c.Hq + h) * c.Sq + i;
    }
};

// The position biases of a case at distance d = key - aligned query position (natural units).
inline double position_bias(const Case& c, const Inputs& in, int h, int64_t d) {
    double x = 0;
    if (c.rel_buckets > 0) x += in.rel_table[(size_t)h * c.rel_buckets + ref_t5_bucket(d, c.rel_bidirectional, c.rel_buckets, c.rel_max_distance)];
    if (c.alibi) x += (double)in.alibi_slopes[h] * (double)d;
    return x;
}

inline void fill_random(std::vector<uint8_t>& buf, int dt, int64_t n, std::mt19937_64& rng, float amp) {
    std::normal_distribution<float> nd(0.f, 1.f);
    buf.resize((size_t)n * dtype_size(dt));
    for (int64_t i = 0; i < n; ++i) bd::cpu::store(buf.data(), dt, i, amp * nd(rng));
}

// Whether layout head lh lists key block kb in query block qb's row, for one term of Case::layout.
inline bool layout_term(const std::string& name, int64_t n, int lh, int heads, int64_t qb, int64_t kb,
                        std::mt19937_64& rng) {
    if (name == "local") return kb <= qb && kb > qb - n;
    if (name == "stride") return kb <= qb && (qb - kb) % n == 0;
    if (name == "vstride") return kb <= qb && (kb + 1) % n == 0;
    if (name == "hvstride") return kb <= qb && (kb + (int64_t)lh * std::max<int64_t>(1, n / heads) + 1) % n == 0;
    if (name == "sink") return kb < n;
    if (name == "all") return true;
    if (name == "random") return std::uniform_int_distribution<int>(0, 99)(rng) < n;
    std::fprintf(stderr, "attention_ref: unknown layout term %s\n", name.c_str());
    std::abort();
}

// Fills in.lay from c.layout and its BSR arrays, and points the params at them.
inline void make_layout(Inputs& in, std::mt19937_64& rng) {
    const Case& c = in.c;
    in.lay_cols = (c.Sk + c.block - 1) / c.block;
    in.lay_rows = c.block_rows > 0 ? c.block_rows : in.lay_cols;
    in.lay.assign((size_t)(c.block_heads * in.lay_rows * in.lay_cols), 0);
    std::vector<std::pair<std::string, int64_t>> terms;
    for (size_t a = 0; a < c.layout.size();) {
        size_t e = c.layout.find(',', a);
        if (e == std::string::npos) e = c.layout.size();
        const std::string t = c.layout.substr(a, e - a);
        const size_t colon = t.find(':');
        terms.emplace_back(t.substr(0, colon), colon == std::string::npos ? 0 : std::atoll(t.c_str() + colon + 1));
        a = e + 1;
    }
    for (int lh = 0; lh < c.block_heads; ++lh)
        for (int64_t qb = 0; qb < in.lay_rows; ++qb)
            for (int64_t kb = 0; kb < in.lay_cols; ++kb) {
                uint8_t& x = in.lay[(size_t)((lh * in.lay_rows + qb) * in.lay_cols + kb)];
                for (const auto& t : terms)
                    if (t.first != "hole") x |= layout_term(t.first, t.second, lh, c.block_heads, qb, kb, rng);
                for (const auto& t : terms)
                    if (t.first == "hole" && qb == t.second) x = 0;
            }
    in.row_ptr.assign(1, 0);
    in.col_idx.clear();
    for (int64_t r = 0; r < c.block_heads * in.lay_rows; ++r) {
        for (int64_t kb = 0; kb < in.lay_cols; ++kb)
            if (in.lay[(size_t)(r * in.lay_cols + kb)]) in.col_idx.push_back((int32_t)kb);
        in.row_ptr.push_back((int32_t)in.col_idx.size());
    }
    in.col_idx.push_back(-1);  // never read: keeps data() non-null for an all-empty layout
    bd_attention_params& p = in.p;
    p.block_size = c.block;
    p.block_heads = c.block_heads;
    p.block_rows = in.lay_rows;
    p.block_row_ptr = in.row_ptr.data();
    p.block_col_idx = in.col_idx.data();
}

inline Inputs make_inputs(const Case& c) {
    Inputs in;
    in.c = c;
    std::mt19937_64 rng(c.seed);
    const int64_t B = c.B;
    in.sq.resize(B);
    in.sk.resize(B);
    in.q_start.assign(B, 0);
    in.k_start.assign(B, 0);
    std::uniform_int_distribution<int64_t> uq(0, c.Sq), uk(0, c.Sk);
    std::vector<int64_t> cap_k(B, c.Sk);  // key rows stored per sequence
    for (int64_t b = 0; b < B; ++b) {
        in.sq[b] = c.varlen ? uq(rng) : c.Sq;
        cap_k[b] = c.varlen ? uk(rng) : c.Sk;
        if (c.varlen && b == 0) {  // keep the maxima real
            in.sq[b] = c.Sq;
            cap_k[b] = c.Sk;
        }
        in.sk[b] = cap_k[b];
        if (c.seqused) {
            std::uniform_int_distribution<int64_t> uu(0, cap_k[b]);
            in.sk[b] = b == 0 ? cap_k[b] : uu(rng);
        }
    }
    if (c.varlen) {
        in.cu_q.assign(B + 1, 0);
        in.cu_k.assign(B + 1, 0);
        for (int64_t b = 0; b < B; ++b) {
            in.cu_q[b + 1] = (int32_t)(in.cu_q[b] + in.sq[b]);
            in.cu_k[b + 1] = (int32_t)(in.cu_k[b] + cap_k[b]);
            in.q_start[b] = in.cu_q[b];
            in.k_start[b] = in.cu_k[b];
        }
        in.total_q = in.cu_q[B];
        in.total_k = in.cu_k[B];
    } else {
        in.total_q = B * c.Sq;
        in.total_k = B * c.Sk;
    }
    if (c.seqused) {
        in.used.resize(B);
        for (int64_t b = 0; b < B; ++b) in.used[b] = (int32_t)in.sk[b];
    }
    bd_attention_params& p = in.p;
    bd_attention_params_init(&p, c.dtype, B, c.Sq, c.Sk, c.Hq, c.Hkv, c.D, c.Dv);
    if (c.fused_qkv) {
        const int64_t row = (int64_t)(c.Hq + 2 * c.Hkv) * c.D;
        fill_random(in.qkv, c.dtype, in.total_q * row, rng, 1.f);
        for (int64_t t = 0; t < in.total_q; ++t)  // queries get their own amplitude
            for (int64_t e = 0; e < (int64_t)c.Hq * c.D; ++e) {
                const int64_t idx = t * row + e;
                bd::cpu::store(in.qkv.data(), c.dtype, idx, c.q_amp * bd::cpu::load(in.qkv.data(), c.dtype, idx));
            }
        p.q_row_stride = p.k_row_stride = p.v_row_stride = row;
        p.q_batch_stride = p.k_batch_stride = p.v_batch_stride = c.Sq * row;
    } else {
        fill_random(in.q, c.dtype, in.total_q * c.Hq * c.D, rng, c.q_amp);
        fill_random(in.k, c.dtype, in.total_k * c.Hkv * c.D, rng, 1.f);
        fill_random(in.v, c.dtype, in.total_k * c.Hkv * c.Dv, rng, 1.f);
    }
    p.q = in.qbuf();
    p.k = in.kbuf();
    p.v = in.vbuf();
    if (c.varlen) {
        p.cu_seqlens_q = in.cu_q.data();
        p.cu_seqlens_k = in.cu_k.data();
        p.lse_row_stride = c.Hq;
        p.lse_head_stride = 1;
        p.lse_batch_stride = 0;
    }
    if (c.seqused) p.seqused_k = in.used.data();
    p.is_causal = c.causal;
    p.window_left = c.wl;
    p.window_right = c.wr;
    p.sink_tokens = c.sink_tokens;
    p.softcap = c.softcap;
    p.num_splits = c.num_splits;
    if (c.learned_sinks) {
        std::normal_distribution<float> nd(0.5f, 1.5f);
        in.sinks.resize(c.Hq);
        for (auto& s : in.sinks) s = nd(rng);
        p.sinks = in.sinks.data();
    }
    if (c.rel_buckets > 0) {
        std::uniform_real_distribution<float> ud(-2.f, 2.f);
        in.rel_table.resize((size_t)c.Hq * c.rel_buckets);
        for (auto& t : in.rel_table) t = ud(rng);
        p.rel_bias = in.rel_table.data();
        p.rel_num_buckets = c.rel_buckets;
        p.rel_max_distance = c.rel_max_distance;
        p.rel_bidirectional = c.rel_bidirectional;
    }
    if (c.alibi) {
        in.alibi_slopes.resize(c.Hq);
        for (int h = 0; h < c.Hq; ++h) in.alibi_slopes[h] = std::pow(2.f, -8.f * (h + 1) / c.Hq);
        p.alibi_slopes = in.alibi_slopes.data();
    }
    if (c.rope) {
        // StreamingLLM-style in-cache positions: mostly slot order, with a jump after the sinks
        const int64_t n = c.varlen ? in.total_k : B * c.Sk;
        in.pos.resize(n);
        std::uniform_int_distribution<int32_t> jump(0, 3000);
        for (int64_t b = 0; b < B; ++b) {
            const int32_t off = jump(rng);
            const int64_t len = c.varlen ? cap_k[b] : c.Sk;
            for (int64_t j = 0; j < len; ++j) {
                const int64_t idx = c.varlen ? in.k_start[b] + j : b * c.Sk + j;
                in.pos[idx] = (int32_t)(j < c.sink_tokens ? j : j + off);
            }
        }
        p.k_rope_positions = in.pos.data();
        p.rope_theta = 10000.f;
    }
    if (c.block > 0) make_layout(in, rng);
    in.o_elems = in.total_q * c.Hq * c.Dv;
    in.lse_elems = in.total_q * c.Hq;
    return in;
}

// The contract's visibility rule, written from CLI.md.
inline bool visible_ref(const Case& c, int64_t sq, int64_t sk, int64_t i, int64_t j) {
    const int64_t ip = i + sk - sq;
    const int64_t right = c.causal ? 0 : c.wr;
    if (right >= 0 && j > ip + right) return false;
    if (j < c.sink_tokens) return true;
    return c.wl < 0 || j >= ip - c.wl;
}

inline bool Inputs::visible(int h, int64_t sq, int64_t sk, int64_t i, int64_t j) const {
    if (!visible_ref(c, sq, sk, i, j)) return false;
    if (c.block <= 0) return true;
    const int64_t ip = i + sk - sq;  // the aligned position picks the layout row
    if (ip < 0) return false;
    const int64_t lh = c.block_heads == 1 ? 0 : h, qb = ip / c.block, kb = j / c.block;
    return lay[(size_t)((lh * lay_rows + qb) * lay_cols + kb)] != 0;
}

struct Outputs {
    std::vector<double> o;    // (rows, Hq, Dv) in the flat layout of Inputs::o_index
    std::vector<double> lse;  // Inputs::lse_index
    std::vector<uint8_t> empty;  // per lse index: 1 when the row sees no key
};

// F64 oracle (precise = true) or the naive same-precision version (precise = false): scores
// materialised per row in F32 from the stored inputs, RoPE'd keys rounded to storage, softmax in
// F32, normalised P rounded to storage, P.V in F32, output rounded to storage.
inline Outputs reference(const Inputs& in, bool precise) {
    const Case& c = in.c;
    const int dt = c.dtype;
    Outputs out;
    out.o.assign((size_t)in.o_elems, 0.0);
    out.lse.assign((size_t)in.lse_elems, -INFINITY);
    out.empty.assign((size_t)in.lse_elems, 0);
    const int G = c.Hq / c.Hkv;
#pragma omp parallel for collapse(2) schedule(dynamic, 1)
    for (int64_t b = 0; b < c.B; ++b)
        for (int h = 0; h < c.Hq; ++h) {
            const int64_t sq = in.sq[b], sk = in.sk[b];
            const int hk = h / G;
            // keys of this (b, hk), RoPE'd
            std::vector<double> K((size_t)(sk * c.D)), V((size_t)(sk * c.Dv));
            for (int64_t j = 0; j < sk; ++j) {
                for (int d = 0; d < c.D; ++d) K[j * c.D + d] = in.ke(b, j, hk, d);
                for (int d = 0; d < c.Dv; ++d) V[j * c.Dv + d] = in.ve(b, j, hk, d);
                if (c.rope) {
                    const int half = c.D / 2;
                    const int32_t pos = in.kpos(b, j);
                    for (int t = 0; t < half; ++t) {
                        double x1 = K[j * c.D + t], x2 = K[j * c.D + t + half];
                        if (precise) {
                            const double ang = pos * std::pow(10000.0, -2.0 * t / c.D);
                            K[j * c.D + t] = x1 * std::cos(ang) - x2 * std::sin(ang);
                            K[j * c.D + t + half] = x2 * std::cos(ang) + x1 * std::sin(ang);
                        } else {
                            const float inv = std::pow(10000.f, -(float)(2 * t) / (float)c.D);
                            const float ang = (float)pos * inv, cs = std::cos(ang), sn = std::sin(ang);
                            K[j * c.D + t] = round_to(dt, (float)x1 * cs - (float)x2 * sn);
                            K[j * c.D + t + half] = round_to(dt, (float)x2 * cs + (float)x1 * sn);
                        }
                    }
                }
            }
            std::vector<double> s((size_t)std::max<int64_t>(sk, 1));
            std::vector<char> vis((size_t)std::max<int64_t>(sk, 1));
            for (int64_t i = 0; i < sq; ++i) {
                const int64_t li = in.lse_index(b, i, h), oi = in.o_index(b, i, h);
                double mx = -INFINITY;
                bool any = false;
                for (int64_t j = 0; j < sk; ++j) {
                    vis[j] = in.visible(h, sq, sk, i, j);
                    if (!vis[j]) continue;
                    any = true;
                    if (precise) {
                        double acc = 0;
                        for (int d = 0; d < c.D; ++d) acc += in.qe(b, i, h, d) * K[j * c.D + d];
                        acc *= c.scale_or_default();
                        if (c.softcap > 0) acc = c.softcap * std::tanh(acc / c.softcap);
                        s[j] = acc + position_bias(c, in, h, j - (i + sk - sq));
                    } else {
                        float acc = 0;
                        for (int d = 0; d < c.D; ++d) acc += (float)in.qe(b, i, h, d) * (float)K[j * c.D + d];
                        acc *= (float)c.scale_or_default();
                        if (c.softcap > 0) acc = c.softcap * std::tanh(acc / c.softcap);
                        s[j] = acc + (float)position_bias(c, in, h, j - (i + sk - sq));
                    }
                    mx = std::max(mx, s[j]);
                }
                const bool has_sink = c.learned_sinks;
                const double sink = has_sink ? in.sinks[h] : 0.0;
                if (!any) {
                    out.empty[li] = 1;
                    out.lse[li] = has_sink ? sink : -INFINITY;
                    continue;  // o stays 0
                }
                if (has_sink) mx = std::max(mx, sink);
                if (precise) {
                    double sum = has_sink ? std::exp(sink - mx) : 0.0;
                    for (int64_t j = 0; j < sk; ++j)
                        if (vis[j]) sum += std::exp(s[j] - mx);
                    out.lse[li] = mx + std::log(sum);
                    for (int64_t j = 0; j < sk; ++j) {
                        if (!vis[j]) continue;
                        const double pj = std::exp(s[j] - mx) / sum;
                        for (int d = 0; d < c.Dv; ++d) out.o[oi + d] += pj * V[j * c.Dv + d];
                    }
                } else {
                    const float fm = (float)mx;
                    float sum = has_sink ? std::exp((float)sink - fm) : 0.f;
                    for (int64_t j = 0; j < sk; ++j)
                        if (vis[j]) sum += std::exp((float)s[j] - fm);
                    out.lse[li] = fm + std::log(sum);
                    std::vector<float> acc((size_t)c.Dv, 0.f);
                    for (int64_t j = 0; j < sk; ++j) {
                        if (!vis[j]) continue;
                        const float pj = round_to(dt, std::exp((float)s[j] - fm) / sum);
                        for (int d = 0; d < c.Dv; ++d) acc[d] += pj * (float)V[j * c.Dv + d];
                    }
                    for (int d = 0; d < c.Dv; ++d) out.o[oi + d] = round_to(dt, acc[d]);
                }
            }
        }
    return out;
}

// Result of one comparison; `ok` false carries a message.
struct Check {
    bool ok = true;
    std::string msg;
    double err_o = 0, bound_o = 0, err_lse = 0, bound_lse = 0;
};

inline double storage_half_ulp(int dt) { return dt == BD_BF16 ? 0x1p-9 : dt == BD_F16 ? 0x1p-12 : 0x1p-21; }

// Kernel outputs (o in storage type, lse F32) against the oracle with the low-precision rule.
// NaN/Inf first, then exact zeros / lse for rows that see no key, then the error bounds.
inline Check check_outputs(const Inputs& in, const void* o, const float* lse, const Outputs& ref,
                           const Outputs& naive) {
    const Case& c = in.c;
    Check r;
    char buf[512];
    double maxref = 0;
    for (double x : ref.o) maxref = std::max(maxref, std::fabs(x));
    for (int64_t e = 0; e < in.o_elems; ++e) {
        const double x = bd::cpu::load(o, c.dtype, e);
        if (!std::isfinite(x)) {
            std::snprintf(buf, sizeof buf, "o[%lld] = %g is not finite", (long long)e, x);
            return Check{false, buf};
        }
    }
    for (int64_t e = 0; e < in.lse_elems && lse; ++e) {
        if (std::isnan(lse[e]) || lse[e] == INFINITY) {
            std::snprintf(buf, sizeof buf, "lse[%lld] = %g", (long long)e, (double)lse[e]);
            return Check{false, buf};
        }
    }
    double en = 0, ek = 0, ln = 0, lk = 0, lse_floor = 0;
    for (int64_t b = 0; b < c.B; ++b)
        for (int64_t i = 0; i < in.sq[b]; ++i)
            for (int h = 0; h < c.Hq; ++h) {
                const int64_t li = in.lse_index(b, i, h), oi = in.o_index(b, i, h);
                if (ref.empty[li]) {
                    for (int d = 0; d < c.Dv; ++d)
                        if (bd::cpu::load(o, c.dtype, oi + d) != 0.0) {
                            std::snprintf(buf, sizeof buf, "row (b%lld i%lld h%d) sees no key but o[%d] = %g", (long long)b,
                                          (long long)i, h, d, (double)bd::cpu::load(o, c.dtype, oi + d));
                            return Check{false, buf};
                        }
                    if (lse && !(lse[li] == (float)ref.lse[li])) {
                        std::snprintf(buf, sizeof buf, "row (b%lld i%lld h%d) sees no key: lse %g, want %g", (long long)b,
                                      (long long)i, h, (double)lse[li], ref.lse[li]);
                        return Check{false, buf};
                    }
                    continue;
                }
                for (int d = 0; d < c.Dv; ++d) {
                    ek = std::max(ek, std::fabs(bd::cpu::load(o, c.dtype, oi + d) - ref.o[oi + d]));
                    en = std::max(en, std::fabs(naive.o[oi + d] - ref.o[oi + d]));
                }
                if (lse) {
                    lk = std::max(lk, std::fabs((double)lse[li] - ref.lse[li]));
                    ln = std::max(ln, std::fabs(naive.lse[li] - ref.lse[li]));
                    lse_floor = std::max(lse_floor, 2e-6 * (1.0 + std::fabs(ref.lse[li])));
                }
            }
    r.err_o = ek;
    r.bound_o = 2 * en + storage_half_ulp(c.dtype) * std::max(maxref, 1e-3) + 1e-6;
    r.err_lse = lk;
    r.bound_lse = 2 * ln + lse_floor;
    if (ek > r.bound_o) {
        std::snprintf(buf, sizeof buf, "o: max|kernel - ref64| = %.3g > bound %.3g (naive %.3g)", ek, r.bound_o, en);
        r.ok = false;
        r.msg = buf;
    } else if (lk > r.bound_lse) {
        std::snprintf(buf, sizeof buf, "lse: max|kernel - ref64| = %.3g > bound %.3g (naive %.3g)", lk, r.bound_lse, ln);
        r.ok = false;
        r.msg = buf;
    }
    return r;
}

// Normalised mean squared error of a against b (both in the layout of o), rows that exist only.
inline double nmse(const Inputs& in, const void* a, const void* b) {
    double num = 0, den = 0;
    for (int64_t e = 0; e < in.o_elems; ++e) {
        const double x = bd::cpu::load(a, in.c.dtype, e), y = bd::cpu::load(b, in.c.dtype, e);
        num += (x - y) * (x - y);
        den += y * y;
    }
    return den > 0 ? num / den : num;
}

// The correctness cases shared by the CPU and CUDA harnesses.
inline std::vector<Case> standard_cases(bool quick) {
    std::vector<Case> cs;
    uint64_t seed = 1000;
    auto add = [&](Case c) {
        c.seed = ++seed;
        cs.push_back(c);
    };
    const int dts[3] = {BD_F32, BD_BF16, BD_F16};
    const int hds[5] = {64, 80, 96, 128, 256};
    // every head dim and dtype: full and causal, lengths not a multiple of any tile
    for (int dt : dts)
        for (int hd : hds) {
            if (quick && hd != 64 && hd != 128) continue;
            Case c;
            c.name = "basic";
            c.dtype = dt;
            c.D = c.Dv = hd;
            c.B = 2;
            c.Sq = 77;
            c.Sk = 93;
            c.Hq = 2;
            c.Hkv = 2;
            add(c);
            c.name = "causal";
            c.causal = true;
            c.Sq = c.Sk = 131;
            add(c);
        }
    for (int dt : dts) {
        Case c;
        c.dtype = dt;
        c.D = c.Dv = 64;
        c.Hq = 4;
        c.Hkv = 2;
        c.causal = true;
        c.name = "causal Sq<Sk (bottom-right)";
        c.Sq = 37;
        c.Sk = 150;
        add(c);
        c.name = "causal Sq>Sk (empty rows)";
        c.Sq = 150;
        c.Sk = 37;
        add(c);
        c.name = "decode Sq=1";
        c.Sq = 1;
        c.Sk = 300;
        add(c);
        c.name = "Sk=0 (all rows empty)";
        c.Sq = 5;
        c.Sk = 0;
        add(c);
        c.causal = false;
        c.name = "window 5/7 non-causal";
        c.Sq = c.Sk = 140;
        c.wl = 5;
        c.wr = 7;
        add(c);
        c.causal = true;
        c.name = "window 16 causal";
        c.wl = 16;
        c.wr = -1;
        add(c);
        c.name = "window larger than the sequence";
        c.wl = 1000;
        add(c);
        c.name = "window 0/0 (diagonal only)";
        c.causal = false;
        c.wl = 0;
        c.wr = 0;
        add(c);
        c.name = "window left 3 beyond the keys (Sq>Sk)";
        c.causal = true;
        c.Sq = 100;
        c.Sk = 20;
        c.wl = 3;
        c.wr = -1;
        add(c);
        // sink tokens (StreamingLLM) with a window, under causal
        c.name = "sink tokens 4 + window 20";
        c.Sq = c.Sk = 200;
        c.wl = 20;
        c.sink_tokens = 4;
        add(c);
        c.name = "sink tokens 70 (two tiles) + window 30";
        c.sink_tokens = 70;
        c.wl = 30;
        add(c);
        c.name = "sink tokens, decode over a 300-key cache";
        c.Sq = 3;
        c.Sk = 300;
        c.sink_tokens = 4;
        c.wl = 60;
        add(c);
        c.sink_tokens = 0;
        c.wl = -1;
        // learned sinks (gpt-oss), also on rows that see nothing
        c.name = "learned sinks causal";
        c.Sq = c.Sk = 90;
        c.learned_sinks = true;
        add(c);
        c.name = "learned sinks, Sq>Sk (empty rows -> lse = sink)";
        c.Sq = 70;
        c.Sk = 20;
        add(c);
        c.name = "learned sinks + window 8";
        c.Sq = c.Sk = 100;
        c.wl = 8;
        add(c);
        c.learned_sinks = false;
        c.wl = -1;
        // softcap
        c.name = "softcap 30";
        c.softcap = 30.f;
        c.q_amp = 3.f;
        add(c);
        c.name = "softcap 2 (saturating)";
        c.softcap = 2.f;
        c.q_amp = 6.f;
        add(c);
        c.softcap = 0.f;
        c.name = "peaky scores (q x8)";
        c.q_amp = 8.f;
        add(c);
        c.q_amp = 1.f;
    }
    // GQA ratios 1/2/4/8: decode (packed rows), few queries (packed), prefill
    for (int dt : dts)
        for (int hkv : {8, 4, 2, 1})
            for (int64_t sq : {1, 5, 70}) {
                if (quick && dt != BD_BF16) continue;
                Case c;
                c.name = "gqa";
                c.dtype = dt;
                c.D = c.Dv = 128;
                c.B = 2;
                c.Hq = 8;
                c.Hkv = hkv;
                c.Sq = sq;
                c.Sk = 129;
                c.causal = true;
                add(c);
            }
    // variable lengths
    for (int dt : dts) {
        Case c;
        c.dtype = dt;
        c.D = c.Dv = 64;
        c.B = 5;
        c.Hq = 4;
        c.Hkv = 2;
        c.varlen = true;
        c.causal = true;
        c.name = "varlen causal";
        c.Sq = c.Sk = 150;
        add(c);
        c.name = "varlen non-causal Sq!=Sk";
        c.causal = false;
        c.Sq = 60;
        c.Sk = 200;
        add(c);
        c.name = "varlen decode + seqused_k";
        c.causal = true;
        c.Sq = 1;
        c.Sk = 300;
        c.seqused = true;
        add(c);
        c.name = "dense cache + seqused_k";
        c.varlen = false;
        c.Sq = 4;
        add(c);
        c.name = "varlen window + sinks";
        c.varlen = true;
        c.seqused = false;
        c.Sq = c.Sk = 180;
        c.wl = 25;
        c.sink_tokens = 3;
        c.learned_sinks = true;
        add(c);
    }
    // split-KV: 1..8 splits must agree (decode with GQA, prefill causal, window + sinks)
    for (int dt : dts)
        for (int s = 1; s <= 8; ++s) {
            if (quick && (dt != BD_BF16 || (s != 1 && s != 3 && s != 8))) continue;
            Case c;
            c.dtype = dt;
            c.D = c.Dv = 128;
            c.num_splits = s;
            c.name = "split-KV decode gqa";
            c.B = 2;
            c.Hq = 8;
            c.Hkv = 2;
            c.Sq = 1;
            c.Sk = 1000;
            c.causal = true;
            add(c);
            c.name = "split-KV prefill causal";
            c.Hq = 2;
            c.Hkv = 1;
            c.Sq = c.Sk = 200;
            add(c);
            c.name = "split-KV window + sink tokens + learned sinks";
            c.Sq = 3;
            c.Sk = 700;
            c.wl = 100;
            c.sink_tokens = 4;
            c.learned_sinks = true;
            add(c);
            c.name = "split-KV varlen seqused";
            c.wl = -1;
            c.sink_tokens = 0;
            c.learned_sinks = false;
            c.B = 3;
            c.varlen = true;
            c.seqused = true;
            c.Sq = 2;
            c.Sk = 500;
            add(c);
        }
    // RoPE applied to K on load (StreamingLLM sink + window cache)
    for (int dt : dts)
        for (int hd : {64, 128}) {
            Case c;
            c.dtype = dt;
            c.D = c.Dv = hd;
            c.rope = true;
            c.name = "rope-K prefill causal";
            c.Hq = 4;
            c.Hkv = 2;
            c.Sq = c.Sk = 100;
            c.causal = true;
            add(c);
            c.name = "rope-K sink+window decode";
            c.Sq = 1;
            c.Sk = 260;
            c.sink_tokens = 4;
            c.wl = 200;
            add(c);
            c.name = "rope-K varlen split 3";
            c.B = 3;
            c.varlen = true;
            c.num_splits = 3;
            add(c);
        }
    // strides: q, k, v as views of one fused QKV projection output
    for (int dt : dts) {
        Case c;
        c.name = "fused qkv strides";
        c.dtype = dt;
        c.D = c.Dv = 64;
        c.B = 2;
        c.Hq = 4;
        c.Hkv = 2;
        c.Sq = c.Sk = 100;
        c.causal = true;
        c.fused_qkv = true;
        add(c);
    }
    // shapes only some backends run (the harness asks *_attention_supports first)
    {
        Case c;
        c.name = "Dv = 2D (differential attention's V)";
        c.D = 64;
        c.Dv = 128;
        c.Hq = 2;
        c.Hkv = 1;
        c.Sq = c.Sk = 70;
        c.causal = true;
        add(c);
        c.name = "odd head dims D40 Dv72";
        c.D = 40;
        c.Dv = 72;
        add(c);
        c.dtype = BD_BF16;
        c.name = "odd head dims D40 Dv72";
        add(c);
        c.dtype = BD_F32;
        c.name = "tiny head dim D8 Dv8, B3";
        c.D = c.Dv = 8;
        c.B = 3;
        add(c);
    }
    // position biases: T5's relative bias (encoder: bidirectional, past max distance; decoder: causal,
    // GQA, a chunk after a prefix, decode), ALiBi, both with split-KV
    for (int dt : dts) {
        Case c;
        c.dtype = dt;
        c.Hq = c.Hkv = 4;
        c.D = c.Dv = 64;
        c.rel_buckets = 32;
        c.name = "t5 bias encoder";
        c.B = 2;
        c.Sq = c.Sk = 300;
        c.rel_bidirectional = true;
        add(c);
        c.name = "t5 bias decoder causal GQA";
        c.B = 1;
        c.Sq = c.Sk = 200;
        c.Hq = 8;
        c.Hkv = 2;
        c.causal = true;
        c.rel_bidirectional = false;
        add(c);
        c.name = "t5 bias decoder chunk after a prefix";
        c.Sq = 37;
        c.Sk = 170;
        add(c);
        c.name = "t5 bias decode split";
        c.Sq = 1;
        c.Sk = 600;
        c.num_splits = 3;
        add(c);
        c.num_splits = 1;
        c.name = "t5 bias small table bidirectional";
        c.Sq = c.Sk = 90;
        c.causal = false;
        c.rel_bidirectional = true;
        c.rel_buckets = 8;
        c.rel_max_distance = 20;
        add(c);
        c.name = "alibi + t5 bias causal";
        c.rel_buckets = 32;
        c.rel_max_distance = 128;
        c.rel_bidirectional = false;
        c.causal = true;
        c.alibi = true;
        c.Sq = c.Sk = 130;
        add(c);
    }
    if (quick) {  // every 4th case, plus every split / rope / varlen / odd-shape / bias case
        std::vector<Case> q;
        for (size_t i = 0; i < cs.size(); ++i) {
            const std::string& n = cs[i].name;
            const bool keep = i % 4 == 0 || n.find("rope") != std::string::npos || n.find("varlen") != std::string::npos ||
                              n.find("bias") != std::string::npos ||
                              n.find("head dim") != std::string::npos ||
                              (n.find("split") != std::string::npos && cs[i].dtype == BD_BF16);
            if (keep) q.push_back(cs[i]);
        }
        return q;
    }
    return cs;
}

// Block-sparse cases (attention.h's BSR layout): the generators' patterns and random layouts,
// causal or not, decode and Sq < Skv, GQA (packed rows), per-head layouts, empty layout rows,
// lengths not a multiple of the block, split-KV, every dtype and the tile shapes (F32 16x32,
// 16-bit 64x64, 64x32 at head dim 256). Shared by the CPU and CUDA harnesses.
inline std::vector<Case> sparse_cases(bool quick) {
    std::vector<Case> cs;
    uint64_t seed = 5000;
    auto add = [&](Case c) {
        c.seed = ++seed;
        cs.push_back(c);
    };
    for (int dt : {BD_F32, BD_BF16, BD_F16}) {
        Case c;
        c.dtype = dt;
        c.D = c.Dv = 64;
        c.B = 2;
        c.Hq = 4;
        c.Hkv = 2;
        c.block = 64;
        c.causal = true;
        c.name = "sparse local:2,stride:3 causal (Sk not a multiple of the block)";
        c.Sq = c.Sk = 300;
        c.layout = "local:2,stride:3";
        add(c);
        c.name = "sparse random 40% non-causal";
        c.causal = false;
        c.Sq = c.Sk = 260;
        c.layout = "random:40";
        add(c);
        c.name = "sparse local:1,vstride:3 causal, block 128";
        c.causal = true;
        c.block = 128;
        c.Sq = c.Sk = 450;
        c.layout = "local:1,vstride:3";
        add(c);
        c.block = 64;
        c.name = "sparse per-head local:1,hvstride:4";
        c.block_heads = c.Hq;
        c.Sq = c.Sk = 330;
        c.layout = "local:1,hvstride:4";
        add(c);
        c.name = "sparse per-head random 50% non-causal";
        c.causal = false;
        c.layout = "random:50";
        add(c);
        c.block_heads = 1;
        c.causal = true;
        c.name = "sparse empty layout row (hole:1)";
        c.Sq = c.Sk = 200;
        c.layout = "local:2,sink:1,hole:1";
        add(c);
        c.name = "sparse causal Sq<Sk (prefill over a prefix)";
        c.Sq = 100;
        c.Sk = 333;
        c.layout = "local:2,sink:1";
        add(c);
        c.name = "sparse causal Sq>Sk (negative positions see nothing)";
        c.Sq = 150;
        c.Sk = 70;
        c.layout = "all";
        add(c);
        c.name = "sparse empty layout (every row empty)";
        c.Sq = c.Sk = 90;
        c.layout = "random:0";
        add(c);
        c.name = "sparse block_rows beyond the keys";
        c.Sq = c.Sk = 140;
        c.block_rows = 7;
        c.layout = "local:2";
        add(c);
        c.block_rows = 0;
        c.name = "sparse window_right 10 non-causal + softcap";
        c.causal = false;
        c.wr = 10;
        c.softcap = 20.f;
        c.q_amp = 2.f;
        c.Sq = c.Sk = 270;
        c.layout = "local:2,stride:2";
        add(c);
        c.wr = -1;
        c.softcap = 0.f;
        c.q_amp = 1.f;
        c.causal = true;
        c.name = "sparse learned sinks + empty row";
        c.learned_sinks = true;
        c.Sq = c.Sk = 200;
        c.layout = "local:1,hole:2";
        add(c);
        c.learned_sinks = false;
        c.name = "sparse varlen causal";
        c.varlen = true;
        c.B = 4;
        c.Sq = c.Sk = 260;
        c.layout = "local:2,vstride:2";
        add(c);
        c.varlen = false;
        c.B = 2;
        // decode over a cache: GQA rows packed (shared layout), seqused_k
        c.name = "sparse decode Sq=1 gqa seqused";
        c.Hq = 8;
        c.Hkv = 2;
        c.Sq = 1;
        c.Sk = 700;
        c.seqused = true;
        c.layout = "local:3,stride:4";
        add(c);
        c.name = "sparse decode Sq=5 gqa random 50% non-causal";
        c.causal = false;
        c.seqused = false;
        c.Sq = 5;
        c.Sk = 500;
        c.layout = "random:50";
        add(c);
        c.name = "sparse decode per-head (no packing) seqused";
        c.causal = true;
        c.seqused = true;
        c.block_heads = c.Hq;
        c.Sq = 2;
        c.Sk = 600;
        c.layout = "local:1,hvstride:3";
        add(c);
        c.seqused = false;
        c.block_heads = 1;
        // split-KV over the sparse walk
        for (int s : {2, 3, 5}) {
            if (quick && s != 3) continue;
            c.num_splits = s;
            c.name = "sparse split-KV decode gqa";
            c.Sq = 1;
            c.Sk = 900;
            c.layout = "local:2,stride:3";
            add(c);
            c.name = "sparse split-KV prefill causal";
            c.Hq = 2;
            c.Hkv = 1;
            c.Sq = c.Sk = 400;
            add(c);
            c.name = "sparse split-KV per-head random";
            c.causal = false;
            c.block_heads = c.Hq;
            c.Sq = c.Sk = 300;
            c.layout = "random:30,hole:0";
            add(c);
            c.causal = true;
            c.block_heads = 1;
            c.Hq = 8;
            c.Hkv = 2;
        }
        c.num_splits = 1;
        // head dims: 16-bit tiles 64x64 (D 128) and 64x32 (D 256)
        for (int hd : {128, 256}) {
            if (quick && hd == 256) continue;
            c.name = "sparse head dim";
            c.D = c.Dv = hd;
            c.Hq = 2;
            c.Hkv = 1;
            c.Sq = c.Sk = 330;
            c.layout = "local:2,vstride:3";
            add(c);
        }
    }
    return cs;
}

}  // namespace bdt
