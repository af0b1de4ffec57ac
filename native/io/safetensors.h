// Reading and writing .safetensors files (mlx-lm's weight format), with errors that name the file.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "models/model.h"

namespace mlxlab {

// Load and evaluate every tensor of the given files (shards of one model) into one map.
// Throws Error(E_MODEL_LOAD) naming the file when one is missing, truncated or malformed,
// holds an unsupported dtype, or repeats a weight name another shard already gave.
Weights load_safetensors_files(const std::vector<std::string>& files);

// Load one file and its metadata (the "__metadata__" strings).
std::pair<Weights, std::unordered_map<std::string, std::string>> load_safetensors_file(
    const std::string& file);

// Write weights and metadata to `path` atomically: a temporary file in the same folder,
// fsync, then rename over `path`. mlx-lm writes metadata {"format": "mlx"}.
void save_safetensors_file(const std::string& path, const Weights& weights,
                           const std::unordered_map<std::string, std::string>& metadata = {
                               {"format", "mlx"}});

}  // namespace mlxlab
