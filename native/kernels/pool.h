// A small persistent thread pool for the CPU kernels: one job at a time, split over its threads,
// the calling thread taking part. Workers spin briefly after a job, then sleep.
#pragma once

#include <functional>

namespace mlxlab::kernels {

// Threads the kernels use: MLX_LAB_KERNEL_THREADS at first use, else the hardware's count.
int pool_threads();

// Set the thread count (1 = run on the calling thread only); n <= 0 restores the default.
void set_pool_threads(int n);

// Run fn(part, parts) for part in [0, parts) over the pool and wait for all; parts <= threads.
void pool_run(int parts, const std::function<void(int, int)>& fn);

}  // namespace mlxlab::kernels
