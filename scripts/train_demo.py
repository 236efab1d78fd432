#!/usr/bin/env python3
"""Trains the demo model: a small byte-level Llama on the King James Bible (scripts/demo_corpus.py).

    /usr/bin/python3 scripts/train_demo.py [--corpus target/demo-corpus] [--out target/demo-model]
                                           [--steps N] [--seed 0] [--smoke]

Our own PyTorch code (Debian's python3-torch; a GPU when one is present): the Llama architecture as
Hugging Face's LlamaForCausalLM computes it (RMSNorm, split-half RoPE, grouped-query attention,
SwiGLU MLP), byte-level (ids 0-255 are bytes, 256 BOS, 257 EOS). The training stream is every
training chapter as BOS + its bytes + "\\n\\n"; batches are random 513-byte windows of it (a seeded
generator), AdamW with warm-up and cosine decay, F32 master weights. Deterministic under --seed on
one device and thread count.

Writes --out/config.json and --out/model.safetensors (BF16, Hugging Face names), --out/train_log.json
(train and validation loss per eval), and the loss-curve picture docs/demo-loss.png. The validation
figure is bits per byte of val.txt scored exactly as `braindrip score` scores it: BOS + the bytes, in
windows of 512 ids advancing by 256, every id after the first scored once with the most context its
window gives.
"""
import argparse
import json
import math
import os
import struct
import time

import torch
import torch.nn.functional as F

BOS, EOS, VOCAB = 256, 257, 258
CONFIG = dict(hidden=256, layers=8, heads=4, kv_heads=2, head_dim=64, intermediate=768, context=512, theta=10000.0, eps=1e-5)


