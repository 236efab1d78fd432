#!/usr/bin/env python3
"""Tiny random Hugging Face models + their outputs, made with transformers' own modeling code: test fixtures.

Each fixture is a directory src/test/resources/hf/<name>/ holding what save_pretrained wrote (config.json,
model.safetensors) and expected.safetensors: tokens_<r> (int64, (S_r,)) and logits_<r> (float32, (S_r, V)) for
causal LMs, or hidden_<r> (float32, (S_r, H), last_hidden_state) for BERT; metadata rows, transformers, output,
model_class. Every row is run alone (batch 1, no padding, no attention mask, use_cache=False) in float64 from the
saved (float32, or bf16 for llama-bf16) weights, eager attention.
Encoder-decoder (T5ForConditionalGeneration, output "seq2seq"): source_<r> (int64, (S_r,)), decoder_<r> (int64,
(T_r,), decoder input ids starting with decoder_start_token_id), logits_<r> (float32, (T_r, V)) and encoder_<r>
(float32, (S_r, d_model), the encoder's last hidden state after its final_layer_norm); each row alone as above, and
(asserted, not stored) the rows as one right-padded batch with attention_mask give the same logits and encoder states.
BLT (BltForCausalLM, 4.57 list): rows from UTF-8 text (byte + 4, BOS 1 first) plus patch_lengths_<r> (int64),
entropies_<r> (float32) and hash_rows_<r> (int64, (S_r, n_hashes)) captured from HF's forward with hooks; the float64
run clamps the patch cross-attention masks to finfo(float32).min (blt_float64_mask_fix: HF's float64 BLT is NaN on
empty patches); asserted, not stored: prefix consistency (blt) and agreement with an unpatched float32 copy.

Run it through scripts/hf_fixtures.sh, which sets up both environments (see /work/shared/tools/hf-env.sh):
    /usr/bin/python3 scripts/hf_fixtures.py --env 4.47 [--out DIR] [--only a,b]   transformers 4.47.1 fixtures
    /usr/bin/python3 scripts/hf_fixtures.py --env 4.57 [--out DIR] [--only a,b]   transformers 4.57.6 (torch2_shim) fixtures
    /usr/bin/python3 scripts/hf_fixtures.py --table [--out DIR]                   sizes of every fixture directory
or with whatever transformers + torch the interpreter imports (scripts/gpu-check.sh on the GPU machine):
    python3 scripts/hf_fixtures.py --site system --out DIR [--only a,b]           every fixture this version has
  (--site system: every fixture of both lists, made and verified by the one installed version; a fixture whose
  model or config class that version lacks is skipped with a "SKIP" line; one that fails otherwise gets a "FAILED"
  line, its directory is removed and the exit status is 1, the others are still made.)
Nothing is fetched from the network: every model is built from a config object.
"""
import argparse
import copy
import math
import os
import shutil
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(ROOT, "src", "test", "resources", "hf")
ROW_LENGTHS = (1, 7, 13)  # 13 > every sliding window used here (4) by a few tokens
# seq2seq (t5): decoder input lengths; 12 > relative_attention_max_distance (10) + 1, so that the decoder's
# distances pass it as the encoder's do (13)
DECODER_LENGTHS = (1, 5, 12)


def setup_env(env):
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    if env == "system":  # whatever transformers this interpreter imports
        return
    if env == "4.47":
        paths = [os.environ.get("HF_STUBS", "/tmp/hf47/stubs"), os.environ.get("HF_SITE", "/tmp/hf47/site")]
    else:
        new = os.environ.get("HF_NEW", "/tmp/hf47/new")
        paths = [os.path.join(new, "shim"), os.path.join(new, "stubs"), os.path.join(new, "site")]
    sys.path[:0] = paths
    if env == "4.57":
        import torch2_shim  # noqa: F401  (torch 2.x names on Debian's torch 1.13; must precede transformers)


# ----------------------------------------------------------------------------------------------------------------
# weights


def randomize(model, std=0.3, gemma_norm=False, overrides=None):
    """Every parameter random and nonzero: matrices N(0, std), norm weights around 1 (Gemma: around 0, it uses
    1 + w), biases N(0, 0.2), attention sinks N(0, 1); overrides: {name substring: std} for matrices."""
    import torch
    overrides = overrides or {}
    with torch.no_grad():
        for name, p in model.named_parameters():
            leaf = name.rsplit(".", 1)[-1]
            is_norm = p.dim() == 1 and leaf == "weight" and any(k in name for k in ("norm", "ln_", "LayerNorm"))
            if is_norm:
                p.copy_(torch.randn_like(p) * 0.15 + (0.0 if gemma_norm else 1.0))
            elif leaf == "sinks":
                p.copy_(torch.randn_like(p))
            elif p.dim() == 1 or "bias" in leaf:
                p.copy_(torch.randn_like(p) * 0.2)
            else:
                s = next((v for k, v in overrides.items() if k in name), std)
                p.copy_(torch.randn_like(p) * s)
    for name, p in model.named_parameters():
        assert bool((p != 0).all()), f"{name} has zeros"


def tokens_for(seed, vocab):
    import torch
    g = torch.Generator().manual_seed(10_000 + seed)
    return [torch.randint(0, vocab, (n,), generator=g, dtype=torch.int64) for n in ROW_LENGTHS]


