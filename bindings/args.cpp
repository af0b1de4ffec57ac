#include "args.h"

#include <cmath>
#include <limits>

#include "cache.h"
#include "errors.h"
#include "js_error.h"

namespace mlxlab::js {

void bad_argument(Napi::Env env, const std::string& message) {
  throw_error(env, codes::kArgument, message);
}

ComputeMode to_compute_mode(Napi::Env env, const std::string& name) {
  return rethrow_as_js(env, [&] { return parse_compute_mode(name); });
}

namespace {

// A double that must be a 32-bit integer (casting NaN, Infinity or 1e12 to int is undefined).
int checked_int(double d, const std::string& what, Napi::Env env) {
  if (!std::isfinite(d) || d != std::floor(d)) bad_argument(env, what + " must be an integer");
  if (d < std::numeric_limits<int>::min() || d > std::numeric_limits<int>::max()) {
    bad_argument(env, what + " is out of range (" + std::to_string(static_cast<int64_t>(d)) + ")");
  }
  return static_cast<int>(d);
}
}  // namespace

int get_int(const Napi::Object& obj, const char* key, int fallback) {
  Napi::Value v = obj.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsNumber()) bad_argument(obj.Env(), std::string(key) + " must be a number");
  return checked_int(v.As<Napi::Number>().DoubleValue(), key, obj.Env());
}

