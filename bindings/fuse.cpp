// Fusing adapters and converting models (native/fuse.h): the weights are made and the shards
// written on the engine thread; config.json, the index and the tokenizer files are the TS
// layer's (src/convert/fuse.ts, src/convert/convert.ts).
#include "fuse.h"

#include <napi.h>

#include <cmath>

#include "args.h"
#include "async.h"
#include "errors.h"
#include "io/gguf.h"
#include "js_error.h"
#include "model.h"
#include "values.h"

namespace mlxlab::js {

namespace {

std::optional<int> optional_int(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return std::nullopt;
  return get_int(o, key, 0);
}

WeightOptions to_weight_options(const Napi::Object& o) {
  WeightOptions w;
  w.dequantize = get_bool(o, "dequantize", false);
  w.quantize = get_bool(o, "quantize", false);
  w.bits = optional_int(o, "bits");
  w.group_size = optional_int(o, "groupSize");
  std::string dtype = get_string(o, "dtype", "");
  if (dtype == "float16") {
    w.dtype = mx::float16;
  } else if (dtype == "bfloat16") {
    w.dtype = mx::bfloat16;
  } else if (dtype == "float32") {
    w.dtype = mx::float32;
  } else if (!dtype.empty()) {
    bad_argument(o.Env(), "dtype must be float16, bfloat16 or float32, got \"" + dtype + "\"");
  }
  rethrow_as_js(o.Env(), [&] { check_quant_choice(w.bits, w.group_size); });
  return w;
}

uint64_t max_shard_bytes(const Napi::Object& o) {
  double v = get_number(o, "maxShardBytes", static_cast<double>(kMaxShardBytes));
  if (!(v >= 1) || v != std::floor(v))
    bad_argument(o.Env(), "maxShardBytes must be a positive integer");
  return static_cast<uint64_t>(v);
}

LoraConfig to_lora(const Napi::Object& o) {
  LoraConfig c;
  c.rank = get_int(o, "rank", c.rank);
  c.scale = static_cast<float>(get_number(o, "scale", c.scale));
  c.num_layers = get_int(o, "numLayers", c.num_layers);
  c.fine_tune_type = get_string(o, "fineTuneType", c.fine_tune_type);
  Napi::Value keys = o.Get("keys");
  if (!keys.IsUndefined() && !keys.IsNull()) c.keys = to_strings(keys, "lora.keys");
  return c;
}

// What comes back to JS: everything but the weights themselves.
struct Saved {
  SavedShards shards;
  std::optional<QuantConfig> quantization;
  int fused = 0, requantized = 0, dequantized = 0, quantized = 0, kept = 0;
};

Saved save(const ModelWeights& w, const std::string& dir, uint64_t max_shard,
           const FuseProgressFn& progress) {
  Saved s;
  s.shards = save_model_shards(dir, w, max_shard, progress);
  s.quantization = w.quantization;
  s.fused = w.fused;
  s.requantized = w.requantized;
  s.dequantized = w.dequantized;
  s.quantized = w.quantized;
  s.kept = w.kept;
  return s;
}

Napi::Object spec_to_js(Napi::Env env, const QuantSpec& s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("group_size", s.group_size);
  o.Set("bits", s.bits);
  o.Set("mode", s.mode);
  return o;
}

Napi::Value saved_to_js(Napi::Env env, Saved& s) {
  Napi::Object o = Napi::Object::New(env);
  Napi::Array files = Napi::Array::New(env, s.shards.files.size());
  for (size_t i = 0; i < s.shards.files.size(); ++i) files.Set(i, s.shards.files[i]);
  o.Set("files", files);
  Napi::Object map = Napi::Object::New(env);
  for (const auto& [name, file] : s.shards.weight_map) map.Set(name, file);
  o.Set("weightMap", map);
  o.Set("totalSize", static_cast<double>(s.shards.total_size));
  o.Set("totalParameters", static_cast<double>(s.shards.total_parameters));
  if (s.quantization) {
    Napi::Object q = Napi::Object::New(env);
    if (s.quantization->base) q.Set("base", spec_to_js(env, *s.quantization->base));
    Napi::Object ov = Napi::Object::New(env);
    for (const auto& [path, spec] : s.quantization->overrides) {
      if (spec) {
        ov.Set(path, spec_to_js(env, *spec));
      } else {
        ov.Set(path, Napi::Boolean::New(env, false));
      }
    }
    q.Set("overrides", ov);
    o.Set("quantization", q);
  } else {
    o.Set("quantization", env.Null());
  }
  Napi::Object counts = Napi::Object::New(env);
  counts.Set("fused", s.fused);
  counts.Set("requantized", s.requantized);
  counts.Set("dequantized", s.dequantized);
  counts.Set("quantized", s.quantized);
  counts.Set("kept", s.kept);
  o.Set("layers", counts);
  return o;
}

// A progress sink that posts { stage, done, total, name } to a JS callback (or nothing).
FuseProgressFn progress_sink(const std::shared_ptr<JsChannel>& channel,
                             const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || !info[i].IsFunction()) return {};
  auto* cb = channel->adopt(
      std::make_unique<Napi::FunctionReference>(Napi::Persistent(info[i].As<Napi::Function>())));
  JsChannel* ch = channel.get();
  return [ch, cb](const FuseProgress& p) {
    ch->post([cb, p](Napi::Env env) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("stage", p.stage);
      o.Set("done", p.done);
      o.Set("total", p.total);
      o.Set("name", p.name);
      // A throwing callback must not take Node down.
      try {
        cb->Call({o});
      } catch (const Napi::Error&) {
      }
    });
  };
}

