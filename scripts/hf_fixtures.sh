#!/usr/bin/env bash
# Regenerates src/test/resources/hf/ (tiny random HF models + expected outputs) with transformers' own modeling code.
#
#   TRANSFORMERS_GIT=<git dir of github:8b-is/transformers> HUB_GIT=<git dir of github:huggingface/huggingface_hub> \
#     bash scripts/hf_fixtures.sh [OUT_DIR]
#
# Environments (made by /work/shared/tools/hf-env.sh --new, as root; it apt-get installs Debian's python3-torch):
#   transformers 4.47.1 in /tmp/hf47/{stubs,site}            llama*, mistral, mixtral, qwen2*, qwen2_moe, gemma2, gpt2*, bert
#   transformers 4.57.6 in /tmp/hf47/new/{shim,stubs,site}   qwen3, qwen3_moe, gpt_oss, qwen2-sliding-4.57
# The setup runs only when an environment is missing (or SETUP=1); TRANSFORMERS_GIT/HUB_GIT are needed only then.
# Nothing is downloaded at run time; every model is built from a config object. Deterministic (fixed seeds).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-src/test/resources/hf}
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
