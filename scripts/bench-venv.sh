#!/usr/bin/env bash
# The Python environments the benchmarks run mlx-lm in; prints the python to use.
#   bash scripts/bench-venv.sh stock      the project venv (scripts/venv.sh): mlx-lm as users
#                                         install it, with the wheel's vendored reference BLAS.
#   bash scripts/bench-venv.sh same-blas  a copy of it under .cache/bench/venv-same-blas whose
#                                         mlx_cpu.libs libblas-*/liblapack-* load exactly the files
#                                         ours do: the realpaths of our SDK's symlinks
#                                         (.mlx/<backend>-<version>/mlx_cpu.libs). That is a system
#                                         OpenBLAS, or the bundled forwarding shim with its
#                                         libscipy_openblas.so: the shim and every library it needs
#                                         from its own folder are linked side by side, so that its
#                                         $ORIGIN run path finds them. mlx-lm on the same libmlx and
#                                         the same BLAS as ours (the like-for-like comparison).
# The copy is remade when the project venv's mlx wheels or our BLAS files change. A tool for
# benchmarks only.
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-stock}
py=$(bash scripts/venv.sh | tail -n 1)
if [ "$kind" = stock ]; then
  echo "$py"
  exit 0
fi
if [ "$kind" != same-blas ]; then
  echo "usage: bash scripts/bench-venv.sh stock|same-blas" >&2
  exit 2
fi

# Our SDK's BLAS: what its vendored libblas-*/liblapack-* names resolve to.
ours=$(node -e 'const c = require("./.mlx/current.json"); console.log(require("path").join(require("path").dirname(c.prefix), "mlx_cpu.libs"))' 2>/dev/null || true)
if [ -z "$ours" ] || [ ! -d "$ours" ]; then
  echo "our SDK's mlx_cpu.libs not found (.mlx/current.json); run npm install first" >&2
  exit 1
fi
declare -A target
for f in "$ours"/libblas-*.so* "$ours"/liblapack-*.so*; do
  case "$f" in *.reference) continue ;; esac
  [ -e "$f" ] || continue
  base=$(basename "$f")
  target[${base%%-*}]=$(readlink -f "$f") # libblas / liblapack -> the file ours loads
done
if [ -z "${target[libblas]:-}" ]; then
  echo "$ours: no libblas-* (is the SDK the mlx-cpu wheel?)" >&2
  exit 1
fi
# Libraries a target needs from its own folder (the shim's libscipy_openblas.so), found as $ORIGIN.
companions() {
  local dir
  dir=$(dirname "$1")
  readelf -d "$1" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | while read -r lib; do
    [ -e "$dir/$lib" ] && readlink -f "$dir/$lib"
  done
  return 0
}

# The real folder: a linked venv (a second checkout sharing one) must be copied, never changed.
src=$(readlink -f "$(dirname "$(dirname "$py")")")
dest=.cache/bench/venv-same-blas
site() { "$1/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'; }
files="${target[libblas]} ${target[liblapack]:-} $(companions "${target[libblas]}" | tr '\n' ' ')"
# What the copy was made from: the mlx wheels in the project venv and our BLAS files (with sizes).
stamp="$(ls -d "$(site "$src")"/mlx*.dist-info | xargs -n1 basename | tr '\n' ' ')$(for f in $files; do stat -c '%n:%s ' "$f"; done)"

mkdir -p .cache/bench
exec 9>".venv.lock"
flock 9
if [ ! -f "$dest/.stamp" ] || [ "$(cat "$dest/.stamp")" != "$stamp" ]; then
  rm -rf "$dest" "$dest.tmp"
  cp -a "$src" "$dest.tmp"
  libs="$(site "$dest.tmp")/mlx_cpu.libs"
  [ -d "$libs" ] || { echo "$libs: not found (is mlx installed with the mlx-cpu wheel?)" >&2; exit 1; }
  for f in $(companions "${target[libblas]}"); do ln -sfn "$f" "$libs/$(basename "$f")"; done
  n=0
  for f in "$libs"/libblas-*.so* "$libs"/liblapack-*.so*; do
    case "$f" in *.reference) continue ;; esac
    [ -e "$f" ] || [ -L "$f" ] || continue
    b=$(basename "$f")
    t=${target[${b%%-*}]:-${target[libblas]}}
    [ -L "$f" ] || mv "$f" "$f.reference"
    rm -f "$f"
    # The same file name as ours links to (the shim's run path is $ORIGIN: keep it in this folder).
    ln -s "$t" "$libs/$(basename "$t")" 2>/dev/null || true
    ln -s "$(basename "$t")" "$f"
    n=$((n + 1))
  done
  [ "$n" -gt 0 ] || { echo "$libs: no vendored libblas/liblapack to relink" >&2; exit 1; }
  # Python binds every symbol at load (RTLD_NOW), Node lazily (RTLD_LAZY). A BLAS that names a
  # symbol it cannot resolve (a shim forwarding one its library lacks) loads for Node, never
  # called, but not for Python: then load extension modules lazily in this venv, as Node does.
  if ! "$dest.tmp/bin/python" -c 'import mlx.core' 2>/dev/null; then
    echo 'import sys, os; sys.setdlopenflags(os.RTLD_LAZY)' > "$(site "$dest.tmp")/mlxlab_lazy_bind.pth"
    "$dest.tmp/bin/python" -c 'import mlx.core' || { echo "$dest: mlx does not load on our BLAS" >&2; exit 1; }
    echo "bench-venv: our BLAS names symbols it cannot resolve (python -c 'import mlx.core' fails with RTLD_NOW); $dest loads extension modules lazily (RTLD_LAZY), as Node does" >&2
  fi
  echo "$stamp" > "$dest.tmp/.stamp"
  mv "$dest.tmp" "$dest"
fi
echo "$dest/bin/python"
