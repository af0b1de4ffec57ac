// LoRA / optimizer / training parity with mlx-lm (test/fixtures/lora, made by
// scripts/fixtures/make_lora_fixtures.py) and exact resume.
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "errors.h"
#include "harness.h"
#include "io/safetensors.h"
#include "json.h"
#include "models/decoder.h"
#include "train.h"

using namespace mlxlab;
using testing::fixture;

namespace {

std::shared_ptr<Model> load_model(const std::string& name) {
  auto dir = fixture("models/" + name);
  auto config = testing::read_config(dir + "/config.json");
  return std::shared_ptr<Model>(
      Model::create(config, load_safetensors_files(testing::weight_files(dir))));
}

testjson::Value read_json(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return testjson::parse(text.str());
}

// The fixture batches: tokens [8, 33] as four [2, 33] batches with (offset, length) rows.
std::vector<Batch> fixture_batches() {
  auto w = load_safetensors_files({fixture("lora/batches.safetensors")});
  auto tokens = w.at("tokens");
  auto lengths = mx::stack({w.at("offsets"), w.at("lengths")}, 1);
  std::vector<Batch> out;
  for (int i = 0; i < tokens.shape(0); i += 2) {
    out.push_back({mx::slice(tokens, {i, 0}, {i + 2, tokens.shape(1)}),
                   mx::slice(lengths, {i, 0}, {i + 2, 2})});
  }
  return out;
}

OptimizerConfig run_optimizer(const std::string& run) {
  auto runs = read_json(fixture("lora/runs.json"));
  auto& r = runs["runs"][run];
  OptimizerConfig o;
  o.name = r["optimizer"].str();
  o.learning_rate = r["learning_rate"].number();
  auto& c = r["config"];
  if (c.has("betas")) {
    o.beta1 = c["betas"].array()[0].number();
    o.beta2 = c["betas"].array()[1].number();
  }
  if (c.has("bias_correction")) o.bias_correction = c["bias_correction"].boolean();
  if (c.has("momentum")) o.momentum = c["momentum"].number();
  if (c.has("nesterov")) o.nesterov = c["nesterov"].boolean();
  if (c.has("weight_decay")) o.weight_decay = c["weight_decay"].number();
  if (r.has("lr_schedule")) {
    auto& s = r["lr_schedule"];
    ScheduleConfig sc;
    sc.name = s["name"].str();
    for (auto& a : s["arguments"].array()) sc.arguments.push_back(a.number());
    if (s.has("warmup")) sc.warmup = static_cast<int>(s["warmup"].number());
    if (s.has("warmup_init")) sc.warmup_init = s["warmup_init"].number();
    o.schedule = sc;
  }
  return o;
}

TrainConfig lora_config(const std::string& type = "lora") {
  TrainConfig c;
  c.lora.rank = 8;
  c.lora.scale = 20.0f;
  c.lora.num_layers = 2;
  c.lora.fine_tune_type = type;
  c.seed = 0;
  c.grad_accumulation_steps = 2;
  return c;
}

double rel(double a, double b) { return std::abs(a - b) / std::max(std::abs(b), 1e-12); }

}  // namespace

TEST(train_schedules_match_mlx) {
  auto cases = read_json(fixture("lora/schedules.json"));
  for (auto& c : cases.array()) {
    auto& cfg = c["config"];
    ScheduleConfig sc;
    sc.name = cfg["name"].str();
    for (auto& a : cfg["arguments"].array()) sc.arguments.push_back(a.number());
    if (cfg.has("warmup")) sc.warmup = static_cast<int>(cfg["warmup"].number());
    if (cfg.has("warmup_init")) sc.warmup_init = cfg["warmup_init"].number();
    auto fn = make_schedule(sc);
    auto& values = c["values"].array();
    for (size_t i = 0; i < values.size(); ++i) {
      float ours = fn(mx::array(static_cast<uint64_t>(i), mx::uint64)).item<float>();
      float theirs = static_cast<float>(values[i].number());
      CHECK_MSG(ours == theirs || rel(ours, theirs) < 1e-6,
                sc.name << " step " << i << ": " << ours << " vs mlx " << theirs);
    }
  }
  testing::expect_error(
      [] {
        make_schedule({"cosine_decay", {1e-3, 0}});
      },
      codes::kConfig, "decay_steps");
  testing::expect_error(
      [] {
        make_schedule({"warmup_cosine", {1e-3}});
      },
      codes::kConfig, "not supported");
}

