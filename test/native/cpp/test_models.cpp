// Parity with mlx-lm on the tiny fixture models: logits, greedy tokens, batched greedy.
#include <iostream>

#include "errors.h"
#include "generate.h"
#include "harness.h"
#include "io/safetensors.h"
#include "models/decoder.h"

using namespace mlxlab;
using testing::fixture;

namespace {

struct Fixture {
  ModelConfig config;
  std::unique_ptr<Model> model;
  Weights expected;
};

Fixture load_fixture(const std::string& name) {
  auto dir = fixture("models/" + name);
  Fixture f;
  f.config = testing::read_config(dir + "/config.json");
  f.model = Model::create(f.config, load_safetensors_files(testing::weight_files(dir)));
  f.expected = load_safetensors_files({dir + "/expected.safetensors"});
  return f;
}

std::vector<int> row(const mx::array& ids, int b) { return testing::to_ints(mx::take(ids, b, 0)); }

GenerateResult greedy(Model& model, const std::vector<std::vector<int>>& prompts, int max_tokens,
                      int prefill_step = 512, std::set<int> eos = {}) {
  GenerateRequest r;
  r.prompts = prompts;
  r.max_tokens = max_tokens;
  r.prefill_step = prefill_step;
  r.eos_ids = std::move(eos);
  StopFlags stops(prompts.size());
  CancelFlag cancel;
  return generate(
      model, r, [](int, int) {}, stops, cancel);
}

void check_model(const std::string& name, double tolerance) {
  auto f = load_fixture(name);
  auto& ids = f.expected.at("input_ids");
  auto logits = f.model->forward(ids);
  double diff = testing::max_abs_diff(logits, f.expected.at("logits"));
  std::cout << "    " << name << ": logits max abs diff " << diff << " (tolerance " << tolerance
            << "), " << f.model->parameter_bytes() << " parameter bytes" << std::endl;
  CHECK_MSG(diff <= tolerance, name << ": logits differ by " << diff);

  // The same logits through the KV cache: 4 positions, then one at a time.
  auto cache = f.model->make_cache();
  std::vector<mx::array> parts = {f.model->forward(mx::slice(ids, {0, 0}, {2, 4}), &cache)};
  for (int i = 4; i < 10; ++i) {
    parts.push_back(f.model->forward(mx::slice(ids, {0, i}, {2, i + 1}), &cache));
  }
  double cached = testing::max_abs_diff(mx::concatenate(parts, 1), f.expected.at("logits"));
  std::cout << "    " << name << ": cached logits max abs diff " << cached << std::endl;
  CHECK_MSG(cached <= tolerance, name << ": cached logits differ by " << cached);

  // 32 greedy tokens, as mlx-lm's generate_step gives them.
  auto prompt = testing::to_ints(f.expected.at("greedy_prompt"));
  auto want = testing::to_ints(f.expected.at("greedy_tokens"));
  auto single = greedy(*f.model, {prompt}, 32);
  auto got = single.sequences[0].tokens;
  std::cout << "    " << name << ": greedy " << testing::join(got) << std::endl;
  CHECK_MSG(got == want, name << ": greedy tokens differ, want " << testing::join(want));
  CHECK(single.sequences[0].finish == FinishReason::kLength);

  // Prefill in chunks of 3 gives the same tokens.
  auto chunked = greedy(*f.model, {prompt}, 32, 3);
  CHECK_MSG(chunked.sequences[0].tokens == want, name << ": chunked prefill differs");

  // A left-padded batch of prompts of lengths 8, 10, 10 equals the single runs.
  std::vector<std::vector<int>> prompts = {prompt, row(ids, 0), row(ids, 1)};
  auto batch = greedy(*f.model, prompts, 32);
  for (size_t b = 0; b < prompts.size(); ++b) {
    auto alone = b == 0 ? got : greedy(*f.model, {prompts[b]}, 32).sequences[0].tokens;
    CHECK_MSG(batch.sequences[b].tokens == alone, name << ": batched sequence " << b << " differs: "
                                                       << testing::join(batch.sequences[b].tokens)
                                                       << " vs " << testing::join(alone));
  }
  std::cout << "    " << name << ": batched greedy of 3 prompts equals the single runs"
            << std::endl;
}

}  // namespace

