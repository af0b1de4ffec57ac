// NativeTrainer's GRPO methods: argument unpacking for Trainer::grpo_step / grpo_gradients and
// the group-normalised advantages (native/grpo.h).
#include <cmath>

#include "args.h"
#include "async.h"
#include "errors.h"
#include "js_error.h"
#include "trainer.h"
#include "values.h"

namespace mlxlab::js {

namespace {

// A GRPO batch as host vectors (arrays are made on the engine thread).
struct HostGrpoBatch {
  std::vector<int> tokens;
  int batch = 0;
  std::vector<int> lengths;  // (prompt, completion) per row
  std::vector<float> advantages;
};

std::vector<double> numbers(const Napi::Value& v, const std::string& what) {
  if (!v.IsArray() && !v.IsTypedArray())
    bad_argument(v.Env(), what + " must be an array of numbers");
  auto o = v.As<Napi::Object>();
  uint32_t n =
      v.IsArray() ? v.As<Napi::Array>().Length() : v.As<Napi::TypedArray>().ElementLength();
  std::vector<double> out;
  for (uint32_t i = 0; i < n; ++i) {
    Napi::Value x = o.Get(i);
    if (!x.IsNumber()) bad_argument(v.Env(), what + "[" + std::to_string(i) + "] must be a number");
    out.push_back(x.As<Napi::Number>().DoubleValue());
  }
  return out;
}

HostGrpoBatch to_host_grpo_batch(const Napi::Value& v) {
  Napi::Env env = v.Env();
  if (!v.IsObject()) {
    bad_argument(env,
                 "batch must be { tokens, batch, promptLengths, completionLengths, advantages }");
  }
  auto o = v.As<Napi::Object>();
  HostGrpoBatch b;
  b.tokens = to_tokens(o.Get("tokens"), "batch.tokens");
  b.batch = get_int(o, "batch", 1);
  if (b.batch < 1) bad_argument(env, "batch.batch must be >= 1");
  if (b.tokens.empty() || b.tokens.size() % b.batch != 0) {
    bad_argument(env, "batch.tokens must hold batch * length token ids");
  }
  auto prompts = to_tokens(o.Get("promptLengths"), "batch.promptLengths");
  auto completions = to_tokens(o.Get("completionLengths"), "batch.completionLengths");
  auto adv = numbers(o.Get("advantages"), "batch.advantages");
  size_t B = static_cast<size_t>(b.batch);
  if (prompts.size() != B || completions.size() != B || adv.size() != B) {
    bad_argument(env,
                 "batch.promptLengths, completionLengths and advantages need one entry per "
                 "row (" +
                     std::to_string(B) + ")");
  }
  for (size_t r = 0; r < B; ++r) {
    b.lengths.push_back(prompts[r]);
    b.lengths.push_back(completions[r]);
    b.advantages.push_back(static_cast<float>(adv[r]));
  }
  return b;
}

GrpoBatch to_grpo_batch(const HostGrpoBatch& h) {
  int L = static_cast<int>(h.tokens.size()) / h.batch;
  return {mx::array(h.tokens.data(), {h.batch, L}, mx::int32),
          mx::array(h.lengths.data(), {h.batch, 2}, mx::int32),
          mx::array(h.advantages.data(), {h.batch}, mx::float32)};
}

// mlx-lm-lora's GRPO keys in camelCase; absent ones keep their defaults.
GrpoConfig to_grpo_config(const Napi::Value& v) {
  GrpoConfig c;
  if (v.IsUndefined() || v.IsNull()) return c;
  if (!v.IsObject()) bad_argument(v.Env(), "the GRPO config must be an object");
  auto o = v.As<Napi::Object>();
  c.loss_type = get_string(o, "lossType", c.loss_type);
  c.beta = get_number(o, "beta", c.beta);
  c.epsilon = get_number(o, "epsilon", c.epsilon);
  Napi::Value high = o.Get("epsilonHigh");
  if (!high.IsUndefined() && !high.IsNull()) c.epsilon_high = get_number(o, "epsilonHigh", 0);
  c.max_completion_length = get_int(o, "maxCompletionLength", c.max_completion_length);
  c.importance_sampling_level =
      get_string(o, "importanceSamplingLevel", c.importance_sampling_level);
  return c;
}

// The arguments of grpoStep / grpoGradients: (batch, config).
std::pair<HostGrpoBatch, GrpoConfig> grpo_args(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto batch = to_host_grpo_batch(info.Length() > 0 ? info[0] : env.Undefined());
  auto config = to_grpo_config(info.Length() > 1 ? info[1] : env.Undefined());
  return {std::move(batch), config};
}

}  // namespace

// grpoStep(batch, config) -> Promise<{ loss, tokens, lr, nonFinite, updated, iteration, step,
// kl, clipRatioLow, clipRatioHigh }>
Napi::Value NativeTrainer::GrpoStep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto trainer = get(env);
  auto [batch, config] = grpo_args(info);
  return run_on_engine<GrpoStepResult>(
      env,
      [trainer, batch, config](JsChannel&) {
        return trainer->grpo_step(to_grpo_batch(batch), config);
      },
      [](Napi::Env env, GrpoStepResult& r) -> Napi::Value {
        Napi::Object o = step_to_js(env, r.step);
        o.Set("kl", r.kl);
        o.Set("clipRatioLow", r.clip_ratio_low);
        o.Set("clipRatioHigh", r.clip_ratio_high);
        return o;
      });
}

// grpoGradients(batch, config) -> Promise<{ loss, tokens, kl, grads }>
Napi::Value NativeTrainer::GrpoGradients(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto trainer = get(env);
  auto [batch, config] = grpo_args(info);
  struct Out {
    double loss;
    int tokens;
    double kl;
    NamedArrays grads;
  };
  return run_on_engine<Out>(
      env,
      [trainer, batch, config](JsChannel&) {
        auto g = trainer->grpo_gradients(to_grpo_batch(batch), config);
        return Out{g.gradients.loss, g.gradients.tokens, g.kl, host_named(g.gradients.grads)};
      },
      [](Napi::Env env, Out& r) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("loss", r.loss);
        o.Set("tokens", r.tokens);
        o.Set("kl", r.kl);
        o.Set("grads", named_to_js(env, r.grads));
        return o;
      });
}

// grpoAdvantages(rewards, groupSize) -> number[] (synchronous: host math only)
Napi::Value NativeTrainer::GrpoAdvantages(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto rewards = numbers(info.Length() > 0 ? info[0] : env.Undefined(), "rewards");
  if (info.Length() < 2 || !info[1].IsNumber()) bad_argument(env, "groupSize must be a number");
  double g = info[1].As<Napi::Number>().DoubleValue();
  if (!(g >= 1) || g != std::floor(g) || g > 1e9) {
    bad_argument(env, "groupSize must be an integer >= 1");
  }
  std::vector<double> adv;
  try {
    adv = group_advantages(rewards, static_cast<int>(g));
  } catch (const Error& e) {
    throw_error(env, e.code(), e.what());
  }
  Napi::Array out = Napi::Array::New(env, adv.size());
  for (size_t i = 0; i < adv.size(); ++i) out.Set(static_cast<uint32_t>(i), adv[i]);
  return out;
}

}  // namespace mlxlab::js
