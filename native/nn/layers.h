// The building blocks of the decoder models, matching mlx.nn / mlx-lm numerics: linear layers
// (full precision or quantized, with a LoRA hook), expert ("switch") linears, embeddings and
// RMSNorm. RoPE is in nn/rope.h; attention, MLP and MoE blocks are built from these.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "models/config.h"
#include "models/model.h"
#include "nn/weights.h"

namespace mlxlab::nn {

// Extension point for adapters: when a Linear holds one, its output is
// `branch(x, base(x))` instead of `base(x)`. LoRA: base + scale * (x @ a) @ b.
class LoraBranch {
 public:
  virtual ~LoraBranch() = default;
  virtual mx::array apply(const mx::array& x, const mx::array& base_out) const = 0;
  // Trainable arrays by name relative to the linear ("lora_a", "lora_b").
  virtual Weights parameters() const = 0;
};

// The same hook for expert linears (mlx-lm's LoRASwitchLinear).
class SwitchLoraBranch {
 public:
  virtual ~SwitchLoraBranch() = default;
  virtual mx::array apply(const mx::array& x, const mx::array& indices, bool sorted,
                          const mx::array& base_out) const = 0;
  virtual Weights parameters() const = 0;
};

// y = x W^T + b, with W full precision [out, in] or quantized (packed uint32 + scales/biases).
struct Linear {
  std::string path;  // module path, e.g. "model.layers.0.self_attn.q_proj"
  int input_dims = 0;
  int output_dims = 0;
  mx::array weight = mx::array(0.0f);       // set by load()
  std::optional<mx::array> scales, biases;  // quantized only (biases: affine mode)
  std::optional<mx::array> bias;
  std::optional<QuantSpec> quant;           // nullopt = full precision
  std::shared_ptr<LoraBranch> lora;         // empty unless an adapter is attached
  std::optional<mx::array> compute_weight;  // float32 [out, in] used for matmuls when set
  bool use_kernels = false;  // quantized: our kernel (native/kernels) for few rows on the CPU

  // Take `path`.weight (+ .scales/.biases, .bias) out of `weights`, checking shapes.
  static Linear load(WeightTaker& weights, const std::string& path, int input_dims, int output_dims,
                     bool has_bias, const QuantConfig& quantization, const std::string& why);

  mx::array operator()(const mx::array& x) const;  // with the adapter, if any
  mx::array base(const mx::array& x) const;        // without it
  bool quantized() const { return quant.has_value(); }
  // The weight as [out, in] in floating point (dequantized when quantized).
  mx::array dense_weight() const;
  // Base parameters by full name (path.weight, path.scales, ...).
  void collect(Weights& out) const;
};

// Per-expert linears [E, out, in] applied to tokens routed by `indices` (mlx-lm SwitchLinear).
struct SwitchLinear {
  std::string path;  // e.g. "model.layers.0.mlp.switch_mlp.up_proj"
  int num_experts = 0;
  int input_dims = 0;
  int output_dims = 0;
  mx::array weight = mx::array(0.0f);  // set by load()
  std::optional<mx::array> scales, biases;
  std::optional<mx::array> bias;
  std::optional<QuantSpec> quant;
  std::shared_ptr<SwitchLoraBranch> lora;
  std::optional<mx::array> compute_weight;  // float32 [E, out, in] used when set

  static SwitchLinear load(WeightTaker& weights, const std::string& path, int num_experts,
                           int input_dims, int output_dims, bool has_bias,
                           const QuantConfig& quantization, const std::string& why);

  mx::array operator()(const mx::array& x, const mx::array& indices, bool sorted) const;
  mx::array base(const mx::array& x, const mx::array& indices, bool sorted) const;
  bool quantized() const { return quant.has_value(); }
  void collect(Weights& out) const;
};

// Token embedding [vocab, dims], full precision or quantized; as_linear gives tied logits.
struct Embedding {
  std::string path;  // "model.embed_tokens"
  int num_embeddings = 0;
  int dims = 0;
  mx::array weight = mx::array(0.0f);  // set by load()
  std::optional<mx::array> scales, biases;
  std::optional<QuantSpec> quant;
  std::optional<mx::array> compute_weight;  // float32 [vocab, dims] used when set
  bool use_kernels = false;                 // quantized: our kernels for as_linear, float32 rows

  static Embedding load(WeightTaker& weights, const std::string& path, int num_embeddings, int dims,
                        const QuantConfig& quantization, const std::string& why);

  mx::array operator()(const mx::array& tokens) const;  // gathered (and dequantized) rows
  mx::array as_linear(const mx::array& x) const;        // x @ W^T
  void collect(Weights& out) const;
};

struct RMSNorm {
  std::string path;
  mx::array weight = mx::array(0.0f);  // set by load()
  float eps = 1e-6f;
  float offset = 0.0f;  // scales by offset + weight (gemma3: 1 + weight)

  static RMSNorm load(WeightTaker& weights, const std::string& path, int dims, float eps,
                      const std::string& why, float offset = 0.0f);
  mx::array operator()(const mx::array& x) const;
  void collect(Weights& out) const;
};

// silu(gate) * x
mx::array swiglu(const mx::array& gate, const mx::array& x);

// The tanh approximation of GELU, as mlx.nn.gelu_approx.
mx::array gelu_approx(const mx::array& x);

}  // namespace mlxlab::nn
