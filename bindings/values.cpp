#include "values.h"

#include <type_traits>

namespace mlxlab::js {

namespace {
Napi::Value quant_spec_to_js(Napi::Env env, const std::optional<QuantSpec>& spec) {
  if (!spec) return Napi::Boolean::New(env, false);
  Napi::Object o = Napi::Object::New(env);
  o.Set("group_size", spec->group_size);
  o.Set("bits", spec->bits);
  o.Set("mode", spec->mode);
  return o;
}

template <typename T>
Napi::Value to_js(Napi::Env env, const T& v) {
  if constexpr (std::is_same_v<T, std::monostate>) {
    return env.Null();
  } else if constexpr (std::is_same_v<T, std::string>) {
    return Napi::String::New(env, v);
  } else if constexpr (std::is_arithmetic_v<T>) {
    return Napi::Number::New(env, static_cast<double>(v));
  } else {
    Napi::Array a = Napi::Array::New(env, v.size());
    for (size_t i = 0; i < v.size(); ++i) a.Set(i, to_js(env, v[i]));
    return a;
  }
}
}  // namespace

Napi::Object config_to_js(Napi::Env env, const ModelConfig& c) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("model_type", c.model_type);
  o.Set("hidden_size", c.hidden_size);
  o.Set("num_hidden_layers", c.num_hidden_layers);
  o.Set("intermediate_size", c.intermediate_size);
  o.Set("num_attention_heads", c.num_attention_heads);
  o.Set("num_key_value_heads", c.num_key_value_heads);
  o.Set("head_dim", c.head_dim);
  o.Set("vocab_size", c.vocab_size);
  o.Set("max_position_embeddings", c.max_position_embeddings);
  o.Set("rms_norm_eps", c.rms_norm_eps);
  o.Set("rope_theta", c.rope_theta);
  o.Set("rope_traditional", c.rope_traditional);
  if (c.partial_rotary_factor != 1.0f) o.Set("partial_rotary_factor", c.partial_rotary_factor);
  o.Set("tie_word_embeddings", c.tie_word_embeddings);
  o.Set("attention_bias", c.attention_bias);
  o.Set("mlp_bias", c.mlp_bias);
  if (c.rope_scaling.type != "default") {
    Napi::Object r = Napi::Object::New(env);
    r.Set("type", c.rope_scaling.type);
    r.Set("factor", c.rope_scaling.factor);
    r.Set("low_freq_factor", c.rope_scaling.low_freq_factor);
    r.Set("high_freq_factor", c.rope_scaling.high_freq_factor);
    r.Set("original_max_position_embeddings", c.rope_scaling.original_max_position_embeddings);
    if (!c.rope_scaling.long_factor.empty()) {
      r.Set("short_factor", to_js(env, c.rope_scaling.short_factor));
      r.Set("long_factor", to_js(env, c.rope_scaling.long_factor));
    }
    o.Set("rope_scaling", r);
  }
  if (c.model_type == "gemma3_text") {
    o.Set("query_pre_attn_scalar", c.query_pre_attn_scalar);
    o.Set("rope_local_base_freq", c.rope_local_base_freq);
    o.Set("sliding_window", c.sliding_window);
    o.Set("sliding_window_pattern", c.sliding_window_pattern);
  }
  if (c.model_type == "granite") {
    o.Set("embedding_multiplier", c.embedding_multiplier);
    o.Set("attention_multiplier", c.attention_multiplier);
    o.Set("residual_multiplier", c.residual_multiplier);
    o.Set("logits_scaling", c.logits_scaling);
  }
  if (c.model_type == "qwen3_moe") {
    o.Set("num_experts", c.num_experts);
    o.Set("num_experts_per_tok", c.num_experts_per_tok);
    o.Set("moe_intermediate_size", c.moe_intermediate_size);
    o.Set("decoder_sparse_step", c.decoder_sparse_step);
    o.Set("mlp_only_layers", to_js(env, c.mlp_only_layers));
    o.Set("norm_topk_prob", c.norm_topk_prob);
  }
  if (c.quantization.base || !c.quantization.overrides.empty()) {
    Napi::Object q = Napi::Object::New(env);
    if (c.quantization.base) q.Set("base", quant_spec_to_js(env, c.quantization.base));
    Napi::Object ov = Napi::Object::New(env);
    for (const auto& [path, spec] : c.quantization.overrides)
      ov.Set(path, quant_spec_to_js(env, spec));
    q.Set("overrides", ov);
    o.Set("quantization", q);
  }
  return o;
}

mx::array host_ready(const mx::array& array) {
  auto dtype = mx::issubdtype(array.dtype(), mx::integer) ? mx::int32 : mx::float32;
  mx::array out = mx::contiguous(mx::astype(array, dtype));
  mx::eval(out);
  return out;
}

Napi::Object array_to_js(Napi::Env env, const mx::array& a) {
  Napi::Object out = Napi::Object::New(env);
  Napi::Array shape = Napi::Array::New(env, a.ndim());
  for (size_t i = 0; i < a.ndim(); ++i) shape.Set(i, a.shape(i));
  out.Set("shape", shape);
  if (a.dtype() == mx::int32) {
    Napi::Int32Array data = Napi::Int32Array::New(env, a.size());
    std::copy(a.data<int32_t>(), a.data<int32_t>() + a.size(), data.Data());
    out.Set("data", data);
  } else {
    Napi::Float32Array data = Napi::Float32Array::New(env, a.size());
    std::copy(a.data<float>(), a.data<float>() + a.size(), data.Data());
    out.Set("data", data);
  }
  return out;
}

Napi::Object gguf_metadata_to_js(Napi::Env env, const std::map<std::string, GgufValue>& metadata) {
  Napi::Object o = Napi::Object::New(env);
  for (const auto& [key, value] : metadata) {
    o.Set(key, std::visit([env](const auto& v) { return to_js(env, v); }, value));
  }
  return o;
}

namespace {
Napi::Value scalar_to_js(Napi::Env env, const GgufScalar& value) {
  if (auto v = std::get_if<bool>(&value)) return Napi::Boolean::New(env, *v);
  if (auto v = std::get_if<double>(&value)) return Napi::Number::New(env, *v);
  if (auto v = std::get_if<int64_t>(&value)) return Napi::BigInt::New(env, *v);
  if (auto v = std::get_if<uint64_t>(&value)) return Napi::BigInt::New(env, *v);
  return Napi::String::New(env, std::get<std::string>(value));
}
}  // namespace

Napi::Object gguf_header_to_js(Napi::Env env, const GgufHeader& header) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("version", header.version);
  Napi::Object metadata = Napi::Object::New(env);
  for (const auto& [key, value] : header.metadata) metadata.Set(key, scalar_to_js(env, value));
  o.Set("metadata", metadata);
  Napi::Array tensors = Napi::Array::New(env, header.tensors.size());
  for (size_t i = 0; i < header.tensors.size(); ++i) {
    const GgufTensorInfo& t = header.tensors[i];
    Napi::Object tensor = Napi::Object::New(env);
    tensor.Set("name", t.name);
    Napi::Array shape = Napi::Array::New(env, t.shape.size());
    for (size_t d = 0; d < t.shape.size(); ++d)
      shape.Set(d, Napi::Number::New(env, static_cast<double>(t.shape[d])));
    tensor.Set("shape", shape);
    tensor.Set("type", t.type);
    tensors.Set(i, tensor);
  }
  o.Set("tensors", tensors);
  return o;
}

}  // namespace mlxlab::js
