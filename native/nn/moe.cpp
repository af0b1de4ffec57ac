#include "nn/moe.h"

#include <optional>
#include <vector>

#include "errors.h"

namespace mlxlab::nn {

namespace {

std::string str(int v) { return std::to_string(v); }

}  // namespace

SparseMoe SparseMoe::load(WeightTaker& w, const std::string& path, const MoeSpec& spec,
                          const QuantConfig& q, const std::string& why) {
  auto experts = [&](const char* proj, int in, int out) {
    return SwitchLinear::load(w, path + ".switch_mlp." + proj, spec.num_experts, in, out, false, q,
                              why);
  };
  SparseMoe m;
  m.gate = Linear::load(w, path + ".gate", spec.dims, spec.num_experts, false, q, why);
  m.gate_proj = experts("gate_proj", spec.dims, spec.hidden_dims);
  m.up_proj = experts("up_proj", spec.dims, spec.hidden_dims);
  m.down_proj = experts("down_proj", spec.hidden_dims, spec.dims);
  m.top_k = spec.top_k;
  m.norm_topk_prob = spec.norm_topk_prob;
  return m;
}

mx::array SparseMoe::switch_glu(const mx::array& x_in, const mx::array& indices) const {
  auto x = mx::expand_dims(x_in, {-2, -3});
  // Many tokens: sort them by expert so each expert's rows are read in one run.
  bool do_sort = indices.size() >= 64;
  auto idx = indices;
  std::optional<mx::array> inv_order;
  if (do_sort) {
    int M = indices.shape(-1);
    auto flat = mx::flatten(indices);
    auto order = mx::argsort(flat);
    inv_order = mx::argsort(order);
    x = mx::take(mx::flatten(x, 0, -3), mx::floor_divide(order, mx::array(M, order.dtype())), 0);
    idx = mx::take(flat, order, 0);
  }
  auto x_up = up_proj(x, idx, do_sort);
  auto x_gate = gate_proj(x, idx, do_sort);
  x = down_proj(swiglu(x_gate, x_up), idx, do_sort);
  if (do_sort) x = mx::unflatten(mx::take(x, *inv_order, 0), 0, indices.shape());
  return mx::squeeze(x, -2);
}

mx::array SparseMoe::operator()(const mx::array& x) const {
  auto gates = mx::softmax(gate(x), -1, /*precise=*/true);
  int num_experts = gates.shape(-1);
  auto inds = mx::argpartition(gates, num_experts - top_k, -1);
  auto shape = inds.shape();
  mx::Shape start(shape.size(), 0);
  start.back() = num_experts - top_k;
  inds = mx::stop_gradient(mx::slice(inds, start, shape));
  auto scores = mx::take_along_axis(gates, inds, -1);
  if (norm_topk_prob) scores = mx::divide(scores, mx::sum(scores, -1, true));
  auto y = switch_glu(x, inds);
  return mx::astype(mx::sum(mx::multiply(y, mx::expand_dims(scores, -1)), -2), y.dtype());
}

void SparseMoe::collect(Weights& out) const {
  gate.collect(out);
  for (const auto* l : {&gate_proj, &up_proj, &down_proj}) l->collect(out);
}

void stack_experts(WeightTaker& w, const std::string& prefix, int num_experts) {
  for (const char* proj : {"up_proj", "down_proj", "gate_proj"}) {
    for (const char* suffix : {"weight", "scales", "biases"}) {
      auto first = prefix + ".experts.0." + proj + "." + suffix;
      if (!w.has(first)) continue;
      std::vector<mx::array> parts;
      for (int e = 0; e < num_experts; ++e) {
        auto name = prefix + ".experts." + str(e) + "." + proj + "." + suffix;
        if (!w.has(name)) {
          fail(codes::kWeights, "missing weight \"" + name + "\" (num_experts=" + str(num_experts) +
                                    ", and \"" + first + "\" is present)");
        }
        parts.push_back(w.peek(name));
        w.drop(name);
      }
      auto stacked = prefix + ".switch_mlp." + proj + "." + suffix;
      try {
        w.remaining().insert_or_assign(stacked, mx::stack(parts));
      } catch (const std::exception& e) {
        fail(codes::kWeights, "cannot stack the experts of \"" + prefix + "\" " + proj + "." +
                                  suffix + ": their shapes differ");
      }
    }
  }
}

}  // namespace mlxlab::nn
