// PCA-whitening in the model and in the evaluation: put a fitted WPCA layer into a
// model (what Patch-NetVLAD's add_pca.py does), and measure recall against the
// descriptor size the layer buys.
#pragma once

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <vector>

#include "vpr/index/pca.h"
#include "vpr/model/vpr_model.h"

namespace vpr {

// A copy of `model` (same weights; options.wpca_dim = out_dim) whose WPCA.0 layer has
// `weight` (out_dim x K*D, or out_dim x K*D x 1 x 1) and `bias` (out_dim). A WPCA layer
// already in `model` is replaced. The copy is on the CPU, in eval mode.
VprModel SetWpca(VprModel& model, const at::Tensor& weight, const at::Tensor& bias);
VprModel SetWpca(VprModel& model, const Wpca& wpca);

// A copy of `model` without its WPCA layer: what produces the K*D-d descriptors to fit on.
VprModel WithoutWpca(VprModel& model);

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
  // {"dim", "bytes_per_descriptor", "whitened", "recall_at": {"1": r, ...}}
  nlohmann::json ToJson() const;
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
