// NativePromptCache: a prompt cache (native/prompt_cache.h) owned by a JS handle. Its arrays are
// only touched on the engine thread: copies, saves, loads and the generations that read or
// extend it are engine jobs, and dispose() frees it there after the jobs queued before.
#pragma once

#include <napi.h>

#include <memory>

#include "generate.h"
#include "prompt_cache.h"

namespace mlxlab::js {

class NativePromptCache : public Napi::ObjectWrap<NativePromptCache> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  static Napi::Object Wrap(Napi::Env env, std::shared_ptr<PromptCache> cache);
  // new NativePromptCache(): an empty cache.
  explicit NativePromptCache(const Napi::CallbackInfo& info);
  ~NativePromptCache() override;

  // The cache, or an E_DISPOSED error after dispose().
  std::shared_ptr<PromptCache> get(Napi::Env env) const;

 private:
  static Napi::Value Load(const Napi::CallbackInfo& info);
  Napi::Value Save(const Napi::CallbackInfo& info);
  Napi::Value Copy(const Napi::CallbackInfo& info);
  Napi::Value Tokens(const Napi::CallbackInfo& info);
  Napi::Value Length(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value Disposed(const Napi::CallbackInfo& info);

  void release();

  std::shared_ptr<PromptCache> cache_;
};

// The request's promptCache (a NativePromptCache) and keepCache fields.
void read_prompt_cache(const Napi::Object& obj, GenerateRequest& request);

}  // namespace mlxlab::js
