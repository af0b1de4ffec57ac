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

// Gemma 3 (gguf's GEMMA3 tensors): qwen3's names, but four norms per block; its ffn_norm is the
// pre-feedforward norm, and post_attention_norm the attention output's (not llama's pre-MLP one).
std::map<std::string, std::string> gemma3_blocks() {
  auto names = qwen3_blocks();
  names["post_attention_norm"] = "post_attention_layernorm";
  names["ffn_norm"] = "pre_feedforward_layernorm";
  names["post_ffw_norm"] = "post_feedforward_layernorm";
  return names;
}

// qwen2's q/k/v biases are "blk.N.attn_q.bias": the suffix carries them, no extra names.
// gemma3: the text model only (a vision tower ships in a separate mmproj file).
const std::vector<GgufArch>& architectures() {
  static const std::vector<GgufArch> all = {
      {"llama", "llama", true, llama_blocks()},
      {"qwen2", "qwen2", false, llama_blocks()},
      {"qwen3", "qwen3", false, qwen3_blocks()},
      {"gemma3", "gemma3_text", false, gemma3_blocks(), /*norm_shift=*/1.0f},
  };
  return all;
}

const std::map<std::string, std::string>& top_level_names() {
  static const std::map<std::string, std::string> names = {
      {"token_embd", "model.embed_tokens"}, {"output_norm", "model.norm"}, {"output", "lm_head"}};
  return names;
}

// "model.layers.3.self_attn.q_proj.bias" -> "blk.3.attn_q.bias" for `arch`, or "" (the inverse
// of gguf_mlx_name, for names a file lacks).
std::string gguf_name_for(const GgufArch& arch, const std::string& mlx) {
  auto dot = mlx.rfind('.');
  if (dot == std::string::npos) return "";
  auto base = mlx.substr(0, dot), suffix = mlx.substr(dot + 1);
  for (const auto& [gguf, module] : top_level_names()) {
    if (module == base) return gguf + "." + suffix;
  }
  const std::string layers = "model.layers.";
  if (base.rfind(layers, 0) != 0) return "";
  auto second = base.find('.', layers.size());
  if (second == std::string::npos) return "";
  auto layer = base.substr(layers.size(), second - layers.size());
  for (const auto& [gguf, module] : arch.block_names) {
    if (module == base.substr(second + 1)) return "blk." + layer + "." + gguf + "." + suffix;
  }
  return "";
}

// The first quoted mlx-lm weight name in `message`, followed by the GGUF name it has (or would
// have) in the file.
std::string with_gguf_names(std::string message, const GgufArch& arch,
                            const std::map<std::string, std::string>& names) {
  auto open = message.find('"');
  auto close = open == std::string::npos ? open : message.find('"', open + 1);
  if (close == std::string::npos) return message;
  auto mlx = message.substr(open + 1, close - open - 1);
  auto it = names.find(mlx);
  auto gguf = it != names.end() ? it->second : gguf_name_for(arch, mlx);
  if (gguf.empty()) return message;
  message.replace(open, close - open + 1, "\"" + gguf + "\" (" + mlx + ")");
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
  const GgufArch& arch = gguf_arch_of(path, gguf.architecture);
  try {
    return Model::create(config, std::move(gguf.weights));
  } catch (const Error& e) {
    if (e.code() != codes::kWeights) throw;
    throw Error(e.code(), path + ": " + with_gguf_names(e.what(), arch, names));
  }
}

}  // namespace mlxlab