TEST(train_seeded_init_matches_mlx_lm) {
  for (const char* name : {"llama-f32", "qwen3_moe-q4"}) {
    auto model = load_model(name);
    Trainer t(model, lora_config());
    auto initial =
        load_safetensors_files({fixture(std::string("lora/") + name + "/initial.safetensors")});
    auto ours = t.adapter().parameters();
    CHECK_MSG(ours.size() == initial.size(),
              name << ": " << ours.size() << " vs " << initial.size());
    for (auto& [k, v] : initial) {
      CHECK_MSG(ours.count(k), name << ": missing " << k);
      CHECK_MSG(ours.at(k).shape() == v.shape(), name << ": shape of " << k);
      if (k.size() > 7 && k.substr(k.size() - 7) == ".lora_a") {
        CHECK_MSG(mx::array_equal(ours.at(k), v).item<bool>(), name << ": " << k << " differs");
      }
    }
    t.detach();
    // num_layers=1 with explicit keys.
    auto seeded =
        load_safetensors_file(fixture(std::string("lora/") + name + "/seed_init.safetensors"));
    TrainConfig c = lora_config();
    c.lora.num_layers = 1;
    std::vector<std::string> ks = {"self_attn.q_proj", "self_attn.v_proj"};
    if (std::string(name).find("moe") != std::string::npos) {
      ks.push_back("mlp.switch_mlp.up_proj");
      ks.push_back("mlp.gate");
    }
    c.lora.keys = ks;
    Trainer t2(model, c);
    auto sub = t2.adapter().parameters();
    size_t n = 0;
    for (auto& [k, v] : seeded.first) {
      auto name2 = k.substr(7);
      CHECK_MSG(sub.count(name2), name << ": subset missing " << name2);
      CHECK_MSG(mx::array_equal(sub.at(name2), v).item<bool>(), name << ": subset " << name2);
      ++n;
    }
    CHECK(n == sub.size());
    std::cout << "    " << name << ": " << ours.size() << " arrays, subset " << n << " equal"
              << std::endl;
  }
}

TEST(train_initial_loss_and_grads_match_mlx_lm) {
  auto batches = fixture_batches();
  for (const char* name : {"llama-f32", "qwen3-q4", "qwen3_moe-f32", "qwen3_moe-q4"}) {
    auto model = load_model(name);
    Trainer t(model, lora_config());
    std::string dir = fixture(std::string("lora/") + name);
    t.load_adapter(dir + "/initial.safetensors");
    auto expected = load_safetensors_files({dir + "/expected.safetensors"});
    auto g = t.gradients(batches[0]);
    double loss = expected.at("loss").item<float>();
    CHECK_MSG(g.tokens == expected.at("ntoks").item<int32_t>(), name << ": ntoks");
    double worst = 0;
    double worst_rel = 0;
    for (auto& [k, v] : g.grads) {
      double d = testing::max_abs_diff(v, expected.at("grad." + k));
      worst = std::max(worst, d);
      worst_rel = std::max(worst_rel, d / mx::max(mx::abs(v)).item<float>());
    }
    std::cout << "    " << name << ": loss " << g.loss << " vs " << loss << " (rel "
              << rel(g.loss, loss) << "), grads max-abs " << worst << " (relative to the largest "
              << worst_rel << ")" << std::endl;
    CHECK(rel(g.loss, loss) < 1e-5);
    CHECK(worst < 1e-4);
    auto e = t.evaluate(batches);
    CHECK_MSG(rel(e.loss, expected.at("eval_loss").item<float>()) < 1e-5,
              name << ": eval " << e.loss);
  }
}

