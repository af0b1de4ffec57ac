// Argument unpacking: JS values to C++ structs, with E_ARGUMENT errors that name the field.
#pragma once

#include <napi.h>

#include <string>
#include <vector>

#include "compute.h"
#include "generate.h"
#include "models/config.h"

namespace mlxlab::js {

// Throw an E_ARGUMENT MlxLabError: every argument check of the bindings ends here.
[[noreturn]] void bad_argument(Napi::Env env, const std::string& message);

// "auto" | "native" | "float32" as a ComputeMode (E_ARGUMENT otherwise).
ComputeMode to_compute_mode(Napi::Env env, const std::string& name);

int get_int(const Napi::Object& obj, const char* key, int fallback);
double get_number(const Napi::Object& obj, const char* key, double fallback);
bool get_bool(const Napi::Object& obj, const char* key, bool fallback);
std::string get_string(const Napi::Object& obj, const char* key, const std::string& fallback);

// An object argument at position i (E_ARGUMENT naming `what` otherwise).
Napi::Object object_arg(const Napi::CallbackInfo& info, size_t i, const char* what);
std::string string_arg(const Napi::CallbackInfo& info, size_t i, const char* what);
std::vector<std::string> string_array_arg(const Napi::CallbackInfo& info, size_t i,
                                          const char* what);
// A string[] (E_ARGUMENT naming `what`, or `what`[k], otherwise).
std::vector<std::string> to_strings(const Napi::Value& value, const std::string& what);

// Int32Array or number[] to token ids.
std::vector<int> to_tokens(const Napi::Value& value, const char* what);

// The validated config object from src/model-config.ts.
ModelConfig to_model_config(const Napi::Object& obj);

// { prompts, maxTokens, temperature, topP, topK, minP, repetitionPenalty, ... }.
GenerateRequest to_generate_request(const Napi::Object& obj);

// The request's grammars ([{ type, data } | null]) and grammarVocab handle (bindings/grammar.cpp).
void read_grammars(const Napi::Object& obj, GenerateRequest& request);

// The request's logitBias*, logprobs and xtc* fields (checked by src/model/sampling-options.ts).
void read_sampling_extras(const Napi::Object& obj, GenerateRequest& request);

}  // namespace mlxlab::js
