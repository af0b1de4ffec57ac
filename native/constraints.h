// The grammars of one generate call: a Matcher per constrained sequence, the allowed-token mask
// of the rows still in the batch, and the tokens each sequence took.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "grammar.h"
#include "mlx/mlx.h"

namespace mlxlab {

namespace mx = mlx::core;

class Constraints {
 public:
  // `sequences` sequences, with one optional grammar each (or no list: none). Throws E_GRAMMAR
  // before any token for an invalid grammar (by its name) or a vocabulary larger than the model's.
  Constraints(const std::shared_ptr<const GrammarVocab>& vocab,
              const std::vector<std::optional<GrammarSpec>>& grammars, size_t sequences,
              int model_vocab);

  bool any() const { return any_; }
  // Boolean [rows.size(), V]: the tokens each batch row may take next. Rows whose sequence is
  // done, or unconstrained, allow every token; a dead end is recorded for failure().
  mx::array mask(const std::vector<int>& rows, const std::vector<bool>& active, int V);
  // Take sequence `seq`'s sampled token.
  void take(int seq, int token);
  // Why sequence `seq`'s grammar can go no further (a dead end or a rejected token), if so.
  const std::optional<std::string>& failure(int seq) const { return failures_[seq]; }
  // The grammar of `seq` is complete: the reply ends here.
  bool complete(int seq) const;

 private:
  std::shared_ptr<const GrammarVocab> vocab_;
  std::vector<std::unique_ptr<Matcher>> matchers_;
  std::vector<std::optional<std::string>> failures_;
  bool any_ = false;
};

}  // namespace mlxlab
