#include "prompt_cache.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <sstream>

#include "errors.h"
#include "io/safetensors.h"
#include "models/decoder.h"

namespace mlxlab {

namespace {

std::string str(long long v) { return std::to_string(v); }

std::string dtype_name(mx::Dtype d) {
  std::ostringstream os;
  os << d;
  return os.str();
}

// What the model's attention layers put into a cache: [1, kv heads, L, head dim] keys and values
// of one dtype. Read from a one-token forward that is built but never evaluated (MLX is lazy:
// shapes and dtypes are known without computing anything), so the compute mode in force and
// every architecture's layout are what the check sees.
struct LayerLayout {
  mx::Shape keys, values;
  mx::Dtype dtype = mx::float32;
};

std::vector<LayerLayout> kv_layout(Model& model) {
  auto* decoder = as_decoder(model);
  if (!decoder) fail(codes::kArgument, "prompt caches need a decoder model");
  KVCache scratch = model.make_cache();
  int32_t token = 0;
  auto hidden =
      decoder->hidden_states(mx::array(&token, {1, 1}, mx::int32), &scratch, std::nullopt);
  (void)hidden;
  std::vector<LayerLayout> out;
  for (const auto& layer : scratch.layers) {
    auto state = layer.state();
    if (!state) fail(codes::kInternal, "a layer of the model keeps no keys and values");
    out.push_back({state->first.shape(), state->second.shape(), state->first.dtype()});
  }
  return out;
}

// Why keys or values [B, H, T, D] of `dtype` do not fit `want` (empty when they do).
std::string misfit(const mx::Shape& shape, mx::Dtype dtype, const mx::Shape& want,
                   mx::Dtype want_dtype, const std::string& what) {
  if (shape.size() != 4) {
    return what + " have " + str(shape.size()) +
           " dimensions, not 4 [batch, kv heads, positions, head dim]";
  }
  if (shape[0] != 1) return what + " hold a batch of " + str(shape[0]) + " sequences, not 1";
  if (shape[1] != want[1]) {
    return what + " have " + str(shape[1]) + " kv heads, the model " + str(want[1]);
  }
  if (shape[3] != want[3]) {
    return what + " have head dim " + str(shape[3]) + ", the model " + str(want[3]);
  }
  if (dtype != want_dtype) {
    return what + " are " + dtype_name(dtype) + ", the model computes " + dtype_name(want_dtype) +
           " ones (a cache made by another model, or under another compute mode)";
  }
  return "";
}

std::string tokens_json(const std::vector<int>& tokens) {
  std::string out = "[";
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (i > 0) out += ",";
    out += std::to_string(tokens[i]);
  }
  return out + "]";
}

// A JSON list of non-negative integers ("[1,2,3]", spaces allowed); false when it is not one.
bool parse_tokens(const std::string& text, std::vector<int>& out) {
  size_t i = 0;
  auto skip = [&] {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  };
  skip();
  if (i >= text.size() || text[i++] != '[') return false;
  skip();
  if (i < text.size() && text[i] == ']') {
    ++i;
    skip();
    return i == text.size();
  }
  for (;;) {
    skip();
    if (i >= text.size() || !std::isdigit(static_cast<unsigned char>(text[i]))) return false;
    long long v = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      v = v * 10 + (text[i++] - '0');
      if (v > 0x7fffffff) return false;
    }
    out.push_back(static_cast<int>(v));
    skip();
    if (i < text.size() && text[i] == ',') {
      ++i;
      continue;
    }
    if (i < text.size() && text[i] == ']') {
      ++i;
      skip();
      return i == text.size();
    }
    return false;
  }
}

constexpr const char* kTokensKey = "0.mlx_lab_tokens";
constexpr const char* kModelKey = "0.mlx_lab_model";

}  // namespace

std::string model_fingerprint(const Model& model) {
  const auto& c = model.config();
  return c.model_type + " num_hidden_layers=" + str(c.num_hidden_layers) +
         " hidden_size=" + str(c.hidden_size) +
         " num_attention_heads=" + str(c.num_attention_heads) +
         " num_key_value_heads=" + str(c.num_key_value_heads) + " head_dim=" + str(c.head_dim) +
         " vocab_size=" + str(c.vocab_size);
}

std::vector<int> PromptCache::tokens() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return tokens_;
}

size_t PromptCache::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return tokens_.size();
}

