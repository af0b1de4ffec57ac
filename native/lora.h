// Adapters over a decoder model, as mlx-lm's tuner makes them (tuner/utils.py
// linear_to_lora_layers, tuner/lora.py, tuner/dora.py, lora.py train_model):
//   lora: every chosen Linear (full precision or quantized: QLoRA) gets
//         y = base(x) + scale * ((dropout(x) @ lora_a) @ lora_b), lora_a [in, r], lora_b [r, out];
//         every chosen SwitchLinear (qwen3_moe experts) the same per expert with
//         lora_a [E, r, in], lora_b [E, out, r] (mlx-lm's LoRASwitchLinear);
//   dora: mlx-lm's DoRALinear (LoRA plus a learned magnitude `m` per output row);
//   full: the parameters of the last num_layers blocks themselves are trained.
// The base weights stay frozen (and quantized). The adapter lives in the model through the
// Linear/SwitchLinear `lora` hooks, so generation sees it while it trains.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "models/decoder.h"

namespace mlxlab {

struct LoraConfig {
  int rank = 8;
  float scale = 20.0f;
  float dropout = 0.0f;
  // Module paths relative to a block ("self_attn.q_proj", "mlp.switch_mlp.up_proj") or full
  // paths ("lm_head"). nullopt: every linear layer of the blocks (mlx-lm's default).
  std::optional<std::vector<std::string>> keys;
  // The last num_layers blocks; <= 0 means all of them (mlx-lm: layers[-max(n, 0):]).
  int num_layers = 16;
  std::string fine_tune_type = "lora";  // lora | dora | full
};

// Training-time switches shared by all branches of one adapter.
struct AdapterContext {
  bool training = false;
  // One PRNG key per dropout site for this forward pass ([n_sites, 2] uint32), set while
  // training with dropout > 0.
  std::optional<mx::array> dropout_keys;
  // Every branch passes the base output through: the model computes as the base model (GRPO's
  // reference, the same weights with the adapter off).
  bool bypass = false;
};

// One trainable array: where it lives (inside a branch or inside the model) and its name as
// mlx-lm saves it.
struct TrainableSlot {
  std::string name;
  mx::array* value = nullptr;
  int layer = -1;  // the decoder block it belongs to, -1 for none (e.g. lm_head)
};

class Adapter {
 public:
  // Attach to `model` (which must outlive the adapter). lora_a is drawn as mlx-lm draws it
  // after mx.random.seed(seed): a key sequence starting at `init_key`, one draw skipped for the
  // base layer mlx-lm builds first and then one for lora_a, per adapted layer, in mlx-lm's order.
  // `init_key` is advanced past the draws (it continues the sequence for dropout).
  // Throws Error(E_CONFIG) for a bad config (num_layers beyond the model, a key matching no
  // layer, DoRA on expert linears, LoRA on embeddings, rank < 1, dropout outside [0, 1)).
  Adapter(std::shared_ptr<Model> model, const LoraConfig& config, mx::array& init_key);
  ~Adapter();
  Adapter(const Adapter&) = delete;
  Adapter& operator=(const Adapter&) = delete;

  // Remove the branches from the model (full fine-tuning: restore the original weights).
  void detach();
  bool attached() const { return attached_; }

  const LoraConfig& config() const { return config_; }
  const std::vector<TrainableSlot>& slots() const { return slots_; }
  std::vector<mx::array> values() const;
  void set_values(const std::vector<mx::array>& values);

  // Every trainable array by its mlx-lm name (what adapters.safetensors holds).
  Weights parameters() const;
  size_t parameter_count() const;

  // Set some or all trainable arrays from `weights` (mlx-lm's load_adapters semantics: a subset
  // is fine). Throws Error(E_WEIGHTS) naming `source` and the key when a name is not a trainable
  // parameter here or its shape differs; nothing is changed then.
  void load_parameters(const Weights& weights, const std::string& source);
  void load(const std::string& file);
  void save(const std::string& file) const;  // atomic, metadata {"format": "mlx"}

  AdapterContext& context() { return *context_; }
  int dropout_sites() const { return dropout_sites_; }

 private:
  std::shared_ptr<Model> model_;
  DecoderModel* decoder_ = nullptr;
  LoraConfig config_;
  std::shared_ptr<AdapterContext> context_;
  std::vector<TrainableSlot> slots_;
  std::vector<nn::Linear*> linears_;
  std::vector<nn::SwitchLinear*> switch_linears_;
  std::vector<std::shared_ptr<void>> branches_;  // keep the branches (slots point into them)
  std::vector<std::pair<mx::array*, mx::array>> originals_;  // full fine-tuning
  std::vector<std::pair<std::optional<mx::array>*, std::optional<mx::array>>> computes_;
  int dropout_sites_ = 0;
  bool attached_ = false;
};

// mlx-lm's default keys for a model: the module paths (relative to a block) of every linear
// layer in any block, in the order mlx-lm visits them in a block.
std::vector<std::string> default_lora_keys(DecoderModel& model);

}  // namespace mlxlab
