// GRPO's math, as mlx-lm-lora computes it (trainer/grpo_trainer.py): group-normalised advantages
// (calculate_rewards_and_advantages), the completion tokens a row is scored on
// (_prepare_grpo_inputs) and the clipped policy-ratio objective with the k3 KL estimate to the
// reference model (_grpo_objective), for the loss types grpo, bnpo and dr_grpo. The forward
// passes that feed it live in the Trainer (train_grpo.cpp).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "nn/weights.h"

namespace mlxlab {

// mlx-lm-lora's GRPOTrainingArgs keys that shape the loss.
struct GrpoConfig {
  std::string loss_type = "grpo";                   // grpo_loss_type: grpo | bnpo | dr_grpo
  double beta = 0.1;                                // KL coefficient; 0 skips the reference pass
  double epsilon = 1e-4;                            // lower clip width of the importance ratio
  std::optional<double> epsilon_high;               // upper clip width (DAPO); nullopt: epsilon
  int max_completion_length = 512;                  // dr_grpo's denominator per row
  std::string importance_sampling_level = "token";  // token | sequence
};

// Error(E_CONFIG) naming the key for a setting outside its domain.
void check_grpo_config(const GrpoConfig& config);

// One GRPO batch: rows of prompt + completion tokens [B, L] (zero padded), per row the prompt
// and completion lengths [B, 2], and the row's advantage [B] (float32).
struct GrpoBatch {
  mx::array tokens;
  mx::array lengths;
  mx::array advantages;
};

// Where each row's completion tokens are predicted: flat indices [B, T] into the [B * (L - 1)]
// positions of the inputs (padding points at the row's first position) and the mask [B, T]
// of real ones; T is the longest completion (at least 1).
struct CompletionPositions {
  mx::array index;
  mx::array mask;
};
CompletionPositions completion_positions(const mx::array& lengths, int L);

// (reward - group mean) / (group std + 1e-4) over consecutive groups of `group_size` rewards,
// in float64 with the population std (numpy's, as mlx-lm-lora). Error(E_ARGUMENT) when the
// rewards do not split into groups or one is not finite.
std::vector<double> group_advantages(const std::vector<double>& rewards, int group_size);

// Selected log-probabilities (float32) of `targets` [N] under `logits` [N, V].
mx::array token_logps(const mx::array& logits, const mx::array& targets);

// The objective on per-token log-probs [B, T] of the policy and the reference with the mask
// [B, T] and advantages [B]: {loss, tokens, kl, clip_ratio_low, clip_ratio_high}. The rollout is
// on-policy (the ratio is 1 in value but carries the policy gradient), as in mlx-lm-lora.
std::vector<mx::array> grpo_objective(const mx::array& logps, const mx::array& ref_logps,
                                      const mx::array& mask, const mx::array& advantages,
                                      const GrpoConfig& config);

}  // namespace mlxlab
