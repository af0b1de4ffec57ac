// C++ results to JS values: configs, arrays, GGUF metadata.
#pragma once

#include <napi.h>

#include <map>
#include <string>

#include "io/gguf.h"
#include "models/config.h"
#include "models/model.h"

namespace mlxlab::js {

Napi::Object config_to_js(Napi::Env env, const ModelConfig& config);

// On the engine thread: a contiguous, evaluated float32 (or int32) copy ready for JS.
mx::array host_ready(const mx::array& array);

// On the JS thread: { data: Float32Array | Int32Array, shape } of a host_ready() array.
Napi::Object array_to_js(Napi::Env env, const mx::array& array);

Napi::Object gguf_metadata_to_js(Napi::Env env, const std::map<std::string, GgufValue>& metadata);

// { version, metadata, tensors: [{ name, shape, type }] }; 64-bit integers become BigInts.
Napi::Object gguf_header_to_js(Napi::Env env, const GgufHeader& header);

}  // namespace mlxlab::js
