// Training an adapter: mlx-lm's default_loss, value_and_grad over the trainable arrays only,
// gradient accumulation, gradient checkpointing, optional mx::compile, validation loss, and a
// state (optimizer, step, RNG key, accumulated gradients) that can be saved for exact resume.
// Follows mlx-lm's tuner/trainer.py (train, evaluate, default_loss, grad_checkpoint).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "grpo.h"
#include "lora.h"
#include "optim.h"
#include "preference.h"

namespace mlxlab {

struct TrainConfig {
  LoraConfig lora;
  OptimizerConfig optimizer;
  uint64_t seed = 0;                // lora_a init (as mlx-lm after mx.random.seed) and dropout
  int grad_accumulation_steps = 1;  // micro-batches per optimizer update
  bool grad_checkpoint = false;     // recompute each block in the backward pass
  bool compile = false;             // mx::compile the gradient and the update functions
  // Leading tokens every example starts with (a system prompt): the frozen layers below the
  // adapter run on them once, and each batch that starts with them runs those layers on the rest
  // only. Empty, or with compile: off.
  std::vector<int> shared_prefix;
  // Sum each micro-batch's gradients over the ranks of the distributed group (weighted by
  // token counts, so N ranks with shards of a batch equal one process with the whole batch).
  bool data_parallel = false;
  // In one process, split each batch into this many row shards and combine their gradients
  // exactly as data_parallel ranks do (the reference the distributed run must equal bit for bit).
  int local_shards = 1;
  // Attach for inference only: no optimizer and no optimizer state (step, the state file and
  // the learning rate then fail with E_ARGUMENT); evaluate and the adapter file work.
  bool inference = false;
};

// One micro-batch as mlx-lm's iterate_batches makes it: tokens [B, L] int32 (zero padded) and
// lengths [B, 2] int32 holding (prompt offset, length) per row. default_loss counts target t
// (predicting tokens[:, t + 1]) when offset <= t + 1 <= length.
struct Batch {
  mx::array tokens;
  mx::array lengths;
};

struct StepResult {
  double loss = 0;           // this micro-batch's loss (float32 value; over all ranks' shards
                             // when data parallel)
  int tokens = 0;            // its unmasked target tokens (likewise)
  double learning_rate = 0;  // the optimizer's learning rate after this step
  bool non_finite = false;   // NaN/Inf loss: nothing was changed (no accumulation, no update)
  bool updated = false;      // an optimizer update happened in this step
  int prefix_tokens = 0;     // shared-prefix tokens whose frozen layers came from the cache
  uint64_t iteration = 0;    // micro-batches trained so far (mlx-lm's `it`)
  uint64_t step = 0;         // optimizer updates so far
};

struct EvalResult {
  double loss = 0;  // sum(loss * tokens) / sum(tokens), as mlx-lm's evaluate
  int tokens = 0;
};

struct Gradients {
  double loss = 0;
  int tokens = 0;
  Weights grads;  // by trainable parameter name
};

// A GRPO step: the step as any other, and mlx-lm-lora's metrics of the objective.
struct GrpoStepResult {
  StepResult step;
  double kl = 0;               // mean over rows of the per-token KL to the reference
  double clip_ratio_low = 0;   // share of tokens clipped below (negative advantage)
  double clip_ratio_high = 0;  // share clipped above (positive advantage)
};

struct GrpoGradients {
  Gradients gradients;
  double kl = 0;
};

// mlx-lm-lora's DPO / ORPO metrics of one batch (or their token-weighted mean over batches).
struct PreferenceMetrics {
  double chosen_reward = 0;
  double rejected_reward = 0;
  double accuracies = 0;
  double margins = 0;
  double policy_chosen_logps = 0;
  double policy_rejected_logps = 0;
};

struct PreferenceStepResult {
  StepResult step;
  PreferenceMetrics metrics;
};

struct PreferenceGradients {
  Gradients gradients;
  PreferenceMetrics metrics;
};

struct PreferenceEval {
  EvalResult eval;
  PreferenceMetrics metrics;
};

// Flat indices (row * (L - 1) + t) of the positions mlx-lm's default_loss counts for tokens
// [B, L] with lengths [B, 2] (offset, length): offset <= t + 1 <= length.
mx::array target_positions(const mx::array& lengths, int L);

// mlx-lm's default_loss, computed on the counted positions only: logits [N, V] of those
// positions and their targets [N] give (mean cross-entropy, N).
std::pair<mx::array, mx::array> target_cross_entropy(const mx::array& logits,
                                                     const mx::array& targets);

class Trainer {
 public:
  // Attaches the adapter to the model (Error(E_CONFIG) for bad settings).
  Trainer(std::shared_ptr<Model> model, const TrainConfig& config);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // One micro-batch: loss and gradients; every grad_accumulation_steps-th call also updates
  // the weights with the mean of the accumulated gradients (mlx-lm: `it % k == 0`).
  // Error(E_ARGUMENT) for a bad batch, Error(E_TRAIN) when MLX fails during the step.
  StepResult step(const Batch& batch);

