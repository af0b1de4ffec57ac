#include "io/gguf.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <sstream>

#include "errors.h"
#include "io/gguf_arch.h"
#include "nn/weights.h"

namespace mlxlab {

namespace {

namespace fs = std::filesystem;

GgufValue to_value(const mx::GGUFMetaData& meta) {
  if (auto s = std::get_if<std::string>(&meta)) return *s;
  if (auto v = std::get_if<std::vector<std::string>>(&meta)) return *v;
  auto a = std::get_if<mx::array>(&meta);
  if (!a) return std::monostate{};
  bool floating = mx::issubdtype(a->dtype(), mx::floating);
  if (floating) {
    auto d = mx::astype(*a, mx::float32);
    mx::eval(d);
    if (d.ndim() == 0) return static_cast<double>(d.item<float>());
    const float* p = d.data<float>();
    return std::vector<double>(p, p + d.size());
  }
  auto i = mx::astype(*a, mx::int64);
  mx::eval(i);
  if (i.ndim() == 0) return i.item<int64_t>();
  const int64_t* p = i.data<int64_t>();
  return std::vector<int64_t>(p, p + i.size());
}

// MLX messages start with "[load_gguf] "; the file name says enough.
std::string strip_mlx_prefix(const std::string& message) {
  if (!message.empty() && message[0] == '[') {
    auto end = message.find("] ");
    if (end != std::string::npos) return message.substr(end + 2);
  }
  return message;
}

// ggml's tensor type names by id (ggml.h); 4 and 5 were removed from the format.
const char* ggml_type_name(uint32_t type) {
  static const char* const names[] = {
      "F32",     "F16",    "Q4_0",    "Q4_1",  "",       "",      "Q5_0",  "Q5_1",
      "Q8_0",    "Q8_1",   "Q2_K",    "Q3_K",  "Q4_K",   "Q5_K",  "Q6_K",  "Q8_K",
      "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS",
      "I8",      "I16",    "I32",     "I64",   "F64",    "IQ1_M", "BF16"};
  return type < std::size(names) ? names[type] : "";
}

// A bounded walk over a GGUF file's header, metadata and tensor infos. MLX's loader (gguflib)
// trusts every length, count, dimension count and type in the file, so a corrupt one made it
// read outside its mapping and crash (found by scripts/fuzz.mjs): load_gguf_model walks the
// header here first, and convert reads what it checks (architecture, tensor types) from here.
class GgufHeaderReader {
 public:
  explicit GgufHeaderReader(const std::string& path)
      : path_(path), in_(path, std::ios::binary), size_(fs::file_size(path)) {}

  GgufHeader run() {
    char magic[4] = {0, 0, 0, 0};
    if (size_ < 4 || !in_.read(magic, 4) || std::string(magic, 4) != "GGUF") {
      fail(codes::kModelLoad, path_ + ": not a GGUF file (no GGUF magic)");
    }
    pos_ = 4;
    header_.version = u32("the version");
    if (header_.version != 2 && header_.version != 3)
      unsupported("GGUF version " + std::to_string(header_.version) + " (only 2 and 3)");
    uint64_t tensors = count("the tensor count", 32);
    uint64_t keys = count("the metadata count", 13);
    for (uint64_t i = 0; i < keys; ++i) key_value();
    for (uint64_t i = 0; i < tensors; ++i) tensor_info();
    return std::move(header_);
  }

 private:
  static constexpr uint32_t kString = 8, kArray = 9;

  [[noreturn]] void corrupt(const std::string& what) {
    fail(codes::kModelLoad, path_ + ": corrupt GGUF file: " + what + " at byte " +
                                std::to_string(pos_) + " runs past the end of the file (" +
                                std::to_string(size_) + " bytes)");
  }
  [[noreturn]] void unsupported(const std::string& what) {
    fail(codes::kGguf, path_ + ": " + what + " is not supported");
  }

  uint64_t left() const { return size_ - pos_; }