void PromptCache::set_tokens(std::vector<int> tokens) {
  std::lock_guard<std::mutex> lock(mutex_);
  tokens_ = std::move(tokens);
}

void PromptCache::clear() {
  kv = KVCache{};
  set_tokens({});
  model.clear();
}

int reusable_tokens(const std::vector<int>& cached, const std::vector<int>& prompt) {
  if (prompt.empty()) return 0;
  size_t n = std::min(cached.size(), prompt.size() - 1);
  return static_cast<int>(std::mismatch(prompt.begin(), prompt.begin() + n, cached.begin()).first -
                          prompt.begin());
}

void check_cache_fits(Model& model, const KVCache& kv, const std::string& what) {
  auto layout = kv_layout(model);
  if (kv.layers.size() != layout.size()) {
    fail(codes::kArgument,
         what + " has " + str(kv.layers.size()) + " layers, the model " + str(layout.size()));
  }
  for (size_t i = 0; i < layout.size(); ++i) {
    auto state = kv.layers[i].state();
    if (!state) continue;
    std::string layer = what + ": layer " + str(i);
    for (auto why : {misfit(state->first.shape(), state->first.dtype(), layout[i].keys,
                            layout[i].dtype, layer + " keys"),
                     misfit(state->second.shape(), state->second.dtype(), layout[i].values,
                            layout[i].dtype, layer + " values")}) {
      if (!why.empty()) fail(codes::kArgument, why);
    }
  }
}

void save_prompt_cache(const std::string& path, const PromptCache& cache,
                       const std::map<std::string, std::string>& metadata) {
  const auto tokens = cache.tokens();
  const int n = cache.kv.offset();
  if (n == 0 || cache.kv.layers.empty()) {
    fail(codes::kArgument, path + ": the prompt cache is empty; there is nothing to save");
  }
  if (static_cast<int>(tokens.size()) != n) {
    fail(codes::kInternal, path + ": the prompt cache holds " + str(n) + " positions but " +
                               str(tokens.size()) + " token ids");
  }
  Weights arrays;
  std::unordered_map<std::string, std::string> meta;
  for (const auto& [key, value] : metadata) meta["0." + key] = value;
  meta[kTokensKey] = tokens_json(tokens);
  if (!cache.model.empty()) meta[kModelKey] = cache.model;
  meta["2.0"] = "";  // mlx-lm's scalar list starts with "" (so it is never empty)
  std::vector<mx::array> all;
  for (size_t i = 0; i < cache.kv.layers.size(); ++i) {
    auto state = cache.kv.layers[i].state();
    if (!state || cache.kv.layers[i].offset() != n) {
      fail(codes::kInternal, path + ": layer " + str(i) + " of the prompt cache is not filled");
    }
    std::string layer = str(i);
    auto keys = mx::contiguous(state->first);
    auto values = mx::contiguous(state->second);
    all.push_back(keys);
    all.push_back(values);
    arrays.insert_or_assign(layer + ".0", keys);
    arrays.insert_or_assign(layer + ".1", values);
    arrays.insert_or_assign(layer + ".2", mx::array(static_cast<int32_t>(n)));
    meta["1." + layer] = "KVCache";
    meta["2." + str(i + 1) + ".0"] = layer + ".2";
    meta["2." + str(i + 1) + ".1"] = "scalar";
  }
  mx::eval(all);
  save_safetensors_file(path, arrays, meta);
}

