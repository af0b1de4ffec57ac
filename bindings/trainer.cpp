#include "trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

#include "args.h"
#include "async.h"
#include "errors.h"
#include "instance.h"
#include "model.h"
#include "values.h"

namespace mlxlab::js {

namespace {

Napi::Object optional_object(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return Napi::Object::New(o.Env());
  if (!v.IsObject() || v.IsArray()) bad_argument(o.Env(), std::string(key) + " must be an object");
  return v.As<Napi::Object>();
}

std::vector<double> number_list(const Napi::Value& v, const std::string& what) {
  if (!v.IsArray()) bad_argument(v.Env(), what + " must be an array of numbers");
  auto a = v.As<Napi::Array>();
  std::vector<double> out;
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value x = a.Get(i);
    if (!x.IsNumber()) bad_argument(v.Env(), what + "[" + std::to_string(i) + "] must be a number");
    out.push_back(x.As<Napi::Number>().DoubleValue());
  }
  return out;
}

LoraConfig to_lora_config(const Napi::Object& o) {
  LoraConfig c;
  c.rank = get_int(o, "rank", c.rank);
  c.scale = static_cast<float>(get_number(o, "scale", c.scale));
  c.dropout = static_cast<float>(get_number(o, "dropout", c.dropout));
  c.num_layers = get_int(o, "numLayers", c.num_layers);
  c.fine_tune_type = get_string(o, "fineTuneType", c.fine_tune_type);
  Napi::Value keys = o.Get("keys");
  if (!keys.IsUndefined() && !keys.IsNull()) c.keys = to_strings(keys, "lora.keys");
  return c;
}

OptimizerConfig to_optimizer_config(const Napi::Object& o) {
  OptimizerConfig c;
  c.name = get_string(o, "name", c.name);
  c.learning_rate = get_number(o, "learningRate", c.learning_rate);
  Napi::Value betas = o.Get("betas");
  if (!betas.IsUndefined() && !betas.IsNull()) {
    auto b = number_list(betas, "optimizer.betas");
    if (b.size() != 2) bad_argument(o.Env(), "optimizer.betas must be [beta1, beta2]");
    c.beta1 = b[0];
    c.beta2 = b[1];
  }
  c.eps = get_number(o, "eps", c.eps);
  c.bias_correction = get_bool(o, "biasCorrection", c.bias_correction);
  Napi::Value wd = o.Get("weightDecay");
  if (!wd.IsUndefined() && !wd.IsNull()) c.weight_decay = get_number(o, "weightDecay", 0);
  c.momentum = get_number(o, "momentum", c.momentum);
  c.dampening = get_number(o, "dampening", c.dampening);
  c.nesterov = get_bool(o, "nesterov", c.nesterov);
  Napi::Value s = o.Get("schedule");
  if (!s.IsUndefined() && !s.IsNull()) {
    if (!s.IsObject()) bad_argument(o.Env(), "optimizer.schedule must be an object");
    auto so = s.As<Napi::Object>();
    ScheduleConfig sc;
    sc.name = get_string(so, "name", "");
    sc.arguments = number_list(so.Get("arguments"), "optimizer.schedule.arguments");
    sc.warmup = get_int(so, "warmup", 0);
    sc.warmup_init = get_number(so, "warmupInit", 0.0);
    c.schedule = sc;
  }
  return c;
}

TrainConfig to_train_config(const Napi::Object& o) {
  TrainConfig c;
  c.lora = to_lora_config(optional_object(o, "lora"));
  c.optimizer = to_optimizer_config(optional_object(o, "optimizer"));
  double seed = get_number(o, "seed", 0);
  if (!(seed >= 0) || seed != std::floor(seed) || seed > 9007199254740991.0) {
    bad_argument(o.Env(), "seed must be a non-negative integer");
  }
  c.seed = static_cast<uint64_t>(seed);
  c.grad_accumulation_steps = get_int(o, "gradAccumulationSteps", 1);
  c.grad_checkpoint = get_bool(o, "gradCheckpoint", false);
  c.compile = get_bool(o, "compile", false);
  if (o.Has("sharedPrefix") && !o.Get("sharedPrefix").IsUndefined()) {
    c.shared_prefix = to_tokens(o.Get("sharedPrefix"), "sharedPrefix");
  }
  c.data_parallel = get_bool(o, "dataParallel", false);
  c.local_shards = get_int(o, "localShards", 1);
  c.inference = get_bool(o, "inference", false);
  return c;
}

// A batch as host vectors (arrays are made on the engine thread).
struct HostBatch {
  std::vector<int> tokens;
  int batch = 0;
  std::vector<int> lengths;
  std::vector<int> offsets;
};

HostBatch to_host_batch(const Napi::Value& v, const std::string& what) {
  Napi::Env env = v.Env();
  if (!v.IsObject()) bad_argument(env, what + " must be { tokens, batch, lengths, offsets? }");
  auto o = v.As<Napi::Object>();
  HostBatch b;
  b.tokens = to_tokens(o.Get("tokens"), (what + ".tokens").c_str());
  b.batch = get_int(o, "batch", 1);
  if (b.batch < 1) bad_argument(env, what + ".batch must be >= 1");
  if (b.tokens.empty() || b.tokens.size() % b.batch != 0) {
    bad_argument(env, what + ".tokens must hold batch * length token ids");
  }
  if (b.tokens.size() / b.batch < 2) bad_argument(env, what + ": rows need at least 2 tokens");
  b.lengths = to_tokens(o.Get("lengths"), (what + ".lengths").c_str());
  if (b.lengths.size() != static_cast<size_t>(b.batch)) {
    bad_argument(env,
                 what + ".lengths must have one entry per row (" + std::to_string(b.batch) + ")");
  }
  Napi::Value offsets = o.Get("offsets");
  if (offsets.IsUndefined() || offsets.IsNull()) {
    b.offsets.assign(b.batch, 0);
  } else {
    b.offsets = to_tokens(offsets, (what + ".offsets").c_str());
    if (b.offsets.size() != static_cast<size_t>(b.batch)) {
      bad_argument(env,
                   what + ".offsets must have one entry per row (" + std::to_string(b.batch) + ")");
    }
  }
  return b;
}

Batch to_batch(const HostBatch& h) {
  int L = static_cast<int>(h.tokens.size()) / h.batch;
  std::vector<int> lengths(2 * h.batch);
  for (int r = 0; r < h.batch; ++r) {
    lengths[2 * r] = h.offsets[r];
    lengths[2 * r + 1] = h.lengths[r];
  }
  return {mx::array(h.tokens.data(), {h.batch, L}, mx::int32),
          mx::array(lengths.data(), {h.batch, 2}, mx::int32)};
}

Napi::Value undefined(Napi::Env env, int&) { return env.Undefined(); }

}  // namespace

