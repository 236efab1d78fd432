#!/usr/bin/env python3
"""Installs the trained demo BLT (scripts/train_blt_demo.py's output) as the library's embedded `demo-blt`.

    python3 scripts/install_blt_demo.py [--model target/demo-blt]

Copies config.json and model.safetensors into src/main/resources/dev/braindrip/demo-blt/ and writes
manifest.json there, as scripts/install_demo.py does for `demo`: each file's name, size and SHA-256, plus
the training run's figures (train_log.json) for reference. Refuses a model over the 30 MB budget.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from install_demo import install  # noqa: E402

LIMIT = 30 * 1000 * 1000


def training(log):
    final = log.get("final_bf16", {})
    return {
        "script": "scripts/train_blt_demo.py",
        "args": log.get("args"),
        "parameters": log.get("parameters"),
        "seconds": round(log.get("seconds", 0), 1),
        "partial_at_step": log.get("partial_at_step"),
        "patching_threshold": log.get("threshold"),
        "val_bits_per_byte_bf16": final.get("val_bits_per_byte"),
        "val_mean_patch_length": final.get("val_mean_patch_length"),
        "train_flops": log.get("flops", {}).get("total"),
    }


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(root, "target", "demo-blt"))
    args = ap.parse_args()
    install(args.model, "demo-blt", LIMIT, training, extra={"architecture": "BltForCausalLM"}, tag="install_blt_demo")


if __name__ == "__main__":
    main()