def seq2seq_rows(seed, vocab, start):
    """(source, decoder input ids) per row: sources as tokens_for; decoder ids start with decoder_start_token_id."""
    import torch
    g = torch.Generator().manual_seed(20_000 + seed)
    dec = [torch.cat([torch.tensor([start], dtype=torch.int64),
                      torch.randint(0, vocab, (n - 1,), generator=g, dtype=torch.int64)]) for n in DECODER_LENGTHS]
    return list(zip(tokens_for(seed, vocab), dec))


# ----------------------------------------------------------------------------------------------------------------
# fixtures: name -> builder returning dict(model, output, vocab, [save_dtype], [save_model], [model_class], [ablate])


def base_llama(T, **kw):
    c = dict(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, max_position_embeddings=64, rope_theta=10000.0, rms_norm_eps=1e-5,
             tie_word_embeddings=False, attn_implementation="eager")
    c.update(kw)
    return T.LlamaForCausalLM(T.LlamaConfig(**c))


def fx_llama(T):
    m = base_llama(T)
    randomize(m)
    return dict(model=m, output="logits")


def fx_llama_bf16(T):
    d = fx_llama(T)
    d["save_dtype"] = "bfloat16"
    return d


def fx_llama3_rope(T):
    rs = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
          "original_max_position_embeddings": 64}
    m = base_llama(T, head_dim=16, rope_theta=500000.0, rope_scaling=rs, max_position_embeddings=128,
                   tie_word_embeddings=True)
    assert m.model.layers[0].self_attn.head_dim == 16
    # every llama3 band occurs: wavelen < orig/high_ff kept, > orig/low_ff divided by factor, between: smoothed
    d = 16
    wl = [2 * math.pi * 500000.0 ** (i / d) for i in range(0, d, 2)]
    hi, lo = rs["original_max_position_embeddings"] / rs["high_freq_factor"], rs["original_max_position_embeddings"] / rs["low_freq_factor"]
    bands = (sum(w < hi for w in wl), sum(hi <= w <= lo for w in wl), sum(w > lo for w in wl))
    assert all(bands), bands
    randomize(m)
    return dict(model=m, output="logits", note=f"llama3 bands high/medium/low = {bands}, wavelengths {[round(w, 1) for w in wl[:4]]}...")


def fx_llama_linear_rope(T):
    m = base_llama(T, rope_scaling={"rope_type": "linear", "factor": 2.0})
    randomize(m)
    return dict(model=m, output="logits")


def fx_mistral(T):
    m = T.MistralForCausalLM(T.MistralConfig(
        vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=64, sliding_window=4, rms_norm_eps=1e-5,
        tie_word_embeddings=False, attn_implementation="eager"))
    randomize(m)

    def ablate(mm):
        mm.config.sliding_window = None
    return dict(model=m, output="logits", ablate={"sliding_window=None": ablate})


def fx_mixtral(T):
    m = T.MixtralForCausalLM(T.MixtralConfig(
        vocab_size=128, hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=64, num_local_experts=4, num_experts_per_tok=2,
        sliding_window=None, rms_norm_eps=1e-5, tie_word_embeddings=False, attn_implementation="eager"))
    randomize(m)
    return dict(model=m, output="logits")


def qwen2_config(T, **kw):
    c = dict(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, max_position_embeddings=64, rope_theta=10000.0, rms_norm_eps=1e-6,
             tie_word_embeddings=False, attn_implementation="eager")
    c.update(kw)
    return T.Qwen2Config(**c)


def fx_qwen2(T):
    m = T.Qwen2ForCausalLM(qwen2_config(T))
    assert m.model.layers[0].self_attn.q_proj.bias is not None
    randomize(m)
    return dict(model=m, output="logits")


def fx_qwen2_sliding(T):
    m = T.Qwen2ForCausalLM(qwen2_config(T, num_hidden_layers=3, use_sliding_window=True, sliding_window=4,
                                        max_window_layers=1))
    randomize(m)

    def no_window(mm):  # 4.47.1: the one mask is built from config.sliding_window; 4.57.6: per layer_types
        mm.config.sliding_window = 10 ** 6 if hasattr(mm.config, "layer_types") else None

    def all_slide(mm):  # which layers slide: compare with max_window_layers = 0 (every layer)
        mm.config.max_window_layers = 0
        if hasattr(mm.config, "layer_types"):
            mm.config.layer_types = ["sliding_attention"] * mm.config.num_hidden_layers
            for layer in mm.model.layers:
                layer.attention_type = "sliding_attention"
                layer.self_attn.sliding_window = mm.config.sliding_window
    return dict(model=m, output="logits", ablate={"no sliding window": no_window, "every layer slides": all_slide},
                note="layer_types=" + str(getattr(m.config, "layer_types", "(none in this version)")))


def fx_qwen2_moe(T):
    m = T.Qwen2MoeForCausalLM(T.Qwen2MoeConfig(
        vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=64, rms_norm_eps=1e-6, tie_word_embeddings=False,
        num_experts=4, num_experts_per_tok=2, moe_intermediate_size=32, shared_expert_intermediate_size=48,
        decoder_sparse_step=1, norm_topk_prob=False, attn_implementation="eager"))
    randomize(m)
    return dict(model=m, output="logits", ablate={"norm_topk_prob=True": norm_topk(True), "no shared expert": no_shared})


def norm_topk(value):
    def fn(mm):
        for layer in mm.model.layers:
            if hasattr(layer.mlp, "norm_topk_prob"):
                layer.mlp.norm_topk_prob = value
    return fn


