// Token generation: prefill, KV-cache decode, samplers, batches of prompts. Stop strings are
// matched in TS on decoded text; TS tells a sequence to stop through StopFlags.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "engine.h"
#include "grammar.h"
#include "models/model.h"
#include "prompt_cache.h"
#include "sampling.h"

namespace mlxlab {

struct GenerateRequest {
  std::vector<std::vector<int>> prompts;  // one or more prompts (token ids)
  int max_tokens = 256;
  SamplingParams sampling;
  std::set<int> eos_ids;
  int prefill_step = 512;  // prompt tokens per forward pass during prefill
  // Prefill the prompts' common leading tokens (a system prompt, tools) once for all rows when
  // there are at least this many; 0 turns the reuse off.
  int min_shared_prefix = 32;
  // Constrained decoding: a grammar per prompt (empty or nullopt: free) over this vocabulary.
  std::vector<std::optional<GrammarSpec>> grammars;
  std::shared_ptr<const GrammarVocab> grammar_vocab;
  // Added to the logits of these token ids (every row) before the penalties and the grammar mask.
  std::vector<std::pair<int, float>> logit_bias;
  // -1: none. k >= 0: each token's log-probability (log-softmax of the processed logits: after
  // bias, penalty and grammar mask, before temperature and the truncating samplers) and the k
  // most likely tokens with theirs.
  int logprobs = -1;
  // Start from this cache's keys and values for the leading prompt tokens it holds (with several
  // prompts, those all of them begin with). Left unchanged, unless keep_cache.
  std::shared_ptr<PromptCache> cache;
  // One prompt only: afterwards `cache` holds the prompt and the reply tokens that ran through
  // the model (a chat session's next turn starts from it). Updated in place, without a copy.
  bool keep_cache = false;
};

// Per-sequence stop requests from another thread (stop string matched in TS).
class StopFlags {
 public:
  explicit StopFlags(size_t n) : flags_(n) {}
  void stop(size_t i) {
    if (i < flags_.size()) flags_[i].store(true, std::memory_order_relaxed);
  }
  bool stopped(size_t i) const { return flags_[i].load(std::memory_order_relaxed); }
  size_t size() const { return flags_.size(); }

 private:
  std::vector<std::atomic<bool>> flags_;
};

// kGrammar: the sequence's grammar could go no further (a dead end), see grammar_error.
enum class FinishReason { kLength, kEos, kStop, kCancelled, kGrammar };

struct SequenceResult {
  std::vector<int> tokens;
  FinishReason finish = FinishReason::kLength;
  std::string grammar_error;
  // With request.logprobs = k >= 0, per token: its log-probability, and k alternatives
  // (top_ids[i * k + j], most likely first).
  std::vector<float> logprobs;
  std::vector<int> top_ids;
  std::vector<float> top_logprobs;
};

struct GenerateStats {
  int prompt_tokens = 0;
  int shared_prefix_tokens = 0;  // leading tokens common to all prompts, prefilled once
  int cache_tokens = 0;          // tokens request.cache held when the call began
  int reused_tokens = 0;         // leading prompt tokens whose keys/values came from request.cache
  int prefilled_tokens = 0;      // prompt tokens run through the model (padding not counted)
  double prompt_seconds = 0;
  int generated_tokens = 0;
  double generate_seconds = 0;
  size_t peak_memory = 0;
};

struct GenerateResult {
  std::vector<SequenceResult> sequences;
  GenerateStats stats;
};

// Called on the engine thread for each new token of sequence `seq`.
using TokenSink = std::function<void(int seq, int token)>;

// Generate for all prompts at once (left-padded batch). Stops a sequence at EOS, at
// max_tokens or when stops->stopped(seq); stops all when cancel is set.
GenerateResult generate(Model& model, const GenerateRequest& request, const TokenSink& sink,
                        StopFlags& stops, const CancelFlag& cancel);

}  // namespace mlxlab
