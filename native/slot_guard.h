// A scope guard for the trainer's graphs: the model's trainable slots go back to the real
// values and the adapter's switches back to inference, whatever happened in between.
#pragma once

#include <vector>

#include "lora.h"

namespace mlxlab {

// Puts the model's trainable slots back to the real values and switches training (and the
// reference bypass) off, whatever happened in between (a trace leaves tracer arrays in the slots).
class SlotGuard {
 public:
  SlotGuard(Adapter& adapter, const std::vector<mx::array>& values)
      : adapter_(adapter), values_(values) {}
  ~SlotGuard() {
    adapter_.set_values(values_);
    adapter_.context().training = false;
    adapter_.context().dropout_keys.reset();
    adapter_.context().bypass = false;
  }
  SlotGuard(const SlotGuard&) = delete;
  SlotGuard& operator=(const SlotGuard&) = delete;

 private:
  Adapter& adapter_;
  const std::vector<mx::array>& values_;
};

}  // namespace mlxlab
