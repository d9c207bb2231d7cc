#include "vpr/serve/http_metrics.h"

#include <gtest/gtest.h>

namespace vpr {
namespace {

TEST(HttpMetrics, PrometheusTextHasCountsCumulativeBucketsAndGauges) {
  HttpMetrics m;
  m.Record("/v1/localize", 200, 0.004);
  m.Record("/v1/localize", 200, 0.3);
  m.Record("/v1/localize", 429, 0.0001);
  const std::string text = m.Text({{"queue_depth", 2}});
  EXPECT_NE(text.find("vpr_http_requests_total{route=\"/v1/localize\",status=\"200\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("vpr_http_requests_total{route=\"/v1/localize\",status=\"429\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("vpr_http_request_duration_seconds_bucket{route=\"/v1/localize\",le=\"0.005\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("vpr_http_request_duration_seconds_bucket{route=\"/v1/localize\",le=\"0.25\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("vpr_http_request_duration_seconds_bucket{route=\"/v1/localize\",le=\"0.5\"} 3\n"),
            std::string::npos);
  EXPECT_NE(text.find("vpr_http_request_duration_seconds_bucket{route=\"/v1/localize\",le=\"+Inf\"} 3\n"),
            std::string::npos);
  EXPECT_NE(text.find("vpr_http_request_duration_seconds_count{route=\"/v1/localize\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE vpr_queue_depth gauge\nvpr_queue_depth 2\n"), std::string::npos);
  EXPECT_EQ(m.Count("/v1/localize", 200), 2);
}

}  // namespace
}  // namespace vpr
