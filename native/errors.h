// One error type for everything native: a stable code plus a message that names the file,
// key or argument at fault. The bindings turn it into a JS MlxLabError with the same code.
#pragma once

#include <stdexcept>
#include <string>

namespace mlxlab {

class Error : public std::runtime_error {
 public:
  Error(std::string code, const std::string& message)
      : std::runtime_error(message), code_(std::move(code)) {}
  const std::string& code() const { return code_; }

 private:
  std::string code_;
};

// Error codes shared with src/errors.ts.
namespace codes {
inline constexpr const char* kModelLoad = "E_MODEL_LOAD";     // files missing or unreadable
inline constexpr const char* kConfig = "E_CONFIG";            // bad or unsupported config
inline constexpr const char* kWeights = "E_WEIGHTS";          // missing / mis-shaped weight
inline constexpr const char* kGguf = "E_GGUF";                // unsupported GGUF content
inline constexpr const char* kArgument = "E_ARGUMENT";        // bad call arguments
inline constexpr const char* kDisposed = "E_DISPOSED";        // handle used after dispose()
inline constexpr const char* kCancelled = "E_ABORTED";        // cancelled through a signal
inline constexpr const char* kMlx = "E_MLX";                  // an error raised inside MLX
inline constexpr const char* kTrain = "E_TRAIN";              // a training step failed
inline constexpr const char* kDistributed = "E_DISTRIBUTED";  // a distributed group failed
inline constexpr const char* kInternal = "E_INTERNAL";        // anything else
}  // namespace codes

[[noreturn]] inline void fail(const char* code, const std::string& message) {
  throw Error(code, message);
}

}  // namespace mlxlab
