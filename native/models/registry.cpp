#include "models/registry.h"

#include "errors.h"

namespace mlxlab {

extern const Architecture kLlama;
extern const Architecture kQwen3;
extern const Architecture kQwen3Moe;
extern const Architecture kQwen2;
extern const Architecture kMistral;
extern const Architecture kPhi3;
extern const Architecture kGemma3Text;
extern const Architecture kGranite;

namespace {

// Every architecture, in the order error messages list them.
const Architecture* const kArchitectures[] = {&kLlama,   &kQwen3, &kQwen3Moe,   &kQwen2,
                                              &kMistral, &kPhi3,  &kGemma3Text, &kGranite};

}  // namespace

std::string supported_architectures() {
  std::string out;
  for (const auto* a : kArchitectures) {
    if (!out.empty()) out += ", ";
    out += a->model_type;
  }
  return out;
}

nn::Attention BlockSource::attention(bool qkv_bias, bool o_bias, bool qk_norm, bool fused_qkv,
                                     nn::AttentionSpec spec) const {
  spec.hidden_size = config.hidden_size;
  spec.n_heads = config.num_attention_heads;
  spec.n_kv_heads = config.num_key_value_heads;
  spec.head_dim = config.head_dim;
  spec.norm_eps = config.rms_norm_eps;
  spec.qkv_bias = qkv_bias;
  spec.o_bias = o_bias;
  spec.qk_norm = qk_norm;
  spec.fused_qkv = fused_qkv;
  spec.norm_offset = norm_offset;
  return nn::Attention::load(weights, prefix + ".self_attn", spec, rope, config.quantization, why);
}

nn::Mlp BlockSource::mlp(bool bias, bool fused, nn::Activation activation) const {
  return nn::Mlp::load(weights, prefix + ".mlp", config.hidden_size, config.intermediate_size, bias,
                       config.quantization, why, fused, activation);
}

nn::RMSNorm BlockSource::norm(const std::string& name) const {
  return nn::RMSNorm::load(weights, prefix + "." + name, config.hidden_size, config.rms_norm_eps,
                           why, norm_offset);
}

const Architecture* find_architecture(const std::string& model_type) {
  for (const auto* a : kArchitectures) {
    if (a->model_type == model_type) return a;
  }
  return nullptr;
}

const Architecture& architecture(const std::string& model_type) {
  const auto* a = find_architecture(model_type);
  if (!a) {
    fail(codes::kConfig,
         "model_type \"" + model_type + "\" is not supported (" + supported_architectures() + ")");
  }
  return *a;
}

}  // namespace mlxlab