TEST(train_adam_steps_match_mlx_lm) {
  auto batches = fixture_batches();
  for (const char* name : {"llama-f32", "qwen3_moe-q4"}) {
    for (bool compile : {false, true}) {
      auto model = load_model(name);
      TrainConfig c = lora_config();
      c.optimizer = run_optimizer("adam");
      c.compile = compile;
      Trainer t(model, c);
      std::string dir = fixture(std::string("lora/") + name);
      t.load_adapter(dir + "/initial.safetensors");
      auto expected = load_safetensors_files({dir + "/expected.safetensors"});
      auto losses = expected.at("adam.losses");
      auto lrs = expected.at("adam.lr");
      double worst = 0;
      auto start = std::chrono::steady_clock::now();
      for (int it = 0; it < 20; ++it) {
        auto r = t.step(batches[it % 4]);
        double want = mx::take(losses, it).item<float>();
        worst = std::max(worst, rel(r.loss, want));
        CHECK_MSG(r.updated == (it % 2 == 1), "update schedule");
        CHECK_MSG(rel(r.learning_rate, mx::take(lrs, it).item<float>()) < 1e-6, "lr at " << it);
      }
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::cout << "    " << name << (compile ? " compiled" : "")
                << ": 10 adam updates, worst loss rel diff " << worst << " (" << s << " s)"
                << std::endl;
      CHECK(worst < 1e-4);
      auto theirs = load_safetensors_files({dir + "/adapters_adam.safetensors"});
      double wdiff = 0;
      for (auto& [k, v] : t.adapter().parameters())
        wdiff = std::max(wdiff, testing::max_abs_diff(v, theirs.at(k)));
      std::cout << "    final adapter max-abs diff " << wdiff << std::endl;
    }
  }
}

TEST(train_resume_is_exact) {
  auto batches = fixture_batches();
  auto tmp = std::filesystem::temp_directory_path() / "mlxlab_resume_test";
  std::filesystem::create_directories(tmp);
  for (int save_at : {4, 5}) {
    TrainConfig c = lora_config();
    c.optimizer = run_optimizer("adamw");
    c.lora.dropout = 0.1f;
    std::vector<double> full;
    {
      Trainer t(load_model("qwen3_moe-f32"), c);
      for (int it = 0; it < 10; ++it) {
        full.push_back(t.step(batches[it % 4]).loss);
        if (it + 1 == save_at) {
          t.save_adapter((tmp / "adapters.safetensors").string());
          t.save_state((tmp / "state.safetensors").string(),
                       {{"data_position", std::to_string(save_at)}});
        }
      }
    }
    Trainer t(load_model("qwen3_moe-f32"), [&] {
      auto c2 = c;
      c2.seed = 99;
      return c2;
    }());
    t.load_adapter((tmp / "adapters.safetensors").string());
    auto meta = t.load_state((tmp / "state.safetensors").string());
    CHECK(meta.at("data_position") == std::to_string(save_at));
    CHECK(t.iteration() == static_cast<uint64_t>(save_at));
    for (int it = save_at; it < 10; ++it) {
      double l = t.step(batches[it % 4]).loss;
      CHECK_MSG(l == full[it],
                "resume at " << save_at << ": iteration " << it << ": " << l << " vs " << full[it]);
    }
  }
  std::filesystem::remove_all(tmp);
}

