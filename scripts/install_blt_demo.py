#!/usr/bin/env python3
"""Installs the trained demo BLT (scripts/train_blt_demo.py's output) as the library's embedded `demo-blt`.

    python3 scripts/install_blt_demo.py [--model target/demo-blt]

Copies config.json and model.safetensors into src/main/resources/dev/braindrip/demo-blt/ and writes
manifest.json there, as scripts/install_demo.py does for `demo`: each file's name, size and SHA-256, plus
the training run's figures (train_log.json) for reference. Refuses a model over the 30 MB budget.
"""
import argparse
import hashlib
import json
import os
import shutil

FILES = ["config.json", "model.safetensors"]
LIMIT = 30 * 1000 * 1000


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(root, "target", "demo-blt"))
    args = ap.parse_args()
    dest = os.path.join(root, "src", "main", "resources", "dev", "braindrip", "demo-blt")
    total = sum(os.path.getsize(os.path.join(args.model, f)) for f in FILES)
    if total > LIMIT:
        raise SystemExit(f"install_blt_demo: {args.model} holds {total:,} bytes, over the {LIMIT:,}-byte budget")
    os.makedirs(dest, exist_ok=True)
    files = []
    for f in FILES:
        src = os.path.join(args.model, f)
        shutil.copyfile(src, os.path.join(dest, f))
        data = open(src, "rb").read()
        files.append({"name": f, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()})
    manifest = {"name": "demo-blt", "architecture": "BltForCausalLM", "files": files}
    log_path = os.path.join(args.model, "train_log.json")
    if os.path.exists(log_path):
        log = json.load(open(log_path))
        final = log.get("final_bf16", {})
        manifest["training"] = {
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
    with open(os.path.join(dest, "manifest.json"), "w") as out:
        json.dump(manifest, out, indent=2)
        out.write("\n")
    print(f"install_blt_demo: {total:,} bytes into {os.path.relpath(dest, root)}")


if __name__ == "__main__":
    main()
