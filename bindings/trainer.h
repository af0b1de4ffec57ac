// NativeTrainer: an adapter attached to a NativeModel plus its optimizer, owned by a JS handle.
// Every method that touches MLX runs on the engine thread and returns a Promise.
#pragma once

#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "train.h"

namespace mlxlab::js {

// Named arrays copied for the JS thread, sorted by name, and as a JS object of NativeArrays.
using NamedArrays = std::vector<std::pair<std::string, mx::array>>;
NamedArrays host_named(const Weights& w);
Napi::Object named_to_js(Napi::Env env, const NamedArrays& arrays);
// A training step's result fields as a JS object (loss, tokens, lr, nonFinite, updated, iteration,
// step).
Napi::Object step_to_js(Napi::Env env, const StepResult& r);

class NativeTrainer : public Napi::ObjectWrap<NativeTrainer> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  explicit NativeTrainer(const Napi::CallbackInfo& info);
  ~NativeTrainer() override;

 private:
  static Napi::Value Create(const Napi::CallbackInfo& info);
  Napi::Value Step(const Napi::CallbackInfo& info);
  Napi::Value Evaluate(const Napi::CallbackInfo& info);
  Napi::Value Gradients(const Napi::CallbackInfo& info);
  Napi::Value GrpoStep(const Napi::CallbackInfo& info);       // trainer_grpo.cpp
  Napi::Value GrpoGradients(const Napi::CallbackInfo& info);  // trainer_grpo.cpp
  static Napi::Value GrpoAdvantages(const Napi::CallbackInfo& info);
  Napi::Value PreferenceStep(const Napi::CallbackInfo& info);       // trainer_preference.cpp
  Napi::Value PreferenceGradients(const Napi::CallbackInfo& info);  // trainer_preference.cpp
  Napi::Value PreferenceEvaluate(const Napi::CallbackInfo& info);   // trainer_preference.cpp
  Napi::Value SaveAdapter(const Napi::CallbackInfo& info);
  Napi::Value LoadAdapter(const Napi::CallbackInfo& info);
  Napi::Value AdapterParameters(const Napi::CallbackInfo& info);
  Napi::Value SaveState(const Napi::CallbackInfo& info);
  Napi::Value LoadState(const Napi::CallbackInfo& info);
  Napi::Value SetLearningRate(const Napi::CallbackInfo& info);
  Napi::Value State(const Napi::CallbackInfo& info);
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value Detach(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value Disposed(const Napi::CallbackInfo& info);

  std::shared_ptr<Trainer> get(Napi::Env env) const;
  void release();

  std::shared_ptr<Trainer> trainer_;
  // Fixed at creation (read synchronously by info()).
  std::vector<std::pair<std::string, std::vector<int>>> parameter_shapes_;
  size_t parameter_count_ = 0;
  size_t optimizer_state_arrays_ = 0;  // 0 for an inference attachment
};

}  // namespace mlxlab::js
