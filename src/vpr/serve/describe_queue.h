// The model's worker: HTTP threads decode and submit images; one thread describes them,
// several at once when they arrive together. The queue is bounded: when it is full,
// TrySubmit fails at once (the server answers 429) instead of letting waits grow.
#pragma once

#include <opencv2/core/mat.hpp>

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace vpr {

struct Described {
  std::vector<float> descriptor;
  double queue_ms = 0;     // waiting for the worker
  double describe_ms = 0;  // the batch's forward pass
  int batch = 1;           // images described together
};

class DescribeQueue {
 public:
  using DescribeFn = std::function<std::vector<std::vector<float>>(const std::vector<cv::Mat>&)>;
  DescribeQueue(DescribeFn describe, int capacity, int max_batch);
  // Describes what is queued, then stops the worker.
  ~DescribeQueue();
  DescribeQueue(const DescribeQueue&) = delete;
  DescribeQueue& operator=(const DescribeQueue&) = delete;

  // nullopt when the queue is full (or stopping). The future throws what Describe threw.
  std::optional<std::future<Described>> TrySubmit(cv::Mat image);
  int depth() const;
  int capacity() const { return capacity_; }

 private:
  struct Job {
    cv::Mat image;
    std::promise<Described> result;
    std::chrono::steady_clock::time_point queued;
  };
  void Work();
  std::vector<Job> TakeBatch();

  DescribeFn describe_;
  const int capacity_, max_batch_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Job> jobs_;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace vpr
