#include "lora.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <unordered_map>

#include "errors.h"
#include "io/safetensors.h"
#include "models/registry.h"

namespace mlxlab {

namespace {

std::string str(int v) { return std::to_string(v); }

// mlx.nn.Dropout with an explicit key: (bernoulli(1 - p) * x) * (1 / (1 - p)), in training only.
mx::array dropout(const mx::array& x, float p, int site, const AdapterContext& ctx) {
  if (p <= 0.0f || !ctx.training || !ctx.dropout_keys) return x;
  float keep = 1.0f - p;
  auto key = mx::take(*ctx.dropout_keys, site, 0);
  auto mask = mx::random::bernoulli(mx::array(keep), x.shape(), key);
  return mx::multiply(mx::multiply(mask, x), mx::array(1.0f / keep, x.dtype()));
}

// scale * z as mlx-lm writes it (a Python float times an array keeps the array's dtype).
mx::array scaled(float scale, const mx::array& z) {
  return mx::multiply(mx::array(scale, z.dtype()), z);
}

class LoraLinearBranch : public nn::LoraBranch {
 public:
  mx::array lora_a = mx::array(0.0f), lora_b = mx::array(0.0f);
  float scale = 20.0f;
  float p = 0.0f;
  int site = 0;
  std::shared_ptr<AdapterContext> ctx;

  mx::array apply(const mx::array& x, const mx::array& y) const override {
    if (ctx->bypass) return y;
    auto z = mx::matmul(mx::matmul(dropout(x, p, site, *ctx), lora_a), lora_b);
    return mx::add(y, mx::astype(scaled(scale, z), x.dtype()));
  }
  Weights parameters() const override { return {{"lora_a", lora_a}, {"lora_b", lora_b}}; }
};

class LoraSwitchBranch : public nn::SwitchLoraBranch {
 public:
  mx::array lora_a = mx::array(0.0f), lora_b = mx::array(0.0f);  // [E, r, in], [E, out, r]
  float scale = 20.0f;
  float p = 0.0f;
  int site = 0;
  std::shared_ptr<AdapterContext> ctx;

  mx::array apply(const mx::array& x, const mx::array& indices, bool sorted,
                  const mx::array& y) const override {
    if (ctx->bypass) return y;
    auto z = mx::gather_mm(dropout(x, p, site, *ctx), mx::swapaxes(lora_a, -1, -2), std::nullopt,
                           indices, sorted);
    z = mx::gather_mm(z, mx::swapaxes(lora_b, -1, -2), std::nullopt, indices, sorted);
    return mx::add(y, mx::astype(scaled(scale, z), x.dtype()));
  }
  Weights parameters() const override { return {{"lora_a", lora_a}, {"lora_b", lora_b}}; }
};

// mlx-lm's DoRALinear: the base output is recomputed from the (dequantized) weight without its
// bias, the LoRA term added, each output row rescaled by m / ||W + scale * B^T A^T||, then the
// bias added.
class DoraLinearBranch : public nn::LoraBranch {
 public:
  mx::array lora_a = mx::array(0.0f), lora_b = mx::array(0.0f), m = mx::array(0.0f);
  float scale = 20.0f;
  float p = 0.0f;
  int site = 0;
  const nn::Linear* linear = nullptr;
  std::shared_ptr<AdapterContext> ctx;

