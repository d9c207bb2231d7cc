// Request counters and latency histograms in the Prometheus text format (GET /metrics).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace vpr {

class HttpMetrics {
 public:
  // Upper bounds (seconds) of the latency histogram's buckets.
  static constexpr std::array<double, 12> kBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                      0.5,   1.0,  2.5,   5.0,  10.0, 30.0};
  // `route` is the pattern ("/v1/places/{id}"), never the raw path: a client cannot
  // make the set of series grow.
  void Record(const std::string& route, int status, double seconds);
  // The exposition text; `gauges` (name -> value) are appended as vpr_<name>.
  std::string Text(const std::map<std::string, double>& gauges) const;
  int64_t Count(const std::string& route, int status) const;

 private:
  struct Histogram {
    std::array<int64_t, kBuckets.size()> buckets{};
    int64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, int64_t> requests_;
  std::map<std::string, Histogram> latency_;
};

}  // namespace vpr
