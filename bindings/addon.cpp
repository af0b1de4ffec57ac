// The addon's entry: registers the classes and the few free functions.
#include <napi.h>

#include <chrono>

#include "async.h"
#include "blas.h"
#include "cache.h"
#include "js_error.h"
#include "mlx/mlx.h"
#include "model.h"
#include "trainer.h"

namespace mlxlab::js {
namespace {

namespace mx = mlx::core;

// setErrorClass(MlxLabError): the class native errors are made of.
Napi::Value SetErrorClass(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsFunction())
    throw Napi::TypeError::New(info.Env(), "setErrorClass needs a class");
  set_error_class(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

// runtime() -> { mlxVersion, device, metal, cuda, blas: { library, name, corename, config, threads
// } }
Napi::Value Runtime(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("mlxVersion", mx::version());
  o.Set("metal", mx::metal::is_available());
  o.Set("cuda", mx::cu::is_available());
  o.Set("device", mx::default_device() == mx::Device::gpu ? "gpu" : "cpu");
  BlasInfo b = blas_info();
  Napi::Object blas = Napi::Object::New(env);
  blas.Set("library", b.library);
  blas.Set("name", b.name);
  blas.Set("corename", b.corename);
  blas.Set("config", b.config);
  blas.Set("threads", b.threads);
  o.Set("blas", blas);
  return o;
}

// memory() -> { active, peak, cache } in bytes (MLX allocator).
Napi::Value Memory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("active", static_cast<double>(mx::get_active_memory()));
  o.Set("peak", static_cast<double>(mx::get_peak_memory()));
  o.Set("cache", static_cast<double>(mx::get_cache_memory()));
  return o;
}

// matmulBenchmark(n, iterations, dtype) -> Promise<{ gflops, seconds }>: BLAS health check.
Napi::Value MatmulBenchmark(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int n = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 1024;
  int iters =
      info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : 10;
  std::string dtype =
      info.Length() > 2 && info[2].IsString() ? info[2].As<Napi::String>().Utf8Value() : "float32";
  if (n < 1 || iters < 1) throw_error(env, "E_ARGUMENT", "n and iterations must be >= 1");
  struct Timing {
    double seconds;
    double gflops;
  };
  return run_on_engine<Timing>(
      env,
      [n, iters, dtype](JsChannel&) {
        auto t = dtype == "float16"    ? mx::float16
                 : dtype == "bfloat16" ? mx::bfloat16
                                       : mx::float32;
        auto a = mx::astype(mx::random::normal({n, n}), t);
        auto b = mx::astype(mx::random::normal({n, n}), t);
        mx::eval(a, b);
        mx::eval(mx::matmul(a, b));  // warm-up
        auto start = std::chrono::steady_clock::now();
        for (int i = 0; i < iters; ++i) mx::eval(mx::matmul(a, b));
        double s =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / iters;
        return Timing{s, 2.0 * n * n * n / s / 1e9};
      },
      [](Napi::Env env, Timing& t) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("seconds", t.seconds);
        o.Set("gflops", t.gflops);
        return o;
      });
}

// sleepOnEngine(ms) -> Promise: occupies the engine thread (tests of the event loop).
Napi::Value SleepOnEngine(const Napi::CallbackInfo& info) {
  int ms = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 0;
  return run_on_engine<int>(
      info.Env(),
      [ms](JsChannel&) {
        std::this_thread::sleep_for(std::chrono::milliseconds(ms));
        return ms;
      },
      [](Napi::Env env, int& v) -> Napi::Value { return Napi::Number::New(env, v); });
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("setErrorClass", Napi::Function::New<SetErrorClass>(env));
  exports.Set("runtime", Napi::Function::New<Runtime>(env));
  exports.Set("memory", Napi::Function::New<Memory>(env));
  exports.Set("matmulBenchmark", Napi::Function::New<MatmulBenchmark>(env));
  exports.Set("sleepOnEngine", Napi::Function::New<SleepOnEngine>(env));
  // At environment teardown, let the engine finish what dispose() and finalizers queued
  // (freeing weights, detaching adapters) before the process runs MLX's static destructors:
  // freeing memory while they run corrupts the heap.
  env.AddCleanupHook([] { Engine::instance().wait_idle(std::chrono::seconds(30)); });
  NativeModel::Init(env, exports);
  NativeControl::Init(env, exports);
  NativeTrainer::Init(env, exports);
  NativePromptCache::Init(env, exports);
  void InitFuse(Napi::Env, Napi::Object);
  InitFuse(env, exports);  // bindings/fuse.cpp
  void InitDistributed(Napi::Env, Napi::Object);
  InitDistributed(env, exports);  // bindings/distributed.cpp
  void InitGrammar(Napi::Env, Napi::Object);
  InitGrammar(env, exports);  // bindings/grammar.cpp
  return exports;
}

}  // namespace mlxlab::js

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  return mlxlab::js::Init(env, exports);
}

NODE_API_MODULE(mlx_lab, InitAddon)
