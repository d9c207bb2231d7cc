#include "vpr/serve/describe_queue.h"

#include "vpr/util/check.h"

namespace vpr {
namespace {
double MsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}
}  // namespace

DescribeQueue::DescribeQueue(DescribeFn describe, int capacity, int max_batch)
    : describe_(std::move(describe)), capacity_(capacity), max_batch_(max_batch) {
  VPR_CHECK_USAGE(capacity >= 1 && max_batch >= 1, "DescribeQueue needs capacity and max_batch >= 1");
  worker_ = std::thread([this] { Work(); });
}

DescribeQueue::~DescribeQueue() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  ready_.notify_all();
  worker_.join();
}

std::optional<std::future<Described>> DescribeQueue::TrySubmit(cv::Mat image) {
  std::lock_guard lock(mutex_);
  if (stopping_ || static_cast<int>(jobs_.size()) >= capacity_) return std::nullopt;
  jobs_.push_back({std::move(image), {}, std::chrono::steady_clock::now()});
  auto future = jobs_.back().result.get_future();
  ready_.notify_one();
  return future;
}

int DescribeQueue::depth() const {
  std::lock_guard lock(mutex_);
  return static_cast<int>(jobs_.size());
}

std::vector<DescribeQueue::Job> DescribeQueue::TakeBatch() {
  std::unique_lock lock(mutex_);
  ready_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
  std::vector<Job> batch;
  while (!jobs_.empty() && static_cast<int>(batch.size()) < max_batch_) {
    batch.push_back(std::move(jobs_.front()));
    jobs_.pop_front();
  }
  return batch;
}

void DescribeQueue::Work() {
  for (;;) {
    std::vector<Job> batch = TakeBatch();
    if (batch.empty()) return;  // stopping, and nothing left
    std::vector<cv::Mat> images;
    std::vector<double> waited;
    for (const Job& job : batch) {
      images.push_back(job.image);
      waited.push_back(MsSince(job.queued));
    }
    const auto start = std::chrono::steady_clock::now();
    try {
      std::vector<std::vector<float>> descriptors = describe_(images);
      VPR_CHECK(descriptors.size() == batch.size(), "the model returned ", descriptors.size(), " descriptors for ",
                batch.size(), " images");
      const double ms = MsSince(start);
      for (size_t i = 0; i < batch.size(); ++i)
        batch[i].result.set_value({std::move(descriptors[i]), waited[i], ms, static_cast<int>(batch.size())});
    } catch (...) {
      for (Job& job : batch) job.result.set_exception(std::current_exception());
    }
  }
}

}  // namespace vpr
