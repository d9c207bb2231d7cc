#include "vpr/serve/http_metrics.h"

#include <fmt/format.h>

namespace vpr {

void HttpMetrics::Record(const std::string& route, int status, double seconds) {
  std::lock_guard lock(mutex_);
  ++requests_[{route, status}];
  Histogram& h = latency_[route];
  for (size_t b = 0; b < kBuckets.size(); ++b)
    if (seconds <= kBuckets[b]) ++h.buckets[b];
  ++h.count;
  h.sum += seconds;
}

int64_t HttpMetrics::Count(const std::string& route, int status) const {
  std::lock_guard lock(mutex_);
  auto it = requests_.find({route, status});
  return it == requests_.end() ? 0 : it->second;
}

std::string HttpMetrics::Text(const std::map<std::string, double>& gauges) const {
  std::lock_guard lock(mutex_);
  std::string out =
      "# HELP vpr_http_requests_total HTTP requests by route and status.\n"
      "# TYPE vpr_http_requests_total counter\n";
  for (const auto& [key, n] : requests_)
    out += fmt::format("vpr_http_requests_total{{route=\"{}\",status=\"{}\"}} {}\n", key.first, key.second, n);
  out +=
      "# HELP vpr_http_request_duration_seconds Time from the request read to the response written, by route.\n"
      "# TYPE vpr_http_request_duration_seconds histogram\n";
  for (const auto& [route, h] : latency_) {
    // Buckets are recorded per bound already, so each one is cumulative.
    for (size_t b = 0; b < kBuckets.size(); ++b)
      out += fmt::format("vpr_http_request_duration_seconds_bucket{{route=\"{}\",le=\"{}\"}} {}\n", route, kBuckets[b],
                         h.buckets[b]);
    out += fmt::format("vpr_http_request_duration_seconds_bucket{{route=\"{}\",le=\"+Inf\"}} {}\n", route, h.count);
    out += fmt::format("vpr_http_request_duration_seconds_sum{{route=\"{}\"}} {}\n", route, h.sum);
    out += fmt::format("vpr_http_request_duration_seconds_count{{route=\"{}\"}} {}\n", route, h.count);
  }
  for (const auto& [name, value] : gauges)
    out += fmt::format("# TYPE vpr_{} gauge\nvpr_{} {}\n", name, name, value);
  return out;
}

}  // namespace vpr
