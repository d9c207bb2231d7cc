#include "vpr/app/cluster.h"

#include <torch/torch.h>

#include "vpr/util/check.h"
#include "vpr/util/logging.h"
#include "vpr/util/progress.h"

namespace vpr {

void ClusterOptions::Check() const {
  VPR_CHECK_USAGE(samples_per_image > 0 && samples_per_image <= 1000000, "--samples-per-image must be in [1, 1000000], got ",
            samples_per_image);
  VPR_CHECK_USAGE(max_samples > 0 && max_samples <= 100000000, "--max-samples must be in [1, 100000000], got ", max_samples);
  kmeans.Check();
}

at::Tensor SampleLocalFeatures(VprModel& model, const std::vector<at::Tensor>& images,
                               const ClusterOptions& options, const at::Device& device) {
  return SampleLocalFeatures(model, images.size(), [&](size_t i) { return images[i]; }, options, device);
}

at::Tensor SampleLocalFeatures(VprModel& model, size_t count, const ImageLoader& load, const ClusterOptions& options,
                               const at::Device& device) {
  options.Check();
  VPR_CHECK(count > 0, "no images to sample local features from");
  model->to(device);
  model->eval();
  torch::NoGradGuard no_grad;
  at::Generator gen = at::detail::createCPUGenerator(options.kmeans.seed);
  int64_t per_image = std::min<int64_t>(options.samples_per_image,
                                        std::max<int64_t>(1, options.max_samples / static_cast<int64_t>(count)));
  std::vector<at::Tensor> samples;
  Progress progress("cluster: sampling", static_cast<int64_t>(count));
  for (size_t i = 0; i < count; ++i) {
    at::Tensor image = load(i);
    progress.Add();
    if (!image.defined()) continue;
    at::Tensor local = model->LocalFeatures(image.unsqueeze(0).to(device)).to(at::kCPU);  // 1 x D x h x w
    at::Tensor rows = local.flatten(2).squeeze(0).t();                                   // P x D
    rows = torch::nn::functional::normalize(rows, torch::nn::functional::NormalizeFuncOptions().dim(1));
    int64_t take = std::min<int64_t>(per_image, rows.size(0));
    at::Tensor pick = at::randperm(rows.size(0), gen, at::kLong).narrow(0, 0, take);
    samples.push_back(rows.index_select(0, pick));
  }
  progress.Finish();
  VPR_CHECK(!samples.empty(), "none of the ", count, " images could be read: no local features to sample");
  return at::cat(samples, 0).contiguous();
}

void InitNetVLADFromSamples(VprModel& model, const at::Tensor& samples, const ClusterOptions& options) {
  VPR_CHECK(model->pool, "k-means initialises NetVLAD, but this model pools with '", model->options().pooling, "'");
  int64_t k = model->options().netvlad.num_clusters, d = samples.size(1);
  VPR_CHECK(samples.size(0) >= k, "k-means needs at least K = ", k, " local features, got ", samples.size(0),
            ": use more images or more samples per image");
  at::Tensor s = samples.to(at::kFloat).contiguous();
  std::vector<float> centroids = KMeans(s.data_ptr<float>(), s.size(0), d, k, options.kmeans);
  at::Tensor c = at::from_blob(centroids.data(), {k, d}, at::kFloat).clone();
  model->pool->InitFromClusters(c, s);
  Log().info("NetVLAD initialised from k-means: {} clusters on {} local features, alpha {:.2f}", k, s.size(0),
             model->pool->options().alpha);
}

}  // namespace vpr