  mx::array apply(const mx::array& x, const mx::array& base_out) const override {
    if (ctx->bypass) return base_out;
    auto w = linear->dense_weight();
    auto y = mx::matmul(x, mx::transpose(w));
    auto z = mx::matmul(mx::matmul(dropout(x, p, site, *ctx), lora_a), lora_b);
    auto out = mx::add(y, mx::astype(scaled(scale, z), x.dtype()));
    auto adapted =
        mx::add(w, mx::matmul(scaled(scale, mx::transpose(lora_b)), mx::transpose(lora_a)));
    auto denom = mx::stop_gradient(mx::linalg::norm(adapted, std::vector<int>{1}));
    out = mx::multiply(mx::astype(mx::divide(m, denom), x.dtype()), out);
    if (linear->bias) out = mx::add(out, *linear->bias);
    return out;
  }
  Weights parameters() const override { return {{"lora_a", lora_a}, {"lora_b", lora_b}, {"m", m}}; }
};

// mlx.core.random's default key sequence: next() splits the key and hands out the second half.
mx::array next_key(mx::array& key) {
  auto [carry, sub] = mx::random::split(key);
  key = carry;
  return sub;
}

// One module a block can adapt, with its path relative to the block.
struct BlockModule {
  std::string rel;
  nn::Linear* linear = nullptr;
  nn::SwitchLinear* switch_linear = nullptr;
};

// The linear layers of a block in the order mlx-lm's named_modules() visits them (a stack:
// children in reverse definition order, depth first): the MLP's (or MoE's) before attention's.
std::vector<BlockModule> block_modules(DecoderBlock& b) {
  std::vector<BlockModule> out;
  // "mlp.up_proj" for "model.layers.N.mlp.up_proj", in reverse definition order.
  auto reversed = [&](const char* parent, const std::vector<nn::Linear*>& linears) {
    for (auto it = linears.rbegin(); it != linears.rend(); ++it) {
      const auto& path = (*it)->path;
      out.push_back({parent + path.substr(path.rfind('.') + 1), *it, nullptr});
    }
  };
  if (b.mlp) reversed("mlp.", b.mlp->projections());
  if (b.moe) {
    out.push_back({"mlp.switch_mlp.down_proj", nullptr, &b.moe->down_proj});
    out.push_back({"mlp.switch_mlp.up_proj", nullptr, &b.moe->up_proj});
    out.push_back({"mlp.switch_mlp.gate_proj", nullptr, &b.moe->gate_proj});
    out.push_back({"mlp.gate", &b.moe->gate, nullptr});
  }
  reversed("self_attn.", b.self_attn.projections());
  return out;
}

// Every parameter of a block for full fine-tuning: (name, array, quantized owner?).
struct BlockParam {
  std::string name;
  mx::array* value;
  bool quantized;
  std::optional<mx::array>* compute = nullptr;  // the layer's float32 compute copy, if any
};

std::vector<BlockParam> block_parameters(DecoderBlock& b) {
  std::vector<BlockParam> out;
  auto linear = [&](nn::Linear& l) {
    out.push_back({l.path + ".weight", &l.weight, l.quantized(), &l.compute_weight});
    if (l.bias) out.push_back({l.path + ".bias", &*l.bias, l.quantized()});
  };
  auto switch_linear = [&](nn::SwitchLinear& l) {
    out.push_back({l.path + ".weight", &l.weight, l.quantized(), &l.compute_weight});
    if (l.bias) out.push_back({l.path + ".bias", &*l.bias, l.quantized()});
  };
  auto norm = [&](nn::RMSNorm& n) { out.push_back({n.path + ".weight", &n.weight, false}); };
  norm(b.input_layernorm);
  norm(b.post_attention_layernorm);
  if (b.pre_feedforward_layernorm) norm(*b.pre_feedforward_layernorm);
  if (b.post_feedforward_layernorm) norm(*b.post_feedforward_layernorm);
  auto& a = b.self_attn;
  for (auto* l : a.projections()) linear(*l);
  if (a.q_norm) norm(*a.q_norm);
  if (a.k_norm) norm(*a.k_norm);
  if (b.mlp) {
    for (auto* l : b.mlp->projections()) linear(*l);
  }
  if (b.moe) {
    linear(b.moe->gate);
    for (auto* l : {&b.moe->gate_proj, &b.moe->up_proj, &b.moe->down_proj}) switch_linear(*l);
  }
  return out;
}

// Models with an attached adapter (engine thread only): one adapter per model at a time.
std::set<const Model*>& attached_models() {
  static std::set<const Model*> models;
  return models;
}

std::string join_names(const std::vector<std::string>& names, size_t max = 12) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < max; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > max) out += ", ...";
  return out;
}

// Every linear by its full path, in the order of mlx-lm's second pass over named_modules():
// the linears last to first (lm_head first), then the expert linears.
std::vector<BlockModule> model_modules(DecoderModel& model) {
  std::vector<BlockModule> out;
  auto linears = model.linears();
  for (auto it = linears.rbegin(); it != linears.rend(); ++it)
    out.push_back({(*it)->path, *it, nullptr});
  for (auto* l : model.switch_linears()) out.push_back({l->path, nullptr, l});
  return out;
}

