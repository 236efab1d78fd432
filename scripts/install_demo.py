#!/usr/bin/env python3
"""Installs a trained demo model (scripts/train_demo.py's output) as the library's embedded demo.

    python3 scripts/install_demo.py [--model target/demo-model]

Copies config.json and model.safetensors into src/main/resources/dev/braindrip/demo/ (the class
path resources that dev.braindrip.model.DemoModel unpacks) and writes manifest.json there: each
file's name, size and SHA-256, which DemoModel checks when it unpacks, plus the training run's
validation figure (train_log.json) for reference. Refuses a model over the 20 MB budget.
"""
import argparse
import hashlib
import json
import os
import shutil

FILES = ["config.json", "model.safetensors"]
LIMIT = 20 * 1000 * 1000


def install(model, name, limit, training=None, extra=None, tag="install_demo"):
    """Copies FILES from model into the class path resources of the embedded model `name` and writes its manifest
    (name, extra keys, each file's size and SHA-256, and training(train_log) when model has a train_log.json)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    dest = os.path.join(root, "src", "main", "resources", "dev", "braindrip", name)
    total = sum(os.path.getsize(os.path.join(model, f)) for f in FILES)
    if total > limit:
        raise SystemExit(f"{tag}: {model} holds {total:,} bytes, over the {limit:,}-byte budget")
    os.makedirs(dest, exist_ok=True)
    files = []
    for f in FILES:
        src = os.path.join(model, f)
        shutil.copyfile(src, os.path.join(dest, f))
        data = open(src, "rb").read()
        files.append({"name": f, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()})
    manifest = {"name": name, **(extra or {}), "files": files}
    log_path = os.path.join(model, "train_log.json")
    if training is not None and os.path.exists(log_path):
        manifest["training"] = training(json.load(open(log_path)))
    with open(os.path.join(dest, "manifest.json"), "w") as out:
        json.dump(manifest, out, indent=2)
        out.write("\n")
    print(f"{tag}: {total:,} bytes into {os.path.relpath(dest, root)}")


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(root, "target", "demo-model"))
    args = ap.parse_args()
    install(args.model, "demo", LIMIT, lambda log: {
        "script": "scripts/train_demo.py",
        "args": log.get("args"),
        "parameters": log.get("parameters"),
        "seconds": round(log.get("seconds", 0), 1),
        "val_bits_per_byte_bf16": log.get("final_bf16", {}).get("val_bits_per_byte"),
    })


if __name__ == "__main__":
    main()
