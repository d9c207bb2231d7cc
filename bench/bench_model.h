// Set-up shared by the benchmarks of the public API (not measured): the checkpoint they
// load and a database of random places.
#pragma once

#include <torch/torch.h>

#include <cmath>
#include <string>
#include <vector>

#include "vpr/model/wpca_layer.h"
#include "vpr/model/model_io.h"
#include "vpr/place_database.h"

namespace vpr_bench {

// MobileNetV2 features[:17] with the ImageNet weights of ../shared, NetVLAD K=clusters,
// and, when dim > 0, a WPCA layer to dim with a seeded random projection (only its cost
// matters), saved at `path`.
inline std::string MakeBenchCheckpoint(const std::string& mobilenet_weights, int clusters, int dim,
                                       const std::string& path) {
  vpr::ModelFlags flags;
  flags.arch = "mobilenet_v2";
  flags.clusters = clusters;
  flags.normalize = "tf";
  vpr::VprModel model = vpr::LoadModel(mobilenet_weights, flags).model;
  if (dim > 0) {
    torch::manual_seed(0);
    const int64_t in = model->options().PooledDim();
    torch::Tensor weight = torch::randn({dim, in}) / std::sqrt(static_cast<double>(in));
    model = vpr::SetWpca(model, weight, torch::zeros({dim}));
  }
  vpr::SaveModel(path, model);
  return path;
}

// A database of `n` random L2-normalised places named "random I" (added through the API).
inline vpr::PlaceDatabase FilledDatabase(int dim, int n) {
  vpr::PlaceDatabase db(dim);
  torch::manual_seed(1);
  const int chunk = 4096;
  std::vector<float> row(static_cast<size_t>(dim));
  for (int start = 0; start < n; start += chunk) {
    const int rows = std::min(chunk, n - start);
    torch::Tensor x = torch::nn::functional::normalize(torch::randn({rows, dim}),
                                                       torch::nn::functional::NormalizeFuncOptions().dim(1))
                          .contiguous();
    for (int r = 0; r < rows; ++r) {
      const float* p = x[r].data_ptr<float>();
      row.assign(p, p + dim);
      db.Add(row, {"random " + std::to_string(start + r), 0.0, 0.0, static_cast<double>(start + r)});
    }
  }
  return db;
}

}  // namespace vpr_bench
