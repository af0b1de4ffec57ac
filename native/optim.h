// Optimizers and learning-rate schedules with mlx.optimizers' exact semantics and defaults
// (mlx/optimizers/optimizers.py, schedulers.py) and mlx-lm's lr_schedule config
// (tuner/utils.py build_schedule: a linear warmup joined to the schedule at warmup + 1).
//
// The state is flat and explicit so that a step can be compiled and saved: [step (uint64),
// learning_rate (float32), then per parameter its slots (adam/adamw: m, v; sgd: v)]. Saved, the
// names are those of tree_flatten(optimizer.state) in mlx: "step", "learning_rate",
// "<parameter>.m", "<parameter>.v".
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "models/model.h"

namespace mlxlab {

struct ScheduleConfig {
  // cosine_decay(init, decay_steps, end=0) | linear_schedule(init, end, steps) |
  // exponential_decay(init, decay_rate) | step_decay(init, decay_rate, step_size)
  std::string name;
  std::vector<double> arguments;
  int warmup = 0;            // linear warmup steps (0: none)
  double warmup_init = 0.0;  // the warmup's starting value
};

struct OptimizerConfig {
  std::string name = "adam";  // adam | adamw | sgd
  double learning_rate = 1e-5;
  std::optional<ScheduleConfig> schedule;  // replaces learning_rate when set
  // adam / adamw
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  bool bias_correction = false;  // mlx's default
  // adamw: 0.01 when unset; sgd: 0 when unset
  std::optional<double> weight_decay;
  // sgd
  double momentum = 0.0;
  double dampening = 0.0;
  bool nesterov = false;
};

// A schedule: the value (float32 scalar) at `step` (uint64 scalar), as mlx computes it.
using Schedule = std::function<mx::array(const mx::array& step)>;

// Throws Error(E_CONFIG) naming the bad argument.
Schedule make_schedule(const ScheduleConfig& config);

class Optimizer {
 public:
  // Throws Error(E_CONFIG) for an unknown name or an out-of-range value.
  explicit Optimizer(OptimizerConfig config);

  const OptimizerConfig& config() const { return config_; }
  int slots_per_parameter() const { return config_.name == "sgd" ? 1 : 2; }
  const std::vector<std::string>& slot_names() const { return slot_names_; }

  // Fresh state for these parameters: step 0, the learning rate (schedule(0)), zeros.
  std::vector<mx::array> init(const std::vector<mx::array>& params) const;

  // One update (mlx Optimizer.apply_gradients): the scheduled learning rate for the current
  // step, step + 1, then each parameter's rule. Pure: returns (new params, new state).
  std::pair<std::vector<mx::array>, std::vector<mx::array>> update(
      const std::vector<mx::array>& grads, const std::vector<mx::array>& params,
      const std::vector<mx::array>& state) const;

  // Drop the schedule; the learning rate stays at `lr` from now on.
  void set_learning_rate(double lr);
  // state[1] set to the constant learning rate (after set_learning_rate).
  mx::array learning_rate_array() const;

  // The state as mlx names it, and back (Error(E_WEIGHTS) naming `source` and the key).
  Weights state_weights(const std::vector<mx::array>& state,
                        const std::vector<std::string>& param_names) const;
  std::vector<mx::array> state_from_weights(const Weights& weights,
                                            const std::vector<std::string>& param_names,
                                            const std::vector<mx::array>& params,
                                            const std::string& source) const;

 private:
  mx::array apply_single(const mx::array& g, const mx::array& p, const mx::array* slots,
                         mx::array* new_slots, const mx::array& lr, const mx::array& step) const;
  OptimizerConfig config_;
  std::optional<Schedule> schedule_;
  std::vector<std::string> slot_names_;
};

}  // namespace mlxlab