TEST(model_llama_f32) { check_model("llama-f32", 1e-4); }
TEST(model_llama_bf16) { check_model("llama-bf16", 1e-2); }
TEST(model_llama_sharded) { check_model("llama-sharded", 1e-4); }
TEST(model_llama_q4) { check_model("llama-q4", 1e-3); }
TEST(model_qwen3_f32) { check_model("qwen3-f32", 1e-4); }
TEST(model_qwen3_q4) { check_model("qwen3-q4", 1e-3); }
TEST(model_qwen3_mixed) { check_model("qwen3-mixed", 1e-3); }
TEST(model_qwen3_moe_f32) { check_model("qwen3_moe-f32", 1e-4); }
TEST(model_qwen3_moe_q4) { check_model("qwen3_moe-q4", 1e-3); }

// Enough tokens to sort them by expert (indices.size() >= 64) gives the logits of the unsorted
// path (10 tokens at a time through the cache).
TEST(moe_sorted_dispatch) {
  for (std::string name : {"qwen3_moe-f32", "qwen3_moe-q4"}) {
    auto f = load_fixture(name);
    auto tokens =
        mx::reshape(mx::remainder(mx::arange(40), mx::array(f.config.vocab_size)), {1, 40});
    auto full = f.model->forward(tokens);
    auto cache = f.model->make_cache();
    std::vector<mx::array> parts;
    for (int i = 0; i < 40; i += 10) {
      parts.push_back(f.model->forward(mx::slice(tokens, {0, i}, {1, i + 10}), &cache));
    }
    double diff = testing::max_abs_diff(full, mx::concatenate(parts, 1));
    std::cout << "    " << name << ": sorted vs unsorted max abs diff " << diff << std::endl;
    CHECK(diff <= 1e-4);
  }
}

// HF-style unstacked experts are stacked as mlx-lm's sanitize does.
TEST(moe_unstacked_experts) {
  auto dir = fixture("models/qwen3_moe-f32");
  auto config = testing::read_config(dir + "/config.json");
  auto weights = load_safetensors_files(testing::weight_files(dir));
  Weights hf;
  for (auto& [name, w] : weights) {
    auto pos = name.find(".mlp.switch_mlp.");
    if (pos == std::string::npos) {
      hf.insert_or_assign(name, w);
      continue;
    }
    auto prefix = name.substr(0, pos) + ".mlp.experts.";
    auto rest = name.substr(pos + std::string(".mlp.switch_mlp.").size());
    for (int e = 0; e < w.shape(0); ++e) {
      hf.insert_or_assign(prefix + std::to_string(e) + "." + rest, mx::take(w, e, 0));
    }
  }
  auto a = Model::create(config, weights);
  auto b = Model::create(config, hf);
  auto tokens = mx::reshape(mx::arange(12), {2, 6});
  CHECK(testing::max_abs_diff(a->forward(tokens), b->forward(tokens)) == 0.0);
}

TEST(model_linears_enumerated) {
  auto f = load_fixture("qwen3_moe-q4");
  auto* decoder = as_decoder(*f.model);
  CHECK(decoder != nullptr);
  auto linears = decoder->linears();
  auto switches = decoder->switch_linears();
  std::cout << "    " << linears.size() << " linears, " << switches.size()
            << " switch linears; first " << linears.front()->path << std::endl;
  CHECK(linears.front()->path == "model.layers.0.self_attn.q_proj");
  CHECK(switches.size() == 3);
  // parameters() gives back every loaded weight name.
  auto dir = fixture("models/qwen3_moe-q4");
  auto weights = load_safetensors_files(testing::weight_files(dir));
  auto params = f.model->parameters();
  CHECK(params.size() == weights.size());
  for (auto& [name, w] : weights) CHECK_MSG(params.count(name), "parameters() lacks " << name);
}
