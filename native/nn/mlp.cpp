#include "nn/mlp.h"

namespace mlxlab::nn {

Mlp Mlp::load(WeightTaker& w, const std::string& path, int dims, int hidden_dims, bool bias,
              const QuantConfig& q, const std::string& why, bool fused, Activation activation) {
  Mlp m;
  m.activation = activation;
  if (fused) {
    m.gate_up_proj = Linear::load(w, path + ".gate_up_proj", dims, 2 * hidden_dims, bias, q, why);
  } else {
    m.gate_proj = Linear::load(w, path + ".gate_proj", dims, hidden_dims, bias, q, why);
    m.up_proj = Linear::load(w, path + ".up_proj", dims, hidden_dims, bias, q, why);
  }
  m.down_proj = Linear::load(w, path + ".down_proj", hidden_dims, dims, bias, q, why);
  return m;
}

mx::array Mlp::operator()(const mx::array& x) const {
  auto gu = gate_up_proj ? mx::split((*gate_up_proj)(x), 2, -1)
                         : std::vector<mx::array>{gate_proj(x), up_proj(x)};
  bool gelu = activation == Activation::kGeluApprox;
  return down_proj(gelu ? mx::multiply(gelu_approx(gu[0]), gu[1]) : swiglu(gu[0], gu[1]));
}

void Mlp::collect(Weights& out) const {
  for (const auto* l : projections()) l->collect(out);
}

std::vector<Linear*> Mlp::projections() {
  if (gate_up_proj) return {&*gate_up_proj, &down_proj};
  return {&gate_proj, &down_proj, &up_proj};
}

std::vector<const Linear*> Mlp::projections() const {
  if (gate_up_proj) return {&*gate_up_proj, &down_proj};
  return {&gate_proj, &down_proj, &up_proj};
}

}  // namespace mlxlab::nn
