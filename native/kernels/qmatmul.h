// Our quantized matmul for few rows (decode, eval batches) on the CPU, as an MLX primitive:
// y = x . dequantize(w)^T for MLX's affine layout, dequantizing on the fly inside the dot products.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "mlx/mlx.h"
#include "mlx/primitives.h"

namespace mlxlab::kernels {

namespace mx = mlx::core;

// The most rows of x our kernel takes; more go to dense_qmatmul.
inline constexpr int kMaxRows = 32;

enum class Isa { kScalar, kAvx2, kAvx512, kNeon };

// "scalar" | "avx2" | "avx512" | "neon".
const char* isa_name(Isa isa);

// The paths this CPU can run, the portable one first.
std::vector<Isa> available_isas();

// The path in use: MLX_LAB_KERNEL_ISA at first use (E_ARGUMENT when unknown or not on this CPU),
// else the widest this CPU has.
Isa active_isa();

// Force a path (tests); E_ARGUMENT when this CPU lacks it.
void set_isa(Isa isa);

// Parse a path name (E_ARGUMENT otherwise).
Isa parse_isa(const std::string& name);

// Whether our kernels take this stored layout: affine, 4 or 8 bits, group 32/64/128, with biases.
bool layout_supported(int group_size, int bits, const std::string& mode, bool has_biases);

// Whether our kernel takes this call: affine mode, 4 or 8 bits, group 32/64/128, biases present,
// floating x with at most kMaxRows rows, 2-D weights that match K, on a CPU stream.
bool qmatmul_supported(const mx::array& x, const mx::array& w, const mx::array& scales,
                       const std::optional<mx::array>& biases, int group_size, int bits,
                       const std::string& mode, mx::StreamOrDevice s = {});

// The layout half of qmatmul_supported: any row count, weights not yet evaluated allowed
// (qmatmul still takes its own paths only for evaluated, row-contiguous weights).
bool qmatmul_layout_supported(const mx::array& x, const mx::array& w, const mx::array& scales,
                              const std::optional<mx::array>& biases, int group_size, int bits,
                              const std::string& mode, mx::StreamOrDevice s = {});

// x . dequantize(w)^T as a float32 matmul on a float32 weight made for this call alone (its
// backward pass makes it again): the float32 speed for many rows without a kept copy.
mx::array dense_qmatmul(const mx::array& x, const mx::array& w, const mx::array& scales,
                        const mx::array& biases, int group_size, int bits,
                        mx::StreamOrDevice s = {});

// x . dequantize(w)^T: our kernel where qmatmul_supported, dense_qmatmul for more rows of a
// supported layout, mx::quantized_matmul otherwise.
mx::array qmatmul(const mx::array& x, const mx::array& w, const mx::array& scales,
                  const std::optional<mx::array>& biases, int group_size, int bits,
                  const std::string& mode = "affine", mx::StreamOrDevice s = {});

// The primitive: inputs x [.., K], w [N, K * bits / 32] uint32, scales and biases [N, K / group].
class QuantizedMatmulRows : public mx::UnaryPrimitive {
 public:
  QuantizedMatmulRows(mx::Stream stream, int group_size, int bits)
      : mx::UnaryPrimitive(stream), group_size_(group_size), bits_(bits) {}

  void eval_cpu(const std::vector<mx::array>& inputs, mx::array& out) override;
  // Not reached: qmatmul sends GPU streams to mx::quantized_matmul.
  void eval_gpu(const std::vector<mx::array>& inputs, mx::array& out) override;
  // d/dx = g . dequantize(w); the quantized weights are frozen (no gradient).
  std::vector<mx::array> vjp(const std::vector<mx::array>& primals,
                             const std::vector<mx::array>& cotangents,
                             const std::vector<int>& argnums,
                             const std::vector<mx::array>& outputs) override;
  std::vector<mx::array> jvp(const std::vector<mx::array>& primals,
                             const std::vector<mx::array>& tangents,
                             const std::vector<int>& argnums) override;
  const char* name() const override { return "QuantizedMatmulRows"; }
  bool is_equivalent(const mx::Primitive& other) const override;
  std::vector<mx::Shape> output_shapes(const std::vector<mx::array>& inputs) override;

 private:
  int group_size_;
  int bits_;
};

}  // namespace mlxlab::kernels
