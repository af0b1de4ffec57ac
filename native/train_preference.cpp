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

// inputs: completion_inputs (per row: the ORPO score), dropout key; outputs: the
// kPreferenceOutputs of preference.h.
std::vector<mx::array> Trainer::preference_loss_fn(const std::vector<mx::array>& inputs,
                                                   const PreferenceConfig& c, bool training) {
  size_t P = params_.size();
  auto logps = completion_policy_logps(inputs, training);
  if (c.method == "orpo") return orpo_objective(logps, inputs[P + 2], inputs[P + 3], c);
  return dpo_objective(logps, inputs[P + 4], inputs[P + 2], c);
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
  auto loss = [this, &config](const std::vector<mx::array>& in) {
    return preference_loss_fn(in, config, true);
  };
  mx::array carry = key_;
  auto out = completion_gradients(
      completion_inputs(batch.tokens, batch.lengths, batch.scores, config.method == "dpo"), loss,
      /*accumulate=*/true, carry);
  PreferenceStepResult r;
  r.metrics = metrics_of(out);
  finish_completion_step(out, kPreferenceOutputs, carry, r.step);
  return r;
}

PreferenceGradients Trainer::preference_gradients(const PreferenceBatch& batch,
                                                  const PreferenceConfig& config) {
  check_attached();
  check_preference(batch, config);
  auto loss = [this, &config](const std::vector<mx::array>& in) {
    return preference_loss_fn(in, config, true);
  };
  mx::array carry = key_;
  auto out = completion_gradients(
      completion_inputs(batch.tokens, batch.lengths, batch.scores, config.method == "dpo"), loss,
      /*accumulate=*/false, carry);
  PreferenceGradients g;
  completion_slot_grads(out, kPreferenceOutputs, g.gradients);
  g.metrics = metrics_of(out);
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
    auto inputs = completion_inputs(b.tokens, b.lengths, b.scores, config.method == "dpo");
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
