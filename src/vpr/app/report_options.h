// What report.html (report_html.h) shows of an evaluation: how many sampled queries, and
// the sizes of their thumbnails.
#pragma once

#include <cstdint>

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

}  // namespace vpr
