#include "harness.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "errors.h"
#include "json.h"

namespace fs = std::filesystem;
namespace mx = mlx::core;

namespace testing {

std::vector<Case>& cases() {
  static std::vector<Case> all;
  return all;
}

std::string root() {
  static std::string found = [] {
    auto dir = fs::current_path();
    while (true) {
      if (fs::exists(dir / "test" / "fixtures")) return dir.string();
      if (dir == dir.parent_path()) return std::string(".");
      dir = dir.parent_path();
    }
  }();
  return found;
}

std::string fixture(const std::string& relative) { return root() + "/test/fixtures/" + relative; }

bool exists(const std::string& path) { return fs::exists(path); }

std::vector<std::string> weight_files(const std::string& folder) {
  std::vector<std::string> files;
  for (auto& entry : fs::directory_iterator(folder)) {
    auto name = entry.path().filename().string();
    if (name.rfind("model", 0) == 0 && entry.path().extension() == ".safetensors") {
      files.push_back(entry.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

namespace {

int get_int(const testjson::Value& c, const char* key, int fallback) {
  return c.has(key) && c[key].is_number() ? static_cast<int>(c[key].number()) : fallback;
}
float get_float(const testjson::Value& c, const char* key, float fallback) {
  return c.has(key) && c[key].is_number() ? static_cast<float>(c[key].number()) : fallback;
}
bool get_bool(const testjson::Value& c, const char* key, bool fallback) {
  return c.has(key) && c[key].is_bool() ? c[key].boolean() : fallback;
}

mlxlab::QuantSpec quant_spec(const testjson::Value& q) {
  mlxlab::QuantSpec s;
  s.group_size = get_int(q, "group_size", 64);
  s.bits = get_int(q, "bits", 4);
  if (q.has("mode")) s.mode = q["mode"].str();
  return s;
}

}  // namespace

mlxlab::ModelConfig read_config(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  auto c = testjson::parse(text.str());
  mlxlab::ModelConfig m;
  m.model_type = c["model_type"].str();
  m.hidden_size = get_int(c, "hidden_size", 0);
  m.num_hidden_layers = get_int(c, "num_hidden_layers", 0);
  m.intermediate_size = get_int(c, "intermediate_size", 0);
  m.num_attention_heads = get_int(c, "num_attention_heads", 0);
  m.num_key_value_heads = get_int(c, "num_key_value_heads", 0);
  m.head_dim = get_int(c, "head_dim", 0);
  m.vocab_size = get_int(c, "vocab_size", 0);
  m.max_position_embeddings = get_int(c, "max_position_embeddings", 0);
  m.rms_norm_eps = get_float(c, "rms_norm_eps", 1e-6f);
  m.rope_theta = get_float(c, "rope_theta", 10000.0f);
  m.rope_traditional = get_bool(c, "rope_traditional", false);
  // mlx-lm's llama defaults tie_word_embeddings to true.
  m.tie_word_embeddings = get_bool(c, "tie_word_embeddings", m.model_type == "llama");
  m.attention_bias = get_bool(c, "attention_bias", false);
  m.mlp_bias = get_bool(c, "mlp_bias", false);
  m.num_experts = get_int(c, "num_experts", 0);
  m.num_experts_per_tok = get_int(c, "num_experts_per_tok", 0);
  m.moe_intermediate_size = get_int(c, "moe_intermediate_size", 0);
  m.decoder_sparse_step = get_int(c, "decoder_sparse_step", 1);
  m.norm_topk_prob = get_bool(c, "norm_topk_prob", false);
  if (c.has("mlp_only_layers")) {
    for (auto& v : c["mlp_only_layers"].array())
      m.mlp_only_layers.push_back(static_cast<int>(v.number()));
  }
  if (c.has("rope_scaling") && c["rope_scaling"].is_object()) {
    auto& r = c["rope_scaling"];
    if (r.has("type"))
      m.rope_scaling.type = r["type"].str();
    else if (r.has("rope_type"))
      m.rope_scaling.type = r["rope_type"].str();
    m.rope_scaling.factor = get_float(r, "factor", 1.0f);
    m.rope_scaling.low_freq_factor = get_float(r, "low_freq_factor", 1.0f);
    m.rope_scaling.high_freq_factor = get_float(r, "high_freq_factor", 4.0f);
    m.rope_scaling.original_max_position_embeddings =
        get_int(r, "original_max_position_embeddings", 8192);
  }
  if (c.has("quantization") && c["quantization"].is_object()) {
    auto& q = c["quantization"];
    m.quantization.base = quant_spec(q);
    for (auto& [key, value] : q.object()) {
      if (value.is_object())
        m.quantization.overrides[key] = quant_spec(value);
      else if (value.is_bool() && !value.boolean())
        m.quantization.overrides[key] = std::nullopt;
    }
  }
  return m;
}

double max_abs_diff(const mx::array& a, const mx::array& b) {
  auto d = mx::max(mx::abs(mx::subtract(mx::astype(a, mx::float32), mx::astype(b, mx::float32))));
  return d.item<float>();
}

std::vector<int> to_ints(const mx::array& a) {
  auto i = mx::astype(mx::flatten(a), mx::int32);
  mx::eval(i);
  const int32_t* p = i.data<int32_t>();
  return std::vector<int>(p, p + i.size());
}

std::string join(const std::vector<int>& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + std::to_string(v[i]);
  return out;
}

void expect_error(const std::function<void()>& fn, const std::string& code,
                  const std::string& needle) {
  try {
    fn();
  } catch (const mlxlab::Error& e) {
    std::string msg = e.what();
    if (e.code() != code || msg.find(needle) == std::string::npos) {
      throw Failure("expected Error(" + code + ") containing \"" + needle + "\", got Error(" +
                    e.code() + "): " + msg);
    }
    std::cout << "    ok: " << e.code() << ": " << msg << "\n";
    return;
  } catch (const std::exception& e) {
    throw Failure("expected Error(" + code + "), got a plain exception: " + e.what());
  }
  throw Failure("expected Error(" + code + ") containing \"" + needle + "\", nothing thrown");
}

}  // namespace testing
