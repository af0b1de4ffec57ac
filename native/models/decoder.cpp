#include "models/decoder.h"

#include <algorithm>

#include "errors.h"

namespace mlxlab {

namespace {

std::string str(int v) { return std::to_string(v); }

void require_positive(int value, const char* key) {
  if (value <= 0) fail(codes::kConfig, std::string(key) + " must be positive, got " + str(value));
}

bool is_sparse_layer(const ModelConfig& c, int layer) {
  if (c.model_type != "qwen3_moe" || c.num_experts <= 0) return false;
  bool dense_only = std::find(c.mlp_only_layers.begin(), c.mlp_only_layers.end(), layer) !=
                    c.mlp_only_layers.end();
  return !dense_only && (layer + 1) % c.decoder_sparse_step == 0;
}

// HF checkpoints keep experts apart (mlp.experts.E.up_proj.weight); mlx-lm stacks them into
// mlp.switch_mlp.up_proj.weight [E, out, in].
void stack_experts(nn::WeightTaker& w, const std::string& prefix, int num_experts) {
  for (const char* proj : {"up_proj", "down_proj", "gate_proj"}) {
    for (const char* suffix : {"weight", "scales", "biases"}) {
      auto first = prefix + ".experts.0." + proj + "." + suffix;
      if (!w.has(first)) continue;
      std::vector<mx::array> parts;
      for (int e = 0; e < num_experts; ++e) {
        auto name = prefix + ".experts." + str(e) + "." + proj + "." + suffix;
        if (!w.has(name)) {
          fail(codes::kWeights, "missing weight \"" + name + "\" (num_experts=" +
                                    str(num_experts) + ", and \"" + first + "\" is present)");
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

}  // namespace

ModelConfig normalize_config(const ModelConfig& in) {
  ModelConfig c = in;
  if (c.model_type != "llama" && c.model_type != "qwen3" && c.model_type != "qwen3_moe") {
    fail(codes::kConfig,
         "model_type \"" + c.model_type + "\" is not supported (llama, qwen3, qwen3_moe)");
  }
  require_positive(c.hidden_size, "hidden_size");
  require_positive(c.num_hidden_layers, "num_hidden_layers");
  require_positive(c.num_attention_heads, "num_attention_heads");
  require_positive(c.vocab_size, "vocab_size");
  if (c.num_key_value_heads == 0) c.num_key_value_heads = c.num_attention_heads;
  require_positive(c.num_key_value_heads, "num_key_value_heads");
  if (c.num_attention_heads % c.num_key_value_heads != 0) {
    fail(codes::kConfig, "num_attention_heads (" + str(c.num_attention_heads) +
                             ") must be a multiple of num_key_value_heads (" +
                             str(c.num_key_value_heads) + ")");
  }
  if (c.head_dim == 0) {
    if (c.hidden_size % c.num_attention_heads != 0) {
      fail(codes::kConfig, "hidden_size (" + str(c.hidden_size) +
                               ") is not a multiple of num_attention_heads (" +
                               str(c.num_attention_heads) + ") and head_dim is not given");
    }
    c.head_dim = c.hidden_size / c.num_attention_heads;
  }
  require_positive(c.head_dim, "head_dim");
  if (c.head_dim % 2 != 0) fail(codes::kConfig, "head_dim must be even, got " + str(c.head_dim));
  if (!(c.rms_norm_eps > 0)) fail(codes::kConfig, "rms_norm_eps must be positive");
  if (!(c.rope_theta > 0)) fail(codes::kConfig, "rope_theta must be positive");
  bool any_dense = false;
  if (c.model_type == "qwen3_moe") {
    require_positive(c.num_experts, "num_experts");
    require_positive(c.decoder_sparse_step, "decoder_sparse_step");
    require_positive(c.moe_intermediate_size, "moe_intermediate_size");
    if (c.num_experts_per_tok <= 0 || c.num_experts_per_tok > c.num_experts) {
      fail(codes::kConfig, "num_experts_per_tok must be in [1, num_experts=" +
                               str(c.num_experts) + "], got " + str(c.num_experts_per_tok));
    }
    for (int i = 0; i < c.num_hidden_layers; ++i) any_dense |= !is_sparse_layer(c, i);
  } else {
    any_dense = true;
  }
  if (any_dense) require_positive(c.intermediate_size, "intermediate_size");
  if (c.model_type == "llama" || c.model_type == "qwen3") {
    nn::Rope::make(c.head_dim, c.rope_theta, c.rope_traditional, c.rope_scaling);  // validates
  }
  return c;
}

// ---- forward pieces

mx::array Attention::operator()(const mx::array& x, const std::optional<mx::array>& mask,
                                LayerCache* cache,
                                const std::optional<mx::array>& row_offsets) const {
  int B = x.shape(0), L = x.shape(1);
  auto queries = mx::reshape(q_proj(x), {B, L, n_heads, -1});
  auto keys = mx::reshape(k_proj(x), {B, L, n_kv_heads, -1});
  auto values = mx::reshape(v_proj(x), {B, L, n_kv_heads, -1});
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

  mx::array out = [&] {
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

mx::array Mlp::operator()(const mx::array& x) const {
  return down_proj(nn::swiglu(gate_proj(x), up_proj(x)));
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
  x = down_proj(nn::swiglu(x_gate, x_up), idx, do_sort);
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

mx::array DecoderBlock::operator()(const mx::array& x, const std::optional<mx::array>& mask,
                                   LayerCache* cache,
                                   const std::optional<mx::array>& row_offsets) const {
  auto h = mx::add(x, self_attn(input_layernorm(x), mask, cache, row_offsets));
  auto normed = post_attention_layernorm(h);
  return mx::add(h, mlp ? (*mlp)(normed) : (*moe)(normed));
}

// ---- construction

DecoderModel::DecoderModel(const ModelConfig& config, nn::WeightTaker& w) : config_(config) {
  const auto& c = config_;
  const auto& q = c.quantization;
  bool is_llama = c.model_type == "llama";
  bool has_qk_norm = c.model_type == "qwen3" || c.model_type == "qwen3_moe";
  bool attn_bias = is_llama && c.attention_bias;
  bool mlp_bias = is_llama && c.mlp_bias;
  std::string model = "model_type " + c.model_type;

  // Buffers mlx-lm drops in sanitize().
  std::vector<std::string> unused;
  for (auto& [name, a] : w.remaining()) {
    if (name.find("self_attn.rotary_emb.inv_freq") != std::string::npos) unused.push_back(name);
  }
  if (c.tie_word_embeddings) unused.push_back("lm_head.weight");
  for (auto& name : unused) w.drop(name);

  embed_tokens_ = nn::Embedding::load(w, "model.embed_tokens", c.vocab_size, c.hidden_size, q,
                                      model + ", vocab_size=" + str(c.vocab_size));
  nn::Rope rope = c.model_type == "qwen3_moe"
                      ? nn::Rope::make(c.head_dim, c.rope_theta, false, RopeScaling{})
                      : nn::Rope::make(c.head_dim, c.rope_theta,
                                       is_llama ? c.rope_traditional : false, c.rope_scaling);
  int q_dims = c.num_attention_heads * c.head_dim;
  int kv_dims = c.num_key_value_heads * c.head_dim;

  for (int i = 0; i < c.num_hidden_layers; ++i) {
    std::string p = "model.layers." + str(i);
    std::string why = model + ", layer " + str(i) + " of num_hidden_layers=" +
                      str(c.num_hidden_layers);
    DecoderBlock b;
    b.input_layernorm =
        nn::RMSNorm::load(w, p + ".input_layernorm", c.hidden_size, c.rms_norm_eps, why);
    b.post_attention_layernorm =
        nn::RMSNorm::load(w, p + ".post_attention_layernorm", c.hidden_size, c.rms_norm_eps, why);

    auto& a = b.self_attn;
    std::string ap = p + ".self_attn";
    a.q_proj = nn::Linear::load(w, ap + ".q_proj", c.hidden_size, q_dims, attn_bias, q, why);
    a.k_proj = nn::Linear::load(w, ap + ".k_proj", c.hidden_size, kv_dims, attn_bias, q, why);
    a.v_proj = nn::Linear::load(w, ap + ".v_proj", c.hidden_size, kv_dims, attn_bias, q, why);
    a.o_proj = nn::Linear::load(w, ap + ".o_proj", q_dims, c.hidden_size, attn_bias, q, why);
    if (has_qk_norm) {
      a.q_norm = nn::RMSNorm::load(w, ap + ".q_norm", c.head_dim, c.rms_norm_eps, why);
      a.k_norm = nn::RMSNorm::load(w, ap + ".k_norm", c.head_dim, c.rms_norm_eps, why);
    }
    a.rope = rope;
    a.n_heads = c.num_attention_heads;
    a.n_kv_heads = c.num_key_value_heads;
    a.head_dim = c.head_dim;
    a.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));

    std::string mp = p + ".mlp";
    if (is_sparse_layer(c, i)) {
      stack_experts(w, mp, c.num_experts);
      std::string moe_why = why + ", sparse (num_experts=" + str(c.num_experts) +
                            ", decoder_sparse_step=" + str(c.decoder_sparse_step) + ")";
      SparseMoe m;
      m.gate = nn::Linear::load(w, mp + ".gate", c.hidden_size, c.num_experts, false, q, moe_why);
      m.gate_proj = nn::SwitchLinear::load(w, mp + ".switch_mlp.gate_proj", c.num_experts,
                                           c.hidden_size, c.moe_intermediate_size, false, q,
                                           moe_why);
      m.up_proj = nn::SwitchLinear::load(w, mp + ".switch_mlp.up_proj", c.num_experts,
                                         c.hidden_size, c.moe_intermediate_size, false, q,
                                         moe_why);
      m.down_proj = nn::SwitchLinear::load(w, mp + ".switch_mlp.down_proj", c.num_experts,
                                           c.moe_intermediate_size, c.hidden_size, false, q,
                                           moe_why);
      m.top_k = c.num_experts_per_tok;
      m.norm_topk_prob = c.norm_topk_prob;
      b.moe = std::move(m);
    } else {
      Mlp m;
      m.gate_proj = nn::Linear::load(w, mp + ".gate_proj", c.hidden_size, c.intermediate_size,
                                     mlp_bias, q, why);
      m.up_proj = nn::Linear::load(w, mp + ".up_proj", c.hidden_size, c.intermediate_size,
                                   mlp_bias, q, why);
      m.down_proj = nn::Linear::load(w, mp + ".down_proj", c.intermediate_size, c.hidden_size,
                                     mlp_bias, q, why);
      b.mlp = std::move(m);
    }
    layers_.push_back(std::move(b));
  }
  norm_ = nn::RMSNorm::load(w, "model.norm", c.hidden_size, c.rms_norm_eps, model);
  if (!c.tie_word_embeddings) {
    lm_head_ = nn::Linear::load(w, "lm_head", c.hidden_size, c.vocab_size, false, q,
                                "tie_word_embeddings=false");
  }
}

// ---- forward

mx::array DecoderModel::hidden_states(const mx::array& tokens, KVCache* cache,
                                      const std::optional<mx::array>& mask,
                                      const std::optional<mx::array>& row_offsets) {
  if (tokens.ndim() != 2) {
    fail(codes::kArgument, "tokens must have shape [batch, length], got " +
                               nn::shape_string(tokens.shape()));
  }
  if (cache && cache->layers.size() != layers_.size()) {
    fail(codes::kArgument, "the cache has " + str(static_cast<int>(cache->layers.size())) +
                               " layers, the model " + str(static_cast<int>(layers_.size())));
  }
  auto h = embed_tokens_(tokens);
  for (size_t i = 0; i < layers_.size(); ++i) {
    h = layers_[i](h, mask, cache ? &cache->layers[i] : nullptr, row_offsets);
  }
  return norm_(h);
}

mx::array DecoderModel::lm_head(const mx::array& hidden) const {
  return lm_head_ ? (*lm_head_)(hidden) : embed_tokens_.as_linear(hidden);
}

mx::array DecoderModel::forward(const mx::array& tokens, KVCache* cache,
                                const std::optional<mx::array>& mask) {
  return lm_head(hidden_states(tokens, cache, mask));
}

mx::array DecoderModel::forward_rows(const mx::array& tokens, KVCache* cache,
                                     const std::optional<mx::array>& mask,
                                     const std::optional<mx::array>& row_offsets) {
  return lm_head(hidden_states(tokens, cache, mask, row_offsets));
}

KVCache DecoderModel::make_cache() const {
  KVCache cache;
  cache.layers.resize(layers_.size());
  return cache;
}

Weights DecoderModel::parameters() const {
  Weights out;
  embed_tokens_.collect(out);
  for (const auto& b : layers_) {
    b.input_layernorm.collect(out);
    b.post_attention_layernorm.collect(out);
    const auto& a = b.self_attn;
    for (const auto* l : {&a.q_proj, &a.k_proj, &a.v_proj, &a.o_proj}) l->collect(out);
    if (a.q_norm) a.q_norm->collect(out);
    if (a.k_norm) a.k_norm->collect(out);
    if (b.mlp) {
      for (const auto* l : {&b.mlp->gate_proj, &b.mlp->up_proj, &b.mlp->down_proj}) {
        l->collect(out);
      }
    }
    if (b.moe) {
      b.moe->gate.collect(out);
      for (const auto* l : {&b.moe->gate_proj, &b.moe->up_proj, &b.moe->down_proj}) {
        l->collect(out);
      }
    }
  }
  norm_.collect(out);
  if (lm_head_) lm_head_->collect(out);
  return out;
}

std::vector<nn::Linear*> DecoderModel::linears() {
  std::vector<nn::Linear*> out;
  for (auto& b : layers_) {
    auto& a = b.self_attn;
    for (auto* l : {&a.q_proj, &a.k_proj, &a.v_proj, &a.o_proj}) out.push_back(l);
    if (b.mlp) {
      for (auto* l : {&b.mlp->gate_proj, &b.mlp->up_proj, &b.mlp->down_proj}) out.push_back(l);
    }
    if (b.moe) out.push_back(&b.moe->gate);
  }
  if (lm_head_) out.push_back(&*lm_head_);
  return out;
}

std::vector<nn::SwitchLinear*> DecoderModel::switch_linears() {
  std::vector<nn::SwitchLinear*> out;
  for (auto& b : layers_) {
    if (b.moe) {
      for (auto* l : {&b.moe->gate_proj, &b.moe->up_proj, &b.moe->down_proj}) out.push_back(l);
    }
  }
  return out;
}

DecoderModel* as_decoder(Model& model) { return dynamic_cast<DecoderModel*>(&model); }

}  // namespace mlxlab
