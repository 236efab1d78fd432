#!/usr/bin/env bash
# Regenerates src/test/resources/hf/ (tiny random HF models + expected outputs) with transformers' own modeling code.
#
#   TRANSFORMERS_GIT=<git dir of github:8b-is/transformers> HUB_GIT=<git dir of github:huggingface/huggingface_hub> \
#     bash scripts/hf_fixtures.sh [OUT_DIR]
#   bash scripts/hf_fixtures.sh --site system [--out OUT_DIR]     (PY=python3 by default)
#
# --site hf47 (the default): the two environments of the build machine, made by /work/shared/tools/hf-env.sh --new
# (as root; it apt-get installs Debian's python3-torch):
#   transformers 4.47.1 in /tmp/hf47/{stubs,site}            llama*, mistral, mixtral, qwen2*, qwen2_moe, gemma2, gpt2*, bert, t5*
#   transformers 4.57.6 in /tmp/hf47/new/{shim,stubs,site}   qwen3, qwen3_moe, gpt_oss, qwen2-sliding-4.57
# The setup runs only when an environment is missing (or SETUP=1); TRANSFORMERS_GIT/HUB_GIT are needed only then.
# --site system: whatever transformers + torch $PY imports (the GPU machine's, in scripts/gpu-check.sh): every fixture
# that version has, made and verified by it; one whose classes it lacks is skipped with a SKIP line. No setup.
# Nothing is downloaded at run time; every model is built from a config object. Deterministic (fixed seeds).
set -euo pipefail
cd "$(dirname "$0")/.."
site=hf47
OUT=src/test/resources/hf
while [ $# -gt 0 ]; do
  case "$1" in
    --site) site="${2:?--site hf47|system}"; shift 2 ;;
    --out) OUT="${2:?--out DIR}"; shift 2 ;;
    -*) echo "usage: scripts/hf_fixtures.sh [--site hf47|system] [--out DIR | DIR]" >&2; exit 2 ;;
    *) OUT="$1"; shift ;;
  esac
done
if [ "$site" = system ]; then
  PY=${PY:-python3}
  rc=0
  "$PY" scripts/hf_fixtures.py --site system --out "$OUT" || rc=1
  [ -d "$OUT" ] && "$PY" scripts/hf_fixtures.py --table --out "$OUT"
  exit $rc
fi
[ "$site" = hf47 ] || { echo "hf_fixtures.sh: --site hf47 or system, not '$site'" >&2; exit 2; }
HF_ENV_SH=${HF_ENV_SH:-/work/shared/tools/hf-env.sh}
PY=/usr/bin/python3   # Debian's python3 with python3-torch, not a pyenv shim
if [ "${SETUP:-0}" = 1 ] || [ ! -f "${HF_SITE:-/tmp/hf47/site}/transformers/__init__.py" ] \
   || [ ! -f "${HF_NEW:-/tmp/hf47/new}/site/transformers/__init__.py" ]; then
  : "${TRANSFORMERS_GIT:?set TRANSFORMERS_GIT (git dir of github:8b-is/transformers) for the environment setup}"
  : "${HUB_GIT:?set HUB_GIT (git dir of github:huggingface/huggingface_hub) for the environment setup}"
  bash "$HF_ENV_SH" --new
fi
rc=0
"$PY" scripts/hf_fixtures.py --env 4.47 --out "$OUT" || rc=1
"$PY" scripts/hf_fixtures.py --env 4.57 --out "$OUT" || rc=1
"$PY" scripts/hf_fixtures.py --table --out "$OUT"
exit $rc
