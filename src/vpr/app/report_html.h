// report.html of `vpr eval`: one self-contained static page (thumbnails inlined as
// data URIs, the curve as inline SVG) that opens offline and can be mailed around.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "vpr/data/dataset.h"
#include "vpr/index/knn.h"

namespace vpr {

struct ReportOptions {
  // Queries shown with their retrievals: failures at R@1 first (up to half), the rest
  // spread evenly over the dataset.
  int sample_queries = 24;
  // Retrieved database images shown per query.
  int thumbs_per_query = 5;
  // Thumbnail height in pixels.
  int thumb_height = 96;
};

// metrics: metrics.json of the run (recall table, counts, timings, recall vs dimension).
std::string RenderReportHtml(const Dataset& dataset, const KnnResult& knn,
                             const std::vector<std::vector<int64_t>>& positives, const nlohmann::json& metrics,
                             const ReportOptions& options = {});

// {"1": r1, "10": r10, "5": r5} (JSON keeps keys in text order) as (N, recall) by N.
std::vector<std::pair<int, double>> RecallByN(const nlohmann::json& recall_at);

// Base64 of bytes (RFC 4648, padded), for data URIs.
std::string Base64(const std::string& bytes);

}  // namespace vpr
