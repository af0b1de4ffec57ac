// A sparse mixture of experts: a softmax router picks the top-k experts of each token, each a
// SwiGLU over expert ("switch") linears (mlx-lm switch_layers.py SwitchGLU, qwen3_moe.py
// Qwen3MoeSparseMoeBlock).
#pragma once

#include <string>

#include "nn/layers.h"

namespace mlxlab::nn {

// The shape and routing of one MoE block.
struct MoeSpec {
  int dims = 0;         // hidden_size
  int hidden_dims = 0;  // moe_intermediate_size
  int num_experts = 0;
  int top_k = 0;
  bool norm_topk_prob = false;  // renormalize the top-k scores to sum to 1
};

struct SparseMoe {
  Linear gate;  // router [num_experts, hidden]
  SwitchLinear gate_proj, up_proj, down_proj;
  int top_k = 0;
  bool norm_topk_prob = false;

  // Take `path`.gate and `path`.switch_mlp.{gate,up,down}_proj (stacked) out of `weights`.
  static SparseMoe load(WeightTaker& weights, const std::string& path, const MoeSpec& spec,
                        const QuantConfig& quantization, const std::string& why);
  mx::array operator()(const mx::array& x) const;
  // SwitchGLU: each token through its experts `indices` [.., top_k].
  mx::array switch_glu(const mx::array& x, const mx::array& indices) const;
  void collect(Weights& out) const;
};

// HF checkpoints keep experts apart (`prefix`.experts.E.up_proj.weight); mlx-lm stacks them into
// `prefix`.switch_mlp.up_proj.weight [E, out, in]. Throws Error(E_WEIGHTS) for a missing expert.
void stack_experts(WeightTaker& weights, const std::string& prefix, int num_experts);

}  // namespace mlxlab::nn
