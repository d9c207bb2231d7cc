#include "vpr/eval/recall_vs_dim.h"

#include <algorithm>
#include <string>

#include "vpr/eval/recall.h"
#include "vpr/index/knn.h"
#include "vpr/index/pca.h"
#include "vpr/util/check.h"
#include "vpr/util/logging.h"

namespace vpr {

void RecallVsDimOptions::Check() const {
  VPR_CHECK_USAGE(!dims.empty(), "give at least one descriptor size to evaluate");
  for (int64_t d : dims) VPR_CHECK_USAGE(d >= 0, "descriptor sizes must be >= 0 (0 = full), got ", d);
  VPR_CHECK_USAGE(!recall_at.empty(), "give at least one N of recall@N");
  for (int n : recall_at) VPR_CHECK_USAGE(n > 0, "recall@N needs N > 0, got ", n);
  VPR_CHECK_USAGE(epsilon >= 0, "the WPCA epsilon must be >= 0, got ", epsilon);
}

namespace {

// The dims that can be evaluated (0 = full), warning about the others.
std::vector<int64_t> UsableDims(const std::vector<int64_t>& dims, int64_t n_db, int64_t dim) {
  std::vector<int64_t> usable;
  for (int64_t d : dims) {
    if (d == 0 || d == dim) {
      usable.push_back(0);
    } else if (d > dim) {
      Log().warn("recall vs dim: skipping {}: above the descriptors' {} dims", d, dim);
    } else if (d >= n_db) {
      Log().warn("recall vs dim: skipping {}: WPCA to {} dims needs more than {} database descriptors, there are {}",
                 d, d, d, n_db);
    } else {
      usable.push_back(d);
    }
  }
  return usable;
}

DimRecall Score(const float* db, int64_t n_db, const float* queries, int64_t n_q, int64_t dim,
                const std::vector<std::vector<int64_t>>& positives, const std::vector<int>& recall_at) {
  int64_t k = *std::max_element(recall_at.begin(), recall_at.end());
  KnnResult knn = ExactKnnL2(db, n_db, queries, n_q, dim, k);
  DimRecall row;
  row.dim = dim;
  row.bytes_per_descriptor = 4 * dim;
  row.recall = RecallAtN(knn, positives, recall_at);
  return row;
}

}  // namespace

std::vector<DimRecall> RecallVsDim(const float* db, int64_t n_db, const float* queries, int64_t n_q, int64_t dim,
                                   const std::vector<std::vector<int64_t>>& positives,
                                   const RecallVsDimOptions& options) {
  options.Check();
  VPR_CHECK(n_db > 0 && dim > 0, "recall vs dim needs database descriptors, got ", n_db, " x ", dim);
  VPR_CHECK(static_cast<int64_t>(positives.size()) == n_q, "ground truth has ", positives.size(),
            " queries but there are ", n_q, " query descriptors");
  std::vector<int64_t> dims = UsableDims(options.dims, n_db, dim);
  int64_t largest = dims.empty() ? 0 : *std::max_element(dims.begin(), dims.end());
  Wpca wpca;
  if (largest > 0) wpca = FitWpca(db, n_db, dim, {largest, options.epsilon});
  std::vector<DimRecall> rows;
  for (int64_t d : dims) {
    if (d == 0) {
      rows.push_back(Score(db, n_db, queries, n_q, dim, positives, options.recall_at));
    } else {
      Wpca kept = wpca.Truncated(d);
      std::vector<float> pdb = kept.Project(db, n_db), pq = kept.Project(queries, n_q);
      rows.push_back(Score(pdb.data(), n_db, pq.data(), n_q, d, positives, options.recall_at));
      rows.back().whitened = true;
    }
    std::string recall;
    for (const auto& [n, r] : rows.back().recall) recall += fmt::format(" R@{} {:.3f}", n, r);
    Log().info("recall vs dim: {} dims ({}, {} bytes):{}", rows.back().dim, d == 0 ? "full" : "WPCA",
               rows.back().bytes_per_descriptor, recall);
  }
  return rows;
}

}  // namespace vpr
