#include "train.h"

#include <cmath>
#include <filesystem>

#include "distributed.h"
#include "errors.h"
#include "io/safetensors.h"
#include "models/registry.h"
#include "slot_guard.h"

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

std::string str(uint64_t v) { return std::to_string(v); }

// A shard's (loss, ntoks, grads...) as token-weighted sums: (loss * n, n, grads * n...). Summed
// over shards they give the whole batch's sums (mlx-lm's default_loss divides by the tokens).
// A shard without targets (its loss is 0 / 0) adds zeros.
std::vector<mx::array> token_weighted(const std::vector<mx::array>& out) {
  auto ntoks = mx::astype(out[1], mx::float32);
  auto has = mx::greater(ntoks, mx::array(0.0f));
  auto weigh = [&](const mx::array& x) {
    return mx::where(has, mx::multiply(x, ntoks), mx::zeros_like(x));
  };
  std::vector<mx::array> w{weigh(out[0]), ntoks};
  for (size_t i = 2; i < out.size(); ++i) w.push_back(weigh(out[i]));
  return w;
}

// Summed token-weighted values back to (loss, ntoks, grads...) of the whole batch, in the
// dtypes of `like`.
std::vector<mx::array> token_weighted_mean(const std::vector<mx::array>& summed,
                                           const std::vector<mx::array>& like) {
  auto total = summed[1];
  std::vector<mx::array> out{mx::divide(summed[0], total), mx::astype(total, mx::int32)};
  for (size_t i = 2; i < summed.size(); ++i) {
    out.push_back(mx::astype(mx::divide(summed[i], total), like[i].dtype()));
  }
  mx::eval(out);
  return out;
}

// The rows [from, to) of a batch.
Batch shard_rows(const Batch& b, int from, int to) {
  return {mx::slice(b.tokens, {from, 0}, {to, b.tokens.shape(1)}),
          mx::slice(b.lengths, {from, 0}, {to, 2})};
}

// Shard r of n gets its own dropout key, drawn from the step's key.
mx::array shard_key(const mx::array& key, int r, int n) {
  return mx::take(mx::random::split(key, n), r, 0);
}

}  // namespace

mx::array target_positions(const mx::array& lengths, int L) {
  auto host = mx::astype(lengths, mx::int32);
  mx::eval(host);
  const int32_t* p = host.data<int32_t>();
  int T = L - 1;
  std::vector<int32_t> flat;
  for (int r = 0; r < host.shape(0); ++r) {
    for (int t = std::max(p[2 * r] - 1, 0); t < std::min(p[2 * r + 1], T); ++t) {
      flat.push_back(r * T + t);
    }
  }
  if (flat.empty()) return mx::zeros({0}, mx::int32);  // a data-parallel shard without targets
  return mx::array(flat.data(), {static_cast<int>(flat.size())}, mx::int32);
}

std::pair<mx::array, mx::array> target_cross_entropy(const mx::array& logits,
                                                     const mx::array& targets) {
  auto ntoks = mx::array(static_cast<int32_t>(targets.size()), mx::int32);
  auto ce = mx::astype(cross_entropy(logits, targets), mx::float32);
  return {mx::divide(mx::sum(ce), ntoks), ntoks};
}

Trainer::Trainer(std::shared_ptr<Model> model, const TrainConfig& config)
    : model_(std::move(model)), config_(config) {
  decoder_ = as_decoder(*model_);
  if (!decoder_)
    fail(codes::kConfig, "training needs a decoder model (" + supported_architectures() + ")");
  if (config_.local_shards < 1) fail(codes::kConfig, "local_shards must be at least 1");
  if (config_.grad_accumulation_steps < 1) {
    fail(codes::kConfig, "grad_accumulation_steps must be at least 1, got " +
                             std::to_string(config_.grad_accumulation_steps));
  }
  if (!config_.inference) optimizer_ = std::make_unique<Optimizer>(config_.optimizer);
  // As mlx-lm: mx.random.seed(seed), then the adapter's draws, then (here) dropout keys.
  auto key = mx::random::key(config_.seed);
  adapter_ = std::make_unique<Adapter>(model_, config_.lora, key);
  key_ = key;
  mx::eval(key_);
  params_ = adapter_->values();
  if (optimizer_) {
    state_ = optimizer_->init(params_);
    mx::eval(state_);
  }
  layer_slots_.resize(decoder_->layers().size());
  const auto& slots = adapter_->slots();
  for (size_t i = 0; i < slots.size(); ++i) {
    if (slots[i].layer >= 0) layer_slots_[slots[i].layer].push_back(i);
  }
  // Blocks below the first trainable one never change (none when anything outside the blocks,
  // such as the embedding, trains).
  frozen_layers_ = layer_slots_.size();
  for (const auto& slot : slots) {
    frozen_layers_ = slot.layer < 0 ? 0 : std::min(frozen_layers_, static_cast<size_t>(slot.layer));
  }
  if (config_.compile || config_.shared_prefix.empty()) frozen_layers_ = 0;
  int vocab = decoder_->config().vocab_size;
  for (int t : config_.shared_prefix) {
    if (t < 0 || t >= vocab) {
      fail(codes::kConfig, "shared_prefix has token id " + std::to_string(t) +
                               " outside the vocabulary [0, " + std::to_string(vocab) + ")");
    }
  }
}

