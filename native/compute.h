// The compute policy: how a model's weights are used for matmuls. On CPU, MLX's quantized and
// half-precision matmuls are 30-80x slower than float32 (BLAS sgemm), so "float32" keeps a
// dense float32 copy of every quantized or half-precision weight for compute (same math),
// while the stored weights stay as they are (QLoRA bases stay frozen, fuse re-quantizes them).
#pragma once

#include <cstddef>
#include <string>

#include "models/model.h"

namespace mlxlab {

// kKernels: the stored weights, with our quantized kernel (native/kernels) for calls of at most
// 32 rows (decode, eval batches) on the CPU, MLX's quantized_matmul for the rest.
enum class ComputeMode { kAuto, kNative, kFloat32, kKernels };

// "auto" | "native" | "float32" | "kernels" (Error E_ARGUMENT otherwise).
ComputeMode parse_compute_mode(const std::string& name);

struct ComputeReport {
  std::string mode;        // "native", "float32" or "kernels": what was applied
  std::string reason;      // why auto chose it
  size_t extra_bytes = 0;  // memory taken by the float32 copies
  int layers = 0;          // weights given a float32 copy
};

// Bytes the float32 copies would take (0 when all weights are float32 already).
size_t float32_copy_bytes(Model& model);

// Apply a mode. kAuto: float32 on the CPU device when the copies fit in `memory_budget` bytes,
// native otherwise (and always native on a GPU, where quantized kernels are fast).
ComputeReport apply_compute_mode(Model& model, ComputeMode mode, size_t memory_budget);

// apply_compute_mode within the default budget.
ComputeReport apply_compute_mode(Model& model, ComputeMode mode);

// The memory float32 copies may take by default: half of this machine's.
size_t default_compute_budget();

// Physical memory of this machine in bytes (0 when unknown).
size_t physical_memory_bytes();

}  // namespace mlxlab
