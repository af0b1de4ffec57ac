#include "grpo.h"

#include <algorithm>
#include <cmath>

#include "errors.h"

namespace mlxlab {

namespace {

// mlx-lm-lora caps the reference/policy log-ratio before exp so the KL cannot overflow.
constexpr float kMaxKlLogRatio = 20.0f;

std::string num(double v) {
  std::string s = std::to_string(v);
  s.erase(s.find_last_not_of('0') + 1);
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

// A float32 scalar of a double (Python floats meet float32 arrays this way in MLX).
mx::array f32(double v) { return mx::array(static_cast<float>(v)); }

// Row-wise mean of the masked values [B, T] -> [B] (rows without tokens give 0).
mx::array row_mean(const mx::array& values, const mx::array& mask, const mx::array& counts) {
  return mx::divide(mx::sum(mx::where(mask, values, f32(0)), 1), mx::maximum(counts, f32(1)));
}

// mlx-lm-lora's compute_log_importance_weights: per token, or the row's mean log-ratio.
mx::array log_importance_weights(const mx::array& log_ratio, const mx::array& mask,
                                 const mx::array& counts, const std::string& level) {
  if (level == "token") return log_ratio;
  return mx::expand_dims(row_mean(log_ratio, mask, counts), 1);
}

// The loss-type reduction of the per-row sums of the per-token loss.
mx::array reduce_loss(const mx::array& token_loss, const mx::array& counts, const mx::array& total,
                      const GrpoConfig& c) {
  if (c.loss_type == "grpo") return mx::mean(mx::divide(token_loss, mx::maximum(counts, f32(1))));
  if (c.loss_type == "bnpo") return mx::divide(mx::sum(token_loss), mx::maximum(total, f32(1)));
  double rows = static_cast<double>(token_loss.shape(0)) * c.max_completion_length;
  return mx::divide(mx::sum(token_loss), f32(rows));
}

}  // namespace

void check_grpo_config(const GrpoConfig& c) {
  auto bad = [](const std::string& key, const std::string& why) {
    fail(codes::kConfig, "grpo: " + key + " " + why);
  };
  if (c.loss_type != "grpo" && c.loss_type != "bnpo" && c.loss_type != "dr_grpo") {
    bad("grpo_loss_type", "must be grpo, bnpo or dr_grpo, got \"" + c.loss_type + "\"");
  }
  if (c.importance_sampling_level != "token" && c.importance_sampling_level != "sequence") {
    bad("importance_sampling_level",
        "must be token or sequence, got \"" + c.importance_sampling_level + "\"");
  }
  if (!std::isfinite(c.beta) || c.beta < 0) bad("beta", "must be a finite number >= 0");
  if (!std::isfinite(c.epsilon) || c.epsilon < 0 || c.epsilon >= 1) {
    bad("epsilon", "must be in [0, 1), got " + num(c.epsilon));
  }
  if (c.epsilon_high && (!std::isfinite(*c.epsilon_high) || *c.epsilon_high < 0)) {
    bad("epsilon_high", "must be a finite number >= 0");
  }
  if (c.max_completion_length < 1) bad("max_completion_length", "must be at least 1");
}

CompletionPositions completion_positions(const mx::array& lengths, int L) {
  auto host = mx::astype(lengths, mx::int32);
  mx::eval(host);
  const int32_t* p = host.data<int32_t>();
  int B = host.shape(0), T = 1, width = L - 1;
  for (int r = 0; r < B; ++r) T = std::max(T, p[2 * r + 1]);
  std::vector<int32_t> index(static_cast<size_t>(B) * T);
  std::vector<uint8_t> mask(index.size(), 0);
  for (int r = 0; r < B; ++r) {
    int start = p[2 * r] - 1;  // the position predicting the first completion token
    for (int t = 0; t < T; ++t) {
      bool real = t < p[2 * r + 1];
      index[r * T + t] = r * width + (real ? start + t : 0);
      mask[r * T + t] = real;
    }
  }
  return {mx::array(index.data(), {B, T}, mx::int32),
          mx::astype(mx::array(mask.data(), {B, T}, mx::uint8), mx::bool_)};
}

std::vector<double> group_advantages(const std::vector<double>& rewards, int group_size) {
  if (group_size < 1 || rewards.empty() || rewards.size() % group_size != 0) {
    fail(codes::kArgument, std::to_string(rewards.size()) +
                               " rewards do not split into groups of " +
                               std::to_string(group_size));
  }
  std::vector<double> out(rewards.size());
  for (size_t g = 0; g < rewards.size(); g += group_size) {
    double mean = 0, var = 0;
    for (int i = 0; i < group_size; ++i) {
      if (!std::isfinite(rewards[g + i])) {
        fail(codes::kArgument, "reward " + std::to_string(g + i) + " is not finite");
      }
      mean += rewards[g + i];
    }
    mean /= group_size;
    for (int i = 0; i < group_size; ++i) var += (rewards[g + i] - mean) * (rewards[g + i] - mean);
    double std = std::sqrt(var / group_size);
    for (int i = 0; i < group_size; ++i) out[g + i] = (rewards[g + i] - mean) / (std + 1e-4);
  }
  return out;
}

mx::array token_logps(const mx::array& logits, const mx::array& targets) {
  auto l = mx::astype(logits, mx::float32);
  l = mx::subtract(l, mx::stop_gradient(mx::max(l, -1, true)));
  auto selected = mx::squeeze(mx::take_along_axis(l, mx::expand_dims(targets, -1), -1), -1);
  return mx::subtract(selected, mx::log(mx::sum(mx::exp(l), -1)));
}

std::vector<mx::array> grpo_objective(const mx::array& logps_in, const mx::array& ref_in,
                                      const mx::array& mask, const mx::array& advantages,
                                      const GrpoConfig& c) {
  auto zero = f32(0);
  auto logps = mx::where(mask, mx::astype(logps_in, mx::float32), zero);
  auto ref = mx::where(mask, mx::stop_gradient(mx::astype(ref_in, mx::float32)), zero);
  auto counts = mx::astype(mx::sum(mask, 1), mx::float32);
  auto total = mx::sum(counts);
  // Each rollout is scored once, by the policy that sampled it: the ratio is 1 with a gradient.
  auto log_ratio = mx::subtract(logps, mx::stop_gradient(logps));
  auto ratio =
      mx::exp(log_importance_weights(log_ratio, mask, counts, c.importance_sampling_level));
  double high = c.epsilon_high.value_or(c.epsilon);
  auto clipped = mx::clip(ratio, f32(1 - c.epsilon), f32(1 + high));
  auto adv = mx::expand_dims(mx::stop_gradient(mx::astype(advantages, mx::float32)), 1);
  auto per_token = mx::negative(mx::minimum(mx::multiply(ratio, adv), mx::multiply(clipped, adv)));
  // k3 estimate of KL(policy || reference): exp(d) - d - 1 with d = ref - policy.
  auto delta = mx::minimum(mx::subtract(ref, logps), f32(kMaxKlLogRatio));
  auto kl = mx::maximum(mx::subtract(mx::expm1(delta), delta), zero);
  if (c.beta != 0) per_token = mx::add(per_token, mx::multiply(f32(c.beta), kl));
  auto token_loss = mx::sum(mx::where(mask, per_token, zero), 1);
  auto loss = reduce_loss(token_loss, counts, total, c);
  auto safe_total = mx::maximum(total, f32(1));
  auto share = [&](const mx::array& hit) {
    return mx::divide(mx::sum(mx::astype(mx::logical_and(hit, mask), mx::float32)), safe_total);
  };
  auto low = mx::logical_and(mx::less(ratio, f32(1 - c.epsilon)), mx::less(adv, zero));
  auto up = mx::logical_and(mx::greater(ratio, f32(1 + high)), mx::greater(adv, zero));
  return {loss, mx::astype(total, mx::int32), mx::mean(row_mean(kl, mask, counts)), share(low),
          share(up)};
}

}  // namespace mlxlab
