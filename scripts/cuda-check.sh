#!/usr/bin/env bash
# Build the native core and its C++ tests against the mlx-cuda-13 SDK and run them on an
# NVIDIA GPU (a lent device machine; never CI). The SDK is the official wheel's mlx/ and
# mlx_cuda_13.libs/ as a .tar.xz (split in parts when it must travel in pieces); its CUDA
# dependencies (cuBLAS, cuDNN, NCCL...) are taken from an installed Python's nvidia-* packages.
#   bash scripts/cuda-check.sh <sdk.tar.xz parts...>
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/cuda-check}
mkdir -p "$OUT" /tmp/mlxsdk
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
if [ ! -f /tmp/mlxsdk/mlx/lib/libmlx.so ]; then
  cat "$@" | xz -d | tar x -C /tmp/mlxsdk
fi
# MLX compiles kernels at run time (NVRTC) with the CCCL and CuTe headers the wheel ships in include/.
[ -f .device/headers.tar.xz ] && [ ! -d /tmp/mlxsdk/mlx/include/cute ] && xz -dc .device/headers.tar.xz | tar x -C /tmp/mlxsdk
SITE=$(python3 -c "import nvidia, os; print(os.path.dirname(list(nvidia.__path__)[0]))")
# libmlx's rpath wants $ORIGIN/../../nvidia/<pkg>/lib; NVRTC wants a complete CUDA include/
# (the pip cu13 package lacks crt/), so cu13/include is the toolkit's.
CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
rm -rf /tmp/mlxsdk/nvidia && mkdir -p /tmp/mlxsdk/nvidia/cu13
for p in "$SITE"/nvidia/*; do [ "$(basename "$p")" = cu13 ] || ln -sfn "$p" "/tmp/mlxsdk/nvidia/$(basename "$p")"; done
ln -sfn "$SITE/nvidia/cu13/lib" /tmp/mlxsdk/nvidia/cu13/lib
ln -sfn "$CUDA_HOME/include" /tmp/mlxsdk/nvidia/cu13/include
cmake -S . -B /tmp/mlxlab-cuda -G Ninja -DMLX_DIR=/tmp/mlxsdk/mlx -DMLX_LAB_NATIVE_TESTS=ON \
  -DCUDNN_INCLUDE_PATH="$SITE/nvidia/cudnn/include" -DCUDNN_LIBRARY_PATH="$SITE/nvidia/cudnn/lib" > "$OUT/cmake.log" 2>&1 || { tail -30 "$OUT/cmake.log"; exit 1; }
cmake --build /tmp/mlxlab-cuda -j "$(nproc)" > "$OUT/build.log" 2>&1 || { grep -E "error" "$OUT/build.log" | head -30; exit 1; }
echo "built; running the native tests on the GPU, full float32 (MLX_ENABLE_TF32=0)"
MLX_ENABLE_TF32=0 /tmp/mlxlab-cuda/mlxlab_native_tests 2>&1 | tee "$OUT/native-tests-fp32.log" | grep -E "FAIL|passed|failed"
echo "and with MLX's default TF32 float32 matmuls"
/tmp/mlxlab-cuda/mlxlab_native_tests model_ gguf_ train_initial 2>&1 | tee "$OUT/native-tests-tf32.log" | grep -E "max abs|FAIL|passed|failed"
