// mlx-lm's sample_utils on batches: the same definitions (top_p, min_p, XTC, top_k, categorical
// at 1/temperature over log-probabilities), one row per sequence.
#include "sampling.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace mlxlab {

mx::array minus_inf(mx::Dtype dtype) {
  return mx::array(-std::numeric_limits<float>::infinity(), dtype);
}

// A repeated id is penalized once, so repeating a short prompt's first token equals the shorter
// list.
mx::array prompt_history(const std::vector<std::vector<int>>& prompts, int context) {
  int B = prompts.size();
  std::vector<int32_t> flat(static_cast<size_t>(B) * context);
  for (int b = 0; b < B; ++b) {
    const auto& p = prompts[b];
    int n = std::min<int>(context, p.size());
    for (int i = 0; i < context; ++i) {
      int src = i < context - n ? 0 : static_cast<int>(p.size()) - context + i;
      flat[static_cast<size_t>(b) * context + i] = p[std::max(src, 0)];
    }
  }
  return mx::array(flat.data(), {B, context}, mx::int32);
}

mx::array repetition_penalty(const mx::array& logits, const mx::array& history, float penalty) {
  auto selected = mx::take_along_axis(logits, history, -1);
  auto penalized =
      mx::where(mx::less(selected, mx::array(0.0f)), mx::multiply(selected, mx::array(penalty)),
                mx::divide(selected, mx::array(penalty)));
  return mx::put_along_axis(logits, history, penalized, -1);
}

mx::array logit_bias_row(const std::vector<std::pair<int, float>>& bias, int V) {
  std::vector<float> row(V, 0.0f);
  for (const auto& [id, value] : bias) {
    if (id >= 0 && id < V) row[id] += value;
  }
  return mx::array(row.data(), {V}, mx::float32);
}

namespace {

// Keep the smallest set of tokens whose probability mass reaches top_p.
mx::array apply_top_p(const mx::array& logprobs, float top_p) {
  auto sorted = mx::sort(logprobs, -1);
  auto probs = mx::exp(mx::astype(sorted, mx::float32));
  auto mass_above = mx::cumsum(probs, -1, /*reverse=*/true, /*inclusive=*/false);
  int B = probs.shape(0);
  auto total = mx::add(mx::slice(mass_above, {0, 0}, {B, 1}), mx::slice(probs, {0, 0}, {B, 1}));
  auto dropped =
      mx::sum(mx::greater_equal(mass_above, mx::multiply(mx::array(top_p), total)), -1, true);
  auto threshold = mx::take_along_axis(sorted, dropped, -1);
  return mx::where(mx::less(logprobs, threshold), minus_inf(logprobs.dtype()), logprobs);
}

// Drop tokens less likely than min_p times the most likely one.
mx::array apply_min_p(const mx::array& logprobs, float min_p) {
  auto top = mx::max(logprobs, -1, true);
  auto scaled = mx::add(top, mx::array(std::log(min_p)));
  return mx::where(mx::less(logprobs, scaled), minus_inf(logprobs.dtype()), logprobs);
}

// Keep the top_k most likely tokens.
mx::array apply_top_k(const mx::array& logprobs, int top_k) {
  int V = logprobs.shape(-1);
  auto order = mx::argpartition(mx::negative(logprobs), top_k - 1, -1);
  auto drop = mx::slice(order, {0, top_k}, {order.shape(0), V});
  return mx::put_along_axis(logprobs, drop, minus_inf(logprobs.dtype()), -1);
}

// XTC: in the rows whose draw falls at or under `probability`, remove every token more likely
// than the least likely token above `threshold` (so with two or more above it, all of them but
// that one), except the `keep` tokens. mlx-lm draws once per step for the whole batch; here
// each row (sequence) draws its own, which is the same for one sequence.
mx::array apply_xtc(const mx::array& logprobs, float probability, float threshold,
                    const std::optional<mx::array>& keep, const std::optional<mx::array>& key) {
  auto probs = mx::softmax(mx::astype(logprobs, mx::float32), -1, /*precise=*/true);
  auto inf = mx::array(std::numeric_limits<float>::infinity());
  auto least = mx::min(mx::where(mx::greater(probs, mx::array(threshold)), probs, inf), -1, true);
  auto remove = mx::greater(probs, least);
  if (keep) remove = mx::logical_and(remove, mx::logical_not(*keep));
  auto draw = mx::random::uniform(mx::Shape{logprobs.shape(0), 1}, mx::float32, key);
  auto applies = mx::less_equal(draw, mx::array(probability));
  return mx::where(mx::logical_and(applies, remove), minus_inf(logprobs.dtype()), logprobs);
}

// Boolean [V]: true at the given ids (those < V).
mx::array id_flags(const std::vector<int>& ids, int V) {
  std::vector<int32_t> flags(V, 0);
  for (int id : ids) {
    if (id >= 0 && id < V) flags[id] = 1;
  }
  return mx::not_equal(mx::array(flags.data(), {V}, mx::int32), mx::array(0));
}

}  // namespace

