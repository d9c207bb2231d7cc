// Recall against descriptor size: PCA-whitening fitted on the database descriptors,
// cut to each size asked for, and exact recall@N at each (the table of vpr eval --pca-dims).
#pragma once

#include <cstdint>
#include <map>
#include <vector>

namespace vpr {

struct RecallVsDimOptions {
  // Descriptor sizes to try; 0 (or the input dim) = the full descriptors, unprojected.
  // Dims above the input dim, or not below the number of database rows, are skipped
  // with a warning.
  std::vector<int64_t> dims = {0, 4096, 1024, 512, 256, 128};
  // N of recall@N.
  std::vector<int> recall_at = {1, 5, 10, 20};
  // Added to the eigenvalues before whitening, as in Patch-NetVLAD.
  double epsilon = 1e-9;
  void Check() const;
};

struct DimRecall {
  int64_t dim = 0;
  int64_t bytes_per_descriptor = 0;  // 4 * dim: float32
  bool whitened = false;             // false for the full descriptors
  std::map<int, double> recall;      // N -> recall@N in [0, 1]
};

// Fits WPCA on the database once (at the largest dim asked), then for each dim keeps
// the first d components (largest eigenvalues), projects and L2-normalises database and
// queries, searches exactly (L2) and scores recall@N. db: n_db x dim, queries:
// n_q x dim, row-major; positives[q]: database rows correct for query q.
// Rows come back in the order of options.dims, skipped dims left out.
std::vector<DimRecall> RecallVsDim(const float* db, int64_t n_db, const float* queries, int64_t n_q, int64_t dim,
                                   const std::vector<std::vector<int64_t>>& positives,
                                   const RecallVsDimOptions& options);

}  // namespace vpr
