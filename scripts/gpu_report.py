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


# ---- hf-models: fresh Hugging Face fixtures (scripts/hf_fixtures.py --site system) vs our forward

def read_safetensors(path):
    """{name: (dtype, shape, list of numbers)} and the metadata of a small safetensors file (F32, F64, I64, I32,
    BF16); pure Python, so it runs wherever the report does."""
    import struct
    with open(path, "rb") as f:
        buf = f.read()
    n = struct.unpack_from("<Q", buf, 0)[0]
    header = json.loads(buf[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {}) or {}
    base = 8 + n
    out = {}
    for name, t in header.items():
        b, e = t["data_offsets"]
        raw = buf[base + b:base + e]
        dt = t["dtype"]
        if dt == "BF16":
            vals = [struct.unpack("<f", b"\0\0" + raw[i:i + 2])[0] for i in range(0, len(raw), 2)]
        else:
            fmt = {"F32": "f", "F64": "d", "I64": "q", "I32": "i"}[dt]
            vals = list(struct.unpack(f"<{len(raw) // struct.calcsize(fmt)}{fmt}", raw))
        out[name] = (dt, t["shape"], vals)
    return out, meta


def ids(t, name):
    return ",".join(str(int(v)) for v in t[name][2])


def hf_token_args(fixture_dir):
    """The token arguments of braindrip forward for a fixture's rows, in row order: --tokens <tokens_r> per row, or
    for a seq2seq fixture (encoder-decoder) --tokens <source_r> --decoder-tokens <decoder_r> per row."""
    t, meta = read_safetensors(os.path.join(fixture_dir, "expected.safetensors"))
    if meta.get("output") == "seq2seq":
        rows = int(meta.get("rows") or sum(1 for k in t if k.startswith("source_")))
        return " ".join(f"--tokens {ids(t, f'source_{r}')} --decoder-tokens {ids(t, f'decoder_{r}')}"
                        for r in range(rows))
    rows = int(meta.get("rows") or sum(1 for k in t if k.startswith("tokens_")))
    return " ".join("--tokens " + ids(t, f"tokens_{r}") for r in range(rows))


def nmse(got, want):
    num = sum((g - w) ** 2 for g, w in zip(got, want))
    den = sum(w * w for w in want)
    return (0.0 if num == 0 else float("inf")) if den == 0 else num / den


def hf_models(d):
    """Per fixture under d/hf-fixtures: NMSE (F32) of braindrip forward (d/hf-java/<name>.safetensors, the
    device of the hf-models step) vs Hugging Face per row (seq2seq fixtures: the decoder logits), NMSE of the CPU test (HfFixtureModelTest's lines in
    hf-models-junit.log), and the JUnit verdicts (junit-hf/*.xml) of CudaModelTest and HfFixtureModelTest."""
    gen = read(os.path.join(d, "hf-models.log"))
    junit_log = read(os.path.join(d, "hf-models-junit.log"))
    fx_dir = os.path.join(d, "hf-fixtures")
    version = re.search(r"hf_fixtures: transformers (\S+)", gen)
    versions = [version.group(1)] if version else sorted(set(re.findall(r"^\[(\d[\w.]*)\] ", gen, re.M)))
    summary = {"transformers": ", ".join(versions) or None,
               "skipped_fixtures": re.findall(r"^SKIP (.*)$", gen, re.M),
               "failed_fixtures": re.findall(r"^FAILED (.*)$", gen, re.M),
               "step_notes": re.findall(r"^hf-models: (.*)$", gen, re.M),
               "fixtures": {}}
    if not os.path.isdir(fx_dir):
        return summary
    cpu = {}
    for m in re.finditer(r"^\s*(\S+) row (\d+) \(S=\d+, offset \d+\): NMSE vs HF (\S+), vs HfReference (\S+)", junit_log, re.M):
        cpu.setdefault(m.group(1), []).append(float(m.group(3)))
    # verdicts from the console launcher's tree (--details=tree): class, then method(), then one line per
    # dynamic test named after its fixture; a class that fails as a whole (no GPU) applies to all its fixtures
    verdicts, class_fail, cls, method = {}, {}, None, None
    marks = {"\u2714": "passed", "\u2718": "failed", "\u21b7": "skipped"}
    for line in re.sub(r"\x1b\[[0-9;]*m", "", junit_log).splitlines():
        m = re.match(r"^[\s\u2502\u251c\u2514\u2500]*(\S+) ([\u2714\u2718\u21b7])\s*(.*)$", line)
        if not m:
            continue
        label, status, msg = m.group(1), marks[m.group(2)], m.group(3).strip()[:200]
        if status != "passed" and msg:
            status += ": " + msg
        if label in ("CudaModelTest", "HfFixtureModelTest"):
            cls, method = label, None
            if not status.startswith("passed"):
                class_fail[cls] = status
        elif label.endswith("Test") or label.startswith("JUnit") or label == "ArchUnit":
            cls, method = None, None
        elif label.endswith("()"):
            method = label[:-2]
        elif cls and method:
            verdicts.setdefault(label, {}).setdefault(cls, {})[method] = status
    for name in sorted(os.listdir(fx_dir)):
        fd = os.path.join(fx_dir, name)
        if not os.path.isfile(os.path.join(fd, "config.json")):
            continue
        entry = {}
        try:
            exp, meta = read_safetensors(os.path.join(fd, "expected.safetensors"))
            key = meta.get("output", "logits")
            # seq2seq (encoder-decoder): braindrip forward writes the decoder's logits (B, T, V), zeros past a row's
            # T_r; compare them with logits_<r> over the row's decoder ids (decoder_<r>)
            seq2seq = key == "seq2seq"
            if seq2seq:
                key = "logits"
            rows = int(meta.get("rows") or 0)
            entry["model_class"] = meta.get("model_class")
            entry["transformers"] = meta.get("transformers")
            got_path = os.path.join(d, "hf-java", name + ".safetensors")
            if os.path.exists(got_path):
                got, _ = read_safetensors(got_path)
                _, (B, S, W), g = got[key]
                per_row = []
                for r in range(rows):
                    want = exp[f"{key}_{r}"][2]
                    n_r = len(exp[f"decoder_{r}" if seq2seq else f"tokens_{r}"][2])
                    per_row.append(nmse(g[r * S * W:r * S * W + n_r * W], want))
                entry["forward_nmse_vs_hf"] = per_row
                entry["forward_max_nmse_vs_hf"] = max(per_row) if per_row else None
            else:
                err = tail(read(os.path.join(d, "hf-java", name + ".log")), 3)
                entry["forward_error"] = err or "no output"
        except Exception as e:  # a broken fixture or output: say so, keep the others
            entry["forward_error"] = f"{type(e).__name__}: {e}"
        if name in cpu:
            entry["cpu_test_nmse_vs_hf"] = cpu[name]
        for cls, tag in (("CudaModelTest", "cuda_test"), ("HfFixtureModelTest", "cpu_test")):
            if cls in class_fail:
                entry[tag] = {"class": class_fail[cls]}
            elif cls in verdicts.get(name, {}):
                entry[tag] = verdicts[name][cls]
        summary["fixtures"][name] = entry
    return summary


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir")
    ap.add_argument("--steps")
    ap.add_argument("--seconds", type=int)
    ap.add_argument("--hf-tokens", metavar="FIXTURE_DIR", help="print braindrip forward's --tokens arguments and exit")
    a = ap.parse_args()
    if a.hf_tokens:
        print(hf_token_args(a.hf_tokens))
        return
    if a.dir is None or a.steps is None or a.seconds is None:
        ap.error("--dir, --steps and --seconds are required")
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
    hf = hf_models(d)
    report["hf_models"] = hf
    with open(os.path.join(d, "hf-models.json"), "w") as f:
        json.dump(hf, f, indent=1)
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
    md += ["", "## hf-models (fresh tiny HF models from this machine's transformers; our F32 forward vs HF)", "",
           f"transformers: {hf['transformers'] or '-'}"]
    md += [f"- {n}" for n in hf["step_notes"]]
    md += [f"- SKIP {n}" for n in hf["skipped_fixtures"]] + [f"- FAILED {n}" for n in hf["failed_fixtures"]]
    if hf["fixtures"]:
        def fmt(v):
            return f"{v:.2e}" if isinstance(v, float) else "-"
        def verdict(v):  # {method: status}: "passed", or the first status that is not
            if not v:
                return "-"
            bad = [st.split(":")[0] for st in v.values() if not st.startswith("passed")]
            return bad[0] if bad else "passed"
        md += ["", "| fixture | forward max NMSE vs HF | CPU test max NMSE vs HF | CudaModelTest | HfFixtureModelTest (CPU) |",
               "|---|---|---|---|---|"]
        for n, e in hf["fixtures"].items():
            cpu_max = max(e["cpu_test_nmse_vs_hf"]) if e.get("cpu_test_nmse_vs_hf") else None
            fwd = fmt(e.get("forward_max_nmse_vs_hf")) if "forward_error" not in e else "error"
            md.append(f"| {n} | {fwd} | {fmt(cpu_max)} | {verdict(e.get('cuda_test'))} | {verdict(e.get('cpu_test'))} |")
    hf_junit = read(os.path.join(d, "hf-models-junit.log"))
    hf_junit_summary = [l.strip() for l in hf_junit.splitlines() if re.search(r"tests (successful|failed|skipped|found|aborted)", l)]
    md += ["", "```", "\n".join(hf_junit_summary) or tail(hf_junit, 20) or "(JUnit not run)", "```"]
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
