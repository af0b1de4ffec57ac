// Data parallelism over MLX's own distributed layer (mlx::core::distributed): the ring back end
// over TCP, MPI, JACCL (Thunderbolt RDMA) or NCCL, whichever MLX picks for the environment the
// launcher set (MLX_RANK + MLX_HOSTFILE for ring). One process-wide group; every function here
// must run on the engine thread, like all MLX work.
#pragma once

#include <string>
#include <vector>

#include "mlx/mlx.h"

namespace mlxlab::distributed {

namespace mx = mlx::core;

struct GroupInfo {
  int rank = 0;
  int size = 1;
  std::string backend;  // "ring", "mpi", "jaccl", "nccl", or "none" for a single process
};

// Join the group described by the environment (once per process; later calls return the same
// group). backend: "any" or a name MLX knows. Error(E_DISTRIBUTED) when it cannot be formed.
GroupInfo init(const std::string& backend);

// The group joined so far ({0, 1, "none"} before init).
GroupInfo info();

// More than one rank joined.
bool active();

// Element-wise sum of each array over all ranks, as one message (arrays are flattened into one
// float32 buffer and split back, so a gradient tree costs one all_sum). Evaluated on return.
std::vector<mx::array> all_sum(const std::vector<mx::array>& arrays);

// Sum of a few numbers over all ranks (decisions, counters).
std::vector<double> all_sum(const std::vector<double>& values);

// Every rank's bytes, in rank order (results gathered for a report).
std::vector<std::string> all_gather(const std::string& mine);

// Bytes this process has sent through all_sum/all_gather so far (an estimate from the ring
// algorithm: 2 (N - 1) / N of each reduced buffer, (N - 1) / N of each gathered one per rank).
double bytes_sent();

}  // namespace mlxlab::distributed
