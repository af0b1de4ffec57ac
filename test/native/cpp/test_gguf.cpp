// GGUF: the q/k un-permutation (checked numerically) and SmolLM2 against mlx-lm's outputs.
#include <fstream>
#include <iostream>
#include <sstream>

#include "errors.h"
#include "generate.h"
#include "harness.h"
#include "io/gguf.h"
#include "io/safetensors.h"
#include "json.h"

using namespace mlxlab;
using testing::fixture;

// llama.cpp's layout (q/k rows permuted) with its interleaved ("traditional") RoPE gives the
// logits of the Hugging Face layout with the half-split RoPE; un-permuting gives back the
// weights exactly. This fixes the direction of unpermute_rotary_rows.
TEST(gguf_rotary_permutation) {
  auto dir = fixture("models/llama-f32");
  auto config = testing::read_config(dir + "/config.json");
  auto weights = load_safetensors_files(testing::weight_files(dir));
  auto expected = load_safetensors_files({dir + "/expected.safetensors"});
  Weights permuted = weights;
  for (auto& [name, w] : weights) {
    bool q = name.find("q_proj.weight") != std::string::npos;
    bool k = name.find("k_proj.weight") != std::string::npos;
    if (!q && !k) continue;
    int heads = q ? config.num_attention_heads : config.num_key_value_heads;
    auto p = permute_rotary_rows(w, heads);
    CHECK(testing::max_abs_diff(unpermute_rotary_rows(p, heads), w) == 0);
    permuted.insert_or_assign(name, p);
  }
  auto traditional = config;
  traditional.rope_traditional = true;
  auto model = Model::create(traditional, permuted);
  auto diff = testing::max_abs_diff(model->forward(expected.at("input_ids")), expected.at("logits"));
  std::cout << "    permuted + traditional RoPE vs mlx-lm logits: max abs diff " << diff << std::endl;
  CHECK(diff <= 1e-4);
  // And the wrong direction would not do.
  Weights wrong = weights;
  for (auto& [name, w] : weights) {
    if (name.find("q_proj.weight") != std::string::npos) {
      wrong.insert_or_assign(name, unpermute_rotary_rows(w, config.num_attention_heads));
    }
    if (name.find("k_proj.weight") != std::string::npos) {
      wrong.insert_or_assign(name, unpermute_rotary_rows(w, config.num_key_value_heads));
    }
  }
  auto wrong_diff = testing::max_abs_diff(Model::create(traditional, wrong)->forward(expected.at("input_ids")),
                                          expected.at("logits"));
  std::cout << "    (the other direction: " << wrong_diff << ")" << std::endl;
  CHECK(wrong_diff > 1e-2);
}

TEST(gguf_errors) {
  testing::expect_error([] { load_gguf_model("/nonexistent.gguf"); }, codes::kModelLoad,
                        "/nonexistent.gguf: file not found");
  testing::expect_error([] { load_gguf_model(fixture("models/llama-f32/model.safetensors")); },
                        codes::kModelLoad, "not a GGUF file");
}

namespace {

std::string smollm2_path() { return testing::root() + "/.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf"; }

testjson::Value read_json(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return testjson::parse(text.str());
}

std::string dtype_name(mx::Dtype t) {
  std::ostringstream out;
  out << t;
  return out.str();
}

}  // namespace

