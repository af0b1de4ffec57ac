// The GGUF architectures import takes, and how each one names its tensors and metadata.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "io/gguf.h"
#include "models/model.h"

namespace mlxlab {

struct GgufArch {
  std::string name;        // general.architecture, also the metadata key prefix
  std::string model_type;  // the config.json model_type our native models read
  // llama.cpp's converter permuted the q/k rows for its RoPE (llama family only; not qwen).
  bool rotary_permuted = false;
  // Block tensor names ("attn_q", "attn_q_norm", ...) -> mlx-lm module names in a layer.
  std::map<std::string, std::string> block_names;
  // What llama.cpp's converter added to every RMSNorm weight ("...norm.weight"), taken off on
  // import: Gemma's norms scale by 1 + w, and llama.cpp stores 1 + w for its plain RMSNorm.
  float norm_shift = 0.0f;
};

// The architecture a GGUF file declares; Error(E_GGUF) naming the supported ones otherwise.
const GgufArch& gguf_arch_of(const std::string& path, const std::optional<std::string>& name);

// The supported architectures, comma-separated ("llama, qwen2, qwen3, gemma3").
std::string gguf_supported_architectures();

// "blk.3.attn_q.bias" -> "model.layers.3.self_attn.q_proj.bias" for `arch`, or nullopt.
std::optional<std::string> gguf_mlx_name(const GgufArch& arch, const std::string& name);

// Model::create over a GGUF's weights; a weight error names the GGUF tensor and the file.
std::unique_ptr<Model> create_gguf_model(const ModelConfig& config, GgufModel&& gguf);

}  // namespace mlxlab
