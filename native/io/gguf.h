// Loading GGUF files (llama, qwen2, qwen3, gemma3: see io/gguf_arch.h) as mlx-lm-named weights plus
// metadata.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "models/config.h"
#include "models/model.h"

namespace mlxlab {

// One metadata value: integer and bool scalars as int64_t, float scalars as double, strings,
// and arrays (strings, integers, floats).
using GgufValue = std::variant<std::monostate, int64_t, double, std::string,
                               std::vector<std::string>, std::vector<int64_t>, std::vector<double>>;

// A scalar metadata value as the header stores it: 8- to 32-bit integers and floats as double
// (exact), 64-bit integers as themselves, bools and strings.
using GgufScalar = std::variant<bool, double, int64_t, uint64_t, std::string>;

struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> shape;  // outermost dimension first (the file stores innermost first)
  std::string type;            // ggml's name: "F32", "Q4_0", "Q6_K", ...
};

// What a GGUF header says, without the tensor data.
struct GgufHeader {
  uint32_t version = 0;
  std::vector<std::pair<std::string, GgufScalar>> metadata;  // in file order; arrays skipped
  std::vector<GgufTensorInfo> tensors;
};

// A bounded read of a GGUF file's header (v2/v3): every length and count is checked against the
// file size before it is trusted. Throws Error(E_MODEL_LOAD) for a missing, non-GGUF or corrupt
// file and Error(E_GGUF) for a version, value type, dimension or tensor type it does not take.
GgufHeader read_gguf_header(const std::string& path);

struct GgufModel {
  std::string path;
  std::string architecture;  // general.architecture, one gguf_arch_of takes
  Weights weights;           // mlx-lm names; q/k rows already in Hugging Face order
  std::map<std::string, GgufValue> metadata;
  std::map<std::string, std::string> gguf_names;  // mlx-lm name -> the file's tensor name
};

// Load a GGUF file with MLX's loader (Q4_0/Q4_1/Q8_0 become affine triplets with group size
// 32, other quantized types float16), map the names to mlx-lm's and, for llama, un-permute the
// q/k rows llama.cpp permuted for its RoPE; for gemma3, take off the 1 llama.cpp added to every
// RMSNorm weight. Throws Error(E_MODEL_LOAD) for an unreadable file and
// Error(E_GGUF) for an unsupported architecture or unknown tensor names.
GgufModel load_gguf_model(const std::string& path);

// The config the metadata describes (keys "<architecture>.*"), with the quantization the weights
// carry (base {32, 4 or 8}, overrides for tensors that differ).
ModelConfig config_from_gguf(const GgufModel& model);

// Metadata accessors; nullopt when absent or of another type.
std::optional<int64_t> gguf_int(const GgufModel& model, const std::string& key);
std::optional<double> gguf_float(const GgufModel& model, const std::string& key);
std::optional<std::string> gguf_string(const GgufModel& model, const std::string& key);

// Rows of a q/k projection [n_heads * head_dim, ...] from llama.cpp's interleaved order
// back to Hugging Face's (two halves per head).
mx::array unpermute_rotary_rows(const mx::array& w, int n_heads);
// The inverse (Hugging Face -> llama.cpp), for tests and export.
mx::array permute_rotary_rows(const mx::array& w, int n_heads);

}  // namespace mlxlab
