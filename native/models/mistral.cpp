// Mistral: mlx-lm has no model file of its own for it and loads it as llama (MODEL_REMAPPING in
// mlx_lm/utils.py), so this is llama's architecture under the model_type "mistral": the same
// config keys, biases, RoPE and defaults. sliding_window is not read, as mlx-lm's llama reads it
// only for layer_types, which Mistral configs do not have.
#include "models/registry.h"

namespace mlxlab {

extern const Architecture kLlama;

// llama's functions (constant-initialized, so set before this one is built).
extern const Architecture kMistral{"mistral", kLlama.check_config, kLlama.make_rope,
                                   kLlama.load_block};

}  // namespace mlxlab
