// Constrained decoding: the llguidance grammar engine, loaded at run time (dlopen) from the
// library the install unpacked, so the addon loads and runs without it. A Matcher follows one
// sequence: which tokens the grammar allows next, and the tokens the sequence took.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mlxlab {

// A grammar in one of llguidance's formats: type "json_schema", "regex" or "lark"; `name` is
// what errors call it (the option it came from).
struct GrammarSpec {
  std::string type;
  std::string data;
  std::string name;
};

// Load the engine: the stub (the Python names the library refers to) then the library. Throws
// E_GRAMMAR naming the file and dlerror on failure; later calls return at once.
void load_grammar_engine(const std::string& stub_path, const std::string& lib_path);

// The engine's version ("llguidance@1.9.1 ..."); throws E_GRAMMAR when it is not loaded.
std::string grammar_engine_version();

// A vocabulary as the engine sees it: each token's bytes (special tokens start with 0xFF).
class GrammarVocab {
 public:
  // `bytes` holds every token's bytes back to back, `lens[i]` the length of token i; the
  // grammar ends on any of `eos_ids` (the first is the engine's main one).
  GrammarVocab(const std::vector<uint8_t>& bytes, const std::vector<uint32_t>& lens,
               const std::vector<int>& eos_ids);
  ~GrammarVocab();
  GrammarVocab(const GrammarVocab&) = delete;
  GrammarVocab& operator=(const GrammarVocab&) = delete;
  int size() const { return size_; }
  const void* handle() const { return handle_; }

 private:
  void* handle_ = nullptr;
  int size_ = 0;
};

// One sequence's position in one grammar.
class Matcher {
 public:
  // Throws E_GRAMMAR with the engine's message for an invalid grammar.
  Matcher(const GrammarVocab& vocab, const GrammarSpec& spec);
  ~Matcher();
  Matcher(const Matcher&) = delete;
  Matcher& operator=(const Matcher&) = delete;

  // Allowed next tokens, one bit per vocabulary id (32 per word); nullptr after an error.
  const uint32_t* allowed();
  // Take the sampled token; false when the grammar rejects it (error() says why).
  bool consume(int token);
  // The grammar is complete and allows nothing more.
  bool stopped() const;
  // The tokens so far make a complete reply (EOS may come next).
  bool accepting() const;
  bool failed() const;
  std::string error() const;

 private:
  void* handle_ = nullptr;
};

// At most 2,000 characters of an engine message, with how many more there were.
std::string clip(const std::string& message);

// A matcher for `spec`; an invalid grammar fails with E_GRAMMAR as "<name> (<type>): <reason>",
// the name being spec.name or else `fallback_name`.
std::unique_ptr<Matcher> compile_grammar(const GrammarVocab& vocab, const GrammarSpec& spec,
                                         const std::string& fallback_name);

// How far `tokens` get through a grammar: all taken, and whether they make a complete reply,
// or the engine's reason for the first one it rejects.
struct GrammarCheck {
  bool ok = true;
  bool complete = false;
  // Some token (EOS included) may follow what was taken: false for a grammar that allows nothing.
  bool next = false;
  size_t taken = 0;
  std::string error;
};
GrammarCheck check_tokens(const GrammarVocab& vocab, const GrammarSpec& spec,
                          const std::vector<int>& tokens);

}  // namespace mlxlab
