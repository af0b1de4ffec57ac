#!/usr/bin/env bash
# Decode tok/s, peak memory and bandwidth share of each CPU compute mode on the SmolLM2 4-bit
# folder: benchmarks/bandwidth.mjs once per mode per round, the modes interleaved (auto, which
# is kernels for this folder, float32 copies, native), each run a fresh process; one JSON per run in OUT_DIR (default /tmp/mlx-lab-modes).
# Usage: bash benchmarks/compute-modes.sh [OUT_DIR] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/mlx-lab-modes}
rounds=${2:-3}
mkdir -p "$out"
for r in $(seq 1 "$rounds"); do
  for m in auto float32 native; do
    node benchmarks/bandwidth.mjs --compute "$m" --prompt-tokens 32 --max-tokens 64 --reps 1 \
      --warmup 1 --copy-mb 256 --json --out "$out/$m-$r.json" >/dev/null
  done
done
echo "$out"
