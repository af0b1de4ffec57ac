// Constrained decoding: load the grammar engine, hand it a vocabulary, read grammars of a
// generate request. The engine itself is native/grammar.h.
#include "grammar.h"

#include <napi.h>

#include <memory>

#include "args.h"
#include "js_error.h"

namespace mlxlab::js {

namespace {

using VocabRef = std::shared_ptr<const GrammarVocab>;

// loadGrammarEngine(stubPath, libPath) -> the engine's version string.
Napi::Value LoadGrammarEngine(const Napi::CallbackInfo& info) {
  std::string stub = string_arg(info, 0, "stubPath"), lib = string_arg(info, 1, "libPath");
  return rethrow_as_js(info.Env(), [&] {
    load_grammar_engine(stub, lib);
    return Napi::String::New(info.Env(), grammar_engine_version());
  });
}

// grammarVocab(bytes: Uint8Array, lens: Uint32Array, eosIds: number[]) -> an opaque vocabulary.
Napi::Value MakeGrammarVocab(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsTypedArray() || !info[1].IsTypedArray()) {
    bad_argument(env, "grammarVocab(bytes: Uint8Array, lens: Uint32Array, eosIds: number[])");
  }
  auto bytes = info[0].As<Napi::TypedArray>(), lens = info[1].As<Napi::TypedArray>();
  if (bytes.TypedArrayType() != napi_uint8_array || lens.TypedArrayType() != napi_uint32_array) {
    bad_argument(env, "grammarVocab: bytes must be a Uint8Array and lens a Uint32Array");
  }
  auto b = bytes.As<Napi::Uint8Array>();
  auto l = lens.As<Napi::Uint32Array>();
  std::vector<uint8_t> byte_vec(b.Data(), b.Data() + b.ElementLength());
  std::vector<uint32_t> len_vec(l.Data(), l.Data() + l.ElementLength());
  std::vector<int> eos = to_tokens(info[2], "eosIds");
  auto* ref = rethrow_as_js(
      env, [&] { return new VocabRef(std::make_shared<GrammarVocab>(byte_vec, len_vec, eos)); });
  return Napi::External<VocabRef>::New(env, ref, [](Napi::Env, VocabRef* r) { delete r; });
}

// One { type, data } grammar (E_ARGUMENT naming grammars[k] otherwise).
GrammarSpec to_grammar(const Napi::Value& v, size_t k) {
  std::string what = "grammars[" + std::to_string(k) + "]";
  if (!v.IsObject()) bad_argument(v.Env(), what + " must be null or { type, data }");
  auto o = v.As<Napi::Object>();
  GrammarSpec spec{get_string(o, "type", ""), get_string(o, "data", ""), get_string(o, "name", "")};
  if (spec.type != "json_schema" && spec.type != "regex" && spec.type != "lark") {
    bad_argument(v.Env(), what + ".type must be json_schema, regex or lark");
  }
  if (spec.data.find('\0') != std::string::npos) {
    bad_argument(v.Env(), what + ".data must not hold a NUL character");
  }
  return spec;
}

// checkGrammar(vocab, { type, data, name }, tokens) -> { ok, complete, next, taken, error? }.
Napi::Value CheckGrammar(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsExternal()) {
    bad_argument(env, "checkGrammar(vocab, grammar, tokens)");
  }
  const VocabRef& vocab = *info[0].As<Napi::External<VocabRef>>().Data();
  GrammarSpec spec = to_grammar(info[1], 0);
  std::vector<int> tokens = to_tokens(info[2], "tokens");
  GrammarCheck check = rethrow_as_js(env, [&] { return check_tokens(*vocab, spec, tokens); });
  Napi::Object out = Napi::Object::New(env);
  out.Set("ok", check.ok);
  out.Set("complete", check.complete);
  out.Set("next", check.next);
  out.Set("taken", static_cast<double>(check.taken));
  if (!check.ok) out.Set("error", check.error);
  return out;
}

}  // namespace

void read_grammars(const Napi::Object& o, GenerateRequest& r) {
  Napi::Value g = o.Get("grammars");
  if (g.IsUndefined() || g.IsNull()) return;
  if (!g.IsArray()) bad_argument(o.Env(), "grammars must be an array");
  auto arr = g.As<Napi::Array>();
  for (uint32_t k = 0; k < arr.Length(); ++k) {
    Napi::Value v = arr.Get(k);
    if (v.IsNull() || v.IsUndefined()) {
      r.grammars.emplace_back();
    } else {
      r.grammars.emplace_back(to_grammar(v, k));
    }
  }
  Napi::Value vocab = o.Get("grammarVocab");
  if (vocab.IsExternal()) r.grammar_vocab = *vocab.As<Napi::External<VocabRef>>().Data();
}

void InitGrammar(Napi::Env env, Napi::Object exports) {
  exports.Set("loadGrammarEngine", Napi::Function::New<LoadGrammarEngine>(env));
  exports.Set("grammarVocab", Napi::Function::New<MakeGrammarVocab>(env));
  exports.Set("checkGrammar", Napi::Function::New<CheckGrammar>(env));
}

}  // namespace mlxlab::js
