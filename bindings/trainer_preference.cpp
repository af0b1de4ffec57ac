// NativeTrainer's DPO / ORPO methods: argument unpacking for Trainer::preference_step,
// preference_gradients and preference_evaluate (native/preference.h).
#include "args.h"
#include "async.h"
#include "errors.h"
#include "js_error.h"
#include "trainer.h"
#include "values.h"

namespace mlxlab::js {

namespace {

// A preference batch as host vectors (arrays are made on the engine thread).
struct HostPreferenceBatch {
  std::vector<int> tokens;
  int rows = 0;              // 2 * pairs: the chosen rows, then the rejected ones
  std::vector<int> lengths;  // (prompt, reply) per row
  std::vector<float> scores;
};

HostPreferenceBatch to_host_preference_batch(const Napi::Value& v, const std::string& what) {
  Napi::Env env = v.Env();
  if (!v.IsObject()) {
    bad_argument(env, what +
                          " must be { tokens, pairs, promptLengths, completionLengths, "
                          "preferenceScores? }");
  }
  auto o = v.As<Napi::Object>();
  HostPreferenceBatch b;
  b.tokens = to_tokens(o.Get("tokens"), (what + ".tokens").c_str());
  int pairs = get_int(o, "pairs", 0);
  if (pairs < 1) bad_argument(env, what + ".pairs must be >= 1");
  b.rows = 2 * pairs;
  if (b.tokens.empty() || b.tokens.size() % b.rows != 0) {
    bad_argument(env, what + ".tokens must hold 2 * pairs * length token ids");
  }
  auto prompts = to_tokens(o.Get("promptLengths"), (what + ".promptLengths").c_str());
  auto replies = to_tokens(o.Get("completionLengths"), (what + ".completionLengths").c_str());
  if (prompts.size() != static_cast<size_t>(b.rows) ||
      replies.size() != static_cast<size_t>(b.rows)) {
    bad_argument(env, what + ".promptLengths and completionLengths need one entry per row (" +
                          std::to_string(b.rows) + ": the chosen rows, then the rejected ones)");
  }
  for (int r = 0; r < b.rows; ++r) {
    b.lengths.push_back(prompts[r]);
    b.lengths.push_back(replies[r]);
  }
  Napi::Value s = o.Get("preferenceScores");
  if (s.IsUndefined() || s.IsNull()) {
    b.scores.assign(pairs, 1.0f);
  } else {
    if (!s.IsArray()) bad_argument(env, what + ".preferenceScores must be an array of numbers");
    auto arr = s.As<Napi::Array>();
    if (arr.Length() != static_cast<uint32_t>(pairs)) {
      bad_argument(env, what + ".preferenceScores needs one score per pair");
    }
    for (uint32_t i = 0; i < arr.Length(); ++i) {
      Napi::Value x = arr.Get(i);
      if (!x.IsNumber()) bad_argument(env, what + ".preferenceScores must hold numbers");
      b.scores.push_back(static_cast<float>(x.As<Napi::Number>().DoubleValue()));
    }
  }
  return b;
}

PreferenceBatch to_preference_batch(const HostPreferenceBatch& h) {
  int L = static_cast<int>(h.tokens.size()) / h.rows;
  return {mx::array(h.tokens.data(), {h.rows, L}, mx::int32),
          mx::array(h.lengths.data(), {h.rows, 2}, mx::int32),
          mx::array(h.scores.data(), {h.rows / 2}, mx::float32)};
}

// mlx-lm-lora's DPO / ORPO keys in camelCase; absent ones keep their defaults.
PreferenceConfig to_preference_config(const Napi::Value& v) {
  PreferenceConfig c;
  if (v.IsUndefined() || v.IsNull()) return c;
  if (!v.IsObject()) bad_argument(v.Env(), "the preference config must be an object");
  auto o = v.As<Napi::Object>();
  c.method = get_string(o, "method", c.method);
  c.loss_type = get_string(o, "lossType", c.loss_type);
  c.beta = get_number(o, "beta", c.beta);
  c.delta = get_number(o, "delta", c.delta);
  return c;
}

void set_metrics(Napi::Object o, const PreferenceMetrics& m) {
  o.Set("chosenReward", m.chosen_reward);
  o.Set("rejectedReward", m.rejected_reward);
  o.Set("accuracies", m.accuracies);
  o.Set("margins", m.margins);
  o.Set("policyChosenLogps", m.policy_chosen_logps);
  o.Set("policyRejectedLogps", m.policy_rejected_logps);
}

// The arguments of preferenceStep / preferenceGradients: (batch, config).
std::pair<HostPreferenceBatch, PreferenceConfig> preference_args(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto batch = to_host_preference_batch(info.Length() > 0 ? info[0] : env.Undefined(), "batch");
  auto config = to_preference_config(info.Length() > 1 ? info[1] : env.Undefined());
  return {std::move(batch), config};
}

}  // namespace

// preferenceStep(batch, config) -> Promise<{ loss, tokens, lr, nonFinite, updated, iteration,
// step, chosenReward, rejectedReward, accuracies, margins, policyChosenLogps, policyRejectedLogps
// }>
Napi::Value NativeTrainer::PreferenceStep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto trainer = get(env);
  auto [batch, config] = preference_args(info);
  return run_on_engine<PreferenceStepResult>(
      env,
      [trainer, batch, config](JsChannel&) {
        return trainer->preference_step(to_preference_batch(batch), config);
      },
      [](Napi::Env env, PreferenceStepResult& r) -> Napi::Value {
        Napi::Object o = step_to_js(env, r.step);
        set_metrics(o, r.metrics);
        return o;
      });
}

// preferenceGradients(batch, config) -> Promise<{ loss, tokens, grads, ...metrics }>
Napi::Value NativeTrainer::PreferenceGradients(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto trainer = get(env);
  auto [batch, config] = preference_args(info);
  struct Out {
    double loss;
    int tokens;
    PreferenceMetrics metrics;
    NamedArrays grads;
  };
  return run_on_engine<Out>(
      env,
      [trainer, batch, config](JsChannel&) {
        auto g = trainer->preference_gradients(to_preference_batch(batch), config);
        return Out{g.gradients.loss, g.gradients.tokens, g.metrics, host_named(g.gradients.grads)};
      },
      [](Napi::Env env, Out& r) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("loss", r.loss);
        o.Set("tokens", r.tokens);
        set_metrics(o, r.metrics);
        o.Set("grads", named_to_js(env, r.grads));
        return o;
      });
}

// preferenceEvaluate(batches[], config) -> Promise<{ loss, tokens, ...metrics }>
Napi::Value NativeTrainer::PreferenceEvaluate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto trainer = get(env);
  if (info.Length() < 1 || !info[0].IsArray()) {
    bad_argument(env, "batches must be an array of preference batches");
  }
  auto arr = info[0].As<Napi::Array>();
  std::vector<HostPreferenceBatch> batches;
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    batches.push_back(to_host_preference_batch(arr.Get(i), "batches[" + std::to_string(i) + "]"));
  }
  auto config = to_preference_config(info.Length() > 1 ? info[1] : env.Undefined());
  return run_on_engine<PreferenceEval>(
      env,
      [trainer, batches, config](JsChannel&) {
        std::vector<PreferenceBatch> bs;
        for (const auto& b : batches) bs.push_back(to_preference_batch(b));
        return trainer->preference_evaluate(bs, config);
      },
      [](Napi::Env env, PreferenceEval& r) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("loss", r.eval.loss);
        o.Set("tokens", r.eval.tokens);
        set_metrics(o, r.metrics);
        return o;
      });
}

}  // namespace mlxlab::js
