#!/usr/bin/env bash
# One-call GPU check, for a machine with CUDA, CMake and Python with PyTorch but no Maven and no
# network. Needs bundle/braindrip-bundle.tar.xz from scripts/device-bundle.sh (made on the build
# machine). Steps, each timed and allowed to fail without stopping the others:
#   1. device info           (nvidia-smi, driver, toolkit)
#   2. native build, sm_90   (libraries + CTest harness)
#   3. native harness        (every CUDA op vs its CPU twin; attention; MoE when present)
#   5. Java tests            (all of them, -Dbraindrip.requireGpu=true: the CUDA sampler and generation engine too,
#                            CudaSampleTest / CudaGenerateTest), with cuBLAS found on the system; run from
#                            the repo root: the model tests read src/test/resources/hf/... relative to it
#   5b. hf-models            (this machine's transformers builds fresh tiny random models of every architecture
#                            scripts/hf_fixtures.py knows into OUT/hf-fixtures; CudaModelTest (+ HfFixtureModelTest
#                            on the CPU) with -Dbraindrip.hfFixtures on them, and braindrip forward --dtype f32 on
#                            CUDA per fixture for hf-models.json's NMSE vs HF; skipped, with the reason, without
#                            transformers (on the build machine: falls back to /tmp/hf47's two versions unless
#                            BD_HF_FALLBACK=0); at most BD_HF_MODELS_BUDGET seconds, default 120;
#                            BD_HF_FORWARD_DEVICE=cpu for a dry run of the forward part without a GPU)
#   6. braindrip bench       (basic ops with the naive peer; attention, differential attention and MoE
#                            through the harness, block-sparse attention in the attention harness's --bench;
#                            bench generate on the Llama-3.2-1B, T5-base and BLT-1B shapes in BF16 with transformers'
#                            generate as peer (BLT also against its own full recomputation); the T5 and BLT tests run
#                            in step 5 (CudaModelTest, their fixtures vs transformers))
#   7. PyTorch peers         (the same shapes: matmul, norms, softmax, RoPE, SDPA)
#   8. compute-sanitizer     (memcheck and racecheck on --quick subsets)
# and writes report.md + report.json (+ logs) into the folder given as the first argument.
# Designed to finish in under 8 minutes on an H200: every step has its own limit and all of them
# share one budget (BD_GPU_CHECK_BUDGET seconds, default 450), so the report is always written.
# Steps run in order of value: correctness first, then benchmarks, then the sanitizer.
#   usage: scripts/gpu-check.sh OUT_DIR
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:?usage: scripts/gpu-check.sh OUT_DIR}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
cd "$root"
jobs="$(nproc 2>/dev/null || echo 4)"
start_all=$(date +%s)
budget="${BD_GPU_CHECK_BUDGET:-450}"
deadline=$((start_all + budget))
log_all="$out/gpu-check.log"
: > "$log_all"
steps_json=""

say() { echo "[gpu-check $(date +%H:%M:%S)] $*" | tee -a "$log_all"; }

# run_step NAME TIMEOUT_S LOGFILE CMD...  -> records status and seconds
run_step() {
  local name="$1" limit="$2" logf="$3"; shift 3
  local t0 t1 rc left
  left=$((deadline - $(date +%s) - 15))
  if [ "$left" -lt 10 ]; then
    say "step $name: skipped, the ${budget}s budget is spent"
    steps_json="${steps_json}${steps_json:+,}{\"step\":\"$name\",\"rc\":-1,\"seconds\":0}"
    return 124
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  say "step $name (limit ${limit}s)"
  t0=$(date +%s)
  timeout --kill-after=10 "$limit" "$@" >>"$logf" 2>&1
  rc=$?
  t1=$(date +%s)
  say "step $name: rc=$rc in $((t1 - t0))s"
  steps_json="${steps_json}${steps_json:+,}{\"step\":\"$name\",\"rc\":$rc,\"seconds\":$((t1 - t0))}"
  return $rc
}

