#include "models/decoder.h"

#include "errors.h"
#include "models/registry.h"

namespace mlxlab {

namespace {

std::string str(int v) { return std::to_string(v); }

// head_dim from hidden_size / num_attention_heads when the config has none.
void fill_head_dim(ModelConfig& c) {
  if (c.head_dim != 0) return;
  if (c.hidden_size % c.num_attention_heads != 0) {
    fail(codes::kConfig, "hidden_size (" + str(c.hidden_size) +
                             ") is not a multiple of num_attention_heads (" +
                             str(c.num_attention_heads) + ") and head_dim is not given");
  }
  c.head_dim = c.hidden_size / c.num_attention_heads;
}

// num_key_value_heads defaults to num_attention_heads and must divide it.
void fill_kv_heads(ModelConfig& c) {
  if (c.num_key_value_heads == 0) c.num_key_value_heads = c.num_attention_heads;
  require_positive(c.num_key_value_heads, "num_key_value_heads");
  if (c.num_attention_heads % c.num_key_value_heads != 0) {
    fail(codes::kConfig, "num_attention_heads (" + str(c.num_attention_heads) +
                             ") must be a multiple of num_key_value_heads (" +
                             str(c.num_key_value_heads) + ")");
  }
}

// Buffers mlx-lm drops in sanitize(): RoPE frequencies, and lm_head when it is tied.
void drop_unused(nn::WeightTaker& w, const ModelConfig& c) {
  std::vector<std::string> unused;
  for (auto& [name, a] : w.remaining()) {
    if (name.find("self_attn.rotary_emb.inv_freq") != std::string::npos) unused.push_back(name);
  }
  if (c.tie_word_embeddings) unused.push_back("lm_head.weight");
  for (auto& name : unused) w.drop(name);
}

// x + y on a sandwich block's residual stream as mlx-lm's gemma3_text (clip_residual): a float16
// stream is summed in float32, clipped to float16's range and kept float16 (a plain add would
// turn it float32, the norms' float32 weights having promoted y: GGUF Q8_0/Q4_0 files load with
// float16 scales); other dtypes add as they are.
mx::array clip_residual(const mx::array& x, const mx::array& y) {
  if (x.dtype() != mx::float16) return mx::add(x, y);
  const float bound = 65504.0f;  // float16's largest finite value
  auto sum = mx::add(mx::astype(x, mx::float32), mx::astype(y, mx::float32));
  return mx::astype(mx::clip(sum, mx::array(-bound), mx::array(bound)), mx::float16);
}

}  // namespace

void require_positive(int value, const char* key) {
  if (value <= 0) fail(codes::kConfig, std::string(key) + " must be positive, got " + str(value));
}

void require_positive_float(float value, const char* key) {
  if (!(value > 0)) {
    fail(codes::kConfig, std::string(key) + " must be positive, got " + std::to_string(value));
  }
}

void require_split_heads(const ModelConfig& c, const char* type) {
  if (c.head_dim * c.num_attention_heads == c.hidden_size) return;
  fail(codes::kConfig, std::string(type) + " takes head_dim = hidden_size / num_attention_heads (" +
                           str(c.hidden_size) + " / " + str(c.num_attention_heads) +
                           "), got head_dim " + str(c.head_dim));
}

ModelConfig normalize_config(const ModelConfig& in) {
  const Architecture& arch = architecture(in.model_type);
  ModelConfig c = in;
  require_positive(c.hidden_size, "hidden_size");
  require_positive(c.num_hidden_layers, "num_hidden_layers");
  require_positive(c.num_attention_heads, "num_attention_heads");
  require_positive(c.vocab_size, "vocab_size");
  fill_kv_heads(c);
  fill_head_dim(c);
  require_positive(c.head_dim, "head_dim");
  if (c.head_dim % 2 != 0) fail(codes::kConfig, "head_dim must be even, got " + str(c.head_dim));
  if (!(c.rms_norm_eps > 0)) fail(codes::kConfig, "rms_norm_eps must be positive");
  if (!(c.rope_theta > 0)) fail(codes::kConfig, "rope_theta must be positive");
  arch.check_config(c);
  return c;
}

// ---- forward pieces

mx::array DecoderBlock::operator()(const mx::array& x, const std::optional<mx::array>& mask,
                                   LayerCache* cache,
                                   const std::optional<mx::array>& row_offsets) const {
  // A branch's output as the residual add takes it: times residual_scale in its dtype (granite).
  auto scaled = [&](const mx::array& r) {
    return residual_scale ? mx::multiply(r, mx::array(*residual_scale, r.dtype())) : r;
  };
  auto attn = self_attn(input_layernorm(x), mask, cache, row_offsets);
  auto ffn = [&](const mx::array& v) { return mlp ? (*mlp)(v) : (*moe)(v); };
  if (pre_feedforward_layernorm) {
    auto h = clip_residual(x, scaled(post_attention_layernorm(attn)));
    return clip_residual(
        h, scaled((*post_feedforward_layernorm)(ffn((*pre_feedforward_layernorm)(h)))));
  }
  auto h = mx::add(x, scaled(attn));
  return mx::add(h, scaled(ffn(post_attention_layernorm(h))));
}

void DecoderBlock::collect(Weights& out) const {
  input_layernorm.collect(out);
  post_attention_layernorm.collect(out);
  if (pre_feedforward_layernorm) pre_feedforward_layernorm->collect(out);
  if (post_feedforward_layernorm) post_feedforward_layernorm->collect(out);
  self_attn.collect(out);
  if (mlp) mlp->collect(out);
  if (moe) moe->collect(out);
}

// ---- construction

DecoderModel::DecoderModel(const ModelConfig& config, nn::WeightTaker& w, const Architecture& arch)
    : config_(config) {
  if (arch.tie_from_weights) config_.tie_word_embeddings = !w.has("lm_head.weight");
  if (arch.embed_scale) embed_scale_ = arch.embed_scale(config_);
  if (arch.logits_divisor) logits_divisor_ = arch.logits_divisor(config_);
  std::optional<float> residual_scale;
  if (arch.residual_scale) residual_scale = arch.residual_scale(config_);
  const auto& c = config_;
  std::string model = "model_type " + c.model_type;
  drop_unused(w, c);
  embed_tokens_ = nn::Embedding::load(w, "model.embed_tokens", c.vocab_size, c.hidden_size,
                                      c.quantization, model + ", vocab_size=" + str(c.vocab_size));
  nn::Rope rope = arch.make_rope(c);
  for (int i = 0; i < c.num_hidden_layers; ++i) {
    BlockSource source{
        w,
        c,
        rope,
        i,
        "model.layers." + str(i),
        model + ", layer " + str(i) + " of num_hidden_layers=" + str(c.num_hidden_layers),
        arch.norm_offset};
    DecoderBlock b;
    b.input_layernorm = source.norm("input_layernorm");
    b.post_attention_layernorm = source.norm("post_attention_layernorm");
    arch.load_block(b, source);
    b.residual_scale = residual_scale;
    layers_.push_back(std::move(b));
  }
  norm_ =
      nn::RMSNorm::load(w, "model.norm", c.hidden_size, c.rms_norm_eps, model, arch.norm_offset);
  if (!c.tie_word_embeddings) {
    lm_head_ = nn::Linear::load(w, "lm_head", c.hidden_size, c.vocab_size, false, c.quantization,
                                "tie_word_embeddings=false");
  }
}

// ---- forward

mx::array DecoderModel::hidden_states(const mx::array& tokens, KVCache* cache,
                                      const std::optional<mx::array>& mask,
                                      const std::optional<mx::array>& row_offsets) {
  if (tokens.ndim() != 2) {
    fail(codes::kArgument,
         "tokens must have shape [batch, length], got " + nn::shape_string(tokens.shape()));
  }
  if (cache && cache->layers.size() != layers_.size()) {
    fail(codes::kArgument, "the cache has " + str(static_cast<int>(cache->layers.size())) +
                               " layers, the model " + str(static_cast<int>(layers_.size())));
  }
  auto h = embed(tokens);
  for (size_t i = 0; i < layers_.size(); ++i) {
    h = layers_[i](h, mask, cache ? &cache->layers[i] : nullptr, row_offsets);
  }
  return norm_(h);
}

mx::array DecoderModel::embed(const mx::array& tokens) const {
  auto h = embed_tokens_(tokens);
  if (!embed_scale_) return h;
  return mx::multiply(h, mx::array(*embed_scale_, h.dtype()));
}

mx::array DecoderModel::lm_head(const mx::array& hidden) const {
  auto logits = lm_head_ ? (*lm_head_)(hidden) : embed_tokens_.as_linear(hidden);
  if (!logits_divisor_) return logits;
  // A division, as mlx-lm's granite.py (a product by the reciprocal can round differently).
  return mx::divide(logits, mx::array(*logits_divisor_, logits.dtype()));
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
  for (const auto& b : layers_) b.collect(out);
  norm_.collect(out);
  if (lm_head_) lm_head_->collect(out);
  return out;
}

std::vector<nn::Linear*> DecoderModel::linears() {
  std::vector<nn::Linear*> out;
  for (auto& b : layers_) {
    for (auto* l : b.self_attn.projections()) out.push_back(l);
    if (b.mlp) {
      for (auto* l : b.mlp->projections()) out.push_back(l);
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