  // One GRPO micro-batch (completions sampled from this adapter, their advantages): the
  // objective's gradients go through the same accumulation and optimizer update as step().
  // The reference is the base model: the same weights with the adapter bypassed.
  // Error(E_CONFIG) for bad GRPO settings, E_ARGUMENT for a bad batch, E_TRAIN when MLX fails.
  GrpoStepResult grpo_step(const GrpoBatch& batch, const GrpoConfig& config);

  // The GRPO loss, its metrics and gradients of one batch, nothing changed (parity tests).
  GrpoGradients grpo_gradients(const GrpoBatch& batch, const GrpoConfig& config);

  // One DPO / ORPO micro-batch of pairs: the preference loss's gradients go through the same
  // accumulation and optimizer update as step(). DPO's reference is the base model: the same
  // weights with the adapter bypassed. Errors as grpo_step.
  PreferenceStepResult preference_step(const PreferenceBatch& batch,
                                       const PreferenceConfig& config);

  // The preference loss, its metrics and gradients of one batch, nothing changed (parity tests).
  PreferenceGradients preference_gradients(const PreferenceBatch& batch,
                                           const PreferenceConfig& config);

  // The preference loss and metrics over batches without gradients or dropout, weighted by
  // their reply tokens (mlx-lm-lora's evaluate_dpo / evaluate_orpo).
  PreferenceEval preference_evaluate(const std::vector<PreferenceBatch>& batches,
                                     const PreferenceConfig& config);

  // Loss over batches without gradients or dropout.
  EvalResult evaluate(const std::vector<Batch>& batches);

  // Loss and gradients of one batch, nothing changed (for tests and diagnostics).
  Gradients gradients(const Batch& batch);

  // adapters.safetensors in mlx-lm's format (atomic; metadata {"format": "mlx"}), and back
  // (a subset of the names is fine, as mlx-lm's load_adapters; Error(E_WEIGHTS) otherwise).
  void save_adapter(const std::string& path) const;
  void load_adapter(const std::string& path);

  Adapter& adapter() { return *adapter_; }
  const TrainConfig& config() const { return config_; }
  uint64_t iteration() const { return iteration_; }
  uint64_t optimizer_step() const;
  double learning_rate() const;
  void set_learning_rate(double lr);  // a constant from now on (drops the schedule)

  // Optimizer state, step, RNG key, iteration and accumulated gradients in one safetensors
  // file (atomic). `metadata` is stored alongside (keys must not start with "mlx_lab.").
  void save_state(const std::string& path,
                  const std::unordered_map<std::string, std::string>& metadata = {}) const;
  // Restore them; returns the caller's metadata. Error(E_WEIGHTS) for a file that does not fit
  // this trainer (names the key), Error(E_CONFIG) for another optimizer.
  std::unordered_map<std::string, std::string> load_state(const std::string& path);

  // Remove the adapter from the model; the trainer cannot train afterwards.
  void detach();
  bool attached() const { return adapter_ && adapter_->attached(); }
  // Arrays of optimizer state held (0 for an inference attachment).
  size_t optimizer_state_arrays() const { return state_.size(); }

 private:
  StepResult step_impl(const Batch& batch);
  void apply_gradients(std::vector<mx::array> grads, StepResult& r);
  void check_grpo(const GrpoBatch& batch, const GrpoConfig& config) const;
  GrpoStepResult grpo_step_impl(const GrpoBatch& batch, const GrpoConfig& config);
  void check_preference(const PreferenceBatch& batch, const PreferenceConfig& config) const;
  PreferenceStepResult preference_step_impl(const PreferenceBatch& batch,
                                            const PreferenceConfig& config);
  std::vector<mx::array> preference_loss_fn(const std::vector<mx::array>& inputs,
                                            const PreferenceConfig& c, bool training);
  std::vector<mx::array> grpo_loss_fn(const std::vector<mx::array>& inputs, const GrpoConfig& c);