NamedArrays host_named(const Weights& w) {
  NamedArrays out;
  for (const auto& [k, v] : w) out.emplace_back(k, host_ready(v));
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

Napi::Object named_to_js(Napi::Env env, const NamedArrays& arrays) {
  Napi::Object o = Napi::Object::New(env);
  for (const auto& [k, v] : arrays) o.Set(k, array_to_js(env, v));
  return o;
}

void NativeTrainer::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor =
      DefineClass(env, "NativeTrainer",
                  {StaticMethod<&NativeTrainer::Create>("create"),
                   InstanceMethod<&NativeTrainer::Step>("step"),
                   InstanceMethod<&NativeTrainer::Evaluate>("evaluate"),
                   InstanceMethod<&NativeTrainer::Gradients>("gradients"),
                   InstanceMethod<&NativeTrainer::GrpoStep>("grpoStep"),
                   InstanceMethod<&NativeTrainer::GrpoGradients>("grpoGradients"),
                   StaticMethod<&NativeTrainer::GrpoAdvantages>("grpoAdvantages"),
                   InstanceMethod<&NativeTrainer::PreferenceStep>("preferenceStep"),
                   InstanceMethod<&NativeTrainer::PreferenceGradients>("preferenceGradients"),
                   InstanceMethod<&NativeTrainer::PreferenceEvaluate>("preferenceEvaluate"),
                   InstanceMethod<&NativeTrainer::SaveAdapter>("saveAdapter"),
                   InstanceMethod<&NativeTrainer::LoadAdapter>("loadAdapter"),
                   InstanceMethod<&NativeTrainer::AdapterParameters>("adapterParameters"),
                   InstanceMethod<&NativeTrainer::SaveState>("saveState"),
                   InstanceMethod<&NativeTrainer::LoadState>("loadState"),
                   InstanceMethod<&NativeTrainer::SetLearningRate>("setLearningRate"),
                   InstanceMethod<&NativeTrainer::State>("state"),
                   InstanceMethod<&NativeTrainer::Info>("info"),
                   InstanceMethod<&NativeTrainer::Detach>("detach"),
                   InstanceMethod<&NativeTrainer::Dispose>("dispose"),
                   InstanceAccessor<&NativeTrainer::Disposed>("disposed")});
  instance(env).native_trainer = Napi::Persistent(ctor);
  exports.Set("NativeTrainer", ctor);
}

