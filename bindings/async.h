// Run work on the engine thread and settle a Promise on the JS thread. Streaming callbacks
// (tokens, progress) post closures to the JS thread through the same thread-safe function.
#pragma once

#include <napi.h>

#include <functional>
#include <memory>
#include <vector>

#include "engine.h"
#include "js_error.h"

namespace mlxlab::js {

// A closure to run on the JS thread.
using JsTask = std::function<void(Napi::Env)>;

// A channel from the engine thread to the JS thread, alive until closed.
class JsChannel {
 public:
  explicit JsChannel(Napi::Env env);
  ~JsChannel();
  // Queue a closure for the JS thread (never blocks the engine).
  void post(JsTask task);
  // Release the channel; closures already posted still run. Objects adopted by the channel
  // are destroyed on the JS thread after the last of them.
  void close();
  // Keep a JS-thread object (e.g. a callback reference) alive until the channel closes.
  template <typename T>
  T* adopt(std::unique_ptr<T> object) {
    T* raw = object.get();
    adopted_.push_back(std::shared_ptr<void>(std::move(object)));
    return raw;
  }

 private:
  static void call(Napi::Env env, Napi::Function, std::nullptr_t*, JsTask* task);
  using Tsfn = Napi::TypedThreadSafeFunction<std::nullptr_t, JsTask, &JsChannel::call>;
  Tsfn tsfn_;
  bool closed_ = false;
  std::vector<std::shared_ptr<void>> adopted_;
};

// Run `work` on the engine; resolve with `to_js(env, result)` or reject with an MlxLabError.
// `on_channel` lets the caller post streaming events while the work runs.
template <typename Result>
Napi::Promise run_on_engine(Napi::Env env, std::shared_ptr<JsChannel> channel,
                            std::function<Result(JsChannel&)> work,
                            std::function<Napi::Value(Napi::Env, Result&)> to_js) {
  auto deferred = std::make_shared<Napi::Promise::Deferred>(Napi::Promise::Deferred::New(env));
  Engine::instance().submit([deferred, channel, work = std::move(work), to_js = std::move(to_js)] {
    try {
      auto result = std::make_shared<Result>(work(*channel));
      channel->post([deferred, result, to_js](Napi::Env env) {
        try {
          deferred->Resolve(to_js(env, *result));
        } catch (const Napi::Error& e) {
          deferred->Reject(e.Value());
        }
      });
    } catch (...) {
      auto failure = current_failure();
      channel->post([deferred, failure](Napi::Env env) {
        deferred->Reject(make_error(env, failure.code, failure.message));
      });
    }
    channel->close();
  });
  return deferred->Promise();
}

template <typename Result>
Napi::Promise run_on_engine(Napi::Env env, std::function<Result(JsChannel&)> work,
                            std::function<Napi::Value(Napi::Env, Result&)> to_js) {
  return run_on_engine<Result>(env, std::make_shared<JsChannel>(env), std::move(work),
                               std::move(to_js));
}

}  // namespace mlxlab::js
