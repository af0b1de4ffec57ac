// Dequantize MLX's affine 4/8-bit layout to float32 on the CPU, split over the kernel threads: the
// weight a large quantized matmul (prefill, training batches) runs on for one call.
#pragma once

#include "kernels/qdot.h"
#include "mlx/mlx.h"
#include "mlx/primitives.h"

namespace mlxlab::kernels {

namespace mx = mlx::core;

// How the kernels read scales and biases of this dtype (float32 unless bfloat16 or float16).
ParamType param_type(mx::Dtype t);

// dequantize(w, scales, biases) as float32 [N, K]: w [N, K * bits / 32] uint32, scales and biases
// [N, K / group_size] float32/bfloat16/float16; the layout as qmatmul_layout_supported checks it.
mx::array dequantize_f32(const mx::array& w, const mx::array& scales, const mx::array& biases,
                         int group_size, int bits, mx::StreamOrDevice s = {});

// The primitive behind dequantize_f32 (CPU only; the weights are frozen: no gradient).
class DequantizeF32 : public mx::UnaryPrimitive {
 public:
  DequantizeF32(mx::Stream stream, int group_size, int bits)
      : mx::UnaryPrimitive(stream), group_size_(group_size), bits_(bits) {}

  void eval_cpu(const std::vector<mx::array>& inputs, mx::array& out) override;
  void eval_gpu(const std::vector<mx::array>& inputs, mx::array& out) override;
  const char* name() const override { return "DequantizeF32"; }
  bool is_equivalent(const mx::Primitive& other) const override;
  std::vector<mx::Shape> output_shapes(const std::vector<mx::array>& inputs) override;

 private:
  int group_size_;
  int bits_;
};

}  // namespace mlxlab::kernels
