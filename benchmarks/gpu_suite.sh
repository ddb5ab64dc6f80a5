#!/usr/bin/env bash
# The GPU suite (benchmarks/gpu_suite.py): pretraining steps/s, sequences/s
# and MFU for ALBERT-base and -large at seq 128 and 512 in float32, bfloat16
# and bfloat16 + XLA, the largest batch that fits, and the bfloat16-vs-float32
# numerics check; writes a markdown table (--out, default gpu_suite.md).
# Under 8 minutes on one GPU (--budget_s bounds the batch searches).
#   bash benchmarks/gpu_suite.sh [--out FILE] [--peak_tflops_bf16 N] ...
#   bash benchmarks/gpu_suite.sh --tiny   # tiny shapes: a CPU check
set -euo pipefail
cd "$(dirname "$0")/.."
exec python -m benchmarks.gpu_suite "$@"