  // ---- completion scoring, shared by GRPO and DPO/ORPO (train_completion.cpp)
  using CompletionLoss = std::function<std::vector<mx::array>(const std::vector<mx::array>&)>;
  // Log-probs [B, T] of each row's completion tokens at `index` [B, T] of the inputs' positions.
  mx::array completion_logps(const mx::array& tokens, const mx::array& index);
  // Trainable arrays, then tokens, completion index, mask, `per_row` and the reference's
  // log-probs (computed once, adapter bypassed, when `reference`; else zeros).
  std::vector<mx::array> completion_inputs(const mx::array& tokens, const mx::array& lengths,
                                           const mx::array& per_row, bool reference);
  // The adapter set to the inputs' trainable arrays (dropout keys from the input key when
  // training): the policy's completion log-probs.
  mx::array completion_policy_logps(const std::vector<mx::array>& inputs, bool training);
  // `loss`'s outputs, then its gradients over the trainable arrays (plus the accumulated ones).
  std::vector<mx::array> completion_grad_fn(const std::vector<mx::array>& inputs,
                                            const CompletionLoss& loss);
  // The inputs with a fresh dropout key (and the accumulated gradients when `accumulate`)
  // through completion_grad_fn, evaluated; `carry` gets the next RNG key.
  std::vector<mx::array> completion_gradients(std::vector<mx::array> inputs,
                                              const CompletionLoss& loss, bool accumulate,
                                              mx::array& carry);
  // A step from the outputs (loss, tokens first; gradients after `n_outputs`): a non-finite loss
  // changes nothing, else the key advances and the gradients go through the update.
  void finish_completion_step(const std::vector<mx::array>& out, size_t n_outputs,
                              const mx::array& carry, StepResult& step);
  // Loss, tokens and each slot's gradient from the outputs.
  void completion_slot_grads(const std::vector<mx::array>& out, size_t n_outputs,
                             Gradients& g) const;
  std::vector<mx::array> shard_gradients(const Batch& batch, const mx::array& key);
  void check_attached() const;
  void check_optimizer(const char* what) const;
  void check_batch(const Batch& batch, bool allow_no_targets = false) const;
  mx::array hidden(const mx::array& inputs);
  bool starts_with_prefix(const mx::array& tokens) const;
  void build_prefix();
  std::pair<mx::array, mx::array> frozen_hidden(const mx::array& inputs);
  mx::array shared_trainable_hidden(mx::array prefix, mx::array rest);
  static mx::array join_prefix(const mx::array& prefix, const mx::array& rest);
  std::vector<mx::array> inputs_for(const Batch& batch);
  std::vector<mx::array> loss_fn(const std::vector<mx::array>& inputs, bool training);
  std::vector<mx::array> grad_fn(const std::vector<mx::array>& inputs);
  std::vector<mx::array> update_fn(const std::vector<mx::array>& inputs);
  std::vector<mx::array> run_grad(const std::vector<mx::array>& inputs);
  std::vector<mx::array> run_update(const std::vector<mx::array>& inputs);

  std::shared_ptr<Model> model_;
  DecoderModel* decoder_ = nullptr;
  TrainConfig config_;
  std::unique_ptr<Adapter> adapter_;
  std::unique_ptr<Optimizer> optimizer_;
  std::vector<mx::array> params_;  // the trainable arrays (real values, outside a trace)
  std::vector<mx::array> state_;   // the optimizer state
  std::optional<std::vector<mx::array>> accum_;
  mx::array key_ = mx::array(0);  // dropout PRNG key, split once per step
  uint64_t iteration_ = 0;
  std::vector<std::vector<size_t>> layer_slots_;  // slot indices per block
  // The shared prefix through the frozen blocks [0, frozen_layers_): their caches and the hidden
  // state entering the first trainable block. use_prefix_: the batch being traced starts with it.
  size_t frozen_layers_ = 0;
  std::optional<KVCache> prefix_cache_;
  std::optional<mx::array> prefix_hidden_;
  bool use_prefix_ = false;
  // mx::compile'd grad_fn (without, with gradient accumulation) and update_fn, made on first
  // use. Each owns its entry in MLX's compile cache and erases it when destroyed.
  using ArrayFn = std::function<std::vector<mx::array>(const std::vector<mx::array>&)>;
  ArrayFn compiled_grad_[2];
  ArrayFn compiled_update_;
};

}  // namespace mlxlab
