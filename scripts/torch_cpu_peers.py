#!/usr/bin/env python3
"""PyTorch CPU peers for braindrip's CPU benchmarks (docs/perf/cpu-backend.md), on the shapes of
`braindrip bench --device cpu`: causal attention (naive materialized: S = Q.K^T * scale + mask,
softmax, P.V, the whole (B, H, S, S) score tensor in memory; and torch's fused
scaled_dot_product_attention where the torch has it, >= 2.0), and the row kernels at rows x cols (rmsnorm, layernorm, softmax,
SiLU, SwiGLU, RoPE). F32, torch.set_num_threads(--threads). Median of --repeats after --warmup,
wall clock. FLOPs and bytes are counted as braindrip bench counts them (BENCHMARKS.md): attention
4 B H D x (visible query-key pairs), S (S + 1) / 2 for causal; row kernels the bytes read + written.
Writes a JSON array (--json) and prints a table."""
import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F


def time_ms(fn, warmup, repeats):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times), min(times)


def attention_peers(a, out):
    B, H, S, D = a.batch, a.heads, a.seq, a.head_dim
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(B, H, S, D, generator=g) for _ in range(3))
    scale = D ** -0.5
    mask = torch.full((S, S), float("-inf")).triu(1)
    flops = 4.0 * B * H * D * S * (S + 1) / 2
    shape = {"batch": B, "seq_q": S, "seq_kv": S, "heads": H, "head_dim": D, "causal": True}

    def naive():
        s = torch.matmul(q, k.transpose(-1, -2)) * scale + mask
        return torch.matmul(torch.softmax(s, dim=-1), v)

    def sdpa():
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)

    peers = [("torch-naive", naive)]
    if hasattr(F, "scaled_dot_product_attention"):  # torch >= 2.0 (Debian's 1.13 has none)
        peers.append(("torch-sdpa", sdpa))
    for name, fn in peers:
        med, mn = time_ms(fn, a.warmup, a.repeats)
        out.append({"op": "attention", "peer": name, "dtype": "f32", "shape": shape, "median_ms": med,
                    "min_ms": mn, "gflops": flops / (med * 1e-3) / 1e9})


def row_peers(a, out):
    R, C = a.rows, a.cols
    g = torch.Generator().manual_seed(0)
    x = torch.randn(R, C, generator=g)
    y = torch.randn(R, C, generator=g)
    w = torch.randn(C, generator=g)
    bias = torch.randn(C, generator=g)
    nb = 4.0 * R * C  # one F32 tensor of the shape
    heads, hd = 32, 128
    xr = torch.randn(4096, heads, hd, generator=g)
    pos = torch.arange(4096, dtype=torch.float32)
    inv = 10000.0 ** (-torch.arange(0, hd, 2, dtype=torch.float32) / hd)
    ang = pos[:, None] * inv[None, :]
    cos, sin = torch.cat((ang.cos(), ang.cos()), -1)[:, None, :], torch.cat((ang.sin(), ang.sin()), -1)[:, None, :]

    def rope():
        x1, x2 = xr[..., : hd // 2], xr[..., hd // 2:]
        return xr * cos + torch.cat((-x2, x1), dim=-1) * sin

    cases = [
        ("rmsnorm", {"rows": R, "cols": C}, lambda: x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * w, 2 * nb),
        ("layernorm", {"rows": R, "cols": C}, lambda: F.layer_norm(x, (C,), w, bias, 1e-5), 2 * nb),
        ("softmax", {"rows": R, "cols": C}, lambda: torch.softmax(x, dim=-1), 2 * nb),
        ("activation", {"rows": R, "cols": C, "fn": "silu"}, lambda: F.silu(x), 2 * nb),
        ("glu", {"rows": R, "cols": C, "fn": "swiglu"}, lambda: F.silu(x) * y, 3 * nb),
        ("rope", {"seq": 4096, "heads": heads, "head_dim": hd}, rope, 2 * 4.0 * xr.numel()),
    ]
    for op, shape, fn, nbytes in cases:
        med, mn = time_ms(fn, a.warmup, a.repeats)
        out.append({"op": op, "peer": "torch", "dtype": "f32", "shape": shape, "median_ms": med, "min_ms": mn,
                    "gbps": nbytes / (med * 1e-3) / 1e9})


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--seq", type=int, default=2048)
    ap.add_argument("--head-dim", type=int, default=128)
    ap.add_argument("--rows", type=int, default=4096)
    ap.add_argument("--cols", type=int, default=4096)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--only", choices=["attention", "rows"], default=None)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    out = []
    if a.only in (None, "attention"):
        attention_peers(a, out)
    if a.only in (None, "rows"):
        row_peers(a, out)
    print(f"torch {torch.__version__} on cpu ({torch.get_num_threads()} threads), f32, median of {a.repeats}")
    for r in out:
        rate = f"{r['gflops']:8.1f} GFLOP/s" if "gflops" in r else f"{r['gbps']:8.1f} GB/s"
        print(f"{r['op']:<10} {r['peer']:<12} {json.dumps(r['shape']):<60} {r['median_ms']:10.3f} ms {rate}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
