#!/usr/bin/env bash
# Regenerates the committed parity fixtures with mlx-lm / transformers. Python is only a tool
# for us: the tests read the committed files and never run Python.
#   bash scripts/make-fixtures.sh            # everything
#   bash scripts/make-fixtures.sh tiny       # test/fixtures/models (tiny random models)
#   bash scripts/make-fixtures.sh smollm2    # test/fixtures/smollm2 (downloads the GGUF, ~1 min)
#   bash scripts/make-fixtures.sh chat       # test/fixtures/chat + tokenizers (chat templates)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=$(bash scripts/venv.sh | tail -n 1)
what=${1:-all}
case "$what" in all|tiny|smollm2|chat) ;; *) echo "usage: $0 [all|tiny|smollm2|chat]" >&2; exit 2 ;; esac
gguf() { node scripts/fetch-smollm2.mjs | tail -n 1; }
if [ "$what" = all ] || [ "$what" = tiny ]; then
  "$PY" scripts/fixtures/make_tiny_models.py
fi
if [ "$what" = all ] || [ "$what" = smollm2 ]; then
  GGUF=$(gguf)
  "$PY" scripts/fixtures/smollm2_reference.py "$GGUF"
fi
if { [ "$what" = all ] || [ "$what" = chat ]; } && [ -f scripts/fixtures/make_chat_fixtures.py ]; then
  GGUF=$(gguf)
  "$PY" scripts/fixtures/make_chat_fixtures.py --gguf "$GGUF"
fi