def no_shared(mm):
    import torch
    with torch.no_grad():
        for layer in mm.model.layers:
            layer.mlp.shared_expert_gate.weight.fill_(0.0)
            layer.mlp.shared_expert.down_proj.weight.fill_(0.0)


def fx_gemma2(T):
    m = T.Gemma2ForCausalLM(T.Gemma2Config(
        vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=4,
        num_key_value_heads=2, head_dim=16, query_pre_attn_scalar=24, max_position_embeddings=64,
        sliding_window=4, attn_logit_softcapping=5.0, final_logit_softcapping=3.0, rms_norm_eps=1e-6,
        hidden_activation="gelu_pytorch_tanh", tie_word_embeddings=True, attn_implementation="eager"))
    randomize(m, gemma_norm=True)

    def no_window(mm):
        for layer in mm.model.layers:
            layer.sliding_window = 10 ** 6
            layer.self_attn.sliding_window = None

    def no_attn_cap(mm):
        mm.config.attn_logit_softcapping = None
        for layer in mm.model.layers:
            layer.self_attn.attn_logit_softcapping = None

    def no_final_cap(mm):
        mm.config.final_logit_softcapping = None
    return dict(model=m, output="logits", ablate={"no sliding window": no_window, "no attn softcap": no_attn_cap,
                                                  "no final softcap": no_final_cap},
                note="sliding layers: " + str([i for i, l in enumerate(m.model.layers) if l.is_sliding]))


def gpt2_lm(T):
    return T.GPT2LMHeadModel(T.GPT2Config(
        vocab_size=128, n_positions=32, n_embd=32, n_layer=2, n_head=4, activation_function="gelu_new",
        layer_norm_epsilon=1e-5, attn_implementation="eager"))


def fx_gpt2(T):
    m = gpt2_lm(T)
    randomize(m)
    return dict(model=m, output="logits")


def fx_gpt2_noprefix(T):
    m = gpt2_lm(T)
    randomize(m)
    base = copy.deepcopy(m.transformer)  # same weights, saved through GPT2Model: no "transformer." prefix, no lm_head
    return dict(model=m, output="logits", save_model=base, model_class="GPT2Model")


def fx_bert(T):
    m = T.BertModel(T.BertConfig(
        vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
        hidden_act="gelu", max_position_embeddings=32, type_vocab_size=2, layer_norm_eps=1e-12,
        attn_implementation="eager"))
    randomize(m)
    return dict(model=m, output="hidden")


def fx_qwen3(T):
    m = T.Qwen3ForCausalLM(T.Qwen3Config(
        vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=16, max_position_embeddings=64, rope_theta=10000.0, rms_norm_eps=1e-6,
        tie_word_embeddings=False, attn_implementation="eager"))
    assert m.model.layers[0].self_attn.q_norm.weight.shape[0] == 16
    randomize(m)
    return dict(model=m, output="logits")


def fx_qwen3_moe(T):
    m = T.Qwen3MoeForCausalLM(T.Qwen3MoeConfig(
        vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=4, num_attention_heads=4,
        num_key_value_heads=2, head_dim=16, max_position_embeddings=64, rms_norm_eps=1e-6, tie_word_embeddings=False,
        num_experts=4, num_experts_per_tok=2, moe_intermediate_size=32, decoder_sparse_step=2, mlp_only_layers=[1],
        norm_topk_prob=True, attn_implementation="eager"))
    kinds = [type(layer.mlp).__name__ for layer in m.model.layers]
    assert len(set(kinds)) == 2, kinds
    randomize(m)
    return dict(model=m, output="logits", note="mlp per layer: " + str(kinds), ablate={"norm_topk_prob=False": norm_topk(False)})


def fx_gpt_oss(T):
    cfg = T.GptOssConfig(
        vocab_size=128, hidden_size=32, intermediate_size=32, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=32, num_local_experts=4, num_experts_per_tok=2, sliding_window=4,
        max_position_embeddings=64, rms_norm_eps=1e-5, tie_word_embeddings=False, attn_implementation="eager")
    rs = dict(cfg.rope_scaling)  # the config default (yarn, factor 32, beta_fast 32, beta_slow 1, truncate False)
    rs["original_max_position_embeddings"] = 16
    cfg.rope_scaling = rs
    m = T.GptOssForCausalLM(cfg)
    randomize(m, overrides={"experts.gate_up_proj": 0.6})  # big enough that the clamp at +-7 happens

    def no_sinks(mm):
        with __import__("torch").no_grad():
            for layer in mm.model.layers:
                layer.self_attn.sinks.fill_(-1e30)

    def no_window(mm):
        mm.config.sliding_window = 10 ** 6

    def no_clamp(mm):
        for layer in mm.model.layers:
            layer.mlp.experts.limit = 1e30
    inv = m.model.rotary_emb.inv_freq
    base = 1.0 / (cfg.rope_theta ** (__import__("torch").arange(0, 32, 2, dtype=__import__("torch").float64) / 32))
    ratio = (inv.double() / base).tolist()
    return dict(model=m, output="logits", ablate={"no sinks": no_sinks, "no sliding window": no_window,
                                                  "no clamp": no_clamp},
                note=f"layer_types={cfg.layer_types}; yarn inv_freq/base[:4]={[round(r, 4) for r in ratio[:4]]}, "
                     f"attention_scaling={m.model.rotary_emb.attention_scaling:.4f}")