// The compiled functions erase their compile-cache entries as they are destroyed.
Trainer::~Trainer() = default;

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

void Trainer::check_optimizer(const char* what) const {
  if (!optimizer_) {
    fail(codes::kArgument, std::string("the adapter was attached for inference (no optimizer): ") +
                               what + " needs a trainer");
  }
}

void Trainer::check_batch(const Batch& b, bool allow_no_targets) const {
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
  if (total == 0 && !allow_no_targets) {
    fail(codes::kArgument,
         "the batch has no target tokens (every position is masked by its "
         "offsets and lengths)");
  }
}

// The trainable arrays, the tokens and the positions the loss counts: every graph's first inputs.
// Also decides whether this batch runs the frozen blocks on its shared prefix from the cache.
std::vector<mx::array> Trainer::inputs_for(const Batch& batch) {
  use_prefix_ = frozen_layers_ > 0 && starts_with_prefix(batch.tokens);
  if (use_prefix_ && !prefix_hidden_) build_prefix();
  std::vector<mx::array> inputs = params_;
  inputs.push_back(mx::astype(batch.tokens, mx::int32));
  inputs.push_back(target_positions(batch.lengths, batch.tokens.shape(1)));
  return inputs;
}

// Every row's inputs (tokens but the last) begin with the shared prefix, and go beyond it.
bool Trainer::starts_with_prefix(const mx::array& tokens) const {
  const auto& prefix = config_.shared_prefix;
  int B = tokens.shape(0), inputs = tokens.shape(1) - 1, C = prefix.size();
  if (C >= inputs) return false;
  auto host = mx::astype(tokens, mx::int32);
  mx::eval(host);
  const int32_t* p = host.data<int32_t>();
  for (int r = 0; r < B; ++r) {
    if (!std::equal(prefix.begin(), prefix.end(), p + static_cast<size_t>(r) * tokens.shape(1))) {
      return false;
    }
  }
  return true;
}

// The shared prefix through the frozen blocks, once: their KV caches and the hidden state.
void Trainer::build_prefix() {
  const auto& prefix = config_.shared_prefix;
  auto tokens = mx::array(prefix.data(), {1, static_cast<int>(prefix.size())}, mx::int32);
  auto cache = decoder_->make_cache();
  auto h = decoder_->embed(tokens);
  for (size_t i = 0; i < frozen_layers_; ++i) {
    h = decoder_->layers()[i](h, std::nullopt, &cache.layers[i], std::nullopt);
  }
  mx::eval(h);
  cache.layers.resize(frozen_layers_);
  prefix_cache_ = std::move(cache);
  prefix_hidden_ = h;
}

// For inputs that start with the shared prefix, the hidden states entering the first trainable
// block: the cached prefix [1, C, D], and the rows' own tokens [B, L - C, D] run through the frozen
// blocks only.
std::pair<mx::array, mx::array> Trainer::frozen_hidden(const mx::array& inputs) {
  int B = inputs.shape(0), L = inputs.shape(1), C = config_.shared_prefix.size();
  auto cache = *prefix_cache_;
  if (B > 1) cache.repeat_rows(B);
  auto h = decoder_->embed(mx::slice(inputs, {0, C}, {B, L}));
  for (size_t i = 0; i < frozen_layers_; ++i) {
    h = decoder_->layers()[i](h, std::nullopt, &cache.layers[i], std::nullopt);
  }
  return {*prefix_hidden_, h};
}

// The trainable blocks on a batch whose rows share the prefix: each block runs on the prefix
// once (one row, differentiated like any input) and on the rows' own tokens, which attend to
// the prefix's keys and values copied to every row. The same math as the whole rows, with
// the prefix's share of the work paid once per batch instead of once per row.
mx::array Trainer::shared_trainable_hidden(mx::array prefix, mx::array rest) {
  auto& layers = decoder_->layers();
  int B = rest.shape(0);
  for (size_t i = frozen_layers_; i < layers.size(); ++i) {
    LayerCache cache;
    prefix = layers[i](prefix, std::nullopt, &cache, std::nullopt);
    cache.repeat_rows(B);
    rest = layers[i](rest, std::nullopt, &cache, std::nullopt);
  }
  return join_prefix(prefix, rest);
}

