#include "vpr/train/frozen_features.h"

#include <algorithm>
#include <utility>

#include "vpr/util/check.h"

namespace vpr {

FrozenFeatureCache::FrozenFeatureCache(VprModel model, int64_t first_trained_layer, ResizeOptions resize,
                                       at::Device device, int64_t budget_bytes)
    : model_(std::move(model)), first_trained_layer_(first_trained_layer), resize_(resize), device_(device),
      budget_bytes_(budget_bytes) {
  VPR_CHECK(budget_bytes >= 0, "the frozen-feature cache budget must be >= 0 bytes, got ", budget_bytes);
}

at::Tensor FrozenFeatureCache::Get(const std::string& path) {
  auto it = kept_.find(path);
  if (it != kept_.end()) {
    ++hits_;
    return it->second.to(device_);
  }
  ++misses_;
  at::Tensor features = Compute(path);
  const int64_t bytes = features.numel() * static_cast<int64_t>(features.element_size());
  if (kept_bytes_ + bytes <= budget_bytes_) {
    // Kept in host memory: on a GPU the budget would otherwise compete with training.
    kept_.emplace(path, features.to(at::kCPU));
    kept_bytes_ += bytes;
  } else {
    ++over_budget_;
  }
  return features;
}

at::Tensor FrozenFeatureCache::Compute(const std::string& path) {
  at::Tensor image;
  try {
    image = LoadResizedImage(path, resize_);
  } catch (const std::exception& e) {
    VPR_THROW("training image '", path, "' cannot be read: ", e.what(),
              "; remove it from the dataset (vpr doctor lists unreadable images)");
  }
  torch::NoGradGuard no_grad;
  return model_->EncoderPrefix(image.unsqueeze(0).to(device_), first_trained_layer_);
}

torch::Tensor DescribeImages(VprModel& model, FrozenFeatureCache& cache, const std::vector<std::string>& paths) {
  std::vector<at::Tensor> features;
  features.reserve(paths.size());
  for (const auto& path : paths) features.push_back(cache.Get(path));
  const int64_t first = cache.first_trained_layer();
  bool same = std::all_of(features.begin(), features.end(),
                          [&](const at::Tensor& f) { return f.sizes() == features[0].sizes(); });
  if (same) return model->DescribeFrom(at::cat(features, 0), first);
  std::vector<torch::Tensor> rows;
  for (const auto& f : features) rows.push_back(model->DescribeFrom(f, first));
  return torch::cat(rows, 0);
}

}  // namespace vpr
