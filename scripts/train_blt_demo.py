#!/usr/bin/env python3
"""Trains the demo BLT: a small Byte Latent Transformer on the King James Bible, in Hugging Face's `blt` layout.

    /usr/bin/python3 scripts/train_blt_demo.py [--corpus target/demo-corpus] [--out target/demo-blt]
                                               [--patcher-steps N] [--steps N] [--seed 0] [--smoke]
    /usr/bin/python3 scripts/train_blt_demo.py --check-hf [--check-dir target/blt-check]
    /usr/bin/python3 scripts/train_blt_demo.py --fixture [--out target/demo-blt]

Our own PyTorch code (Debian's python3-torch; transformers is imported only by --check-hf, to compare): the
forward of transformers' BltForCausalLM (models/blt/modeling_blt.py, 4.57), written again:
  ids = byte + 4 (0 <boe>, 1 BOS, 2 EOS, 3 pad), vocab 260;
  input embedding = local_encoder.embed_tokens + one hash n-gram row per (function, n) (wrapping int64 rolling
  hash of the token ids, floor-mod the hash vocab, offset by e * vocab);
  entropy patching: the patcher (a small causal byte LM) gives the entropy (nats) of its next-byte distribution;
  bytes 0 and 1 always start a patch, byte t >= 2 starts one iff entropy(t-1) > threshold, and a zero-length
  patch closes the list when entropy(S-1) > threshold;
  local encoder (Llama layers over the bytes, then cross-attention pooling: the element-wise max of each patch's
  byte states, projected to k query slots per patch, attending to that patch's bytes; output 2*P + o_proj(attn));
  global transformer over the k*H patch vectors (causal, no final norm);
  local decoder (the encoder's byte states; before each layer h = 2h + o_proj(attn over the k slots of the patch
  given by the shifted patch ids, lengths[1:]); norm; lm_head);
  every self-attention is causal with adjacent-pair RoPE (x[2i], x[2i+1]).

Training: first the patcher alone (a byte LM on random 512-id windows of the training stream, each chapter
BOS + bytes + "\\n\\n" as train_demo.py builds it), then the threshold (the entropy quantile that gives
--target-patch bytes per patch on training windows), then the BLT with the frozen patcher's patches of each
window, AdamW with warm-up and cosine decay, F32 master weights. Deterministic under --seed on one device
and thread count.

Writes --out/config.json (BltConfig reads it), --out/model.safetensors (BF16, BltForCausalLM names),
--out/train_log.json. The validation figure is bits per byte of val.txt scored as train_demo.py scores it:
BOS + the bytes, windows of 512 ids advancing by 256, every id after the first scored once with the most
context its window gives; each window is one BLT forward (its own patcher run and patches), as HF computes it.
"""
import argparse
import json
import math
import os
import struct
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

BOS, EOS, PAD, OFFSET, VOCAB = 1, 2, 3, 4, 260
PRIMES = [1000000007, 5915587277, 1500450271, 3267000013, 5754853343, 4093082899, 9576890767, 3628273133,
          2860486313, 5463458053, 3367900313]

# The demo configuration (BltConfig's fields; the sub-dicts are BltPatcherConfig / BltLocalEncoderConfig /
# BltLocalDecoderConfig / BltGlobalTransformerConfig).
DEMO = dict(
    cross_attn_k=2, encoder_hash_byte_group_size=[3, 4, 5, 6], encoder_hash_byte_group_vocab=10000,
    encoder_hash_byte_group_nb_functions=1, patching_threshold=1.335442066192627, max_patch_length=None,
    patcher=dict(hidden_size=128, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
                 intermediate_size=384, rope_theta=10000.0),
    encoder=dict(hidden_size=128, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2,
                 intermediate_size=384, rope_theta=10000.0, cross_attn_all_layers=False),
    decoder=dict(hidden_size=128, num_hidden_layers=3, num_attention_heads=2, num_key_value_heads=2,
                 intermediate_size=384, rope_theta=10000.0, cross_attn_all_layers=True),
    global_=dict(hidden_size=256, num_hidden_layers=8, num_attention_heads=4, num_key_value_heads=2,
                 intermediate_size=768, rope_theta=10000.0),
)
# A tiny one for the equality check: GQA everywhere, k = 3, a token projection into the global model,
# two hash functions, cross-attention after every encoder layer.
TINY = dict(
    cross_attn_k=3, encoder_hash_byte_group_size=[2, 3, 5], encoder_hash_byte_group_vocab=97,
    encoder_hash_byte_group_nb_functions=2, patching_threshold=1.0, max_patch_length=None,
    patcher=dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                 intermediate_size=48, rope_theta=10000.0),
    encoder=dict(hidden_size=24, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                 intermediate_size=40, rope_theta=500000.0, cross_attn_all_layers=True),
    decoder=dict(hidden_size=24, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                 intermediate_size=40, rope_theta=100000.0, cross_attn_all_layers=True),
    global_=dict(hidden_size=48, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                 intermediate_size=64, rope_theta=500000.0),
)
EPS = 1e-5
CONTEXT = 512


# ----------------------------------------------------------------------------------------------------------------
# layers


class RMSNorm(nn.Module):
    def __init__(self, n, eps=EPS):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.eps = eps

    def forward(self, x):
        x32 = x.float()
        return self.weight * (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)).to(x.dtype)


