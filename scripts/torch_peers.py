#!/usr/bin/env python3
"""PyTorch peers for braindrip's benchmarks, on the same shapes (BENCHMARKS.md), run by
scripts/gpu-check.sh on the GPU machine. Times with CUDA events after warm-up, median of
repeats, rotating inputs past the 60 MB L2 like braindrip bench does. Writes a JSON array."""
import argparse
import json
import math
import statistics

import torch
import torch.nn.functional as F


def rotation(nbytes, cache=60 << 20):
    return max(1, min(32, math.ceil(4 * cache / max(1, nbytes))))


def time_ms(fn, n_inputs, warmup=3, repeats=20):
    for i in range(warmup):
        fn(i % n_inputs)
    torch.cuda.synchronize()
    times = []
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    for i in range(repeats):
        start.record()
        fn((warmup + i) % n_inputs)
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop))
    return statistics.median(times), min(times)


def result(op, shape, dtype, med, mn, flops=0.0, nbytes=0.0, name="torch"):
    return {"op": op, "peer": name, "dtype": dtype, "shape": shape, "median_ms": med, "min_ms": mn,
            "tflops": flops / (med * 1e-3) / 1e12 if flops else 0.0,
            "gbps": nbytes / (med * 1e-3) / 1e9 if nbytes else 0.0}


def rope_half(x, cos, sin):
    d = x.shape[-1] // 2
    x1, x2 = x[..., :d], x[..., d:]
    return x * cos + torch.cat((-x2, x1), dim=-1) * sin


def hf_moe_block(x, router, w_gate, w_up, w_down, k, norm):
    """The Hugging Face MixtralSparseMoeBlock loop: softmax router in float32, top-k,
    optional renormalisation, then for each expert the tokens routed to it (index_add_)."""
    logits = x @ router.t()
    probs = torch.softmax(logits, dim=-1, dtype=torch.float32)
    weights, selected = torch.topk(probs, k, dim=-1)
    if norm:
        weights = weights / weights.sum(dim=-1, keepdim=True)
    weights = weights.to(x.dtype)
    out = torch.zeros_like(x)
    mask = F.one_hot(selected, num_classes=router.shape[0]).permute(2, 1, 0)  # (E, k, T)
    hit = torch.greater(mask.sum(dim=(-1, -2)), 0).nonzero()
    for e in hit.flatten().tolist():
        slot, tok = torch.where(mask[e])
        xe = x[tok]
        ye = (F.silu(xe @ w_gate[e].t()) * (xe @ w_up[e].t())) @ w_down[e].t()
        out.index_add_(0, tok, ye * weights[tok, slot, None])
    return out


