#!/usr/bin/env python3
"""Writes the test fixture of T5's relative position buckets from Hugging Face transformers' own
T5Attention._relative_position_bucket (the bucket function the attention kernels and the Java oracle
must reproduce, F32 edges included): for both directions and a few (num_buckets, max_distance)
pairs, the bucket of every relative position in [-300, 300] and of some far ones.

    HF_SITE=/tmp/hf47/site HF_STUBS=/tmp/hf47/stubs /usr/bin/python3 scripts/t5_bucket_fixture.py OUT.json

(transformers on Debian's torch: ../shared/tools/hf-env.sh.)"""
import json
import os
import sys

sys.path[:0] = [os.environ.get("HF_STUBS", "/tmp/hf47/stubs"), os.environ.get("HF_SITE", "/tmp/hf47/site")]
os.environ["HF_HUB_OFFLINE"] = "1"
import torch  # noqa: E402
from transformers.models.t5.modeling_t5 import T5Attention  # noqa: E402

positions = list(range(-300, 301)) + [-100000, -5000, -1000, -512, -257, -256, -255, 255, 256, 257, 512, 1000, 5000, 100000]
cases = []
for nb, md in [(32, 128), (32, 64), (16, 32), (8, 20), (64, 256), (6, 10)]:
    for bidirectional in (True, False):
        rp = torch.tensor(positions, dtype=torch.long)
        b = T5Attention._relative_position_bucket(rp, bidirectional=bidirectional, num_buckets=nb, max_distance=md)
        cases.append({"num_buckets": nb, "max_distance": md, "bidirectional": bidirectional,
                      "relative_positions": positions, "buckets": b.tolist()})
import transformers  # noqa: E402
with open(sys.argv[1], "w") as f:
    json.dump({"source": f"transformers {transformers.__version__} T5Attention._relative_position_bucket, torch {torch.__version__}",
               "cases": cases}, f)
print(f"wrote {len(cases)} cases to {sys.argv[1]}")
