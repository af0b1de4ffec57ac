// The one place where native failures become JS errors: an instance of the MlxLabError class
// that src/errors.ts registers at load time, carrying a stable `code` and the message.
#pragma once

#include <napi.h>

#include <string>

namespace mlxlab::js {

// Remember the JS error class for this environment (called once by src/native.ts).
void set_error_class(const Napi::Function& ctor);

// A JS MlxLabError(code, message) (a plain Error with .code when no class is registered).
Napi::Object make_error(Napi::Env env, const std::string& code, const std::string& message);

// Throw it as a JS exception from a synchronous call.
[[noreturn]] void throw_error(Napi::Env env, const std::string& code, const std::string& message);

// What a failed job reports: the code and message of whatever it threw.
struct Failure {
  std::string code;
  std::string message;
};

// Turn the exception in flight into a Failure (mlxlab::Error keeps its code; MLX's own
// std::exceptions become E_MLX).
Failure current_failure();

// Run a synchronous native step on the JS thread: whatever it throws becomes a JS MlxLabError
// (as current_failure maps it), never a crash; JS errors pass through.
template <typename Step>
auto rethrow_as_js(Napi::Env env, Step&& step) -> decltype(step()) {
  try {
    return step();
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    Failure failure = current_failure();
    throw_error(env, failure.code, failure.message);
  }
}

}  // namespace mlxlab::js
