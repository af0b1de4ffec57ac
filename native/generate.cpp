// Generation as mlx-lm's generate_step does it (prefill in chunks, then one token per step with
// the next step queued through async_eval), extended to left-padded batches.
#include "generate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <string>

#include "constraints.h"
#include "errors.h"
#include "models/decoder.h"

namespace mlxlab {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

void validate(const Model& model, const GenerateRequest& r, const StopFlags& stops) {
  if (r.prompts.empty()) fail(codes::kArgument, "generate: no prompts given");
  if (stops.size() < r.prompts.size()) {
    fail(codes::kArgument, "generate: " + std::to_string(stops.size()) + " stop flags for " +
                               std::to_string(r.prompts.size()) + " prompts");
  }
  for (size_t i = 0; i < r.prompts.size(); ++i) {
    if (r.prompts[i].empty())
      fail(codes::kArgument, "generate: prompt " + std::to_string(i) + " is empty");
    model.check_token_ids(r.prompts[i].data(), r.prompts[i].size(),
                          "generate: prompt " + std::to_string(i));
  }
  const auto& s = r.sampling;
  if (r.max_tokens < 0) fail(codes::kArgument, "generate: max_tokens must be >= 0");
  if (r.prefill_step <= 0) fail(codes::kArgument, "generate: prefill_step must be positive");
  if (!(s.temperature >= 0)) fail(codes::kArgument, "generate: temperature must be >= 0");
  if (!(s.top_p >= 0 && s.top_p <= 1)) fail(codes::kArgument, "generate: top_p must be in [0, 1]");
  if (!(s.min_p >= 0 && s.min_p <= 1)) fail(codes::kArgument, "generate: min_p must be in [0, 1]");
  if (s.top_k < 0) fail(codes::kArgument, "generate: top_k must be >= 0");
  if (!(s.repetition_penalty >= 0)) {
    fail(codes::kArgument, "generate: repetition_penalty must be >= 0");
  }
  if (s.repetition_penalty != 1.0f && s.repetition_context < 1) {
    fail(codes::kArgument, "generate: repetition_context must be >= 1");
  }
  // Guards only (src/model/sampling-options.ts checks these with the user's names): an id out of
  // range would write outside the bias row, a k past V outside the partition.
  const int V = model.config().vocab_size;
  for (const auto& entry : r.logit_bias) {
    if (entry.first < 0 || entry.first >= V)
      fail(codes::kArgument, "generate: logit_bias id out of range");
  }
  if (r.logprobs > V) fail(codes::kArgument, "generate: logprobs must be <= the vocabulary size");
  if (!(s.xtc_probability >= 0 && s.xtc_probability <= 1 && s.xtc_threshold >= 0 &&
        s.xtc_threshold <= 0.5f)) {
    fail(codes::kArgument,
         "generate: xtc_probability must be in [0, 1], xtc_threshold in [0, 0.5]");
  }
  if (r.keep_cache && (!r.cache || r.prompts.size() != 1)) {
    fail(codes::kArgument, "generate: keeping the cache takes one prompt and a prompt cache");
  }
  if (!r.grammars.empty() && r.grammars.size() != r.prompts.size()) {
    fail(codes::kArgument, "generate: " + std::to_string(r.grammars.size()) + " grammars for " +
                               std::to_string(r.prompts.size()) + " prompts");
  }
}

// ---- batch layout

// Leading tokens shared by every prompt, leaving each at least one token of its own; 0 when
// there are fewer than `minimum` or a single prompt.
int shared_prefix(const std::vector<std::vector<int>>& prompts, int minimum) {
  if (prompts.size() < 2 || minimum <= 0) return 0;
  size_t n = prompts[0].size() - 1;
  for (const auto& p : prompts) {
    n = std::min(n, p.size() - 1);
    n = std::mismatch(p.begin(), p.begin() + n, prompts[0].begin()).first - p.begin();
  }
  return static_cast<int>(n) >= minimum ? static_cast<int>(n) : 0;
}

// What follows a shared prefix of `prefix` tokens: each prompt's own tokens, left-padded to one
// length. In the cache, row b holds [prefix][pads[b] padding][its own tokens].
struct PaddedBatch {
  mx::array tokens = mx::array(0);  // [B, P] int32, the tokens after the prefix
  std::vector<int> pads;
  int prefix = 0;
  int length = 0;
  bool padded = false;
};

PaddedBatch left_pad(const std::vector<std::vector<int>>& prompts, int prefix) {
  PaddedBatch batch;
  batch.prefix = prefix;
  for (const auto& p : prompts) batch.length = std::max<int>(batch.length, p.size() - prefix);
  int B = prompts.size(), P = batch.length;
  std::vector<int32_t> flat(static_cast<size_t>(B) * P, 0);
  for (int b = 0; b < B; ++b) {
    int pad = P - static_cast<int>(prompts[b].size() - prefix);
    batch.pads.push_back(pad);
    batch.padded |= pad > 0;
    std::copy(prompts[b].begin() + prefix, prompts[b].end(),
              flat.begin() + static_cast<size_t>(b) * P + pad);
  }
  batch.tokens = mx::array(flat.data(), {B, P}, mx::int32);
  return batch;
}

// Boolean mask [B, 1, end - start, end] for queries at cache positions [start, end): causal, and
// padding keys hidden. A padding query sees itself only, so its row stays finite.
std::optional<mx::array> padding_mask(const PaddedBatch& batch, int start, int end) {
  if (!batch.padded) return std::nullopt;
  int B = batch.pads.size();
  auto pads = mx::reshape(mx::array(batch.pads.data(), {B}, mx::int32), {B, 1, 1, 1});
  auto queries = mx::reshape(mx::arange(start, end), {1, 1, end - start, 1});
  auto keys = mx::reshape(mx::arange(0, end), {1, 1, 1, end});
  auto prefix = mx::array(batch.prefix, mx::int32);
  auto own = mx::greater_equal(keys, mx::add(pads, prefix));
  auto visible =
      mx::logical_or(mx::logical_or(mx::less(keys, prefix), own), mx::equal(keys, queries));
  return mx::logical_and(mx::greater_equal(queries, keys), visible);
}

// Empties a kept prompt cache (taken out of it for in-place updates) when the call fails, so it
// is never left half-updated; the next call then starts from scratch.
struct ClearUnlessCommitted {
  PromptCache* cache = nullptr;
  bool committed = false;
  ~ClearUnlessCommitted() {
    if (cache && !committed) cache->clear();
  }
};

// Leading tokens every prompt shares with the cache's tokens (each keeps one token to run).
int reusable_from(const PromptCache& cache, const std::vector<std::vector<int>>& prompts) {
  auto held = cache.tokens();
  int n = cache.kv.offset();
  for (const auto& p : prompts) n = std::min(n, reusable_tokens(held, p));
  return n;
}

mx::array columns(const mx::array& a, int start, int end) {
  return mx::slice(a, {0, start}, {a.shape(0), end});
}

// Append batch row r's log-probabilities of an evaluated step to its sequence.
void record_logprobs(const StepOut& y, size_t r, SequenceResult& s) {
  s.logprobs.push_back(y.logprob->data<float>()[r]);
  if (!y.top_ids) return;
  size_t k = y.top_ids->shape(1);
  const int32_t* ids = y.top_ids->data<int32_t>() + r * k;
  const float* values = y.top_logprobs->data<float>() + r * k;
  s.top_ids.insert(s.top_ids.end(), ids, ids + k);
  s.top_logprobs.insert(s.top_logprobs.end(), values, values + k);
}

}  // namespace