def t5_config(T, **kw):
    c = dict(vocab_size=128, d_model=32, num_heads=4, d_kv=12, d_ff=64, num_layers=2, num_decoder_layers=3,
             relative_attention_num_buckets=8, relative_attention_max_distance=10, feed_forward_proj="relu",
             tie_word_embeddings=True, layer_norm_epsilon=1e-6, dropout_rate=0.0, decoder_start_token_id=0,
             pad_token_id=0, eos_token_id=1, attn_implementation="eager")
    c.update(kw)
    return T.T5Config(**c)


# q scaled down (T5 has no 1/sqrt(d_kv): with N(0, 0.3) everywhere the softmax would be one-hot and the position
# bias irrelevant); relative_attention_bias tables N(0, 0.6) so that the bias matters
T5_STD = {".q.weight": 0.08, "relative_attention_bias": 0.6}


def t5_ablations(tied):
    import torch

    def no_bias(mm):
        with torch.no_grad():
            for stack in (mm.encoder, mm.decoder):
                stack.block[0].layer[0].SelfAttention.relative_attention_bias.weight.fill_(0.0)

    def no_cross(mm):
        with torch.no_grad():
            for b in mm.decoder.block:
                b.layer[1].EncDecAttention.o.weight.fill_(0.0)

    def no_rescale(mm):  # tied head without the d_model^-0.5 rescale
        mm.config.tie_word_embeddings = False
    abl = {"no relative bias": no_bias, "no cross-attention": no_cross}
    if tied:
        abl["tied head without rescale"] = no_rescale
    return abl


def fx_t5(T):
    m = T.T5ForConditionalGeneration(t5_config(T))
    assert m.encoder.block[0].layer[0].SelfAttention.inner_dim == 48 and not m.config.is_gated_act
    # tied: logits = (out * d_model^-0.5) @ shared^T, so shared N(0, 1) keeps the logits' spread > 0.5
    randomize(m, overrides={**T5_STD, "shared": 1.0})
    return dict(model=m, output="seq2seq", ablate=t5_ablations(True),
                note=t5_note(m))


def fx_t5_v1_1(T):
    m = T.T5ForConditionalGeneration(t5_config(T, feed_forward_proj="gated-gelu", tie_word_embeddings=False,
                                               num_layers=3, num_decoder_layers=2, d_kv=8))
    assert m.config.is_gated_act and m.config.dense_act_fn == "gelu_new"
    randomize(m, overrides=T5_STD)
    return dict(model=m, output="seq2seq", ablate=t5_ablations(False), note=t5_note(m))


def t5_note(m):
    import torch
    c = m.config
    a = m.encoder.block[0].layer[0].SelfAttention
    s, t = max(ROW_LENGTHS), max(DECODER_LENGTHS)
    enc = a._relative_position_bucket(torch.arange(s)[None, :] - torch.arange(s)[:, None], True,
                                      c.relative_attention_num_buckets, c.relative_attention_max_distance)
    dec = a._relative_position_bucket(torch.arange(t)[None, :] - torch.arange(t)[:, None], False,
                                      c.relative_attention_num_buckets, c.relative_attention_max_distance)
    return (f"ffn {c.feed_forward_proj} ({c.dense_act_fn}, gated {c.is_gated_act}), tied {c.tie_word_embeddings}; "
            f"encoder buckets of query 0: {enc[0].tolist()}; decoder buckets of query {t - 1}: {dec[-1].tolist()}")


# ----------------------------------------------------------------------------------------------------------------
# BLT (Byte Latent Transformer, model_type "blt", transformers >= 4.57)

# rows: byte ids (byte + 4) after BOS (1); UTF-8 text with 2-, 3- and 4-byte characters for the long row
BLT_TEXTS = ("", "Oé ✓!", "Über ✓ café, naïve 😀 → 5€!")


def blt_rows():
    import torch
    return [torch.tensor([1] + [b + 4 for b in t.encode("utf-8")], dtype=torch.int64) for t in BLT_TEXTS]


def blt_float64_mask_fix(T):
    """HF's BLT in float64 makes NaN logits whenever a patch is empty (always for S = 1; for any row whose last
    entropy passes the threshold): the patch cross-attention masks are filled with finfo(float64).min, the eager
    softmax runs in float32, where that is -inf, so an empty patch's query row (every key masked) is all -inf -> NaN,
    and the global model's attention spreads it (0 * NaN) to every patch. In float32 the same row is all
    finfo(float32).min, finite, so it averages uniformly over the keys. This clamps the two cross masks to
    finfo(float32).min, i.e. what a float32 model does; make_blt asserts that an unpatched float32 copy agrees."""
    import torch
    MB = __import__("transformers.models.blt.modeling_blt", fromlist=["_prepare_patch_cross_attention_mask"])
    if getattr(MB, "_hf_fixtures_mask_fix", False):
        return
    orig = MB._prepare_patch_cross_attention_mask

    def clamped(*a, **k):
        return orig(*a, **k).clamp(min=torch.finfo(torch.float32).min)
    MB._prepare_patch_cross_attention_mask = clamped
    MB._hf_fixtures_mask_fix = True
    MB._hf_fixtures_mask_orig = orig


