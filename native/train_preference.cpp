// The Trainer's DPO and ORPO steps: per-token log-probs of the chosen and rejected replies under
// the policy (the model with the adapter) and, for DPO, the reference (the same model with the
// adapter bypassed), mlx-lm-lora's preference loss on them (preference.h), and the gradients
// through step()'s accumulation and update.
#include <cmath>

#include "errors.h"
#include "grpo.h"
#include "slot_guard.h"
#include "train.h"

namespace mlxlab {

namespace {

// "pair 3 (rejected): " for row r of a batch of B pairs.
std::string pair_row(int r, int B) {
  return "pair " + std::to_string(r % B) + (r < B ? " (chosen): " : " (rejected): ");
}

PreferenceMetrics metrics_of(const std::vector<mx::array>& out) {
  PreferenceMetrics m;
  m.chosen_reward = out[2].item<float>();
  m.rejected_reward = out[3].item<float>();
  m.accuracies = out[4].item<float>();
  m.margins = out[5].item<float>();
  m.policy_chosen_logps = out[6].item<float>();
  m.policy_rejected_logps = out[7].item<float>();
  return m;
}

}  // namespace

void Trainer::check_preference(const PreferenceBatch& b, const PreferenceConfig& config) const {
  check_preference_config(config);
  const std::string what = config.method == "dpo" ? "DPO" : "ORPO";
  if (config_.data_parallel || config_.local_shards > 1) {
    fail(codes::kConfig, what + " trains in one process (no data_parallel or local_shards)");
  }
  if (config.method == "dpo" && config_.lora.fine_tune_type == "full") {
    fail(codes::kConfig,
         "DPO's reference is the base model with the adapter off: fine_tune_type \"full\" has "
         "no adapter to switch off (use lora or dora)");
  }
  if (b.tokens.ndim() != 2 || b.tokens.shape(0) % 2 != 0 || b.tokens.shape(1) < 2) {
    fail(codes::kArgument,
         "a preference batch needs tokens of shape [2 * pairs, length >= 2] (chosen rows, then "
         "rejected rows), got " +
             nn::shape_string(b.tokens.shape()));
  }
  int R = b.tokens.shape(0), L = b.tokens.shape(1), B = R / 2;
  if (b.lengths.ndim() != 2 || b.lengths.shape(0) != R || b.lengths.shape(1) != 2) {
    fail(codes::kArgument, "a preference batch needs lengths of shape [2 * pairs, 2]");
  }
  if (b.scores.ndim() != 1 || b.scores.shape(0) != B) {
    fail(codes::kArgument, "a preference batch needs one preference score per pair");
  }
  auto tokens = mx::astype(b.tokens, mx::int32);
  auto lengths = mx::astype(b.lengths, mx::int32);
  auto scores = mx::astype(b.scores, mx::float32);
  mx::eval(tokens, lengths, scores);
  model_->check_token_ids(tokens.data<int32_t>(), tokens.size(), "the preference batch");
  const int32_t* p = lengths.data<int32_t>();
  for (int r = 0; r < R; ++r) {
    int prompt = p[2 * r], reply = p[2 * r + 1];
    if (prompt < 1) fail(codes::kArgument, pair_row(r, B) + "the prompt needs at least one token");
    if (reply < 1) fail(codes::kArgument, pair_row(r, B) + "the reply has no tokens");
    if (prompt + reply > L) {
      fail(codes::kArgument, pair_row(r, B) + "prompt " + std::to_string(prompt) + " + reply " +
                                 std::to_string(reply) + " tokens do not fit length " +
                                 std::to_string(L));
    }
    if (r < B && !std::isfinite(scores.data<float>()[r])) {
      fail(codes::kArgument, "pair " + std::to_string(r) + ": the preference score is not finite");
    }
  }
}

// trainable arrays..., tokens, index, mask, scores, reference log-probs (DPO: the base model's,
// computed here once without gradients; ORPO: zeros).
std::vector<mx::array> Trainer::preference_inputs(const PreferenceBatch& batch,
                                                  const PreferenceConfig& config) {
  auto tokens = mx::astype(batch.tokens, mx::int32);
  auto pos = completion_positions(batch.lengths, tokens.shape(1));
  std::optional<mx::array> ref;
  if (config.method == "dpo") {
    SlotGuard guard(*adapter_, params_);
    adapter_->context().bypass = true;
    ref = completion_logps(tokens, pos.index);
    mx::eval(*ref);
  } else {
    ref = mx::zeros(pos.mask.shape(), mx::float32);
  }
  std::vector<mx::array> inputs = params_;
  for (auto& a : {tokens, pos.index, pos.mask, mx::astype(batch.scores, mx::float32), *ref}) {
    inputs.push_back(a);
  }
  return inputs;
}

// inputs: preference_inputs, dropout key; outputs: the kPreferenceOutputs of preference.h.
std::vector<mx::array> Trainer::preference_loss_fn(const std::vector<mx::array>& inputs,
                                                   const PreferenceConfig& c, bool training) {
  size_t P = params_.size();
  adapter_->set_values(std::vector<mx::array>(inputs.begin(), inputs.begin() + P));
  auto& ctx = adapter_->context();
  ctx.training = training;
  ctx.bypass = false;
  ctx.dropout_keys.reset();
  if (training && config_.lora.dropout > 0 && adapter_->dropout_sites() > 0) {
    ctx.dropout_keys = mx::random::split(inputs[P + 5], adapter_->dropout_sites());
  }
  auto logps = completion_logps(inputs[P], inputs[P + 1]);
  if (c.method == "orpo") return orpo_objective(logps, inputs[P + 2], inputs[P + 3], c);
  return dpo_objective(logps, inputs[P + 4], inputs[P + 2], c);
}

// inputs: preference_inputs, dropout key[, accumulated grads...]; outputs: those of
// preference_loss_fn, then the gradients (plus the accumulated ones).
std::vector<mx::array> Trainer::preference_grad_fn(const std::vector<mx::array>& inputs,
                                                   const PreferenceConfig& c) {
  size_t P = params_.size(), N = P + 6;
  std::vector<int> argnums(P);
  for (size_t i = 0; i < P; ++i) argnums[i] = static_cast<int>(i);
  auto vag = mx::value_and_grad(
      [this, &c](const std::vector<mx::array>& in) { return preference_loss_fn(in, c, true); },
      argnums);
  auto [values, grads] = vag(std::vector<mx::array>(inputs.begin(), inputs.begin() + N));
  std::vector<mx::array> out = values;
  for (size_t i = 0; i < P; ++i) {
    out.push_back(inputs.size() > N ? mx::add(grads[i], inputs[N + i]) : grads[i]);
  }
  return out;
}

PreferenceStepResult Trainer::preference_step(const PreferenceBatch& batch,
                                              const PreferenceConfig& config) {
  check_attached();
  check_optimizer("preferenceStep");
  check_preference(batch, config);
  try {
    return preference_step_impl(batch, config);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    fail(codes::kTrain, config.method + " step " + std::to_string(iteration_ + 1) +
                            " failed: " + std::string(e.what()));
  }
}

PreferenceStepResult Trainer::preference_step_impl(const PreferenceBatch& batch,
                                                   const PreferenceConfig& config) {
  auto [carry, sub] = mx::random::split(key_);
  auto inputs = preference_inputs(batch, config);
  inputs.push_back(sub);
  if (accum_) inputs.insert(inputs.end(), accum_->begin(), accum_->end());
  std::vector<mx::array> out;
  {
    SlotGuard guard(*adapter_, params_);
    out = preference_grad_fn(inputs, config);
  }
  inputs.clear();
  mx::eval(out);
  PreferenceStepResult r;
  r.step.loss = out[0].item<float>();
  r.step.tokens = out[1].item<int32_t>();
  r.metrics = metrics_of(out);
  if (!std::isfinite(r.step.loss)) {
    r.step.non_finite = true;
    r.step.iteration = iteration_;
    r.step.step = optimizer_step();
    r.step.learning_rate = learning_rate();
    return r;
  }
  key_ = carry;
  ++iteration_;
  apply_gradients(std::vector<mx::array>(out.begin() + kPreferenceOutputs, out.end()), r.step);
  return r;
}

PreferenceGradients Trainer::preference_gradients(const PreferenceBatch& batch,
                                                  const PreferenceConfig& config) {
  check_attached();
  check_preference(batch, config);
  auto [carry, sub] = mx::random::split(key_);
  auto inputs = preference_inputs(batch, config);
  inputs.push_back(sub);
  std::vector<mx::array> out;
  {
    SlotGuard guard(*adapter_, params_);
    out = preference_grad_fn(inputs, config);
  }
  mx::eval(out);
  PreferenceGradients g;
  g.gradients.loss = out[0].item<float>();
  g.gradients.tokens = out[1].item<int32_t>();
  g.metrics = metrics_of(out);
  const auto& slots = adapter_->slots();
  for (size_t i = 0; i < slots.size(); ++i) {
    g.gradients.grads.insert_or_assign(slots[i].name, out[kPreferenceOutputs + i]);
  }
  return g;
}

PreferenceEval Trainer::preference_evaluate(const std::vector<PreferenceBatch>& batches,
                                            const PreferenceConfig& config) {
  check_attached();
  if (batches.empty()) fail(codes::kArgument, "a preference evaluation needs at least one batch");
  for (const auto& b : batches) check_preference(b, config);
  std::vector<mx::array> sums(kPreferenceOutputs, mx::array(0.0f));
  auto ntokens = mx::array(0, mx::int32);
  for (const auto& b : batches) {
    auto inputs = preference_inputs(b, config);
    inputs.push_back(key_);
    std::vector<mx::array> out;
    {
      SlotGuard guard(*adapter_, params_);
      out = preference_loss_fn(inputs, config, false);
    }
    auto toks = mx::astype(out[1], mx::float32);
    for (int i = 0; i < kPreferenceOutputs; ++i) {
      if (i != 1) sums[i] = mx::add(sums[i], mx::multiply(out[i], toks));
    }
    ntokens = mx::add(ntokens, out[1]);
    mx::eval(sums);
    mx::eval(ntokens);
  }
  auto total = mx::astype(ntokens, mx::float32);
  for (auto& s : sums) s = mx::divide(s, total);
  sums[1] = ntokens;
  mx::eval(sums);
  PreferenceEval e;
  e.eval.loss = sums[0].item<float>();
  e.eval.tokens = ntokens.item<int32_t>();
  e.metrics = metrics_of(sums);
  return e;
}

}  // namespace mlxlab