class MLP(nn.Module):
    def __init__(self, h, i):
        super().__init__()
        self.gate_proj = nn.Linear(h, i, bias=False)
        self.up_proj = nn.Linear(h, i, bias=False)
        self.down_proj = nn.Linear(i, h, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


def attend(q, k, v, mask, scale):
    """q (B,h,Lq,d), k/v (B,kv,Lk,d), kv heads repeated consecutively (HF repeat_kv); mask additive or None."""
    rep = q.shape[1] // k.shape[1]
    if rep > 1:
        b, kv, lk, d = k.shape
        k = k[:, :, None].expand(b, kv, rep, lk, d).reshape(b, kv * rep, lk, d)
        v = v[:, :, None].expand(b, kv, rep, lk, d).reshape(b, kv * rep, lk, d)
    att = torch.matmul(q, k.transpose(2, 3)) * scale
    if mask is not None:
        att = att + mask
    att = att.softmax(-1, dtype=torch.float32).to(q.dtype)
    y = torch.matmul(att, v).transpose(1, 2)
    return y.reshape(y.shape[0], y.shape[1], -1)


def rope_tables(theta, head_dim, n, device):
    inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    freqs = torch.arange(n, dtype=torch.float32)[:, None] * inv[None, :]
    emb = torch.repeat_interleave(freqs, 2, dim=-1)  # adjacent pairs share an angle
    return emb.cos().to(device), emb.sin().to(device)


def rope(x, cos, sin):
    rot = torch.stack([-x[..., 1::2], x[..., ::2]], dim=-1).flatten(-2)  # HF BLT rotate_half
    return x * cos + rot * sin


class SelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        h, self.heads, self.kv = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"]
        self.hd = h // self.heads
        self.q_proj = nn.Linear(h, self.heads * self.hd, bias=False)
        self.k_proj = nn.Linear(h, self.kv * self.hd, bias=False)
        self.v_proj = nn.Linear(h, self.kv * self.hd, bias=False)
        self.o_proj = nn.Linear(self.heads * self.hd, h, bias=False)

    def forward(self, x, cos, sin, mask):
        b, n, _ = x.shape
        q = self.q_proj(x).view(b, n, self.heads, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(b, n, self.kv, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(b, n, self.kv, self.hd).transpose(1, 2)
        return self.o_proj(attend(rope(q, cos, sin), rope(k, cos, sin), v, mask, self.hd ** -0.5))


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.input_layernorm = RMSNorm(c["hidden_size"])
        self.self_attn = SelfAttention(c)
        self.post_attention_layernorm = RMSNorm(c["hidden_size"])
        self.mlp = MLP(c["hidden_size"], c["intermediate_size"])

    def forward(self, x, cos, sin, mask):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        return x + self.mlp(self.post_attention_layernorm(x))


class CrossAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        h, self.heads, self.kv = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"]
        self.hd = h // self.heads
        self.q_norm = RMSNorm(h)
        self.k_norm = RMSNorm(h)
        self.q_proj = nn.Linear(h, self.heads * self.hd, bias=False)
        self.k_proj = nn.Linear(h, self.kv * self.hd, bias=False)
        self.v_proj = nn.Linear(h, self.kv * self.hd, bias=False)
        self.o_proj = nn.Linear(self.heads * self.hd, h, bias=False)

    def forward(self, x, states, mask):
        """o_proj(attn) + x, as BltCrossAttention returns it (the caller adds x once more)."""
        b, n, _ = x.shape
        q = self.q_proj(self.q_norm(x)).view(b, n, self.heads, self.hd).transpose(1, 2)
        s = self.k_norm(states)
        k = self.k_proj(s).view(b, -1, self.kv, self.hd).transpose(1, 2)
        v = self.v_proj(s).view(b, -1, self.kv, self.hd).transpose(1, 2)
        return self.o_proj(attend(q, k, v, mask, self.hd ** -0.5)) + x


def causal_mask(n, device):
    return torch.full((n, n), torch.finfo(torch.float32).min, device=device).triu(1)


def block_mask(allowed):
    """bool (B, Lq, Lk) -> additive (B, 1, Lq, Lk) with finfo.min where not allowed (a fully masked row averages)."""
    return torch.zeros(allowed.shape, device=allowed.device).masked_fill(~allowed, torch.finfo(torch.float32).min)[:, None]


# ----------------------------------------------------------------------------------------------------------------
# the model


class Patcher(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.layers = nn.ModuleList(Layer(c) for _ in range(c["num_hidden_layers"]))
        self.embed_tokens = nn.Embedding(VOCAB, c["hidden_size"])
        self.norm = RMSNorm(c["hidden_size"])
        self.lm_head = nn.Linear(c["hidden_size"], VOCAB, bias=False)

    def forward(self, ids):
        s = ids.shape[1]
        cos, sin = rope_tables(self.c["rope_theta"], self.c["hidden_size"] // self.c["num_attention_heads"], s, ids.device)
        mask = causal_mask(s, ids.device)
        x = self.embed_tokens(ids)
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        return self.lm_head(self.norm(x))


def entropies(logits):
    return torch.distributions.Categorical(logits=logits).entropy()  # nats, as BltPatcher computes it


def patch_lengths(ent, threshold):
    """(B, S) entropies -> ((B, N) patch lengths, (B,) counts): the lengths BltPatcher.patch_lengths_from_entropies
    gives for each row alone (starts 0, 1 and every t >= 2 with ent[t-1] > threshold, t = S meaning a trailing
    empty patch); a row with fewer patches is padded with zero-length patches on the right, and counts says how
    many of its entries are its own (the decoder needs it: see patch_ids)."""
    b, s = ent.shape
    rows = []
    for r in range(b):
        starts = [0, 1] + (torch.nonzero(ent[r, 1:] > threshold).flatten() + 2).tolist()
        rows.append([e - a for a, e in zip(starts, starts[1:] + [s])])
    n = max(len(r) for r in rows)
    out = torch.zeros((b, n), dtype=torch.long)
    for i, r in enumerate(rows):
        out[i, :len(r)] = torch.tensor(r)
    return out.to(ent.device), torch.tensor([len(r) for r in rows], device=ent.device)


def patch_ids(lengths, s, counts=None):
    """Byte t -> (number of patch starts <= t) - 1, the starts being the exclusive cumsum of the lengths. Entries
    j >= counts[b] (padding) get start s so that they hold no byte: the decoder's shifted lengths[1:] sum to s - 1,
    so a padded zero there would otherwise claim the last byte."""
    starts = torch.cat([torch.zeros_like(lengths[:, :1]), lengths.cumsum(-1)[:, :-1]], dim=-1)
    if counts is not None:
        pad = torch.arange(lengths.shape[1], device=lengths.device)[None, :] >= counts[:, None]
        starts = starts.masked_fill(pad, s)
    return (starts[:, None, :] <= torch.arange(s, device=lengths.device)[None, :, None]).sum(-1) - 1


def hash_ids(ids, n, prime, vocab):
    pad = torch.zeros(ids.shape[0], n - 1, dtype=torch.int64, device=ids.device)
    windows = torch.cat([pad, ids], dim=1).unfold(1, n, 1)  # (B, S, n), oldest first
    powers = torch.tensor(prime, dtype=torch.int64, device=ids.device) ** torch.arange(n, device=ids.device)
    return torch.sum(windows * powers, dim=-1) % vocab  # wrapping int64, floor-mod


class LocalEncoder(nn.Module):
    def __init__(self, c, k):
        super().__init__()
        self.c, self.k = c, k
        h = c["hidden_size"]
        self.layers = nn.ModuleList(Layer(c) for _ in range(c["num_hidden_layers"]))
        self.patch_embedding_projection = nn.Linear(h, h * k, bias=False)
        self.embed_tokens = nn.Embedding(VOCAB, h)
        n = c["num_hidden_layers"] if c["cross_attn_all_layers"] else 1
        self.cross_attn_layers = nn.ModuleList(CrossAttention(c) for _ in range(n))

    def forward(self, x, cos, sin, mask, cross_mask, pid, n_patches):
        b, s, h = x.shape
        p = None
        for i, layer in enumerate(self.layers):
            x = layer(x, cos, sin, mask)
            if i == len(self.layers) - 1 or self.c["cross_attn_all_layers"]:
                idx = pid[:, :, None].expand(-1, -1, h)
                p = torch.zeros((b, n_patches, h), dtype=x.dtype, device=x.device).scatter_reduce(
                    1, idx, x, reduce="amax", include_self=False)  # max over each patch's bytes; empty -> 0
                p = self.patch_embedding_projection(p).reshape(b, n_patches * self.k, h)
                p = p + self.cross_attn_layers[i if self.c["cross_attn_all_layers"] else 0](p, x, cross_mask)
        return x, p


class GlobalTransformer(nn.Module):
    def __init__(self, c, in_size):
        super().__init__()
        self.c = c
        self.layers = nn.ModuleList(Layer(c) for _ in range(c["num_hidden_layers"]))
        if in_size != c["hidden_size"]:
            self.token_embedding_projection = nn.Linear(in_size, c["hidden_size"], bias=False)
        else:
            self.token_embedding_projection = None

    def forward(self, x):
        if self.token_embedding_projection is not None:
            x = self.token_embedding_projection(x)
        n = x.shape[1]
        cos, sin = rope_tables(self.c["rope_theta"], self.c["hidden_size"] // self.c["num_attention_heads"], n, x.device)
        mask = causal_mask(n, x.device)
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        return x


class LocalDecoder(nn.Module):
    def __init__(self, c, k, global_hidden):
        super().__init__()
        self.c, self.k = c, k
        h = c["hidden_size"]
        self.layers = nn.ModuleList(Layer(c) for _ in range(c["num_hidden_layers"]))
        self.patch_embedding_projection = nn.Linear(global_hidden, h * k, bias=False)
        self.norm = RMSNorm(h)
        n = c["num_hidden_layers"] if c["cross_attn_all_layers"] else 1
        self.cross_attn_layers = nn.ModuleList(CrossAttention(c) for _ in range(n))

    def forward(self, x, g, cos, sin, mask, cross_mask):
        b = x.shape[0]
        slots = self.patch_embedding_projection(g).reshape(b, g.shape[1] * self.k, self.c["hidden_size"])
        for i, layer in enumerate(self.layers):
            if i == 0 or self.c["cross_attn_all_layers"]:
                x = x + self.cross_attn_layers[i](x, slots, cross_mask)
            x = layer(x, cos, sin, mask)
        return self.norm(x)


class Blt(nn.Module):
    """Module names are BltForCausalLM's state-dict names without the leading `model.` (lm_head keeps its own)."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        k = cfg["cross_attn_k"]
        e, d, g = cfg["encoder"], cfg["decoder"], cfg["global_"]
        assert d["hidden_size"] == e["hidden_size"]
        self.local_encoder = LocalEncoder(e, k)
        self.global_transformer = GlobalTransformer(g, e["hidden_size"] * k)
        self.local_decoder = LocalDecoder(d, k, g["hidden_size"])
        n_emb = cfg["encoder_hash_byte_group_nb_functions"] * len(cfg["encoder_hash_byte_group_size"])
        self.encoder_hash_tok_embedding = nn.Embedding(n_emb * cfg["encoder_hash_byte_group_vocab"], e["hidden_size"])
        self.patcher = Patcher(cfg["patcher"])
        self.lm_head = nn.Linear(d["hidden_size"], VOCAB, bias=False)

    def embed(self, ids):
        x = self.local_encoder.embed_tokens(ids)
        e, v = 0, self.cfg["encoder_hash_byte_group_vocab"]
        for f in range(self.cfg["encoder_hash_byte_group_nb_functions"]):
            for n in self.cfg["encoder_hash_byte_group_size"]:
                x = x + self.encoder_hash_tok_embedding(hash_ids(ids, n, PRIMES[f % len(PRIMES)], v) + e * v)
                e += 1
        return x

    @torch.no_grad()
    def patch(self, ids):
        """(entropies, lengths) for each row, the patcher run on that row alone (causal, so a batch is the same)."""
        ent = entropies(self.patcher(ids).float())
        lengths, counts = patch_lengths(ent, self.cfg["patching_threshold"])
        if self.cfg.get("max_patch_length"):
            raise NotImplementedError("max_patch_length")
        return ent, lengths, counts

    def forward(self, ids, lengths=None, counts=None):
        """Logits (B, S, 260); lengths/counts as patch() gives them (counts None: every entry is the row's own)."""
        b, s = ids.shape
        k = self.cfg["cross_attn_k"]
        if lengths is None:
            _, lengths, counts = self.patch(ids)
        n = lengths.shape[1]
        x = self.embed(ids)
        e = self.cfg["encoder"]
        cos, sin = rope_tables(e["rope_theta"], e["hidden_size"] // e["num_attention_heads"], s, ids.device)
        mask = causal_mask(s, ids.device)
        pid = patch_ids(lengths, s)
        slot_patch = torch.arange(n * k, device=ids.device) // k
        enc_cross = block_mask(slot_patch[None, :, None] == pid[:, None, :])  # (B,1,N*k,S)
        h, p = self.local_encoder(x, cos, sin, mask, enc_cross, pid, n)
        g = self.global_transformer(p.reshape(b, n, -1))
        dpid = patch_ids(lengths[:, 1:], s, None if counts is None else counts - 1)
        dec_cross = block_mask(dpid[:, :, None] == slot_patch[None, None, :])  # (B,1,S,N*k)
        d = self.cfg["decoder"]
        if d["rope_theta"] != e["rope_theta"] or d["num_attention_heads"] != e["num_attention_heads"]:
            cos, sin = rope_tables(d["rope_theta"], d["hidden_size"] // d["num_attention_heads"], s, ids.device)
        return self.lm_head(self.local_decoder(h, g, cos, sin, mask, dec_cross))


def init_weights(model, std=0.02):
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=std)
    for stack in (model.local_encoder.layers, model.global_transformer.layers, model.local_decoder.layers,
                  model.patcher.layers):
        for layer in stack:
            nn.init.normal_(layer.self_attn.o_proj.weight, std=std / math.sqrt(2 * len(stack)))
            nn.init.normal_(layer.mlp.down_proj.weight, std=std / math.sqrt(2 * len(stack)))


# ----------------------------------------------------------------------------------------------------------------
# HF layout


def hf_state(model):
    out = {}
    for name, t in model.state_dict().items():
        out[name if name.startswith("lm_head.") else "model." + name] = t
    return out


def hf_config(cfg):
    k = cfg["cross_attn_k"]

    def sub(c, extra):
        d = {"vocab_size": VOCAB, "hidden_size": c["hidden_size"], "num_hidden_layers": c["num_hidden_layers"],
             "num_attention_heads": c["num_attention_heads"], "num_key_value_heads": c["num_key_value_heads"],
             "intermediate_size": c["intermediate_size"], "rms_norm_eps": EPS, "rope_theta": c["rope_theta"],
             "rope_scaling": None, "hidden_act": "silu", "dropout": 0.0, "max_position_embeddings": extra.pop("max_pos")}
        d.update(extra)
        return d

    g = cfg["global_"]["hidden_size"]
    return {
        "model_type": "blt", "architectures": ["BltForCausalLM"], "vocab_size": VOCAB, "max_position_embeddings": CONTEXT,
        "patch_in_forward": True, "patch_size": 4, "patching_mode": "entropy",
        "patching_threshold": float(cfg["patching_threshold"]), "patching_batch_size": 1,
        "max_patch_length": cfg["max_patch_length"], "cross_attn_k": k,
        "encoder_hash_byte_group_size": list(cfg["encoder_hash_byte_group_size"]),
        "encoder_hash_byte_group_vocab": cfg["encoder_hash_byte_group_vocab"],
        "encoder_hash_byte_group_nb_functions": cfg["encoder_hash_byte_group_nb_functions"],
        "patcher_config": sub(cfg["patcher"], {"max_pos": CONTEXT}),
        "encoder_config": sub(cfg["encoder"], {"max_pos": CONTEXT, "cross_attn_k": k, "hidden_size_global": g,
                                               "cross_attn_all_layers": cfg["encoder"]["cross_attn_all_layers"]}),
        "decoder_config": sub(cfg["decoder"], {"max_pos": CONTEXT, "cross_attn_k": k, "hidden_size_global": g,
                                               "cross_attn_all_layers": cfg["decoder"]["cross_attn_all_layers"]}),
        "global_config": sub(cfg["global_"], {"max_pos": CONTEXT}),
        "tie_word_embeddings": False, "bos_token_id": BOS, "eos_token_id": EOS, "pad_token_id": PAD,
        "torch_dtype": "bfloat16",
    }


def save_safetensors(path, tensors, dtype="BF16"):
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        if dtype == "BF16" and t.is_floating_point():
            b, dt = t.to(torch.bfloat16).view(torch.int16).numpy().tobytes(), "BF16"
        elif t.dtype == torch.float32:
            b, dt = t.numpy().tobytes(), "F32"
        elif t.dtype == torch.int64:
            b, dt = t.numpy().tobytes(), "I64"
        else:
            raise ValueError(t.dtype)
        header[name] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
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


def load_safetensors(path):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        a, b = e["data_offsets"]
        raw = bytearray(data[8 + n + a:8 + n + b])
        if e["dtype"] == "BF16":
            t = torch.frombuffer(raw, dtype=torch.int16).view(torch.bfloat16).float()
        elif e["dtype"] == "F32":
            t = torch.frombuffer(raw, dtype=torch.float32)
        else:
            t = torch.frombuffer(raw, dtype=torch.int64)
        out[name] = t.reshape(e["shape"]).clone()
    return out


def cfg_from_hf(hc):
    def sub(d, extra=()):
        c = {key: d[key] for key in ("hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
                                     "intermediate_size", "rope_theta")}
        for key in extra:
            c[key] = d[key]
        return c
    return dict(cross_attn_k=hc["cross_attn_k"], encoder_hash_byte_group_size=hc["encoder_hash_byte_group_size"],
                encoder_hash_byte_group_vocab=hc["encoder_hash_byte_group_vocab"],
                encoder_hash_byte_group_nb_functions=hc["encoder_hash_byte_group_nb_functions"],
                patching_threshold=hc["patching_threshold"], max_patch_length=hc["max_patch_length"],
                patcher=sub(hc["patcher_config"]), encoder=sub(hc["encoder_config"], ["cross_attn_all_layers"]),
                decoder=sub(hc["decoder_config"], ["cross_attn_all_layers"]), global_=sub(hc["global_config"]))


def load_model(d):
    hc = json.load(open(os.path.join(d, "config.json")))
    model = Blt(cfg_from_hf(hc))
    sd = load_safetensors(os.path.join(d, "model.safetensors"))
    model.load_state_dict({(n if n.startswith("lm_head.") else n[len("model."):]): t for n, t in sd.items()})
    return model.eval()


def save_model(model, d, extra_log=None):
    os.makedirs(d, exist_ok=True)
    save_safetensors(os.path.join(d, "model.safetensors"), hf_state(model))
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(hf_config(model.cfg), f, indent=2)
        f.write("\n")


def count(module):
    return sum(p.numel() for p in module.parameters())


# ----------------------------------------------------------------------------------------------------------------
# FLOPs (forward: 2 per multiply-add of every weight a token goes through, plus the dense attention matmuls;
# training = 3 x forward; embedding and hash lookups count 0)


def layer_flops(c, keys):
    """Forward FLOPs of one Llama layer for one position attending `keys` positions."""
    h, hd = c["hidden_size"], c["hidden_size"] // c["num_attention_heads"]
    q, kv = c["num_attention_heads"] * hd, c["num_key_value_heads"] * hd
    return 2 * (h * q + 2 * h * kv + q * h + 3 * h * c["intermediate_size"]) + 4 * keys * q


def cross_flops_query(c, keys):
    h, hd = c["hidden_size"], c["hidden_size"] // c["num_attention_heads"]
    q = c["num_attention_heads"] * hd
    return 2 * (h * q + q * h) + 4 * keys * q  # q_proj, o_proj, scores, weighted sum


def cross_flops_key(c):
    h, hd = c["hidden_size"], c["hidden_size"] // c["num_attention_heads"]
    return 2 * 2 * h * c["num_key_value_heads"] * hd  # k_proj, v_proj


def blt_window_flops(cfg, s, n):
    """Forward FLOPs of the BLT (without the patcher) on one window of s bytes cut into n patches (dense, as computed)."""
    k, e, d, g = cfg["cross_attn_k"], cfg["encoder"], cfg["decoder"], cfg["global_"]
    he, hg = e["hidden_size"], g["hidden_size"]
    f = s * e["num_hidden_layers"] * layer_flops(e, s)
    n_enc_cross = e["num_hidden_layers"] if e["cross_attn_all_layers"] else 1
    f += n_enc_cross * (n * 2 * he * he * k + n * k * cross_flops_query(e, s) + s * cross_flops_key(e))
    if he * k != hg:
        f += n * 2 * he * k * hg
    f += n * g["num_hidden_layers"] * layer_flops(g, n)
    f += n * 2 * hg * d["hidden_size"] * k
    n_dec_cross = d["num_hidden_layers"] if d["cross_attn_all_layers"] else 1
    f += n_dec_cross * (s * cross_flops_query(d, n * k) + n * k * cross_flops_key(d))
    f += s * d["num_hidden_layers"] * layer_flops(d, s)
    f += s * 2 * d["hidden_size"] * VOCAB
    return f


def patcher_window_flops(c, s):
    return s * (c["num_hidden_layers"] * layer_flops(c, s) + 2 * c["hidden_size"] * VOCAB)


def llama_demo_flops():
    """train_demo.py's run: CONFIG, 750 steps of 16 x 512 tokens."""
    c = dict(hidden_size=256, num_attention_heads=4, num_key_value_heads=2, intermediate_size=768)
    # head_dim 64 = 256 / 4, so layer_flops applies as it is
    per_window = 512 * (8 * layer_flops(c, 512) + 2 * 256 * 258)
    return {"forward_per_window": per_window, "windows": 750 * 16, "train_flops": 3 * per_window * 750 * 16,
            "tokens": 750 * 16 * 512}


# ----------------------------------------------------------------------------------------------------------------
# data and scoring


def load_stream(path):
    text = open(path, "rb").read()
    stream = []
    for ch in text.split(b"\n\n"):
        if ch.strip():
            stream += [BOS] + [b + OFFSET for b in ch.strip(b"\n") + b"\n\n"]
    return torch.tensor(stream, dtype=torch.long)


def windows(n, window=CONTEXT, stride=256):
    """(begin, end, first) of each scoring window over n ids, as train_demo.strided_nll walks them."""
    out, prev_end, begin = [], 0, 0
    while True:
        end = min(begin + window, n)
        out.append((begin, end, max(prev_end, begin + 1)))
        prev_end = end
        if end >= n:
            return out
        begin += stride


@torch.no_grad()
def score(fn_logits, ids, batch=16, patcher=None, cfg=None):
    """Total NLL (nats) of ids[1:] each scored once; fn_logits(x (B,S)) -> (logits, lengths or None)."""
    ws = windows(len(ids))
    total, cnt, n_bytes, n_patches = 0.0, 0, 0, 0
    i = 0
    while i < len(ws):
        group = [ws[i]]
        while i + len(group) < len(ws) and len(group) < batch and ws[i + len(group)][1] - ws[i + len(group)][0] == ws[i][1] - ws[i][0]:
            group.append(ws[i + len(group)])
        x = torch.stack([torch.tensor(ids[a:b]) for a, b, _ in group])
        logits, lengths = fn_logits(x)
        logp = logits.float().log_softmax(-1)
        for r, (a, b, first) in enumerate(group):
            tgt = torch.tensor(ids[first:b])
            rows = torch.arange(first - 1 - a, b - 1 - a)
            total -= logp[r, rows, tgt].double().sum().item()
            cnt += b - first
            if lengths is not None:
                n_bytes += b - a
                n_patches += int((lengths[r] > 0).sum())
        i += len(group)
    assert cnt == len(ids) - 1
    return total, cnt, (n_bytes / n_patches if n_patches else None)


def val_ids(text):
    return [BOS] + [b + OFFSET for b in text]


def blt_bits_per_byte(model, text, batch=16):
    def fn(x):
        _, lengths, counts = model.patch(x)
        return model(x, lengths, counts), lengths
    nll, cnt, mean_patch = score(fn, val_ids(text), batch)
    return nll / math.log(2) / len(text), nll / cnt, mean_patch


def patcher_bits_per_byte(patcher, text, batch=16):
    nll, cnt, _ = score(lambda x: (patcher(x), None), val_ids(text), batch)
    return nll / math.log(2) / len(text), nll / cnt


def lr_at(step, steps, lr, warmup):
    return lr * min(1.0, step / warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, step / steps))))


def optimizer(params, lr):
    params = [(n, p) for n, p in params if p.requires_grad]
    decay = [p for n, p in params if p.dim() >= 2 and "embed" not in n]
    other = [p for n, p in params if p.dim() < 2 or "embed" in n]
    return torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": other, "weight_decay": 0.0}],
                             lr=lr, betas=(0.9, 0.95), eps=1e-8)


def batch_at(data, gen, batch, window):
    starts = torch.randint(0, len(data) - window, (batch,), generator=gen)
    return torch.stack([data[s:s + window] for s in starts.tolist()])


# ----------------------------------------------------------------------------------------------------------------
# training


def train(args):
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    data = load_stream(os.path.join(args.corpus, "train.txt"))
    val_text = open(os.path.join(args.corpus, "val.txt"), "rb").read()
    val_eval = val_text if not args.smoke else val_text[:4096]
    val_quick = val_text[:args.quick_val] if not args.smoke else val_text[:2048]
    cfg = json.loads(json.dumps(DEMO))
    model = Blt(cfg)
    init_weights(model)
    window = CONTEXT + 1
    log = {"args": vars(args), "parameters": count(model),
           "parameters_by_part": {n: count(m) for n, m in model.named_children()}, "patcher_evals": [], "evals": []}
    print(f"train_blt_demo: {count(model):,} parameters {log['parameters_by_part']}, {len(data):,} training ids, "
          f"{len(val_text):,} validation bytes, {args.threads} threads", flush=True)
    t_all = time.time()

    # 1. the patcher: a byte LM
    patcher = model.patcher
    opt = optimizer(patcher.named_parameters(), args.patcher_lr)
    gen = torch.Generator().manual_seed(args.seed)
    t0 = time.time()
    for step in range(1, args.patcher_steps + 1):
        lr = lr_at(step, args.patcher_steps, args.patcher_lr, args.warmup)
        for g in opt.param_groups:
            g["lr"] = lr
        xy = batch_at(data, gen, args.patcher_batch, window)
        loss = F.cross_entropy(patcher(xy[:, :-1]).reshape(-1, VOCAB), xy[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(patcher.parameters(), 1.0)
        opt.step()
        if step % 25 == 0 or step == 1:
            print(f"patcher step {step:5d}  loss {loss.item():.4f}  lr {lr:.2e}  {time.time() - t0:7.1f} s", flush=True)
    patcher.eval()
    with torch.no_grad():  # the patcher is stored in BF16: patch with the weights HF will load
        for p in patcher.parameters():
            p.copy_(p.to(torch.bfloat16).float())
            p.requires_grad_(False)
    pbpb, pnll = patcher_bits_per_byte(patcher, val_eval)
    log["patcher_seconds"] = time.time() - t0
    log["patcher_final_bf16"] = {"val_bits_per_byte": pbpb, "val_nll": pnll}
    print(f"patcher: {time.time() - t0:.1f} s, validation bits/byte {pbpb:.4f} (BF16)", flush=True)

    # 2. the threshold: the entropy quantile that gives target-patch bytes per patch on training windows
    with torch.no_grad():
        g2 = torch.Generator().manual_seed(args.seed + 1)
        ents = []
        for _ in range(8):
            x = batch_at(data, g2, 16, CONTEXT)
            ents.append(entropies(patcher(x).float())[:, 1:-1].flatten())
        ents = torch.cat(ents)
        thr = torch.quantile(ents.double(), 1.0 - 1.0 / args.target_patch).item()
    cfg["patching_threshold"] = thr
    log["threshold"] = thr
    print(f"threshold {thr:.6f} nats (entropy quantile {1 - 1 / args.target_patch:.3f})", flush=True)

    # 3. the BLT on the frozen patcher's patches
    params = [(n, p) for n, p in model.named_parameters() if not n.startswith("patcher.")]
    opt = optimizer(params, args.lr)
    trainable = [p for _, p in params]
    t0 = time.time()
    flops, patches_seen, bytes_seen = 0, 0, 0
    for step in range(1, args.steps + 1):
        lr = lr_at(step, args.steps, args.lr, args.warmup)
        for g in opt.param_groups:
            g["lr"] = lr
        xy = batch_at(data, gen, args.batch, window)
        x = xy[:, :-1]
        _, lengths, counts = model.patch(x)
        logits = model(x, lengths, counts)
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), xy[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        opt.step()
        n_real = (lengths > 0).sum(1)
        patches_seen += int(n_real.sum())
        bytes_seen += x.numel()
        # dense work as computed: every row runs with the batch's padded patch count
        flops += args.batch * (3 * blt_window_flops(cfg, CONTEXT, lengths.shape[1]) + patcher_window_flops(cfg["patcher"], CONTEXT))
        if step % 25 == 0 or step == 1:
            print(f"step {step:5d}  loss {loss.item():.4f}  lr {lr:.2e}  bytes/patch {bytes_seen / patches_seen:.2f}  "
                  f"{time.time() - t0:7.1f} s", flush=True)
        if step % args.eval_every == 0 and step != args.steps:
            model.eval()
            bpb, nll, mp = blt_bits_per_byte(model, val_quick)
            model.train()
            model.patcher.eval()
            log["evals"].append({"step": step, "train_loss": loss.item(), "val_quick_bits_per_byte": bpb,
                                 "val_quick_bytes": len(val_quick), "mean_patch": mp, "seconds": time.time() - t0})
            print(f"eval  {step:5d}  train {loss.item():.4f}  val[:{len(val_quick)}] bits/byte {bpb:.4f}  "
                  f"bytes/patch {mp:.2f}", flush=True)
            save_model(model, args.out)  # a checkpoint to fall back on (F32 master weights go on training)
            log["config"] = hf_config(cfg)
            with open(os.path.join(args.out, "train_log.json"), "w") as f:
                json.dump(dict(log, partial_at_step=step), f, indent=2)
    log["blt_seconds"] = time.time() - t0
    log["train_bytes_per_patch"] = bytes_seen / patches_seen
    model.eval()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(torch.bfloat16).float())
    bpb, nll, mp = blt_bits_per_byte(model, val_eval)
    log["final_bf16"] = {"val_bits_per_byte": bpb, "val_nll": nll, "val_mean_patch_length": mp, "val_bytes": len(val_eval)}
    log["seconds"] = time.time() - t_all
    pf = args.patcher_steps * args.patcher_batch * 3 * patcher_window_flops(cfg["patcher"], CONTEXT)
    log["flops"] = {"patcher_train": pf, "blt_train": flops, "total": pf + flops,
                    "train_bytes": args.steps * args.batch * CONTEXT + args.patcher_steps * args.patcher_batch * CONTEXT,
                    "demo_llama": llama_demo_flops(),
                    "formula": "forward = sum over positions of 2 x (weights the position goes through) + 4 x keys x "
                               "(heads x head_dim) per attention; training = 3 x forward; the patcher in the BLT stage "
                               "is forward only; dense masked matmuls counted as computed; lookups 0"}
    log["config"] = hf_config(cfg)
    save_model(model, args.out)
    with open(os.path.join(args.out, "train_log.json"), "w") as f:
        json.dump(log, f, indent=2)
    size = os.path.getsize(os.path.join(args.out, "model.safetensors"))
    print(f"train_blt_demo: BF16 weights ({size:,} bytes), validation bits/byte {bpb:.4f} (nll {nll:.4f}), "
          f"val bytes/patch {mp:.3f}, {log['seconds']:.0f} s; FLOPs {pf + flops:.3e} (demo Llama "
          f"{llama_demo_flops()['train_flops']:.3e}); wrote {args.out}", flush=True)


# ----------------------------------------------------------------------------------------------------------------
# check against transformers, and the fixture


CHECK_TEXTS = ["In the beginning God created the heaven and the earth.",
               "Grüße aus Köln – naïve café, 日本語のテキスト, emoji 🙂🚀 and Ελληνικά.",
               "a",
               "And the LORD said unto Moses, Wherefore criest thou unto me? speak unto the children of Israel, "
               "that they go forward: ÆØÅ æøå ß ŒŸ € ∑ √ ∞ 中文 한국어 עברית العربية"]


def text_ids(t, bos=True):
    return ([BOS] if bos else []) + [b + OFFSET for b in t.encode("utf-8")]


def import_hf():
    new = os.environ.get("HF_NEW", "/tmp/hf47/new")
    sys.path[:0] = [os.path.join(new, "shim"), os.path.join(new, "stubs"), os.path.join(new, "site")]
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    import torch2_shim  # noqa: F401  (torch 2.x names on Debian's torch 1.13; must precede transformers)
    import transformers
    return transformers


def check_hf(args):
    torch.manual_seed(args.seed)
    transformers = import_hf()
    results = {"transformers": transformers.__version__, "cases": []}
    worst = 0.0
    for name, base in (("tiny", TINY), ("demo", DEMO)):
        cfg = json.loads(json.dumps(base))
        model = Blt(cfg)
        init_weights(model, std=0.3 if name == "tiny" else 0.05)
        with torch.no_grad():
            for n, p in model.named_parameters():
                if n.endswith("norm.weight") or n.endswith("layernorm.weight"):
                    p.copy_(1.0 + 0.2 * torch.randn_like(p))
                p.copy_(p.to(torch.bfloat16).float())  # what the BF16 file holds
        model.eval()
        rows = [text_ids(t) for t in CHECK_TEXTS]
        val = os.path.join(args.corpus, "val.txt")
        if os.path.exists(val):  # a full 512-id window: held-out verses with multi-byte UTF-8 spliced in
            t = open(val, "rb").read()[:600].decode("ascii") + " — Grüße, 日本語, 🙂🚀"
            rows.append(text_ids(t)[-CONTEXT:])
        # a threshold that cuts these rows into patches of a few bytes: the 70% quantile of their entropies
        ents = torch.cat([entropies(model.patcher(torch.tensor([r])).float())[0, 1:] for r in rows])
        cfg["patching_threshold"] = torch.quantile(ents.double(), 0.7).item()
        d = os.path.join(args.check_dir, name)
        save_model(model, d)
        hf = transformers.BltForCausalLM.from_pretrained(d, attn_implementation="eager", torch_dtype=torch.float32).eval()
        ours = load_model(d)  # from the same file
        for i, r in enumerate(rows):
            x = torch.tensor([r])
            with torch.no_grad():
                ent, lengths, _ = ours.patch(x)
                a = ours(x, lengths)
                hf_ent, hf_lengths, _ = hf.model.patcher(x, patch_size=4, threshold=hf.config.patching_threshold,
                                                         max_patch_length=None)
                b = hf(input_ids=x).logits
            same_patches = hf_lengths.tolist() == lengths.tolist()
            diff = (a - b).abs().max().item()
            rel = diff / b.abs().max().item()
            worst = max(worst, rel)
            case = {"config": name, "row": i, "ids": len(r), "patches": lengths.shape[1], "lengths": lengths[0].tolist(),
                    "same_patch_lengths": same_patches, "entropy_max_abs_diff": (ent - hf_ent).abs().max().item(),
                    "logits_max_abs_diff": diff, "logits_max_abs": b.abs().max().item(), "max_rel_diff": rel}
            results["cases"].append(case)
            print(json.dumps(case), flush=True)
            assert same_patches, "patch lengths differ"
        # a batch of equal-length rows with different patch counts: our padded batch = the rows one by one
        rs = [text_ids(t) for t in ("In the beginning God", "Grüße, 日本", "ÆØÅ 🙂🚀 abc", CHECK_TEXTS[3])]
        x = torch.tensor([r[:min(map(len, rs))] for r in rs])
        with torch.no_grad():
            batched = ours(x)
            single = torch.cat([hf(input_ids=x[j:j + 1]).logits for j in range(x.shape[0])])
        bd = (batched - single).abs().max().item()
        results["cases"].append({"config": name, "batched_vs_hf_rows_max_abs_diff": bd})
        print(f"{name}: our padded batch vs HF row by row: max abs diff {bd:.3e}", flush=True)
    if os.path.exists(os.path.join(args.out, "config.json")):  # the trained checkpoint too, when there is one
        ours = load_model(args.out)
        hf = transformers.BltForCausalLM.from_pretrained(args.out, attn_implementation="eager", torch_dtype=torch.float32).eval()
        for i, t in enumerate(CHECK_TEXTS):
            x = torch.tensor([text_ids(t)])
            with torch.no_grad():
                ent, lengths, _ = ours.patch(x)
                a = ours(x, lengths)
                _, hf_lengths, _ = hf.model.patcher(x, patch_size=4, threshold=hf.config.patching_threshold, max_patch_length=None)
                b = hf(input_ids=x).logits
            diff = (a - b).abs().max().item()
            rel = diff / b.abs().max().item()
            worst = max(worst, rel)
            case = {"config": args.out, "row": i, "ids": x.shape[1], "patches": lengths.shape[1],
                    "same_patch_lengths": hf_lengths.tolist() == lengths.tolist(), "logits_max_abs_diff": diff,
                    "logits_max_abs": b.abs().max().item(), "max_rel_diff": rel}
            results["cases"].append(case)
            print(json.dumps(case), flush=True)
            assert case["same_patch_lengths"], "patch lengths differ"
    results["max_rel_diff"] = worst
    os.makedirs(args.check_dir, exist_ok=True)
    with open(os.path.join(args.check_dir, "check.json"), "w") as f:
        json.dump(results, f, indent=2)
    print(f"check-hf: max relative difference {worst:.3e} (transformers {transformers.__version__})")
    if worst > 1e-5:
        raise SystemExit("check-hf: FAILED")


def fixture(args):
    """Logits of fixed rows (incl. multi-byte UTF-8) from the saved BF16 weights, computed in float32."""
    model = load_model(args.out)
    tensors = {}
    meta = []
    with torch.no_grad():
        for i, t in enumerate(CHECK_TEXTS[:3] + ["For God so loved the world, that he gave his only begotten Son"]):
            ids = text_ids(t)
            x = torch.tensor([ids])
            ent, lengths, _ = model.patch(x)
            tensors[f"row{i}.ids"] = x[0]
            tensors[f"row{i}.logits"] = model(x, lengths)[0].float()
            tensors[f"row{i}.patch_lengths"] = lengths[0]
            tensors[f"row{i}.entropies"] = ent[0].float()
            meta.append({"row": i, "text": t, "ids": len(ids), "patch_lengths": lengths[0].tolist()})
    os.makedirs(os.path.dirname(args.fixture_out), exist_ok=True)
    save_safetensors(args.fixture_out, tensors, dtype="F32")
    with open(os.path.splitext(args.fixture_out)[0] + ".json", "w") as f:
        json.dump({"model": "demo-blt", "script": "scripts/train_blt_demo.py --fixture", "dtype": "float32 from BF16 weights",
                   "threshold": json.load(open(os.path.join(args.out, "config.json")))["patching_threshold"], "rows": meta},
                  f, indent=2, ensure_ascii=False)
        f.write("\n")
    print(f"fixture: {args.fixture_out} ({os.path.getsize(args.fixture_out):,} bytes)")


def evaluate(args):
    """Bits per byte of val.txt and the mean patch length with the saved BF16 weights of --out, into its train_log.json."""
    torch.set_num_threads(args.threads)
    model = load_model(args.out)
    val_text = open(os.path.join(args.corpus, "val.txt"), "rb").read()
    t0 = time.time()
    bpb, nll, mp = blt_bits_per_byte(model, val_text)
    path = os.path.join(args.out, "train_log.json")
    log = json.load(open(path)) if os.path.exists(path) else {}
    log["final_bf16"] = {"val_bits_per_byte": bpb, "val_nll": nll, "val_mean_patch_length": mp, "val_bytes": len(val_text),
                         "by": "--eval", "seconds": time.time() - t0}
    with open(path, "w") as f:
        json.dump(log, f, indent=2)
    print(f"eval: {args.out} validation bits/byte {bpb:.4f} (nll {nll:.4f}), bytes/patch {mp:.3f}, {time.time() - t0:.0f} s")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default="target/demo-corpus")
    ap.add_argument("--out", default="target/demo-blt")
    ap.add_argument("--patcher-steps", type=int, default=120)
    ap.add_argument("--patcher-batch", type=int, default=16)
    ap.add_argument("--patcher-lr", type=float, default=3e-3)
    ap.add_argument("--steps", type=int, default=120)  # 10-20 s a step on the shared, loaded 2-core build machine
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument("--target-patch", type=float, default=4.0, help="bytes per patch the threshold aims at")
    ap.add_argument("--eval-every", type=int, default=40)
    ap.add_argument("--quick-val", type=int, default=8192, help="bytes of val.txt the intermediate evals score")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--smoke", action="store_true", help="a few steps and a short validation, to time a step")
    ap.add_argument("--check-hf", action="store_true", help="compare our forward with transformers' BltForCausalLM")
    ap.add_argument("--check-dir", default="target/blt-check")
    ap.add_argument("--eval", action="store_true", help="score val.txt with the saved weights of --out")
    ap.add_argument("--fixture", action="store_true", help="write the logits fixture from --out")
    ap.add_argument("--fixture-out", default="src/test/resources/dev/braindrip/demo-blt/script-logits.safetensors")
    args = ap.parse_args()
    if args.check_hf:
        return check_hf(args)
    if args.fixture:
        return fixture(args)
    if args.eval:
        return evaluate(args)
    if args.smoke:
        args.patcher_steps, args.steps, args.eval_every = 10, 10, 5
        if args.out == "target/demo-blt":
            args.out = "target/demo-blt-smoke"
    train(args)


if __name__ == "__main__":
    main()