def blt_config(T, threshold, max_patch_length):
    return T.BltConfig(
        vocab_size=260, patch_in_forward=True, patching_mode="entropy", patching_threshold=threshold,
        max_patch_length=max_patch_length, cross_attn_k=2, encoder_hash_byte_group_size=[3, 4, 5, 6, 7, 8],
        encoder_hash_byte_group_vocab=61, encoder_hash_byte_group_nb_functions=2,
        patcher_config=dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                            intermediate_size=64, rope_theta=10000.0, rms_norm_eps=1e-5),
        encoder_config=dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=4, num_key_value_heads=2,
                            intermediate_size=64, cross_attn_all_layers=False, cross_attn_k=2, hidden_size_global=48,
                            rope_theta=500000.0, rms_norm_eps=1e-5),
        decoder_config=dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4,
                            intermediate_size=64, cross_attn_all_layers=True, cross_attn_k=2, hidden_size_global=48,
                            rope_theta=100000.0, rms_norm_eps=1e-5),
        global_config=dict(hidden_size=48, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                           intermediate_size=96, rope_theta=20000.0, rms_norm_eps=1e-5),
        tie_word_embeddings=False, attn_implementation="eager")


def blt_entropies(m, rows):
    import torch
    mm = copy.deepcopy(m).to(torch.float64)
    with torch.no_grad():
        return [mm.model.patcher(ids[None, :], patch_size=4, threshold=0.0)[0][0] for ids in rows]


def blt_threshold(ents):
    """A threshold between two of the entropies the rule reads (positions 1 .. S-1 of the rows), far from both:
    the widest gap among the 50-85 % quantiles of them, so that patches of several lengths occur."""
    vals = sorted(float(v) for e in ents for v in e[1:])
    lo, hi = int(0.5 * len(vals)), int(0.85 * len(vals))
    gap, i = max((vals[j + 1] - vals[j], j) for j in range(lo, hi))
    return round((vals[i] + vals[i + 1]) / 2, 6), gap


def fx_blt_common(T, max_patch_length):
    blt_float64_mask_fix(T)
    m = T.BltForCausalLM(blt_config(T, 1.0, max_patch_length))
    randomize(m)
    rows = blt_rows()
    ents = blt_entropies(m, rows)
    thr, gap = blt_threshold(ents)
    m.config.patching_threshold = thr
    assert m.model.config.patching_threshold == thr
    assert not isinstance(m.model.global_transformer.token_embedding_projection, __import__("torch").nn.Identity)
    for n, p in m.named_parameters():  # cross-attention norms are norm-like (around 1), not N(0, 0.3)
        if n.endswith(("q_norm.weight", "k_norm.weight")):
            assert 0.5 < float(p.mean()) < 1.5, (n, float(p.mean()))
    return dict(model=m, output="logits", rows=rows, extra=blt_extra, prefix_check=max_patch_length is None,
                note=f"patching_threshold {thr} (gap to the nearest entropy {gap / 2:.3g}); "
                     f"max_patch_length {max_patch_length}")


def fx_blt(T):
    return fx_blt_common(T, None)


def fx_blt_maxpatch(T):
    return fx_blt_common(T, 2)


def blt_extra(model, rows, outs, spec):
    """hash_rows_r, entropies_r, patch_lengths_r as HF computes them in the forward (hooks); asserts prefix
    consistency (blt) and that an unpatched float32 copy gives the same logits as the masks-fixed float64 one."""
    import torch
    emb = model.model.encoder_hash_tok_embedding
    got = {}
    h1 = emb.register_forward_pre_hook(lambda mod, inp: got.setdefault("hash", []).append(inp[0][0].clone()))
    h2 = model.model.patcher.register_forward_hook(lambda mod, inp, out: got.update(ent=out[0][0].clone(),
                                                                                        pl=out[1][0].clone()))
    tensors, notes = {}, []
    try:
        for r, ids in enumerate(rows):
            got.clear()
            with torch.no_grad():
                lg = model(input_ids=ids[None, :], use_cache=False).logits[0]
            assert torch.equal(lg, outs[r].to(lg.dtype))
            tensors[f"hash_rows_{r}"] = torch.stack(got["hash"], dim=-1).to(torch.int64).contiguous()
            tensors[f"entropies_{r}"] = got["ent"].to(torch.float32).contiguous()
            tensors[f"patch_lengths_{r}"] = got["pl"].to(torch.int64).contiguous()
            assert int(tensors[f"patch_lengths_{r}"].sum()) == len(ids)
            pl = tensors[f"patch_lengths_{r}"].tolist()
            starts = [sum(pl[:j]) for j in range(len(pl)) if pl[j] > 0]
            split = [s for s in starts if s > 0 and 0x80 <= int(ids[s]) - 4 <= 0xBF]  # starts inside a UTF-8 char
            notes.append(f"row {r} S={len(ids)} patches {pl}; starts inside a multi-byte character: {split}")
    finally:
        h1.remove()
        h2.remove()
    thr = model.config.patching_threshold
    margin = min(float((e[1:].double() - thr).abs().min()) for e in (tensors[f"entropies_{r}"] for r in range(len(rows)))
                 if len(e) > 1)
    assert margin > 1e-3, f"an entropy is within {margin} of the threshold"
    if spec.get("prefix_check"):
        worst = 0.0
        with torch.no_grad():
            for r, ids in enumerate(rows):
                for t in range(len(ids)):
                    last = model(input_ids=ids[None, :t + 1], use_cache=False).logits[0, -1]
                    worst = max(worst, float((last - outs[r][t]).abs().max() / outs[r][t].abs().max()))
        assert worst < 1e-5, f"prefix consistency: {worst}"
        notes.append(f"prefix-consistent to {worst:.1e}")
    MB = __import__("transformers.models.blt.modeling_blt", fromlist=["x"])
    m32 = copy.deepcopy(model).to(torch.float32)
    fixed = MB._prepare_patch_cross_attention_mask
    MB._prepare_patch_cross_attention_mask = MB._hf_fixtures_mask_orig
    try:
        w32 = 0.0
        with torch.no_grad():
            for r, ids in enumerate(rows):
                o = m32(input_ids=ids[None, :], use_cache=False).logits[0].double()
                assert not torch.isnan(o).any()
                w32 = max(w32, float((o - outs[r].double()).abs().max() / outs[r].abs().max()))
            nan64 = any(bool(torch.isnan(model(input_ids=ids[None, :], use_cache=False).logits).any()) for ids in rows)
    finally:
        MB._prepare_patch_cross_attention_mask = fixed
    assert w32 < 1e-4, f"float32 HF differs from the mask-fixed float64 by {w32}"
    notes.append(f"unpatched float32 HF within {w32:.1e} rel. of the float64 rows; unpatched float64 NaN: {nan64}")
    spec["note"] = spec.get("note", "") + "\n    " + "\n    ".join(notes)
    return tensors


