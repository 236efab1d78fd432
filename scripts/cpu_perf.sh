#!/usr/bin/env bash
# The CPU backend's evidence run (docs/perf/cpu-backend.md): every family of `braindrip bench` on
# its CPU shapes, with the ceilings of the same run, and the PyTorch CPU peers
# (scripts/torch_cpu_peers.py, Debian's python3-torch).
#
#   scripts/cpu_perf.sh OUTDIR [LAUNCHER]
#
# OUTDIR gets one JSON file per family and a log of the printed tables. LAUNCHER is the braindrip
# launcher to time (default: this tree's scripts/braindrip), so that an older build can run the
# very same commands for a before/after comparison; families it does not know are skipped.
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset for these commands only (old OpenBLAS builds
# misbehave with them unset on some CPUs, but the benchmark must see the CPU as it is); nothing
# else about the environment is changed. Run it on an otherwise idle machine.
set -uo pipefail

if [[ $# -lt 1 ]]; then
    echo "usage: scripts/cpu_perf.sh OUTDIR [LAUNCHER]" >&2
    exit 2
fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$1"
bd="${2:-$here/braindrip}"
mkdir -p "$out"
log="$out/log.txt"
: >"$log"

run() {  # run NAME ARGS...: one bench command, its table to the log, its JSON to OUTDIR/NAME.json
    local name="$1"
    shift
    echo "== $name: braindrip $* --json $out/$name.json" | tee -a "$log"
    if ! env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$bd" "$@" --json "$out/$name.json" >>"$log" 2>&1; then
        echo "   ($name failed or is not known to this build; see $log)" | tee -a "$log"
    fi
    tail -n 3 "$log" | grep -v '^==' || true
}

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), launcher $bd" | tee -a "$log"
run attention bench attention --device cpu --batch 1 --heads 8 --seq 2048 --head-dim 128 --causal --peer --repeats 5 --warmup 1
run attention-decode bench attention --device cpu --batch 1 --seq-q 1 --seq-kv 4096 --heads 32 --kv-heads 8 --head-dim 128 --causal --repeats 20 --warmup 3
run sparse-attention bench sparse-attention --device cpu --peer --repeats 3 --warmup 1
run diff-attention bench diff-attention --device cpu --peer --repeats 3 --warmup 1
for op in rmsnorm layernorm softmax activation glu; do
    run "$op" bench "$op" --device cpu --rows 4096 --cols 4096 --repeats 10 --warmup 2
done
for op in rmsnorm softmax activation glu; do
    run "$op-bf16" bench "$op" --device cpu --dtype bf16 --rows 4096 --cols 4096 --repeats 10 --warmup 2
done
run rope bench rope --device cpu --seq 4096 --heads 32 --head-dim 128 --repeats 10 --warmup 2
run moe bench moe --device cpu --tokens 4096 --peer --repeats 3 --warmup 1
run overhead bench overhead --device cpu
run generate-bf16 bench generate --model demo --dtype bf16 --prompt-tokens 64 --gen-tokens 64 --batch 8 --repeats 5 --warmup 2
run generate-f32 bench generate --model demo --dtype f32 --prompt-tokens 64 --gen-tokens 64 --batch 8 --repeats 5 --warmup 2

py=/usr/bin/python3
if "$py" -c 'import torch' 2>/dev/null; then
    echo "== torch: $py scripts/torch_cpu_peers.py --threads $(nproc) --json $out/torch.json" | tee -a "$log"
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$py" "$here/torch_cpu_peers.py" --threads "$(nproc)" --repeats 5 --warmup 1 \
        --json "$out/torch.json" 2>&1 | tee -a "$log"
else
    echo "== torch: not importable by $py; PyTorch peers skipped" | tee -a "$log"
fi
echo "# done $(date -u '+%H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$log"
