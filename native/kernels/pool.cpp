#include "kernels/pool.h"

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define MLXLAB_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define MLXLAB_PAUSE() asm volatile("yield")
#else
#define MLXLAB_PAUSE()
#endif

namespace mlxlab::kernels {

namespace {

int default_threads() {
  if (const char* env = std::getenv("MLX_LAB_KERNEL_THREADS")) {
    int n = std::atoi(env);
    if (n > 0) return n;
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw > 0 ? static_cast<int>(hw) : 1;
}

// Pause iterations a worker spins for the next job before sleeping: decode calls come a few
// microseconds apart, but a long spin would take a shared core from other work.
constexpr int kSpin = 2000;

// Wait for the workers: spin briefly, then yield the core (a descheduled worker needs it).
void wait_zero(const std::atomic<int>& pending) {
  for (int i = 0; pending.load(std::memory_order_acquire) != 0; ++i) {
    if (i < kSpin) {
      MLXLAB_PAUSE();
    } else {
      std::this_thread::yield();
    }
  }
}

class Pool {
 public:
  explicit Pool(int threads) {
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { loop(i); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
      generation_.fetch_add(1);
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
  }
  int size() const { return static_cast<int>(workers_.size()) + 1; }

  void run(int parts, const std::function<void(int, int)>& fn) {
    if (parts <= 1 || workers_.empty()) {
      for (int p = 0; p < parts; ++p) fn(p, parts);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      fn_ = &fn;
      parts_ = parts;
      pending_.store(parts - 1);
      generation_.fetch_add(1);
    }
    wake_.notify_all();
    fn(0, parts);
    wait_zero(pending_);
  }

 private:
  void loop(int index) {
    unsigned seen = 0;
    for (;;) {
      int spins = 0;
      while (generation_.load(std::memory_order_acquire) == seen && spins < kSpin) {
        MLXLAB_PAUSE();
        ++spins;
      }
      if (generation_.load(std::memory_order_acquire) == seen) {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return generation_.load() != seen; });
      }
      const std::function<void(int, int)>* fn;
      int parts;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stop_) return;
        seen = generation_.load();
        fn = fn_;
        parts = parts_;
      }
      if (index < parts) {
        (*fn)(index, parts);
        pending_.fetch_sub(1, std::memory_order_acq_rel);
      }
    }
  }

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<unsigned> generation_{0};
  std::atomic<int> pending_{0};
  const std::function<void(int, int)>* fn_ = nullptr;
  int parts_ = 0;
  bool stop_ = false;
};

std::mutex g_pool_mutex;
std::unique_ptr<Pool> g_pool;
int g_threads = 0;

}  // namespace

int pool_threads() {
  std::lock_guard<std::mutex> lock(g_pool_mutex);
  if (g_threads == 0) g_threads = default_threads();
  return g_threads;
}

void set_pool_threads(int n) {
  std::lock_guard<std::mutex> lock(g_pool_mutex);
  g_threads = n > 0 ? n : default_threads();
  g_pool.reset();
}

void pool_run(int parts, const std::function<void(int, int)>& fn) {
  // One job at a time: callers (MLX streams, tests) queue here.
  std::lock_guard<std::mutex> lock(g_pool_mutex);
  if (g_threads == 0) g_threads = default_threads();
  if (!g_pool || g_pool->size() != g_threads) g_pool = std::make_unique<Pool>(g_threads);
  g_pool->run(parts, fn);
}

}  // namespace mlxlab::kernels
