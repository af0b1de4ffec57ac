#include "async.h"

namespace mlxlab::js {

JsChannel::JsChannel(Napi::Env env) : tsfn_(Tsfn::New(env, "mlx-lab", 0, 1)) {}

JsChannel::~JsChannel() { close(); }

void JsChannel::post(JsTask task) {
  if (closed_) return;
  tsfn_.NonBlockingCall(new JsTask(std::move(task)));
}

void JsChannel::close() {
  if (closed_) return;
  if (!adopted_.empty()) {
    tsfn_.NonBlockingCall(
        new JsTask([objects = std::move(adopted_)](Napi::Env) mutable { objects.clear(); }));
  }
  closed_ = true;
  tsfn_.Release();
}

void JsChannel::call(Napi::Env env, Napi::Function, std::nullptr_t*, JsTask* task) {
  std::unique_ptr<JsTask> owned(task);
  if (env != nullptr) (*owned)(env);  // env is null when the environment is shutting down
}

}  // namespace mlxlab::js