// The block a module path lies in ("model.layers.N."), or -1 outside the blocks.
int layer_of(const std::string& path, int n_layers) {
  int layer = -1;
  for (int i = 0; i < n_layers; ++i) {
    if (path.rfind("model.layers." + str(i) + ".", 0) == 0) layer = i;
  }
  return layer;
}

}  // namespace

std::vector<std::string> default_lora_keys(DecoderModel& model) {
  std::vector<std::string> keys;
  for (auto& b : model.layers()) {
    for (auto& m : block_modules(b)) {
      if (std::find(keys.begin(), keys.end(), m.rel) == keys.end()) keys.push_back(m.rel);
    }
  }
  return keys;
}

Adapter::Adapter(std::shared_ptr<Model> model, const LoraConfig& config, mx::array& init_key)
    : model_(std::move(model)), config_(config), context_(std::make_shared<AdapterContext>()) {
  decoder_ = as_decoder(*model_);
  if (!decoder_)
    fail(codes::kConfig, "adapters need a decoder model (" + supported_architectures() + ")");
  if (attached_models().count(model_.get())) {
    fail(codes::kConfig, "this model already has an adapter attached (detach it first)");
  }
  const auto& c = config_;
  const std::string& type = c.fine_tune_type;
  if (type != "lora" && type != "dora" && type != "full") {
    fail(codes::kConfig, "fine_tune_type \"" + type + "\" is not supported (lora, dora, full)");
  }
  auto& layers = decoder_->layers();
  int n_layers = static_cast<int>(layers.size());
  if (c.num_layers > n_layers) {
    fail(codes::kConfig, "num_layers=" + str(c.num_layers) + " but the model only has " +
                             str(n_layers) + " layers (use -1 for all)");
  }
  int first = c.num_layers <= 0 ? 0 : n_layers - c.num_layers;

  if (type == "full") {
    for (int i = first; i < n_layers; ++i) {
      for (auto& p : block_parameters(layers[i])) {
        if (p.quantized) {
          fail(codes::kConfig, "fine_tune_type \"full\" needs full-precision weights, but \"" +
                                   p.name +
                                   "\" is quantized (use lora or dora for a quantized model)");
        }
        slots_.push_back({p.name, p.value, i});
        originals_.emplace_back(p.value, *p.value);
        // A float32 compute copy (compute policy) would hide the trained weight: drop it while
        // training, put it back on detach.
        if (p.compute) computes_.emplace_back(p.compute, *p.compute);
      }
    }
    for (auto& [compute, saved] : computes_) compute->reset();
    attached_ = true;
    attached_models().insert(model_.get());
    return;
  }

  if (c.rank < 1) fail(codes::kConfig, "lora_parameters.rank must be >= 1, got " + str(c.rank));
  if (!(c.dropout >= 0.0f && c.dropout < 1.0f)) {
    fail(codes::kConfig,
         "lora_parameters.dropout must be in [0, 1), got " + std::to_string(c.dropout));
  }
  if (!std::isfinite(c.scale)) fail(codes::kConfig, "lora_parameters.scale must be finite");

  // Which modules: block-relative keys in the chosen blocks, then full paths anywhere.
  std::vector<std::string> keys = c.keys ? *c.keys : default_lora_keys(*decoder_);
  std::set<std::string> key_set(keys.begin(), keys.end());
  std::set<std::string> matched;
  std::vector<std::pair<BlockModule, int>> chosen;  // module, layer
  for (int i = 0; i < n_layers; ++i) {
    for (auto& m : block_modules(layers[i])) {
      if (!key_set.count(m.rel)) continue;
      matched.insert(m.rel);
      if (i >= first) chosen.push_back({m, i});
    }
  }
  std::set<const void*> taken;
  for (auto& [m, layer] : chosen)
    taken.insert(m.linear ? static_cast<const void*>(m.linear) : m.switch_linear);
  // Model-level full paths (mlx-lm's second pass over model.named_modules()).
  std::vector<std::pair<BlockModule, int>> model_level;
  for (auto& m : model_modules(*decoder_)) {
    if (!key_set.count(m.rel)) continue;
    matched.insert(m.rel);
    if (taken.count(m.linear ? static_cast<const void*>(m.linear) : m.switch_linear)) {
      fail(codes::kConfig,
           "lora_parameters.keys: \"" + m.rel + "\" names a layer another key already adapts");
    }
    model_level.push_back({m, layer_of(m.rel, n_layers)});
  }
  for (const auto& k : keys) {
    if (matched.count(k)) continue;
    if (k == "model.embed_tokens" || k == "embed_tokens") {
      fail(codes::kConfig,
           "lora_parameters.keys: \"" + k + "\": LoRA on the embedding is not supported");
    }
    fail(codes::kConfig,
         "lora_parameters.keys: \"" + k + "\" matches no linear layer (block keys: " +
             join_names(default_lora_keys(*decoder_), 20) + "; or a full path such as lm_head)");
  }
  chosen.insert(chosen.end(), model_level.begin(), model_level.end());
  if (chosen.empty()) fail(codes::kConfig, "lora_parameters.keys: no layer to adapt");

  bool dora = type == "dora";
  for (auto& [m, layer] : chosen) {
    if (m.switch_linear && dora) {
      fail(codes::kConfig, "DoRA does not support the expert (switch) linears such as \"" +
                               m.switch_linear->path +
                               "\" (mlx-lm does not either); leave them out with keys");
    }
    if ((m.linear && m.linear->lora) || (m.switch_linear && m.switch_linear->lora)) {
      fail(codes::kConfig, "layer \"" + m.rel + "\" already has an adapter");
    }
  }
  try {
    for (auto& [m, layer] : chosen) {
      // mlx-lm first builds a throwaway base layer (one random draw), then draws lora_a.
      next_key(init_key);
      auto a_key = next_key(init_key);
      if (m.linear) {
        nn::Linear& l = *m.linear;
        linears_.push_back(&l);
        double bound = 1.0 / std::sqrt(static_cast<double>(l.input_dims));
        auto a = mx::random::uniform(mx::array(static_cast<float>(-bound)),
                                     mx::array(static_cast<float>(bound)), {l.input_dims, c.rank},
                                     mx::float32, a_key);
        auto b = mx::zeros({c.rank, l.output_dims}, mx::float32);
        if (dora) {
          auto br = std::make_shared<DoraLinearBranch>();
          br->lora_a = a;
          br->lora_b = b;
          br->m = mx::linalg::norm(mx::astype(l.dense_weight(), mx::float32), std::vector<int>{1});
          br->scale = c.scale;
          br->p = c.dropout;
          br->site = dropout_sites_++;
          br->linear = &l;
          br->ctx = context_;
          slots_.push_back({l.path + ".lora_a", &br->lora_a, layer});
          slots_.push_back({l.path + ".lora_b", &br->lora_b, layer});
          slots_.push_back({l.path + ".m", &br->m, layer});
          l.lora = br;
          branches_.push_back(br);
        } else {
          auto br = std::make_shared<LoraLinearBranch>();
          br->lora_a = a;
          br->lora_b = b;
          br->scale = c.scale;
          br->p = c.dropout;
          br->site = dropout_sites_++;
          br->ctx = context_;
          slots_.push_back({l.path + ".lora_a", &br->lora_a, layer});
          slots_.push_back({l.path + ".lora_b", &br->lora_b, layer});
          l.lora = br;
          branches_.push_back(br);
        }
      } else {
        nn::SwitchLinear& l = *m.switch_linear;
        switch_linears_.push_back(&l);
        double bound = 1.0 / std::sqrt(static_cast<double>(l.input_dims));
        auto br = std::make_shared<LoraSwitchBranch>();
        br->lora_a = mx::random::uniform(mx::array(static_cast<float>(-bound)),
                                         mx::array(static_cast<float>(bound)),
                                         {l.num_experts, c.rank, l.input_dims}, mx::float32, a_key);
        br->lora_b = mx::zeros({l.num_experts, l.output_dims, c.rank}, mx::float32);
        br->scale = c.scale;
        br->p = c.dropout;
        br->site = dropout_sites_++;
        br->ctx = context_;
        slots_.push_back({l.path + ".lora_a", &br->lora_a, layer});
        slots_.push_back({l.path + ".lora_b", &br->lora_b, layer});
        l.lora = br;
        branches_.push_back(br);
      }
    }
    std::vector<mx::array> init = values();
    mx::eval(init);
  } catch (...) {
    for (auto* l : linears_) l->lora.reset();
    for (auto* l : switch_linears_) l->lora.reset();
    throw;
  }
  attached_ = true;
  attached_models().insert(model_.get());
}

