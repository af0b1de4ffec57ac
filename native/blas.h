// Which BLAS MLX's CPU back end runs on, as loaded in this process: the library file, and for
// OpenBLAS its kernel (core name), build configuration and thread count.
#pragma once

#include <string>

namespace mlxlab {

struct BlasInfo {
  std::string library;   // path of the loaded BLAS, "Accelerate" on macOS, "" when none is found
  std::string name;      // "OpenBLAS", "reference", "Accelerate" or "unknown"
  std::string corename;  // OpenBLAS's kernel, e.g. "SkylakeX" ("" when not OpenBLAS)
  std::string config;    // OpenBLAS's build configuration string (version, DYNAMIC_ARCH, ...)
  int threads = 0;       // OpenBLAS's thread count (0 when unknown)
};

// Look the BLAS up among the shared objects loaded in this process.
BlasInfo blas_info();

}  // namespace mlxlab
