// Model::create, the KV cache and parameter accounting.
#include "models/model.h"

#include "errors.h"
#include "models/decoder.h"
#include "models/registry.h"
#include "nn/weights.h"

namespace mlxlab {

std::pair<mx::array, mx::array> LayerCache::update(const mx::array& keys, const mx::array& values) {
  constexpr int kStep = 256;  // as mlx-lm's KVCache: grow in steps of 256 positions
  int prev = offset_;
  int L = keys.shape(2);
  if (!keys_ || prev + L > keys_->shape(2)) {
    int B = keys.shape(0), H = keys.shape(1);
    int n_steps = (kStep + L - 1) / kStep;
    auto new_k = mx::zeros({B, H, n_steps * kStep, keys.shape(3)}, keys.dtype());
    auto new_v = mx::zeros({B, H, n_steps * kStep, values.shape(3)}, values.dtype());
    if (keys_) {
      if (prev % kStep != 0) {
        keys_ = mx::slice(*keys_, {0, 0, 0, 0},
                          {keys_->shape(0), keys_->shape(1), prev, keys_->shape(3)});
        values_ = mx::slice(*values_, {0, 0, 0, 0},
                            {values_->shape(0), values_->shape(1), prev, values_->shape(3)});
      }
      keys_ = mx::concatenate({*keys_, new_k}, 2);
      values_ = mx::concatenate({*values_, new_v}, 2);
    } else {
      keys_ = new_k;
      values_ = new_v;
    }
  }
  offset_ += L;
  auto k_shape = keys_->shape();
  auto v_shape = values_->shape();
  keys_ = mx::slice_update(*keys_, keys, mx::Shape{0, 0, prev, 0},
                           mx::Shape{k_shape[0], k_shape[1], offset_, k_shape[3]});
  values_ = mx::slice_update(*values_, values, mx::Shape{0, 0, prev, 0},
                             mx::Shape{v_shape[0], v_shape[1], offset_, v_shape[3]});
  if (offset_ < keys_->shape(2)) {
    return {mx::slice(*keys_, {0, 0, 0, 0}, {k_shape[0], k_shape[1], offset_, k_shape[3]}),
            mx::slice(*values_, {0, 0, 0, 0}, {v_shape[0], v_shape[1], offset_, v_shape[3]})};
  }
  return {*keys_, *values_};
}

void LayerCache::trim(int n) { offset_ -= std::min(std::max(n, 0), offset_); }

std::optional<std::pair<mx::array, mx::array>> LayerCache::state() const {
  if (!keys_ || offset_ == 0) return std::nullopt;
  auto k = keys_->shape(), v = values_->shape();
  return std::make_pair(mx::slice(*keys_, {0, 0, 0, 0}, {k[0], k[1], offset_, k[3]}),
                        mx::slice(*values_, {0, 0, 0, 0}, {v[0], v[1], offset_, v[3]}));
}

void LayerCache::set_state(mx::array keys, mx::array values, int offset) {
  keys_ = std::move(keys);
  values_ = std::move(values);
  offset_ = offset;
}

void LayerCache::take_rows(const mx::array& index) {
  if (!keys_) return;
  keys_ = mx::take(*keys_, index, 0);
  values_ = mx::take(*values_, index, 0);
}

void LayerCache::repeat_rows(int n) {
  if (!keys_) return;
  keys_ = mx::repeat(*keys_, n, 0);
  values_ = mx::repeat(*values_, n, 0);
}

std::unique_ptr<Model> Model::create(const ModelConfig& config, Weights weights) {
  auto normalized = normalize_config(config);
  nn::WeightTaker taker(std::move(weights));
  std::unique_ptr<Model> model;
  try {
    model = std::make_unique<DecoderModel>(normalized, taker, architecture(normalized.model_type));
    taker.expect_empty();
    // Materialize anything built lazily (stacked experts, llama3 frequencies).
    std::vector<mx::array> params;
    for (auto& [name, a] : model->parameters()) params.push_back(a);
    mx::eval(params);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    fail(codes::kWeights,
         std::string("cannot build the ") + normalized.model_type + " model: " + e.what());
  }
  return model;
}

void Model::check_token_ids(const int32_t* ids, size_t count, const std::string& what) const {
  int vocab = config().vocab_size;
  for (size_t i = 0; i < count; ++i) {
    if (ids[i] < 0 || ids[i] >= vocab) {
      fail(codes::kArgument, what + " has token id " + std::to_string(ids[i]) +
                                 " outside the vocabulary [0, " + std::to_string(vocab) + ")");
    }
  }
}

size_t Model::parameter_bytes() const {
  size_t total = 0;
  for (const auto& [name, a] : parameters()) total += a.nbytes();
  return total;
}

}  // namespace mlxlab
