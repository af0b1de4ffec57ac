// NativeModel: a loaded model owned by a JS handle; all work on it runs on the engine thread.
#pragma once

#include <napi.h>

#include <memory>

#include "compute.h"
#include "generate.h"
#include "models/model.h"

namespace mlxlab::js {

class NativeModel : public Napi::ObjectWrap<NativeModel> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  static Napi::Object Wrap(Napi::Env env, std::shared_ptr<Model> model,
                           const ComputeReport& compute);
  explicit NativeModel(const Napi::CallbackInfo& info);
  ~NativeModel() override;

  // The model, or an E_DISPOSED error after dispose().
  std::shared_ptr<Model> get(Napi::Env env) const;
  // The model of the NativeModel at argument i (E_ARGUMENT otherwise, E_DISPOSED after dispose()).
  static std::shared_ptr<Model> FromArg(const Napi::CallbackInfo& info, size_t i);

 private:
  static Napi::Value Load(const Napi::CallbackInfo& info);
  static Napi::Value LoadGguf(const Napi::CallbackInfo& info);
  Napi::Value Forward(const Napi::CallbackInfo& info);
  Napi::Value Generate(const Napi::CallbackInfo& info);
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value SetCompute(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value Disposed(const Napi::CallbackInfo& info);

  void release();

  std::shared_ptr<Model> model_;
  ComputeReport compute_;
};

// Cancels a generation or a training run, or stops single sequences of a batch.
class NativeControl : public Napi::ObjectWrap<NativeControl> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  explicit NativeControl(const Napi::CallbackInfo& info);
  static NativeControl* Unwrap(const Napi::Value& value);

  CancelFlagPtr cancel_flag() const { return cancel_; }
  std::shared_ptr<StopFlags> stop_flags() const { return stops_; }

 private:
  Napi::Value Cancel(const Napi::CallbackInfo& info);
  Napi::Value Stop(const Napi::CallbackInfo& info);
  Napi::Value Cancelled(const Napi::CallbackInfo& info);

  CancelFlagPtr cancel_ = std::make_shared<CancelFlag>();
  std::shared_ptr<StopFlags> stops_;
};

}  // namespace mlxlab::js