def moe_peers(dev, bf, out):
    # BENCHMARKS.md MoE shapes; DeepSeek-V3 routing is approximated by softmax top-k here (the
    # expert work, which dominates, is the same); no shared expert.
    for name, h, f, e, k in (("mixtral", 4096, 14336, 8, 2), ("qwen3-30b", 2048, 768, 128, 8),
                             ("deepseek3", 7168, 2048, 256, 8)):
        try:
            router = torch.randn(e, h, device=dev, dtype=bf) * 0.02
            wg = torch.randn(e, f, h, device=dev, dtype=bf) * 0.02
            wu = torch.randn(e, f, h, device=dev, dtype=bf) * 0.02
            wd = torch.randn(e, h, f, device=dev, dtype=bf) * 0.02
            for tokens in (1, 16, 128, 4096):
                x = torch.randn(tokens, h, device=dev, dtype=bf)
                with torch.no_grad():
                    med, mn = time_ms(lambda i: hf_moe_block(x, router, wg, wu, wd, k, True), 1, warmup=2, repeats=5)
                touched = min(e, tokens * k)
                out.append(result("moe", {"model": name, "tokens": tokens, "hidden": h, "ffn": f, "experts": e, "top_k": k},
                                  "bf16", med, mn, flops=2.0 * tokens * k * 3 * h * f,
                                  nbytes=2.0 * touched * 3 * h * f, name="torch-hf-moe-block"))
            del router, wg, wu, wd
            torch.cuda.empty_cache()
        except Exception as ex:
            out.append({"op": "moe", "peer": "torch-hf-moe-block", "error": str(ex)[:200], "shape": {"model": name}})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", required=True)
    ap.add_argument("--only-moe", action="store_true", help="run the MoE peers alone")
    args = ap.parse_args()
    dev, bf = "cuda", torch.bfloat16
    out = []
    if args.only_moe:
        moe_peers(dev, bf, out)
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
        for r in out:
            print(json.dumps(r))
        return
    # ceilings
    n = 8192
    a, b = torch.randn(n, n, device=dev, dtype=bf), torch.randn(n, n, device=dev, dtype=bf)
    med, mn = time_ms(lambda i: a @ b, 1, repeats=10)
    out.append(result("ceiling-gemm", {"m": n, "n": n, "k": n}, "bf16", med, mn, flops=2.0 * n ** 3))
    src = torch.empty(512 << 20, dtype=torch.uint8, device=dev)
    dst = torch.empty_like(src)
    med, mn = time_ms(lambda i: dst.copy_(src), 1, repeats=10)
    out.append(result("ceiling-copy", {"bytes": src.numel()}, "u8", med, mn, nbytes=2.0 * src.numel()))
    del a, b, src, dst
    # gemm
    for m, nn, k in [(4096, 4096, 4096), (1, 14336, 4096), (16, 14336, 4096), (128, 14336, 4096), (4096, 14336, 4096)]:
        cnt = rotation((m * k + k * nn) * 2)
        As = [torch.randn(m, k, device=dev, dtype=bf) for _ in range(cnt)]
        Bs = [torch.randn(k, nn, device=dev, dtype=bf) for _ in range(cnt)]
        med, mn = time_ms(lambda i: As[i] @ Bs[i], cnt)
        out.append(result("gemm", {"m": m, "n": nn, "k": k}, "bf16", med, mn, flops=2.0 * m * nn * k,
                          nbytes=2.0 * (m * k + k * nn + m * nn)))
        del As, Bs
    # row ops
    for rows, cols in [(4096, 4096), (16, 4096)]:
        cnt = rotation(rows * cols * 2)
        xs = [torch.randn(rows, cols, device=dev, dtype=bf) for _ in range(cnt)]
        w = torch.randn(cols, device=dev, dtype=bf)
        bias = torch.randn(cols, device=dev, dtype=bf)
        xb = rows * cols * 2
        shape = {"rows": rows, "cols": cols}
        cases = {
            "rmsnorm": lambda i: F.rms_norm(xs[i], (cols,), w, 1e-6),
            "layernorm": lambda i: F.layer_norm(xs[i], (cols,), w, bias, 1e-5),
            "softmax": lambda i: torch.softmax(xs[i], dim=-1),
            "activation": lambda i: F.silu(xs[i]),
        }
        for op, fn in cases.items():
            med, mn = time_ms(fn, cnt)
            out.append(result(op, shape, "bf16", med, mn, nbytes=2.0 * xb))
        gs = [torch.randn(rows, 2 * cols, device=dev, dtype=bf) for _ in range(cnt)]
        med, mn = time_ms(lambda i: F.silu(gs[i][:, :cols]) * gs[i][:, cols:], cnt)
        out.append(result("glu", shape, "bf16", med, mn, nbytes=3.0 * xb))
        del xs, gs
    # rope (HF rotate_half with precomputed cos/sin, as transformers does)
    s, h, d = 4096, 32, 128
    cnt = rotation(s * h * d * 2)
    xs = [torch.randn(s, h, d, device=dev, dtype=bf) for _ in range(cnt)]
    inv = 1.0 / (10000 ** (torch.arange(0, d, 2, device=dev, dtype=torch.float32) / d))
    fr = torch.outer(torch.arange(s, device=dev, dtype=torch.float32), inv)
    emb = torch.cat((fr, fr), dim=-1)
    cos, sin = emb.cos()[:, None, :].to(bf), emb.sin()[:, None, :].to(bf)
    med, mn = time_ms(lambda i: rope_half(xs[i], cos, sin), cnt)
    out.append(result("rope", {"seq": s, "heads": h, "head_dim": d}, "bf16", med, mn, nbytes=2.0 * s * h * d * 2))
    del xs
    # attention prefill (FlashAttention sweep) with SDPA, causal and not; GQA 32/8
    from torch.nn.attention import SDPBackend, sdpa_kernel
    for dh in (64, 128):
        hq = 2048 // dh
        for seq in (512, 1024, 2048, 4096, 8192, 16384):
            bsz = 16384 // seq
            q = torch.randn(bsz, hq, seq, dh, device=dev, dtype=bf)
            k = torch.randn(bsz, hq, seq, dh, device=dev, dtype=bf)
            v = torch.randn(bsz, hq, seq, dh, device=dev, dtype=bf)
            for causal in (False, True):
                pairs = seq * (seq + 1) / 2 if causal else seq * seq
                flops = 4.0 * bsz * hq * dh * pairs
                for backend, name in ((SDPBackend.FLASH_ATTENTION, "torch-sdpa-flash"),
                                      (SDPBackend.CUDNN_ATTENTION, "torch-sdpa-cudnn")):
                    try:
                        with sdpa_kernel(backend):
                            med, mn = time_ms(lambda i: F.scaled_dot_product_attention(q, k, v, is_causal=causal), 1,
                                              repeats=10)
                        out.append(result("attention", {"batch": bsz, "seq": seq, "heads": hq, "kv_heads": hq,
                                                        "head_dim": dh, "causal": causal}, "bf16", med, mn,
                                          flops=flops, name=name))
                    except Exception as e:  # backend unavailable for this shape
                        out.append({"op": "attention", "peer": name, "error": str(e)[:200],
                                    "shape": {"batch": bsz, "seq": seq, "head_dim": dh, "causal": causal}})
            del q, k, v
    # decode over a KV cache: Hq 32, Hkv 8, D 128 (GQA expanded by SDPA's enable_gqa)
    for bsz in (1, 8, 64):
        for cache in (1024, 8192, 32768):
            q = torch.randn(bsz, 32, 1, 128, device=dev, dtype=bf)
            k = torch.randn(bsz, 8, cache, 128, device=dev, dtype=bf)
            v = torch.randn(bsz, 8, cache, 128, device=dev, dtype=bf)
            try:
                med, mn = time_ms(lambda i: F.scaled_dot_product_attention(q, k, v, enable_gqa=True), 1, repeats=10)
                out.append(result("attention-decode", {"batch": bsz, "cache": cache, "heads": 32, "kv_heads": 8,
                                                       "head_dim": 128}, "bf16", med, mn,
                                  nbytes=2.0 * bsz * 8 * cache * 128 * 2, name="torch-sdpa"))
            except Exception as e:
                out.append({"op": "attention-decode", "peer": "torch-sdpa", "error": str(e)[:200]})
            del q, k, v
    moe_peers(dev, bf, out)
    with open(args.json, "w") as f:
        json.dump(out, f, indent=1)
    for r in out:
        if "error" in r:
            print(f"{r['op']:18s} {r['peer']:18s} {json.dumps(r['shape'])} error: {r['error']}")
        else:
            print(f"{r['op']:18s} {r['peer']:18s} {json.dumps(r['shape']):70s} {r['median_ms']:9.4f} ms "
                  f"{r['tflops']:8.1f} TFLOP/s {r['gbps']:8.1f} GB/s")


if __name__ == "__main__":
    main()
