#!/usr/bin/env python3
"""Writes the prompt file of scripts/spark_bench.sh: N JSONL lines for `braindrip generate` (CLI.md),
short English prompts (1-8 words), ids "b0".."bN-1", no per-line sampling fields (the bench passes
them as options). Deterministic for a given N and --seed.

    scripts/spark_bench_prompts.py 10000 > /tmp/bench.jsonl
"""
import argparse
import json
import random

WORDS = ("in the beginning god created heaven and earth light was upon face of deep waters "
         "spirit moved said let there be day night evening morning first second").split()

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("lines", type=int)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    for i in range(a.lines):
        words = " ".join(rnd.choice(WORDS) for _ in range(1 + rnd.randrange(8)))
        print(json.dumps({"id": "b%d" % i, "prompt": words.capitalize()}))

if __name__ == "__main__":
    main()
