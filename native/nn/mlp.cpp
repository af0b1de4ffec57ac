#include "nn/mlp.h"

namespace mlxlab::nn {

Mlp Mlp::load(WeightTaker& w, const std::string& path, int dims, int hidden_dims, bool bias,
              const QuantConfig& q, const std::string& why) {
  Mlp m;
  m.gate_proj = Linear::load(w, path + ".gate_proj", dims, hidden_dims, bias, q, why);
  m.up_proj = Linear::load(w, path + ".up_proj", dims, hidden_dims, bias, q, why);
  m.down_proj = Linear::load(w, path + ".down_proj", hidden_dims, dims, bias, q, why);
  return m;
}

mx::array Mlp::operator()(const mx::array& x) const {
  return down_proj(swiglu(gate_proj(x), up_proj(x)));
}

void Mlp::collect(Weights& out) const {
  for (const auto* l : {&gate_proj, &up_proj, &down_proj}) l->collect(out);
}

}  // namespace mlxlab::nn
