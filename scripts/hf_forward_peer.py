#!/usr/bin/env python3
"""The PyTorch / Hugging Face peer of `braindrip bench forward`: one prefill forward pass of a checkpoint.

    hf_forward_peer.py --model DIR --batch B --seq S [--repeats N] [--warmup N] [--dtype f32|bf16] [--threads T]

Loads DIR with AutoModelForCausalLM (attn_implementation "sdpa" where this transformers/torch has it, else
"eager"; on CUDA device 0 when torch.cuda.is_available()), makes random token ids (B, S) in [0, vocab) with a
fixed seed, and times model(input_ids, use_cache=False).logits under torch.inference_mode(): warm-up calls,
then the median and minimum of N timed calls (CUDA events on the GPU, perf_counter on the CPU).

Prints ONE JSON line on stdout:
    {"peer": "transformers <version>", "device", "dtype", "batch", "seq", "median_ms", "min_ms", "repeats",
     "tokens_per_s"}                                      tokens_per_s = B * S / median seconds
or, where the peer cannot run (torch or transformers missing, a checkpoint this transformers cannot load, a
forward pass that fails, e.g. out of memory), {"skipped": "<reason>"} with exit status 0: the Java bench
prints the reason. Bad arguments exit 2 (argparse).

Environment: Debian's /usr/bin/python3 with python3-torch; transformers 4.47.1 from /tmp/hf47 (set up by
/work/shared/tools/hf-env.sh; HF_STUBS and HF_SITE override the folders), used only where those folders exist,
so an installed transformers is found otherwise. Nothing is fetched: HF_HUB_OFFLINE=1.
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

    p = argparse.ArgumentParser(description="Time one Hugging Face prefill forward pass; print one JSON line.")
    p.add_argument("--model", required=True, help="checkpoint folder (config.json + safetensors)")
    p.add_argument("--batch", type=positive, required=True, help="sequences per forward (B)")
    p.add_argument("--seq", type=positive, required=True, help="tokens per sequence (S)")
    p.add_argument("--repeats", type=positive, default=10, help="timed forwards (default 10)")
    p.add_argument("--warmup", type=non_negative, default=3, help="untimed forwards first (default 3)")
    p.add_argument("--dtype", choices=("f32", "bf16"), default="f32", help="weights and activations (default f32)")
    p.add_argument("--threads", type=positive, default=None, help="torch CPU threads (default: torch's choice)")
    return p.parse_args(argv)


def attn_implementation(transformers):
    try:
        from transformers.utils import is_torch_sdpa_available
        return "sdpa" if is_torch_sdpa_available() else "eager"
    except ImportError:  # a transformers without the probe predates sdpa
        return "eager"


def load(transformers, torch, folder, dtype, device):
    """The model in eval mode on device, and the attention implementation it got."""
    impl = attn_implementation(transformers)
    try:
        model = transformers.AutoModelForCausalLM.from_pretrained(folder, torch_dtype=dtype, attn_implementation=impl)
    except ValueError:
        if impl == "eager":
            raise
        impl = "eager"  # the architecture has no sdpa path in this transformers
        model = transformers.AutoModelForCausalLM.from_pretrained(folder, torch_dtype=dtype, attn_implementation=impl)
    return model.to(device).eval(), impl


def max_positions(config):
    for key in ("max_position_embeddings", "n_positions"):
        v = getattr(config, key, None)
        if isinstance(v, int) and v > 0:
            return v
    return None


def time_forward(torch, model, ids, warmup, repeats, cuda):
    """Median and minimum milliseconds of model(ids).logits over repeats calls, after warmup calls."""
    def forward():
        return model(input_ids=ids, use_cache=False).logits

    times = []
    with torch.inference_mode():
        for _ in range(warmup):
            forward()
        if cuda:
            torch.cuda.synchronize()
            start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            for _ in range(repeats):
                start.record()
                forward()
                stop.record()
                stop.synchronize()
                times.append(start.elapsed_time(stop))
        else:
            for _ in range(repeats):
                t0 = time.perf_counter()
                forward()
                times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times), min(times)


def main(argv=None):
    args = parse_args(argv)
    setup_env()
    try:
        import torch
    except ImportError as e:
        skip(f"torch cannot be imported ({one_line(e)})")
    try:
        import transformers
    except ImportError as e:
        skip(f"transformers cannot be imported ({one_line(e)})")

    if not os.path.isfile(os.path.join(args.model, "config.json")):
        skip(f"{args.model} holds no config.json")
    cuda = torch.cuda.is_available()
    device = torch.device("cuda", 0) if cuda else torch.device("cpu")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    dtype = torch.float32 if args.dtype == "f32" else torch.bfloat16
    try:
        model, _impl = load(transformers, torch, args.model, dtype, device)
    except Exception as e:  # an architecture or a format this transformers does not know
        skip(f"transformers {transformers.__version__} cannot load {args.model} ({one_line(e)})")

    limit = max_positions(model.config)
    if limit is not None and args.seq > limit:
        skip(f"seq {args.seq} exceeds the model's {limit} positions")
    vocab = model.get_output_embeddings().weight.shape[0] if model.get_output_embeddings() is not None \
        else model.config.vocab_size
    gen = torch.Generator().manual_seed(SEED)
    ids = torch.randint(0, vocab, (args.batch, args.seq), generator=gen, dtype=torch.long).to(device)

    try:
        median_ms, min_ms = time_forward(torch, model, ids, args.warmup, args.repeats, cuda)
    except Exception as e:  # out of memory, an unsupported dtype on this device
        skip(f"forward failed ({one_line(e)})")

    name = f"cuda:0 {torch.cuda.get_device_name(0)}" if cuda else f"cpu ({torch.get_num_threads()} thread{'' if torch.get_num_threads() == 1 else 's'})"
    emit({"peer": f"transformers {transformers.__version__}", "device": name, "dtype": args.dtype,
          "batch": args.batch, "seq": args.seq, "median_ms": round(median_ms, 4), "min_ms": round(min_ms, 4),
          "repeats": args.repeats, "tokens_per_s": round(args.batch * args.seq / (median_ms * 1e-3), 2)})


if __name__ == "__main__":
    main()
