#!/usr/bin/env bash
# One short GPU check of the fused attention kernels (sized for an H100/H200 lease of ~10 min):
#   1. build libbraindrip_cuda and the attention harness for sm_90 only;
#   2. bd_test_attention_cuda: every case against the CPU twin and the F64 oracle;
#   3. compute-sanitizer memcheck, racecheck and synccheck on --quick;
#   4. bd_test_attention_cuda --bench (prefill sweep, sliding window, decode GB/s).
# Logs go to $OUT (or /tmp/attn-gpu-check). Exit status: 0 when steps 2 and 3 pass.
# Usage, from the repository root: scripts/attention-gpu-check.sh [--no-bench] [--no-sanitizer]
set -uo pipefail
cd "$(dirname "$0")/.."
LOG=${OUT:-/tmp/attn-gpu-check}
mkdir -p "$LOG"
BENCH=1 SAN=1
for a in "$@"; do
  case "$a" in
    --no-bench) BENCH=0 ;;
    --no-sanitizer) SAN=0 ;;
    *) echo "usage: $0 [--no-bench] [--no-sanitizer]" >&2; exit 2 ;;
  esac
done
JOBS=$(nproc)
BUILD=native/build-gpu-attn
t0=$SECONDS
cmake -S native -B "$BUILD" -DBD_BUILD_TESTS=ON -DBD_CUDA_ARCHS=90 --log-level=WARNING >"$LOG/configure.log" 2>&1 &&
  cmake --build "$BUILD" -j"$JOBS" --target bd_test_attention_cuda >"$LOG/build.log" 2>&1
rc=$?
echo "build: rc $rc in $((SECONDS - t0)) s (log $LOG/build.log)"
[ $rc -eq 0 ] || { tail -30 "$LOG/build.log"; exit 1; }
T=$BUILD/tests/attention/bd_test_attention_cuda
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true

status=0
timeout 240 "$T" >"$LOG/cuda.log" 2>&1
rc=$?
grep -E "^(FAIL|skipped|device)" "$LOG/cuda.log" | head -40
echo "harness: rc $rc, $(tail -1 "$LOG/cuda.log")"
[ $rc -eq 0 ] || status=1

if [ $SAN -eq 1 ]; then
  SANI=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
  for tool in memcheck racecheck synccheck; do
    timeout 180 "$SANI" --tool "$tool" --error-exitcode 9 "$T" --quick >"$LOG/$tool.log" 2>&1
    rc=$?
    echo "$tool: rc $rc, $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$LOG/$tool.log" | tail -1) $(tail -1 "$LOG/$tool.log")"
    [ $rc -eq 0 ] || status=1
  done
fi

if [ $BENCH -eq 1 ]; then
  timeout 240 "$T" --bench >"$LOG/bench.log" 2>&1
  echo "bench: rc $?"
  cat "$LOG/bench.log"
fi
echo "total $((SECONDS - t0)) s"
exit $status
