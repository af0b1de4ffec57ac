#include "blas.h"

#if defined(__linux__)
#include <dlfcn.h>
#include <link.h>
#endif

#include <vector>

namespace mlxlab {

#if defined(__linux__)
namespace {

// Paths of every shared object loaded in this process.
std::vector<std::string> loaded_objects() {
  std::vector<std::string> out;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* data) {
        if (info->dlpi_name && *info->dlpi_name)
          static_cast<std::vector<std::string>*>(data)->push_back(info->dlpi_name);
        return 0;
      },
      &out);
  return out;
}

// A symbol of an already loaded object, under its plain name or the scipy-openblas prefix.
void* find_symbol(void* handle, const char* name) {
  if (void* p = dlsym(handle, name)) return p;
  return dlsym(handle, (std::string("scipy_") + name).c_str());
}

// Fill OpenBLAS's details from a loaded object that exports them; false when it does not.
bool read_openblas(const std::string& path, BlasInfo& out) {
  void* h = dlopen(path.c_str(), RTLD_LAZY | RTLD_NOLOAD);
  if (!h) return false;
  auto corename = reinterpret_cast<char* (*)()>(find_symbol(h, "openblas_get_corename"));
  auto config = reinterpret_cast<char* (*)()>(find_symbol(h, "openblas_get_config"));
  auto threads = reinterpret_cast<int (*)()>(find_symbol(h, "openblas_get_num_threads"));
  if (corename) {
    // dlsym searched the object's dependencies too: name the file that defines the function.
    Dl_info where{};
    std::string library = dladdr(reinterpret_cast<void*>(corename), &where) && where.dli_fname
                              ? where.dli_fname
                              : path;
    out = {library, "OpenBLAS", corename(), config ? config() : "", threads ? threads() : 0};
  }
  dlclose(h);
  return corename != nullptr;
}

}  // namespace

BlasInfo blas_info() {
  BlasInfo found;
  std::string blas_file;
  for (const auto& path : loaded_objects()) {
    if (read_openblas(path, found)) return found;
    auto name = path.substr(path.find_last_of('/') + 1);
    if (blas_file.empty() && name.rfind("libblas", 0) == 0) blas_file = path;
  }
  found.library = blas_file;
  found.name = blas_file.empty() ? "unknown" : "reference";
  return found;
}
#elif defined(__APPLE__)
BlasInfo blas_info() { return {"Accelerate", "Accelerate", "", "", 0}; }
#else
BlasInfo blas_info() { return {"", "unknown", "", "", 0}; }
#endif

}  // namespace mlxlab
