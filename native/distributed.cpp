#include "distributed.h"

#include <optional>

#include "errors.h"

namespace mlxlab::distributed {

namespace dist = mlx::core::distributed;

namespace {

struct State {
  std::optional<dist::Group> group;
  std::string backend = "none";
  double bytes_sent = 0;
};

State& state() {
  static State s;
  return s;
}

// The bytes one rank sends in a ring all-reduce of `bytes` over `n` ranks.
double ring_all_sum_bytes(double bytes, int n) { return n > 1 ? 2.0 * (n - 1) / n * bytes : 0; }

// The backend MLX would choose for "any", named for messages.
std::string resolve_backend(const std::string& requested) {
  if (requested != "any") return requested;
  for (const char* name : {"mpi", "ring", "jaccl", "nccl"}) {
    if (dist::is_available(name)) return name;
  }
  return "none";
}

const dist::Group& group() {
  auto& s = state();
  if (!s.group) fail(codes::kDistributed, "no distributed group: call init first");
  return *s.group;
}

}  // namespace

GroupInfo init(const std::string& backend) {
  auto& s = state();
  if (s.group) return info();
  if (backend != "any" && !dist::is_available(backend)) {
    fail(codes::kDistributed,
         "the MLX distributed back end \"" + backend + "\" is not available in this build of MLX");
  }
  try {
    s.group = dist::init(true, backend);
  } catch (const std::exception& e) {
    fail(codes::kDistributed,
         "could not join the distributed group (" + backend + "): " + e.what());
  }
  s.backend = s.group->size() > 1 ? resolve_backend(backend) : "none";
  return info();
}

GroupInfo info() {
  const auto& s = state();
  if (!s.group) return {};
  return {s.group->rank(), s.group->size(), s.backend};
}

bool active() { return info().size > 1; }

std::vector<mx::array> all_sum(const std::vector<mx::array>& arrays) {
  if (arrays.empty()) return {};
  std::vector<mx::array> flat;
  flat.reserve(arrays.size());
  for (const auto& a : arrays) flat.push_back(mx::reshape(mx::astype(a, mx::float32), {-1}));
  auto joined = mx::concatenate(flat);
  try {
    joined = dist::all_sum(joined, group());
    mx::eval(joined);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    fail(codes::kDistributed, std::string("all_sum failed (a peer may have stopped): ") + e.what());
  }
  state().bytes_sent += ring_all_sum_bytes(joined.nbytes(), info().size);
  std::vector<mx::array> out;
  out.reserve(arrays.size());
  int offset = 0;
  for (const auto& a : arrays) {
    int n = static_cast<int>(a.size());
    auto part = mx::reshape(mx::slice(joined, {offset}, {offset + n}), a.shape());
    out.push_back(mx::astype(part, a.dtype()));
    offset += n;
  }
  mx::eval(out);
  return out;
}

std::vector<double> all_sum(const std::vector<double>& values) {
  if (values.empty()) return {};
  std::vector<float> host(values.begin(), values.end());
  auto summed = all_sum({mx::array(host.data(), {static_cast<int>(host.size())}, mx::float32)})[0];
  const float* p = summed.data<float>();
  return std::vector<double>(p, p + values.size());
}

std::vector<std::string> all_gather(const std::string& mine) {
  int n = info().size;
  if (n <= 1) return {mine};
  // Lengths first (every rank pads to the longest), then the padded bytes.
  std::vector<double> lengths(n, 0.0);
  lengths[info().rank] = static_cast<double>(mine.size());
  lengths = all_sum(lengths);
  size_t longest = 0;
  for (double l : lengths) longest = std::max(longest, static_cast<size_t>(l));
  std::vector<uint8_t> padded(std::max<size_t>(longest, 1), 0);
  std::copy(mine.begin(), mine.end(), padded.begin());
  mx::array gathered = mx::array(0);
  try {
    gathered = dist::all_gather(
        mx::array(padded.data(), {1, static_cast<int>(padded.size())}, mx::uint8), group());
    mx::eval(gathered);
  } catch (const std::exception& e) {
    fail(codes::kDistributed,
         std::string("all_gather failed (a peer may have stopped): ") + e.what());
  }
  state().bytes_sent += static_cast<double>(padded.size()) * (n - 1);
  const uint8_t* p = gathered.data<uint8_t>();
  std::vector<std::string> out;
  for (int r = 0; r < n; ++r) {
    const char* row = reinterpret_cast<const char*>(p + r * padded.size());
    out.emplace_back(row, static_cast<size_t>(lengths[r]));
  }
  return out;
}

double bytes_sent() { return state().bytes_sent; }

}  // namespace mlxlab::distributed
