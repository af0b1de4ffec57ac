#include "model.h"

#include "args.h"
#include "async.h"
#include "compute.h"
#include "errors.h"
#include "instance.h"
#include "io/gguf.h"
#include "io/gguf_arch.h"
#include "io/safetensors.h"
#include "js_error.h"
#include "values.h"

namespace mlxlab::js {

namespace {

const char* finish_name(FinishReason r) {
  switch (r) {
    case FinishReason::kEos: return "eos";
    case FinishReason::kStop: return "stop";
    case FinishReason::kCancelled: return "cancelled";
    case FinishReason::kGrammar: return "grammar";
    default: return "length";
  }
}

// The compute mode in an options object ({ compute: "auto" | "native" | "float32" }).
ComputeMode compute_option(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || !info[i].IsObject()) return ComputeMode::kAuto;
  return to_compute_mode(info.Env(), get_string(info[i].As<Napi::Object>(), "compute", "auto"));
}

Napi::Object report_to_js(Napi::Env env, const ComputeReport& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("mode", r.mode);
  o.Set("reason", r.reason);
  o.Set("extraBytes", static_cast<double>(r.extra_bytes));
  o.Set("weights", r.layers);
  return o;
}

// Drop a model on the engine thread, after the jobs already queued for it.
void release_on_engine(std::shared_ptr<Model> model) {
  if (model) Engine::instance().submit([m = std::move(model)]() mutable { m.reset(); });
}

// A sequence's logprobs (Float32Array, one per token) and its top-k alternatives (topIds
// Int32Array and topLogprobs Float32Array, k per token), as generate() recorded them.
void set_logprobs(Napi::Env env, Napi::Object& out, const SequenceResult& s) {
  auto logprobs = Napi::Float32Array::New(env, s.logprobs.size());
  std::copy(s.logprobs.begin(), s.logprobs.end(), logprobs.Data());
  auto ids = Napi::Int32Array::New(env, s.top_ids.size());
  std::copy(s.top_ids.begin(), s.top_ids.end(), ids.Data());
  auto values = Napi::Float32Array::New(env, s.top_logprobs.size());
  std::copy(s.top_logprobs.begin(), s.top_logprobs.end(), values.Data());
  out.Set("logprobs", logprobs);
  out.Set("topIds", ids);
  out.Set("topLogprobs", values);
}
}  // namespace

void NativeModel::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = DefineClass(
      env, "NativeModel",
      {StaticMethod<&NativeModel::Load>("load"), StaticMethod<&NativeModel::LoadGguf>("loadGguf"),
       InstanceMethod<&NativeModel::Forward>("forward"),
       InstanceMethod<&NativeModel::Generate>("generate"),
       InstanceMethod<&NativeModel::Info>("info"),
       InstanceMethod<&NativeModel::SetCompute>("setCompute"),
       InstanceMethod<&NativeModel::Dispose>("dispose"),
       InstanceAccessor<&NativeModel::Disposed>("disposed")});
  instance(env).native_model = Napi::Persistent(ctor);
  exports.Set("NativeModel", ctor);
}

Napi::Object NativeModel::Wrap(Napi::Env env, std::shared_ptr<Model> model,
                               const ComputeReport& compute) {
  Napi::Object obj = instance(env).native_model.New({});
  NativeModel* self = Unwrap(obj);
  self->model_ = std::move(model);
  self->compute_ = compute;
  return obj;
}

NativeModel::NativeModel(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeModel>(info) {}

NativeModel::~NativeModel() { release(); }  // the finalizer: a safety net behind dispose()

void NativeModel::release() { release_on_engine(std::move(model_)); }

std::shared_ptr<Model> NativeModel::get(Napi::Env env) const {
  if (!model_) throw_error(env, codes::kDisposed, "this model has been disposed");
  return model_;
}

std::shared_ptr<Model> NativeModel::FromArg(const Napi::CallbackInfo& info, size_t i) {
  Napi::Env env = info.Env();
  if (info.Length() <= i || !is_instance_of(info[i], instance(env).native_model)) {
    bad_argument(env, "model must be a NativeModel");
  }
  return Unwrap(info[i].As<Napi::Object>())->get(env);
}

// load(config, files[], { compute }) -> Promise<NativeModel>
Napi::Value NativeModel::Load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ModelConfig config = to_model_config(object_arg(info, 0, "config"));
  auto files = string_array_arg(info, 1, "files");
  if (files.empty())
    throw_error(env, codes::kArgument, "files must name at least one safetensors file");
  ComputeMode mode = compute_option(info, 2);
  struct Loaded {
    std::shared_ptr<Model> model;
    ComputeReport compute;
  };
  return run_on_engine<Loaded>(
      env,
      [config, files, mode](JsChannel&) {
        Loaded out{Model::create(config, load_safetensors_files(files)), {}};
        out.compute = apply_compute_mode(*out.model, mode);
        return out;
      },
      [](Napi::Env env, Loaded& loaded) -> Napi::Value {
        return Wrap(env, loaded.model, loaded.compute);
      });
}