Adapter::~Adapter() { detach(); }

void Adapter::detach() {
  if (!attached_) return;
  for (auto* l : linears_) l->lora.reset();
  for (auto* l : switch_linears_) l->lora.reset();
  for (auto& [slot, original] : originals_) *slot = original;
  for (auto& [compute, saved] : computes_) *compute = saved;
  attached_ = false;
  attached_models().erase(model_.get());
}

std::vector<mx::array> Adapter::values() const {
  std::vector<mx::array> out;
  out.reserve(slots_.size());
  for (const auto& s : slots_) out.push_back(*s.value);
  return out;
}

void Adapter::set_values(const std::vector<mx::array>& values) {
  if (values.size() != slots_.size()) {
    fail(codes::kInternal, "set_values: " + std::to_string(values.size()) + " arrays for " +
                               std::to_string(slots_.size()) + " slots");
  }
  for (size_t i = 0; i < slots_.size(); ++i) *slots_[i].value = values[i];
  for (auto& [compute, saved] : computes_) compute->reset();
}

Weights Adapter::parameters() const {
  Weights out;
  for (const auto& s : slots_) out.insert_or_assign(s.name, *s.value);
  return out;
}

size_t Adapter::parameter_count() const {
  size_t n = 0;
  for (const auto& s : slots_) n += s.value->size();
  return n;
}

