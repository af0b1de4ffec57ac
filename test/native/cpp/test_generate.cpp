// Generation: sampling parity with mlx-lm, seeds, EOS / stop / cancel in batches, stats.
#include <algorithm>
#include <iostream>

#include "errors.h"
#include "generate.h"
#include "harness.h"
#include "io/safetensors.h"

using namespace mlxlab;
using testing::fixture;

namespace {

struct Loaded {
  std::unique_ptr<Model> model;
  std::vector<int> prompt;  // the fixture's greedy_prompt
  std::vector<int> other;   // input_ids row 0 (10 tokens)
};

Loaded load(const std::string& name) {
  auto dir = fixture("models/" + name);
  Loaded l;
  l.model = Model::create(testing::read_config(dir + "/config.json"),
                          load_safetensors_files(testing::weight_files(dir)));
  auto expected = load_safetensors_files({dir + "/expected.safetensors"});
  l.prompt = testing::to_ints(expected.at("greedy_prompt"));
  l.other = testing::to_ints(mx::take(expected.at("input_ids"), 0, 0));
  return l;
}

GenerateResult run(
    Model& model, GenerateRequest r, StopFlags* stops = nullptr, const CancelFlag* cancel = nullptr,
    TokenSink sink = [](int, int) {}) {
  StopFlags own(r.prompts.size());
  CancelFlag no_cancel;
  return generate(model, r, sink, stops ? *stops : own, cancel ? *cancel : no_cancel);
}

// From tools/sampling_reference.py (mlx-lm generate_step after mx.random.seed(seed)).
struct SamplingCase {
  const char* name;
  const char* fixture;
  float temperature, top_p, min_p;
  int top_k;
  float penalty;
  int context;
  uint64_t seed;
  std::vector<int> tokens;
};
const std::vector<SamplingCase> kSamplingCases = {
    {"temp", "llama-f32", 1.0f, 1.0f, 0.0f, 0, 1.0f, 20, 7, {129, 235, 74,  55,  67,  67,
                                                             67,  67,  67,  161, 161, 123,
                                                             149, 161, 123, 149, 149, 149,
                                                             149, 149, 149, 149, 149, 149}},
    {"filters", "llama-f32", 0.8f, 0.9f, 0.05f, 20, 1.0f, 20, 11, {235, 129, 67,  55,  129, 235,
                                                                   74,  81,  255, 122, 161, 161,
                                                                   161, 81,  161, 81,  161, 81,
                                                                   255, 255, 255, 255, 255, 255}},
    {"penalty_greedy", "qwen3-f32", 0.0f, 1.0f, 0.0f, 0, 1.5f, 5, 0, {193, 250, 232, 15,  106,
                                                                      176, 124, 9,   135, 244,
                                                                      232, 30,  178, 176, 106,
                                                                      169, 193, 135, 126, 30,
                                                                      171, 78,  106, 135}},
    {"all", "qwen3_moe-f32", 0.7f, 0.95f, 0.02f, 40, 1.2f, 8, 3, {229, 213, 27,  28,  155, 24,
                                                                  182, 2,   215, 113, 213, 27,
                                                                  57,  229, 226, 155, 28,  84,
                                                                  26,  175, 213, 23,  1,   213}},
};

GenerateRequest sampling_request(const SamplingCase& c, std::vector<std::vector<int>> prompts) {
  GenerateRequest r;
  r.prompts = std::move(prompts);
  r.max_tokens = static_cast<int>(c.tokens.size());
  r.sampling.temperature = c.temperature;
  r.sampling.top_p = c.top_p;
  r.sampling.min_p = c.min_p;
  r.sampling.top_k = c.top_k;
  r.sampling.repetition_penalty = c.penalty;
  r.sampling.repetition_context = c.context;
  r.sampling.seed = c.seed;
  return r;
}

}  // namespace

TEST(generate_sampling_matches_mlx_lm) {
  for (const auto& c : kSamplingCases) {
    auto l = load(c.fixture);
    auto got = run(*l.model, sampling_request(c, {l.prompt})).sequences[0].tokens;
    std::cout << "    " << c.name << ": " << testing::join(got) << std::endl;
    CHECK_MSG(got == c.tokens, c.name << ": want " << testing::join(c.tokens));
  }
}

// Greedy with a repetition penalty, batched with a longer prompt, equals the single run.
TEST(generate_penalty_batched) {
  const auto& c = kSamplingCases[2];
  auto l = load(c.fixture);
  auto batch = run(*l.model, sampling_request(c, {l.prompt, l.other}));
  CHECK(batch.sequences[0].tokens == c.tokens);
  auto alone = run(*l.model, sampling_request(c, {l.other})).sequences[0].tokens;
  CHECK(batch.sequences[1].tokens == alone);
}