Sampler::Sampler(const SamplingParams& p) : p_(p) {
  if (p.seed) key_ = mx::random::key(*p.seed);
}

// A fresh key per draw when seeded (nullopt: MLX's global generator).
std::optional<mx::array> Sampler::next_key() {
  if (!key_) return std::nullopt;
  auto [next, sub] = mx::random::split(*key_);
  key_ = next;
  return sub;
}

// Greedy needs no normalization (argmax is shift-invariant): it skips a vocabulary of exps. As in
// mlx-lm, greedy ignores the other samplers (XTC included).
mx::array Sampler::operator()(const mx::array& logits) {
  if (p_.temperature == 0) return mx::astype(mx::argmax(logits, -1), mx::int32);
  auto x = mx::subtract(logits, mx::logsumexp(logits, -1, true));
  int V = x.shape(-1);
  auto step_key = next_key();
  if (p_.top_p > 0 && p_.top_p < 1) x = apply_top_p(x, p_.top_p);
  if (p_.min_p != 0) x = apply_min_p(x, p_.min_p);
  if (p_.xtc_probability > 0) {
    // The XTC draw gets its own key split from the step's, so runs without XTC keep their streams.
    std::optional<mx::array> xtc_key;
    if (step_key) {
      auto [draw, rest] = mx::random::split(*step_key);
      xtc_key = draw;
      step_key = rest;
    }
    if (!special_ && !p_.xtc_special_tokens.empty()) special_ = id_flags(p_.xtc_special_tokens, V);
    x = apply_xtc(x, p_.xtc_probability, p_.xtc_threshold, special_, xtc_key);
  }
  if (p_.top_k > 0 && p_.top_k < V) x = apply_top_k(x, p_.top_k);
  auto scaled = mx::multiply(x, mx::array(1.0f / p_.temperature));
  return mx::astype(mx::random::categorical(scaled, -1, step_key), mx::int32);
}

std::vector<mx::array> StepOut::arrays() const {
  std::vector<mx::array> out{token};
  for (const auto* a : {&logprob, &top_ids, &top_logprobs}) {
    if (*a) out.push_back(**a);
  }
  return out;
}

void StepOut::take_rows(const mx::array& index) {
  token = mx::take(token, index, 0);
  for (auto* a : {&logprob, &top_ids, &top_logprobs}) {
    if (*a) *a = mx::take(**a, index, 0);
  }
}

StepOut step_out(const mx::array& logits, const mx::array& y, int k) {
  StepOut out;
  out.token = y;
  if (k < 0) return out;
  auto x = mx::astype(logits, mx::float32);
  auto lp = mx::subtract(x, mx::logsumexp(x, -1, true));
  out.logprob = mx::squeeze(mx::take_along_axis(lp, mx::reshape(y, {-1, 1}), -1), -1);
  if (k == 0) return out;
  int R = lp.shape(0);
  auto ids = mx::slice(mx::argpartition(mx::negative(lp), k - 1, -1), {0, 0}, {R, k});
  auto values = mx::take_along_axis(lp, ids, -1);
  auto order = mx::argsort(mx::negative(values), -1);  // most likely first
  out.top_ids = mx::astype(mx::take_along_axis(ids, order, -1), mx::int32);
  out.top_logprobs = mx::take_along_axis(values, order, -1);
  return out;
}

}  // namespace mlxlab
