#!/usr/bin/env bash
# npm run test:asan: build the addon and the C++ test driver with AddressSanitizer + UBSan into
# build-asan/ (git-ignored), run the C++ native tests, then a set of addon tests under Node, then
# fuzz the native safetensors and GGUF readers (scripts/fuzz.mjs) against the sanitized addon.
#
# What is instrumented: our code (native/, bindings/, test/native/cpp). Not instrumented: libmlx
# (the PyPI wheel), OpenBLAS and Node itself. ASan still checks every heap block those allocate
# (malloc is intercepted), but not their own reads and writes.
#
# Node is not built with ASan, so the runtime is preloaded (LD_PRELOAD) before Node starts, and
# leak detection is off for the Node run: V8 and Node free little at exit by design, and those
# "leaks" would drown ours. The C++ driver runs with leak detection on.
#
# Usage: scripts/test-asan.sh [vitest test files...]   (default: the addon tests listed below)
# Slow (a full build at -O1 plus instrumented runs): not part of npm test or CI.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=build-asan
# The addon tests that exercise native code without timing assertions (ASan makes everything slower).
DEFAULT_TESTS=(test/native/bad-input.test.ts test/native/bad-models.test.ts test/native/trainer.test.ts test/native/fuse.test.ts)
TESTS=("${@:-${DEFAULT_TESTS[@]}}")
JOBS=${CMAKE_BUILD_PARALLEL_LEVEL:-2}

sdk_prefix() { node -p "require('./.mlx/current.json').prefix"; }

build() {
  echo "[asan] building into $OUT/ (ASan + UBSan, -O1)" >&2
  CMAKE_BUILD_PARALLEL_LEVEL=$JOBS node node_modules/cmake-js/bin/cmake-js compile --out "$OUT" \
    --CDMLX_DIR="$(sdk_prefix)" --CDMLX_LAB_SANITIZE=ON --CDMLX_LAB_NATIVE_TESTS=ON
}

# Halt on the first UBSan report too (by default UBSan prints and goes on).
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

run_cpp_tests() {
  local driver
  driver=$(find "$OUT" -name mlxlab_native_tests -type f -perm -u+x | head -1)
  echo "[asan] C++ native tests: $driver" >&2
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1 \
    "$driver"
}

run_addon_tests() {
  local addon libasan
  addon=$(find "$OUT" -name mlx_lab.node -type f | head -1)
  libasan=$(${CXX:-c++} -print-file-name=libasan.so)
  echo "[asan] addon tests with $addon (LD_PRELOAD=$libasan): ${TESTS[*]}" >&2
  npx tsc -p tsconfig.json
  MLX_LAB_ADDON="$addon" MLX_LAB_OFFLINE=1 LD_PRELOAD="$libasan" \
    ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
    npx vitest run "${TESTS[@]}"
}

# The native readers fuzzed against the sanitized addon (an ASan report aborts the child: a finding).
run_native_fuzz() {
  echo "[asan] fuzzing the native readers for ${FUZZ_SECONDS:-30} s each" >&2
  MLX_LAB_ADDON="$(find "$OUT" -name mlx_lab.node -type f | head -1)" LD_PRELOAD="$(${CXX:-c++} -print-file-name=libasan.so)" \
    ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 node scripts/fuzz.mjs --seconds "${FUZZ_SECONDS:-30}" safetensors gguf
}

# Each step with its wall time (set -e stops at the first failure or sanitizer report).
timed() { local start=$SECONDS; "$@"; echo "[asan] $1: $((SECONDS - start)) s" >&2; }
timed build
timed run_cpp_tests
timed run_addon_tests
timed run_native_fuzz
echo "[asan] clean: no ASan or UBSan report" >&2