LoadedPromptCache load_prompt_cache(const std::string& path, Model& model, PromptCache& into,
                                    const std::vector<int>* tokens) {
  auto bad = [&](const std::string& why) { fail(codes::kPromptCache, path + ": " + why); };
  Weights arrays;
  std::unordered_map<std::string, std::string> meta;
  try {
    std::tie(arrays, meta) = load_safetensors_file(path);
  } catch (const Error& e) {
    // load_safetensors_file names the file: missing, truncated, malformed.
    if (e.code() == codes::kModelLoad) fail(codes::kPromptCache, e.what());
    throw;
  }
  auto layout = kv_layout(model);
  const int layers = static_cast<int>(layout.size());

  int file_layers = 0;
  while (meta.count("1." + str(file_layers))) ++file_layers;
  if (file_layers == 0) {
    bad("not a prompt cache: its metadata names no cache classes (\"1.0\", ...) as mlx-lm's "
        "save_prompt_cache writes them");
  }
  if (auto it = meta.find(kModelKey); it != meta.end() && it->second != model_fingerprint(model)) {
    bad("the prompt cache was made with another model (" + it->second + "); this model is " +
        model_fingerprint(model));
  }
  if (file_layers != layers) {
    bad("the prompt cache has " + str(file_layers) + " layers, the model " + str(layers) +
        " (a cache made with another model?)");
  }

  KVCache kv = model.make_cache();
  std::set<std::string> used;
  int offset = -1;
  for (int i = 0; i < layers; ++i) {
    const std::string layer = str(i);
    const std::string& kind = meta["1." + layer];
    if (kind != "KVCache") {
      bad("layer " + layer + " holds a " + (kind.empty() ? std::string("nameless cache") : kind) +
          "; mlx-lab reads KVCache layers only (plain keys and values: a cache made without "
          "--kv-bits or --max-kv-size)");
    }
    auto tensor = [&](const std::string& suffix, const std::string& what) -> mx::array {
      auto it = arrays.find(layer + "." + suffix);
      if (it == arrays.end()) {
        bad("tensor \"" + layer + "." + suffix + "\" (" + what + " of layer " + layer +
            ") is missing");
      }
      used.insert(it->first);
      return it->second;
    };
    auto keys = tensor("0", "the keys");
    auto values = tensor("1", "the values");
    auto count = tensor("2", "the offset");
    for (auto why : {misfit(keys.shape(), keys.dtype(), layout[i].keys, layout[i].dtype,
                            "layer " + layer + " keys"),
                     misfit(values.shape(), values.dtype(), layout[i].values, layout[i].dtype,
                            "layer " + layer + " values")}) {
      if (!why.empty()) bad(why);
    }
    if (count.size() != 1 || !mx::issubdtype(count.dtype(), mx::integer)) {
      bad("tensor \"" + layer + ".2\" (the offset of layer " + layer + ") is not one integer");
    }
    long long n = mx::astype(mx::reshape(count, {}), mx::int64).item<int64_t>();
    long long room = std::min(keys.shape(2), values.shape(2));
    if (n < 1 || n > room) {
      bad("layer " + layer + " has offset " + str(n) + ", outside the " + str(room) +
          " positions its keys and values hold");
    }
    if (offset >= 0 && n != offset) {
      bad("layer " + layer + " holds " + str(n) + " positions, layer 0 " + str(offset));
    }
    offset = static_cast<int>(n);
    kv.layers[i].set_state(keys, values, offset);
  }
  for (const auto& [name, a] : arrays) {
    if (!used.count(name)) bad("tensor \"" + name + "\" is not part of a KVCache layer");
  }

  std::vector<int> ids;
  bool from_file = false;
  if (auto it = meta.find(kTokensKey); it != meta.end()) {
    from_file = true;
    if (!parse_tokens(it->second, ids)) bad("mlx_lab_tokens is not a JSON list of token ids");
    if (static_cast<int>(ids.size()) != offset) {
      bad("mlx_lab_tokens lists " + str(ids.size()) + " token ids for " + str(offset) +
          " cached positions");
    }
    if (tokens && *tokens != ids) {
      auto at = std::mismatch(ids.begin(), ids.end(), tokens->begin(), tokens->end());
      bad("the token ids given differ from those the file holds (from position " +
          str(at.first - ids.begin()) + " on)");
    }
  } else if (tokens) {
    if (static_cast<int>(tokens->size()) != offset) {
      bad(str(tokens->size()) + " token ids given for a cache of " + str(offset) + " positions");
    }
    ids = *tokens;
  } else {
    bad("the file holds no token ids (mlx-lm does not store them): pass the ids of the " +
        str(offset) + " prompt tokens it was made from ({ tokens })");
  }
  try {
    model.check_token_ids(ids.data(), ids.size(), "the prompt cache");
  } catch (const Error& e) {
    bad(e.what());
  }

  into.kv = std::move(kv);
  into.set_tokens(std::move(ids));
  into.model = model_fingerprint(model);
  LoadedPromptCache out;
  out.tokens_from_file = from_file;
  for (const auto& [key, value] : meta) {
    if (key.rfind("0.", 0) == 0 && key != kTokensKey && key != kModelKey) {
      out.metadata[key.substr(2)] = value;
    }
  }
  return out;
}

}  // namespace mlxlab
