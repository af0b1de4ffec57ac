// What the Trainer's GRPO and DPO/ORPO steps share: they score the completion tokens of rows
// (prompt + completion, or prompt + reply) under the policy and, when asked, the reference (the
// same model with the adapter bypassed), and take the gradients of their objective through
// step()'s accumulation and update. The inputs of every such objective are the trainable arrays,
// then tokens, completion index, mask, one value per row, reference log-probs and a dropout key.
#include <cmath>

#include "errors.h"
#include "slot_guard.h"
#include "train.h"

namespace mlxlab {

// Log-probs [B, T] of each row's completion tokens: index [B, T] into the inputs' positions.
mx::array Trainer::completion_logps(const mx::array& tokens, const mx::array& index) {
  int B = tokens.shape(0), L = tokens.shape(1);
  use_prefix_ = false;  // the rows' prompts differ from the training set's shared prefix
  auto h = mx::reshape(hidden(mx::slice(tokens, {0, 0}, {B, L - 1})), {B * (L - 1), -1});
  auto flat = mx::flatten(index);
  auto targets = mx::take(mx::flatten(mx::slice(tokens, {0, 1}, {B, L})), flat, 0);
  auto logits = decoder_->lm_head(decoder_->norm()(mx::take(h, flat, 0)));
  return mx::reshape(token_logps(logits, targets), index.shape());
}

std::vector<mx::array> Trainer::completion_inputs(const mx::array& tokens_in,
                                                  const mx::array& lengths,
                                                  const mx::array& per_row, bool reference) {
  auto tokens = mx::astype(tokens_in, mx::int32);
  auto pos = completion_positions(lengths, tokens.shape(1));
  std::optional<mx::array> ref;
  if (reference) {
    SlotGuard guard(*adapter_, params_);
    adapter_->context().bypass = true;
    ref = completion_logps(tokens, pos.index);
    mx::eval(*ref);
  } else {
    ref = mx::zeros(pos.mask.shape(), mx::float32);
  }
  std::vector<mx::array> inputs = params_;
  for (auto& a : {tokens, pos.index, pos.mask, mx::astype(per_row, mx::float32), *ref}) {
    inputs.push_back(a);
  }
  return inputs;
}

mx::array Trainer::completion_policy_logps(const std::vector<mx::array>& inputs, bool training) {
  size_t P = params_.size();
  adapter_->set_values(std::vector<mx::array>(inputs.begin(), inputs.begin() + P));
  auto& ctx = adapter_->context();
  ctx.training = training;
  ctx.bypass = false;
  ctx.dropout_keys.reset();
  if (training && config_.lora.dropout > 0 && adapter_->dropout_sites() > 0) {
    ctx.dropout_keys = mx::random::split(inputs[P + 5], adapter_->dropout_sites());
  }
  return completion_logps(inputs[P], inputs[P + 1]);
}

std::vector<mx::array> Trainer::completion_grad_fn(const std::vector<mx::array>& inputs,
                                                   const CompletionLoss& loss) {
  size_t P = params_.size(), N = P + 6;
  std::vector<int> argnums(P);
  for (size_t i = 0; i < P; ++i) argnums[i] = static_cast<int>(i);
  auto vag = mx::value_and_grad(loss, argnums);
  auto [values, grads] = vag(std::vector<mx::array>(inputs.begin(), inputs.begin() + N));
  std::vector<mx::array> out = values;
  for (size_t i = 0; i < P; ++i) {
    out.push_back(inputs.size() > N ? mx::add(grads[i], inputs[N + i]) : grads[i]);
  }
  return out;
}

std::vector<mx::array> Trainer::completion_gradients(std::vector<mx::array> inputs,
                                                     const CompletionLoss& loss, bool accumulate,
                                                     mx::array& carry) {
  auto [next, sub] = mx::random::split(key_);
  carry = next;
  inputs.push_back(sub);
  if (accumulate && accum_) inputs.insert(inputs.end(), accum_->begin(), accum_->end());
  std::vector<mx::array> out;
  {
    SlotGuard guard(*adapter_, params_);
    out = completion_grad_fn(inputs, loss);
  }
  inputs.clear();
  mx::eval(out);
  return out;
}

void Trainer::finish_completion_step(const std::vector<mx::array>& out, size_t n_outputs,
                                     const mx::array& carry, StepResult& step) {
  step.loss = out[0].item<float>();
  step.tokens = out[1].item<int32_t>();
  if (!std::isfinite(step.loss)) {
    step.non_finite = true;
    step.iteration = iteration_;
    step.step = optimizer_step();
    step.learning_rate = learning_rate();
    return;
  }
  key_ = carry;
  ++iteration_;
  apply_gradients(std::vector<mx::array>(out.begin() + n_outputs, out.end()), step);
}

void Trainer::completion_slot_grads(const std::vector<mx::array>& out, size_t n_outputs,
                                    Gradients& g) const {
  g.loss = out[0].item<float>();
  g.tokens = out[1].item<int32_t>();
  const auto& slots = adapter_->slots();
  for (size_t i = 0; i < slots.size(); ++i) {
    g.grads.insert_or_assign(slots[i].name, out[n_outputs + i]);
  }
}

}  // namespace mlxlab