NativeTrainer::NativeTrainer(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<NativeTrainer>(info) {}

NativeTrainer::~NativeTrainer() { release(); }  // the finalizer: a safety net behind dispose()

void NativeTrainer::release() {
  // Destroy (and so detach) on the engine thread, after the jobs already queued.
  if (trainer_) Engine::instance().submit([t = std::move(trainer_)]() mutable { t.reset(); });
  trainer_.reset();
}

std::shared_ptr<Trainer> NativeTrainer::get(Napi::Env env) const {
  if (!trainer_) throw_error(env, codes::kDisposed, "this trainer has been disposed");
  return trainer_;
}

// create(model: NativeModel, options) -> Promise<NativeTrainer>
Napi::Value NativeTrainer::Create(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto model = NativeModel::FromArg(info, 0);
  TrainConfig config = info.Length() > 1 && !info[1].IsUndefined()
                           ? to_train_config(object_arg(info, 1, "options"))
                           : TrainConfig{};
  return run_on_engine<std::shared_ptr<Trainer>>(
      env, [model, config](JsChannel&) { return std::make_shared<Trainer>(model, config); },
      [](Napi::Env env, std::shared_ptr<Trainer>& trainer) -> Napi::Value {
        Napi::Object obj = instance(env).native_trainer.New({});
        auto* self = Unwrap(obj);
        self->trainer_ = trainer;
        for (const auto& s : trainer->adapter().slots()) {
          std::vector<int> shape(s.value->shape().begin(), s.value->shape().end());
          self->parameter_shapes_.emplace_back(s.name, shape);
          self->parameter_count_ += s.value->size();
        }
        self->optimizer_state_arrays_ = trainer->optimizer_state_arrays();
        return obj;
      });
}

// step(batch) -> Promise<{ loss, tokens, lr, nonFinite, updated, iteration, step }>
Napi::Value NativeTrainer::Step(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto trainer = get(env);
  auto batch = to_host_batch(info.Length() > 0 ? info[0] : env.Undefined(), "batch");
  return run_on_engine<StepResult>(
      env, [trainer, batch](JsChannel&) { return trainer->step(to_batch(batch)); },
      [](Napi::Env env, StepResult& r) -> Napi::Value {
        Napi::Object o = step_to_js(env, r);
        o.Set("prefixTokens", r.prefix_tokens);
        return o;
      });
}

Napi::Object step_to_js(Napi::Env env, const StepResult& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("loss", r.loss);
  o.Set("tokens", r.tokens);
  o.Set("lr", r.learning_rate);
  o.Set("nonFinite", r.non_finite);
  o.Set("updated", r.updated);
  o.Set("iteration", static_cast<double>(r.iteration));
  o.Set("step", static_cast<double>(r.step));
  return o;
}

// evaluate(batches[]) -> Promise<{ loss, tokens }>
Napi::Value NativeTrainer::Evaluate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto trainer = get(env);
  if (info.Length() < 1 || !info[0].IsArray())
    bad_argument(env, "batches must be an array of batches");
  auto arr = info[0].As<Napi::Array>();
  std::vector<HostBatch> batches;
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    batches.push_back(to_host_batch(arr.Get(i), "batches[" + std::to_string(i) + "]"));
  }
  return run_on_engine<EvalResult>(
      env,
      [trainer, batches](JsChannel&) {
        std::vector<Batch> bs;
        for (const auto& b : batches) bs.push_back(to_batch(b));
        return trainer->evaluate(bs);
      },
      [](Napi::Env env, EvalResult& r) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("loss", r.loss);
        o.Set("tokens", r.tokens);
        return o;
      });
}

