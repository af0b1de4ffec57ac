#include "js_error.h"

#include "errors.h"
#include "instance.h"

namespace mlxlab::js {

void set_error_class(const Napi::Function& ctor) {
  instance(ctor.Env()).error_class = Napi::Persistent(ctor);
}

Napi::Object make_error(Napi::Env env, const std::string& code, const std::string& message) {
  auto& ctor = instance(env).error_class;
  if (!ctor.IsEmpty()) {
    return ctor.New({Napi::String::New(env, code), Napi::String::New(env, message)});
  }
  Napi::Object err = Napi::Error::New(env, message).Value();
  err.Set("code", code);
  return err;
}

void throw_error(Napi::Env env, const std::string& code, const std::string& message) {
  throw Napi::Error(env, make_error(env, code, message));
}

Failure current_failure() {
  try {
    throw;
  } catch (const Error& e) {
    return {e.code(), e.what()};
  } catch (const std::bad_alloc&) {
    return {codes::kMlx, "out of memory"};
  } catch (const std::exception& e) {
    return {codes::kMlx, std::string("MLX: ") + e.what()};
  } catch (...) {
    return {codes::kInternal, "unknown native error"};
  }
}

}  // namespace mlxlab::js