FIXTURES_47 = {
    "llama": fx_llama, "llama3-rope": fx_llama3_rope, "llama-linear-rope": fx_llama_linear_rope,
    "llama-bf16": fx_llama_bf16, "mistral": fx_mistral, "mixtral": fx_mixtral, "qwen2": fx_qwen2,
    "qwen2-sliding": fx_qwen2_sliding, "qwen2_moe": fx_qwen2_moe, "gemma2": fx_gemma2, "gpt2": fx_gpt2,
    "gpt2-noprefix": fx_gpt2_noprefix, "bert": fx_bert, "t5": fx_t5, "t5-v1_1": fx_t5_v1_1,
}
FIXTURES_57 = {"qwen3": fx_qwen3, "qwen3_moe": fx_qwen3_moe, "gpt_oss": fx_gpt_oss,
               "qwen2-sliding-4.57": fx_qwen2_sliding, "blt": fx_blt, "blt-maxpatch": fx_blt_maxpatch}
# seeds: fixtures that must share weights share a seed
SEEDS = {"llama": 1, "llama-bf16": 1, "llama3-rope": 2, "llama-linear-rope": 3, "mistral": 4, "mixtral": 5,
         "qwen2": 6, "qwen2-sliding": 7, "qwen2-sliding-4.57": 7, "qwen2_moe": 8, "gemma2": 9, "gpt2": 10,
         "gpt2-noprefix": 10, "bert": 11, "qwen3": 12, "qwen3_moe": 13, "gpt_oss": 14,
         "t5": 15, "t5-v1_1": 16, "blt": 17, "blt-maxpatch": 17}
# the transformers classes each fixture needs (--site system: a version without them skips the fixture)
REQUIRES = {"llama": ("LlamaConfig", "LlamaForCausalLM"), "mistral": ("MistralConfig", "MistralForCausalLM"),
            "mixtral": ("MixtralConfig", "MixtralForCausalLM"), "qwen2": ("Qwen2Config", "Qwen2ForCausalLM"),
            "qwen2_moe": ("Qwen2MoeConfig", "Qwen2MoeForCausalLM"), "gemma2": ("Gemma2Config", "Gemma2ForCausalLM"),
            "gpt2": ("GPT2Config", "GPT2LMHeadModel"), "gpt2-noprefix": ("GPT2Config", "GPT2LMHeadModel", "GPT2Model"),
            "bert": ("BertConfig", "BertModel"), "qwen3": ("Qwen3Config", "Qwen3ForCausalLM"),
            "qwen3_moe": ("Qwen3MoeConfig", "Qwen3MoeForCausalLM"), "gpt_oss": ("GptOssConfig", "GptOssForCausalLM"),
            "t5": ("T5Config", "T5ForConditionalGeneration"), "blt": ("BltConfig", "BltForCausalLM")}
for _n in ("llama3-rope", "llama-linear-rope", "llama-bf16"):
    REQUIRES[_n] = REQUIRES["llama"]
REQUIRES["t5-v1_1"] = REQUIRES["t5"]
REQUIRES["blt-maxpatch"] = REQUIRES["blt"]
for _n in ("qwen2-sliding", "qwen2-sliding-4.57"):
    REQUIRES[_n] = REQUIRES["qwen2"]


def missing_classes(T, name):
    """The classes fixture name needs that this transformers lacks (or cannot import)."""
    out = []
    for cls in REQUIRES[name]:
        try:
            getattr(T, cls)
        except Exception:  # AttributeError, or an ImportError/RuntimeError of the lazy module
            out.append(cls)
    return out


def dtype_kwarg(T):
    """from_pretrained's name for the dtype: "dtype" from 4.56 on (torch_dtype is deprecated there), else torch_dtype."""
    try:
        major, minor = (int(x) for x in T.__version__.split(".")[:2])
    except ValueError:
        return "torch_dtype"
    return "dtype" if (major, minor) >= (4, 56) else "torch_dtype"


# ----------------------------------------------------------------------------------------------------------------


def run_rows(model, output, rows):
    """Each row alone (batch 1). seq2seq: rows are (source, decoder ids), the result per row its decoder logits
    (T_r, V); the encoder's last hidden states come from run_encoder."""
    import torch
    outs = []
    with torch.no_grad():
        for ids in rows:
            if output == "seq2seq":
                src, dec = ids
                o = model(input_ids=src[None, :], decoder_input_ids=dec[None, :], use_cache=False)
                outs.append(o.logits[0])
                continue
            o = model(input_ids=ids[None, :], use_cache=False)
            outs.append((o.logits if output == "logits" else o.last_hidden_state)[0])
    return outs