// loadGguf(path, { compute }) -> Promise<{ model, config, metadata }>
Napi::Value NativeModel::LoadGguf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = string_arg(info, 0, "path");
  ComputeMode mode = compute_option(info, 1);
  struct Loaded {
    std::shared_ptr<Model> model;
    std::map<std::string, GgufValue> metadata;
    ComputeReport compute;
  };
  return run_on_engine<Loaded>(
      env,
      [path, mode](JsChannel&) {
        GgufModel gguf = load_gguf_model(path);
        ModelConfig config = config_from_gguf(gguf);
        Loaded out{nullptr, std::move(gguf.metadata), {}};
        out.model = create_gguf_model(config, std::move(gguf));
        out.compute = apply_compute_mode(*out.model, mode);
        return out;
      },
      [](Napi::Env env, Loaded& loaded) -> Napi::Value {
        Napi::Object out = Napi::Object::New(env);
        out.Set("config", config_to_js(env, loaded.model->config()));
        out.Set("metadata", gguf_metadata_to_js(env, loaded.metadata));
        out.Set("model", Wrap(env, loaded.model, loaded.compute));
        return out;
      });
}

// forward(tokens: Int32Array, batch: number) -> Promise<{ logits: Float32Array, shape }>
Napi::Value NativeModel::Forward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto model = get(env);
  auto tokens = to_tokens(info[0], "tokens");
  int batch = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : 1;
  if (batch < 1 || tokens.empty() || tokens.size() % batch != 0) {
    throw_error(env, codes::kArgument,
                "tokens must be a non-empty [batch, length] array (length = tokens / batch)");
  }
  int length = static_cast<int>(tokens.size()) / batch;
  rethrow_as_js(env, [&] { model->check_token_ids(tokens.data(), tokens.size(), "tokens"); });
  return run_on_engine<mx::array>(
      env,
      [model, tokens, batch, length](JsChannel&) {
        mx::array input(tokens.data(), {batch, length}, mx::int32);
        return host_ready(model->forward(input));
      },
      [](Napi::Env env, mx::array& logits) -> Napi::Value { return array_to_js(env, logits); });
}

// generate(request, control, onToken?) -> Promise<{ sequences, stats }>
Napi::Value NativeModel::Generate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto model = get(env);
  GenerateRequest request = to_generate_request(object_arg(info, 0, "request"));
  NativeControl* control = NativeControl::Unwrap(info[1]);
  if (control->stop_flags()->size() < request.prompts.size()) {
    throw_error(env, codes::kArgument, "the control was made for fewer sequences than prompts");
  }
  auto channel = std::make_shared<JsChannel>(env);
  Napi::FunctionReference* on_token = nullptr;
  if (info.Length() > 2 && info[2].IsFunction()) {
    on_token = channel->adopt(
        std::make_unique<Napi::FunctionReference>(Napi::Persistent(info[2].As<Napi::Function>())));
  }
  auto cancel = control->cancel_flag();
  auto stops = control->stop_flags();
  return run_on_engine<GenerateResult>(
      env, channel,
      [model, request, cancel, stops, on_token](JsChannel& channel) {
        TokenSink sink = [&channel, on_token](int seq, int token) {
          if (on_token == nullptr) return;
          channel.post([on_token, seq, token](Napi::Env env) {
            // The TS layer never throws here; a throwing callback must not take Node down.
            try {
              on_token->Call({Napi::Number::New(env, seq), Napi::Number::New(env, token)});
            } catch (const Napi::Error&) {
            }
          });
        };
        return generate(*model, request, sink, *stops, *cancel);
      },
      [logprobs = request.logprobs](Napi::Env env, GenerateResult& result) -> Napi::Value {
        Napi::Object out = Napi::Object::New(env);
        Napi::Array seqs = Napi::Array::New(env, result.sequences.size());
        for (size_t i = 0; i < result.sequences.size(); ++i) {
          const auto& s = result.sequences[i];
          Napi::Object so = Napi::Object::New(env);
          Napi::Int32Array tokens = Napi::Int32Array::New(env, s.tokens.size());
          std::copy(s.tokens.begin(), s.tokens.end(), tokens.Data());
          so.Set("tokens", tokens);
          so.Set("finish", finish_name(s.finish));
          if (!s.grammar_error.empty()) so.Set("grammarError", s.grammar_error);
          if (logprobs >= 0) set_logprobs(env, so, s);
          seqs.Set(i, so);
        }
        out.Set("sequences", seqs);
        Napi::Object stats = Napi::Object::New(env);
        stats.Set("promptTokens", result.stats.prompt_tokens);
        stats.Set("sharedPrefixTokens", result.stats.shared_prefix_tokens);
        stats.Set("cacheTokens", result.stats.cache_tokens);
        stats.Set("reusedTokens", result.stats.reused_tokens);
        stats.Set("prefilledTokens", result.stats.prefilled_tokens);
        stats.Set("promptSeconds", result.stats.prompt_seconds);
        stats.Set("generatedTokens", result.stats.generated_tokens);
        stats.Set("generateSeconds", result.stats.generate_seconds);
        stats.Set("peakMemory", static_cast<double>(result.stats.peak_memory));
        out.Set("stats", stats);
        return out;
      });
}