TEST(generate_seed_repeats) {
  auto l = load("llama-f32");
  GenerateRequest r;
  r.prompts = {l.prompt};
  r.max_tokens = 24;
  r.sampling.temperature = 1.5f;
  r.sampling.seed = 42;
  auto a = run(*l.model, r).sequences[0].tokens;
  auto b = run(*l.model, r).sequences[0].tokens;
  CHECK(a == b);
  r.sampling.seed = 43;
  auto c = run(*l.model, r).sequences[0].tokens;
  CHECK(a != c);
  // top_k = 1 is greedy.
  r.sampling.top_k = 1;
  auto k1 = run(*l.model, r).sequences[0].tokens;
  r.sampling = SamplingParams{};
  CHECK(k1 == run(*l.model, r).sequences[0].tokens);
}

// One sequence meets EOS, another is stopped from the sink, the third runs to max_tokens.
TEST(generate_batch_finishes_independently) {
  auto l = load("llama-f32");
  GenerateRequest r;
  r.prompts = {l.prompt, l.other};
  r.max_tokens = 20;
  auto ref = run(*l.model, r);
  auto seq0 = ref.sequences[0].tokens;
  auto seq1 = ref.sequences[1].tokens;

  // EOS: the token seq 0 gives at step 4 (or earlier, if it repeats).
  int eos = seq0[4];
  int eos_at = std::find(seq0.begin(), seq0.end(), eos) - seq0.begin();
  r.eos_ids = {eos};
  r.prompts = {l.prompt, l.prompt, l.other};
  StopFlags stops(3);
  std::vector<std::vector<int>> streamed(3);
  auto res = run(*l.model, r, &stops, nullptr, [&](int seq, int token) {
    streamed[seq].push_back(token);
    if (seq == 1 && streamed[1].size() == 3) stops.stop(1);
  });
  auto in_seq1 = std::find(seq1.begin(), seq1.end(), eos) - seq1.begin();
  CHECK(res.sequences[0].finish == FinishReason::kEos);
  CHECK(res.sequences[0].tokens == std::vector<int>(seq0.begin(), seq0.begin() + eos_at));
  CHECK(res.sequences[1].finish == FinishReason::kStop);
  CHECK(res.sequences[1].tokens.size() == 3);
  CHECK(res.sequences[2].tokens == std::vector<int>(seq1.begin(), seq1.begin() + in_seq1));
  CHECK(res.sequences[2].finish == (in_seq1 < 20 ? FinishReason::kEos : FinishReason::kLength));
  for (int s = 0; s < 3; ++s) CHECK(streamed[s] == res.sequences[s].tokens);
  std::cout << "    finishes: eos after " << eos_at << ", stop after 3, seq 2 with "
            << res.sequences[2].tokens.size() << " tokens; stats: prompt "
            << res.stats.prompt_tokens << " tokens in " << res.stats.prompt_seconds << " s, "
            << res.stats.generated_tokens << " generated in " << res.stats.generate_seconds
            << " s, peak " << res.stats.peak_memory << " bytes" << std::endl;
  CHECK(res.stats.prompt_tokens == 8 + 8 + 10);
  CHECK(res.stats.generated_tokens ==
        static_cast<int>(res.sequences[0].tokens.size() + 3 + res.sequences[2].tokens.size()));
}

TEST(generate_cancel) {
  auto l = load("llama-f32");
  GenerateRequest r;
  r.prompts = {l.prompt, l.other};
  r.max_tokens = 50;
  CancelFlag cancel;
  int seen = 0;
  auto res = run(*l.model, r, nullptr, &cancel, [&](int, int) {
    if (++seen == 5) cancel.cancel();
  });
  CHECK(res.sequences[0].finish == FinishReason::kCancelled);
  CHECK(res.sequences[1].finish == FinishReason::kCancelled);
  CHECK(res.sequences[0].tokens.size() + res.sequences[1].tokens.size() <= 6);
}

TEST(generate_bad_arguments) {
  auto l = load("llama-f32");
  GenerateRequest r;
  r.prompts = {{1, 2, 300}};
  testing::expect_error([&] { run(*l.model, r); }, codes::kArgument, "token id 300");
  r.prompts = {{}};
  testing::expect_error([&] { run(*l.model, r); }, codes::kArgument, "prompt 0 is empty");
  r.prompts = {{1, 2}};
  r.sampling.top_p = 1.5f;
  testing::expect_error([&] { run(*l.model, r); }, codes::kArgument, "top_p");
  // max_tokens 0 and a single-token prompt.
  r = GenerateRequest{};
  r.prompts = {{5}};
  r.max_tokens = 0;
  auto res = run(*l.model, r);
  CHECK(res.sequences[0].tokens.empty());
  r.max_tokens = 3;
  CHECK(run(*l.model, r).sequences[0].tokens.size() == 3);
}
