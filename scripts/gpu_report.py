#!/usr/bin/env python3
"""Collects the outputs of scripts/gpu-check.sh into report.md and report.json."""
import argparse
import glob
import json
import os
import re


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def tail(text, n=40):
    lines = text.strip().splitlines()
    return "\n".join(lines[-n:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--steps", required=True)
    ap.add_argument("--seconds", type=int, required=True)
    a = ap.parse_args()
    d = a.dir
    steps = json.loads(a.steps)
    harness = read(os.path.join(d, "harness.log"))
    sanitizer = read(os.path.join(d, "sanitizer.log"))
    java = read(os.path.join(d, "java-tests.log"))
    bench = read(os.path.join(d, "bench.log"))
    device = read(os.path.join(d, "device.txt"))
    counts = re.findall(r"^(?:\d+: )?\s*(\d+) passed, (\d+) failed.*$", harness, re.M)
    harness_lines = [l for l in harness.splitlines()
                     if re.search(r"\d+ passed, \d+ failed|skipped:|FAIL|Test +#|tests passed|tests failed", l)]
    junit_failures = []
    import xml.etree.ElementTree as ET
    for xf in sorted(glob.glob(os.path.join(d, "junit", "*.xml"))):
        try:
            root = ET.parse(xf).getroot()
        except ET.ParseError:
            continue
        for tc in root.iter("testcase"):
            for tag in ("failure", "error"):
                el = tc.find(tag)
                if el is not None:
                    msg = (el.get("message") or "").replace("\n", " ")[:300]
                    junit_failures.append(f"{tc.get('classname')}#{tc.get('name')}: {msg}")
    java_summary = [l.strip() for l in java.splitlines() if re.search(r"tests (successful|failed|skipped|found|aborted)", l)]
    ops = json.loads(read(os.path.join(d, "bench-ops.json")) or "[]")
    ops += json.loads(read(os.path.join(d, "bench-families.json")) or "[]")
    ops += json.loads(read(os.path.join(d, "bench-sparse.json")) or "[]")
    ops += json.loads(read(os.path.join(d, "bench-diff-attention.json")) or "[]")
    torch_peers = json.loads(read(os.path.join(d, "torch-peers.json")) or "[]")
    report = {"device": device, "steps": steps, "seconds": a.seconds, "harness_counts": counts,
              "harness_lines": harness_lines, "junit_failures": junit_failures,
              "java_summary": java_summary, "bench_ops": ops, "torch_peers": torch_peers}
    # bd_test_diff_attention_cuda: its CTest verdict and its --bench lines (fused vs one causal
    # attention vs two-pass)
    diff_test = [l for l in harness.splitlines() if "bd_test_diff_attention_cuda" in l and re.search(r"Test +#", l)]
    diff_bench = [l.strip() for l in bench.splitlines() if l.startswith("bench: diff")]
    report["diff_attention_test"] = diff_test
    report["diff_attention_bench"] = diff_bench
    with open(os.path.join(d, "report.json"), "w") as f:
        json.dump(report, f, indent=1)

    md = ["# braindrip GPU check", "", "```", device.strip(), "```", "",
          f"Total: {a.seconds} s.", "", "| step | rc | seconds |", "|---|---|---|"]
    md += [f"| {s['step']} | {s['rc']} | {s['seconds']} |" for s in steps]
    md += ["", "## Native harness (CUDA vs CPU twin)", "", "```", "\n".join(harness_lines[-120:]) or tail(harness, 60), "```",
           "", "## compute-sanitizer", "", "```", tail(sanitizer, 40), "```",
           "", "## Java tests (-Dbraindrip.requireGpu=true)", "", "```", "\n".join(java_summary) or tail(java, 40), "```"]
    if junit_failures:
        md += ["", f"Failures ({len(junit_failures)}, first 60):", "", "```", "\n".join(junit_failures[:60]), "```"]
    md += ["", "## braindrip bench (basic ops; peer = naive Java on the host)", "",
           "| op | shape | dtype | median ms | TFLOP/s | GB/s | torch ms | torch GB/s or TFLOP/s |", "|---|---|---|---|---|---|---|---|"]
    def torch_match(op, shape):
        for t in torch_peers:
            if t.get("op") == op and all(t.get("shape", {}).get(k) == v for k, v in shape.items() if k != "fn"):
                return t
        return None
    for r in ops:
        t = torch_match(r["op"], r["shape"])
        tcol = f"{t['median_ms']:.4f}" if t else "-"
        tval = (f"{t['tflops']:.1f} TFLOP/s" if t and t.get("tflops") else (f"{t['gbps']:.0f} GB/s" if t else "-"))
        md.append(f"| {r['op']} | {json.dumps(r['shape'])} | {r['dtype']} | {r['median_ms']:.4f} | "
                  f"{r['tflops']:.1f} | {r['gbps']:.0f} | {tcol} | {tval} |")
    md += ["", "## Fused differential attention (bd_test_diff_attention_cuda)", "", "```",
           "\n".join(diff_test) or "(not run)", "\n".join(diff_bench) or "(no --bench output)", "```"]
    md += ["", "## Benchmark log (attention / MoE through the harness, PyTorch peers)", "", "```", tail(bench, 150), "```"]
    with open(os.path.join(d, "report.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
