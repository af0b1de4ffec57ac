// A minimal test harness: TEST(name) registers a case, CHECK throws on failure.
#pragma once

#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "models/config.h"
#include "models/model.h"

namespace testing {

struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Case {
  std::string name;
  std::function<void()> run;
};
std::vector<Case>& cases();

struct Registrar {
  Registrar(const char* name, std::function<void()> fn) { cases().push_back({name, fn}); }
};

// The repository root (found by walking up to test/fixtures).
std::string root();
std::string fixture(const std::string& relative);
bool exists(const std::string& path);

// A model folder's config.json as a ModelConfig (test-only reader).
mlxlab::ModelConfig read_config(const std::string& config_json_path);
// model*.safetensors in a folder, sorted.
std::vector<std::string> weight_files(const std::string& folder);

double max_abs_diff(const mlx::core::array& a, const mlx::core::array& b);
std::vector<int> to_ints(const mlx::core::array& a);
std::string join(const std::vector<int>& v);

// Run fn, expect an mlxlab::Error with this code whose message contains `needle`.
void expect_error(const std::function<void()>& fn, const std::string& code,
                  const std::string& needle);

}  // namespace testing

#define TEST(name)                                                  \
  static void test_##name();                                        \
  static ::testing::Registrar registrar_##name(#name, test_##name); \
  static void test_##name()

#define CHECK(cond)                                                             \
  do {                                                                          \
    if (!(cond)) {                                                              \
      std::ostringstream check_msg_;                                            \
      check_msg_ << __FILE__ << ":" << __LINE__ << ": CHECK(" #cond ") failed"; \
      throw ::testing::Failure(check_msg_.str());                               \
    }                                                                           \
  } while (0)

#define CHECK_MSG(cond, msg)                                    \
  do {                                                          \
    if (!(cond)) {                                              \
      std::ostringstream check_msg_;                            \
      check_msg_ << __FILE__ << ":" << __LINE__ << ": " << msg; \
      throw ::testing::Failure(check_msg_.str());               \
    }                                                           \
  } while (0)
