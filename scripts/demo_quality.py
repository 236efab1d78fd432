#!/usr/bin/env python3
"""Measures the embedded demo model's quality and speed, as docs/perf/demo.md records them.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 scripts/demo_quality.py [--out docs/perf/demo-quality.json]

Needs target/demo-corpus (scripts/demo_corpus.py) and, for the peer in step 3, Hugging Face
transformers as /work/shared/tools/hf-env.sh sets it up. Everything runs through the launcher
(scripts/braindrip) on `--model demo`, the same way a user runs it:

1. `braindrip score --model demo --text target/demo-corpus/val.txt`: bits per byte on the held-out
   books, next to the training script's own evaluation of the same text with the same BF16 weights
   (manifest.json's training.val_bits_per_byte_bf16, from train_log.json).
2. `braindrip generate --model demo` at temperature 0.8 on varied prompts (biblical and not, three
   samples each: every line has its own seed, the line index; 200 bytes): the share of generated words that are words of the corpus vocabulary
   (lower-cased, split at every non-letter, words of two or more letters, counted against every
   word of the training and held-out text), with the samples.
3. `braindrip bench generate --model demo --peer`: prefill and decode tokens/s, Hugging Face
   transformers' generate on the same checkpoint in the same run.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAUNCHER = os.path.join(ROOT, "scripts", "braindrip")

PROMPTS = [
    "In the beginning",
    "And the LORD said unto Moses,",
    "The LORD is my shepherd;",
    "Blessed are the",
    "And Jesus answered and said unto them,",
    "Thus saith the LORD of hosts,",
    "My son, hear the instruction of thy father,",
    "And it came to pass, when the king heard",
    "For God so loved the world,",
    "O give thanks unto the LORD;",
    "And the angel of the Lord appeared",
    "Paul, an apostle of Jesus Christ,",
    "The ship sailed",
    "My friend, the morning is cold and",
    "Once upon a time there was a",
    "The city was full of",
    "And the people said,",
    "Now the serpent was",
    "Wisdom is",
    "When the night came,",
]
SEEDS = [1, 2, 3]  # three samples per prompt; each line's seed is --seed (0) plus its line index, as CLI.md defines
WORD = re.compile(r"[a-z]+")


def run(cmd, **kw):
    t = time.time()
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        sys.exit(f"demo_quality: {' '.join(cmd)} failed ({p.returncode}):\n{p.stderr[-4000:]}")
    return p, time.time() - t


def words(text):
    return [w for w in WORD.findall(text.lower()) if len(w) >= 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=os.path.join(ROOT, "target", "demo-corpus"))
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "perf", "demo-quality.json"))
    ap.add_argument("--max-tokens", type=int, default=200)
    ap.add_argument("--no-bench", action="store_true", help="skip step 3")
    args = ap.parse_args()
    result = {"date": time.strftime("%Y-%m-%d"), "machine": os.uname().nodename, "cpus": os.cpu_count()}
    manifest = json.load(open(os.path.join(ROOT, "src/main/resources/dev/braindrip/demo/manifest.json")))
    with tempfile.TemporaryDirectory() as tmp:
        # 1. validation bits per byte
        score_json = os.path.join(tmp, "score.json")
        _, secs = run([LAUNCHER, "score", "--model", "demo", "--text", os.path.join(args.corpus, "val.txt"), "--json", score_json])
        score = json.load(open(score_json))
        train = manifest.get("training", {}).get("val_bits_per_byte_bf16")
        result["score"] = {"command": "scripts/braindrip score --model demo --text target/demo-corpus/val.txt", "seconds": round(secs, 1),
                           **score, "training_script_bits_per_byte": train,
                           "relative_difference": None if train is None else abs(score["bits_per_byte"] - train) / train}
        print(f"score: {score['bits_per_byte']:.4f} bits/byte on {score['bytes']:,} held-out bytes; training script {train}", flush=True)

        # 2. vocabulary share at temperature 0.8
        prompts = os.path.join(tmp, "prompts.jsonl")
        with open(prompts, "w") as f:
            for i, p in enumerate(PROMPTS):
                for s in SEEDS:
                    f.write(json.dumps({"id": f"{i}-{s}", "prompt": p}) + "\n")
        out = os.path.join(tmp, "out.jsonl")
        cmd = [LAUNCHER, "generate", "--model", "demo", "--prompts", prompts, "--out", out, "--temperature", "0.8",
               "--max-tokens", str(args.max_tokens)]
        _, secs = run(cmd)
        rows = [json.loads(l) for l in open(out)]
        vocab = set()
        for name in ("train.txt", "val.txt"):
            vocab.update(words(open(os.path.join(args.corpus, name), encoding="utf-8").read()))
        total = known = 0
        unknown = {}
        samples = []
        for r in rows:
            if "error" in r:
                sys.exit(f"demo_quality: generate failed on {r['id']}: {r['error']}")
            ws = words(r["text"])
            total += len(ws)
            for w in ws:
                if w in vocab:
                    known += 1
                else:
                    unknown[w] = unknown.get(w, 0) + 1
            i, s = r["id"].split("-")
            samples.append({"prompt": PROMPTS[int(i)], "seed": len(samples), "text": r["text"], "finish_reason": r["finish_reason"]})
        result["vocabulary"] = {"command": "scripts/braindrip generate --model demo --prompts P --temperature 0.8 --max-tokens "
                                + str(args.max_tokens) + f" ({len(PROMPTS)} prompts x {len(SEEDS)} lines; seed = line index)", "seconds": round(secs, 1),
                                "corpus_words": len(vocab), "generated_words": total, "known_words": known, "share": known / max(1, total),
                                "unknown_most_common": sorted(unknown.items(), key=lambda kv: -kv[1])[:30]}
        result["samples"] = samples
        print(f"vocabulary: {known}/{total} generated words in the corpus vocabulary ({100 * known / max(1, total):.2f}%)", flush=True)

        # 3. speed against transformers
        if not args.no_bench:
            bench_json = os.path.join(tmp, "bench.json")
            cmd = [LAUNCHER, "bench", "generate", "--model", "demo", "--peer", "--prompt-tokens", "128", "--gen-tokens", "128",
                   "--batch", "1,8", "--json", bench_json]
            p, secs = run(cmd)
            result["bench"] = {"command": "scripts/braindrip bench generate --model demo --peer --prompt-tokens 128 --gen-tokens 128 --batch 1,8",
                               "seconds": round(secs, 1), "table": p.stdout, "rows": json.load(open(bench_json)),
                               "openblas_env_unset": "OPENBLAS_CORETYPE" not in os.environ and "OPENBLAS_L2_SIZE" not in os.environ}
            print(p.stdout, flush=True)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    print(f"demo_quality: wrote {os.path.relpath(args.out, ROOT)}")


if __name__ == "__main__":
    main()
