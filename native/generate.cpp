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

mx::array columns(const mx::array& a, int start, int end) {
  return mx::slice(a, {0, start}, {a.shape(0), end});
}

// ---- logits processors and samplers (mlx-lm sample_utils)

// Last `context` tokens of each prompt [B, context]; short prompts repeat their first token
// (a repeated id is penalized once, so this equals the shorter list).
mx::array prompt_history(const std::vector<std::vector<int>>& prompts, int context) {
  int B = prompts.size();
  std::vector<int32_t> flat(static_cast<size_t>(B) * context);
  for (int b = 0; b < B; ++b) {
    const auto& p = prompts[b];
    int n = std::min<int>(context, p.size());
    for (int i = 0; i < context; ++i) {
      int src = i < context - n ? 0 : static_cast<int>(p.size()) - context + i;
      flat[static_cast<size_t>(b) * context + i] = p[std::max(src, 0)];
    }
  }
  return mx::array(flat.data(), {B, context}, mx::int32);
}

// Sign-aware multiplicative penalty on the logits of recent tokens.
mx::array repetition_penalty(const mx::array& logits, const mx::array& history, float penalty) {
  auto selected = mx::take_along_axis(logits, history, -1);
  auto penalized =
      mx::where(mx::less(selected, mx::array(0.0f)), mx::multiply(selected, mx::array(penalty)),
                mx::divide(selected, mx::array(penalty)));
  return mx::put_along_axis(logits, history, penalized, -1);
}

mx::array minus_inf(mx::Dtype dtype) {
  return mx::array(-std::numeric_limits<float>::infinity(), dtype);
}

// Keep the smallest set of tokens whose probability mass reaches top_p.
mx::array apply_top_p(const mx::array& logprobs, float top_p) {
  auto sorted = mx::sort(logprobs, -1);
  auto probs = mx::exp(mx::astype(sorted, mx::float32));
  auto mass_above = mx::cumsum(probs, -1, /*reverse=*/true, /*inclusive=*/false);
  int B = probs.shape(0);
  auto total = mx::add(mx::slice(mass_above, {0, 0}, {B, 1}), mx::slice(probs, {0, 0}, {B, 1}));
  auto dropped =
      mx::sum(mx::greater_equal(mass_above, mx::multiply(mx::array(top_p), total)), -1, true);
  auto threshold = mx::take_along_axis(sorted, dropped, -1);
  return mx::where(mx::less(logprobs, threshold), minus_inf(logprobs.dtype()), logprobs);
}

// Drop tokens less likely than min_p times the most likely one.
mx::array apply_min_p(const mx::array& logprobs, float min_p) {
  auto top = mx::max(logprobs, -1, true);
  auto scaled = mx::add(top, mx::array(std::log(min_p)));
  return mx::where(mx::less(logprobs, scaled), minus_inf(logprobs.dtype()), logprobs);
}

// Keep the top_k most likely tokens.
mx::array apply_top_k(const mx::array& logprobs, int top_k) {
  int V = logprobs.shape(-1);
  auto order = mx::argpartition(mx::negative(logprobs), top_k - 1, -1);
  auto drop = mx::slice(order, {0, top_k}, {order.shape(0), V});
  return mx::put_along_axis(logprobs, drop, minus_inf(logprobs.dtype()), -1);
}

class Sampler {
 public:
  explicit Sampler(const SamplingParams& p) : p_(p) {
    if (p.seed) key_ = mx::random::key(*p.seed);
  }

  // One token per row of logits [B, V], as int32 [B]. Greedy needs no normalization (argmax is
  // shift-invariant): it skips a vocabulary of exps.
  mx::array operator()(const mx::array& logits) {
    if (p_.temperature == 0) return mx::astype(mx::argmax(logits, -1), mx::int32);
    auto x = mx::subtract(logits, mx::logsumexp(logits, -1, true));
    int V = x.shape(-1);
    if (p_.top_p > 0 && p_.top_p < 1) x = apply_top_p(x, p_.top_p);
    if (p_.min_p != 0) x = apply_min_p(x, p_.min_p);
    if (p_.top_k > 0 && p_.top_k < V) x = apply_top_k(x, p_.top_k);
    std::optional<mx::array> step_key;
    if (key_) {
      auto [next, sub] = mx::random::split(*key_);
      key_ = next;
      step_key = sub;
    }
    auto scaled = mx::multiply(x, mx::array(1.0f / p_.temperature));
    return mx::astype(mx::random::categorical(scaled, -1, step_key), mx::int32);
  }

 private:
  SamplingParams p_;
  std::optional<mx::array> key_;
};

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
    int prefix = decoder ? shared_prefix(request.prompts, request.min_shared_prefix) : 0;
    result.stats.shared_prefix_tokens = prefix;
    auto batch = left_pad(request.prompts, prefix);
    auto cache = model.make_cache();
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

    // The shared prefix once, as one row, then copied to every row.
    if (prefix > 0) {
      auto first = mx::array(request.prompts[0].data(), {1, prefix}, mx::int32);
      for (int done = 0; done < prefix && !cancel.cancelled();) {
        int end = std::min(prefix, done + request.prefill_step);
        prefill(columns(first, done, end), done, /*rows=*/false);
        done = end;
      }
      cache.repeat_rows(B);
    }
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

    // Logits of the last position -> processed -> masked by the grammars -> next token [B].
    auto step = [&](const mx::array& input, int start_pos) {
      int end_pos = start_pos + input.shape(1);
      auto logits = run(input, padding_mask(batch, start_pos, end_pos));
      int R = logits.shape(0), L = logits.shape(1), V = logits.shape(2);
      logits = mx::reshape(mx::slice(logits, {0, L - 1, 0}, {R, L, V}), {R, V});
      if (penalize) logits = repetition_penalty(logits, *history, sp.repetition_penalty);
      if (constraints.any()) {
        logits = mx::where(constraints.mask(rows, active, V), logits, minus_inf(logits.dtype()));
      }
      return sampler(logits);
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
    mx::array y = mx::array(0);
    if (n_active > 0) {
      y = step(columns(batch.tokens, P - 1, P), pos);
      remember(y);
      mx::async_eval(y);
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
      y = mx::take(y, index, 0);
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
      std::optional<mx::array> next_y;
      // Queue the next step now, unless its mask waits for this step's tokens.
      auto queue_next = [&] {
        if (n + 1 >= request.max_tokens || n_active == 0) return;
        next_y = step(mx::reshape(y, {-1, 1}), pos);
        remember(*next_y);
        mx::async_eval(*next_y);
      };
      if (!constraints.any()) queue_next();
      if (n == 0) {
        mx::eval(y);
        result.stats.prompt_seconds = seconds_since(start);
        decode_start = Clock::now();
      }
      if (n >= request.max_tokens) {
        for (int b = 0; b < B; ++b) finish(b, FinishReason::kLength);
        break;
      }
      mx::eval(y);
      std::copy_n(y.data<int32_t>(), rows.size(), tokens.begin());
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