// Wraps `progress` so the job stops with E_ABORTED at the next layer or shard once the optional
// NativeControl at info[i] is cancelled (the TS layer then removes the temporary folder).
FuseProgressFn cancellable(FuseProgressFn progress, const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || info[i].IsUndefined() || info[i].IsNull()) return progress;
  CancelFlagPtr cancel = NativeControl::Unwrap(info[i])->cancel_flag();
  return [progress, cancel](const FuseProgress& p) {
    if (cancel->cancelled()) fail(codes::kCancelled, "cancelled");
    if (progress) progress(p);
  };
}

// fuseModel(model, { adapterFile, lora, outDir, dequantize?, bits?, groupSize?, maxShardBytes? },
//           onProgress?, control?) -> Promise<Saved>
Napi::Value FuseModel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto model = NativeModel::FromArg(info, 0);
  auto o = object_arg(info, 1, "options");
  std::string adapter_file = get_string(o, "adapterFile", "");
  std::string out_dir = get_string(o, "outDir", "");
  if (adapter_file.empty()) bad_argument(env, "options.adapterFile must name adapters.safetensors");
  if (out_dir.empty()) bad_argument(env, "options.outDir must name a folder");
  Napi::Value lora_value = o.Get("lora");
  if (!lora_value.IsObject())
    bad_argument(env, "options.lora must be an object (the adapter's layout)");
  LoraConfig lora = to_lora(lora_value.As<Napi::Object>());
  WeightOptions options = to_weight_options(o);
  if (options.quantize) bad_argument(env, "fuse takes bits / groupSize, not quantize");
  if (options.dtype) bad_argument(env, "fuse takes no dtype");
  uint64_t max_shard = max_shard_bytes(o);
  auto channel = std::make_shared<JsChannel>(env);
  auto progress = cancellable(progress_sink(channel, info, 2), info, 3);
  return run_on_engine<Saved>(
      env, channel,
      [model, lora, adapter_file, out_dir, options, max_shard, progress](JsChannel&) {
        auto weights = fuse_adapter(model, lora, adapter_file, options, progress);
        return save(weights, out_dir, max_shard, progress);
      },
      saved_to_js);
}

// convertModel(model, { outDir, quantize?, dequantize?, bits?, groupSize?, dtype?,
//              maxShardBytes? }, onProgress?, control?) -> Promise<Saved>
Napi::Value ConvertModel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto model = NativeModel::FromArg(info, 0);
  auto o = object_arg(info, 1, "options");
  std::string out_dir = get_string(o, "outDir", "");
  if (out_dir.empty()) bad_argument(env, "options.outDir must name a folder");
  WeightOptions options = to_weight_options(o);
  uint64_t max_shard = max_shard_bytes(o);
  auto channel = std::make_shared<JsChannel>(env);
  auto progress = cancellable(progress_sink(channel, info, 2), info, 3);
  return run_on_engine<Saved>(
      env, channel,
      [model, out_dir, options, max_shard, progress](JsChannel&) {
        auto weights = convert_weights(*model, options, progress);
        return save(weights, out_dir, max_shard, progress);
      },
      saved_to_js);
}

// ggufMetadata(path) -> Promise<GgufMetadata>: the metadata of a GGUF file (for its tokenizer).
Napi::Value GgufMetadata(const Napi::CallbackInfo& info) {
  std::string path = string_arg(info, 0, "path");
  using Meta = std::map<std::string, GgufValue>;
  return run_on_engine<Meta>(
      info.Env(), [path](JsChannel&) { return load_gguf_model(path).metadata; },
      [](Napi::Env env, Meta& meta) -> Napi::Value { return gguf_metadata_to_js(env, meta); });
}

// readGgufHeader(path) -> GgufHeader: the version, scalar metadata and tensor table of a GGUF
// file, read synchronously (the header only; convert checks it before loading).
Napi::Value ReadGgufHeader(const Napi::CallbackInfo& info) {
  std::string path = string_arg(info, 0, "path");
  GgufHeader header = rethrow_as_js(info.Env(), [&] { return read_gguf_header(path); });
  return gguf_header_to_js(info.Env(), header);
}

}  // namespace

void InitFuse(Napi::Env env, Napi::Object exports) {
  exports.Set("fuseModel", Napi::Function::New<FuseModel>(env));
  exports.Set("convertModel", Napi::Function::New<ConvertModel>(env));
  exports.Set("ggufMetadata", Napi::Function::New<GgufMetadata>(env));
  exports.Set("readGgufHeader", Napi::Function::New<ReadGgufHeader>(env));
}

}  // namespace mlxlab::js