// SmolLM2-135M-Instruct Q4_1 (fetched by scripts/fetch-smollm2.mjs; skipped when absent).
TEST(gguf_smollm2) {
  if (!testing::exists(smollm2_path())) {
    std::cout << "    skipped: " << smollm2_path() << " is not there" << std::endl;
    return;
  }
  auto gguf = load_gguf_model(smollm2_path());
  auto config = config_from_gguf(gguf);
  std::map<std::string, int> kinds;
  for (auto& [name, w] : gguf.weights) {
    auto suffix = name.substr(name.rfind('.') + 1);
    kinds[suffix + " " + dtype_name(w.dtype()) + " ndim " + std::to_string(w.ndim())]++;
  }
  std::cout << "    tensors as loaded:";
  for (auto& [k, n] : kinds) std::cout << " [" << k << "] x" << n << ";";
  std::cout << "\n    model.embed_tokens.weight packed shape "
            << gguf.weights.at("model.embed_tokens.weight").shape(0) << "x"
            << gguf.weights.at("model.embed_tokens.weight").shape(1) << ", scales "
            << dtype_name(gguf.weights.at("model.embed_tokens.scales").dtype()) << std::endl;
  std::cout << "    config: hidden " << config.hidden_size << ", layers " << config.num_hidden_layers
            << ", heads " << config.num_attention_heads << "/" << config.num_key_value_heads
            << ", head_dim " << config.head_dim << ", ffn " << config.intermediate_size
            << ", vocab " << config.vocab_size << ", eps " << config.rms_norm_eps << ", theta "
            << config.rope_theta << ", ctx " << config.max_position_embeddings << ", tied "
            << config.tie_word_embeddings << ", quant base {" << config.quantization.base->group_size
            << "," << config.quantization.base->bits << "}, " << config.quantization.overrides.size()
            << " override(s):";
  for (auto& [path, spec] : config.quantization.overrides) {
    std::cout << " " << path << "=" << (spec ? std::to_string(spec->bits) + "bit" : "none");
  }
  std::cout << std::endl;
  CHECK(config.num_hidden_layers == 30 && config.hidden_size == 576 && config.head_dim == 64);
  CHECK(config.tie_word_embeddings);
  CHECK(config.quantization.base->bits == 4 && config.quantization.base->group_size == 32);
  CHECK(config.quantization.overrides.at("model.embed_tokens")->bits == 8);

  auto model = Model::create(config, gguf.weights);
  auto reference = read_json(fixture("smollm2/greedy.json"));

  // Logits of the last prompt position of case 0, as mlx-lm computed them.
  auto& ref_logits = reference["logits"];
  auto& case0 = reference["cases"].array()[static_cast<int>(ref_logits["case"].number())];
  std::vector<int> prompt0;
  for (auto& v : case0["prompt_ids"].array()) prompt0.push_back(static_cast<int>(v.number()));
  int position = static_cast<int>(ref_logits["position"].number());
  auto tokens = mx::array(prompt0.data(), {1, static_cast<int>(prompt0.size())}, mx::int32);
  auto logits = mx::astype(model->forward(tokens), mx::float32);
  auto last = mx::reshape(mx::slice(logits, {0, position, 0}, {1, position + 1, config.vocab_size}), {-1});
  mx::eval(last);
  double worst = 0;
  for (size_t i = 0; i < ref_logits["first8"].array().size(); ++i) {
    worst = std::max(worst, std::abs(last.data<float>()[i] - ref_logits["first8"].array()[i].number()));
  }
  for (auto& t : ref_logits["top5"].array()) {
    int id = static_cast<int>(t["id"].number());
    worst = std::max(worst, std::abs(last.data<float>()[id] - t["logit"].number()));
  }
  std::cout << "    case 0 logits (first 8 and top 5) vs mlx-lm: max abs diff " << worst << std::endl;
  CHECK(worst <= 2e-3);

  // Greedy tokens for each case, stopping at EOS (mlx-lm lists the EOS id last).
  std::set<int> eos;
  for (auto& v : reference["eos_token_ids"].array()) eos.insert(static_cast<int>(v.number()));
  int max_tokens = static_cast<int>(reference["max_tokens"].number());
  std::vector<std::vector<int>> prompts, wanted;
  for (auto& c : reference["cases"].array()) {
    std::vector<int> p, w;
    for (auto& v : c["prompt_ids"].array()) p.push_back(static_cast<int>(v.number()));
    for (auto& v : c["tokens"].array()) w.push_back(static_cast<int>(v.number()));
    if (!w.empty() && eos.count(w.back())) w.pop_back();
    prompts.push_back(p);
    wanted.push_back(w);
  }
  GenerateRequest r;
  r.prompts = prompts;
  r.max_tokens = max_tokens;
  r.eos_ids = eos;
  StopFlags stops(prompts.size());
  CancelFlag cancel;
  auto res = generate(*model, r, [](int, int) {}, stops, cancel);
  for (size_t i = 0; i < prompts.size(); ++i) {
    std::cout << "    case " << i << ": " << testing::join(res.sequences[i].tokens) << std::endl;
    CHECK_MSG(res.sequences[i].tokens == wanted[i], "case " << i << " want " << testing::join(wanted[i]));
  }
  std::cout << "    batched: " << res.stats.prompt_tokens << " prompt tokens in " << res.stats.prompt_seconds
            << " s, " << res.stats.generated_tokens << " tokens in " << res.stats.generate_seconds
            << " s, peak " << res.stats.peak_memory / 1e6 << " MB" << std::endl;
}