GenerateResult generate(Model& model, const GenerateRequest& request, const TokenSink& sink,
                        StopFlags& stops, const CancelFlag& cancel) {
  validate(model, request, stops);
  const auto& sp = request.sampling;
  const int B = request.prompts.size();
  GenerateResult result;
  result.sequences.resize(B);
  for (const auto& p : request.prompts) result.stats.prompt_tokens += p.size();

  try {
    // Grammars compile before any work: an invalid one fails the call before a token.
    Constraints constraints(request.grammar_vocab, request.grammars, request.prompts.size(),
                            model.config().vocab_size);
    mx::reset_peak_memory();
    auto start = Clock::now();
    auto* decoder = as_decoder(model);
    auto cache = model.make_cache();
    // From the prompt cache: the keys and values of the leading tokens the prompts share with it.
    ClearUnlessCommitted keep{request.keep_cache ? request.cache.get() : nullptr};
    int reused = 0;
    if (request.cache) {
      if (!decoder) fail(codes::kArgument, "generate: prompt caches need a decoder model");
      result.stats.cache_tokens = request.cache->size();
      reused = reusable_from(*request.cache, request.prompts);
      if (reused > 0) {
        check_cache_fits(model, request.cache->kv, "generate: the prompt cache");
        // Kept: taken, so its buffers are updated in place. Otherwise shared: MLX writes into a
        // copy of a buffer that another array (the prompt cache's) still holds.
        cache = request.keep_cache ? std::move(request.cache->kv) : request.cache->kv;
        cache.trim_to(reused);
      } else if (request.keep_cache) {
        request.cache->clear();  // nothing of it is reused: free it now
      }
    }
    int prefix =
        decoder ? std::max(reused, shared_prefix(request.prompts, request.min_shared_prefix)) : 0;
    result.stats.shared_prefix_tokens = B > 1 ? prefix : 0;
    result.stats.reused_tokens = reused;
    result.stats.prefilled_tokens = prefix - reused;
    for (const auto& p : request.prompts) result.stats.prefilled_tokens += p.size() - prefix;
    auto batch = left_pad(request.prompts, prefix);
    Sampler sampler(sp);
    bool penalize = sp.repetition_penalty != 1.0f;
    std::optional<mx::array> history;
    if (penalize) history = prompt_history(request.prompts, sp.repetition_context);

    // Left-padded rows get positions shifted back by their padding: the same RoPE inputs (and
    // numerics, also in bf16) as a run of that prompt alone.
    std::optional<mx::array> row_offsets;
    if (batch.padded) {
      std::vector<int32_t> shifts;
      for (int pad : batch.pads) shifts.push_back(-pad);
      row_offsets = mx::array(shifts.data(), {B}, mx::int32);
    }
    auto run = [&](const mx::array& tokens, const std::optional<mx::array>& mask) {
      return decoder ? decoder->forward_rows(tokens, &cache, mask, row_offsets)
                     : model.forward(tokens, &cache, mask);
    };
    // Fill the cache with tokens at cache positions [start, start + L); the hidden states
    // materialize the cache (no LM head needed). `rows`: all rows (padding masked), not the prefix.
    auto prefill = [&](const mx::array& tokens, int start, bool rows) {
      auto mask = rows ? padding_mask(batch, start, start + tokens.shape(1)) : std::nullopt;
      const auto& offsets = rows ? row_offsets : std::nullopt;
      mx::eval(decoder ? decoder->hidden_states(tokens, &cache, mask, offsets)
                       : model.forward(tokens, &cache, mask));
      mx::clear_cache();
    };

    // The shared prefix once (past what the prompt cache gave), as one row, then copied to
    // every row.
    if (prefix > reused) {
      auto first = mx::array(request.prompts[0].data(), {1, prefix}, mx::int32);
      for (int done = reused; done < prefix && !cancel.cancelled();) {
        int end = std::min(prefix, done + request.prefill_step);
        prefill(columns(first, done, end), done, /*rows=*/false);
        done = end;
      }
    }
    if (prefix > 0 && B > 1) cache.repeat_rows(B);
    // Each row's own tokens but the last, prefill_step positions at a time.
    const int P = batch.length;
    for (int done = 0; P - done > 1 && !cancel.cancelled();) {
      int end = done + std::min(request.prefill_step, P - done - 1);
      prefill(columns(batch.tokens, done, end), prefix + done, /*rows=*/true);
      done = end;
    }

    std::vector<bool> active(B, true);
    // rows[r]: the sequence that batch row r decodes (see drop_finished_rows).
    std::vector<int> rows(B);
    for (int b = 0; b < B; ++b) rows[b] = b;

    // Logits of the last position -> bias -> penalty -> grammar mask (its -inf replaces any bias)
    // -> next token [R], with its log-probabilities when asked.
    std::optional<mx::array> bias;
    auto step = [&](const mx::array& input, int start_pos) {
      int end_pos = start_pos + input.shape(1);
      auto logits = run(input, padding_mask(batch, start_pos, end_pos));
      int R = logits.shape(0), L = logits.shape(1), V = logits.shape(2);
      logits = mx::reshape(mx::slice(logits, {0, L - 1, 0}, {R, L, V}), {R, V});
      if (!request.logit_bias.empty()) {
        if (!bias) bias = logit_bias_row(request.logit_bias, V);
        logits = mx::add(mx::astype(logits, mx::float32),
                         *bias);  // float32: a bias past fp16's range stays finite
      }
      if (penalize) logits = repetition_penalty(logits, *history, sp.repetition_penalty);
      if (constraints.any()) {
        logits = mx::where(constraints.mask(rows, active, V), logits, minus_inf(logits.dtype()));
      }
      return step_out(logits, sampler(logits), request.logprobs);
    };
    // Remember a new token for the repetition penalty.
    auto remember = [&](const mx::array& y) {
      if (!penalize) return;
      auto h = mx::concatenate({*history, mx::reshape(y, {-1, 1})}, 1);
      int n = h.shape(1);
      history = columns(h, std::max(0, n - sp.repetition_context), n);
    };

    int n_active = B;
    auto finish = [&](int b, FinishReason why) {
      if (!active[b]) return;
      active[b] = false;
      result.sequences[b].finish = why;
      --n_active;
    };

    if (cancel.cancelled()) {
      for (int b = 0; b < B; ++b) finish(b, FinishReason::kCancelled);
    }
    int pos = prefix + P - 1;
    StepOut y;
    if (n_active > 0) {
      y = step(columns(batch.tokens, P - 1, P), pos);
      remember(y.token);
      mx::async_eval(y.arrays());
      ++pos;
    }
    // Finished rows are dropped from the batch (and its cache) once a quarter of it has
    // finished, so the long tail decodes cheaply.
    auto drop_finished_rows = [&] {
      std::vector<int32_t> keep;
      for (size_t r = 0; r < rows.size(); ++r) {
        if (active[rows[r]]) keep.push_back(static_cast<int32_t>(r));
      }
      if (keep.empty() || 4 * (rows.size() - keep.size()) < rows.size()) return;
      auto index = mx::array(keep.data(), {static_cast<int>(keep.size())}, mx::int32);
      y.take_rows(index);
      cache.take_rows(index);
      if (row_offsets) row_offsets = mx::take(*row_offsets, index, 0);
      if (history) history = mx::take(*history, index, 0);
      std::vector<int> kept_rows, kept_pads;
      for (int r : keep) {
        kept_rows.push_back(rows[r]);
        kept_pads.push_back(batch.pads[r]);
      }
      rows = std::move(kept_rows);
      batch.pads = std::move(kept_pads);
    };

    auto decode_start = Clock::now();
    int n = 0;
    std::vector<int32_t> tokens(B);
    while (n_active > 0) {
      std::optional<StepOut> next_y;
      // Queue the next step now, unless its mask waits for this step's tokens.
      auto queue_next = [&] {
        if (n + 1 >= request.max_tokens || n_active == 0) return;
        next_y = step(mx::reshape(y.token, {-1, 1}), pos);
        remember(next_y->token);
        mx::async_eval(next_y->arrays());
      };
      if (!constraints.any()) queue_next();
      if (n == 0) {
        mx::eval(y.arrays());
        result.stats.prompt_seconds = seconds_since(start);
        decode_start = Clock::now();
      }
      if (n >= request.max_tokens) {
        for (int b = 0; b < B; ++b) finish(b, FinishReason::kLength);
        break;
      }
      mx::eval(y.arrays());
      std::copy_n(y.token.data<int32_t>(), rows.size(), tokens.begin());
      for (size_t r = 0; r < rows.size(); ++r) {
        int b = rows[r];
        if (!active[b]) continue;
        if (stops.stopped(b)) {
          finish(b, FinishReason::kStop);
          continue;
        }
        if (constraints.failure(b)) {
          result.sequences[b].grammar_error = *constraints.failure(b);
          finish(b, FinishReason::kGrammar);
          continue;
        }
        int t = tokens[r];
        if (request.eos_ids.count(t)) {
          finish(b, FinishReason::kEos);
          continue;
        }
        constraints.take(b, t);
        result.sequences[b].tokens.push_back(t);
        if (y.logprob) record_logprobs(y, r, result.sequences[b]);
        ++result.stats.generated_tokens;
        sink(b, t);
        if (stops.stopped(b))
          finish(b, FinishReason::kStop);
        else if (constraints.complete(b))
          finish(b, FinishReason::kEos);
        else if (static_cast<int>(result.sequences[b].tokens.size()) >= request.max_tokens) {
          finish(b, FinishReason::kLength);
        }
      }
      if (cancel.cancelled()) {
        for (int b = 0; b < B; ++b) finish(b, FinishReason::kCancelled);
      }
      if (constraints.any()) queue_next();
      if (n % 256 == 0) mx::clear_cache();
      if (!next_y) break;
      y = *next_y;
      drop_finished_rows();
      ++pos;
      ++n;
    }
    for (int b = 0; b < B; ++b) finish(b, FinishReason::kLength);
    // A step queued with async_eval may still run: never return (or let the process exit)
    // with MLX and BLAS threads busy on it.
    mx::synchronize();
    if (request.keep_cache) {
      // The cache ran the prompt, then the reply's tokens in order (a step queued ahead may have
      // run one past the last kept token): keep the positions whose tokens are known.
      std::vector<int> held = request.prompts[0];
      const auto& reply = result.sequences[0].tokens;
      held.insert(held.end(), reply.begin(), reply.end());
      int valid = std::min<int>(cache.offset(), held.size());
      cache.trim_to(valid);
      held.resize(valid);
      request.cache->kv = std::move(cache);
      request.cache->set_tokens(std::move(held));
      request.cache->model = model_fingerprint(model);
      keep.committed = true;
    }
    result.stats.generate_seconds = seconds_since(decode_start);
    result.stats.peak_memory = mx::get_peak_memory();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    fail(codes::kMlx, std::string("generate: ") + e.what());
  }
  return result;
}

}  // namespace mlxlab
