// One error type for everything native: a stable code plus a message that names the file,
// key or argument at fault. The bindings turn it into a JS MlxLabError with the same code.
#pragma once

#include <cerrno>
#include <cstring>
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
inline constexpr const char* kModelLoad = "E_MODEL_LOAD";      // files missing or unreadable
inline constexpr const char* kConfig = "E_CONFIG";             // bad or unsupported config
inline constexpr const char* kWeights = "E_WEIGHTS";           // missing / mis-shaped weight
inline constexpr const char* kGguf = "E_GGUF";                 // unsupported GGUF content
inline constexpr const char* kArgument = "E_ARGUMENT";         // bad call arguments
inline constexpr const char* kDisposed = "E_DISPOSED";         // handle used after dispose()
inline constexpr const char* kCancelled = "E_ABORTED";         // cancelled through a signal
inline constexpr const char* kMlx = "E_MLX";                   // an error raised inside MLX
inline constexpr const char* kTrain = "E_TRAIN";               // a training step failed
inline constexpr const char* kDistributed = "E_DISTRIBUTED";   // a distributed group failed
inline constexpr const char* kGrammar = "E_GRAMMAR";           // invalid grammar or no engine
inline constexpr const char* kPromptCache = "E_PROMPT_CACHE";  // bad or misfit cache file
inline constexpr const char* kInternal = "E_INTERNAL";         // anything else
// An I/O failure; the message ends with "(ENOSPC)" etc. and src/errors.ts (ioCodeOf, the one
// errno mapping) turns it into E_NO_SPACE, E_READ_ONLY, ... when the error reaches JS.
inline constexpr const char* kIo = "E_IO";
}  // namespace codes

[[noreturn]] inline void fail(const char* code, const std::string& message) {
  throw Error(code, message);
}

// The symbolic name of an errno value, for the "(ENOSPC)" suffix of codes::kIo messages.
inline const char* errno_name(int e) {
  switch (e) {
    case ENOSPC: return "ENOSPC";
#ifdef EDQUOT
    case EDQUOT: return "EDQUOT";
#endif
    case EFBIG: return "EFBIG";
    case EROFS: return "EROFS";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case EEXIST: return "EEXIST";
    case EISDIR: return "EISDIR";
    case ENOENT: return "ENOENT";
    case ENOTDIR: return "ENOTDIR";
    case EIO: return "EIO";
    default: return "EIO";
  }
}

// Fail with codes::kIo: "<what>: <strerror> (<ENAME>)".
[[noreturn]] inline void fail_io(const std::string& what, int e) {
  throw Error(codes::kIo, what + ": " + std::strerror(e) + " (" + errno_name(e) + ")");
}

}  // namespace mlxlab
