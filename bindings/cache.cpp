#include "cache.h"

#include "args.h"
#include "async.h"
#include "errors.h"
#include "instance.h"
#include "js_error.h"
#include "model.h"

namespace mlxlab::js {

namespace {

// Drop a cache on the engine thread, after the jobs already queued for it.
void release_on_engine(std::shared_ptr<PromptCache> cache) {
  if (cache) Engine::instance().submit([c = std::move(cache)]() mutable { c.reset(); });
}

Napi::Value undefined(Napi::Env env, int&) { return env.Undefined(); }

// A Record<string, string> argument (E_ARGUMENT naming the key that is not a string).
std::map<std::string, std::string> string_record(const Napi::Object& o, const std::string& what) {
  std::map<std::string, std::string> out;
  Napi::Array keys = o.GetPropertyNames();
  for (uint32_t i = 0; i < keys.Length(); ++i) {
    std::string k = keys.Get(i).As<Napi::String>().Utf8Value();
    Napi::Value v = o.Get(k);
    if (!v.IsString()) bad_argument(o.Env(), what + "." + k + " must be a string");
    out[k] = v.As<Napi::String>().Utf8Value();
  }
  return out;
}

}  // namespace

void NativePromptCache::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = DefineClass(env, "NativePromptCache",
                                    {StaticMethod<&NativePromptCache::Load>("load"),
                                     InstanceMethod<&NativePromptCache::Save>("save"),
                                     InstanceMethod<&NativePromptCache::Copy>("copy"),
                                     InstanceMethod<&NativePromptCache::Tokens>("tokens"),
                                     InstanceAccessor<&NativePromptCache::Length>("length"),
                                     InstanceMethod<&NativePromptCache::Dispose>("dispose"),
                                     InstanceAccessor<&NativePromptCache::Disposed>("disposed")});
  instance(env).native_prompt_cache = Napi::Persistent(ctor);
  exports.Set("NativePromptCache", ctor);
}

NativePromptCache::NativePromptCache(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<NativePromptCache>(info), cache_(std::make_shared<PromptCache>()) {}

NativePromptCache::~NativePromptCache() { release(); }  // the finalizer: a safety net

Napi::Object NativePromptCache::Wrap(Napi::Env env, std::shared_ptr<PromptCache> cache) {
  Napi::Object obj = instance(env).native_prompt_cache.New({});
  NativePromptCache* self = Unwrap(obj);
  self->cache_ = std::move(cache);  // the constructor's empty one holds no arrays
  return obj;
}

void NativePromptCache::release() { release_on_engine(std::move(cache_)); }

std::shared_ptr<PromptCache> NativePromptCache::get(Napi::Env env) const {
  if (!cache_) throw_error(env, codes::kDisposed, "this prompt cache has been disposed");
  return cache_;
}

// load(model, path, tokens?) -> Promise<{ cache, metadata, tokensFromFile }>
Napi::Value NativePromptCache::Load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto model = NativeModel::FromArg(info, 0);
  std::string path = string_arg(info, 1, "path");
  std::optional<std::vector<int>> tokens;
  if (info.Length() > 2 && !info[2].IsUndefined() && !info[2].IsNull()) {
    tokens = to_tokens(info[2], "tokens");
  }
  struct Loaded {
    std::shared_ptr<PromptCache> cache;
    LoadedPromptCache info;
  };
  return run_on_engine<Loaded>(
      env,
      [model, path, tokens](JsChannel&) {
        Loaded out{std::make_shared<PromptCache>(), {}};
        out.info = load_prompt_cache(path, *model, *out.cache, tokens ? &*tokens : nullptr);
        return out;
      },
      [](Napi::Env env, Loaded& loaded) -> Napi::Value {
        Napi::Object out = Napi::Object::New(env);
        Napi::Object meta = Napi::Object::New(env);
        for (const auto& [k, v] : loaded.info.metadata) meta.Set(k, v);
        out.Set("metadata", meta);
        out.Set("tokensFromFile", loaded.info.tokens_from_file);
        out.Set("cache", Wrap(env, std::move(loaded.cache)));
        return out;
      });
}

// save(path, metadata?) -> Promise<void> (atomic; mlx-lm's prompt-cache format)
Napi::Value NativePromptCache::Save(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto cache = get(env);
  std::string path = string_arg(info, 0, "path");
  std::map<std::string, std::string> metadata;
  if (info.Length() > 1 && !info[1].IsUndefined() && !info[1].IsNull()) {
    metadata = string_record(object_arg(info, 1, "metadata"), "metadata");
  }
  return run_on_engine<int>(
      env,
      [cache, path, metadata](JsChannel&) {
        save_prompt_cache(path, *cache, metadata);
        return 0;
      },
      undefined);
}

// copy() -> NativePromptCache: filled on the engine thread, after the jobs queued before (so a
// generation already queued on this cache is part of the copy); the arrays are shared until
// either side writes.
Napi::Value NativePromptCache::Copy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto source = get(env);
  auto copy = std::make_shared<PromptCache>();
  Engine::instance().submit([source, copy] {
    try {
      copy->kv = source->kv;
      copy->model = source->model;
      copy->set_tokens(source->tokens());
    } catch (...) {
      copy->clear();  // an empty cache: the calls that use it prefill everything
    }
  });
  return Wrap(env, copy);
}

// tokens() -> Int32Array: the token ids the cache holds.
Napi::Value NativePromptCache::Tokens(const Napi::CallbackInfo& info) {
  auto tokens = get(info.Env())->tokens();
  auto out = Napi::Int32Array::New(info.Env(), tokens.size());
  std::copy(tokens.begin(), tokens.end(), out.Data());
  return out;
}

Napi::Value NativePromptCache::Length(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(get(info.Env())->size()));
}

Napi::Value NativePromptCache::Dispose(const Napi::CallbackInfo& info) {
  release();
  return info.Env().Undefined();
}

Napi::Value NativePromptCache::Disposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !cache_);
}

void read_prompt_cache(const Napi::Object& o, GenerateRequest& r) {
  Napi::Env env = o.Env();
  Napi::Value v = o.Get("promptCache");
  if (!v.IsUndefined() && !v.IsNull()) {
    if (!is_instance_of(v, instance(env).native_prompt_cache)) {
      bad_argument(env, "promptCache must be a NativePromptCache");
    }
    r.cache = Napi::ObjectWrap<NativePromptCache>::Unwrap(v.As<Napi::Object>())->get(env);
  }
  r.keep_cache = get_bool(o, "keepCache", false);
  if (r.keep_cache && !r.cache) bad_argument(env, "keepCache needs a promptCache");
  if (r.keep_cache && r.prompts.size() != 1) {
    bad_argument(env, "keepCache takes one prompt, got " + std::to_string(r.prompts.size()));
  }
}

}  // namespace mlxlab::js