class Block(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        h, d = c["hidden"], c["head_dim"]
        self.c = c
        self.q = torch.nn.Linear(h, c["heads"] * d, bias=False)
        self.k = torch.nn.Linear(h, c["kv_heads"] * d, bias=False)
        self.v = torch.nn.Linear(h, c["kv_heads"] * d, bias=False)
        self.o = torch.nn.Linear(c["heads"] * d, h, bias=False)
        self.gate = torch.nn.Linear(h, c["intermediate"], bias=False)
        self.up = torch.nn.Linear(h, c["intermediate"], bias=False)
        self.down = torch.nn.Linear(c["intermediate"], h, bias=False)
        self.n1 = torch.nn.Parameter(torch.ones(h))
        self.n2 = torch.nn.Parameter(torch.ones(h))

    def forward(self, x, cos, sin, mask):
        c = self.c
        b, s, _ = x.shape
        hx = rms(x, self.n1, c["eps"])
        q = self.q(hx).view(b, s, c["heads"], c["head_dim"]).transpose(1, 2)
        k = self.k(hx).view(b, s, c["kv_heads"], c["head_dim"]).transpose(1, 2)
        v = self.v(hx).view(b, s, c["kv_heads"], c["head_dim"]).transpose(1, 2)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        rep = c["heads"] // c["kv_heads"]
        k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(c["head_dim"]) + mask
        y = (att.softmax(-1) @ v).transpose(1, 2).reshape(b, s, -1)
        x = x + self.o(y)
        hx = rms(x, self.n2, c["eps"])
        return x + self.down(F.silu(self.gate(hx)) * self.up(hx))


def rms(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rope(x, cos, sin):
    half = x.shape[-1] // 2
    rot = torch.cat((-x[..., half:], x[..., :half]), dim=-1)  # HF rotate_half
    return x * cos + rot * sin


class Model(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.embed = torch.nn.Embedding(VOCAB, c["hidden"])
        self.blocks = torch.nn.ModuleList(Block(c) for _ in range(c["layers"]))
        self.norm = torch.nn.Parameter(torch.ones(c["hidden"]))
        self.head = torch.nn.Linear(c["hidden"], VOCAB, bias=False)
        inv = 1.0 / (c["theta"] ** (torch.arange(0, c["head_dim"], 2, dtype=torch.float32) / c["head_dim"]))
        ang = torch.outer(torch.arange(c["context"], dtype=torch.float32), inv)
        emb = torch.cat((ang, ang), dim=-1)
        self.register_buffer("cos", emb.cos(), persistent=False)
        self.register_buffer("sin", emb.sin(), persistent=False)
        for m in self.modules():
            if isinstance(m, (torch.nn.Linear, torch.nn.Embedding)):
                torch.nn.init.normal_(m.weight, std=0.02)
        for b in self.blocks:  # scaled residual projections (GPT-2)
            torch.nn.init.normal_(b.o.weight, std=0.02 / math.sqrt(2 * c["layers"]))
            torch.nn.init.normal_(b.down.weight, std=0.02 / math.sqrt(2 * c["layers"]))

    def forward(self, ids):
        s = ids.shape[1]
        mask = torch.full((s, s), float("-inf"), device=ids.device).triu(1)
        x = self.embed(ids)
        cos, sin = self.cos[:s], self.sin[:s]
        for b in self.blocks:
            x = b(x, cos, sin, mask)
        return self.head(rms(x, self.norm, self.c["eps"]))


def parameters(model):
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def strided_nll(model, ids, window, stride, device):
    """Total NLL (nats) and count of ids[1:] scored as braindrip score does (each once, most context)."""
    total, count, prev_end, begin = 0.0, 0, 0, 0
    n = len(ids)
    while True:
        end = min(begin + window, n)
        first = max(prev_end, begin + 1)  # the first id scored in this window (an id needs one before it)
        x = torch.tensor(ids[begin:end], device=device).unsqueeze(0)
        logp = model(x).float().log_softmax(-1)[0]
        tgt = torch.tensor(ids[first:end], device=device)
        rows = torch.arange(first - 1 - begin, end - 1 - begin, device=device)
        total -= logp[rows, tgt].double().sum().item()
        count += end - first
        prev_end = end
        if end >= n:
            break
        begin += stride
    return total, count


def bits_per_byte(model, text, device, window=512, stride=256):
    ids = [BOS] + list(text)
    nll, count = strided_nll(model, ids, window, stride, device)
    assert count == len(ids) - 1
    return nll / math.log(2) / len(text), nll / count


def save_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        b = t.detach().to(torch.bfloat16).contiguous().cpu().view(torch.int16).numpy().tobytes()
        header[name] = {"dtype": "BF16", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def hf_state(model):
    out = {"model.embed_tokens.weight": model.embed.weight}
    for i, b in enumerate(model.blocks):
        p = f"model.layers.{i}."
        out[p + "self_attn.q_proj.weight"] = b.q.weight
        out[p + "self_attn.k_proj.weight"] = b.k.weight
        out[p + "self_attn.v_proj.weight"] = b.v.weight
        out[p + "self_attn.o_proj.weight"] = b.o.weight
        out[p + "mlp.gate_proj.weight"] = b.gate.weight
        out[p + "mlp.up_proj.weight"] = b.up.weight
        out[p + "mlp.down_proj.weight"] = b.down.weight
        out[p + "input_layernorm.weight"] = b.n1
        out[p + "post_attention_layernorm.weight"] = b.n2
    out["model.norm.weight"] = model.norm
    out["lm_head.weight"] = model.head.weight
    return out


def hf_config(c):
    return {
        "model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": VOCAB, "hidden_size": c["hidden"],
        "intermediate_size": c["intermediate"], "num_hidden_layers": c["layers"], "num_attention_heads": c["heads"],
        "num_key_value_heads": c["kv_heads"], "head_dim": c["head_dim"], "max_position_embeddings": c["context"],
        "rms_norm_eps": c["eps"], "hidden_act": "silu", "tie_word_embeddings": False, "attention_bias": False,
        "mlp_bias": False, "rope_theta": c["theta"], "rope_scaling": None, "bos_token_id": BOS, "eos_token_id": EOS,
        "torch_dtype": "bfloat16",
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default="target/demo-corpus")
    ap.add_argument("--out", default="target/demo-model")
    ap.add_argument("--plot", default="docs/demo-loss.png")
    ap.add_argument("--steps", type=int, default=750)  # ~4.6 s per step on the 2-core build machine: about an hour
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--eval-every", type=int, default=125)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--smoke", action="store_true", help="a few steps and a short validation, to check the script runs")
    args = ap.parse_args()
    if args.smoke:
        args.steps, args.eval_every = 6, 3
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    train_text = open(os.path.join(args.corpus, "train.txt"), "rb").read()
    val_text = open(os.path.join(args.corpus, "val.txt"), "rb").read()
    stream = []
    for ch in train_text.split(b"\n\n"):
        if ch.strip():
            stream += [BOS] + list(ch.strip(b"\n") + b"\n\n")
    data = torch.tensor(stream, dtype=torch.long)
    c = CONFIG
    model = Model(c).to(device)
    print(f"train_demo: {parameters(model):,} parameters, {len(data):,} training ids, {len(val_text):,} validation bytes, "
          f"{args.steps} steps of {args.batch} x {c['context']}, device {device}, {args.threads} threads", flush=True)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    other = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": other, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8)
    gen = torch.Generator().manual_seed(args.seed)
    log = {"config": hf_config(c), "parameters": parameters(model), "args": vars(args), "evals": []}
    val_eval = val_text if not args.smoke else val_text[:4096]
    t0 = time.time()
    window = c["context"] + 1
    for step in range(1, args.steps + 1):
        lr = args.lr * min(1.0, step / args.warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, step / args.steps))))
        for g in opt.param_groups:
            g["lr"] = lr
        starts = torch.randint(0, len(data) - window, (args.batch,), generator=gen)
        xy = torch.stack([data[s:s + window] for s in starts.tolist()]).to(device)
        logits = model(xy[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), xy[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 25 == 0 or step == 1:
            print(f"step {step:5d}  loss {loss.item():.4f}  lr {lr:.2e}  {time.time() - t0:7.1f} s", flush=True)
        if step % args.eval_every == 0 or step == args.steps:
            model.eval()
            bpb, nll = bits_per_byte(model, val_eval, device)
            model.train()
            log["evals"].append({"step": step, "train_loss": loss.item(), "val_nll": nll, "val_bits_per_byte": bpb, "seconds": time.time() - t0})
            print(f"eval  {step:5d}  train {loss.item():.4f}  val nll {nll:.4f}  val bits/byte {bpb:.4f}", flush=True)
    os.makedirs(args.out, exist_ok=True)
    save_safetensors(os.path.join(args.out, "model.safetensors"), hf_state(model))
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(hf_config(c), f, indent=2)
    # the final figure again with the BF16 weights the checkpoint holds, as braindrip loads them
    model.eval()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(torch.bfloat16).float())
    bpb, nll = bits_per_byte(model, val_eval, device)
    log["final_bf16"] = {"val_nll": nll, "val_bits_per_byte": bpb}
    log["seconds"] = time.time() - t0
    with open(os.path.join(args.out, "train_log.json"), "w") as f:
        json.dump(log, f, indent=2)
    print(f"train_demo: BF16 weights, validation bits/byte {bpb:.4f} (nll {nll:.4f}); wrote {args.out}", flush=True)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        ev = log["evals"]
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.plot([e["step"] for e in ev], [e["train_loss"] / math.log(2) for e in ev], label="train (bits/byte, batch)")
        ax.plot([e["step"] for e in ev], [e["val_bits_per_byte"] for e in ev], label="validation (bits/byte)")
        ax.set_xlabel("step")
        ax.set_ylabel("bits per byte")
        ax.set_title(f"demo model: {parameters(model) / 1e6:.1f}M parameters, KJV bytes")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        if not args.smoke:
            os.makedirs(os.path.dirname(args.plot) or ".", exist_ok=True)
            fig.savefig(args.plot, dpi=120)
            print(f"train_demo: wrote {args.plot}")
    except ImportError:
        print("train_demo: matplotlib missing, no loss curve")


if __name__ == "__main__":
    main()
