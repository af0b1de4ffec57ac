// GGUF: the q/k un-permutation (checked numerically) and SmolLM2 against mlx-lm's outputs.
#include <filesystem>
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
  auto diff =
      testing::max_abs_diff(model->forward(expected.at("input_ids")), expected.at("logits"));
  std::cout << "    permuted + traditional RoPE vs mlx-lm logits: max abs diff " << diff
            << std::endl;
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
  auto wrong_diff = testing::max_abs_diff(
      Model::create(traditional, wrong)->forward(expected.at("input_ids")), expected.at("logits"));
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

std::string smollm2_path() {
  return testing::root() + "/.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf";
}

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
  std::cout << "    config: hidden " << config.hidden_size << ", layers "
            << config.num_hidden_layers << ", heads " << config.num_attention_heads << "/"
            << config.num_key_value_heads << ", head_dim " << config.head_dim << ", ffn "
            << config.intermediate_size << ", vocab " << config.vocab_size << ", eps "
            << config.rms_norm_eps << ", theta " << config.rope_theta << ", ctx "
            << config.max_position_embeddings << ", tied " << config.tie_word_embeddings
            << ", quant base {" << config.quantization.base->group_size << ","
            << config.quantization.base->bits << "}, " << config.quantization.overrides.size()
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
  auto last =
      mx::reshape(mx::slice(logits, {0, position, 0}, {1, position + 1, config.vocab_size}), {-1});
  mx::eval(last);
  double worst = 0;
  for (size_t i = 0; i < ref_logits["first8"].array().size(); ++i) {
    worst =
        std::max(worst, std::abs(last.data<float>()[i] - ref_logits["first8"].array()[i].number()));
  }
  for (auto& t : ref_logits["top5"].array()) {
    int id = static_cast<int>(t["id"].number());
    worst = std::max(worst, std::abs(last.data<float>()[id] - t["logit"].number()));
  }
  std::cout << "    case 0 logits (first 8 and top 5) vs mlx-lm: max abs diff " << worst
            << std::endl;
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
  auto res = generate(
      *model, r, [](int, int) {}, stops, cancel);
  for (size_t i = 0; i < prompts.size(); ++i) {
    std::cout << "    case " << i << ": " << testing::join(res.sequences[i].tokens) << std::endl;
    CHECK_MSG(res.sequences[i].tokens == wanted[i],
              "case " << i << " want " << testing::join(wanted[i]));
  }
  std::cout << "    batched: " << res.stats.prompt_tokens << " prompt tokens in "
            << res.stats.prompt_seconds << " s, " << res.stats.generated_tokens << " tokens in "
            << res.stats.generate_seconds << " s, peak " << res.stats.peak_memory / 1e6 << " MB"
            << std::endl;
}

namespace {

// The llama-f32 fixture written as a llama.cpp-style GGUF (names, permuted q/k, metadata).
std::string write_tiny_gguf(const std::string& path, const std::string& arch,
                            size_t truncate_to = 0) {
  auto dir = fixture("models/llama-f32");
  auto config = testing::read_config(dir + "/config.json");
  auto weights = load_safetensors_files(testing::weight_files(dir));
  const std::map<std::string, std::string> parts = {
      {"self_attn.q_proj", "attn_q"},          {"self_attn.k_proj", "attn_k"},
      {"self_attn.v_proj", "attn_v"},          {"self_attn.o_proj", "attn_output"},
      {"mlp.gate_proj", "ffn_gate"},           {"mlp.up_proj", "ffn_up"},
      {"mlp.down_proj", "ffn_down"},           {"input_layernorm", "attn_norm"},
      {"post_attention_layernorm", "ffn_norm"}};
  std::unordered_map<std::string, mx::array> out;
  for (auto& [name, w] : weights) {
    std::string gguf_name;
    mx::array a = w;
    if (name == "model.embed_tokens.weight")
      gguf_name = "token_embd.weight";
    else if (name == "model.norm.weight")
      gguf_name = "output_norm.weight";
    else if (name == "lm_head.weight")
      gguf_name = "output.weight";
    else {
      auto rest = name.substr(std::string("model.layers.").size());
      auto layer = rest.substr(0, rest.find('.'));
      auto module = rest.substr(layer.size() + 1, rest.rfind('.') - layer.size() - 1);
      gguf_name = "blk." + layer + "." + parts.at(module) + ".weight";
      if (module == "self_attn.q_proj") a = permute_rotary_rows(w, config.num_attention_heads);
      if (module == "self_attn.k_proj") a = permute_rotary_rows(w, config.num_key_value_heads);
    }
    out.insert_or_assign(gguf_name, a);
  }
  std::unordered_map<std::string, mx::GGUFMetaData> meta = {
      {"general.architecture", arch},
      {"llama.embedding_length", mx::array(config.hidden_size, mx::uint32)},
      {"llama.block_count", mx::array(config.num_hidden_layers, mx::uint32)},
      {"llama.feed_forward_length", mx::array(config.intermediate_size, mx::uint32)},
      {"llama.attention.head_count", mx::array(config.num_attention_heads, mx::uint32)},
      {"llama.attention.head_count_kv", mx::array(config.num_key_value_heads, mx::uint32)},
      {"llama.attention.layer_norm_rms_epsilon", mx::array(config.rms_norm_eps)},
      {"llama.rope.freq_base", mx::array(config.rope_theta)},
      {"llama.context_length", mx::array(config.max_position_embeddings, mx::uint32)},
      {"tokenizer.ggml.tokens", std::vector<std::string>(config.vocab_size, "t")}};
  mx::save_gguf(path, out, meta);
  if (truncate_to) std::filesystem::resize_file(path, truncate_to);
  return path;
}

}  // namespace

TEST(gguf_tiny_llama_roundtrip) {
  auto dir = std::filesystem::temp_directory_path();
  auto path = write_tiny_gguf((dir / "mlxlab-tiny-llama.gguf").string(), "llama");
  auto gguf = load_gguf_model(path);
  auto config = config_from_gguf(gguf);
  auto reference = testing::read_config(fixture("models/llama-f32/config.json"));
  CHECK(config.vocab_size == reference.vocab_size && config.head_dim == reference.head_dim);
  CHECK(!config.tie_word_embeddings && !config.quantization.base);
  CHECK(std::get<std::vector<std::string>>(gguf.metadata.at("tokenizer.ggml.tokens")).size() ==
        256);
  CHECK(gguf_int(gguf, "llama.block_count") == 2);
  auto expected = load_safetensors_files({fixture("models/llama-f32/expected.safetensors")});
  auto model = Model::create(config, gguf.weights);
  auto diff =
      testing::max_abs_diff(model->forward(expected.at("input_ids")), expected.at("logits"));
  std::cout << "    tiny llama through GGUF: logits max abs diff " << diff << std::endl;
  CHECK(diff <= 1e-4);

  auto other = write_tiny_gguf((dir / "mlxlab-tiny-gpt2.gguf").string(), "gpt2");
  testing::expect_error(
      [&] { load_gguf_model(other); }, codes::kGguf,
      "GGUF architecture \"gpt2\" is not supported (supported: llama, qwen2, qwen3, gemma3)");
  auto cut = write_tiny_gguf((dir / "mlxlab-tiny-cut.gguf").string(), "llama", 100000);
  testing::expect_error([&] { load_gguf_model(cut); }, codes::kModelLoad, "extends past the end");
  for (auto& p : {path, other, cut}) std::filesystem::remove(p);
}