// [1, C, D] and [B, S, D] -> [B, C + S, D].
mx::array Trainer::join_prefix(const mx::array& prefix, const mx::array& rest) {
  auto shared = mx::broadcast_to(prefix, {rest.shape(0), prefix.shape(1), rest.shape(2)});
  return mx::concatenate({shared, rest}, 1);
}

// Final hidden states [B, L, D] before the norm and the LM head.
mx::array Trainer::hidden(const mx::array& inputs) {
  auto& layers = decoder_->layers();
  size_t first = use_prefix_ ? frozen_layers_ : 0;
  std::optional<mx::array> h;
  if (use_prefix_) {
    auto [prefix, rest] = frozen_hidden(inputs);
    // Dropout draws per row and checkpointing recomputes per block: those keep whole rows.
    bool shared_rows = rest.shape(0) > 1 && !config_.grad_checkpoint && config_.lora.dropout == 0;
    if (shared_rows) return shared_trainable_hidden(prefix, rest);
    h = join_prefix(prefix, rest);
  } else {
    h = decoder_->embed(inputs);
  }
  for (size_t i = first; i < layers.size(); ++i) {
    if (!config_.grad_checkpoint) {
      h = layers[i](*h, std::nullopt, nullptr, std::nullopt);
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
    std::vector<mx::array> in{*h};
    for (auto idx : own) in.push_back(*adapter_->slots()[idx].value);
    h = mx::checkpoint(fn)(in)[0];
  }
  return *h;
}

// inputs: trainable arrays..., tokens, target positions[, dropout key]
// The LM head and the loss run on the counted positions only: with mask_prompt most of a chat
// example is prompt, and the head (vocab x hidden) is the largest matmul of a small model.
std::vector<mx::array> Trainer::loss_fn(const std::vector<mx::array>& inputs, bool training) {
  size_t P = params_.size();
  std::vector<mx::array> values(inputs.begin(), inputs.begin() + P);
  adapter_->set_values(values);
  const auto& tokens = inputs[P];
  const auto& positions = inputs[P + 1];
  auto& ctx = adapter_->context();
  ctx.training = training;
  ctx.dropout_keys.reset();
  if (training && config_.lora.dropout > 0 && adapter_->dropout_sites() > 0 &&
      inputs.size() > P + 2) {
    ctx.dropout_keys = mx::random::split(inputs[P + 2], adapter_->dropout_sites());
  }
  int B = tokens.shape(0), L = tokens.shape(1);
  auto in = mx::slice(tokens, {0, 0}, {B, L - 1});
  // A data-parallel shard without targets still traces one position, counted with weight 0.
  bool none = positions.shape(0) == 0;
  auto picked = none ? mx::zeros({1}, mx::int32) : positions;
  auto targets = mx::take(mx::flatten(mx::slice(tokens, {0, 1}, {B, L})), picked, 0);
  auto h = mx::reshape(hidden(in), {B * (L - 1), -1});
  auto logits = decoder_->lm_head(decoder_->norm()(mx::take(h, picked, 0)));
  auto [loss, ntoks] = target_cross_entropy(logits, targets);
  if (none) return {mx::multiply(loss, mx::array(0.0f)), mx::array(0, mx::int32)};
  return {loss, ntoks};
}

// inputs: trainable arrays..., tokens, target positions, dropout key[, accumulated grads...]
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
    for (auto& g : grads)
      g = mx::divide(g, mx::astype(mx::array(static_cast<float>(k)), g.dtype()));
  }
  auto [new_params, new_state] = optimizer_->update(grads, params, state);
  std::vector<mx::array> out = std::move(new_params);
  out.insert(out.end(), new_state.begin(), new_state.end());
  return out;
}

std::vector<mx::array> Trainer::run_grad(const std::vector<mx::array>& inputs) {
  SlotGuard guard(*adapter_, params_);
  if (!config_.compile) return grad_fn(inputs);
  // With accumulated gradients as inputs the graph differs: a function of its own.
  auto& fn = compiled_grad_[inputs.size() > params_.size() + 3 ? 1 : 0];
  if (!fn) fn = mx::compile([this](const std::vector<mx::array>& in) { return grad_fn(in); });
  return fn(inputs);
}

std::vector<mx::array> Trainer::run_update(const std::vector<mx::array>& inputs) {
  if (!config_.compile) return update_fn(inputs);
  if (!compiled_update_) {
    compiled_update_ =
        mx::compile([this](const std::vector<mx::array>& in) { return update_fn(in); });
  }
  return compiled_update_(inputs);
}

