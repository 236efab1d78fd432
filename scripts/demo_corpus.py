#!/usr/bin/env python3
"""Prepares the demo model's corpus: the King James Bible from Debian's bible-kjv package.

    scripts/demo_corpus.py [--out target/demo-corpus]

Needs `bible` (apt-get install bible-kjv). Runs `bible -f "Gen1:1-Rev22:21"` (one verse per line,
each starting with its reference, e.g. "Ge1:1 In the beginning ..."), removes the references and lays
the text out one chapter per paragraph: the verses of a chapter joined by single spaces, chapters
separated by a blank line. Writes, in the output folder (not committed):

    train.txt       the chapters of every book but the held-out ones
    val.txt         the chapters of the held-out books (VAL_BOOKS), in canonical order
    corpus.json     byte counts, the held-out books, and the sha256 of both files

The held-out books are fixed (a few percent of the bytes, from both testaments and several genres),
so every run of the training script and of `braindrip score` sees the same validation text.
"""
import argparse
import hashlib
import json
import os
import re
import subprocess
import sys

# references as the bible program prints them: book abbreviation, chapter:verse
REF = re.compile(r"^(\d?[A-Za-z]+)(\d+):(\d+) (.*)$")
VAL_BOOKS = ["Ruth", "Eccl", "Lam", "Jonah", "Gal", "Eph", "Jas", "Jude"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="target/demo-corpus")
    args = ap.parse_args()
    try:
        raw = subprocess.run(["bible", "-f", "Gen1:1-Rev22:21"], check=True, capture_output=True).stdout.decode("utf-8")
    except FileNotFoundError:
        sys.exit("demo_corpus: the 'bible' program is missing; install Debian's bible-kjv (apt-get install bible-kjv)")
    chapters = []  # (book, chapter, [verses])
    for n, line in enumerate(raw.splitlines(), 1):
        line = line.rstrip()
        if not line:
            continue
        m = REF.match(line)
        if not m:
            sys.exit(f"demo_corpus: line {n} has no verse reference: {line[:60]!r}")
        book, ch, text = m.group(1), int(m.group(2)), " ".join(m.group(4).split())
        if not chapters or chapters[-1][0] != book or chapters[-1][1] != ch:
            chapters.append((book, ch, []))
        chapters[-1][2].append(text)
    books = list(dict.fromkeys(c[0] for c in chapters))
    missing = [b for b in VAL_BOOKS if b not in books]
    if missing:
        sys.exit(f"demo_corpus: held-out books {missing} not found (books: {books})")
    if len(books) != 66:
        sys.exit(f"demo_corpus: expected the 66 books of the KJV, found {len(books)}")
    train = [" ".join(v) for b, _, v in chapters if b not in VAL_BOOKS]
    val = [" ".join(v) for b, _, v in chapters if b in VAL_BOOKS]
    os.makedirs(args.out, exist_ok=True)
    info = {"source": "bible -f Gen1:1-Rev22:21 (Debian bible-kjv)", "layout": "one chapter per paragraph, blank line between chapters",
            "val_books": VAL_BOOKS, "chapters": len(chapters)}
    for name, paras in (("train", train), ("val", val)):
        data = ("\n\n".join(paras) + "\n").encode("utf-8")
        with open(os.path.join(args.out, name + ".txt"), "wb") as f:
            f.write(data)
        info[name + "_bytes"] = len(data)
        info[name + "_chapters"] = len(paras)
        info[name + "_sha256"] = hashlib.sha256(data).hexdigest()
    info["val_fraction"] = round(info["val_bytes"] / (info["train_bytes"] + info["val_bytes"]), 4)
    with open(os.path.join(args.out, "corpus.json"), "w") as f:
        json.dump(info, f, indent=2)
    print(json.dumps(info, indent=2))


if __name__ == "__main__":
    main()
