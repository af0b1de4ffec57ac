#include "compute.h"

#include <unistd.h>

#include "errors.h"
#include "kernels/qmatmul.h"
#include "models/decoder.h"

namespace mlxlab {

namespace {

bool needs_copy(const mx::array& weight, bool quantized) {
  return quantized || weight.dtype() != mx::float32;
}

size_t float32_bytes(const mx::array& w, bool quantized, const std::optional<mx::array>& scales,
                     int group_size) {
  if (!quantized) return w.size() * 4;
  return scales->size() * static_cast<size_t>(group_size) * 4;  // one float per weight
}

mx::array dense_float32(const mx::array& w, const std::optional<mx::array>& scales,
                        const std::optional<mx::array>& biases, const std::optional<QuantSpec>& q) {
  if (!q) return mx::astype(w, mx::float32);
  return mx::dequantize(w, *scales, biases, q->group_size, q->bits, q->mode, std::nullopt,
                        mx::float32);
}

// Whether our kernels (native/kernels) take this stored layout: affine 4/8-bit, group 32/64/128.
bool kernel_layout(const std::optional<QuantSpec>& q, const std::optional<mx::array>& biases) {
  return q && kernels::layout_supported(q->group_size, q->bits, q->mode, biases.has_value());
}

// Visit every weight that takes part in a matmul or lookup, with whether our kernels take it
// (the quantized embedding and linears of a kernel layout; expert linears never).
template <typename Fn>
void for_each_weight(DecoderModel& m, Fn&& fn) {
  auto& e = m.embed_tokens();
  fn(e.weight, e.scales, e.biases, e.quant, e.compute_weight, kernel_layout(e.quant, e.biases));
  for (auto* l : m.linears())
    fn(l->weight, l->scales, l->biases, l->quant, l->compute_weight,
       kernel_layout(l->quant, l->biases));
  for (auto* s : m.switch_linears())
    fn(s->weight, s->scales, s->biases, s->quant, s->compute_weight, false);
}

// Route the quantized linears (and a quantized tied embedding) of a layout our kernels take
// through them, or not. The weights are evaluated here: the kernel takes only weights in memory.
void set_kernels(DecoderModel& m, bool on) {
  std::vector<mx::array> stored;
  auto use = [&](auto& layer) {
    layer.use_kernels = on && kernel_layout(layer.quant, layer.biases);
    if (!layer.use_kernels) return;
    stored.push_back(layer.weight);
    stored.push_back(*layer.scales);
    stored.push_back(*layer.biases);
  };
  use(m.embed_tokens());
  for (auto* l : m.linears()) use(*l);
  if (!stored.empty()) mx::eval(stored);
}

// Whether any weight has a layout our kernels take.
bool any_kernel_layout(DecoderModel& m) {
  bool any = false;
  for_each_weight(
      m, [&](const mx::array&, const std::optional<mx::array>&, const std::optional<mx::array>&,
             const std::optional<QuantSpec>&, std::optional<mx::array>&,
             bool kernel_site) { any = any || kernel_site; });
  return any;
}

// Bytes of the float32 copies, leaving out the weights our kernels take when `kernels`.
size_t copy_bytes(DecoderModel& m, bool kernels) {
  size_t total = 0;
  for_each_weight(m, [&](const mx::array& w, const std::optional<mx::array>& scales,
                         const std::optional<mx::array>&, const std::optional<QuantSpec>& q,
                         std::optional<mx::array>&, bool kernel_site) {
    if (kernels && kernel_site) return;
    if (needs_copy(w, q.has_value()))
      total += float32_bytes(w, q.has_value(), scales, q ? q->group_size : 0);
  });
  return total;
}

DecoderModel& decoder(Model& model) {
  auto* d = as_decoder(model);
  if (!d) fail(codes::kArgument, "the compute policy applies to decoder models only");
  return *d;
}

}  // namespace

ComputeMode parse_compute_mode(const std::string& name) {
  if (name == "auto") return ComputeMode::kAuto;
  if (name == "native") return ComputeMode::kNative;
  if (name == "float32") return ComputeMode::kFloat32;
  if (name == "kernels") return ComputeMode::kKernels;
  fail(codes::kArgument, "compute must be auto, native, float32 or kernels, got \"" + name + "\"");
}

size_t physical_memory_bytes() {
  long pages = sysconf(_SC_PHYS_PAGES);
  long size = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && size > 0 ? static_cast<size_t>(pages) * static_cast<size_t>(size) : 0;
}

size_t default_compute_budget() { return physical_memory_bytes() / 2; }

size_t float32_copy_bytes(Model& model) { return copy_bytes(decoder(model), false); }

ComputeReport apply_compute_mode(Model& model, ComputeMode mode, size_t memory_budget) {
  DecoderModel& m = decoder(model);
  ComputeReport report;
  bool copy_others = false;  // auto with kernels: float32 copies of the weights they do not take
  if (mode == ComputeMode::kAuto) {
    const size_t all = copy_bytes(m, false), others = copy_bytes(m, true);
    const std::string mib = std::to_string(others >> 20) + " MiB";
    if (mx::default_device() != mx::Device::cpu) {
      mode = ComputeMode::kNative;
      report.reason = "GPU: quantized and half-precision kernels are fast there";
    } else if (all == 0) {
      mode = ComputeMode::kNative;
      report.reason = "all weights are float32 already";
    } else if (any_kernel_layout(m)) {
      mode = ComputeMode::kKernels;
      copy_others = others > 0 && others <= memory_budget;
      report.reason = "CPU: mlx-lab's kernels on the stored 4/8-bit weights, no float32 copies";
      if (copy_others) report.reason += " (except " + mib + " for weights they do not take)";
      if (others > memory_budget) report.reason += " (" + mib + " of other weights kept as stored)";
    } else if (all > memory_budget) {
      mode = ComputeMode::kNative;
      report.reason =
          "float32 copies (" + std::to_string(all >> 20) + " MiB) exceed the memory budget";
    } else {
      mode = ComputeMode::kFloat32;
      report.reason =
          "CPU: float32 matmuls are 30-80x faster than quantized or half-precision ones";
    }
  }
  for_each_weight(m, [&](const mx::array& w, const std::optional<mx::array>& scales,
                         const std::optional<mx::array>& biases, const std::optional<QuantSpec>& q,
                         std::optional<mx::array>& compute, bool kernel_site) {
    compute.reset();
    if (!needs_copy(w, q.has_value())) return;
    const bool copy = mode == ComputeMode::kFloat32 || (copy_others && !kernel_site);
    if (!copy) return;
    compute = dense_float32(w, scales, biases, q);
    mx::eval(*compute);
    report.layers++;
    report.extra_bytes += float32_bytes(w, q.has_value(), scales, q ? q->group_size : 0);
  });
  set_kernels(m, mode == ComputeMode::kKernels);
  report.mode = mode == ComputeMode::kFloat32   ? "float32"
                : mode == ComputeMode::kKernels ? "kernels"
                                                : "native";
  if (report.reason.empty()) report.reason = "requested";
  return report;
}

ComputeReport apply_compute_mode(Model& model, ComputeMode mode) {
  return apply_compute_mode(model, mode, default_compute_budget());
}

}  // namespace mlxlab