// info() -> { config, parameterBytes }
Napi::Value NativeModel::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto model = get(env);
  Napi::Object out = Napi::Object::New(env);
  out.Set("config", config_to_js(env, model->config()));
  out.Set("parameterBytes", static_cast<double>(model->parameter_bytes()));
  out.Set("compute", report_to_js(env, compute_));
  return out;
}

// setCompute(mode) -> Promise<report>: switch the compute mode of a loaded model.
Napi::Value NativeModel::SetCompute(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto model = get(env);
  ComputeMode mode = ComputeMode::kAuto;
  if (info.Length() > 0 && info[0].IsString())
    mode = to_compute_mode(env, info[0].As<Napi::String>().Utf8Value());
  Napi::Reference<Napi::Object> self = Napi::Persistent(Value());
  auto holder = std::make_shared<JsChannel>(env);
  auto* ref = holder->adopt(std::make_unique<Napi::Reference<Napi::Object>>(std::move(self)));
  return run_on_engine<ComputeReport>(
      env, holder, [model, mode](JsChannel&) { return apply_compute_mode(*model, mode); },
      [ref](Napi::Env env, ComputeReport& report) -> Napi::Value {
        Unwrap(ref->Value())->compute_ = report;
        return report_to_js(env, report);
      });
}

Napi::Value NativeModel::Dispose(const Napi::CallbackInfo& info) {
  release();
  return info.Env().Undefined();
}

Napi::Value NativeModel::Disposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !model_);
}

void NativeControl::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = DefineClass(env, "NativeControl",
                                    {InstanceMethod<&NativeControl::Cancel>("cancel"),
                                     InstanceMethod<&NativeControl::Stop>("stop"),
                                     InstanceAccessor<&NativeControl::Cancelled>("cancelled")});
  instance(env).native_control = Napi::Persistent(ctor);
  exports.Set("NativeControl", ctor);
}

// new NativeControl(sequences = 1)
NativeControl::NativeControl(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<NativeControl>(info) {
  int n = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 1;
  constexpr int kMaxSequences = 1 << 20;  // far above any batch; keeps the flag vector small
  if (n < 1 || n > kMaxSequences) {
    throw_error(info.Env(), codes::kArgument,
                "a control needs 1 to " + std::to_string(kMaxSequences) + " sequences");
  }
  stops_ = std::make_shared<StopFlags>(static_cast<size_t>(n));
}

NativeControl* NativeControl::Unwrap(const Napi::Value& value) {
  if (!is_instance_of(value, instance(value.Env()).native_control)) {
    throw_error(value.Env(), codes::kArgument, "control must be a NativeControl");
  }
  return Napi::ObjectWrap<NativeControl>::Unwrap(value.As<Napi::Object>());
}

Napi::Value NativeControl::Cancel(const Napi::CallbackInfo& info) {
  cancel_->cancel();
  return info.Env().Undefined();
}

Napi::Value NativeControl::Stop(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber())
    throw_error(info.Env(), codes::kArgument, "stop(sequence) needs a number");
  stops_->stop(static_cast<size_t>(info[0].As<Napi::Number>().Int64Value()));
  return info.Env().Undefined();
}

Napi::Value NativeControl::Cancelled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), cancel_->cancelled());
}

}  // namespace mlxlab::js
