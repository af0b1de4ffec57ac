// The JS functions the addon holds on to, one set per environment: the main thread and each
// worker_thread load the addon into an environment of their own, so (as better-sqlite3 keeps
// its Addon struct) they live in the environment's instance data and are freed at its teardown.
#pragma once

#include <napi.h>

namespace mlxlab::js {

struct Instance {
  Napi::FunctionReference error_class;          // MlxLabError, registered by setErrorClass
  Napi::FunctionReference native_model;         // NativeModel
  Napi::FunctionReference native_control;       // NativeControl
  Napi::FunctionReference native_trainer;       // NativeTrainer
  Napi::FunctionReference native_prompt_cache;  // NativePromptCache
};

// This environment's Instance, made on first use (napi_set_instance_data).
Instance& instance(Napi::Env env);

// Whether `value` is an object made by the class `ctor` (false while it is unset).
bool is_instance_of(const Napi::Value& value, const Napi::FunctionReference& ctor);

}  // namespace mlxlab::js
