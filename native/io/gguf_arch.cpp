#include "io/gguf_arch.h"

#include <vector>

#include "errors.h"

namespace mlxlab {

namespace {

// The llama block names, shared by the other architectures.
std::map<std::string, std::string> llama_blocks() {
  return {{"attn_q", "self_attn.q_proj"},          {"attn_k", "self_attn.k_proj"},
          {"attn_v", "self_attn.v_proj"},          {"attn_output", "self_attn.o_proj"},
          {"ffn_gate", "mlp.gate_proj"},           {"ffn_up", "mlp.up_proj"},
          {"ffn_down", "mlp.down_proj"},           {"attn_norm", "input_layernorm"},
          {"ffn_norm", "post_attention_layernorm"}};
}

// llama's names plus qwen3's per-head q/k RMSNorms.
std::map<std::string, std::string> qwen3_blocks() {
  auto names = llama_blocks();
  names.emplace("attn_q_norm", "self_attn.q_norm");
  names.emplace("attn_k_norm", "self_attn.k_norm");
  return names;
}

// qwen2's q/k/v biases are "blk.N.attn_q.bias": the suffix carries them, no extra names.
const std::vector<GgufArch>& architectures() {
  static const std::vector<GgufArch> all = {
      {"llama", "llama", true, llama_blocks()},
      {"qwen2", "qwen2", false, llama_blocks()},
      {"qwen3", "qwen3", false, qwen3_blocks()},
  };
  return all;
}

const std::map<std::string, std::string>& top_level_names() {
  static const std::map<std::string, std::string> names = {
      {"token_embd", "model.embed_tokens"}, {"output_norm", "model.norm"}, {"output", "lm_head"}};
  return names;
}

// The GGUF name a message's mlx-lm weight name came from, substituted in `message`.
std::string with_gguf_names(std::string message, const std::map<std::string, std::string>& names) {
  for (const auto& [mlx, gguf] : names) {
    auto quoted = "\"" + mlx + "\"";
    auto at = message.find(quoted);
    if (at == std::string::npos) continue;
    message.replace(at, quoted.size(), "\"" + gguf + "\" (" + mlx + ")");
    break;
  }
  return message;
}

}  // namespace

std::string gguf_supported_architectures() {
  std::string out;
  for (const auto& a : architectures()) out += (out.empty() ? "" : ", ") + a.name;
  return out;
}

const GgufArch& gguf_arch_of(const std::string& path, const std::optional<std::string>& name) {
  if (!name) fail(codes::kGguf, path + ": GGUF metadata \"general.architecture\" is missing");
  for (const auto& a : architectures()) {
    if (a.name == *name) return a;
  }
  fail(codes::kGguf, path + ": GGUF architecture \"" + *name +
                         "\" is not supported (supported: " + gguf_supported_architectures() + ")");
}

std::optional<std::string> gguf_mlx_name(const GgufArch& arch, const std::string& name) {
  auto dot = name.rfind('.');
  if (dot == std::string::npos) return std::nullopt;
  auto base = name.substr(0, dot), suffix = name.substr(dot + 1);
  if (base.rfind("blk.", 0) == 0) {
    auto second = base.find('.', 4);
    if (second == std::string::npos) return std::nullopt;
    auto layer = base.substr(4, second - 4);
    if (layer.empty() || layer.find_first_not_of("0123456789") != std::string::npos) {
      return std::nullopt;
    }
    auto it = arch.block_names.find(base.substr(second + 1));
    if (it == arch.block_names.end()) return std::nullopt;
    return "model.layers." + layer + "." + it->second + "." + suffix;
  }
  auto it = top_level_names().find(base);
  if (it == top_level_names().end()) return std::nullopt;
  return it->second + "." + suffix;
}

std::unique_ptr<Model> create_gguf_model(const ModelConfig& config, GgufModel&& gguf) {
  auto names = std::move(gguf.gguf_names);
  auto path = gguf.path;
  try {
    return Model::create(config, std::move(gguf.weights));
  } catch (const Error& e) {
    if (e.code() != codes::kWeights) throw;
    throw Error(e.code(), path + ": " + with_gguf_names(e.what(), names));
  }
}

}  // namespace mlxlab
