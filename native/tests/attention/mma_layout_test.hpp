// CPU unit test of the tensor-core fragment maps (native/cuda/attention/mma_layout.hpp):
//   1. each map against the PTX ISA's tables, restated here as offset lists, and as a bijection
//      onto its matrix;
//   2. the kernel's compositions, by emulating ldmatrix over a shared tile of element ids laid out
//      with the kernel's swizzle: Q through ldmatrix.x4 is the mma A fragment, K through ldmatrix.x4
//      is the B fragment of S = Q K^T, V through ldmatrix.x4.trans is the B fragment of O = P V,
//      and the S accumulators repacked as the kernel does are the A fragment of P;
//   3. bank conflicts: every 8-lane ldmatrix phase and 8 consecutive cp.async writes hit distinct
//      16-byte bank groups (at most 2-way for the padded head dims' writes).
#pragma once

#include <cstdio>
#include <functional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "mma_layout.hpp"

namespace bdt {

struct LayoutReport {
    int passed = 0, failed = 0;
    void check(bool ok, const std::string& what) {
        if (ok) {
            ++passed;
        } else {
            ++failed;
            std::printf("FAIL mma layout: %s\n", what.c_str());
        }
    }
};

inline void test_mma_layout(LayoutReport& rep) {
    namespace ml = bd::mma_layout;
    // 1. ISA tables (PTX ISA, mma.m16n8k16 .f16/.bf16): (row, col) = (groupID, 2 tig) + offset
    const int a_off[8][2] = {{0, 0}, {0, 1}, {8, 0}, {8, 1}, {0, 8}, {0, 9}, {8, 8}, {8, 9}};
    const int b_off[4] = {0, 1, 8, 9};  // k = 2 tig + offset, n = groupID
    const int c_off[4][2] = {{0, 0}, {0, 1}, {8, 0}, {8, 1}};
    bool ok_a = true, ok_b = true, ok_c = true;
    std::set<std::pair<int, int>> cov_a, cov_b, cov_c;
    for (int lane = 0; lane < 32; ++lane) {
        const int g = lane >> 2, t = lane & 3;
        for (int e = 0; e < 8; ++e) {
            ok_a &= ml::a_row(lane, e) == g + a_off[e][0] && ml::a_col(lane, e) == 2 * t + a_off[e][1];
            cov_a.insert({ml::a_row(lane, e), ml::a_col(lane, e)});
        }
        for (int e = 0; e < 4; ++e) {
            ok_b &= ml::b_k(lane, e) == 2 * t + b_off[e] && ml::b_n(lane, e) == g;
            ok_c &= ml::c_row(lane, e) == g + c_off[e][0] && ml::c_col(lane, e) == 2 * t + c_off[e][1];
            cov_b.insert({ml::b_k(lane, e), ml::b_n(lane, e)});
            cov_c.insert({ml::c_row(lane, e), ml::c_col(lane, e)});
        }
    }
    rep.check(ok_a && cov_a.size() == 256, "A fragment map (m16n8k16) matches the ISA and covers 16x16");
    rep.check(ok_b && cov_b.size() == 128, "B fragment map matches the ISA and covers 16x8");
    rep.check(ok_c && cov_c.size() == 128, "C/D fragment map matches the ISA and covers 16x8");
    bool ok_ld = true;
    for (int lane = 0; lane < 32; ++lane)
        for (int h = 0; h < 2; ++h) {
            ok_ld &= ml::ldsm_dst_row(lane, h, false) == lane / 4 && ml::ldsm_dst_col(lane, h, false) == 2 * (lane % 4) + h;
            ok_ld &= ml::ldsm_dst_row(lane, h, true) == 2 * (lane % 4) + h && ml::ldsm_dst_col(lane, h, true) == lane / 4;
        }
    rep.check(ok_ld, "ldmatrix result map matches the ISA (plain and .trans)");

    // 2. compositions, for every head dim the kernel is built for
    for (int hd : {64, 80, 96, 128, 256}) {
        const int C = hd / 8, RS = ml::row_stride_chunks(C), ROWS = 64;
        // shared tile of element ids: physical chunk -> (row, logical chunk)
        std::vector<int> phys((size_t)ROWS * RS, -1);
        bool inj = true;
        for (int r = 0; r < ROWS; ++r)
            for (int c = 0; c < C; ++c) {
                const int pc = ml::smem_chunk(r, c, C);
                inj &= pc >= 0 && pc < ROWS * RS && phys[pc] == -1;
                if (pc >= 0 && pc < ROWS * RS) phys[pc] = r * C + c;
            }
        rep.check(inj, "hd" + std::to_string(hd) + ": swizzled tile layout is injective and in bounds");
        if (!inj) continue;
        // ldmatrix.x4 emulation: lane l gets, in register q half h, the logical (row, col) below
        auto ldsm = [&](const std::function<std::pair<int, int>(int)>& addr, int lane, int q, int h, bool trans) {
            const int src_lane = 8 * q + (trans ? ml::ldsm_dst_row(lane, h, true) : ml::ldsm_dst_row(lane, h, false));
            const std::pair<int, int> rc = addr(src_lane);  // (row, logical chunk) the source lane points at
            const int id = phys[ml::smem_chunk(rc.first, rc.second, C)];
            const int col_in_chunk = trans ? ml::ldsm_dst_col(lane, h, true) : ml::ldsm_dst_col(lane, h, false);
            return std::make_pair(id / C, (id % C) * 8 + col_in_chunk);
        };
        bool ok_q = true, ok_k = true, ok_v = true;
        for (int warp = 0; warp < 4; ++warp)
            for (int kk = 0; kk < hd / 16; ++kk)
                for (int lane = 0; lane < 32; ++lane)
                    for (int q = 0; q < 4; ++q)
                        for (int h = 0; h < 2; ++h) {
                            // Q (A operand) at rows warp*16.., k-step kk
                            auto got = ldsm([&](int l) { return std::make_pair(warp * 16 + ml::ldsm_a_row(l), kk * 2 + ml::ldsm_a_chunk(l)); },
                                            lane, q, h, false);
                            const int e = 2 * q + h;
                            ok_q &= got.first == warp * 16 + ml::a_row(lane, e) && got.second == kk * 16 + ml::a_col(lane, e);
                        }
        for (int np = 0; np < 4; ++np)
            for (int kk = 0; kk < hd / 16; ++kk)
                for (int lane = 0; lane < 32; ++lane)
                    for (int q = 0; q < 4; ++q)
                        for (int h = 0; h < 2; ++h) {
                            // K rows = keys (n), cols = dims (k): register q = b-reg (q & 1) of n-tile 2np + (q >> 1)
                            auto got = ldsm([&](int l) { return std::make_pair(np * 16 + ml::ldsm_bk_row(l), kk * 2 + ml::ldsm_bk_chunk(l)); },
                                            lane, q, h, false);
                            const int e = (q & 1) * 2 + h;
                            const int n = (2 * np + (q >> 1)) * 8 + ml::b_n(lane, e), k = kk * 16 + ml::b_k(lane, e);
                            ok_k &= got.first == n && got.second == k;
                        }
        for (int kk = 0; kk < 4; ++kk)
            for (int dp = 0; dp < hd / 16; ++dp)
                for (int lane = 0; lane < 32; ++lane)
                    for (int q = 0; q < 4; ++q)
                        for (int h = 0; h < 2; ++h) {
                            // V rows = keys (k), cols = dv (n), read transposed
                            auto got = ldsm([&](int l) { return std::make_pair(kk * 16 + ml::ldsm_bv_row(l), dp * 2 + ml::ldsm_bv_chunk(l)); },
                                            lane, q, h, true);
                            const int e = (q & 1) * 2 + h;
                            const int k = kk * 16 + ml::b_k(lane, e), n = (2 * dp + (q >> 1)) * 8 + ml::b_n(lane, e);
                            ok_v &= got.first == k && got.second == n;
                        }
        rep.check(ok_q, "hd" + std::to_string(hd) + ": Q via ldmatrix.x4 is the mma A fragment");
        rep.check(ok_k, "hd" + std::to_string(hd) + ": K via ldmatrix.x4 is the B fragment of Q K^T");
        rep.check(ok_v, "hd" + std::to_string(hd) + ": V via ldmatrix.x4.trans is the B fragment of P V");

        // 3. bank groups: 8-lane phases of each ldmatrix pattern, and 8 consecutive cp.async chunks
        auto phase_ok = [&](const std::function<std::pair<int, int>(int)>& addr) {
            for (int ph = 0; ph < 4; ++ph) {
                std::set<int> banks;
                for (int l = 8 * ph; l < 8 * ph + 8; ++l) {
                    auto rc = addr(l);
                    banks.insert(ml::smem_chunk(rc.first, rc.second, C) % 8);
                }
                if (banks.size() != 8) return false;
            }
            return true;
        };
        bool ok_bank = true;
        for (int kk = 0; kk < hd / 16; ++kk)
            for (int blk = 0; blk < 4; ++blk) {
                ok_bank &= phase_ok([&](int l) { return std::make_pair(blk * 16 + ml::ldsm_a_row(l), kk * 2 + ml::ldsm_a_chunk(l)); });
                ok_bank &= phase_ok([&](int l) { return std::make_pair(blk * 16 + ml::ldsm_bk_row(l), kk * 2 + ml::ldsm_bk_chunk(l)); });
            }
        for (int kk = 0; kk < 4; ++kk)
            for (int dp = 0; dp < hd / 16; ++dp)
                ok_bank &= phase_ok([&](int l) { return std::make_pair(kk * 16 + ml::ldsm_bv_row(l), dp * 2 + ml::ldsm_bv_chunk(l)); });
        int worst = 0;
        for (int base = 0; base + 8 <= ROWS * C; base += 8) {
            int count[8] = {0};
            for (int idx = base; idx < base + 8; ++idx) ++count[ml::smem_chunk(idx / C, idx % C, C) % 8];
            for (int x : count) worst = std::max(worst, x);
        }
        rep.check(ok_bank, "hd" + std::to_string(hd) + ": ldmatrix phases are free of bank conflicts");
        rep.check(worst <= (C % 8 == 0 ? 1 : 2),
                  "hd" + std::to_string(hd) + ": cp.async writes at most " + std::to_string(C % 8 == 0 ? 1 : 2) +
                      "-way per bank group (got " + std::to_string(worst) + ")");
    }

    // the S accumulators of n-tiles 2kk and 2kk+1, packed as the kernel does, are the A fragment of P
    bool ok_p = true;
    for (int lane = 0; lane < 32; ++lane)
        for (int reg = 0; reg < 4; ++reg)
            for (int h = 0; h < 2; ++h) {
                const int tile = reg >> 1, ce = (reg & 1) * 2 + h;  // pa[reg] = pack(s[2kk + tile][ce], ...)
                const int e = 2 * reg + h;
                ok_p &= ml::c_row(lane, ce) == ml::a_row(lane, e) && tile * 8 + ml::c_col(lane, ce) == ml::a_col(lane, e);
            }
    rep.check(ok_p, "S accumulators repacked in registers are the A fragment of P V");
    // the epilogue stores element pairs (e, e + 1) at (row, col), (row, col + 1); rows a and a + 8
    bool ok_st = true;
    for (int lane = 0; lane < 32; ++lane)
        ok_st &= ml::c_col(lane, 1) == ml::c_col(lane, 0) + 1 && ml::c_row(lane, 1) == ml::c_row(lane, 0) &&
                 ml::c_row(lane, 2) == ml::c_row(lane, 0) + 8 && ml::c_col(lane, 2) == ml::c_col(lane, 0) &&
                 ml::c_col(lane, 3) == ml::c_col(lane, 0) + 1 && ml::c_row(lane, 3) == ml::c_row(lane, 2);
    rep.check(ok_st, "epilogue pair stores follow the C fragment map");
}

}  // namespace bdt
