#!/usr/bin/env bash
# Project-local Python virtualenv with mlx-lm: a tool for making parity fixtures and for
# side-by-side benchmarks. Never needed by users or by `npm test`.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${MLX_LAB_VENV:-.venv}
MLX_LM_VERSION=0.32.2
MLX_VERSION=0.32.4
exec 9>".venv.lock"
flock 9
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import mlx_lm, transformers, gguf" 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
  "$VENV/bin/pip" install --quiet "mlx[cpu]==$MLX_VERSION" "mlx-lm==$MLX_LM_VERSION" \
    "transformers>=5.7,<6" "gguf>=0.10" "jinja2>=3.1" "numpy<3" "sentencepiece" "protobuf"
fi
echo "$VENV/bin/python"
