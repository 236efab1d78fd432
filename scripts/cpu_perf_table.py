#!/usr/bin/env python3
"""Markdown tables of one or two scripts/cpu_perf.sh output directories (before and after), for
docs/perf/cpu-backend.md: every bench row with its time, rate, share of the same run's ceilings and
peer, and the PyTorch peers of the same directory.

    scripts/cpu_perf_table.py AFTER_DIR [BEFORE_DIR]
"""
import json
import os
import sys

FILES = ["attention", "attention-decode", "sparse-attention", "diff-attention", "rmsnorm", "layernorm", "softmax",
         "activation", "glu", "rmsnorm-bf16", "softmax-bf16", "activation-bf16", "glu-bf16", "rope", "moe", "overhead", "generate-bf16", "generate-f32"]


def load(d, name):
    p = os.path.join(d, name + ".json")
    if not os.path.exists(p):
        return []
    with open(p) as f:
        return json.load(f)


def key(r):
    s = dict(r["shape"])
    s.pop("path", None)
    return (r["op"], r["dtype"], r.get("test"), json.dumps(s, sort_keys=True))


def short_shape(r):
    s = r["shape"]
    if r["op"] == "generate":
        return f'{s["model"]} {r.get("test")}'
    if r["op"] in ("attention", "sparse-attention", "diff-attention"):
        t = f'B{s["batch"]} Sq{s["seq_q"]} Skv{s["seq_kv"]} H{s["heads"]}/{s["kv_heads"]} D{s["head_dim"]}'
        return t + (" causal" if s.get("causal") else "")
    if r["op"] == "moe":
        return f'T{s["tokens"]} H{s["hidden"]} F{s["ffn"]} E{s["experts"]} k{s["top_k"]}'
    return " ".join(f"{k}={v}" for k, v in s.items())


def rate(r):
    if r["op"] == "generate":
        if r.get("decode_tok_s"):
            return f'{r["decode_tok_s"]:.0f} tok/s decode'
        return f'{r.get("prefill_tok_s") or 0:.0f} tok/s prefill'
    if r["op"] == "overhead":
        return f'{r["us_per_call"]:.2f} us/call'
    if r.get("tflops"):
        share = r["tflops"] / r["gemm_tflops_ceiling"] * 100 if r.get("gemm_tflops_ceiling") else 0
        return f'{r["tflops"] * 1e3:.0f} GFLOP/s ({share:.0f}% of GEMM {r["gemm_tflops_ceiling"] * 1e3:.0f})'
    if r.get("gbps"):
        share = r["gbps"] / r["copy_gbps_ceiling"] * 100 if r.get("copy_gbps_ceiling") else 0
        return f'{r["gbps"]:.1f} GB/s ({share:.0f}% of copy {r["copy_gbps_ceiling"]:.1f})'
    return "-"


def ms(r):
    if r["op"] == "generate" and r.get("total_ms"):
        return r["total_ms"]
    if r["op"] == "overhead" and r.get("us_per_call"):
        return r["us_per_call"] / 1e3
    return r["median_ms"]


def peer(r):
    p = r.get("peer")
    if not p:
        return "-"
    return f'{p["median_ms"]:.1f} ms ({p["median_ms"] / r["median_ms"]:.2f}x)'


def main():
    after = sys.argv[1]
    before = sys.argv[2] if len(sys.argv) > 2 else None
    rows_b = {}
    if before:
        for n in FILES:
            for r in load(before, n):
                rows_b[key(r)] = r
    print("| op | shape | dtype | before ms | after ms | after/before | after rate | peer (its speedup) |")
    print("|---|---|---|---:|---:|---:|---|---|")
    for n in FILES:
        for r in load(after, n):
            b = rows_b.get(key(r))
            bms = f"{ms(b):.3f}" if b else "-"
            ratio = f"{ms(b) / ms(r):.2f}x" if b and ms(r) else "-"
            fmt = (lambda v: f"{v * 1e3:.2f} us") if r["op"] == "overhead" else (lambda v: f"{v:.3f}")
            bms = fmt(ms(b)) if b else "-"
            print(f'| {r["op"]} | {short_shape(r)} | {r["dtype"]} | {bms} | {fmt(ms(r))} | {ratio} | {rate(r)} | {peer(r)} |')
    t = os.path.join(after, "torch.json")
    if os.path.exists(t):
        ours = {}
        for n in FILES:
            for r in load(after, n):
                ours.setdefault(r["op"], r)
        print()
        print("| PyTorch peer (same directory) | shape | torch ms | torch rate | braindrip ms | braindrip / torch speedup |")
        print("|---|---|---:|---|---:|---:|")
        with open(t) as f:
            for r in json.load(f):
                rt = f'{r["gflops"]:.1f} GFLOP/s' if r.get("gflops") else f'{r.get("gbps", 0):.1f} GB/s'
                o = ours.get(r["op"])
                om = f'{o["median_ms"]:.2f}' if o else "-"
                sp = f'{r["median_ms"] / o["median_ms"]:.1f}x' if o else "-"
                shape = " ".join(f"{k}={v}" for k, v in r["shape"].items())
                print(f'| {r["op"]} ({r.get("peer", "")}) | {shape} | {r["median_ms"]:.1f} | {rt} | {om} | {sp} |')


if __name__ == "__main__":
    main()
