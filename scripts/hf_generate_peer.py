#!/usr/bin/env python3
"""The PyTorch / Hugging Face peer of `braindrip bench generate`: greedy generation with the KV cache.

    hf_generate_peer.py --model DIR --shape TEST:B:P:G [--shape ...] [--repeats N] [--warmup N]
                        [--dtype f32|bf16] [--threads T]

Loads DIR once with AutoModelForCausalLM, or AutoModelForSeq2SeqLM for an encoder-decoder (T5: the prompt is
the source, the decoder starts at its start token) (attn_implementation "eager"; on CUDA device 0 when
torch.cuda.is_available()) and, for each shape, makes B prompts of P random token ids (a fixed seed; all
rows the same length, so no padding) and times

    model.generate(input_ids, attention_mask=ones, max_new_tokens=G, min_new_tokens=G, do_sample=False,
                   num_beams=1, use_cache=True, streamer=clock, synced_gpus=False)

under torch.inference_mode() (synced_gpus=False spares generate() its FSDP probe, whose import of
torch.distributed.fsdp fails on Debian's torch 1.13 under Python 3.11): warm-up calls, then N timed calls. `clock` is a streamer that only reads
the time: generate() hands it the prompt first and then each step's new tokens, so one call splits into

    prefill_ms = first new token - start of the call     (prompt forward + choosing the first token)
    decode_ms  = last new token - first new token        (the G - 1 decode steps after the first token)
    total_ms   = end of the call - start of the call

the same split as the Java side (its prefill seconds and decode seconds). On the GPU the clock
synchronizes the device before reading the time (the .cpu() copy generate() makes for the streamer
already waits for the step).

Prints ONE JSON line per shape on stdout, in the order given:
    {"peer": "transformers <version>", "device", "dtype", "attn", "test", "batch", "prompt_tokens",
     "gen_tokens", "repeats", "warmup", "prefill_ms", "prefill_min_ms", "decode_ms", "decode_min_ms",
     "total_ms", "total_min_ms", "prefill_tok_s", "decode_tok_s"}
    (medians and minimums over the timed calls; prefill_tok_s = B * P / prefill seconds; decode_tok_s =
     B * (G - 1) / decode seconds, null when G = 1)
or {"test": TEST, "skipped": "<reason>"} for a shape that cannot run (past the model's positions, out of
memory), and a single {"skipped": "<reason>"} when nothing can run (torch or transformers missing, a
checkpoint this transformers cannot load); the exit status is 0 in both cases: the Java bench prints the
reason. Bad arguments exit 2 (argparse).

Environment: as scripts/hf_forward_peer.py — Debian's /usr/bin/python3 with python3-torch; transformers
4.47.1 from /tmp/hf47 (set up by /work/shared/tools/hf-env.sh; HF_STUBS and HF_SITE override the
folders), used only where those folders exist, so an installed transformers is found otherwise. Nothing is
fetched: HF_HUB_OFFLINE=1.
"""
import argparse
import json
import os
import statistics
import sys
import time

SEED = 1234


def emit(obj):
    print(json.dumps(obj), flush=True)


def skip(reason):
    emit({"skipped": reason})
    sys.exit(0)


def one_line(e):
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text[:300]}" if text else type(e).__name__


def setup_env():
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    paths = [os.environ.get("HF_STUBS", "/tmp/hf47/stubs"), os.environ.get("HF_SITE", "/tmp/hf47/site")]
    sys.path[:0] = [p for p in paths if os.path.isdir(p)]


def parse_shape(s):
    parts = s.split(":")
    if len(parts) != 4:
        raise argparse.ArgumentTypeError(f"'{s}' is not TEST:BATCH:PROMPT:GEN")
    try:
        b, p, g = (int(x) for x in parts[1:])
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{s}': BATCH, PROMPT and GEN must be integers")
    if b < 1 or p < 1 or g < 1:
        raise argparse.ArgumentTypeError(f"'{s}': BATCH, PROMPT and GEN must be >= 1")
    return parts[0], b, p, g


def parse_args(argv):
    def positive(s):
        v = int(s)
        if v < 1:
            raise argparse.ArgumentTypeError(f"{s} must be >= 1")
        return v

    def non_negative(s):
        v = int(s)
        if v < 0:
            raise argparse.ArgumentTypeError(f"{s} must be >= 0")
        return v

    p = argparse.ArgumentParser(description="Time Hugging Face greedy generate() per shape; print one JSON line per shape.")
    p.add_argument("--model", required=True, help="checkpoint folder (config.json + safetensors)")
    p.add_argument("--shape", type=parse_shape, action="append", required=True, metavar="TEST:B:P:G",
                   help="a label, batch, prompt tokens per row, tokens to generate per row (repeatable)")
    p.add_argument("--repeats", type=positive, default=3, help="timed calls per shape (default 3)")
    p.add_argument("--warmup", type=non_negative, default=1, help="untimed calls per shape first (default 1)")
    p.add_argument("--dtype", choices=("f32", "bf16"), default="f32", help="weights and activations (default f32)")
    p.add_argument("--threads", type=positive, default=None, help="torch CPU threads (default: torch's choice)")
    return p.parse_args(argv)


def max_positions(config):
    for key in ("max_position_embeddings", "n_positions"):
        v = getattr(config, key, None)
        if isinstance(v, int) and v > 0:
            return v
    return None