namespace {

// A DoRA or full fine-tuning fixture: loss, gradients (all, or those saved), the 20-iteration
// adam run and its final weights.
void check_variant(const std::string& type, const std::string& name) {
  auto batches = fixture_batches();
  std::string dir = fixture("lora/" + type + "/" + name);
  auto expected = load_safetensors_files({dir + "/expected.safetensors"});
  auto model = load_model(name);
  auto ids =
      load_safetensors_files({fixture("models/" + name + "/expected.safetensors")}).at("input_ids");
  auto base_logits = model->forward(ids);
  mx::eval(base_logits);
  TrainConfig c = lora_config(type);
  c.optimizer = run_optimizer("adam");
  auto runs = read_json(fixture("lora/runs.json"));
  c.optimizer.learning_rate =
      (type == "full" ? runs["full_runs"]["adam"] : runs["runs"]["adam"])["learning_rate"].number();
  Trainer t(model, c);
  if (type != "full") t.load_adapter(dir + "/initial.safetensors");
  auto g = t.gradients(batches[0]);
  double loss = expected.at("loss").item<float>();
  double worst = 0;
  size_t compared = 0;
  for (auto& [k, v] : g.grads) {
    auto it = expected.find("grad." + k);
    if (it == expected.end()) continue;
    worst = std::max(worst, testing::max_abs_diff(v, it->second));
    ++compared;
  }
  CHECK_MSG(compared > 0, "no gradients compared");
  double worst_step = 0;
  auto losses = expected.at("adam.losses");
  for (int it = 0; it < 20; ++it) {
    auto r = t.step(batches[it % 4]);
    worst_step = std::max(worst_step, rel(r.loss, mx::take(losses, it).item<float>()));
  }
  double final_diff = 0;
  auto params = t.adapter().parameters();
  if (type == "full") {
    for (auto& [k, v] : expected) {
      if (k.rfind("adam.final.", 0) == 0)
        final_diff = std::max(final_diff, testing::max_abs_diff(params.at(k.substr(11)), v));
    }
  } else {
    auto theirs = load_safetensors_files({dir + "/adapters_adam.safetensors"});
    CHECK(theirs.size() == params.size());
    for (auto& [k, v] : theirs)
      final_diff = std::max(final_diff, testing::max_abs_diff(params.at(k), v));
  }
  std::cout << "    " << type << " " << name << ": loss rel " << rel(g.loss, loss) << ", "
            << compared << " grads max-abs " << worst << ", 20 losses rel " << worst_step
            << ", final weights max-abs " << final_diff << std::endl;
  CHECK(rel(g.loss, loss) < 1e-5);
  CHECK(worst < 1e-4);
  CHECK(worst_step < 1e-4);
  CHECK(final_diff < 1e-4);
  // Logits of the trained model equal mlx-lm's, and detach gives the base model back.
  double ldiff = testing::max_abs_diff(model->forward(ids), expected.at("logits_adam"));
  CHECK_MSG(ldiff < 1e-3, "logits after training differ by " << ldiff);
  t.detach();
  CHECK(testing::max_abs_diff(model->forward(ids), base_logits) == 0);
}

}  // namespace

TEST(train_dora_matches_mlx_lm) {
  check_variant("dora", "llama-f32");
  check_variant("dora", "qwen3-q4");
}

TEST(train_full_matches_mlx_lm) {
  check_variant("full", "llama-f32");
  check_variant("full", "qwen3_moe-f32");
}

TEST(train_grad_checkpoint_gives_the_same_losses) {
  auto batches = fixture_batches();
  for (const char* name : {"qwen3-f32", "qwen3_moe-q4"}) {
    std::string dir = fixture(std::string("lora/") + name);
    auto expected = load_safetensors_files({dir + "/expected.safetensors"});
    TrainConfig c = lora_config();
    c.optimizer = run_optimizer("adamw");
    c.grad_checkpoint = true;
    Trainer t(load_model(name), c);
    t.load_adapter(dir + "/initial.safetensors");
    double worst = 0;
    for (int it = 0; it < 20; ++it) {
      auto r = t.step(batches[it % 4]);
      worst = std::max(worst, rel(r.loss, mx::take(expected.at("adamw.losses"), it).item<float>()));
      CHECK(rel(r.learning_rate, mx::take(expected.at("adamw.lr"), it).item<float>()) < 1e-6);
    }
    std::cout << "    " << name << " (grad_checkpoint, adamw + cosine warmup): 20 losses rel "
              << worst << std::endl;
    CHECK(worst < 1e-4);
  }
}

