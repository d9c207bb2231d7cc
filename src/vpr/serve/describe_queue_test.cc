#include "vpr/serve/describe_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>

namespace vpr {
namespace {

// Describes an image as its width, after waiting for `open` so that the test decides
// when the worker may go on.
struct GatedModel {
  std::mutex mutex;
  std::condition_variable cv;
  bool open = false;
  std::vector<int> batch_sizes;
  std::vector<std::vector<float>> operator()(const std::vector<cv::Mat>& images) {
    std::unique_lock lock(mutex);
    cv.wait(lock, [this] { return open; });
    batch_sizes.push_back(static_cast<int>(images.size()));
    std::vector<std::vector<float>> out;
    for (const auto& m : images) {
      if (m.cols == 13) throw std::runtime_error("thirteen");
      out.push_back({static_cast<float>(m.cols)});
    }
    return out;
  }
  void Open() {
    std::lock_guard lock(mutex);
    open = true;
    cv.notify_all();
  }
};

TEST(DescribeQueue, AFullQueueRefusesAtOnceAndWhatArrivedTogetherIsBatched) {
  GatedModel model;
  DescribeQueue queue([&](const std::vector<cv::Mat>& m) { return model(m); }, /*capacity=*/3, /*max_batch=*/2);
  std::vector<std::future<Described>> futures;
  futures.push_back(*queue.TrySubmit(cv::Mat(1, 1, CV_8UC3)));
  // The worker takes the first job and waits at the gate; wait until it has.
  while (queue.depth() != 0) std::this_thread::yield();
  for (int w = 2; w <= 4; ++w) futures.push_back(*queue.TrySubmit(cv::Mat(1, w, CV_8UC3)));
  EXPECT_EQ(queue.depth(), 3);
  EXPECT_FALSE(queue.TrySubmit(cv::Mat(1, 9, CV_8UC3)).has_value()) << "capacity 3 is full";
  model.Open();
  for (int i = 0; i < 4; ++i) EXPECT_EQ(futures[i].get().descriptor, std::vector<float>{float(i + 1)});
  EXPECT_EQ(model.batch_sizes, (std::vector<int>{1, 2, 1}));
}

TEST(DescribeQueue, AFailedBatchFailsItsRequestsAndTheWorkerGoesOn) {
  GatedModel model;
  model.Open();
  DescribeQueue queue([&](const std::vector<cv::Mat>& m) { return model(m); }, 4, 1);
  auto bad = *queue.TrySubmit(cv::Mat(1, 13, CV_8UC3));
  EXPECT_THROW(bad.get(), std::runtime_error);
  EXPECT_EQ(queue.TrySubmit(cv::Mat(1, 5, CV_8UC3))->get().descriptor, std::vector<float>{5});
}

TEST(DescribeQueue, DestructionFinishesWhatIsQueued) {
  GatedModel model;
  std::future<Described> pending;
  {
    DescribeQueue queue([&](const std::vector<cv::Mat>& m) { return model(m); }, 4, 4);
    pending = *queue.TrySubmit(cv::Mat(1, 7, CV_8UC3));
    model.Open();
  }
  EXPECT_EQ(pending.get().descriptor, std::vector<float>{7});
}

}  // namespace
}  // namespace vpr