# ---- 1. device info
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || cat bundle/COMMIT 2>/dev/null || echo unknown)"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv 2>&1
  nvcc --version 2>&1 | tail -n 2
  cmake --version 2>&1 | head -n 1
  python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" 2>&1
} > "$out/device.txt"
cat "$out/device.txt" >> "$log_all"

# ---- 2. native build for sm_90
build="$root/native/build-gpu"
harness_log="$out/harness.log"
: > "$harness_log"
run_step native-build 240 "$harness_log" bash -c "cmake -S native -B '$build' -DCMAKE_BUILD_TYPE=Release -DBD_BUILD_TESTS=ON -DBD_CUDA_ARCHS=90 --log-level=NOTICE && cmake --build '$build' -j $jobs"
build_rc=$?

# ---- 3. native harness (CTest: CPU-only tests and CUDA-vs-CPU tests)
if [ $build_rc -eq 0 ]; then
  run_step native-harness 150 "$harness_log" ctest --test-dir "$build" -V --timeout 200
fi

# ---- 5. Java tests with the GPU required
java_log="$out/java-tests.log"
: > "$java_log"
bundle_dir="/tmp/braindrip-bundle"
if [ -f bundle/braindrip-bundle.tar.xz ]; then
  rm -rf "$bundle_dir" && mkdir -p "$bundle_dir"
  if command -v xz >/dev/null 2>&1; then
    tar -C "$bundle_dir" -xJf bundle/braindrip-bundle.tar.xz
  else # Python's lzma module reads it where no xz binary is installed
    python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1], "r:xz").extractall(sys.argv[2])' bundle/braindrip-bundle.tar.xz "$bundle_dir"
  fi
  java="$bundle_dir/jre/bin/java"
  # the CUDA library built here for this GPU replaces the one left out of the bundle
  if [ -f "$build/libbraindrip_cuda.so" ]; then
    cp "$build/libbraindrip_cuda.so" "$bundle_dir/app/classes/dev/braindrip/jni/linux-x86_64/"
  else
    echo "native build produced no libbraindrip_cuda.so: CUDA tests will fail" | tee -a "$java_log" >> "$log_all"
  fi
  # cuBLAS: from the toolkit, or from an installed Python nvidia-cublas package
  cublas_dir=""
  for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
           $(python3 -c "import nvidia.cublas, os; print(os.path.join(list(nvidia.cublas.__path__)[0], 'lib'))" 2>/dev/null) \
           $(python3 -c "import nvidia, os; print(' '.join(os.path.join(p, 'cu13', 'lib') for p in nvidia.__path__))" 2>/dev/null); do
    if ls "$d"/libcublas.so.13* >/dev/null 2>&1; then cublas_dir="$d"; break; fi
  done
  if [ -z "$cublas_dir" ]; then
    cublas_dir="$(dirname "$(find / -xdev -name 'libcublas.so.13*' 2>/dev/null | head -n 1)" 2>/dev/null)"
  fi
  echo "cuBLAS directory: ${cublas_dir:-not found}" | tee -a "$java_log" >> "$log_all"
  export LD_LIBRARY_PATH="${cublas_dir:+$cublas_dir:}${LD_LIBRARY_PATH:-}"
  # the console launcher does not expand "dir/*": list every jar
  # the demo model's files are not in the bundle: they come with the working tree (src/main/resources)
  cp_all="$bundle_dir/app/test-classes:$bundle_dir/app/classes:$PWD/src/main/resources:$(ls "$bundle_dir"/lib/*.jar | tr '\n' ':')"
  # the console launcher (tools/) runs the engines of the test jars in lib/
  junit_cp="$(ls "$bundle_dir"/tools/*.jar "$bundle_dir"/lib/junit-*.jar "$bundle_dir"/lib/opentest4j-*.jar "$bundle_dir"/lib/apiguardian-*.jar 2>/dev/null | tr '\n' ':')"
  # the tests read fixtures by path relative to the working directory (src/test/resources/hf/..., also on the
  # test class path as hf/... in test-classes, which no test uses): run_step runs in $root, the repo root
  echo "working directory: $PWD; $(ls -d src/test/resources/hf/*/ 2>/dev/null | wc -l) fixture directories under src/test/resources/hf" \
    | tee -a "$java_log" >> "$log_all"
  run_step java-tests 200 "$java_log" "$java" -Xmx16g -Dbraindrip.requireGpu=true -Dbraindrip.demoBltOptional=true "-Djava.library.path=${cublas_dir}" \
    -cp "$junit_cp" org.junit.platform.console.ConsoleLauncher execute \
    --class-path "$cp_all" --scan-class-path --exclude-classname '^dev\.braindrip\.arch\..*' \
    --details=summary --disable-banner --reports-dir "$out/junit"
  export BRAINDRIP_JAVA="$java" BRAINDRIP_CLASSPATH="$bundle_dir/app/classes:$PWD/src/main/resources:$bundle_dir/lib/*" BRAINDRIP_JAVA_OPTS="-Xmx32g -Djava.library.path=${cublas_dir}"

  # ---- 5b. hf-models: fresh tiny HF models from this machine's transformers, our forward against them
  hf_log="$out/hf-models.log" hf_junit_log="$out/hf-models-junit.log"
  hf_dir="$out/hf-fixtures" hf_java="$out/hf-java"
  : > "$hf_log"; : > "$hf_junit_log"
  rm -rf "$hf_dir" "$hf_java" "$out/junit-hf"
  hf_end=$(( $(date +%s) + ${BD_HF_MODELS_BUDGET:-120} ))
  # hf_step NAME LIMIT LOG CMD...: run_step within what is left of the hf-models budget
  hf_step() {
    local name="$1" limit="$2" logf="$3" left; shift 3
    left=$(( hf_end - $(date +%s) ))
    [ "$left" -lt "$limit" ] && limit=$left
    if [ "$limit" -lt 10 ]; then
      say "step $name: skipped, the hf-models budget is spent"
      echo "hf-models: $name skipped, its budget (BD_HF_MODELS_BUDGET=${BD_HF_MODELS_BUDGET:-120}s) is spent" >> "$hf_log"
      steps_json="${steps_json}${steps_json:+,}{\"step\":\"$name\",\"rc\":-1,\"seconds\":0}"
      return 124
    fi
    run_step "$name" "$limit" "$logf" "$@"
  }
  # braindrip forward --dtype f32 on one fixture directory: HF_JAVA/<name>.safetensors (+ .log)
  hf_forward_one() {
    local d="${1%/}" n args rc
    n="$(basename "$d")"
    args="$(python3 scripts/gpu_report.py --hf-tokens "$d")" || { echo "forward $n: cannot read its tokens"; return 0; }
    # shellcheck disable=SC2086
    BRAINDRIP_JAVA_OPTS="-Xmx4g -Djava.library.path=$HF_CUBLAS_DIR" scripts/braindrip forward --device "$HF_DEVICE" \
      --dtype f32 --model "$d" $args --out "$HF_JAVA/$n.safetensors" > "$HF_JAVA/$n.log" 2>&1
    rc=$?
    echo "forward $n on $HF_DEVICE: rc=$rc"
  }
  hf_forward_all() { ls -d "$1"/*/ | xargs -P 4 -n 1 bash -c 'hf_forward_one "$1"' _; }
  export -f hf_forward_one hf_forward_all
  hf_site="" hf_why=""
  if hf_why="$(python3 -c "import transformers, torch; print('transformers', transformers.__version__, 'torch', torch.__version__)" 2>&1)"; then
    hf_site=system
  elif [ "${BD_HF_FALLBACK:-1}" = 1 ] && [ -x /usr/bin/python3 ] && [ -f /tmp/hf47/site/transformers/__init__.py ] && [ -f /tmp/hf47/new/site/transformers/__init__.py ]; then
    hf_site=hf47   # the build machine's two environments (transformers 4.47.1 and 4.57.6): the local dry run
    hf_why="python3 cannot import transformers + torch ($(echo "$hf_why" | tail -n 1)); using the /tmp/hf47 environments"
  fi
  if [ -z "$hf_site" ]; then
    echo "hf-models: skipped: python3 cannot import transformers + torch ($(echo "$hf_why" | tail -n 1))" | tee -a "$hf_log" >> "$log_all"
    steps_json="${steps_json}${steps_json:+,}{\"step\":\"hf-models\",\"rc\":-1,\"seconds\":0}"
  else
    echo "hf-models: site $hf_site: $hf_why" | tee -a "$hf_log" >> "$log_all"
    hf_step hf-models-gen 60 "$hf_log" bash scripts/hf_fixtures.sh --site "$hf_site" --out "$hf_dir"
    hf_n=$(ls "$hf_dir"/*/config.json 2>/dev/null | wc -l)
    if [ "$hf_n" -eq 0 ]; then
      echo "hf-models: no fixture was made; Java part not run" | tee -a "$hf_log" >> "$log_all"
    else
      # the same tests as in the Java step, on the fresh fixtures: CUDA vs HF (F32, BF16 vs CPU, steps) and the
      # CPU's ragged batch vs HF and the fp64 reference (its per-row NMSE lines feed hf-models.json)
      hf_step hf-models-junit 75 "$hf_junit_log" "$java" -Xmx16g -Dbraindrip.requireGpu=true "-Dbraindrip.hfFixtures=$hf_dir" \
        "-Djava.library.path=${cublas_dir}" -cp "$junit_cp" org.junit.platform.console.ConsoleLauncher execute --class-path "$cp_all" \
        --select-class dev.braindrip.model.CudaModelTest --select-class dev.braindrip.model.HfFixtureModelTest \
        --details=tree --disable-ansi-colors --disable-banner --reports-dir "$out/junit-hf"
      # our forward per fixture (F32, 4 at a time), for hf-models.json's NMSE vs HF
      mkdir -p "$hf_java"
      export HF_DEVICE="${BD_HF_FORWARD_DEVICE:-cuda}" HF_JAVA="$hf_java" HF_CUBLAS_DIR="$cublas_dir"
      hf_step hf-models-forward 45 "$hf_log" bash -c 'hf_forward_all "$1"' _ "$hf_dir"
    fi
  fi

  # ---- 6. braindrip bench: basic ops (naive peer) at the standard shapes
  run_step bench-ops 100 "$out/bench.log" scripts/braindrip bench gemm,rmsnorm,layernorm,softmax,activation,glu,rope \
    --device cuda --peer --repeats 20 --json "$out/bench-ops.json"
  # attention and MoE at their standard shapes through the Java API (peers: PyTorch below, and
  # the harness's own per-expert loop); no naive peer here, its 16k materialized scores cost minutes
  run_step bench-families 120 "$out/bench.log" scripts/braindrip bench attention,moe \
    --device cuda --no-ceilings --repeats 10 --json "$out/bench-families.json"
  # block-sparse (BENCHMARKS.md: S 16k causal, local:4 + stride:8) against dense fused attention
  run_step bench-sparse 30 "$out/bench.log" scripts/braindrip bench sparse-attention \
    --device cuda --no-ceilings --repeats 10 --json "$out/bench-sparse.json"
  # differential attention: fused vs one causal pass (Dv = 2D) vs the two-pass unfused version
  run_step bench-diff-attention 60 "$out/bench.log" scripts/braindrip bench diff-attention \
    --device cuda --no-ceilings --repeats 10 --json "$out/bench-diff-attention.json"
  # generation end to end (continuous batching, on-device sampling): the Llama-3.2-1B shape in BF16,
  # pp512 / tg128 / batch 8 and 64, with transformers' generate as the peer when this machine has it
  run_step bench-generate 120 "$out/bench.log" scripts/braindrip bench generate --arch llama --preset llama-3.2-1b \
    --device cuda --dtype bf16 --batch 1,8,64 --repeats 2 --warmup 1 --peer --json "$out/bench-generate.json"
  # the encoder-decoder (T5-base shape, BF16): cached seq2seq generation against transformers' generate
  run_step bench-generate-t5 90 "$out/bench.log" scripts/braindrip bench generate --arch t5 --preset t5-base \
    --device cuda --dtype bf16 --batch 1,8,64 --repeats 2 --warmup 1 --peer --json "$out/bench-generate-t5.json"
  # the Byte Latent Transformer (BLT-1B shape, 64k hash rows, BF16) at 1000 bytes of context: cached byte generation against
  # our own full recomputation and against transformers' BltForCausalLM generate
  run_step bench-generate-blt 120 "$out/bench.log" scripts/braindrip bench generate --arch blt --preset blt-1b-hash64k \
    --device cuda --dtype bf16 --prompt-tokens 1000 --gen-tokens 33 --tests batch --batch 1,8 --repeats 2 --warmup 1 --recompute --peer \
    --json "$out/bench-generate-blt.json"
