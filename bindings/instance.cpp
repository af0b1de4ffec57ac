#include "instance.h"

namespace mlxlab::js {

Instance& instance(Napi::Env env) {
  auto* data = env.GetInstanceData<Instance>();
  if (!data) {
    data = new Instance();
    env.SetInstanceData(data);  // deleted, with its references, at the environment's teardown
  }
  return *data;
}

bool is_instance_of(const Napi::Value& value, const Napi::FunctionReference& ctor) {
  return value.IsObject() && !ctor.IsEmpty() && value.As<Napi::Object>().InstanceOf(ctor.Value());
}

}  // namespace mlxlab::js