TEST(train_sgd_and_bias_correction_match_mlx_lm) {
  auto batches = fixture_batches();
  for (const char* run : {"sgd", "adam_bc"}) {
    for (const char* name : {"llama-q4", "qwen3_moe-f32"}) {
      std::string dir = fixture(std::string("lora/") + name);
      auto expected = load_safetensors_files({dir + "/expected.safetensors"});
      TrainConfig c = lora_config();
      c.optimizer = run_optimizer(run);
      Trainer t(load_model(name), c);
      t.load_adapter(dir + "/initial.safetensors");
      double worst = 0;
      for (int it = 0; it < 20; ++it) {
        auto r = t.step(batches[it % 4]);
        worst = std::max(
            worst,
            rel(r.loss, mx::take(expected.at(std::string(run) + ".losses"), it).item<float>()));
      }
      std::cout << "    " << run << " " << name << ": 20 losses rel " << worst << std::endl;
      CHECK(worst < 1e-4);
    }
  }
}

TEST(train_bad_configs_and_files) {
  auto model = load_model("qwen3_moe-q4");
  auto cfg = [](auto edit) {
    TrainConfig c = lora_config();
    edit(c);
    return c;
  };
  testing::expect_error(
      [&] { Trainer(model, cfg([](TrainConfig& c) { c.lora.num_layers = 16; })); }, codes::kConfig,
      "num_layers=16 but the model only has 2 layers");
  testing::expect_error(
      [&] {
        Trainer(model, cfg([](TrainConfig& c) {
                  c.lora.keys = std::vector<std::string>{"self_attn.qproj"};
                }));
      },
      codes::kConfig, "\"self_attn.qproj\" matches no linear layer");
  testing::expect_error(
      [&] { Trainer(model, cfg([](TrainConfig& c) { c.lora.fine_tune_type = "dora"; })); },
      codes::kConfig, "DoRA does not support the expert");
  testing::expect_error(
      [&] { Trainer(model, cfg([](TrainConfig& c) { c.lora.fine_tune_type = "full"; })); },
      codes::kConfig, "is quantized");
  testing::expect_error(
      [&] { Trainer(model, cfg([](TrainConfig& c) { c.optimizer.name = "lion"; })); },
      codes::kConfig, "optimizer \"lion\" is not supported");
  testing::expect_error(
      [&] { Trainer(model, cfg([](TrainConfig& c) { c.optimizer.learning_rate = -1; })); },
      codes::kConfig, "learning_rate");
  testing::expect_error(
      [&] { Trainer(model, cfg([](TrainConfig& c) { c.grad_accumulation_steps = 0; })); },
      codes::kConfig, "grad_accumulation_steps");
  // Nothing is left attached after a failed construction: a good one works now.
  Trainer t(model, lora_config());
  testing::expect_error([&] { Trainer(model, lora_config()); }, codes::kConfig,
                        "already has an adapter");

  auto tmp = std::filesystem::temp_directory_path() / "mlxlab_bad_adapter";
  std::filesystem::create_directories(tmp);
  auto params = t.adapter().parameters();
  Weights wrong = params;
  wrong.insert_or_assign("model.layers.1.self_attn.q_proj.lora_a", mx::zeros({64, 4}));
  save_safetensors_file((tmp / "shape.safetensors").string(), wrong);
  testing::expect_error(
      [&] { t.load_adapter((tmp / "shape.safetensors").string()); }, codes::kWeights,
      "\"model.layers.1.self_attn.q_proj.lora_a\" has shape [64,4], the adapter expects [64,8]");
  Weights extra = {{"model.layers.5.self_attn.q_proj.lora_a", mx::zeros({64, 8})}};
  save_safetensors_file((tmp / "extra.safetensors").string(), extra);
  testing::expect_error([&] { t.load_adapter((tmp / "extra.safetensors").string()); },
                        codes::kWeights,
                        "\"model.layers.5.self_attn.q_proj.lora_a\" is not an adapter parameter of "
                        "this model (the model has no layer");
  testing::expect_error([&] { t.load_adapter((tmp / "missing.safetensors").string()); },
                        codes::kModelLoad, "file not found");
  testing::expect_error([&] { t.load_state((tmp / "extra.safetensors").string()); },
                        codes::kWeights, "not an mlx-lab training state file");
  // A failed load changes nothing.
  for (auto& [k, v] : t.adapter().parameters())
    CHECK(mx::array_equal(v, params.at(k)).item<bool>());
  t.detach();
  TrainConfig one = lora_config();
  one.lora.num_layers = 1;
  Trainer t1(model, one);
  testing::expect_error([&] { t1.load_adapter(fixture("lora/qwen3_moe-q4/initial.safetensors")); },
                        codes::kWeights,
                        "layer \"model.layers.0.mlp.down_proj\" has no adapter: num_layers=1");
  std::filesystem::remove_all(tmp);
}

