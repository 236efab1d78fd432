#!/usr/bin/env bash
# Spark GPU discovery script (spark.executor.resource.gpu.discoveryScript, docs/spark.md): prints
# the GPUs of this node as Spark's ResourceInformation JSON, {"name": "gpu", "addresses": ["0", ...]},
# with CUDA device indices as addresses (the job opens Device.cuda(address)).
set -euo pipefail
ids=$(nvidia-smi --query-gpu=index --format=csv,noheader 2>/dev/null | tr -d ' ' | paste -sd, - || true)
addrs=""
if [ -n "$ids" ]; then addrs="\"${ids//,/\",\"}\""; fi
echo "{\"name\": \"gpu\", \"addresses\": [${addrs}]}"
