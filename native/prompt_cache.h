// A prompt cache: the keys and values of one sequence kept between generate() calls (a chat
// session's conversation so far, a system prompt and tools prefilled once), with the token ids
// they were computed from, so a later prompt reuses the positions whose tokens match. Saved and
// loaded in mlx-lm's prompt-cache safetensors format (mlx_lm/models/cache.py save_prompt_cache).
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "models/model.h"

namespace mlxlab {

class PromptCache {
 public:
  // The keys and values (batch 1), and model_fingerprint() of the model that made them: read
  // and written on the engine thread only.
  KVCache kv;
  std::string model;

  // The token ids whose keys and values `kv` holds (kv.offset() of them). Any thread.
  std::vector<int> tokens() const;
  size_t size() const;
  void set_tokens(std::vector<int> tokens);

  // Empty the cache (engine thread).
  void clear();

 private:
  mutable std::mutex mutex_;
  std::vector<int> tokens_;
};

// A model's identity as far as a cache can tell: type and dims ("llama num_hidden_layers=2 ...").
std::string model_fingerprint(const Model& model);

// Leading tokens of `prompt` that `cached` holds, leaving the prompt at least one token to run
// (its logits give the first new token).
int reusable_tokens(const std::vector<int>& cached, const std::vector<int>& prompt);

// Throws Error(E_ARGUMENT) unless the keys and values of `kv` have the layers, kv heads, head
// dims and dtype this model computes now (its compute mode decides the dtype). `what` names the
// cache in the message.
void check_cache_fits(Model& model, const KVCache& kv, const std::string& what);

// Write the cache to `path` as mlx-lm's save_prompt_cache does (per layer i tensors "i.0" keys
// and "i.1" values [1, H, T, D], "i.2" the offset T as an int32 scalar; metadata "1.i" =
// "KVCache" and the scalar list "2.*"), with `metadata` under "0.<key>" and the token ids under
// "0.mlx_lab_tokens" (a JSON list). Atomic. E_ARGUMENT for an empty cache.
void save_prompt_cache(const std::string& path, const PromptCache& cache,
                       const std::map<std::string, std::string>& metadata);

struct LoadedPromptCache {
  std::map<std::string, std::string> metadata;  // the "0.<key>" entries, without "0."
  bool tokens_from_file = false;                // the file had mlx_lab_tokens
};

// Read a file written by save_prompt_cache (ours or mlx-lm's) into `into`, checking that it fits
// `model` (layers, kv heads, head dims, dtype) and is whole. Files without token ids (mlx-lm's)
// need `tokens` (the ids the cache was computed from); when the file has ids, `tokens` (if
// given) must equal them. Throws Error(E_PROMPT_CACHE) naming the file and what is wrong.
LoadedPromptCache load_prompt_cache(const std::string& path, Model& model, PromptCache& into,
                                    const std::vector<int>* tokens);

}  // namespace mlxlab