TEST(train_non_finite_loss_is_reported_and_changes_nothing) {
  auto batches = fixture_batches();
  TrainConfig c = lora_config();
  c.grad_accumulation_steps = 1;
  c.optimizer.name = "sgd";
  c.optimizer.learning_rate = 1e12;
  auto model = load_model("llama-f32");
  Trainer t(model, c);
  t.load_adapter(fixture("lora/llama-f32/initial.safetensors"));
  bool seen = false;
  for (int it = 0; it < 10 && !seen; ++it) {
    auto before = t.adapter().parameters();
    auto iteration = t.iteration();
    auto r = t.step(batches[it % 4]);
    if (r.non_finite) {
      seen = true;
      CHECK(t.iteration() == iteration);
      for (auto& [k, v] : t.adapter().parameters())
        CHECK(mx::array_equal(v, before.at(k)).item<bool>());
      std::cout << "    non-finite loss at iteration " << it + 1 << " (" << r.loss << ")"
                << std::endl;
    }
  }
  CHECK(seen);
}

TEST(train_dropout_masks_survive_checkpointing_and_compile) {
  auto batches = fixture_batches();
  auto losses = [&](bool checkpoint, bool compile) {
    TrainConfig c = lora_config();
    c.lora.dropout = 0.2f;
    c.seed = 11;
    c.optimizer = run_optimizer("adam");
    c.grad_checkpoint = checkpoint;
    c.compile = compile;
    Trainer t(load_model("qwen3_moe-q4"), c);
    std::vector<double> out;
    for (int it = 0; it < 8; ++it) out.push_back(t.step(batches[it % 4]).loss);
    return out;
  };
  auto plain = losses(false, false);
  CHECK(losses(true, false) == plain);
  CHECK(losses(false, true) == plain);
  CHECK(losses(true, true) == plain);
  TrainConfig no_dropout = lora_config();
  no_dropout.seed = 11;
  no_dropout.optimizer = run_optimizer("adam");
  Trainer t(load_model("qwen3_moe-q4"), no_dropout);
  std::vector<double> off;
  for (int it = 0; it < 3; ++it) off.push_back(t.step(batches[it % 4]).loss);
  CHECK(off[0] == plain[0]);  // lora_b starts at zero: dropout cannot matter yet
  CHECK(off[2] != plain[2]);  // after an update it does
}

TEST(train_compiled_graphs_are_freed_with_the_trainer) {
  // A compiled graph holds the frozen weights it closes over: if the compile cache kept it after
  // the trainer went, the model's memory would stay allocated.
  auto batches = fixture_batches();
  mx::clear_cache();
  size_t before = mx::get_active_memory();
  {
    TrainConfig c = lora_config();
    c.optimizer = run_optimizer("adam");
    c.compile = true;
    Trainer t(load_model("qwen3_moe-q4"), c);
    for (int it = 0; it < 4; ++it) t.step(batches[it % 4]);  // with and without accumulation
    t.set_learning_rate(1e-3);
    t.step(batches[0]);
  }
  mx::clear_cache();
  size_t after = mx::get_active_memory();
  std::cout << "    active memory before " << before << ", after " << after << std::endl;
  CHECK_MSG(after <= before + 4096, "compiled trainer left " << after - before << " bytes");
}
