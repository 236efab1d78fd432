#!/usr/bin/env bash
# Throughput of the Spark job in local mode against `braindrip generate` on the same file and
# model in the same run (docs/perf/spark-local.md). Rerunnable:
#   scripts/spark_bench.sh [LINES=10000] [MODEL=<a tiny init-made model>] [MAX_TOKENS=8]
# Prints one row per run: wall seconds of the whole process (JVM start, model load and, for Spark,
# the session start included), rows/s and the overhead against the CLI, then the same for the
# engine time each reports (without JVM and Spark session start); then checks that every Spark
# output equals the CLI's file line for line (no logprobs in this file, so bit-exact).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
lines="${1:-10000}"
model="${2:-}"
max_tokens="${3:-8}"
work="${BENCH_DIR:-/tmp/braindrip-spark-bench}"
mkdir -p "$work"
if [ -z "$model" ]; then
  model="$work/tiny"
  [ -f "$model/config.json" ] || "$here/scripts/braindrip" init --arch llama --preset tiny --seed 7 --out "$model" >&2
fi
prompts="$work/prompts-$lines.jsonl"
python3 "$here/scripts/spark_bench_prompts.py" "$lines" > "$prompts"
opts=(--max-tokens "$max_tokens" --temperature 0.8 --seed 0 --batch-size 64)
# build both first, so no run pays for a build
"$here/scripts/braindrip" --version >/dev/null
"$here/scripts/braindrip-spark" --version >/dev/null

now() { date +%s.%N; }
declare -A wall
t0=$(now)
"$here/scripts/braindrip" generate --model "$model" --prompts "$prompts" --out "$work/cli.jsonl" --device cpu "${opts[@]}" 2> "$work/cli.err" || true
wall[cli]=$(echo "$(now) - $t0" | bc)
tail -n 1 "$work/cli.err" >&2
for m in 1 2; do
  t0=$(now)
  "$here/scripts/braindrip-spark" --master "local[$m]" --model "$model" --input "$prompts" --output "$work/spark-$m" --overwrite \
      "${opts[@]}" 2> "$work/spark-$m.err" || true
  wall[spark$m]=$(echo "$(now) - $t0" | bc)
  grep 'braindrip-spark:' "$work/spark-$m.err" >&2 || tail -n 5 "$work/spark-$m.err" >&2
done
# engine seconds: the CLI's own summary time (model load, generation, writing: after the JVM start and
# reading the file) and the Spark job's (reading, model load in the first task, generation, writing:
# after the JVM and Spark session start)
engine() { grep -o '[0-9.]* s$' "$1" | tail -n 1 | cut -d' ' -f1; }
jobs() { grep -o 'job [0-9.]* s' "$1" | tail -n 1 | cut -d' ' -f2; }
e_cli=$(engine "$work/cli.err")
printf '%-20s %8s %10s %9s %10s %11s %11s\n' run wall_s rows/s vs_cli engine_s eng_rows/s eng_vs_cli
for r in cli spark1 spark2; do
  w=${wall[$r]}
  case $r in
    cli) name="braindrip generate"; e=$e_cli;;
    spark1) name="spark local[1]"; e=$(jobs "$work/spark-1.err");;
    spark2) name="spark local[2]"; e=$(jobs "$work/spark-2.err");;
  esac
  printf '%-20s %8.2f %10.1f %8.1f%% %10.2f %11.1f %10.1f%%\n' "$name" "$w" "$(echo "$lines / $w" | bc -l)" \
    "$(echo "($w / ${wall[cli]} - 1) * 100" | bc -l)" "$e" "$(echo "$lines / $e" | bc -l)" "$(echo "($e / $e_cli - 1) * 100" | bc -l)"
done
for m in 1 2; do
  if cat "$work"/spark-$m/part-* | cmp -s - "$work/cli.jsonl"; then echo "local[$m]: output identical to the CLI's ($lines lines)";
  else echo "local[$m]: OUTPUT DIFFERS from the CLI's"; fi
done
