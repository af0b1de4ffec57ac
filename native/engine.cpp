#include "engine.h"

#include "mlx/stream.h"

namespace mlxlab {

Engine& Engine::instance() {
  // Leaked on purpose: the thread must outlive every handle finalized at process exit.
  static Engine* engine = new Engine();
  return *engine;
}

Engine::Engine() : thread_([this] { run(); }) {}

Engine::~Engine() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Engine::submit(Job job) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back(std::move(job));
  }
  wake_.notify_one();
}

size_t Engine::pending() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return queue_.size() + running_;
}

bool Engine::wait_idle(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  return idle_.wait_for(lock, timeout, [this] { return queue_.empty() && running_ == 0; });
}

void Engine::run() {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_ && queue_.empty()) return;
      job = std::move(queue_.front());
      queue_.pop_front();
      running_ = 1;
    }
    job();  // jobs catch their own exceptions and report through their callbacks
    // Nothing a job queued with async_eval may still run once it is over: the next job, or
    // the process exiting (OpenBLAS joins its threads at exit), must find MLX idle.
    try {
      mlx::core::synchronize();
    } catch (...) {
    }
    std::lock_guard<std::mutex> lock(mutex_);
    running_ = 0;
    if (queue_.empty()) idle_.notify_all();
  }
}

}  // namespace mlxlab
