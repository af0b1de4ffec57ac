// The engine: one thread that owns all MLX work. MLX is not thread-safe and its default
// streams are per thread, so every job (load, generate, train step, save) runs here, in order.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

namespace mlxlab {

// Set from any thread; checked by long jobs between tokens or steps.
class CancelFlag {
 public:
  void cancel() { cancelled_.store(true, std::memory_order_relaxed); }
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }

 private:
  std::atomic<bool> cancelled_{false};
};
using CancelFlagPtr = std::shared_ptr<CancelFlag>;

class Engine {
 public:
  using Job = std::function<void()>;

  // The process-wide engine, started on first use.
  static Engine& instance();

  // Queue a job; it runs on the engine thread after the jobs queued before it.
  void submit(Job job);

  // Jobs queued or running right now.
  size_t pending() const;

  // Wait until no job is queued or running, or the timeout passes; true when idle.
  bool wait_idle(std::chrono::milliseconds timeout);

  ~Engine();

 private:
  Engine();
  void run();

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::deque<Job> queue_;
  size_t running_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace mlxlab