def run_encoder(model, rows):
    """seq2seq: the encoder's last hidden state (after encoder.final_layer_norm) per row, (S_r, d_model)."""
    import torch
    with torch.no_grad():
        return [model(input_ids=src[None, :], decoder_input_ids=dec[None, :], use_cache=False)
                .encoder_last_hidden_state[0] for src, dec in rows]


def check_padded_batch(model, rows, outs, encs):
    """seq2seq: the 3 rows as one right-padded batch (pad_token_id; attention_mask over the sources,
    decoder_attention_mask over the decoder ids) give each row's logits and encoder states as the row alone."""
    import torch
    pad = model.config.pad_token_id
    S, T = max(len(s) for s, _ in rows), max(len(d) for _, d in rows)
    src = torch.full((len(rows), S), pad, dtype=torch.int64)
    dec = torch.full((len(rows), T), pad, dtype=torch.int64)
    am = torch.zeros((len(rows), S), dtype=torch.int64)
    dm = torch.zeros((len(rows), T), dtype=torch.int64)
    for r, (s, d) in enumerate(rows):
        src[r, :len(s)], am[r, :len(s)] = s, 1
        dec[r, :len(d)], dm[r, :len(d)] = d, 1
    with torch.no_grad():
        o = model(input_ids=src, attention_mask=am, decoder_input_ids=dec, decoder_attention_mask=dm, use_cache=False)
        unmasked = model(input_ids=src, decoder_input_ids=dec, use_cache=False).logits

    def diff(lg, enc):
        w = 0.0
        for r, (s, d) in enumerate(rows):
            for got, want in ((lg[r, :len(d)], outs[r]), (None if enc is None else enc[r, :len(s)], encs[r])):
                if got is not None:
                    w = max(w, float((got - want).abs().max() / want.abs().max()))
        return w
    worst = diff(o.logits, o.encoder_last_hidden_state)
    # HF's T5 softmax and norm variance run in float32 even in a float64 model: batched vs alone differ at ~1e-7
    assert worst < 1e-5, f"padded batch differs from the rows alone by {worst}"
    leak = diff(unmasked, None)  # the same batch without the masks: the pads are attended to
    assert leak > 1e-3, f"padded batch without attention_mask is within {leak} of the rows alone: masks untested"
    return worst


def make(T, name, builder, out_dir):
    import torch
    from safetensors.torch import save_file
    torch.manual_seed(SEEDS[name])
    spec = builder(T)
    model, output = spec["model"], spec["output"]
    model.eval()
    save_model = spec.get("save_model", model)
    save_dtype = getattr(torch, spec.get("save_dtype", "float32"))
    d = os.path.join(out_dir, name)
    shutil.rmtree(d, ignore_errors=True)
    buffers = {n: b.clone() for n, b in model.named_buffers()}  # rope inv_freq etc.: not weights, keep unrounded
    model.to(save_dtype)
    save_model.to(save_dtype)
    save_model.save_pretrained(d, safe_serialization=True)
    for extra in ("generation_config.json",):
        if os.path.exists(os.path.join(d, extra)):
            os.remove(os.path.join(d, extra))
    model.to(torch.float64)
    with torch.no_grad():
        for n, b in model.named_buffers():
            if b.is_floating_point():
                b.copy_(buffers[n].to(b.dtype))
    vocab = model.config.vocab_size
    tensors = {}
    if output == "seq2seq":
        rows = seq2seq_rows(SEEDS[name], vocab, model.config.decoder_start_token_id)
        outs = run_rows(model, output, rows)
        encs = run_encoder(model, rows)
        spec["padded_batch"] = check_padded_batch(model, rows, outs, encs)
        key = output
        for r, ((src, dec), o, e) in enumerate(zip(rows, outs, encs)):
            tensors[f"source_{r}"] = src.clone()
            tensors[f"decoder_{r}"] = dec.clone()
            tensors[f"logits_{r}"] = o.to(torch.float32).contiguous()
            tensors[f"encoder_{r}"] = e.to(torch.float32).contiguous()
    else:
        rows = spec.get("rows") or tokens_for(SEEDS[name], vocab)
        outs = run_rows(model, output, rows)
        key = "logits" if output == "logits" else "hidden"
        for r, (ids, o) in enumerate(zip(rows, outs)):
            tensors[f"tokens_{r}"] = ids.clone()
            tensors[f"{key}_{r}"] = o.to(torch.float32).contiguous()
        if spec.get("extra"):
            tensors.update(spec["extra"](model, rows, outs, spec))
    model_class = spec.get("model_class", type(model).__name__)
    save_file(tensors, os.path.join(d, "expected.safetensors"),
              metadata={"rows": str(len(rows)), "transformers": T.__version__, "output": key,
                        "model_class": model_class})
    return spec, outs, rows, model_class