void Adapter::load_parameters(const Weights& weights, const std::string& source) {
  std::unordered_map<std::string, size_t> index;
  for (size_t i = 0; i < slots_.size(); ++i) index.emplace(slots_[i].name, i);
  std::vector<std::string> names;
  for (const auto& [name, a] : weights) names.push_back(name);
  std::sort(names.begin(), names.end());
  auto model_params = model_->parameters();
  for (const auto& name : names) {
    const auto& a = weights.at(name);
    auto it = index.find(name);
    if (it == index.end()) {
      std::string hint;
      auto dot = name.rfind('.');
      std::string module = dot == std::string::npos ? name : name.substr(0, dot);
      bool module_exists = model_params.count(module + ".weight") > 0;
      if (config_.fine_tune_type == "full") {
        hint =
            model_params.count(name)
                ? " (it is outside the " + std::to_string(config_.num_layers) + " trained layers)"
                : " (the model has no such weight)";
      } else if (!module_exists) {
        hint = " (the model has no layer \"" + module + "\")";
      } else {
        hint = " (layer \"" + module +
               "\" has no adapter: num_layers=" + std::to_string(config_.num_layers) +
               ", fine_tune_type=" + config_.fine_tune_type +
               (config_.keys ? ", keys=[" + join_names(*config_.keys) + "]" : "") + ")";
      }
      fail(codes::kWeights,
           source + ": \"" + name + "\" is not an adapter parameter of this model" + hint);
    }
    const auto& slot = slots_[it->second];
    if (a.shape() != slot.value->shape()) {
      fail(codes::kWeights,
           source + ": \"" + name + "\" has shape " + nn::shape_string(a.shape()) +
               ", the adapter expects " + nn::shape_string(slot.value->shape()) +
               (config_.fine_tune_type == "full" ? std::string()
                                                 : " (rank " + std::to_string(config_.rank) + ")"));
    }
    if (!mx::issubdtype(a.dtype(), mx::floating)) {
      fail(codes::kWeights, source + ": \"" + name + "\" is not a floating-point tensor");
    }
  }
  for (const auto& name : names) *slots_[index.at(name)].value = weights.at(name);
  std::vector<mx::array> v = values();
  mx::eval(v);
}

void Adapter::load(const std::string& file) {
  auto [weights, metadata] = load_safetensors_file(file);
  load_parameters(weights, file);
}

void Adapter::save(const std::string& file) const {
  save_safetensors_file(file, parameters(), {{"format", "mlx"}});
}

}  // namespace mlxlab
