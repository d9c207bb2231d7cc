// report.html of `vpr eval`: one self-contained static page (thumbnails inlined as
// data URIs, the curves as inline SVG, a little inline JavaScript) that opens offline
// and can be mailed around. It shows the run (model, input, dataset, counts), recall@N
// and the top-1 precision-recall curve, sampled queries with misses first, and a table
// of every query that `report.html#filter=wrong` (or =correct, =all) filters.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "vpr/data/dataset.h"
#include "vpr/eval/precision_recall.h"
#include "vpr/index/knn.h"

namespace vpr {

struct ReportOptions {
  // Queries shown with their retrievals: misses at R@1 first (up to half the sample,
  // evenly spread), then hits spread evenly over the dataset.
  int sample_queries = 24;
  // Retrieved database images shown per sampled query.
  int thumbs_per_query = 5;
  // Height in pixels of the sampled queries' thumbnails (7 of 960x540 fit in 1280 px).
  int thumb_height = 80;
  // The table of all queries shows a query and a top-1 thumbnail per row, set as the
  // row scrolls into view: small, about 2 KB each.
  int table_thumb_height = 48;
  int table_thumb_quality = 60;
  // Above this many queries the table has no thumbnails (the page would pass ~10 MB).
  int64_t table_thumb_max_queries = 2000;
};

// metrics: metrics.json of the run (model, dataset, counts, recall, timings, pr_auc).
// Positions in `dataset` give how far the top-1 is from the query (metres or frames).
std::string RenderReportHtml(const Dataset& dataset, const KnnResult& knn,
                             const std::vector<std::vector<int64_t>>& positives, const nlohmann::json& metrics,
                             const ReportOptions& options = {});

// {"1": r1, "10": r10, "5": r5} (JSON keeps keys in text order) as (N, recall) by N.
std::vector<std::pair<int, double>> RecallByN(const nlohmann::json& recall_at);

// The step precision-recall curve as inline SVG (recall at 100% precision marked), and
// the page style, for other reports (vpr loops) that look like this one.
std::string PrecisionRecallSvg(const PrecisionRecall& pr, const std::string& id = "pr-curve");
const char* ReportStyle();
std::string HtmlEscape(const std::string& text);

// Base64 of bytes (RFC 4648, padded), for data URIs.
std::string Base64(const std::string& bytes);

}  // namespace vpr
