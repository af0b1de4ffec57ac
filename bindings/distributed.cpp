// distributed: the group this process joined through MLX (native/distributed.h), for the
// TypeScript data-parallel loop and sweeps. Every call runs on the engine thread.
#include "distributed.h"

#include <napi.h>

#include "async.h"
#include "errors.h"

namespace mlxlab::js {
namespace {

Napi::Object group_to_js(Napi::Env env, const distributed::GroupInfo& g) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("rank", g.rank);
  o.Set("size", g.size);
  o.Set("backend", g.backend);
  return o;
}

// distributedInit(backend = "any") -> Promise<{ rank, size, backend }>
Napi::Value DistributedInit(const Napi::CallbackInfo& info) {
  std::string backend =
      info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "any";
  return run_on_engine<distributed::GroupInfo>(
      info.Env(), [backend](JsChannel&) { return distributed::init(backend); }, group_to_js);
}

// distributedAllSum(numbers[]) -> Promise<number[]>: element-wise sums over the ranks.
Napi::Value DistributedAllSum(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray())
    throw_error(env, codes::kArgument, "allSum needs an array of numbers");
  auto a = info[0].As<Napi::Array>();
  std::vector<double> values;
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value v = a.Get(i);
    if (!v.IsNumber())
      throw_error(env, codes::kArgument,
                  "allSum: element " + std::to_string(i) + " is not a number");
    values.push_back(v.As<Napi::Number>().DoubleValue());
  }
  return run_on_engine<std::vector<double>>(
      env, [values](JsChannel&) { return distributed::all_sum(values); },
      [](Napi::Env env, std::vector<double>& sums) -> Napi::Value {
        Napi::Array out = Napi::Array::New(env, sums.size());
        for (size_t i = 0; i < sums.size(); ++i) out.Set(i, sums[i]);
        return out;
      });
}

// distributedAllGather(text) -> Promise<string[]>: every rank's text, in rank order.
Napi::Value DistributedAllGather(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString())
    throw_error(env, codes::kArgument, "allGather needs a string");
  std::string mine = info[0].As<Napi::String>().Utf8Value();
  return run_on_engine<std::vector<std::string>>(
      env, [mine](JsChannel&) { return distributed::all_gather(mine); },
      [](Napi::Env env, std::vector<std::string>& texts) -> Napi::Value {
        Napi::Array out = Napi::Array::New(env, texts.size());
        for (size_t i = 0; i < texts.size(); ++i) out.Set(i, Napi::String::New(env, texts[i]));
        return out;
      });
}

// distributedBytesSent() -> Promise<number>: bytes sent by this rank's collectives so far.
Napi::Value DistributedBytesSent(const Napi::CallbackInfo& info) {
  return run_on_engine<double>(
      info.Env(), [](JsChannel&) { return distributed::bytes_sent(); },
      [](Napi::Env env, double& b) -> Napi::Value { return Napi::Number::New(env, b); });
}

}  // namespace

void InitDistributed(Napi::Env env, Napi::Object exports) {
  exports.Set("distributedInit", Napi::Function::New<DistributedInit>(env));
  exports.Set("distributedAllSum", Napi::Function::New<DistributedAllSum>(env));
  exports.Set("distributedAllGather", Napi::Function::New<DistributedAllGather>(env));
  exports.Set("distributedBytesSent", Napi::Function::New<DistributedBytesSent>(env));
}

}  // namespace mlxlab::js
