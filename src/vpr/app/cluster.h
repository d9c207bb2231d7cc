// NetVLAD centroid initialisation as pytorch-NetVlad does it: sample L2-normalised local
// features of database images, k-means them, derive the assignment from the centroids.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "vpr/app/extract.h"
#include "vpr/index/knn.h"
#include "vpr/model/vpr_model.h"

namespace vpr {

struct ClusterOptions {
  // Local features sampled per image (without replacement).
  int samples_per_image = 100;
  // Upper bound on all samples together.
  int64_t max_samples = 50000;
  KMeansOptions kmeans;
  void Check() const;
};

// Samples local features of images (3 x H x W in [0,1]) through the model's encoder:
// M x D, each row L2-normalised. Deterministic for a given seed.
at::Tensor SampleLocalFeatures(VprModel& model, const std::vector<at::Tensor>& images,
                               const ClusterOptions& options, const at::Device& device);

// Produces image `index` (3 x H x W in [0,1]) when the sampler needs it, so that a large
// set never sits decoded in memory; an undefined tensor skips the image (the loader
// records why). Samples equal those of the overload above for the same images and seed.
using ImageLoader = std::function<at::Tensor(size_t index)>;
at::Tensor SampleLocalFeatures(VprModel& model, size_t count, const ImageLoader& load, const ClusterOptions& options,
                               const at::Device& device);

// k-means on the samples, then model->pool->InitFromClusters(centroids, samples).
void InitNetVLADFromSamples(VprModel& model, const at::Tensor& samples, const ClusterOptions& options);

}  // namespace vpr
