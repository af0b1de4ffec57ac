// Token masks from the grammar matchers, one row of the batch at a time.
#include "constraints.h"

#include "errors.h"

namespace mlxlab {

namespace {

// The engine's first line (its error messages go on with a dump of the parser state).
std::string first_line(const std::string& message) {
  std::string line = clip(message.substr(0, message.find('\n')));
  return "the grammar cannot go on: " + (line.empty() ? std::string("no reason given") : line);
}

}  // namespace

Constraints::Constraints(const std::shared_ptr<const GrammarVocab>& vocab,
                         const std::vector<std::optional<GrammarSpec>>& grammars, size_t sequences,
                         int model_vocab)
    : vocab_(vocab), matchers_(sequences), failures_(sequences) {
  if (grammars.size() > sequences) fail(codes::kArgument, "generate: more grammars than prompts");
  for (size_t i = 0; i < grammars.size(); ++i) {
    if (!grammars[i]) continue;
    if (!vocab_) fail(codes::kGrammar, "generate: a grammar was given without a vocabulary");
    if (vocab_->size() > model_vocab) {
      fail(codes::kGrammar, "generate: the tokenizer has " + std::to_string(vocab_->size()) +
                                " tokens, more than the model's " + std::to_string(model_vocab));
    }
    matchers_[i] = compile_grammar(*vocab_, *grammars[i], "grammar of prompt " + std::to_string(i));
    any_ = true;
  }
}

mx::array Constraints::mask(const std::vector<int>& rows, const std::vector<bool>& active, int V) {
  const int R = rows.size(), n = vocab_ ? vocab_->size() : 0;
  std::vector<uint8_t> flat(static_cast<size_t>(R) * V, 1);
  for (int r = 0; r < R; ++r) {
    int seq = rows[r];
    auto& m = matchers_[seq];
    if (!m || !active[seq] || failures_[seq]) continue;
    const uint32_t* bits = m->allowed();
    if (bits == nullptr) {
      failures_[seq] = first_line(m->error());
      continue;
    }
    uint8_t* row = flat.data() + static_cast<size_t>(r) * V;
    bool some = false;
    for (int t = 0; t < V; ++t) {
      row[t] = t < n && ((bits[t >> 5] >> (t & 31)) & 1u);
      some |= row[t];
    }
    // Nothing allowed: sample freely (the token is dropped) and end the sequence.
    if (!some) {
      failures_[seq] = "the grammar allows no next token";
      std::fill(row, row + V, 1);
    }
  }
  return mx::array(flat.data(), {R, V}, mx::bool_);
}

void Constraints::take(int seq, int token) {
  auto& m = matchers_[seq];
  if (!m || failures_[seq]) return;
  if (!m->consume(token)) failures_[seq] = first_line(m->error());
}

bool Constraints::complete(int seq) const {
  const auto& m = matchers_[seq];
  return m && !failures_[seq] && !m->failed() && m->stopped();
}

}  // namespace mlxlab