def fits(prompt, gen, limit, encoder_decoder=False):
    """The Java bench's rule: prompt and output within the positions (one token past them when only one is made, as it is never fed
    back); an encoder-decoder's source, and its decoder's start token and output, each within them."""
    if encoder_decoder:
        return prompt <= limit and gen <= limit
    return prompt <= limit and (gen == 1 or prompt + gen <= limit)


class Clock:
    """A generate() streamer that records when the prompt and each step's tokens are handed over."""

    def __init__(self, torch, cuda):
        self._torch, self._cuda = torch, cuda
        self.times = []

    def put(self, value):
        if self._cuda:
            self._torch.cuda.synchronize()
        self.times.append(time.perf_counter())

    def end(self):
        pass


def one_call(torch, model, ids, gen, pad, cuda):
    """(prefill_ms, decode_ms, total_ms) of one generate() call; checks it made exactly gen tokens per row."""
    clock = Clock(torch, cuda)
    mask = torch.ones_like(ids)
    if cuda:
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    out = model.generate(ids, attention_mask=mask, max_new_tokens=gen, min_new_tokens=gen, do_sample=False, num_beams=1,
                         use_cache=True, pad_token_id=pad, streamer=clock, synced_gpus=False)
    if cuda:
        torch.cuda.synchronize()
    t_end = time.perf_counter()
    # an encoder-decoder returns the decoder's ids (start token + output); a decoder returns prompt + output
    made = out.shape[1] - (1 if model.config.is_encoder_decoder else ids.shape[1])
    if made != gen or len(clock.times) != gen + 1:
        raise RuntimeError(f"generate made {made} tokens in {len(clock.times) - 1} steps, not {gen}")
    first, last = clock.times[1], clock.times[-1]
    return (first - t0) * 1e3, (last - first) * 1e3, (t_end - t0) * 1e3


def time_shape(torch, model, ids, gen, pad, warmup, repeats, cuda):
    """Lists of prefill, decode and total milliseconds over the timed calls."""
    with torch.inference_mode():
        for _ in range(warmup):
            one_call(torch, model, ids, gen, pad, cuda)
        runs = [one_call(torch, model, ids, gen, pad, cuda) for _ in range(repeats)]
    return [r[0] for r in runs], [r[1] for r in runs], [r[2] for r in runs]


def main(argv=None):
    args = parse_args(argv)
    if not os.path.isfile(os.path.join(args.model, "config.json")):
        skip(f"{args.model} holds no config.json")
    setup_env()
    try:
        import torch
    except ImportError as e:
        skip(f"torch cannot be imported ({one_line(e)})")
    try:
        import transformers
    except ImportError as e:
        skip(f"transformers cannot be imported ({one_line(e)})")
    cuda = torch.cuda.is_available()
    device = torch.device("cuda", 0) if cuda else torch.device("cpu")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    dtype = torch.float32 if args.dtype == "f32" else torch.bfloat16
    try:
        config = transformers.AutoConfig.from_pretrained(args.model)
        auto = transformers.AutoModelForSeq2SeqLM if getattr(config, "is_encoder_decoder", False) else transformers.AutoModelForCausalLM
        model = auto.from_pretrained(args.model, torch_dtype=dtype, attn_implementation="eager")
        model = model.to(device).eval()
    except Exception as e:  # an architecture or a format this transformers does not know
        skip(f"transformers {transformers.__version__} cannot load {args.model} ({one_line(e)})")

    limit = max_positions(model.config)
    vocab = model.get_output_embeddings().weight.shape[0] if model.get_output_embeddings() is not None \
        else model.config.vocab_size
    eos = model.generation_config.eos_token_id
    pad = model.generation_config.pad_token_id
    if pad is None:
        pad = (eos[0] if isinstance(eos, list) else eos) if eos is not None else 0
    threads = torch.get_num_threads()
    where = f"cuda:0 {torch.cuda.get_device_name(0)}" if cuda else f"cpu ({threads} thread{'' if threads == 1 else 's'})"
    gen_rng = torch.Generator().manual_seed(SEED)

    for test, batch, prompt, gen in args.shape:
        if limit is not None and not fits(prompt, gen, limit, bool(getattr(model.config, "is_encoder_decoder", False))):
            emit({"test": test, "skipped": f"prompt {prompt} + gen {gen} exceeds the model's {limit} positions"})
            continue
        ids = torch.randint(0, vocab, (batch, prompt), generator=gen_rng, dtype=torch.long).to(device)
        try:
            pre, dec, tot = time_shape(torch, model, ids, gen, pad, args.warmup, args.repeats, cuda)
        except Exception as e:  # out of memory, an unsupported dtype on this device
            emit({"test": test, "skipped": f"generate failed ({one_line(e)})"})
            continue
        pre_ms, dec_ms, tot_ms = statistics.median(pre), statistics.median(dec), statistics.median(tot)
        emit({"peer": f"transformers {transformers.__version__}", "device": where, "dtype": args.dtype, "attn": "eager",
              "test": test, "batch": batch, "prompt_tokens": prompt, "gen_tokens": gen,
              "repeats": args.repeats, "warmup": args.warmup,
              "prefill_ms": round(pre_ms, 4), "prefill_min_ms": round(min(pre), 4),
              "decode_ms": round(dec_ms, 4), "decode_min_ms": round(min(dec), 4),
              "total_ms": round(tot_ms, 4), "total_min_ms": round(min(tot), 4),
              "prefill_tok_s": round(batch * prompt / (pre_ms * 1e-3), 2),
              "decode_tok_s": round(batch * (gen - 1) / (dec_ms * 1e-3), 2) if gen > 1 and dec_ms > 0 else None})


if __name__ == "__main__":
    main()