else
  echo "bundle/braindrip-bundle.tar.xz missing: run scripts/device-bundle.sh on the build machine and carry bundle/" | tee -a "$java_log"
fi

# attention benchmark through the native harness, when built
attn_bin="$(find "$build" -maxdepth 3 -type f -name 'bd_test_attention_cuda' 2>/dev/null | head -n 1)"
if [ -n "$attn_bin" ]; then
  # dense sweeps, sliding window, decode, and block-sparse (16k local:4 + stride:8 vs dense causal)
  run_step bench-attention 110 "$out/bench.log" "$attn_bin" --bench
fi
# fused differential attention vs one causal attention and the two-pass version (BENCHMARKS.md rows)
diff_bin="$(find "$build" -maxdepth 3 -type f -name 'bd_test_diff_attention_cuda' 2>/dev/null | head -n 1)"
if [ -n "$diff_bin" ]; then
  run_step bench-diff-attention-native 60 "$out/bench.log" "$diff_bin" --bench
fi
moe_bin="$(find "$build" -maxdepth 3 -type f -name 'bd_test_moe_cuda' 2>/dev/null | head -n 1)"
if [ -n "$moe_bin" ]; then
  run_step bench-moe 60 "$out/bench.log" "$moe_bin" --bench
fi

# ---- 7. PyTorch peers on the same shapes
run_step torch-peers 150 "$out/bench.log" python3 scripts/torch_peers.py --json "$out/torch-peers.json"

# ---- 8. compute-sanitizer on small subsets (last: slow, and refused on some virtualized hosts)
san_log="$out/sanitizer.log"
: > "$san_log"
if [ $build_rc -eq 0 ] && command -v compute-sanitizer >/dev/null 2>&1; then
  for bin in $(find "$build" -maxdepth 3 -type f -perm -u+x \( -name 'bd_test_backend_ops' -o -name 'bd_test_attention_cuda' -o -name 'bd_test_diff_attention_cuda' -o -name 'bd_test_moe_cuda' \) | sort); do
    for tool in memcheck racecheck; do
      run_step "sanitizer-$tool-$(basename "$bin")" 60 "$san_log" compute-sanitizer --tool "$tool" --error-exitcode 9 "$bin" --quick
    done
  done
else
  echo "compute-sanitizer not run (build failed or tool missing)" >> "$san_log"
fi

# ---- report
end_all=$(date +%s)
python3 scripts/gpu_report.py --dir "$out" --steps "[$steps_json]" --seconds $((end_all - start_all)) >> "$log_all" 2>&1 \
  || echo "report generation failed; see logs" | tee -a "$log_all"
say "done in $((end_all - start_all))s; report in $out/report.md"
