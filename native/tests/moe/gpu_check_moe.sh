#!/usr/bin/env bash
# One-shot GPU check of the MoE/MoD family, for a machine with CUDA and CMake: build for sm_90,
# run bd_test_moe_cuda (all cases), the benchmark, and compute-sanitizer memcheck / racecheck on
# --quick. Each step has its own time limit and may fail without stopping the others; logs go to
# OUT_DIR, a summary to stdout.
#   usage: native/tests/moe/gpu_check_moe.sh SRC_ROOT OUT_DIR
set -uo pipefail
src="$(cd "${1:?usage: gpu_check_moe.sh SRC_ROOT OUT_DIR}" && pwd)"
out="${2:?usage: gpu_check_moe.sh SRC_ROOT OUT_DIR}"
mkdir -p "$out"
build="$src/native/build-gpu"
jobs="$(nproc 2>/dev/null || echo 8)"
step() {  # step NAME LIMIT_S LOG CMD...
  local name="$1" limit="$2" log="$3"; shift 3
  local t0=$(date +%s)
  timeout --kill-after=5 "$limit" "$@" > "$log" 2>&1
  local rc=$?
  echo "== $name: rc=$rc in $(( $(date +%s) - t0 ))s (limit ${limit}s)"
  return $rc
}
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader 2>&1 | head -2
step build 180 "$out/build.log" bash -c "cmake -S '$src/native' -B '$build' -DBD_BUILD_TESTS=ON -DBD_CUDA_ARCHS=90 --log-level=WARNING && cmake --build '$build' -j $jobs"
if [ $? -ne 0 ]; then grep -E "error|Error" "$out/build.log" | head -30; exit 1; fi
bin="$build/tests/moe/bd_test_moe_cuda"
step test 100 "$out/test.log" "$bin"
grep -E "FAIL|passed|skipped" "$out/test.log" | head -60
step bench 100 "$out/bench.log" "$bin" --bench
cat "$out/bench.log"
if command -v compute-sanitizer >/dev/null 2>&1; then
  step memcheck 60 "$out/memcheck.log" compute-sanitizer --tool memcheck --error-exitcode 9 "$bin" --quick
  grep -E "ERROR SUMMARY|passed|Invalid|not supported" "$out/memcheck.log" | head -8
  step racecheck 45 "$out/racecheck.log" compute-sanitizer --tool racecheck --error-exitcode 9 "$bin" --quick
  grep -E "ERROR SUMMARY|RACECHECK SUMMARY|passed|hazard|not supported" "$out/racecheck.log" | head -8
fi
