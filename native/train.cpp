#include "train.h"

#include <cmath>
#include <filesystem>

#include "errors.h"
#include "io/safetensors.h"
#include "mlx/compile_impl.h"

namespace mlxlab {

namespace {

constexpr const char* kStateFormat = "mlx-lab-train-state";
constexpr const char* kMeta = "mlx_lab.";

// mlx.nn.losses.cross_entropy(logits, targets) with class indices, reduction "none".
mx::array cross_entropy(const mx::array& logits, const mx::array& targets) {
  if (mx::default_device() == mx::Device::gpu && mx::issubdtype(logits.dtype(), mx::floating)) {
    return mx::astype(mx::fast::cross_entropy(logits, targets), logits.dtype());
  }
  auto l = mx::subtract(logits, mx::stop_gradient(mx::max(logits, -1, true)));
  auto score = mx::squeeze(mx::take_along_axis(l, mx::expand_dims(targets, -1), -1), -1);
  return mx::subtract(mx::logsumexp(l, -1), score);
}

// Puts the model's trainable slots back to the real values and switches training off, whatever
// happened in between (a trace leaves tracer arrays in the slots).
class SlotGuard {
 public:
  SlotGuard(Adapter& adapter, const std::vector<mx::array>& values)
      : adapter_(adapter), values_(values) {}
  ~SlotGuard() {
    adapter_.set_values(values_);
    adapter_.context().training = false;
    adapter_.context().dropout_keys.reset();
  }

