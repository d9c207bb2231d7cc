#include "vpr/util/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <stdexcept>

namespace vpr {
namespace {

TEST(WorkerPool, RunsEveryTaskOnItsOwnLongLivedThreads) {
  std::atomic<int> inits{0};
  std::set<std::thread::id> ids;
  std::mutex mutex;
  {
    WorkerPool pool(2, [&] { ++inits; });
    std::vector<std::future<int>> results;
    for (int i = 0; i < 50; ++i)
      results.push_back(pool.Submit([&, i] {
        std::lock_guard<std::mutex> lock(mutex);
        ids.insert(std::this_thread::get_id());
        return i * i;
      }));
    for (int i = 0; i < 50; ++i) EXPECT_EQ(results[i].get(), i * i);
  }
  EXPECT_EQ(inits.load(), 2);
  EXPECT_LE(ids.size(), 2u);
  EXPECT_EQ(ids.count(std::this_thread::get_id()), 0u);
}

TEST(WorkerPool, AnExceptionReachesTheFuture) {
  WorkerPool pool(1);
  auto f = pool.Submit([]() -> int { throw std::runtime_error("bad image"); });
  EXPECT_THROW(f.get(), std::runtime_error);
  EXPECT_EQ(pool.Submit([] { return 3; }).get(), 3);
}

}  // namespace
}  // namespace vpr