// gradients(batch) -> Promise<{ loss, tokens, grads: Record<string, NativeArray> }>
Napi::Value NativeTrainer::Gradients(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto trainer = get(env);
  auto batch = to_host_batch(info.Length() > 0 ? info[0] : env.Undefined(), "batch");
  struct Out {
    double loss;
    int tokens;
    NamedArrays grads;
  };
  return run_on_engine<Out>(
      env,
      [trainer, batch](JsChannel&) {
        auto g = trainer->gradients(to_batch(batch));
        return Out{g.loss, g.tokens, host_named(g.grads)};
      },
      [](Napi::Env env, Out& r) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("loss", r.loss);
        o.Set("tokens", r.tokens);
        o.Set("grads", named_to_js(env, r.grads));
        return o;
      });
}

// saveAdapter(path) -> Promise<void>
Napi::Value NativeTrainer::SaveAdapter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto trainer = get(env);
  auto path = string_arg(info, 0, "path");
  return run_on_engine<int>(
      env,
      [trainer, path](JsChannel&) {
        trainer->save_adapter(path);
        return 0;
      },
      undefined);
}

// loadAdapter(path) -> Promise<void>
Napi::Value NativeTrainer::LoadAdapter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto trainer = get(env);
  auto path = string_arg(info, 0, "path");
  return run_on_engine<int>(
      env,
      [trainer, path](JsChannel&) {
        trainer->load_adapter(path);
        return 0;
      },
      undefined);
}

// adapterParameters() -> Promise<Record<string, NativeArray>>
Napi::Value NativeTrainer::AdapterParameters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto trainer = get(env);
  return run_on_engine<NamedArrays>(
      env, [trainer](JsChannel&) { return host_named(trainer->adapter().parameters()); },
      [](Napi::Env env, NamedArrays& arrays) -> Napi::Value { return named_to_js(env, arrays); });
}

// saveState(path, metadata?: Record<string, string>) -> Promise<void>
Napi::Value NativeTrainer::SaveState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto trainer = get(env);
  auto path = string_arg(info, 0, "path");
  std::unordered_map<std::string, std::string> metadata;
  if (info.Length() > 1 && !info[1].IsUndefined() && !info[1].IsNull()) {
    auto o = object_arg(info, 1, "metadata");
    Napi::Array keys = o.GetPropertyNames();
    for (uint32_t i = 0; i < keys.Length(); ++i) {
      std::string k = keys.Get(i).As<Napi::String>().Utf8Value();
      Napi::Value v = o.Get(k);
      if (!v.IsString()) bad_argument(env, "metadata." + k + " must be a string");
      metadata[k] = v.As<Napi::String>().Utf8Value();
    }
  }
  return run_on_engine<int>(
      env,
      [trainer, path, metadata](JsChannel&) {
        trainer->save_state(path, metadata);
        return 0;
      },
      undefined);
}

