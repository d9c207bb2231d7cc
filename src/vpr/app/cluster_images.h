// `vpr cluster`: NetVLAD centroids for a model from a folder of images, as
// pytorch-NetVlad's cluster step: L2-normalised local features sampled image by image
// (never all decoded at once), k-means (or centroids the user gives), alpha from them.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "vpr/app/cluster.h"
#include "vpr/app/extract.h"

namespace vpr {

struct ClusterImagesOptions {
  // Sampling budget and k-means (iterations, seed; the seed also drives the sampling).
  ClusterOptions cluster;
  // Resize applied before the network, as extraction will use it.
  ResizeOptions resize;
  RuntimeOptions runtime;
  // K x D float32 .npy of centroids to use instead of k-means; "" = k-means. Samples
  // are still drawn: alpha (the assignment's softness) is derived from them.
  std::string centroids_path;
  void Check() const;
};

struct ClusterImagesResult {
  int64_t num_samples = 0;
  int64_t images_used = 0;
  std::vector<ExtractFailure> failures;  // images that could not be decoded, skipped
  std::string centroids;                 // "k-means" or the .npy path
  double alpha = 0.0;
  double seconds = 0.0;
  int threads = 0;                 // CPU threads the sampling ran with
  std::string precision = "fp32";  // precision of the local features
  // For the checkpoint: {"source": "vpr cluster", "num_samples", "images", "failed",
  // "failures", "centroids", "alpha", "seed", "iterations", "samples_per_image", ...}.
  nlohmann::json Info(const ClusterImagesOptions& options) const;
};

// Sets `model`'s NetVLAD centroids and assignment from the images at `paths`.
// Deterministic: the same images, model and options give identical parameters.
ClusterImagesResult ClusterImages(VprModel& model, const std::vector<std::string>& paths,
                                  const ClusterImagesOptions& options);

// Reads K x D centroids from a float32/float64 .npy and checks them against `model`.
at::Tensor ReadCentroids(const std::string& path, const VprModel& model);

}  // namespace vpr
