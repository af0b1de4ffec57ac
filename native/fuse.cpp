#include "fuse.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <set>

#include "errors.h"
#include "io/safetensors.h"
#include "models/registry.h"
#include "nn/weights.h"

namespace mlxlab {

namespace {

namespace fs = std::filesystem;

std::string str(int v) { return std::to_string(v); }

template <size_t N>
std::string join_ints(const int (&values)[N]) {
  std::string out;
  for (size_t i = 0; i < N; ++i) out += (i ? ", " : "") + str(values[i]);
  return out;
}

bool same_spec(const std::optional<QuantSpec>& a, const std::optional<QuantSpec>& b) {
  if (!a || !b) return !a && !b;
  return a->bits == b->bits && a->group_size == b->group_size && a->mode == b->mode;
}

// One layer that can be quantized: a linear, an expert (switch) linear or the embedding.
struct ModuleRef {
  std::string path;
  std::optional<QuantSpec> quant;  // as stored
  int input_dims = 0;
  bool is_switch = false;
};

// The quantizable layers in mlx-lm's parameter order.
std::vector<ModuleRef> quantizable_modules(DecoderModel& m) {
  std::vector<ModuleRef> out;
  auto& e = m.embed_tokens();
  out.push_back({e.path, e.quant, e.dims, false});
  auto linear = [&](const nn::Linear& l) { out.push_back({l.path, l.quant, l.input_dims, false}); };
  auto expert = [&](const nn::SwitchLinear& l) {
    out.push_back({l.path, l.quant, l.input_dims, true});
  };
  for (auto& b : m.layers()) {
    for (auto* l : b.self_attn.projections()) linear(*l);
    if (b.mlp) {
      for (auto* l : b.mlp->projections()) linear(*l);
    }
    if (b.moe) {
      linear(b.moe->gate);
      for (auto* l : {&b.moe->gate_proj, &b.moe->up_proj, &b.moe->down_proj}) expert(*l);
    }
  }
  auto linears = m.linears();
  if (!linears.empty() && linears.back()->path == "lm_head") linear(*linears.back());
  return out;
}

// Weight names in the order mlx-lm's tree_flatten(model.parameters()) lists them.
std::vector<std::string> parameter_order(DecoderModel& m, const Weights& weights) {
  std::vector<std::string> paths;
  paths.push_back(m.embed_tokens().path);
  for (auto& b : m.layers()) {
    auto& a = b.self_attn;
    for (auto* l : a.projections()) paths.push_back(l->path);
    if (a.q_norm) paths.push_back(a.q_norm->path);
    if (a.k_norm) paths.push_back(a.k_norm->path);
    if (b.mlp) {
      for (auto* l : b.mlp->projections()) paths.push_back(l->path);
    }
    if (b.moe) {
      paths.push_back(b.moe->gate.path);
      for (auto* l : {&b.moe->gate_proj, &b.moe->up_proj, &b.moe->down_proj})
        paths.push_back(l->path);
    }
    paths.push_back(b.input_layernorm.path);
    paths.push_back(b.post_attention_layernorm.path);
    if (b.pre_feedforward_layernorm) paths.push_back(b.pre_feedforward_layernorm->path);
    if (b.post_feedforward_layernorm) paths.push_back(b.post_feedforward_layernorm->path);
  }
  paths.push_back(m.norm().path);
  paths.push_back("lm_head");
  std::vector<std::string> order;
  std::set<std::string> seen;
  for (const auto& p : paths) {
    for (const char* suffix : {".weight", ".scales", ".biases", ".bias"}) {
      auto name = p + suffix;
      if (weights.count(name) && seen.insert(name).second) order.push_back(name);
    }
  }
  std::vector<std::string> rest;
  for (const auto& [name, a] : weights) {
    if (!seen.count(name)) rest.push_back(name);
  }
  std::sort(rest.begin(), rest.end());
  order.insert(order.end(), rest.begin(), rest.end());
  return order;
}

// mlx_lm.utils.quantize_model's predicate for a full-precision layer: quantize when the group
// size divides its input dims, with the architecture's quant_predicate (qwen3_moe's router: 8
// bits, group 64).
std::optional<QuantSpec> convert_spec(const ModuleRef& m, const QuantSpec& spec,
                                      const std::string& model_type) {
  if (m.input_dims % spec.group_size != 0) return std::nullopt;
  const auto* arch = find_architecture(model_type);
  QuantSpec s = arch && arch->quant_spec ? arch->quant_spec(m.path, spec) : spec;
  if (m.input_dims % s.group_size != 0) return std::nullopt;
  return s;
}

// The spec most layers have (ties: the first seen in model order).
std::optional<QuantSpec> commonest(const std::vector<std::optional<QuantSpec>>& specs) {
  std::vector<std::pair<QuantSpec, int>> counts;
  for (const auto& s : specs) {
    if (!s) continue;
    auto it = std::find_if(counts.begin(), counts.end(),
                           [&](const auto& c) { return same_spec(c.first, s); });
    if (it == counts.end()) {
      counts.push_back({*s, 1});
    } else {
      ++it->second;
    }
  }
  if (counts.empty()) return std::nullopt;
  auto best = std::max_element(counts.begin(), counts.end(),
                               [](const auto& a, const auto& b) { return a.second < b.second; });
  return best->first;
}

// What the adapter adds to one layer.
struct Delta {
  mx::array lora_a, lora_b;
  std::optional<mx::array> m;  // DoRA magnitude
};

// scale * z keeping z's dtype (a Python float times an array in mlx-lm).
mx::array scaled(float scale, const mx::array& z) {
  return mx::multiply(mx::array(scale, z.dtype()), z);
}

// mlx-lm's LoRALinear.fuse / DoRALinear.fuse / LoRASwitchLinear.fuse on a dense weight.
mx::array apply_delta(const mx::array& w, const Delta& d, float scale, bool is_switch) {
  if (is_switch) {
    // lora_a [E, r, in], lora_b [E, out, r]: weight + (scale * lora_b @ lora_a).astype(dtype)
    int experts = w.shape(0);
    int in = w.shape(-1);
    auto a = mx::reshape(d.lora_a, {experts, -1, in});
    return mx::add(w, mx::astype(mx::matmul(scaled(scale, d.lora_b), a), w.dtype()));
  }
  auto delta = mx::matmul(scaled(scale, mx::transpose(d.lora_b)), mx::transpose(d.lora_a));
  auto fused = mx::add(w, mx::astype(delta, w.dtype()));
  if (!d.m) return fused;
  auto norm_scale = mx::divide(*d.m, mx::linalg::norm(fused, std::vector<int>{1}));
  return mx::multiply(mx::expand_dims(norm_scale, 1), fused);
}

struct Plan {
  const ModelConfig* config = nullptr;
  WeightOptions options;
  bool fuse = false;
  std::optional<QuantSpec> requested;     // fuse with bits/group size; convert with quantize
  bool base_quantized = false;            // some layer of the base is quantized
  std::optional<QuantSpec> base_default;  // the base's default spec
};

std::optional<QuantSpec> target_spec(const ModuleRef& m, const Plan& p) {
  const auto& stored = m.quant;
  if (p.options.dequantize) return std::nullopt;
  if (p.fuse) {
    if (!p.requested) return stored;  // mlx-lm: each fused layer keeps its own quantization
    if (!p.base_quantized) return convert_spec(m, *p.requested, p.config->model_type);
    if (!stored) return std::nullopt;  // the base left it in full precision
    bool is_default = !p.base_default || same_spec(stored, p.base_default);
    if (!is_default) return stored;  // a per-layer spec of the base stays
    if (m.input_dims % p.requested->group_size != 0) return stored;
    return p.requested;
  }
  if (stored) return stored;
  if (p.options.quantize) return convert_spec(m, *p.requested, p.config->model_type);
  return std::nullopt;
}

// A layer the adapter leaves alone, stored with fewer bits than the target in the same groups:
// its values lie on a coarser grid than the target's, so re-quantizing can only move them.
bool gains_only_rounding(const std::optional<QuantSpec>& stored,
                         const std::optional<QuantSpec>& target) {
  return stored && target && stored->mode == target->mode &&
         stored->group_size == target->group_size && stored->bits < target->bits;
}

void put(Weights& w, const std::string& name, const mx::array& a) { w.insert_or_assign(name, a); }

// Apply the plan (and the adapter's deltas) to `weights`, the model's stored parameters.
ModelWeights transform(DecoderModel& model, Weights weights, const Plan& plan,
                       const std::map<std::string, Delta>& deltas, float scale,
                       const FuseProgressFn& progress) {
  ModelWeights out;
  const auto& options = plan.options;
  if (options.dtype) {
    for (auto& [name, a] : weights) {
      if (mx::issubdtype(a.dtype(), mx::floating) && a.dtype() != *options.dtype) {
        a = mx::astype(a, *options.dtype);
      }
    }
  }
  auto mods = quantizable_modules(model);
  struct Step {
    const ModuleRef* module;
    std::optional<QuantSpec> target;
    const Delta* delta;
  };
  std::vector<Step> steps;
  std::vector<std::optional<QuantSpec>> finals;
  std::set<std::string> adapted;
  for (const auto& m : mods) {
    auto target = target_spec(m, plan);
    auto it = deltas.find(m.path);
    const Delta* delta = it == deltas.end() ? nullptr : &it->second;
    if (!delta && gains_only_rounding(m.quant, target)) target = m.quant;
    if (delta) adapted.insert(m.path);
    finals.push_back(target);
    if (target) out.module_bits[m.path] = target->bits;
    if (!delta && same_spec(m.quant, target)) {
      ++out.kept;
      continue;
    }
    steps.push_back({&m, target, delta});
  }
  for (const auto& [path, d] : deltas) {
    if (!adapted.count(path))
      fail(codes::kInternal, "fuse: no layer \"" + path + "\" for the adapter");
  }

  int done = 0;
  for (const auto& s : steps) {
    const auto& m = *s.module;
    const std::string wname = m.path + ".weight";
    auto w = weights.at(wname);
    if (m.quant) {
      std::optional<mx::array> biases;
      if (weights.count(m.path + ".biases")) biases = weights.at(m.path + ".biases");
      w = mx::dequantize(w, weights.at(m.path + ".scales"), biases, m.quant->group_size,
                         m.quant->bits, m.quant->mode);
      weights.erase(m.path + ".scales");
      weights.erase(m.path + ".biases");
    }
    if (s.delta) w = apply_delta(w, *s.delta, scale, m.is_switch);
    std::vector<mx::array> made;
    if (s.target) {
      auto q = mx::quantize(w, s.target->group_size, s.target->bits, s.target->mode);
      put(weights, wname, q[0]);
      put(weights, m.path + ".scales", q[1]);
      if (q.size() > 2) put(weights, m.path + ".biases", q[2]);
      made = q;
    } else {
      put(weights, wname, w);
      made = {w};
    }
    mx::eval(made);
    if (s.delta) ++out.fused;
    if (m.quant && s.target) {
      ++out.requantized;
    } else if (m.quant) {
      ++out.dequantized;
    } else if (s.target) {
      ++out.quantized;
    }
    ++done;
    if (progress) progress({"fuse", done, static_cast<int>(steps.size()), m.path});
  }
  {
    std::vector<mx::array> all;
    for (auto& [name, a] : weights) all.push_back(a);
    mx::eval(all);
  }

  // The quantization config.json must carry.
  if (std::any_of(finals.begin(), finals.end(), [](const auto& s) { return s.has_value(); })) {
    QuantConfig q;
    if (plan.requested && (plan.fuse || !plan.base_quantized)) {
      q.base = plan.requested;
    } else if (plan.base_default) {
      q.base = plan.base_default;
    } else {
      q.base = commonest(finals);
    }
    for (size_t i = 0; i < mods.size(); ++i) {
      if (finals[i] && !same_spec(finals[i], q.base)) q.overrides[mods[i].path] = finals[i];
    }
    out.quantization = q;
  }
  out.order = parameter_order(model, weights);
  out.weights = std::move(weights);
  return out;
}

DecoderModel& decoder_of(Model& model) {
  auto* d = as_decoder(model);
  if (!d)
    fail(codes::kArgument,
         "fuse and convert need a decoder model (" + supported_architectures() + ")");
  return *d;
}

Plan make_plan(DecoderModel& model, const WeightOptions& options, bool fuse) {
  check_quant_choice(options.bits, options.group_size);
  if (options.dequantize && (options.bits || options.group_size || options.quantize)) {
    fail(codes::kArgument, options.quantize
                               ? "choose either quantize or dequantize, not both"
                               : "dequantize keeps full precision: it takes no bits or group size");
  }
  Plan p;
  p.config = &model.config();
  p.options = options;
  p.fuse = fuse;
  std::vector<std::optional<QuantSpec>> stored;
  for (const auto& m : quantizable_modules(model)) stored.push_back(m.quant);
  p.base_quantized =
      std::any_of(stored.begin(), stored.end(), [](const auto& s) { return s.has_value(); });
  if (p.base_quantized) {
    p.base_default =
        model.config().quantization.base ? model.config().quantization.base : commonest(stored);
  }
  bool wants_spec = options.bits || options.group_size;
  if (fuse && wants_spec) {
    QuantSpec r;
    r.bits = options.bits.value_or(p.base_default ? p.base_default->bits : 4);
    r.group_size = options.group_size.value_or(p.base_default ? p.base_default->group_size : 64);
    r.mode = "affine";
    p.requested = r;
  } else if (!fuse && options.quantize) {
    QuantSpec r;
    r.bits = options.bits.value_or(4);
    r.group_size = options.group_size.value_or(64);
    r.mode = "affine";
    p.requested = r;
  } else if (!fuse && wants_spec) {
    fail(codes::kArgument, "bits and group size need quantize (-q)");
  }
  return p;
}

}  // namespace

void check_quant_choice(std::optional<int> bits, std::optional<int> group_size) {
  if (bits &&
      std::find(std::begin(kQuantBits), std::end(kQuantBits), *bits) == std::end(kQuantBits)) {
    fail(codes::kArgument,
         "bits " + str(*bits) + " is not supported (choose one of " + join_ints(kQuantBits) + ")");
  }
  if (group_size && std::find(std::begin(kQuantGroupSizes), std::end(kQuantGroupSizes),
                              *group_size) == std::end(kQuantGroupSizes)) {
    fail(codes::kArgument, "group size " + str(*group_size) + " is not supported (choose one of " +
                               join_ints(kQuantGroupSizes) + ")");
  }
}

ModelWeights fuse_adapter(const std::shared_ptr<Model>& model, const LoraConfig& lora,
                          const std::string& adapter_file, const WeightOptions& options,
                          const FuseProgressFn& progress) {
  auto& decoder = decoder_of(*model);
  Plan plan = make_plan(decoder, options, true);
  mx::array key = mx::random::key(0);
  Adapter adapter(model, lora, key);  // detaches when it goes out of scope, also on errors
  adapter.load(adapter_file);
  Weights params = adapter.parameters();
  std::map<std::string, Delta> deltas;
  if (lora.fine_tune_type != "full") {
    for (const auto& [name, a] : params) {
      if (!name.ends_with(".lora_a")) continue;
      auto path = name.substr(0, name.size() - 7);
      Delta d{a, params.at(path + ".lora_b"), std::nullopt};
      if (auto it = params.find(path + ".m"); it != params.end()) d.m = it->second;
      deltas.emplace(path, d);
    }
  }
  // Full fine-tuning: the model's parameters are the trained ones while attached.
  Weights weights = decoder.parameters();
  return transform(decoder, std::move(weights), plan, deltas, adapter.config().scale, progress);
}

ModelWeights convert_weights(Model& model, const WeightOptions& options,
                             const FuseProgressFn& progress) {
  auto& decoder = decoder_of(model);
  Plan plan = make_plan(decoder, options, false);
  return transform(decoder, decoder.parameters(), plan, {}, 0.0f, progress);
}

SavedShards save_model_shards(const std::string& dir, const ModelWeights& mw,
                              uint64_t max_shard_bytes, const FuseProgressFn& progress) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) fail(codes::kArgument, dir + ": not a folder");
  if (max_shard_bytes == 0) fail(codes::kArgument, "the maximum shard size must be > 0");
  // mlx-lm's make_shards: a new shard when the next tensor would pass the limit.
  std::vector<std::vector<std::string>> shards;
  uint64_t shard_size = 0;
  SavedShards out;
  for (const auto& name : mw.order) {
    const auto& a = mw.weights.at(name);
    uint64_t bytes = a.nbytes();
    if (shards.empty() || shard_size + bytes > max_shard_bytes) {
      shards.emplace_back();
      shard_size = 0;
    }
    shards.back().push_back(name);
    shard_size += bytes;
    out.total_size += bytes;
  }
  if (shards.empty()) fail(codes::kArgument, "no weights to save");
  int n = static_cast<int>(shards.size());
  for (int i = 0; i < n; ++i) {
    std::string file = "model.safetensors";
    if (n > 1) {
      char buf[64];
      std::snprintf(buf, sizeof(buf), "model-%05d-of-%05d.safetensors", i + 1, n);
      file = buf;
    }
    Weights shard;
    for (const auto& name : shards[i]) {
      shard.insert_or_assign(name, mw.weights.at(name));
      out.weight_map.emplace_back(name, file);
    }
    save_safetensors_file((fs::path(dir) / file).string(), shard, {{"format", "mlx"}});
    out.files.push_back(file);
    if (progress) progress({"save", i + 1, n, file});
  }
  std::sort(out.weight_map.begin(), out.weight_map.end());
  // mlx-lm's get_total_parameters: quantized modules count weight.size * 32 / bits (+ bias).
  for (const auto& [name, a] : mw.weights) {
    auto dot = name.rfind('.');
    std::string module = dot == std::string::npos ? name : name.substr(0, dot);
    std::string suffix = dot == std::string::npos ? "" : name.substr(dot + 1);
    auto bits = mw.module_bits.find(module);
    if (bits != mw.module_bits.end()) {
      if (suffix == "scales" || suffix == "biases") continue;
      if (suffix == "weight") {
        out.total_parameters += static_cast<uint64_t>(a.size()) * 32 / bits->second;
        continue;
      }
    }
    out.total_parameters += a.size();
  }
  return out;
}

}  // namespace mlxlab