// loadState(path) -> Promise<{ metadata, iteration, step, lr }>
Napi::Value NativeTrainer::LoadState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto trainer = get(env);
  auto path = string_arg(info, 0, "path");
  struct Out {
    std::unordered_map<std::string, std::string> metadata;
    uint64_t iteration, step;
    double lr;
  };
  return run_on_engine<Out>(
      env,
      [trainer, path](JsChannel&) {
        auto meta = trainer->load_state(path);
        return Out{meta, trainer->iteration(), trainer->optimizer_step(), trainer->learning_rate()};
      },
      [](Napi::Env env, Out& r) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        Napi::Object meta = Napi::Object::New(env);
        for (const auto& [k, v] : r.metadata) meta.Set(k, v);
        o.Set("metadata", meta);
        o.Set("iteration", static_cast<double>(r.iteration));
        o.Set("step", static_cast<double>(r.step));
        o.Set("lr", r.lr);
        return o;
      });
}

// setLearningRate(lr) -> Promise<void>: a constant rate from now on (drops the schedule).
Napi::Value NativeTrainer::SetLearningRate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto trainer = get(env);
  if (info.Length() < 1 || !info[0].IsNumber())
    bad_argument(env, "setLearningRate(lr) needs a number");
  double lr = info[0].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(lr) || lr < 0) bad_argument(env, "learning rate must be a finite number >= 0");
  return run_on_engine<int>(
      env,
      [trainer, lr](JsChannel&) {
        trainer->set_learning_rate(lr);
        return 0;
      },
      undefined);
}

// state() -> Promise<{ iteration, step, lr, attached }>
Napi::Value NativeTrainer::State(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto trainer = get(env);
  struct Out {
    uint64_t iteration, step;
    double lr;
    bool attached;
  };
  return run_on_engine<Out>(
      env,
      [trainer](JsChannel&) {
        return Out{trainer->iteration(), trainer->optimizer_step(), trainer->learning_rate(),
                   trainer->attached()};
      },
      [](Napi::Env env, Out& r) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("iteration", static_cast<double>(r.iteration));
        o.Set("step", static_cast<double>(r.step));
        o.Set("lr", r.lr);
        o.Set("attached", r.attached);
        return o;
      });
}

// info() -> { parameters: { name, shape }[], trainableParameters }
Napi::Value NativeTrainer::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  get(env);
  Napi::Object o = Napi::Object::New(env);
  Napi::Array params = Napi::Array::New(env, parameter_shapes_.size());
  for (size_t i = 0; i < parameter_shapes_.size(); ++i) {
    Napi::Object p = Napi::Object::New(env);
    p.Set("name", parameter_shapes_[i].first);
    Napi::Array shape = Napi::Array::New(env, parameter_shapes_[i].second.size());
    for (size_t k = 0; k < parameter_shapes_[i].second.size(); ++k)
      shape.Set(k, parameter_shapes_[i].second[k]);
    p.Set("shape", shape);
    params.Set(i, p);
  }
  o.Set("parameters", params);
  o.Set("trainableParameters", static_cast<double>(parameter_count_));
  o.Set("optimizerStateArrays", static_cast<double>(optimizer_state_arrays_));
  return o;
}

// detach() -> Promise<void>: the model is its base self again; the trainer cannot train.
Napi::Value NativeTrainer::Detach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto trainer = get(env);
  return run_on_engine<int>(
      env,
      [trainer](JsChannel&) {
        trainer->detach();
        return 0;
      },
      undefined);
}

Napi::Value NativeTrainer::Dispose(const Napi::CallbackInfo& info) {
  release();
  return info.Env().Undefined();
}

Napi::Value NativeTrainer::Disposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !trainer_);
}

}  // namespace mlxlab::js
