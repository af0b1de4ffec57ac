#include "preference.h"

#include <cmath>

#include "errors.h"

namespace mlxlab {

namespace {

// A float32 scalar of a double (Python floats meet float32 arrays this way in MLX).
mx::array f32(double v) { return mx::array(static_cast<float>(v)); }

// mlx.nn.log_sigmoid: -softplus(-x).
mx::array log_sigmoid(const mx::array& x) {
  return mx::negative(mx::logaddexp(mx::negative(x), f32(0)));
}

// Rows [0, B) and [B, 2B) of a [2B] vector: the chosen and the rejected side.
std::pair<mx::array, mx::array> halves(const mx::array& v) {
  int B = v.shape(0) / 2;
  return {mx::slice(v, {0}, {B}), mx::slice(v, {B}, {2 * B})};
}

// DPO's per-pair losses of the preference logits (mlx-lm-lora's dpo_loss).
mx::array dpo_losses(const mx::array& logits, const mx::array& policy_chosen,
                     const mx::array& ref_chosen, const PreferenceConfig& c) {
  auto scaled = mx::multiply(f32(c.beta), logits);
  if (c.loss_type == "sigmoid") return mx::negative(log_sigmoid(scaled));
  if (c.loss_type == "hinge") return mx::maximum(mx::subtract(f32(1), scaled), f32(0));
  if (c.loss_type == "ipo") return mx::square(mx::subtract(logits, f32(1 / (2 * c.beta))));
  // dpop: the sigmoid loss plus a penalty where the policy likes the chosen reply less than
  // the reference does.
  auto penalty = mx::maximum(mx::subtract(ref_chosen, policy_chosen), f32(0));
  return mx::negative(mx::subtract(log_sigmoid(scaled), mx::multiply(f32(c.delta), penalty)));
}

// mlx-lm-lora's log(1 - exp(x)) for log-probabilities x, stable on both sides of -log 2.
mx::array log1mexp(const mx::array& x_in) {
  auto x = mx::minimum(x_in, f32(-1e-7));
  return mx::where(mx::greater(x, f32(-0.6931471805599453)), mx::log(mx::negative(mx::expm1(x))),
                   mx::log1p(mx::negative(mx::exp(x))));
}

}  // namespace

void check_preference_config(const PreferenceConfig& c) {
  auto bad = [&](const std::string& key, const std::string& why) {
    fail(codes::kConfig, c.method + ": " + key + " " + why);
  };
  if (c.method != "dpo" && c.method != "orpo") {
    fail(codes::kConfig,
         "train_mode must be dpo or orpo for a preference step, got \"" + c.method + "\"");
  }
  if (c.loss_type != "sigmoid" && c.loss_type != "hinge" && c.loss_type != "ipo" &&
      c.loss_type != "dpop") {
    bad("dpo_cpo_loss_type", "must be sigmoid, hinge, ipo or dpop, got \"" + c.loss_type + "\"");
  }
  if (!std::isfinite(c.beta) || c.beta <= 0) bad("beta", "must be a finite number > 0");
  if (!std::isfinite(c.delta) || c.delta < 0) bad("delta", "must be a finite number >= 0");
}

std::vector<mx::array> dpo_objective(const mx::array& logps_in, const mx::array& ref_in,
                                     const mx::array& mask, const PreferenceConfig& c) {
  auto zero = f32(0);
  auto counts = mx::astype(mx::sum(mask, 1), mx::float32);
  // get_token_scores summed per row (compute_score); ipo takes the mean per reply token.
  auto score = [&](const mx::array& per_token) {
    auto s = mx::sum(mx::where(mask, mx::astype(per_token, mx::float32), zero), 1);
    return c.loss_type == "ipo" ? mx::divide(s, mx::maximum(counts, f32(1))) : s;
  };
  auto [pc, pr] = halves(score(logps_in));
  auto [rc, rr] = halves(score(mx::stop_gradient(ref_in)));
  auto logits = mx::subtract(mx::subtract(pc, pr), mx::subtract(rc, rr));
  auto loss = mx::mean(dpo_losses(logits, pc, rc, c));
  auto chosen_reward = mx::multiply(f32(c.beta), mx::mean(mx::subtract(pc, rc)));
  auto rejected_reward = mx::multiply(f32(c.beta), mx::mean(mx::subtract(pr, rr)));
  auto [nc, nr] = halves(counts);
  return {loss,
          mx::astype(mx::sum(counts), mx::int32),
          chosen_reward,
          rejected_reward,
          mx::astype(mx::greater(chosen_reward, rejected_reward), mx::float32),
          mx::subtract(chosen_reward, rejected_reward),
          mx::mean(mx::divide(pc, nc)),
          mx::mean(mx::divide(pr, nr))};
}

std::vector<mx::array> orpo_objective(const mx::array& logps_in, const mx::array& mask,
                                      const mx::array& scores, const PreferenceConfig& c) {
  auto zero = f32(0);
  // get_logps: per-token log-probs clipped to [-1000, 0], their mean over the reply.
  auto clipped = mx::clip(mx::astype(logps_in, mx::float32), f32(-1000), zero);
  auto counts = mx::astype(mx::sum(mask, 1), mx::float32);
  auto sums = mx::sum(mx::where(mask, clipped, zero), 1);
  auto safe = mx::where(mx::greater(counts, zero), counts, f32(1));
  auto avg = mx::where(mx::greater(counts, zero), mx::divide(sums, safe), zero);
  avg = mx::nan_to_num(avg, 0.0f, 0.0f, -1000.0f);
  auto [chosen_avg, rejected] = halves(avg);
  auto chosen_nll = mx::negative(chosen_avg);
  auto chosen = mx::multiply(chosen_avg, mx::astype(scores, mx::float32));
  auto log_odds = mx::subtract(mx::subtract(chosen, rejected),
                               mx::subtract(log1mexp(chosen), log1mexp(rejected)));
  auto loss = mx::mean(mx::subtract(chosen_nll, mx::multiply(f32(c.beta), log_sigmoid(log_odds))));
  auto chosen_reward = mx::multiply(f32(c.beta), chosen);
  auto rejected_reward = mx::multiply(f32(c.beta), rejected);
  return {loss,
          mx::astype(mx::sum(counts), mx::int32),
          mx::mean(chosen_reward),
          mx::mean(rejected_reward),
          mx::mean(mx::astype(mx::greater(chosen_reward, rejected_reward), mx::float32)),
          mx::mean(mx::subtract(chosen_reward, rejected_reward)),
          mx::mean(chosen),
          mx::mean(rejected)};
}

}  // namespace mlxlab
