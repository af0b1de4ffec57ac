// mlxlab_native_tests [filter...]: runs the cases whose name contains any filter.
#include <chrono>
#include <iostream>

#include "errors.h"
#include "harness.h"

int main(int argc, char** argv) {
  std::vector<std::string> filters(argv + 1, argv + argc);
  int passed = 0, failed = 0;
  std::vector<std::string> failures;
  for (auto& c : testing::cases()) {
    bool wanted = filters.empty();
    for (auto& f : filters) wanted |= c.name.find(f) != std::string::npos;
    if (!wanted) continue;
    std::cout << "[ RUN  ] " << c.name << std::endl;
    auto start = std::chrono::steady_clock::now();
    try {
      c.run();
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::cout << "[  OK  ] " << c.name << " (" << s << " s)" << std::endl;
      ++passed;
    } catch (const mlxlab::Error& e) {
      std::cout << "[ FAIL ] " << c.name << ": Error(" << e.code() << "): " << e.what()
                << std::endl;
      failures.push_back(c.name);
      ++failed;
    } catch (const std::exception& e) {
      std::cout << "[ FAIL ] " << c.name << ": " << e.what() << std::endl;
      failures.push_back(c.name);
      ++failed;
    }
  }
  std::cout << "\n" << passed << " passed, " << failed << " failed" << std::endl;
  for (auto& f : failures) std::cout << "  failed: " << f << std::endl;
  return failed == 0 ? 0 : 1;
}
