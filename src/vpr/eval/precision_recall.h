// Precision-recall of top-1 place matches, the VPR-Bench way: each query's top-1 is
// accepted when its retrieval score clears a threshold, and the threshold sweeps over
// every score that occurs.
#pragma once

#include <cstdint>
#include <vector>

#include "vpr/index/knn.h"

namespace vpr {

// One query's top-1 match.
struct Top1Match {
  // Retrieval score of the top-1, larger = more confident (negative L2 distance,
  // inner product). Ignored when !retrieved.
  double confidence = 0.0;
  // The top-1 is one of the query's positives.
  bool correct = false;
  // The query has at least one positive in the database.
  bool has_positive = true;
  // The query has a top-1 at all (false: its image could not be described); such a
  // query is never accepted but still counts in the recall denominator.
  bool retrieved = true;
};

// The curve after accepting every query whose confidence is >= threshold (tied scores
// are accepted together, so each point is a threshold that can actually be set).
struct PrPoint {
  double threshold = 0.0;
  int64_t accepted = 0;  // queries whose top-1 is accepted
  int64_t correct = 0;   // accepted queries whose top-1 is correct
  double precision = 0;  // correct / accepted
  double recall = 0;     // correct / queries with a positive
};

struct PrecisionRecall {
  std::vector<PrPoint> curve;  // by decreasing threshold: recall never decreases
  int64_t queries_with_positive = 0;
  // Sum over the curve of (recall_i - recall_{i-1}) * precision_i, recall_0 = 0: the
  // area under the step curve (scikit-learn's average_precision_score on these counts).
  double average_precision = 0;
  // The largest recall at a threshold where every accepted top-1 is correct (0 when the
  // most confident match is already wrong).
  double recall_at_full_precision = 0;
};

// Definition (as in the report): precision = correct accepted / accepted, recall =
// correct accepted / queries with a positive. A query without a positive can only be
// a false acceptance; at the lowest threshold recall equals recall@1 over the queries
// with a positive.
PrecisionRecall ComputePrecisionRecall(const std::vector<Top1Match>& matches);

// The top-1 of each query of a search: confidence = -distance for squared L2 distances,
// the distance itself when larger_is_closer (inner product). positives[q] is sorted.
std::vector<Top1Match> Top1Matches(const KnnResult& knn, const std::vector<std::vector<int64_t>>& positives,
                                   bool larger_is_closer);

}  // namespace vpr
