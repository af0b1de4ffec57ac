// DPO's and ORPO's math, as mlx-lm-lora computes them: the preference losses of
// trainer/dpo_trainer.py (dpo_loss with the loss types sigmoid, hinge, ipo and dpop, the scores of
// get_token_scores / compute_score) and trainer/orpo_trainer.py (orpo_loss on get_logps' mean
// log-probs), with the metrics both report. The forward passes that feed them live in the
// Trainer (train_preference.cpp).
#pragma once

#include <string>
#include <vector>

#include "nn/weights.h"

namespace mlxlab {

// mlx-lm-lora's DPOTrainingArgs / ORPOTrainingArgs keys that shape the loss.
struct PreferenceConfig {
  std::string method = "dpo";         // train_mode: dpo | orpo
  std::string loss_type = "sigmoid";  // dpo_cpo_loss_type: sigmoid | hinge | ipo | dpop
  double beta = 0.1;                  // DPO: temperature of the preference logits; ORPO: the
                                      // weight of the log-odds ratio term
  double delta = 50.0;                // dpop: the weight of the chosen-likelihood penalty
};

// Error(E_CONFIG) naming the key for a setting outside its domain.
void check_preference_config(const PreferenceConfig& config);

// One preference batch of B pairs: rows [0, B) are the chosen sequences, rows [B, 2B) the
// rejected ones (prompt + reply tokens, zero padded) [2B, L]; per row the prompt and reply
// lengths [2B, 2]; per pair ORPO's preference score [B] (float32; 1 when the data has none).
struct PreferenceBatch {
  mx::array tokens;
  mx::array lengths;
  mx::array scores;
};

// What a preference objective returns, in this order: loss, tokens (the reply tokens of both
// sides), chosen_reward, rejected_reward, accuracies, margins, policy_chosen_logps,
// policy_rejected_logps (mlx-lm-lora's names and values).
constexpr int kPreferenceOutputs = 8;

// DPO on the per-token log-probs [2B, T] of the policy and the reference with the mask [2B, T].
std::vector<mx::array> dpo_objective(const mx::array& logps, const mx::array& ref_logps,
                                     const mx::array& mask, const PreferenceConfig& config);

// ORPO on the policy's per-token log-probs [2B, T] with the mask [2B, T] and the pairs'
// preference scores [B] (no reference model).
std::vector<mx::array> orpo_objective(const mx::array& logps, const mx::array& mask,
                                      const mx::array& scores, const PreferenceConfig& config);

}  // namespace mlxlab
