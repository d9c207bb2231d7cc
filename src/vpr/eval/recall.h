// Recall@N: the fraction of queries with at least one true positive among their top N.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "vpr/data/dataset.h"
#include "vpr/index/knn.h"

namespace vpr {

// positives[q]: database indices that are correct for query q. Queries with no
// positive count as failures (they are a dataset problem that `vpr doctor` reports).
// Returns N -> recall in [0,1] for each N in `ns`.
std::map<int, double> RecallAtN(const KnnResult& result, const std::vector<std::vector<int64_t>>& positives,
                                const std::vector<int>& ns);

// Positives by position: database j is a positive of query q when the Euclidean
// distance of their (easting, northing) is at most radius. Positions: n x 2, row-major.
std::vector<std::vector<int64_t>> PositivesWithinRadius(const std::vector<double>& db_positions,
                                                        const std::vector<double>& query_positions,
                                                        double radius);

// The positives of every query of `dataset`, sorted: its listed ones
// (Dataset::explicit_positives), else those within positive_radius. What eval, training
// validation and `vpr doctor` score against.
std::vector<std::vector<int64_t>> DatasetPositives(const Dataset& dataset);

}  // namespace vpr
