#!/usr/bin/env bash
# The Java side of the MoE / Mixture-of-Depths family on a GPU machine, in a few minutes: every MoE
# test class with the GPU required (MoeCudaTest runs each CPU case on CUDA against the same
# oracle), then `braindrip bench moe` at the standard GPU shapes with the per-expert-loop peer.
# Needs bundle/braindrip-bundle.tar.xz from scripts/device-bundle.sh. Writes into OUT_DIR:
# junit/ (XML reports), java-tests.log, bench-moe.log, bench-moe.json, device.txt.
#   usage: scripts/gpu-check-moe-java.sh OUT_DIR [BENCH_REPEATS]
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:?usage: scripts/gpu-check-moe-java.sh OUT_DIR [BENCH_REPEATS]}"
repeats="${2:-10}"
mkdir -p "$out" && out="$(cd "$out" && pwd)"
cd "$root"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || cat bundle/COMMIT 2>/dev/null || echo unknown)"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1
} > "$out/device.txt"
cat "$out/device.txt"
bundle_dir=/tmp/braindrip-bundle-moe
rm -rf "$bundle_dir" && mkdir -p "$bundle_dir" || exit 3
if command -v xz >/dev/null 2>&1; then
  tar -C "$bundle_dir" -xJf bundle/braindrip-bundle.tar.xz || exit 3
else
  python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1], "r:xz").extractall(sys.argv[2])' bundle/braindrip-bundle.tar.xz "$bundle_dir" || exit 3
fi
java="$bundle_dir/jre/bin/java"
cublas_dir=""
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
         $(python3 -c "import nvidia.cublas, os; print(os.path.join(list(nvidia.cublas.__path__)[0], 'lib'))" 2>/dev/null) \
         $(python3 -c "import nvidia, os; print(' '.join(os.path.join(p, 'cu13', 'lib') for p in nvidia.__path__))" 2>/dev/null); do
  if ls "$d"/libcublas.so.13* >/dev/null 2>&1; then cublas_dir="$d"; break; fi
done
echo "cuBLAS directory: ${cublas_dir:-not found}"
export LD_LIBRARY_PATH="${cublas_dir:+$cublas_dir:}${LD_LIBRARY_PATH:-}"
cp_all="$bundle_dir/app/test-classes:$bundle_dir/app/classes:$bundle_dir/lib/*"
echo "== java tests (GPU required)"
timeout --kill-after=10 240 "$java" -Xmx8g -Dbraindrip.requireGpu=true "-Djava.library.path=${cublas_dir}" \
  -cp "$(ls "$bundle_dir"/tools/*.jar "$bundle_dir"/lib/junit-*.jar "$bundle_dir"/lib/opentest4j-*.jar "$bundle_dir"/lib/apiguardian-*.jar | tr '\n' ':')" \
  org.junit.platform.console.ConsoleLauncher execute --class-path "$cp_all" \
  --select-package dev.braindrip.ops.moe --select-class dev.braindrip.cli.MoeKernelCommandTest --select-class dev.braindrip.bench.MoeBenchTest \
  --details=tree --disable-banner --reports-dir "$out/junit" > "$out/java-tests.log" 2>&1
echo "java tests rc=$?"
grep -E "tests (successful|failed|skipped|aborted)|containers failed|✘" "$out/java-tests.log" | head -40
echo "== bench moe"
export BRAINDRIP_JAVA="$java" BRAINDRIP_CLASSPATH="$bundle_dir/app/classes:$bundle_dir/lib/*" BRAINDRIP_JAVA_OPTS="-Xmx16g -Djava.library.path=${cublas_dir}"
timeout --kill-after=10 300 scripts/braindrip bench moe --device cuda --peer --repeats "$repeats" --warmup 2 --json "$out/bench-moe.json" > "$out/bench-moe.log" 2>&1
echo "bench rc=$?"
cat "$out/bench-moe.log"
