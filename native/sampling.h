// Logits processors and samplers of generation (mlx-lm's sample_utils), on rows of logits [B, V],
// and the log-probabilities a generation can report. Options arrive checked (TS checks them in
// src/model/sampling-options.ts; bindings/args.cpp and generate.cpp's validate() guard the rest).
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "mlx/mlx.h"

namespace mlxlab {

namespace mx = mlx::core;

struct SamplingParams {
  float temperature = 0.0f;  // 0 = greedy
  float top_p = 1.0f;
  int top_k = 0;       // 0 = off
  float min_p = 0.0f;  // 0 = off
  float repetition_penalty = 1.0f;
  int repetition_context = 20;
  // XTC (exclude top choices): with probability xtc_probability per row and step, every token
  // above xtc_threshold but the least likely of them is removed; xtc_special_tokens never are.
  float xtc_probability = 0.0f;  // 0 = off
  float xtc_threshold = 0.1f;
  std::vector<int> xtc_special_tokens;
  std::optional<uint64_t> seed;
};

mx::array minus_inf(mx::Dtype dtype);

// Last `context` tokens of each prompt [B, context] (short prompts repeat their first token).
mx::array prompt_history(const std::vector<std::vector<int>>& prompts, int context);

// Sign-aware multiplicative penalty on the logits of the tokens in `history` [B, n].
mx::array repetition_penalty(const mx::array& logits, const mx::array& history, float penalty);

// An additive bias per token id, as a dense float32 row [V] (ids outside [0, V) are skipped).
mx::array logit_bias_row(const std::vector<std::pair<int, float>>& bias, int V);

// The token drawn per row (int32 [B]) from processed logits [B, V]: greedy, or the sampler
// chain top_p -> min_p -> XTC -> top_k -> temperature, in mlx-lm's order.
class Sampler {
 public:
  explicit Sampler(const SamplingParams& p);
  mx::array operator()(const mx::array& logits);

 private:
  std::optional<mx::array> next_key();
  SamplingParams p_;
  std::optional<mx::array> key_;
  std::optional<mx::array> special_;  // bool [V]: the tokens XTC keeps (made at the first step)
};

// What one decode step yields for the rows of the batch: the tokens and, when asked, their
// log-probabilities and the top-k alternatives.
struct StepOut {
  mx::array token = mx::array(0);         // int32 [R]
  std::optional<mx::array> logprob;       // float32 [R], the chosen token's
  std::optional<mx::array> top_ids;       // int32 [R, k], most likely first
  std::optional<mx::array> top_logprobs;  // float32 [R, k]

  std::vector<mx::array> arrays() const;
  // Keep only the batch rows in `index` (int32 [R']).
  void take_rows(const mx::array& index);
};

// The step's output for tokens `y` drawn from processed logits [R, V]: with k >= 0 also the
// log-softmax (float32) of those logits at y and its k largest entries.
StepOut step_out(const mx::array& logits, const mx::array& y, int k);

}  // namespace mlxlab
