#!/usr/bin/env bash
# Regenerates the committed parity fixtures with mlx-lm / transformers. Python is only a tool
# for us: the tests read the committed files and never run Python.
#   bash scripts/make-fixtures.sh            # everything
#   bash scripts/make-fixtures.sh tiny       # test/fixtures/models (tiny random models)
#   bash scripts/make-fixtures.sh gguf       # test/fixtures/gguf (qwen2/qwen3/gemma3 GGUFs from the tiny models)
#   bash scripts/make-fixtures.sh smollm2    # test/fixtures/smollm2 (downloads the GGUF, ~1 min)
#   bash scripts/make-fixtures.sh chat       # test/fixtures/chat + tokenizers (chat templates)
#   bash scripts/make-fixtures.sh fuse       # test/fixtures/fuse (mlx-lm's fused logits)
#   bash scripts/make-fixtures.sh data       # test/fixtures/data/parity (mlx-lm datasets + batches)
#   bash scripts/make-fixtures.sh lora       # test/fixtures/lora (mlx-lm LoRA training runs; made
#                                            # on the SDK's OpenBLAS when bench-venv.sh can)
#   bash scripts/make-fixtures.sh grpo       # test/fixtures/grpo (mlx-lm-lora's GRPO loss and
#                                            # gradients; a venv of its own, .cache/venv-lora)
#   bash scripts/make-fixtures.sh prompt-cache  # test/fixtures/prompt-cache (mlx_lm cache_prompt
#                                               # on tiny-chat, and mlx-lm's continuation)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=$(bash scripts/venv.sh | tail -n 1)
what=${1:-all}
case "$what" in all|tiny|gguf|smollm2|chat|data|lora|fuse|grpo|prompt-cache) ;; *) echo "usage: $0 [all|tiny|gguf|smollm2|chat|data|lora|fuse|grpo|prompt-cache]" >&2; exit 2 ;; esac
gguf() { node scripts/fetch-smollm2.mjs | tail -n 1; }
if [ "$what" = all ] || [ "$what" = tiny ]; then
  "$PY" scripts/fixtures/make_tiny_models.py
fi
if [ "$what" = all ] || [ "$what" = gguf ]; then
  "$PY" scripts/fixtures/make_gguf_fixtures.py
  npx tsc -p tsconfig.json && node scripts/fixtures/llama_cpp_gemma3.mjs
fi
if [ "$what" = all ] || [ "$what" = smollm2 ]; then
  GGUF=$(gguf)
  "$PY" scripts/fixtures/smollm2_reference.py "$GGUF"
fi
if { [ "$what" = all ] || [ "$what" = chat ]; } && [ -f scripts/fixtures/make_chat_fixtures.py ]; then
  GGUF=$(gguf)
  "$PY" scripts/fixtures/make_chat_fixtures.py --gguf "$GGUF"
fi
if [ "$what" = all ] || [ "$what" = data ]; then
  "$PY" scripts/fixtures/make_data_fixtures.py
fi
if [ "$what" = all ] || [ "$what" = lora ]; then
  # mlx-lm on the same libmlx + OpenBLAS as our SDK makes our results bit-identical to the
  # fixtures; the stock venv (reference BLAS) works too, within float rounding.
  LORA_PY=$( { [ -f scripts/bench-venv.sh ] && bash scripts/bench-venv.sh same-blas 2>/dev/null | tail -n 1; } || echo "$PY")
  "${LORA_PY:-$PY}" scripts/fixtures/make_lora_fixtures.py
fi
if [ "$what" = all ] || [ "$what" = fuse ]; then
  "$PY" scripts/fixtures/make_fuse_fixtures.py
fi
if [ "$what" = all ] || [ "$what" = prompt-cache ]; then
  "$PY" scripts/fixtures/make_prompt_cache_fixtures.py
fi
if [ "$what" = all ] || [ "$what" = grpo ]; then
  # mlx-lm-lora pins its own mlx-lm: kept out of .venv. mlx-cpu matches the SDK's MLX version.
  LORA_VENV=.cache/venv-lora
  MLX_VERSION=$(node --input-type=module -e "import { MLX_VERSION } from './scripts/mlx-sdk.mjs'; console.log(MLX_VERSION)")
  [ -x "$LORA_VENV/bin/python" ] || python3 -m venv "$LORA_VENV"
  "$LORA_VENV/bin/pip" install -q mlx-lm-lora "mlx-cpu${MLX_VERSION:+==$MLX_VERSION}"
  "$LORA_VENV/bin/python" scripts/fixtures/make_grpo_fixtures.py
fi