 private:
  Adapter& adapter_;
  const std::vector<mx::array>& values_;
};

std::string str(uint64_t v) { return std::to_string(v); }

}  // namespace

std::pair<mx::array, mx::array> masked_cross_entropy(const mx::array& logits,
                                                     const mx::array& targets,
                                                     const mx::array& lengths) {
  int B = targets.shape(0), T = targets.shape(1);
  auto steps = mx::arange(1, T + 1, mx::int32);
  auto mask = mx::logical_and(mx::greater_equal(steps, mx::slice(lengths, {0, 0}, {B, 1})),
                              mx::less_equal(steps, mx::slice(lengths, {0, 1}, {B, 2})));
  auto ce = mx::multiply(cross_entropy(logits, targets), mask);
  auto ntoks = mx::sum(mask);
  auto loss = mx::divide(mx::sum(mx::astype(ce, mx::float32)), ntoks);
  return {loss, ntoks};
}

Trainer::Trainer(std::shared_ptr<Model> model, const TrainConfig& config)
    : model_(std::move(model)), config_(config) {
  decoder_ = as_decoder(*model_);
  if (!decoder_) fail(codes::kConfig, "training needs a decoder model (llama, qwen3, qwen3_moe)");
  if (config_.grad_accumulation_steps < 1) {
    fail(codes::kConfig, "grad_accumulation_steps must be at least 1, got " +
                             std::to_string(config_.grad_accumulation_steps));
  }
  optimizer_ = std::make_unique<Optimizer>(config_.optimizer);
  // As mlx-lm: mx.random.seed(seed), then the adapter's draws, then (here) dropout keys.
  auto key = mx::random::key(config_.seed);
  adapter_ = std::make_unique<Adapter>(model_, config_.lora, key);
  key_ = key;
  mx::eval(key_);
  params_ = adapter_->values();
  state_ = optimizer_->init(params_);
  mx::eval(state_);
  layer_slots_.resize(decoder_->layers().size());
  const auto& slots = adapter_->slots();
  for (size_t i = 0; i < slots.size(); ++i) {
    if (slots[i].layer >= 0) layer_slots_[slots[i].layer].push_back(i);
  }
}

Trainer::~Trainer() {
  if (config_.compile) {
    auto cache = mx::detail::compile_cache();
    auto base = reinterpret_cast<std::uintptr_t>(this);
    for (std::uintptr_t k = 0; k < 3; ++k) mx::detail::compile_erase(cache, base + k);
  }
}

void Trainer::load_adapter(const std::string& path) {
  check_attached();
  adapter_->load(path);
  params_ = adapter_->values();
}

void Trainer::save_adapter(const std::string& path) const {
  check_attached();
  adapter_->save(path);
}

void Trainer::detach() {
  if (adapter_) adapter_->detach();
}

void Trainer::check_attached() const {
  if (!attached()) fail(codes::kDisposed, "the adapter has been detached from the model");
}

void Trainer::check_batch(const Batch& b) const {
  if (b.tokens.ndim() != 2 || b.tokens.shape(1) < 2) {
    fail(codes::kArgument, "a batch needs tokens of shape [batch, length >= 2], got " +
                               nn::shape_string(b.tokens.shape()));
  }
  int B = b.tokens.shape(0), L = b.tokens.shape(1);
  if (b.lengths.ndim() != 2 || b.lengths.shape(0) != B || b.lengths.shape(1) != 2) {
    fail(codes::kArgument, "a batch needs lengths of shape [batch, 2] (offset, length)");
  }
  auto tokens = mx::astype(b.tokens, mx::int32);
  auto lengths = mx::astype(b.lengths, mx::int32);
  mx::eval(tokens, lengths);
  model_->check_token_ids(tokens.data<int32_t>(), tokens.size(), "the batch");
  const int32_t* p = lengths.data<int32_t>();
  int64_t total = 0;
  for (int r = 0; r < B; ++r) {
    int offset = p[2 * r], length = p[2 * r + 1];
    if (length < 1 || length > L) {
      fail(codes::kArgument, "row " + std::to_string(r) + ": length " + std::to_string(length) +
                                 " is outside [1, " + std::to_string(L) + "]");
    }
    if (offset < 0) fail(codes::kArgument, "row " + std::to_string(r) + ": negative offset");
    total += std::max(0, std::min(length, L - 1) - std::max(offset, 1) + 1);
  }
  if (total == 0) {
    fail(codes::kArgument, "the batch has no target tokens (every position is masked by its "
                           "offsets and lengths)");
  }
}

mx::array Trainer::forward(const mx::array& inputs) {
  auto& layers = decoder_->layers();
  auto h = decoder_->embed_tokens()(inputs);
  for (size_t i = 0; i < layers.size(); ++i) {
    if (!config_.grad_checkpoint) {
      h = layers[i](h, std::nullopt, nullptr, std::nullopt);
      continue;
    }
    // mlx-lm's grad_checkpoint: the block's trainable arrays go in as inputs, so the
    // recomputation in the backward pass sees (and differentiates) them.
    std::vector<size_t> own = layer_slots_[i];
    Adapter* adapter = adapter_.get();
    DecoderBlock* block = &layers[i];
    auto fn = [adapter, block, own](const std::vector<mx::array>& in) {
      auto& slots = adapter->slots();
      for (size_t k = 0; k < own.size(); ++k) *slots[own[k]].value = in[1 + k];
      return std::vector<mx::array>{(*block)(in[0], std::nullopt, nullptr, std::nullopt)};
    };
    std::vector<mx::array> in{h};
    for (auto idx : own) in.push_back(*adapter_->slots()[idx].value);
    h = mx::checkpoint(fn)(in)[0];
  }
  return decoder_->lm_head(decoder_->norm()(h));
}

// inputs: trainable arrays..., tokens, lengths[, dropout key]
std::vector<mx::array> Trainer::loss_fn(const std::vector<mx::array>& inputs, bool training) {
  size_t P = params_.size();
  std::vector<mx::array> values(inputs.begin(), inputs.begin() + P);
  adapter_->set_values(values);
  const auto& tokens = inputs[P];
  const auto& lengths = inputs[P + 1];
  auto& ctx = adapter_->context();
  ctx.training = training;
  ctx.dropout_keys.reset();
  if (training && config_.lora.dropout > 0 && adapter_->dropout_sites() > 0 && inputs.size() > P + 2) {
    ctx.dropout_keys = mx::random::split(inputs[P + 2], adapter_->dropout_sites());
  }
  int B = tokens.shape(0), L = tokens.shape(1);
  auto in = mx::slice(tokens, {0, 0}, {B, L - 1});
  auto targets = mx::slice(tokens, {0, 1}, {B, L});
  auto [loss, ntoks] = masked_cross_entropy(forward(in), targets, lengths);
  return {loss, ntoks};
}

// inputs: trainable arrays..., tokens, lengths, dropout key[, accumulated grads...]
// outputs: loss, ntoks, grads...
std::vector<mx::array> Trainer::grad_fn(const std::vector<mx::array>& inputs) {
  size_t P = params_.size();
  std::vector<int> argnums(P);
  for (size_t i = 0; i < P; ++i) argnums[i] = static_cast<int>(i);
  auto vag = mx::value_and_grad(
      [this](const std::vector<mx::array>& in) { return loss_fn(in, true); }, argnums);
  std::vector<mx::array> fn_in(inputs.begin(), inputs.begin() + P + 3);
  auto [values, grads] = vag(fn_in);
  std::vector<mx::array> out{values[0], values[1]};
  for (size_t i = 0; i < P; ++i) {
    out.push_back(inputs.size() > P + 3 ? mx::add(grads[i], inputs[P + 3 + i]) : grads[i]);
  }
  return out;
}

// inputs: grads..., params..., optimizer state...; outputs: params..., state...
std::vector<mx::array> Trainer::update_fn(const std::vector<mx::array>& inputs) {
  size_t P = params_.size();
  std::vector<mx::array> grads(inputs.begin(), inputs.begin() + P);
  std::vector<mx::array> params(inputs.begin() + P, inputs.begin() + 2 * P);
  std::vector<mx::array> state(inputs.begin() + 2 * P, inputs.end());
  int k = config_.grad_accumulation_steps;
  if (k > 1) {
    for (auto& g : grads) g = mx::divide(g, mx::astype(mx::array(static_cast<float>(k)), g.dtype()));
  }
  auto [new_params, new_state] = optimizer_->update(grads, params, state);
  std::vector<mx::array> out = std::move(new_params);
  out.insert(out.end(), new_state.begin(), new_state.end());
  return out;
}

std::vector<mx::array> Trainer::run_grad(const std::vector<mx::array>& inputs) {
  SlotGuard guard(*adapter_, params_);
  if (!config_.compile) return grad_fn(inputs);
  auto base = reinterpret_cast<std::uintptr_t>(this);
  bool with_accum = inputs.size() > params_.size() + 3;
  auto fn = mx::detail::compile([this](const std::vector<mx::array>& in) { return grad_fn(in); },
                                base + (with_accum ? 1 : 0));
  return fn(inputs);
}

std::vector<mx::array> Trainer::run_update(const std::vector<mx::array>& inputs) {
  if (!config_.compile) return update_fn(inputs);
  if (!compiled_update_) {
    compiled_update_ = mx::detail::compile(
        [this](const std::vector<mx::array>& in) { return update_fn(in); },
        reinterpret_cast<std::uintptr_t>(this) + 2);
  }
  return compiled_update_(inputs);
}

StepResult Trainer::step(const Batch& batch) {
  check_attached();
  check_batch(batch);
  try {
    return step_impl(batch);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    fail(codes::kTrain, "training step " + str(iteration_ + 1) + " failed: " + e.what());
  }
}

StepResult Trainer::step_impl(const Batch& batch) {
  size_t P = params_.size();
  auto [carry, sub] = mx::random::split(key_);
  std::vector<mx::array> inputs = params_;
  inputs.push_back(mx::astype(batch.tokens, mx::int32));
  inputs.push_back(mx::astype(batch.lengths, mx::int32));
  inputs.push_back(sub);
  if (accum_) inputs.insert(inputs.end(), accum_->begin(), accum_->end());
  auto out = run_grad(inputs);
  mx::eval(out);

  StepResult r;
  r.loss = out[0].item<float>();
  r.tokens = out[1].item<int32_t>();
  if (!std::isfinite(r.loss)) {
    r.non_finite = true;
    r.iteration = iteration_;
    r.step = optimizer_step();
    r.learning_rate = learning_rate();
    return r;
  }
  key_ = carry;
  ++iteration_;
  std::vector<mx::array> grads(out.begin() + 2, out.end());
  out.clear();
  if (iteration_ % static_cast<uint64_t>(config_.grad_accumulation_steps) == 0) {
    std::vector<mx::array> upd_in = std::move(grads);
    upd_in.insert(upd_in.end(), params_.begin(), params_.end());
    upd_in.insert(upd_in.end(), state_.begin(), state_.end());
    auto upd = run_update(upd_in);
    upd_in.clear();
    params_.assign(upd.begin(), upd.begin() + P);
    state_.assign(upd.begin() + P, upd.end());
    adapter_->set_values(params_);
    std::vector<mx::array> all = params_;
    all.insert(all.end(), state_.begin(), state_.end());
    mx::eval(all);
    accum_.reset();
    r.updated = true;
  } else {
    accum_ = std::move(grads);
  }
  r.iteration = iteration_;
  r.step = optimizer_step();
  r.learning_rate = learning_rate();
  return r;
}

Gradients Trainer::gradients(const Batch& batch) {
  check_attached();
  check_batch(batch);
  auto [carry, sub] = mx::random::split(key_);
  std::vector<mx::array> inputs = params_;
  inputs.push_back(mx::astype(batch.tokens, mx::int32));
  inputs.push_back(mx::astype(batch.lengths, mx::int32));
  inputs.push_back(sub);
  std::vector<mx::array> out;
  {
    SlotGuard guard(*adapter_, params_);
    out = grad_fn(inputs);
  }
  mx::eval(out);
  Gradients g;
  g.loss = out[0].item<float>();
  g.tokens = out[1].item<int32_t>();
  const auto& slots = adapter_->slots();
  for (size_t i = 0; i < slots.size(); ++i) g.grads.insert_or_assign(slots[i].name, out[2 + i]);
  return g;
}

EvalResult Trainer::evaluate(const std::vector<Batch>& batches) {
  check_attached();
  if (batches.empty()) fail(codes::kArgument, "evaluate needs at least one batch");
  for (const auto& b : batches) check_batch(b);
  auto all_losses = mx::array(0.0f);
  auto ntokens = mx::array(0, mx::int32);
  for (const auto& b : batches) {
    std::vector<mx::array> inputs = params_;
    inputs.push_back(mx::astype(b.tokens, mx::int32));
    inputs.push_back(mx::astype(b.lengths, mx::int32));
    std::vector<mx::array> out;
    {
      SlotGuard guard(*adapter_, params_);
      out = loss_fn(inputs, false);
    }
    all_losses = mx::add(all_losses, mx::multiply(out[0], out[1]));
    ntokens = mx::add(ntokens, out[1]);
    mx::eval(all_losses, ntokens);
  }
  EvalResult r;
  r.loss = mx::divide(all_losses, ntokens).item<float>();
  r.tokens = ntokens.item<int32_t>();
  return r;
}

uint64_t Trainer::optimizer_step() const { return state_[0].item<uint64_t>(); }

double Trainer::learning_rate() const { return state_[1].item<float>(); }

void Trainer::set_learning_rate(double lr) {
  optimizer_->set_learning_rate(lr);
  config_.optimizer = optimizer_->config();
  state_[1] = optimizer_->learning_rate_array();
  mx::eval(state_[1]);
  if (compiled_update_) {
    mx::detail::compile_erase(mx::detail::compile_cache(), reinterpret_cast<std::uintptr_t>(this) + 2);
    compiled_update_ = nullptr;
  }
}

void Trainer::save_state(const std::string& path,
                         const std::unordered_map<std::string, std::string>& metadata) const {
  check_attached();
  std::vector<std::string> names;
  for (const auto& s : adapter_->slots()) names.push_back(s.name);
  Weights w = optimizer_->state_weights(state_, names);
  w.insert_or_assign("mlx_lab.rng_key", key_);
  w.insert_or_assign("mlx_lab.iteration", mx::array(iteration_, mx::uint64));
  if (accum_) {
    for (size_t i = 0; i < names.size(); ++i) {
      w.insert_or_assign("mlx_lab.grad_accum." + names[i], (*accum_)[i]);
    }
  }
  std::unordered_map<std::string, std::string> meta;
  for (const auto& [k, v] : metadata) {
    if (k.rfind(kMeta, 0) == 0 || k == "format") {
      fail(codes::kArgument, "state metadata key \"" + k + "\" is reserved");
    }
    meta[k] = v;
  }
  meta["format"] = "mlx";
  meta["mlx_lab.format"] = kStateFormat;
  meta["mlx_lab.optimizer"] = config_.optimizer.name;
  meta["mlx_lab.fine_tune_type"] = config_.lora.fine_tune_type;
  meta["mlx_lab.grad_accumulation_steps"] = std::to_string(config_.grad_accumulation_steps);
  save_safetensors_file(path, w, meta);
}

std::unordered_map<std::string, std::string> Trainer::load_state(const std::string& path) {
  check_attached();
  auto [w, meta] = load_safetensors_file(path);
  auto it = meta.find("mlx_lab.format");
  if (it == meta.end() || it->second != kStateFormat) {
    fail(codes::kWeights, path + ": not an mlx-lab training state file (no \"mlx_lab.format\": \"" +
                              kStateFormat + "\" in its metadata)");
  }
  if (meta["mlx_lab.optimizer"] != config_.optimizer.name) {
    fail(codes::kConfig, path + ": the state was saved by optimizer \"" + meta["mlx_lab.optimizer"] +
                             "\", this trainer uses \"" + config_.optimizer.name + "\"");
  }
  if (meta["mlx_lab.fine_tune_type"] != config_.lora.fine_tune_type) {
    fail(codes::kConfig, path + ": the state was saved for fine_tune_type \"" +
                             meta["mlx_lab.fine_tune_type"] + "\", this trainer uses \"" +
                             config_.lora.fine_tune_type + "\"");
  }
  std::vector<std::string> names;
  for (const auto& s : adapter_->slots()) names.push_back(s.name);
  auto state = optimizer_->state_from_weights(w, names, params_, path);
  auto key_it = w.find("mlx_lab.rng_key");
  auto iter_it = w.find("mlx_lab.iteration");
  if (key_it == w.end() || key_it->second.dtype() != mx::uint32 || key_it->second.shape() != mx::Shape{2}) {
    fail(codes::kWeights, path + ": missing or malformed \"mlx_lab.rng_key\"");
  }
  if (iter_it == w.end() || iter_it->second.dtype() != mx::uint64 || iter_it->second.ndim() != 0) {
    fail(codes::kWeights, path + ": missing or malformed \"mlx_lab.iteration\"");
  }
  uint64_t iteration = iter_it->second.item<uint64_t>();
  std::optional<std::vector<mx::array>> accum;
  if (iteration % static_cast<uint64_t>(config_.grad_accumulation_steps) != 0) {
    accum.emplace();
    for (size_t i = 0; i < names.size(); ++i) {
      auto key = "mlx_lab.grad_accum." + names[i];
      auto g = w.find(key);
      if (g == w.end()) {
        fail(codes::kWeights, path + ": iteration " + str(iteration) +
                                  " is inside a gradient accumulation (grad_accumulation_steps=" +
                                  std::to_string(config_.grad_accumulation_steps) +
                                  ") but \"" + key + "\" is missing");
      }
      if (g->second.shape() != params_[i].shape()) {
        fail(codes::kWeights, path + ": \"" + key + "\" has shape " +
                                  nn::shape_string(g->second.shape()) + ", expected " +
                                  nn::shape_string(params_[i].shape()));
      }
      accum->push_back(g->second);
    }
  }
  state_ = std::move(state);
  key_ = key_it->second;
  iteration_ = iteration;
  accum_ = std::move(accum);
  std::unordered_map<std::string, std::string> user;
  for (const auto& [k, v] : meta) {
    if (k.rfind(kMeta, 0) != 0 && k != "format") user[k] = v;
  }
  return user;
}

}  // namespace mlxlab
