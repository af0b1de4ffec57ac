#!/usr/bin/env bash
# The Python environments the benchmarks run mlx-lm in; prints the python to use.
#   bash scripts/bench-venv.sh stock     the project venv (scripts/venv.sh): mlx-lm as users
#                                        install it, with the wheel's vendored reference BLAS.
#   bash scripts/bench-venv.sh openblas  a copy of it under .cache/bench/venv-openblas whose
#                                        mlx_cpu.libs BLAS/LAPACK point at the system OpenBLAS,
#                                        exactly as scripts/mlx-sdk.mjs relinks our SDK: mlx-lm on
#                                        the same fixed libmlx as ours (the fair comparison).
# The copy is remade when the project venv's mlx changes. A tool for benchmarks only.
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-stock}
py=$(bash scripts/venv.sh | tail -n 1)
if [ "$kind" = stock ]; then
  echo "$py"
  exit 0
fi
if [ "$kind" != openblas ]; then
  echo "usage: bash scripts/bench-venv.sh stock|openblas" >&2
  exit 2
fi

src=$(dirname "$(dirname "$py")")
dest=.cache/bench/venv-openblas
openblas=$(node --input-type=module -e "import('./scripts/mlx-sdk.mjs').then((m) => console.log(m.findOpenBlas() ?? ''))")
if [ -z "$openblas" ]; then
  echo "no OpenBLAS on this machine (Debian/Ubuntu: apt-get install libopenblas0-pthread)" >&2
  exit 1
fi
site() { "$1/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'; }
# What the copy was made from: the mlx wheels installed in the project venv and the OpenBLAS.
stamp="$(ls -d "$(site "$src")"/mlx*.dist-info | xargs -n1 basename | tr '\n' ' ')$openblas"

mkdir -p .cache/bench
exec 9>".venv.lock"
flock 9
if [ ! -f "$dest/.stamp" ] || [ "$(cat "$dest/.stamp")" != "$stamp" ]; then
  rm -rf "$dest" "$dest.tmp"
  cp -a "$src" "$dest.tmp"
  libs="$(site "$dest.tmp")/mlx_cpu.libs"
  [ -d "$libs" ] || { echo "$libs: not found (is mlx installed with the mlx-cpu wheel?)" >&2; exit 1; }
  n=0
  for f in "$libs"/libblas-*.so* "$libs"/liblapack-*.so*; do
    case "$f" in *.reference) continue ;; esac
    [ -e "$f" ] || continue
    [ -L "$f" ] || mv "$f" "$f.reference"
    rm -f "$f"
    ln -s "$openblas" "$f"
    n=$((n + 1))
  done
  [ "$n" -gt 0 ] || { echo "$libs: no vendored libblas/liblapack to relink" >&2; exit 1; }
  echo "$stamp" > "$dest.tmp/.stamp"
  mv "$dest.tmp" "$dest"
fi
echo "$dest/bin/python"
