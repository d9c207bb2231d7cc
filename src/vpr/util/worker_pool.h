// A fixed set of worker threads running submitted tasks in order of submission. The
// threads live as long as the pool: helpers such as image decoders keep their per-thread
// state (LibTorch initialises its thread settings once per new thread, and recreates its
// thread pools when it does) instead of paying for it on every task.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace vpr {

class WorkerPool {
 public:
  // threads >= 1; `init` runs first on every worker thread.
  explicit WorkerPool(int threads, std::function<void()> init = {});
  // Finishes the tasks already submitted, then joins the threads.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Runs task() on a worker; the future holds its result or its exception.
  template <typename F>
  auto Submit(F task) -> std::future<decltype(task())> {
    auto packaged = std::make_shared<std::packaged_task<decltype(task())()>>(std::move(task));
    auto future = packaged->get_future();
    Push([packaged] { (*packaged)(); });
    return future;
  }

 private:
  void Push(std::function<void()> task);
  void Work(const std::function<void()>& init);

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace vpr
