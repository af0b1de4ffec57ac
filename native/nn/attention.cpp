#include "nn/attention.h"

#include <cmath>
#include <limits>

namespace mlxlab::nn {

Attention Attention::load(WeightTaker& w, const std::string& path, const AttentionSpec& spec,
                          const Rope& rope, const QuantConfig& q, const std::string& why) {
  int q_dims = spec.n_heads * spec.head_dim;
  int kv_dims = spec.n_kv_heads * spec.head_dim;
  int hidden = spec.hidden_size;
  Attention a;
  if (spec.fused_qkv) {
    a.qkv_proj =
        Linear::load(w, path + ".qkv_proj", hidden, q_dims + 2 * kv_dims, spec.qkv_bias, q, why);
  } else {
    a.q_proj = Linear::load(w, path + ".q_proj", hidden, q_dims, spec.qkv_bias, q, why);
    a.k_proj = Linear::load(w, path + ".k_proj", hidden, kv_dims, spec.qkv_bias, q, why);
    a.v_proj = Linear::load(w, path + ".v_proj", hidden, kv_dims, spec.qkv_bias, q, why);
  }
  a.o_proj = Linear::load(w, path + ".o_proj", q_dims, hidden, spec.o_bias, q, why);
  if (spec.qk_norm) {
    a.q_norm =
        RMSNorm::load(w, path + ".q_norm", spec.head_dim, spec.norm_eps, why, spec.norm_offset);
    a.k_norm =
        RMSNorm::load(w, path + ".k_norm", spec.head_dim, spec.norm_eps, why, spec.norm_offset);
  }
  a.rope = rope;
  a.n_heads = spec.n_heads;
  a.n_kv_heads = spec.n_kv_heads;
  a.head_dim = spec.head_dim;
  a.scale = spec.scale > 0 ? spec.scale : 1.0f / std::sqrt(static_cast<float>(spec.head_dim));
  a.window = spec.window;
  return a;
}

std::tuple<mx::array, mx::array, mx::array> Attention::project(const mx::array& x) const {
  if (!qkv_proj) return {q_proj(x), k_proj(x), v_proj(x)};
  int q_dims = n_heads * head_dim;
  auto parts = mx::split((*qkv_proj)(x), mx::Shape{q_dims, q_dims + n_kv_heads * head_dim}, -1);
  return {parts[0], parts[1], parts[2]};
}

mx::array Attention::operator()(const mx::array& x, const std::optional<mx::array>& mask,
                                LayerCache* cache,
                                const std::optional<mx::array>& row_offsets) const {
  int B = x.shape(0), L = x.shape(1);
  auto [q, k, v] = project(x);
  auto queries = mx::reshape(q, {B, L, n_heads, -1});
  auto keys = mx::reshape(k, {B, L, n_kv_heads, -1});
  auto values = mx::reshape(v, {B, L, n_kv_heads, -1});
  if (q_norm) queries = (*q_norm)(queries);
  if (k_norm) keys = (*k_norm)(keys);
  queries = mx::transpose(queries, {0, 2, 1, 3});
  keys = mx::transpose(keys, {0, 2, 1, 3});
  values = mx::transpose(values, {0, 2, 1, 3});

  int offset = cache ? cache->offset() : 0;
  if (row_offsets) {
    auto offsets = mx::add(*row_offsets, mx::array(offset, mx::int32));
    queries = rope(queries, offsets);
    keys = rope(keys, offsets);
  } else {
    queries = rope(queries, offset);
    keys = rope(keys, offset);
  }
  if (cache) std::tie(keys, values) = cache->update(keys, values);

  int T = keys.shape(2);
  mx::array out = [&] {
    if (window > 0 && T > window) {
      auto m = window_mask(mask, L, T, queries.dtype());
      return mx::fast::scaled_dot_product_attention(queries, keys, values, scale, "array", m);
    }
    if (mask) {
      auto m = mask->dtype() == mx::bool_ ? *mask : mx::astype(*mask, queries.dtype());
      return mx::fast::scaled_dot_product_attention(queries, keys, values, scale, "array", m);
    }
    return mx::fast::scaled_dot_product_attention(queries, keys, values, scale,
                                                  L > 1 ? "causal" : "");
  }();
  out = mx::reshape(mx::transpose(out, {0, 2, 1, 3}), {B, L, -1});
  return o_proj(out);
}

mx::array Attention::window_mask(const std::optional<mx::array>& mask, int L, int T,
                                 mx::Dtype dtype) const {
  // The keys a query sees without the window: `mask`'s visible ones, else the causal ones (query
  // i sits at key position T - L + i).
  auto q_pos = mx::reshape(mx::arange(T - L, T, mx::int32), {L, 1});
  auto k_pos = mx::reshape(mx::arange(0, T, mx::int32), {1, T});
  auto neg_inf = mx::array(-std::numeric_limits<float>::infinity(), dtype);
  bool additive = mask && mask->dtype() != mx::bool_;
  auto visible = !mask      ? mx::greater_equal(q_pos, k_pos)
                 : additive ? mx::greater(*mask, mx::array(-1e30f, mask->dtype()))
                            : *mask;
  // Visible keys hold consecutive positions (padding, even between a shared prefix and a row's
  // own tokens, is hidden), so the last `window` visible keys up to a query are those within
  // `window` positions of it: count them from the right.
  auto count = mx::cumsum(mx::astype(visible, mx::int32), -1, /*reverse=*/true, /*inclusive=*/true);
  auto seen = mx::logical_and(visible, mx::less_equal(count, mx::array(window, mx::int32)));
  if (!additive) return seen;
  return mx::where(seen, mx::astype(*mask, dtype), neg_inf);
}

void Attention::collect(Weights& out) const {
  for (const auto* l : projections()) l->collect(out);
  if (q_norm) q_norm->collect(out);
  if (k_norm) k_norm->collect(out);
}

std::vector<Linear*> Attention::projections() {
  if (qkv_proj) return {&*qkv_proj, &o_proj};
  return {&q_proj, &k_proj, &v_proj, &o_proj};
}

std::vector<const Linear*> Attention::projections() const {
  if (qkv_proj) return {&*qkv_proj, &o_proj};
  return {&q_proj, &k_proj, &v_proj, &o_proj};
}

}  // namespace mlxlab::nn
