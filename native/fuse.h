// Fusing an adapter into its base model and re-quantizing, or converting a model's weights
// (quantize / dequantize / cast), then saving them as an mlx-lm model folder's shards.
//
// Fuse follows mlx-lm (fuse.py, tuner/lora.py LoRALinear.fuse / LoRASwitchLinear.fuse,
// tuner/dora.py DoRALinear.fuse, utils.py dequantize_model / quantize_model / save_model):
//   W  = dequantize(stored W)                      (the stored weights, never the float32
//                                                    compute copies of the CPU policy)
//   W' = W + (scale * lora_b^T @ lora_a^T).astype(W.dtype)              LoRA
//   W' = W + (scale * lora_b @ lora_a).astype(W.dtype)  per expert      switch LoRA
//   W' = m / ||W + delta||_row * (W + delta)                            DoRA
// then W' is re-quantized with the layer's own spec (or a chosen one), or kept in full
// precision (dequantize). Layers without an adapter keep their stored arrays unless their
// quantization changes.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lora.h"
#include "models/decoder.h"

namespace mlxlab {

// Where a fuse / convert / save is: stage "fuse" (modules merged or re-quantized) or "save"
// (shards written); `done` of `total`, and the module path or file name just finished.
struct FuseProgress {
  std::string stage;
  int done = 0;
  int total = 0;
  std::string name;
};
using FuseProgressFn = std::function<void(const FuseProgress&)>;

// The bits and group sizes fuse and convert accept (mlx-lm's affine quantization).
inline constexpr int kQuantBits[] = {2, 3, 4, 5, 6, 8};
inline constexpr int kQuantGroupSizes[] = {32, 64, 128};

// Throws Error(E_ARGUMENT) naming the value and the allowed set.
void check_quant_choice(std::optional<int> bits, std::optional<int> group_size);

struct WeightOptions {
  // Every quantized layer to full precision (the dtype of its scales, as mx.dequantize gives);
  // config.json then has no quantization block.
  bool dequantize = false;
  // Fuse: re-quantize the base's quantized layers that use its default spec with these bits /
  // group size (unset: the base's); layers with their own per-layer spec keep it. A full
  // precision base is quantized as mlx_lm.convert -q would (see `quantize`).
  // Convert with `quantize`: the spec for full-precision layers (unset: mlx-lm's 4 / 64).
  std::optional<int> bits;
  std::optional<int> group_size;
  // Convert: quantize the full-precision linear, expert and embedding layers whose input dims
  // the group size divides (mlx_lm.utils.quantize_model; qwen3_moe's router gets 8 bits,
  // group 64 from its quant_predicate). Already quantized layers stay as they are.
  bool quantize = false;
  // Convert: cast every floating weight first (mlx_lm.convert --dtype / torch_dtype).
  std::optional<mx::Dtype> dtype;
};

// A model's weights ready to save.
struct ModelWeights {
  Weights weights;                 // mlx-lm names
  std::vector<std::string> order;  // mlx-lm's parameter order (tree_flatten); shards follow it
  // The quantization config.json must describe (base spec plus per-module overrides as
  // mlx-lm writes them); nullopt when every layer is full precision.
  std::optional<QuantConfig> quantization;
  std::map<std::string, int> module_bits;  // bits of every quantized module, by path
  int fused = 0;                           // layers an adapter was merged into
  int requantized = 0;                     // quantized layers whose weights were quantized again
  int dequantized = 0;                     // quantized layers now in full precision
  int quantized = 0;                       // full-precision layers now quantized
  int kept = 0;                            // linear / expert / embedding layers stored as they were
};

// Attach an adapter (mlx-lm layout: `lora` describes adapter_config.json, `adapter_file` is
// adapters.safetensors) to `model`, merge it, and detach it again. Errors: Error(E_CONFIG) when
// the adapter's layout does not fit the model (num_layers beyond its layers, keys matching no
// layer, a model that already has an adapter attached), Error(E_WEIGHTS) naming the tensor when
// a name or shape does not fit, Error(E_ARGUMENT) for unsupported bits / group size.
ModelWeights fuse_adapter(const std::shared_ptr<Model>& model, const LoraConfig& lora,
                          const std::string& adapter_file, const WeightOptions& options,
                          const FuseProgressFn& progress = {});

// The model's stored weights with `options` applied (no adapter): convert.
ModelWeights convert_weights(Model& model, const WeightOptions& options,
                             const FuseProgressFn& progress = {});

struct SavedShards {
  std::vector<std::string> files;                               // file names, in order
  std::vector<std::pair<std::string, std::string>> weight_map;  // weight -> file, sorted
  uint64_t total_size = 0;                                      // bytes of all tensors
  uint64_t total_parameters = 0;  // mlx-lm's get_total_parameters (packed weights unpacked)
};

// mlx-lm's MAX_FILE_SIZE_GB (5 << 30 bytes).
inline constexpr uint64_t kMaxShardBytes = uint64_t(5) << 30;

// Write `weights` into `dir` (which must exist) as mlx-lm's save_model does: shards filled in
// parameter order until the next tensor would pass `max_shard_bytes` (a larger tensor gets a
// shard of its own), named model.safetensors when there is one and
// model-0000N-of-0000M.safetensors otherwise, metadata {"format": "mlx"}, each file written
// atomically and fsynced. The index JSON is left to the caller.
SavedShards save_model_shards(const std::string& dir, const ModelWeights& weights,
                              uint64_t max_shard_bytes = kMaxShardBytes,
                              const FuseProgressFn& progress = {});

}  // namespace mlxlab
