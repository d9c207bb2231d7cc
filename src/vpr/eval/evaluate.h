// The evaluation core: descriptors of a dataset's database and queries in, the search and
// its scores out (recall and hits at N, the top-1 precision-recall curve, recall against
// descriptor size), typed, with no printing and no files. `vpr eval`, training's
// validation and `vpr demo` all score through it; app/eval_outputs.h writes what it gives.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "vpr/data/dataset.h"
#include "vpr/eval/precision_recall.h"
#include "vpr/eval/recall_vs_dim.h"
#include "vpr/index/faiss_index.h"
#include "vpr/index/knn.h"

namespace vpr {

// The descriptors of one side of a dataset (database or queries) that could be
// described: rows x dim, row-major, and the dataset index of each row. Images without a
// descriptor are simply absent; they never shift another row's index.
struct DescriptorRows {
  const float* data = nullptr;
  int64_t rows = 0;
  int64_t dim = 0;
  std::vector<int64_t> index;  // rows entries, ascending, each in [0, images on that side)
};

struct EvaluateOptions {
  // Database images retrieved per query.
  int top_k = 20;
  // N of recall@N; each at most top_k.
  std::vector<int> recall_at = {1, 5, 10, 20};
  // "Flat" + "l2" searches exactly on the descriptors in place (no copy); any other
  // factory string or "ip" builds that FAISS index over the database first.
  IndexOptions index;
  // Descriptor sizes of the recall-vs-dimension table (WPCA fitted on the database
  // descriptors; 0 = full size); empty: no table.
  std::vector<int64_t> pca_dims;
  void Check() const;  // throws vpr::UsageError naming the flag and its range
};

// How good one ranking is, over every dataset query (a query without a descriptor is a
// miss at every N and never an accepted top-1).
struct Scores {
  std::map<int, double> recall;  // N -> fraction of all queries with a positive in their top N
  std::map<int, int64_t> hits;   // N -> those queries, counted
  PrecisionRecall pr;            // of the top-1, the VPR-Bench way
};

struct EvalReport {
  int64_t num_database = 0, num_queries = 0;                // dataset images
  int64_t database_described = 0, queries_described = 0;  // ... that have a descriptor
  int64_t dim = 0;
  bool inner_product = false;  // distances are inner products (larger = closer)
  // One row per dataset query; ids are dataset database indices (-1 and +inf fill the
  // rows of queries without a descriptor, and the ends of short lists).
  KnnResult knn;
  std::vector<std::vector<int64_t>> positives;  // per dataset query, sorted
  std::vector<bool> described;                  // per dataset query
  Scores scores;
  std::vector<DimRecall> recall_vs_dim;  // empty unless options.pca_dims asks for it
  double search_seconds = 0;             // the search alone (not building a FAISS index)

  // Whether database image `id` is a positive of query q.
  bool IsPositive(int64_t q, int64_t id) const;
};

// Searches the database rows for the query rows and scores the result against the
// dataset's ground truth. Throws vpr::Error when the two sides disagree in dimension or a
// row's index is out of the dataset.
EvalReport Evaluate(const DescriptorRows& database, const DescriptorRows& queries, const Dataset& dataset,
                    const EvaluateOptions& options);

// The scores of any ranking of the dataset's queries (one reordered by re-ranking, say).
Scores Score(const KnnResult& knn, const std::vector<std::vector<int64_t>>& positives,
             const std::vector<int>& recall_at, bool inner_product);

// How the top-1s changed between two rankings of the same queries.
struct Top1Changes {
  int64_t changed = 0;      // queries whose first database image differs
  int64_t miss_to_hit = 0;  // ... from a wrong to a right one
  int64_t hit_to_miss = 0;  // ... from a right to a wrong one
};
Top1Changes CompareTop1(const KnnResult& before, const KnnResult& after,
                        const std::vector<std::vector<int64_t>>& positives);

}  // namespace vpr
