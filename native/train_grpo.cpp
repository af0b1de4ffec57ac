// The Trainer's GRPO step: per-token log-probs of the completions under the policy (the model
// with the adapter) and the reference (the same model with the adapter bypassed), mlx-lm-lora's
// objective on them (grpo.h), and the gradients through step()'s accumulation and update.
#include <cmath>

#include "errors.h"
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

// inputs: completion_inputs (per row: the advantage), dropout key; outputs: loss, tokens, kl,
// clip_ratio_low, clip_ratio_high.
std::vector<mx::array> Trainer::grpo_loss_fn(const std::vector<mx::array>& inputs,
                                             const GrpoConfig& c) {
  size_t P = params_.size();
  auto logps = completion_policy_logps(inputs, /*training=*/true);
  // Without the KL term mlx-lm-lora skips the reference: it equals the policy (KL 0).
  auto ref = c.beta != 0 ? inputs[P + 4] : mx::stop_gradient(logps);
  return grpo_objective(logps, ref, inputs[P + 2], inputs[P + 3], c);
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

namespace {
constexpr size_t kGrpoOutputs = 5;
}  // namespace

GrpoStepResult Trainer::grpo_step_impl(const GrpoBatch& batch, const GrpoConfig& config) {
  auto loss = [this, &config](const std::vector<mx::array>& in) {
    return grpo_loss_fn(in, config);
  };
  mx::array carry = key_;
  auto out = completion_gradients(
      completion_inputs(batch.tokens, batch.lengths, batch.advantages, config.beta != 0), loss,
      /*accumulate=*/true, carry);
  GrpoStepResult r;
  r.kl = out[2].item<float>();
  r.clip_ratio_low = out[3].item<float>();
  r.clip_ratio_high = out[4].item<float>();
  finish_completion_step(out, kGrpoOutputs, carry, r.step);
  return r;
}

GrpoGradients Trainer::grpo_gradients(const GrpoBatch& batch, const GrpoConfig& config) {
  check_attached();
  check_grpo(batch, config);
  auto loss = [this, &config](const std::vector<mx::array>& in) {
    return grpo_loss_fn(in, config);
  };
  mx::array carry = key_;
  auto out = completion_gradients(
      completion_inputs(batch.tokens, batch.lengths, batch.advantages, config.beta != 0), loss,
      /*accumulate=*/false, carry);
  GrpoGradients g;
  completion_slot_grads(out, kGrpoOutputs, g.gradients);
  g.kl = out[2].item<float>();
  return g;
}

}  // namespace mlxlab
