// Loading and saving safetensors, and the errors bad inputs give.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "errors.h"
#include "harness.h"
#include "io/safetensors.h"
#include "models/decoder.h"

using namespace mlxlab;
using testing::expect_error;
using testing::fixture;
namespace fs = std::filesystem;

namespace {

std::string temp_dir() {
  auto dir = fs::temp_directory_path() / ("mlxlab-native-tests-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir.string();
}

void build(const std::string& folder) {
  auto config = testing::read_config(fixture("models/bad/" + folder + "/config.json"));
  Model::create(config,
                load_safetensors_files({fixture("models/bad/" + folder + "/model.safetensors")}));
}

}  // namespace

TEST(io_bad_truncated) {
  expect_error([] { build("truncated"); }, codes::kModelLoad, "truncated");
}

TEST(io_bad_wrong_shape) {
  expect_error(
      [] { build("wrong-shape"); }, codes::kWeights,
      "weight \"model.layers.0.self_attn.q_proj.weight\" has shape [32,31], expected [32,32]");
}

TEST(io_bad_missing_weight) {
  expect_error([] { build("missing-weight"); }, codes::kWeights,
               "missing weight \"model.layers.0.mlp.down_proj.weight\"");
}

TEST(io_missing_file) {
  expect_error([] { load_safetensors_files({"/nonexistent/model.safetensors"}); },
               codes::kModelLoad, "/nonexistent/model.safetensors: file not found");
}

TEST(io_bad_header) {
  auto path = temp_dir() + "/garbage.safetensors";
  {
    std::ofstream out(path, std::ios::binary);
    uint64_t n = 10;
    out.write(reinterpret_cast<char*>(&n), 8);
    out << "{not json}";
  }
  expect_error([&] { load_safetensors_files({path}); }, codes::kModelLoad,
               path + ": bad safetensors file");
}

TEST(io_unsupported_dtype) {
  auto path = temp_dir() + "/f8.safetensors";
  {
    std::string header = R"({"x":{"dtype":"Q9","shape":[2],"data_offsets":[0,2]}})";
    std::ofstream out(path, std::ios::binary);
    uint64_t n = header.size();
    out.write(reinterpret_cast<char*>(&n), 8);
    out << header << "ab";
  }
  expect_error([&] { load_safetensors_files({path}); }, codes::kModelLoad, path + ":");
}

TEST(io_save_roundtrip_and_duplicates) {
  auto dir = temp_dir();
  Weights a = {{"x", mx::array({1.0f, 2.0f, 3.0f})}, {"y", mx::ones({2, 2}, mx::bfloat16)}};
  save_safetensors_file(dir + "/a.safetensors", a, {{"format", "mlx"}});
  CHECK(!fs::exists(dir + "/a.safetensors.tmp-" + std::to_string(::getpid())));
  auto [loaded, metadata] = load_safetensors_file(dir + "/a.safetensors");
  CHECK(metadata.at("format") == "mlx");
  CHECK(testing::max_abs_diff(loaded.at("x"), a.at("x")) == 0);
  CHECK(loaded.at("y").dtype() == mx::bfloat16);
  save_safetensors_file(dir + "/b.safetensors", {{"x", mx::array({5.0f})}});
  expect_error(
      [&] {
        load_safetensors_files({dir + "/a.safetensors", dir + "/b.safetensors"});
      },
      codes::kModelLoad, "weight \"x\" is also in");
  fs::remove_all(dir);
}

TEST(config_errors) {
  auto dir = fixture("models/llama-f32");
  auto config = testing::read_config(dir + "/config.json");
  auto weights = load_safetensors_files(testing::weight_files(dir));
  auto bad = config;
  bad.model_type = "gpt_neox";
  expect_error([&] { Model::create(bad, weights); }, codes::kConfig, "model_type \"gpt_neox\"");
  bad = config;
  bad.rope_scaling.type = "yarn";
  expect_error([&] { Model::create(bad, weights); }, codes::kConfig, "rope_scaling.type \"yarn\"");
  bad = config;
  bad.num_hidden_layers = 3;
  expect_error([&] { Model::create(bad, weights); }, codes::kWeights,
               "missing weight \"model.layers.2.input_layernorm.weight\"");
  bad = config;
  bad.num_hidden_layers = 1;
  expect_error([&] { Model::create(bad, weights); }, codes::kWeights, "unexpected weight");
  bad = config;
  bad.tie_word_embeddings = true;  // lm_head.weight is dropped, as mlx-lm's sanitize does
  Model::create(bad, weights);
  auto extra = weights;
  extra.insert_or_assign("model.layers.0.self_attn.rotary_emb.inv_freq", mx::ones({8}));
  Model::create(config, extra);
}

TEST(config_rope_llama3) {
  auto dir = fixture("models/llama-f32");
  auto config = testing::read_config(dir + "/config.json");
  config.rope_scaling.type = "llama3";
  config.rope_scaling.factor = 8.0f;
  config.rope_scaling.original_max_position_embeddings = 64;
  auto model = Model::create(config, load_safetensors_files(testing::weight_files(dir)));
  auto logits = model->forward(mx::reshape(mx::arange(10), {1, 10}));
  mx::eval(logits);
  CHECK(logits.shape(2) == config.vocab_size);
}
