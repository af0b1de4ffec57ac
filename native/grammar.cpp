// The llguidance C API, reached through dlsym. Its structs are declared here with the layout of
// the pinned version (scripts/lib/llguidance.mjs); the init struct the engine fills itself lives
// in an oversized buffer, so a newer engine with more fields cannot write past it.
#include "grammar.h"

#include <dlfcn.h>

#include <mutex>

#include "errors.h"

namespace mlxlab {

namespace {

// llguidance's LlgTokenizerInitV2, field for field (struct_size tells the engine which fields
// this caller knows).
struct TokenizerInit {
  size_t struct_size;
  uint32_t vocab_size;
  uint32_t tok_eos;
  const uint32_t* token_lens;
  const uint8_t* token_bytes;
  const char* tokenizer_json;
  bool tokenize_assumes_string;
  void* tokenize_fn;
  bool use_approximate_greedy_tokenize_fn;
  const void* tokenize_user_data;
  const char* const* slices;
  const uint32_t* tok_eos_extra;
  uint32_t tok_eos_extra_count;
};

// The leading fields of llguidance's LlgConstraintInit (the parser limits follow).
struct ConstraintInitHead {
  const void* tokenizer;
  uint32_t log_buffer_level;
  uint32_t log_stderr_level;
};

// Room for the whole LlgConstraintInit (about 80 bytes in the pinned version).
struct alignas(16) ConstraintInit {
  ConstraintInitHead head;
  unsigned char rest[512];
};

// The entry points we use.
struct Api {
  const char* (*get_version)();
  void* (*new_tokenizer)(const TokenizerInit*, char*, size_t);
  void (*free_tokenizer)(void*);
  void (*init_defaults)(ConstraintInit*, const void*);
  void* (*new_matcher)(const ConstraintInit*, const char*, const char*);
  void (*free_matcher)(void*);
  bool (*is_error)(const void*);
  const char* (*get_error)(void*);
  int32_t (*compute_mask)(void*);
  const uint32_t* (*get_mask)(void*);
  int32_t (*consume_token)(void*, uint32_t);
  bool (*is_stopped)(const void*);
  bool (*is_accepting)(void*);
};

std::mutex load_mutex;
Api api{};
bool loaded = false;

// dlsym one entry point into `slot`, failing with the name when the library lacks it.
template <typename F>
void bind(void* lib, const char* name, F& slot) {
  void* sym = dlsym(lib, name);
  if (sym == nullptr) fail(codes::kGrammar, std::string("grammar engine: no symbol ") + name);
  slot = reinterpret_cast<F>(sym);
}

void bind_all(void* lib) {
  bind(lib, "llg_get_version", api.get_version);
  bind(lib, "llg_new_tokenizer_v2", api.new_tokenizer);
  bind(lib, "llg_free_tokenizer", api.free_tokenizer);
  bind(lib, "llg_constraint_init_set_defaults", api.init_defaults);
  bind(lib, "llg_new_matcher", api.new_matcher);
  bind(lib, "llg_free_matcher", api.free_matcher);
  bind(lib, "llg_matcher_is_error", api.is_error);
  bind(lib, "llg_matcher_get_error", api.get_error);
  bind(lib, "llg_matcher_compute_mask", api.compute_mask);
  bind(lib, "llg_matcher_get_mask", api.get_mask);
  bind(lib, "llg_matcher_consume_token", api.consume_token);
  bind(lib, "llg_matcher_is_stopped", api.is_stopped);
  bind(lib, "llg_matcher_is_accepting", api.is_accepting);
}

// dlopen or fail naming the file and the loader's reason.
void* open_library(const std::string& path, int flags) {
  void* h = dlopen(path.c_str(), flags);
  if (h == nullptr) {
    const char* why = dlerror();
    fail(codes::kGrammar, "grammar engine: cannot load " + path + ": " + (why ? why : "unknown"));
  }
  return h;
}

void require_loaded() {
  if (!loaded) fail(codes::kGrammar, "grammar engine not loaded");
}

}  // namespace

void load_grammar_engine(const std::string& stub_path, const std::string& lib_path) {
  std::lock_guard<std::mutex> lock(load_mutex);
  if (loaded) return;
  // The stub's names must be global: the library resolves its Python references against them.
  open_library(stub_path, RTLD_NOW | RTLD_GLOBAL);
  bind_all(open_library(lib_path, RTLD_NOW | RTLD_LOCAL));
  loaded = true;
}

std::string grammar_engine_version() {
  require_loaded();
  return api.get_version();
}

GrammarVocab::GrammarVocab(const std::vector<uint8_t>& bytes, const std::vector<uint32_t>& lens,
                           const std::vector<int>& eos_ids) {
  require_loaded();
  uint64_t total = 0;
  for (uint32_t n : lens) total += n;
  if (lens.empty() || total != bytes.size()) {
    fail(codes::kGrammar, "grammar vocabulary: token lengths do not add up to the bytes given");
  }
  if (eos_ids.empty()) fail(codes::kGrammar, "grammar vocabulary: no EOS id given");
  std::vector<uint32_t> eos;
  for (int id : eos_ids) {
    if (id < 0 || id >= static_cast<int>(lens.size())) {
      fail(codes::kGrammar, "grammar vocabulary: EOS id " + std::to_string(id) + " is outside it");
    }
    eos.push_back(static_cast<uint32_t>(id));
  }
  TokenizerInit init{};
  init.struct_size = sizeof(TokenizerInit);
  init.vocab_size = static_cast<uint32_t>(lens.size());
  init.tok_eos = eos[0];
  init.tok_eos_extra = eos.data() + 1;
  init.tok_eos_extra_count = static_cast<uint32_t>(eos.size() - 1);
  init.token_lens = lens.data();
  init.token_bytes = bytes.data();
  init.use_approximate_greedy_tokenize_fn = true;
  char message[1024] = {0};
  handle_ = api.new_tokenizer(&init, message, sizeof(message));
  if (handle_ == nullptr) fail(codes::kGrammar, std::string("grammar vocabulary: ") + message);
  size_ = static_cast<int>(lens.size());
}

GrammarVocab::~GrammarVocab() {
  if (handle_) api.free_tokenizer(handle_);
}

Matcher::Matcher(const GrammarVocab& vocab, const GrammarSpec& spec) {
  require_loaded();
  ConstraintInit init{};
  api.init_defaults(&init, vocab.handle());
  init.head.log_buffer_level = 0;
  init.head.log_stderr_level = 0;
  handle_ = api.new_matcher(&init, spec.type.c_str(), spec.data.c_str());
  if (handle_ == nullptr) fail(codes::kGrammar, "grammar engine: no matcher made");
  if (api.is_error(handle_)) {
    std::string why = error();
    api.free_matcher(handle_);
    handle_ = nullptr;
    fail(codes::kGrammar, why);
  }
}

Matcher::~Matcher() {
  if (handle_) api.free_matcher(handle_);
}

const uint32_t* Matcher::allowed() {
  if (api.compute_mask(handle_) != 0) return nullptr;
  return api.get_mask(handle_);
}

bool Matcher::consume(int token) {
  return api.consume_token(handle_, static_cast<uint32_t>(token)) == 0;
}

bool Matcher::stopped() const { return api.is_stopped(handle_); }

bool Matcher::failed() const { return api.is_error(handle_); }

bool Matcher::accepting() const { return api.is_accepting(handle_); }

std::string Matcher::error() const {
  const char* e = api.get_error(handle_);
  return e ? e : "";
}

// At most 2,000 characters of an engine message (it quotes the grammar, which may be huge).
std::string clip(const std::string& message) {
  const size_t limit = 2000;
  if (message.size() <= limit) return message;
  return message.substr(0, limit) + "… (" + std::to_string(message.size() - limit) +
         " more characters)";
}

std::unique_ptr<Matcher> compile_grammar(const GrammarVocab& vocab, const GrammarSpec& spec,
                                         const std::string& fallback_name) {
  try {
    return std::make_unique<Matcher>(vocab, spec);
  } catch (const Error& e) {
    std::string name = spec.name.empty() ? fallback_name : spec.name;
    fail(codes::kGrammar, name + " (" + spec.type + "): " + clip(e.what()));
  }
}

GrammarCheck check_tokens(const GrammarVocab& vocab, const GrammarSpec& spec,
                          const std::vector<int>& tokens) {
  auto compiled = compile_grammar(vocab, spec, "grammar");
  Matcher& matcher = *compiled;
  GrammarCheck check;
  for (int t : tokens) {
    if (t < 0 || t >= vocab.size() || !matcher.consume(t)) {
      check.ok = false;
      check.error = t < 0 || t >= vocab.size()
                        ? "token id " + std::to_string(t) + " is outside the vocabulary"
                        : matcher.error();
      return check;
    }
    ++check.taken;
  }
  check.complete = matcher.accepting();
  const uint32_t* bits = matcher.allowed();
  for (int w = 0; bits != nullptr && w < (vocab.size() + 31) / 32 && !check.next; ++w) {
    check.next = bits[w] != 0;
  }
  return check;
}

}  // namespace mlxlab