StepResult Trainer::step(const Batch& batch) {
  check_attached();
  check_optimizer("step");
  // A rank's shard may lack targets; the whole batch (over the ranks) must not (non-finite loss).
  check_batch(batch, config_.data_parallel && distributed::active());
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
  bool ranks = config_.data_parallel && distributed::active();
  bool reduce = ranks || config_.local_shards > 1;
  std::vector<mx::array> out;
  if (config_.local_shards > 1) {
    out = shard_gradients(batch, sub);  // each shard builds its own inputs
  } else {
    std::vector<mx::array> inputs = inputs_for(batch);
    inputs.push_back(ranks ? shard_key(sub, distributed::info().rank, distributed::info().size)
                           : sub);
    if (accum_ && !reduce) inputs.insert(inputs.end(), accum_->begin(), accum_->end());
    out = run_grad(inputs);
    mx::eval(out);
    if (reduce) out = token_weighted_mean(distributed::all_sum(token_weighted(out)), out);
  }

  StepResult r;
  r.prefix_tokens = use_prefix_ ? static_cast<int>(config_.shared_prefix.size()) : 0;
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
  if (reduce && accum_) {
    for (size_t i = 0; i < P; ++i) grads[i] = mx::add(grads[i], (*accum_)[i]);
  }
  apply_gradients(std::move(grads), r);
  return r;
}

// This micro-batch's gradients (accumulated ones included): every grad_accumulation_steps-th
// iteration they update the weights, else they are kept for the next.
void Trainer::apply_gradients(std::vector<mx::array> grads, StepResult& r) {
  size_t P = params_.size();
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
}

// One process, local_shards row shards: each shard's loss and gradients as a rank computes
// them, summed in rank order (for two ranks the ring's a + b, bit for bit).
std::vector<mx::array> Trainer::shard_gradients(const Batch& batch, const mx::array& key) {
  int n = config_.local_shards, B = batch.tokens.shape(0);
  if (B % n != 0) {
    fail(codes::kArgument, "a batch of " + std::to_string(B) + " rows does not split into " +
                               std::to_string(n) + " shards");
  }
  std::optional<std::vector<mx::array>> sum;
  std::vector<mx::array> first;
  for (int r = 0; r < n; ++r) {
    auto in = inputs_for(shard_rows(batch, r * B / n, (r + 1) * B / n));
    in.push_back(shard_key(key, r, n));
    auto out = run_grad(in);
    mx::eval(out);
    auto w = token_weighted(out);
    if (!sum) {
      sum = std::move(w);
      first = std::move(out);
      continue;
    }
    for (size_t i = 0; i < w.size(); ++i)
      (*sum)[i] = mx::add(mx::astype((*sum)[i], mx::float32), mx::astype(w[i], mx::float32));
    mx::eval(*sum);
  }
  return token_weighted_mean(*sum, first);
}

Gradients Trainer::gradients(const Batch& batch) {
  check_attached();
  check_batch(batch);
  auto [carry, sub] = mx::random::split(key_);
  std::vector<mx::array> inputs = inputs_for(batch);
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
    std::vector<mx::array> inputs = inputs_for(b);
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

uint64_t Trainer::optimizer_step() const { return state_.empty() ? 0 : state_[0].item<uint64_t>(); }

double Trainer::learning_rate() const { return state_.empty() ? 0 : state_[1].item<float>(); }

void Trainer::set_learning_rate(double lr) {
  check_optimizer("setLearningRate");
  optimizer_->set_learning_rate(lr);
  config_.optimizer = optimizer_->config();
  state_[1] = optimizer_->learning_rate_array();
  mx::eval(state_[1]);
  compiled_update_ = nullptr;  // the optimizer changed: trace its update anew
}

void Trainer::save_state(const std::string& path,
                         const std::unordered_map<std::string, std::string>& metadata) const {
  check_attached();
  check_optimizer("saveState");
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
  check_optimizer("loadState");
  auto [w, meta] = load_safetensors_file(path);
  auto it = meta.find("mlx_lab.format");
  if (it == meta.end() || it->second != kStateFormat) {
    fail(codes::kWeights, path + ": not an mlx-lab training state file (no \"mlx_lab.format\": \"" +
                              kStateFormat + "\" in its metadata)");
  }
  if (meta["mlx_lab.optimizer"] != config_.optimizer.name) {
    fail(codes::kConfig, path + ": the state was saved by optimizer \"" +
                             meta["mlx_lab.optimizer"] + "\", this trainer uses \"" +
                             config_.optimizer.name + "\"");
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
  if (key_it == w.end() || key_it->second.dtype() != mx::uint32 ||
      key_it->second.shape() != mx::Shape{2}) {
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
                                  std::to_string(config_.grad_accumulation_steps) + ") but \"" +
                                  key + "\" is missing");
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