  void read(void* out, uint64_t n, const std::string& what) {
    if (n > left() || !in_.read(static_cast<char*>(out), static_cast<std::streamsize>(n)))
      corrupt(what);
    pos_ += n;
  }
  void skip(uint64_t n, const std::string& what) {
    if (n > left()) corrupt(what);
    pos_ += n;
    in_.seekg(static_cast<std::streamoff>(pos_));
  }
  // An unsigned little-endian integer of n <= 8 bytes.
  uint64_t little_endian(int n, const std::string& what) {
    unsigned char b[8];
    read(b, n, what);
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | b[i];
    return v;
  }
  uint32_t u32(const std::string& what) { return static_cast<uint32_t>(little_endian(4, what)); }
  uint64_t u64(const std::string& what) { return little_endian(8, what); }
  // A count of items of at least `min_bytes` each: more than the file can hold is corrupt.
  uint64_t count(const std::string& what, uint64_t min_bytes) {
    uint64_t n = u64(what);
    if (n > left() / min_bytes) corrupt(what + " (" + std::to_string(n) + ")");
    return n;
  }
  std::string str(const std::string& what) {
    uint64_t n = u64(what);
    if (n > left()) corrupt(what + " of " + std::to_string(n) + " bytes");
    std::string s(n, '\0');
    read(s.data(), n, what);
    return s;
  }