def verify(T, name, spec, outs, rows, model_class, out_dir):
    """Reload the directory with from_pretrained (float64) and compare with expected.safetensors; spread check;
    feature ablations (how much each feature changes the longest row: 0 would mean the fixture doesn't test it)."""
    import torch
    from safetensors.torch import load_file
    d = os.path.join(out_dir, name)
    exp = load_file(os.path.join(d, "expected.safetensors"))
    key = spec["output"]
    cls = getattr(T, model_class)
    re = cls.from_pretrained(d, attn_implementation="eager", **{dtype_kwarg(T): torch.float64})
    re.eval()
    if model_class == "GPT2Model":  # logits = hidden @ wte^T, what GPT2LMHeadModel computes
        with torch.no_grad():
            got = [re(input_ids=ids[None, :], use_cache=False).last_hidden_state[0] @ re.wte.weight.T for ids in rows]
    else:
        got = run_rows(re, key, rows)
    worst = 0.0
    pairs = []  # (got, expected name)
    for r, g in enumerate(got):
        if key == "seq2seq":
            assert torch.equal(exp[f"source_{r}"], rows[r][0]) and torch.equal(exp[f"decoder_{r}"], rows[r][1])
            pairs.append((g, f"logits_{r}"))
        else:
            assert torch.equal(exp[f"tokens_{r}"], rows[r])
            pairs.append((g, f"{'logits' if key == 'logits' else 'hidden'}_{r}"))
    if key == "seq2seq":
        pairs += [(g, f"encoder_{r}") for r, g in enumerate(run_encoder(re, rows))]
    for g, ename in pairs:
        e = exp[ename].double()
        assert g.shape == e.shape, (ename, g.shape, e.shape)
        worst = max(worst, float((g - e).abs().max() / max(1.0, float(e.abs().max()))))
    assert worst < 1e-5, f"{name}: reload differs from expected by {worst}"
    stds = torch.cat([o.std(dim=-1) for o in outs])
    frac = float((stds > 0.5).double().mean())
    assert frac >= 0.8, f"{name}: only {frac:.2f} of positions have std > 0.5"
    abl = []
    for label, fn in spec.get("ablate", {}).items():
        mm = copy.deepcopy(spec["model"])
        fn(mm)
        o = run_rows(mm, key, rows[-1:])[0]
        abl.append(f"{label}: {float((o - outs[-1]).abs().max()):.3g}")
    return worst, frac, float(stds.min()), abl


def table(out_dir):
    total = 0
    print(f"{'fixture':24s} {'model.safetensors':>18s} {'expected':>10s} {'config':>8s} {'total':>10s}")
    for name in sorted(os.listdir(out_dir)):
        d = os.path.join(out_dir, name)
        if not os.path.isdir(d):
            continue
        sz = {f: os.path.getsize(os.path.join(d, f)) for f in os.listdir(d)}
        t = sum(sz.values())
        total += t
        print(f"{name:24s} {sz.get('model.safetensors', 0):18d} {sz.get('expected.safetensors', 0):10d} "
              f"{sz.get('config.json', 0):8d} {t:10d}")
    print(f"{'TOTAL':24s} {'':18s} {'':10s} {'':8s} {total:10d}  ({total / 1024:.0f} KiB)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--env", choices=("4.47", "4.57"))
    ap.add_argument("--site", choices=("hf47", "system"), default="hf47",
                    help="hf47: the /tmp/hf47 environments, chosen by --env (default); system: the importable transformers")
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--only", default="")
    ap.add_argument("--table", action="store_true")
    a = ap.parse_args()
    if a.table:
        table(a.out)
        return
    system = a.site == "system"
    if not a.env and not system:
        ap.error("--env, --site system or --table")
    setup_env("system" if system else a.env)
    import torch
    import transformers as T
    torch.set_num_threads(2)
    if system:
        fixtures = {**FIXTURES_47, **FIXTURES_57}
        print(f"hf_fixtures: transformers {T.__version__} ({os.path.dirname(T.__file__)}), torch {torch.__version__}",
              flush=True)
    else:
        want = {"4.47": "4.47.1", "4.57": "4.57.6"}[a.env]
        assert T.__version__ == want, (T.__version__, want)
        fixtures = FIXTURES_47 if a.env == "4.47" else FIXTURES_57
    only = [s for s in a.only.split(",") if s]
    os.makedirs(a.out, exist_ok=True)
    failed = []
    made, skipped = 0, 0
    for name, builder in fixtures.items():
        if only and name not in only:
            continue
        if system:
            lacks = missing_classes(T, name)
            if lacks:
                print(f"SKIP {name}: transformers {T.__version__} has no {', '.join(lacks)}", flush=True)
                skipped += 1
                continue
        try:
            spec, outs, rows, mc = make(T, name, builder, a.out)
            worst, frac, smin, abl = verify(T, name, spec, outs, rows, mc, a.out)
            print(f"[{T.__version__}] {name:20s} {mc:22s} reload rel.diff {worst:.1e}  std>0.5 on {frac:.0%} "
                  f"(min {smin:.2f})" + ("  ablations: " + "; ".join(abl) if abl else "")
                  + (f"  padded batch rel.diff {spec['padded_batch']:.1e}" if "padded_batch" in spec else "")
                  + (f"\n    {spec['note']}" if spec.get("note") else ""), flush=True)
            made += 1
        except Exception as e:  # report and go on with the others
            import traceback
            traceback.print_exc()
            failed.append(f"{name}: {type(e).__name__}: {e}")
            if system:  # no half-made or unverified fixture for the Java tests to read
                shutil.rmtree(os.path.join(a.out, name), ignore_errors=True)
    for f in failed:
        print("FAILED", f)
    if system:
        print(f"hf_fixtures: {made} made, {skipped} skipped, {len(failed)} failed "
              f"(transformers {T.__version__}) in {a.out}", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
