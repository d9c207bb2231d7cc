#include "vpr/eval/evaluate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "vpr/eval/recall.h"
#include "vpr/util/check.h"

namespace vpr {

void EvaluateOptions::Check() const {
  VPR_CHECK_USAGE(top_k > 0 && top_k <= 100000, "--top-k must be in [1, 100000], got ", top_k);
  VPR_CHECK_USAGE(!recall_at.empty(), "--recall-at needs at least one N");
  for (int n : recall_at)
    VPR_CHECK_USAGE(n > 0 && n <= top_k, "--recall-at ", n, " must be between 1 and --top-k (", top_k,
                    "): raise --top-k or drop it");
  for (int64_t d : pca_dims) VPR_CHECK_USAGE(d >= 0, "--pca-dims must be sizes >= 0 (0 = full), got ", d);
  index.Check();
}

bool EvalReport::IsPositive(int64_t q, int64_t id) const {
  return std::binary_search(positives[q].begin(), positives[q].end(), id);
}

namespace {

void CheckRows(const DescriptorRows& rows, int64_t images, const char* side) {
  VPR_CHECK(static_cast<int64_t>(rows.index.size()) == rows.rows, "internal: ", rows.rows, " ", side,
            " descriptors but ", rows.index.size(), " dataset indices");
  VPR_CHECK(rows.rows == 0 || rows.data != nullptr, "internal: ", side, " descriptors without data");
  for (size_t r = 0; r < rows.index.size(); ++r)
    VPR_CHECK(rows.index[r] >= 0 && rows.index[r] < images && (r == 0 || rows.index[r] > rows.index[r - 1]),
              "internal: ", side, " descriptor row ", r, " claims dataset index ", rows.index[r], " of ", images,
              " (indices must ascend)");
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Top-k over the described rows, then one row per dataset query with dataset indices.
KnnResult Search(const DescriptorRows& db, const DescriptorRows& q, int64_t num_queries, int64_t k,
                 const IndexOptions& index, double* seconds) {
  KnnResult rows;
  auto start = std::chrono::steady_clock::now();
  if (index.factory == "Flat" && index.metric == "l2") {
    rows = ExactKnnL2(db.data, db.rows, q.data, q.rows, db.dim, k);
  } else {
    FaissIndex built = FaissIndex::Build(db.data, db.rows, db.dim, index);
    built.SetSearchParams(index.nprobe, index.hnsw_ef_search);
    start = std::chrono::steady_clock::now();  // time the search, not the build
    rows = built.Search(q.data, q.rows, q.dim, k);
  }
  *seconds = SecondsSince(start);
  KnnResult full;
  full.num_queries = num_queries;
  full.k = k;
  full.ids.assign(num_queries * k, -1);
  full.distances.assign(num_queries * k, std::numeric_limits<float>::infinity());
  for (int64_t r = 0; r < rows.num_queries; ++r) {
    for (int64_t j = 0; j < k; ++j) {
      const int64_t id = rows.id(r, j);
      full.ids[q.index[r] * k + j] = id < 0 ? -1 : db.index[id];
      full.distances[q.index[r] * k + j] = rows.distance(r, j);
    }
  }
  return full;
}

// The table over the described rows, scaled to all dataset queries: a query without a
// descriptor is a miss at every size.
std::vector<DimRecall> RecallVsDimension(const DescriptorRows& db, const DescriptorRows& q, int64_t num_queries,
                                         const std::vector<std::vector<int64_t>>& positives,
                                         const EvaluateOptions& options) {
  std::vector<int64_t> row_of(db.index.empty() ? 0 : db.index.back() + 1, -1);
  for (size_t r = 0; r < db.index.size(); ++r) row_of[db.index[r]] = static_cast<int64_t>(r);
  std::vector<std::vector<int64_t>> row_positives;
  for (int64_t i : q.index) {
    row_positives.emplace_back();
    for (int64_t j : positives[i])
      if (j < static_cast<int64_t>(row_of.size()) && row_of[j] >= 0) row_positives.back().push_back(row_of[j]);
  }
  RecallVsDimOptions dim_options;
  dim_options.dims = options.pca_dims;
  dim_options.recall_at = options.recall_at;
  std::vector<DimRecall> table = RecallVsDim(db.data, db.rows, q.data, q.rows, db.dim, row_positives, dim_options);
  const double described = static_cast<double>(q.rows) / std::max<int64_t>(1, num_queries);
  for (DimRecall& row : table)
    for (auto& [n, r] : row.recall) r *= described;
  return table;
}

}  // namespace

Scores Score(const KnnResult& knn, const std::vector<std::vector<int64_t>>& positives,
             const std::vector<int>& recall_at, bool inner_product) {
  Scores s;
  s.recall = RecallAtN(knn, positives, recall_at);
  for (const auto& [n, r] : s.recall) s.hits[n] = std::llround(r * knn.num_queries);
  s.pr = ComputePrecisionRecall(Top1Matches(knn, positives, inner_product));
  return s;
}

EvalReport Evaluate(const DescriptorRows& database, const DescriptorRows& queries, const Dataset& dataset,
                    const EvaluateOptions& options) {
  options.Check();
  EvalReport report;
  report.num_database = static_cast<int64_t>(dataset.database.size());
  report.num_queries = static_cast<int64_t>(dataset.queries.size());
  CheckRows(database, report.num_database, "database");
  CheckRows(queries, report.num_queries, "query");
  VPR_CHECK(database.rows > 0, "none of the ", report.num_database, " database images could be described");
  VPR_CHECK(queries.rows == 0 || queries.dim == database.dim, "query descriptors are ", queries.dim,
            "-d but database descriptors ", database.dim, "-d: describe both with the same model");
  report.database_described = database.rows;
  report.queries_described = queries.rows;
  report.dim = database.dim;
  report.inner_product = options.index.metric == "ip";
  report.knn = Search(database, queries, report.num_queries, options.top_k, options.index, &report.search_seconds);
  report.positives = DatasetPositives(dataset);
  report.described.assign(report.num_queries, false);
  for (int64_t i : queries.index) report.described[i] = true;
  report.scores = Score(report.knn, report.positives, options.recall_at, report.inner_product);
  if (!options.pca_dims.empty() && queries.rows > 0)
    report.recall_vs_dim = RecallVsDimension(database, queries, report.num_queries, report.positives, options);
  return report;
}

Top1Changes CompareTop1(const KnnResult& before, const KnnResult& after,
                        const std::vector<std::vector<int64_t>>& positives) {
  VPR_CHECK(before.num_queries == after.num_queries && after.num_queries == static_cast<int64_t>(positives.size()),
            "internal: comparing rankings of ", before.num_queries, " and ", after.num_queries, " queries");
  Top1Changes c;
  for (int64_t q = 0; q < after.num_queries; ++q) {
    if (before.k == 0 || after.k == 0 || before.id(q, 0) == after.id(q, 0)) continue;
    const auto& p = positives[q];
    const bool was = std::binary_search(p.begin(), p.end(), before.id(q, 0));
    const bool is = std::binary_search(p.begin(), p.end(), after.id(q, 0));
    ++c.changed;
    c.miss_to_hit += !was && is;
    c.hit_to_miss += was && !is;
  }
  return c;
}

}  // namespace vpr