  // Bytes of a fixed-size value type; 0 for strings, arrays and unknown types.
  static uint64_t fixed_size(uint32_t type) {
    static const uint64_t sizes[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return type < std::size(sizes) ? sizes[type] : 0;
  }

  // A fixed-size value (types 0-7 and 10-12).
  GgufScalar scalar(uint32_t type, const std::string& what) {
    uint64_t bits = little_endian(static_cast<int>(fixed_size(type)), what);
    switch (type) {
      case 0: return static_cast<double>(static_cast<uint8_t>(bits));
      case 1: return static_cast<double>(static_cast<int8_t>(bits));
      case 2: return static_cast<double>(static_cast<uint16_t>(bits));
      case 3: return static_cast<double>(static_cast<int16_t>(bits));
      case 4: return static_cast<double>(static_cast<uint32_t>(bits));
      case 5: return static_cast<double>(static_cast<int32_t>(bits));
      case 6: {
        auto b = static_cast<uint32_t>(bits);
        float f;
        std::memcpy(&f, &b, sizeof f);
        return static_cast<double>(f);
      }
      case 7: return bits != 0;
      case 10: return bits;
      case 11: return static_cast<int64_t>(bits);
      default: {
        double d;
        std::memcpy(&d, &bits, sizeof d);
        return d;
      }
    }
  }

  // A value of `key`: kept when it is a top-level scalar or string, else walked over.
  void value(uint32_t type, const std::string& key, int depth) {
    if (type > 12)
      unsupported("GGUF metadata \"" + key + "\" of value type " + std::to_string(type));
    if (type == kString) {
      std::string s = str("the value of \"" + key + "\"");
      if (depth == 0) header_.metadata.emplace_back(key, std::move(s));
      return;
    }
    if (type != kArray) {
      if (depth > 0) return skip(fixed_size(type), "the value of \"" + key + "\"");
      GgufScalar v = scalar(type, "the value of \"" + key + "\"");
      if (key == "general.alignment" && type == 4) alignment(key, std::get<double>(v));
      header_.metadata.emplace_back(key, std::move(v));
      return;
    }
    if (depth > 3) unsupported("GGUF metadata \"" + key + "\" with arrays nested this deep");
    uint32_t element = u32("the array type of \"" + key + "\"");
    uint64_t size = fixed_size(element);
    uint64_t n = count("the array length of \"" + key + "\"", size > 0 ? size : 8);
    if (size > 0) return skip(n * size, "the array \"" + key + "\"");
    for (uint64_t i = 0; i < n; ++i) value(element, key, depth + 1);
  }

  // gguflib pads tensor data to general.alignment: zero would divide by zero.
  void alignment(const std::string& key, double value) {
    auto a = static_cast<uint32_t>(value);
    if (a == 0 || (a & (a - 1)) != 0) {
      fail(codes::kGguf, path_ + ": GGUF metadata \"" + key + "\" = " + std::to_string(a) +
                             " must be a power of two");
    }
  }

  void key_value() {
    std::string key = str("a metadata key");
    value(u32("the type of \"" + key + "\""), key, 0);
  }

  void tensor_info() {
    GgufTensorInfo info;
    info.name = str("a tensor name");
    const std::string& name = info.name;
    uint32_t dims = u32("the dimension count of \"" + name + "\"");
    if (dims < 1 || dims > 4)
      unsupported("GGUF tensor \"" + name + "\" with " + std::to_string(dims) +
                  " dimensions (1 to 4)");
    for (uint32_t d = 0; d < dims; ++d) {
      uint64_t n = u64("a dimension of \"" + name + "\"");
      if (n < 1 || n > static_cast<uint64_t>(std::numeric_limits<int>::max())) {
        unsupported("GGUF tensor \"" + name + "\" with a dimension of " + std::to_string(n));
      }
      info.shape.insert(info.shape.begin(), static_cast<int64_t>(n));
    }
    uint32_t type = u32("the type of \"" + name + "\"");
    // gguflib's table of tensor types ends at 30 (BF16); 4 and 5 were removed from the format.
    if (type > 30 || type == 4 || type == 5)
      unsupported("GGUF tensor \"" + name + "\" of type " + std::to_string(type));
    info.type = ggml_type_name(type);
    u64("the offset of \"" + name + "\"");
    header_.tensors.push_back(std::move(info));
  }

  std::string path_;
  std::ifstream in_;
  uint64_t size_;
  uint64_t pos_ = 0;
  GgufHeader header_;
};

int64_t require_int(const GgufModel& m, const std::string& key) {
  auto v = gguf_int(m, key);
  if (!v)
    fail(codes::kGguf, m.path + ": GGUF metadata \"" + key + "\" is missing (or not an integer)");
  return *v;
}

// A dimension: an integer in [1, 2^31) (a zero head count would divide by zero).
int require_dim(const GgufModel& m, const std::string& key) {
  auto v = require_int(m, key);
  if (v < 1 || v > std::numeric_limits<int>::max()) {
    fail(codes::kGguf, m.path + ": GGUF metadata \"" + key + "\" = " + std::to_string(v) +
                           " must be a positive integer");
  }
  return static_cast<int>(v);
}

// An optional dimension, `fallback` when absent.
int optional_dim(const GgufModel& m, const std::string& key, int fallback) {
  return gguf_int(m, key) ? require_dim(m, key) : fallback;
}

// gemma3_text's keys, as llama.cpp's loader reads a "gemma3" file (its converter writes no
// query_pre_attn_scalar, local RoPE base or layer pattern). A sliding window present and non-zero
// makes all but every sliding_window_pattern-th layer local; llama.cpp has no key for the pattern
// and uses Gemma 3's 6, which a "<k>attention.sliding_window_pattern" integer (written for the
// test files, whose tiny model alternates) overrides. No window: every layer global (pattern 1).
// Local layers use RoPE base "<k>rope.freq_base_swa", else llama.cpp's 10000. The attention
// scale is head_dim^-0.5, except for Gemma 3 27B (62 blocks: hidden_size / heads), as llama.cpp.
void gemma3_config(const GgufModel& m, const std::string& k, ModelConfig& c) {
  const std::string window = k + "attention.sliding_window";
  // Present and not 0 (a value that is no positive integer is refused by require_dim).
  if (m.metadata.count(window) != 0 && gguf_int(m, window) != std::optional<int64_t>(0)) {
    c.sliding_window = require_dim(m, window);
    c.sliding_window_pattern = optional_dim(m, k + "attention.sliding_window_pattern", 6);
  } else {
    c.sliding_window = std::max(c.max_position_embeddings, 1);
    c.sliding_window_pattern = 1;
  }
  c.rope_local_base_freq =
      static_cast<float>(gguf_float(m, k + "rope.freq_base_swa").value_or(10000.0));
  c.query_pre_attn_scalar = static_cast<float>(
      c.num_hidden_layers == 62 ? c.hidden_size / c.num_attention_heads : c.head_dim);
  const std::string softcap = k + "final_logit_softcapping";
  if (auto cap = gguf_float(m, softcap); cap && *cap != 0.0) {
    std::ostringstream value;
    value << *cap;
    fail(codes::kGguf, m.path + ": GGUF metadata \"" + softcap + "\" = " + value.str() +
                           " is not supported (gemma3_text has no final logit soft-capping)");
  }
}

// Rows grouped per head as [n_heads, a, b, ...] -> [n_heads, b, a, ...].
mx::array swap_row_halves(const mx::array& w, int n_heads, int a, int b) {
  auto shape = w.shape();
  mx::Shape split = {n_heads, a, b};
  split.insert(split.end(), shape.begin() + 1, shape.end());
  return mx::reshape(mx::swapaxes(mx::reshape(w, split), 1, 2), shape);
}

// A norm weight llama.cpp stored as shift + w, back to w in its own float type (taking 1 off a
// value in [0.5, 2] is exact: what remains is the rounding of the converter's 1 + w). A quantized
// norm is refused.
mx::array unshift_norm(const mx::array& w, float shift, const std::string& path,
                       const std::string& name) {
  if (!mx::issubdtype(w.dtype(), mx::floating)) {
    fail(codes::kGguf, path + ": GGUF tensor \"" + name +
                           "\" is quantized; a norm weight must be stored as floats");
  }
  return mx::subtract(w, mx::array(shift, w.dtype()));
}

}  // namespace

mx::array unpermute_rotary_rows(const mx::array& w, int n_heads) {
  int half = w.shape(0) / n_heads / 2;
  return swap_row_halves(w, n_heads, half, 2);
}

mx::array permute_rotary_rows(const mx::array& w, int n_heads) {
  int half = w.shape(0) / n_heads / 2;
  return swap_row_halves(w, n_heads, 2, half);
}

std::optional<int64_t> gguf_int(const GgufModel& m, const std::string& key) {
  auto it = m.metadata.find(key);
  if (it == m.metadata.end()) return std::nullopt;
  if (auto v = std::get_if<int64_t>(&it->second)) return *v;
  if (auto v = std::get_if<double>(&it->second)) {
    // Only a whole number in int64's range converts (casting NaN or 1e300 is undefined).
    if (std::isfinite(*v) && *v == std::floor(*v) && std::fabs(*v) < 9.2e18)
      return static_cast<int64_t>(*v);
  }
  return std::nullopt;
}

std::optional<double> gguf_float(const GgufModel& m, const std::string& key) {
  auto it = m.metadata.find(key);
  if (it == m.metadata.end()) return std::nullopt;
  if (auto v = std::get_if<double>(&it->second)) return *v;
  if (auto v = std::get_if<int64_t>(&it->second)) return static_cast<double>(*v);
  return std::nullopt;
}

std::optional<std::string> gguf_string(const GgufModel& m, const std::string& key) {
  auto it = m.metadata.find(key);
  if (it == m.metadata.end()) return std::nullopt;
  if (auto v = std::get_if<std::string>(&it->second)) return *v;
  return std::nullopt;
}

GgufHeader read_gguf_header(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) fail(codes::kModelLoad, path + ": file not found");
  if (!fs::is_regular_file(path, ec)) fail(codes::kModelLoad, path + ": not a regular file");
  return GgufHeaderReader(path).run();
}

GgufModel load_gguf_model(const std::string& path) {
  read_gguf_header(path);  // before gguflib, which trusts the header (see GgufHeaderReader)

  mx::GGUFLoad loaded;
  try {
    loaded = mx::load_gguf(path);
  } catch (const std::exception& e) {
    fail(codes::kModelLoad, path + ": cannot read GGUF file: " + strip_mlx_prefix(e.what()));
  }
  GgufModel model;
  model.path = path;
  for (auto& [key, value] : loaded.second) model.metadata.emplace(key, to_value(value));

  const GgufArch& arch = gguf_arch_of(path, gguf_string(model, "general.architecture"));
  model.architecture = arch.name;
  int n_heads = require_dim(model, arch.name + ".attention.head_count");
  int n_kv = optional_dim(model, arch.name + ".attention.head_count_kv", n_heads);

  try {
    std::vector<mx::array> all;
    for (auto& [name, w] : loaded.first) {
      auto mapped = gguf_mlx_name(arch, name);
      if (!mapped) fail(codes::kGguf, path + ": GGUF tensor \"" + name + "\" is not supported");
      mx::array a = w;
      // llama.cpp permutes the q/k rows of llama only; qwen2/qwen3 keep Hugging Face's order.
      bool q = mapped->find(".self_attn.q_proj.") != std::string::npos;
      bool k = mapped->find(".self_attn.k_proj.") != std::string::npos;
      if (arch.rotary_permuted && (q || k)) a = unpermute_rotary_rows(a, q ? n_heads : n_kv);
      if (arch.norm_shift != 0.0f && mapped->ends_with("norm.weight")) {
        a = unshift_norm(a, arch.norm_shift, path, name);
      }
      model.gguf_names.insert_or_assign(*mapped, name);
      model.weights.insert_or_assign(*mapped, a);
      all.push_back(a);
    }
    mx::eval(all);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    fail(codes::kGguf, path + ": cannot convert GGUF tensors: " + e.what());
  }
  return model;
}

ModelConfig config_from_gguf(const GgufModel& m) {
  const GgufArch& arch = gguf_arch_of(m.path, gguf_string(m, "general.architecture"));
  const std::string k = arch.name + ".";
  ModelConfig c;
  c.model_type = arch.model_type;
  c.hidden_size = require_dim(m, k + "embedding_length");
  c.num_hidden_layers = require_dim(m, k + "block_count");
  c.intermediate_size = require_dim(m, k + "feed_forward_length");
  c.num_attention_heads = require_dim(m, k + "attention.head_count");
  c.num_key_value_heads = optional_dim(m, k + "attention.head_count_kv", c.num_attention_heads);
  c.head_dim = optional_dim(
      m, k + "attention.key_length",
      optional_dim(m, k + "rope.dimension_count", c.hidden_size / c.num_attention_heads));
  auto eps = gguf_float(m, k + "attention.layer_norm_rms_epsilon");
  if (!eps)
    fail(codes::kGguf,
         m.path + ": GGUF metadata \"" + k + "attention.layer_norm_rms_epsilon\" is missing");
  c.rms_norm_eps = static_cast<float>(*eps);
  c.rope_theta = static_cast<float>(gguf_float(m, k + "rope.freq_base").value_or(10000.0));
  c.max_position_embeddings = optional_dim(m, k + "context_length", 0);
  if (auto type = gguf_string(m, k + "rope.scaling.type"); type && *type != "none") {
    c.rope_scaling.type = *type;
    c.rope_scaling.factor =
        static_cast<float>(gguf_float(m, k + "rope.scaling.factor").value_or(1.0));
  }
  if (arch.name == "gemma3") gemma3_config(m, k, c);

  // Vocabulary: the metadata, the embedding rows, else the token list (Qwen pads its embedding
  // past the token list; llama.cpp's converter pads the list to match).
  if (gguf_int(m, k + "vocab_size")) {
    c.vocab_size = require_dim(m, k + "vocab_size");
  } else if (auto it = m.weights.find("model.embed_tokens.weight"); it != m.weights.end()) {
    c.vocab_size = it->second.shape(0);
  } else if (auto it = m.metadata.find("tokenizer.ggml.tokens");
             it != m.metadata.end() &&
             std::holds_alternative<std::vector<std::string>>(it->second)) {
    c.vocab_size = static_cast<int>(std::get<std::vector<std::string>>(it->second).size());
  }
  c.tie_word_embeddings = m.weights.count("lm_head.weight") == 0;

  // Quantization: the commonest spec is the base; modules that differ are overrides.
  std::map<std::string, std::optional<QuantSpec>> modules;
  std::map<std::pair<int, int>, int> counts;
  for (const auto& [name, w] : m.weights) {
    const std::string suffix = ".weight";
    if (name.size() <= suffix.size() || !name.ends_with(suffix)) continue;
    if (w.ndim() != 2) continue;
    auto path = name.substr(0, name.size() - suffix.size());
    auto scales = m.weights.find(path + ".scales");
    if (scales == m.weights.end()) {
      modules[path] = std::nullopt;
      continue;
    }
    QuantSpec spec;
    if (scales->second.ndim() != 2 || scales->second.shape(-1) < 1) {
      fail(codes::kGguf, m.path + ": GGUF tensor for \"" + path + "\" has scales of shape " +
                             nn::shape_string(scales->second.shape()));
    }
    int groups = scales->second.shape(-1);
    int in = groups * 32;  // GGUF blocks hold 32 weights
    spec.group_size = 32;
    spec.bits = w.shape(-1) * 32 / in;
    modules[path] = spec;
    ++counts[{spec.group_size, spec.bits}];
  }
  if (!counts.empty()) {
    auto best = std::max_element(counts.begin(), counts.end(),
                                 [](auto& a, auto& b) { return a.second < b.second; });
    QuantSpec base;
    base.group_size = best->first.first;
    base.bits = best->first.second;
    c.quantization.base = base;
    for (auto& [path, spec] : modules) {
      if (!spec || spec->bits != base.bits || spec->group_size != base.group_size) {
        c.quantization.overrides[path] = spec;
      }
    }
  }
  return c;
}

}  // namespace mlxlab
