// The Trainer's GRPO step: per-token log-probs of the completions under the policy (the model
// with the adapter) and the reference (the same model with the adapter bypassed), mlx-lm-lora's
// objective on them (grpo.h), and the gradients through step()'s accumulation and update.
#include <cmath>

#include "errors.h"
#include "slot_guard.h"
#include "train.h"

namespace mlxlab {

namespace {

std::string row(int r) { return "row " + std::to_string(r) + ": "; }

}  // namespace

void Trainer::check_grpo(const GrpoBatch& b, const GrpoConfig& config) const {
  check_grpo_config(config);
  if (config_.data_parallel || config_.local_shards > 1) {
    fail(codes::kConfig, "GRPO trains in one process (no data_parallel or local_shards)");
  }
  if (config.beta != 0 && config_.lora.fine_tune_type == "full") {
    fail(codes::kConfig,
         "GRPO's reference is the base model with the adapter off: fine_tune_type \"full\" has "
         "no adapter to switch off (use lora or dora, or beta: 0)");
  }
  if (b.tokens.ndim() != 2 || b.tokens.shape(1) < 2) {
    fail(codes::kArgument, "a GRPO batch needs tokens of shape [batch, length >= 2], got " +
                               nn::shape_string(b.tokens.shape()));
  }
  int B = b.tokens.shape(0), L = b.tokens.shape(1);
  if (b.lengths.ndim() != 2 || b.lengths.shape(0) != B || b.lengths.shape(1) != 2) {
    fail(codes::kArgument, "a GRPO batch needs lengths of shape [batch, 2] (prompt, completion)");
  }
  if (b.advantages.ndim() != 1 || b.advantages.shape(0) != B) {
    fail(codes::kArgument, "a GRPO batch needs one advantage per row");
  }
  auto tokens = mx::astype(b.tokens, mx::int32);
  auto lengths = mx::astype(b.lengths, mx::int32);
  auto adv = mx::astype(b.advantages, mx::float32);
  mx::eval(tokens, lengths, adv);
  model_->check_token_ids(tokens.data<int32_t>(), tokens.size(), "the GRPO batch");
  const int32_t* p = lengths.data<int32_t>();
  int total = 0;
  for (int r = 0; r < B; ++r) {
    int prompt = p[2 * r], completion = p[2 * r + 1];
    if (prompt < 1) fail(codes::kArgument, row(r) + "the prompt needs at least one token");
    if (completion < 0 || prompt + completion > L) {
      fail(codes::kArgument, row(r) + "prompt " + std::to_string(prompt) + " + completion " +
                                 std::to_string(completion) + " tokens do not fit length " +
                                 std::to_string(L));
    }
    if (!std::isfinite(adv.data<float>()[r])) {
      fail(codes::kArgument, row(r) + "the advantage is not finite");
    }
    total += completion;
  }
  if (total == 0) fail(codes::kArgument, "the GRPO batch has no completion tokens");
}

// Log-probs [B, T] of each row's completion tokens: index [B, T] into the inputs' positions.
mx::array Trainer::completion_logps(const mx::array& tokens, const mx::array& index) {
  int B = tokens.shape(0), L = tokens.shape(1);
  use_prefix_ = false;  // the groups' prompts differ from the training set's shared prefix
  auto h = mx::reshape(hidden(mx::slice(tokens, {0, 0}, {B, L - 1})), {B * (L - 1), -1});
  auto flat = mx::flatten(index);
  auto targets = mx::take(mx::flatten(mx::slice(tokens, {0, 1}, {B, L})), flat, 0);
  auto logits = decoder_->lm_head(decoder_->norm()(mx::take(h, flat, 0)));
  return mx::reshape(token_logps(logits, targets), index.shape());
}

// trainable arrays..., tokens, index, mask, advantages, reference log-probs (the base model's,
// computed here once without gradients; zeros when beta is 0).
std::vector<mx::array> Trainer::grpo_inputs(const GrpoBatch& batch, const GrpoConfig& config) {
  auto tokens = mx::astype(batch.tokens, mx::int32);
  auto pos = completion_positions(batch.lengths, tokens.shape(1));
  std::optional<mx::array> ref;
  if (config.beta != 0) {
    SlotGuard guard(*adapter_, params_);
    adapter_->context().bypass = true;
    ref = completion_logps(tokens, pos.index);
    mx::eval(*ref);
  } else {
    ref = mx::zeros(pos.mask.shape(), mx::float32);
  }
  std::vector<mx::array> inputs = params_;
  for (auto& a : {tokens, pos.index, pos.mask, mx::astype(batch.advantages, mx::float32), *ref}) {
    inputs.push_back(a);
  }
  return inputs;
}

// inputs: grpo_inputs, dropout key; outputs: loss, tokens, kl, clip_ratio_low, clip_ratio_high.
std::vector<mx::array> Trainer::grpo_loss_fn(const std::vector<mx::array>& inputs,
                                             const GrpoConfig& c) {
  size_t P = params_.size();
  adapter_->set_values(std::vector<mx::array>(inputs.begin(), inputs.begin() + P));
  auto& ctx = adapter_->context();
  ctx.training = true;
  ctx.bypass = false;
  ctx.dropout_keys.reset();
  if (config_.lora.dropout > 0 && adapter_->dropout_sites() > 0) {
    ctx.dropout_keys = mx::random::split(inputs[P + 5], adapter_->dropout_sites());
  }
  auto logps = completion_logps(inputs[P], inputs[P + 1]);
  // Without the KL term mlx-lm-lora skips the reference: it equals the policy (KL 0).
  auto ref = c.beta != 0 ? inputs[P + 4] : mx::stop_gradient(logps);
  return grpo_objective(logps, ref, inputs[P + 2], inputs[P + 3], c);
}

// inputs: grpo_inputs, dropout key[, accumulated grads...]; outputs: the five of
// grpo_loss_fn, then the gradients (plus the accumulated ones).
std::vector<mx::array> Trainer::grpo_grad_fn(const std::vector<mx::array>& inputs,
                                             const GrpoConfig& c) {
  size_t P = params_.size(), N = P + 6;
  std::vector<int> argnums(P);
  for (size_t i = 0; i < P; ++i) argnums[i] = static_cast<int>(i);
  auto vag = mx::value_and_grad(
      [this, &c](const std::vector<mx::array>& in) { return grpo_loss_fn(in, c); }, argnums);
  auto [values, grads] = vag(std::vector<mx::array>(inputs.begin(), inputs.begin() + N));
  std::vector<mx::array> out = values;
  for (size_t i = 0; i < P; ++i) {
    out.push_back(inputs.size() > N ? mx::add(grads[i], inputs[N + i]) : grads[i]);
  }
  return out;
}

GrpoStepResult Trainer::grpo_step(const GrpoBatch& batch, const GrpoConfig& config) {
  check_attached();
  check_optimizer("grpoStep");
  check_grpo(batch, config);
  try {
    return grpo_step_impl(batch, config);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    fail(codes::kTrain,
         "GRPO step " + std::to_string(iteration_ + 1) + " failed: " + std::string(e.what()));
  }
}

GrpoStepResult Trainer::grpo_step_impl(const GrpoBatch& batch, const GrpoConfig& config) {
  auto [carry, sub] = mx::random::split(key_);
  auto inputs = grpo_inputs(batch, config);
  inputs.push_back(sub);
  if (accum_) inputs.insert(inputs.end(), accum_->begin(), accum_->end());
  std::vector<mx::array> out;
  {
    SlotGuard guard(*adapter_, params_);
    out = grpo_grad_fn(inputs, config);
  }
  inputs.clear();
  mx::eval(out);
  GrpoStepResult r;
  r.step.loss = out[0].item<float>();
  r.step.tokens = out[1].item<int32_t>();
  r.kl = out[2].item<float>();
  r.clip_ratio_low = out[3].item<float>();
  r.clip_ratio_high = out[4].item<float>();
  if (!std::isfinite(r.step.loss)) {
    r.step.non_finite = true;
    r.step.iteration = iteration_;
    r.step.step = optimizer_step();
    r.step.learning_rate = learning_rate();
    return r;
  }
  key_ = carry;
  ++iteration_;
  apply_gradients(std::vector<mx::array>(out.begin() + 5, out.end()), r.step);
  return r;
}

GrpoGradients Trainer::grpo_gradients(const GrpoBatch& batch, const GrpoConfig& config) {
  check_attached();
  check_grpo(batch, config);
  auto [carry, sub] = mx::random::split(key_);
  auto inputs = grpo_inputs(batch, config);
  inputs.push_back(sub);
  std::vector<mx::array> out;
  {
    SlotGuard guard(*adapter_, params_);
    out = grpo_grad_fn(inputs, config);
  }
  mx::eval(out);
  GrpoGradients g;
  g.gradients.loss = out[0].item<float>();
  g.gradients.tokens = out[1].item<int32_t>();
  g.kl = out[2].item<float>();
  const auto& slots = adapter_->slots();
  for (size_t i = 0; i < slots.size(); ++i) {
    g.gradients.grads.insert_or_assign(slots[i].name, out[5 + i]);
  }
  return g;
}

}  // namespace mlxlab