double get_number(const Napi::Object& obj, const char* key, double fallback) {
  Napi::Value v = obj.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsNumber()) bad_argument(obj.Env(), std::string(key) + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

bool get_bool(const Napi::Object& obj, const char* key, bool fallback) {
  Napi::Value v = obj.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsBoolean()) bad_argument(obj.Env(), std::string(key) + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

std::string get_string(const Napi::Object& obj, const char* key, const std::string& fallback) {
  Napi::Value v = obj.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsString()) bad_argument(obj.Env(), std::string(key) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

Napi::Object object_arg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsObject())
    bad_argument(info.Env(), std::string(what) + " must be an object");
  return info[i].As<Napi::Object>();
}

std::string string_arg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsString())
    bad_argument(info.Env(), std::string(what) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

std::vector<std::string> to_strings(const Napi::Value& value, const std::string& what) {
  if (!value.IsArray()) bad_argument(value.Env(), what + " must be an array of strings");
  auto arr = value.As<Napi::Array>();
  std::vector<std::string> out;
  for (uint32_t k = 0; k < arr.Length(); ++k) {
    Napi::Value v = arr.Get(k);
    if (!v.IsString())
      bad_argument(value.Env(), what + "[" + std::to_string(k) + "] must be a string");
    out.push_back(v.As<Napi::String>().Utf8Value());
  }
  return out;
}

std::vector<std::string> string_array_arg(const Napi::CallbackInfo& info, size_t i,
                                          const char* what) {
  return to_strings(info.Length() > i ? info[i] : info.Env().Undefined(), what);
}

std::vector<int> to_tokens(const Napi::Value& value, const char* what) {
  Napi::Env env = value.Env();
  std::vector<int> out;
  if (value.IsTypedArray() && value.As<Napi::TypedArray>().TypedArrayType() == napi_int32_array) {
    auto a = value.As<Napi::Int32Array>();
    out.assign(a.Data(), a.Data() + a.ElementLength());
  } else if (value.IsArray()) {
    auto a = value.As<Napi::Array>();
    out.reserve(a.Length());
    for (uint32_t k = 0; k < a.Length(); ++k) {
      Napi::Value v = a.Get(k);
      if (!v.IsNumber())
        bad_argument(env,
                     std::string(what) + "[" + std::to_string(k) + "] must be a token id (number)");
      out.push_back(v.As<Napi::Number>().Int32Value());
    }
  } else {
    bad_argument(env, std::string(what) + " must be an Int32Array or an array of token ids");
  }
  return out;
}

namespace {
std::optional<QuantSpec> to_quant_spec(const Napi::Value& v, const std::string& where) {
  if (v.IsBoolean() && !v.As<Napi::Boolean>().Value()) return std::nullopt;
  if (!v.IsObject()) bad_argument(v.Env(), where + " must be an object or false");
  auto o = v.As<Napi::Object>();
  QuantSpec spec;
  spec.group_size = get_int(o, "group_size", 64);
  spec.bits = get_int(o, "bits", 4);
  spec.mode = get_string(o, "mode", "affine");
  return spec;
}

std::vector<int> int_list(const Napi::Object& obj, const char* key) {
  std::vector<int> out;
  Napi::Value v = obj.Get(key);
  if (v.IsUndefined() || v.IsNull()) return out;
  if (!v.IsArray()) bad_argument(obj.Env(), std::string(key) + " must be an array of integers");
  auto a = v.As<Napi::Array>();
  for (uint32_t k = 0; k < a.Length(); ++k) {
    Napi::Value x = a.Get(k);
    std::string what = std::string(key) + "[" + std::to_string(k) + "]";
    if (!x.IsNumber()) bad_argument(obj.Env(), what + " must be an integer");
    out.push_back(checked_int(x.As<Napi::Number>().DoubleValue(), what, obj.Env()));
  }
  return out;
}

// An optional list of numbers (longrope's factor lists; native code checks them); absent: empty.
std::vector<float> float_list(const Napi::Object& obj, const char* key, const std::string& where) {
  std::vector<float> out;
  Napi::Value v = obj.Get(key);
  if (v.IsUndefined() || v.IsNull()) return out;
  if (!v.IsArray()) bad_argument(obj.Env(), where + " must be an array of numbers");
  auto a = v.As<Napi::Array>();
  for (uint32_t k = 0; k < a.Length(); ++k) {
    Napi::Value x = a.Get(k);
    if (!x.IsNumber()) {
      bad_argument(obj.Env(), where + "[" + std::to_string(k) + "] must be a number");
    }
    out.push_back(static_cast<float>(x.As<Napi::Number>().DoubleValue()));
  }
  return out;
}
}  // namespace

ModelConfig to_model_config(const Napi::Object& o) {
  ModelConfig c;
  c.model_type = get_string(o, "model_type", "");
  c.hidden_size = get_int(o, "hidden_size", 0);
  c.num_hidden_layers = get_int(o, "num_hidden_layers", 0);
  c.intermediate_size = get_int(o, "intermediate_size", 0);
  c.num_attention_heads = get_int(o, "num_attention_heads", 0);
  c.num_key_value_heads = get_int(o, "num_key_value_heads", c.num_attention_heads);
  c.head_dim =
      get_int(o, "head_dim", c.num_attention_heads ? c.hidden_size / c.num_attention_heads : 0);
  c.vocab_size = get_int(o, "vocab_size", 0);
  c.max_position_embeddings = get_int(o, "max_position_embeddings", 0);
  c.rms_norm_eps = static_cast<float>(get_number(o, "rms_norm_eps", 1e-6));
  c.rope_theta = static_cast<float>(get_number(o, "rope_theta", 10000.0));
  c.rope_traditional = get_bool(o, "rope_traditional", false);
  c.partial_rotary_factor = static_cast<float>(get_number(o, "partial_rotary_factor", 1.0));
  c.query_pre_attn_scalar = static_cast<float>(get_number(o, "query_pre_attn_scalar", 0.0));
  c.rope_local_base_freq = static_cast<float>(get_number(o, "rope_local_base_freq", 10000.0));
  c.sliding_window = get_int(o, "sliding_window", 0);
  c.sliding_window_pattern = get_int(o, "sliding_window_pattern", 0);
  c.embedding_multiplier = static_cast<float>(get_number(o, "embedding_multiplier", 1.0));
  c.attention_multiplier = static_cast<float>(get_number(o, "attention_multiplier", 0.0));
  c.residual_multiplier = static_cast<float>(get_number(o, "residual_multiplier", 1.0));
  c.logits_scaling = static_cast<float>(get_number(o, "logits_scaling", 1.0));
  c.tie_word_embeddings = get_bool(o, "tie_word_embeddings", false);
  c.attention_bias = get_bool(o, "attention_bias", false);
  c.mlp_bias = get_bool(o, "mlp_bias", false);
  c.num_experts = get_int(o, "num_experts", 0);
  c.num_experts_per_tok = get_int(o, "num_experts_per_tok", 0);
  c.moe_intermediate_size = get_int(o, "moe_intermediate_size", 0);
  c.decoder_sparse_step = get_int(o, "decoder_sparse_step", 1);
  c.mlp_only_layers = int_list(o, "mlp_only_layers");
  c.norm_topk_prob = get_bool(o, "norm_topk_prob", false);
  Napi::Value rs = o.Get("rope_scaling");
  if (rs.IsObject()) {
    auto r = rs.As<Napi::Object>();
    c.rope_scaling.type = get_string(r, "type", "default");
    c.rope_scaling.factor = static_cast<float>(get_number(r, "factor", 1.0));
    c.rope_scaling.low_freq_factor = static_cast<float>(get_number(r, "low_freq_factor", 1.0));
    c.rope_scaling.high_freq_factor = static_cast<float>(get_number(r, "high_freq_factor", 4.0));
    c.rope_scaling.original_max_position_embeddings =
        get_int(r, "original_max_position_embeddings", 8192);
    c.rope_scaling.short_factor = float_list(r, "short_factor", "rope_scaling.short_factor");
    c.rope_scaling.long_factor = float_list(r, "long_factor", "rope_scaling.long_factor");
  }
  Napi::Value q = o.Get("quantization");
  if (q.IsObject()) {
    auto qo = q.As<Napi::Object>();
    Napi::Value base = qo.Get("base");
    if (base.IsObject()) c.quantization.base = to_quant_spec(base, "quantization.base");
    Napi::Value ov = qo.Get("overrides");
    if (ov.IsObject()) {
      auto ovo = ov.As<Napi::Object>();
      Napi::Array keys = ovo.GetPropertyNames();
      for (uint32_t k = 0; k < keys.Length(); ++k) {
        std::string path = keys.Get(k).As<Napi::String>().Utf8Value();
        c.quantization.overrides[path] = to_quant_spec(ovo.Get(path), "quantization." + path);
      }
    }
  }
  return c;
}

GenerateRequest to_generate_request(const Napi::Object& o) {
  GenerateRequest r;
  Napi::Value prompts = o.Get("prompts");
  if (!prompts.IsArray()) bad_argument(o.Env(), "prompts must be an array of token arrays");
  auto arr = prompts.As<Napi::Array>();
  if (arr.Length() == 0) bad_argument(o.Env(), "prompts must not be empty");
  for (uint32_t k = 0; k < arr.Length(); ++k) {
    auto tokens = to_tokens(arr.Get(k), ("prompts[" + std::to_string(k) + "]").c_str());
    if (tokens.empty()) bad_argument(o.Env(), "prompts[" + std::to_string(k) + "] is empty");
    r.prompts.push_back(std::move(tokens));
  }
  r.max_tokens = get_int(o, "maxTokens", 256);
  if (r.max_tokens < 0) bad_argument(o.Env(), "maxTokens must be >= 0");
  r.prefill_step = get_int(o, "prefillStep", 512);
  if (r.prefill_step < 1) bad_argument(o.Env(), "prefillStep must be >= 1");
  r.min_shared_prefix = get_int(o, "minSharedPrefix", 32);
  if (r.min_shared_prefix < 0) bad_argument(o.Env(), "minSharedPrefix must be >= 0");
  auto& s = r.sampling;
  s.temperature = static_cast<float>(get_number(o, "temperature", 0.0));
  s.top_p = static_cast<float>(get_number(o, "topP", 1.0));
  s.top_k = get_int(o, "topK", 0);
  s.min_p = static_cast<float>(get_number(o, "minP", 0.0));
  s.repetition_penalty = static_cast<float>(get_number(o, "repetitionPenalty", 1.0));
  s.repetition_context = get_int(o, "repetitionContext", 20);
  Napi::Value seed = o.Get("seed");
  if (seed.IsNumber()) s.seed = static_cast<uint64_t>(seed.As<Napi::Number>().Int64Value());
  if (s.temperature < 0) bad_argument(o.Env(), "temperature must be >= 0");
  if (s.top_p <= 0 || s.top_p > 1) bad_argument(o.Env(), "topP must be in (0, 1]");
  if (s.top_k < 0) bad_argument(o.Env(), "topK must be >= 0");
  if (s.min_p < 0 || s.min_p >= 1) bad_argument(o.Env(), "minP must be in [0, 1)");
  for (int id :
       to_tokens(o.Has("eosIds") ? o.Get("eosIds") : Napi::Array::New(o.Env()), "eosIds")) {
    r.eos_ids.insert(id);
  }
  read_grammars(o, r);
  read_sampling_extras(o, r);
  read_prompt_cache(o, r);
  return r;
}

// logitBiasIds/logitBiasValues, logprobs and the XTC options, as src/model/sampling-options.ts
// checked and laid them out (only their types are checked here).
void read_sampling_extras(const Napi::Object& o, GenerateRequest& r) {
  Napi::Env env = o.Env();
  auto& s = r.sampling;
  s.xtc_probability = static_cast<float>(get_number(o, "xtcProbability", 0.0));
  s.xtc_threshold = static_cast<float>(get_number(o, "xtcThreshold", 0.1));
  auto present = [&](const char* key) { return !o.Get(key).IsUndefined(); };
  if (present("xtcSpecialTokens")) {
    s.xtc_special_tokens = to_tokens(o.Get("xtcSpecialTokens"), "xtcSpecialTokens");
  }
  r.logprobs = get_int(o, "logprobs", -1);
  if (!present("logitBiasIds")) return;
  auto ids = to_tokens(o.Get("logitBiasIds"), "logitBiasIds");
  Napi::Value values = o.Get("logitBiasValues");
  if (!values.IsTypedArray() ||
      values.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    bad_argument(env, "logitBiasValues must be a Float32Array");
  }
  auto v = values.As<Napi::Float32Array>();
  if (v.ElementLength() != ids.size()) {
    bad_argument(env, "logitBiasIds and logitBiasValues must have the same length");
  }
  for (size_t i = 0; i < ids.size(); ++i) r.logit_bias.emplace_back(ids[i], v[i]);
}

}  // namespace mlxlab::js
