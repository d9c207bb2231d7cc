// The output of the frozen part of the network (input normalisation and the encoder
// layers before the first trained one) per training image, kept in memory. Those layers
// never change during training (no gradients, BatchNorm in eval mode, no augmentation),
// so once an image has been through them every later tuple and mining refresh runs only
// the trained layers on it, and the image is decoded once. For MobileNetV2 with its last
// stage trained that is most of the network's work.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <unordered_map>

#include "vpr/image/image_io.h"
#include "vpr/model/vpr_model.h"

namespace vpr {

class FrozenFeatureCache {
 public:
  // first_trained_layer: encoder index where training starts (FirstTrainedEncoderLayer);
  // budget_bytes: memory kept at most; an image that does not fit any more is recomputed
  // at each use (0 = keep none, every use recomputes).
  FrozenFeatureCache(VprModel model, int64_t first_trained_layer, ResizeOptions resize, at::Device device,
                     int64_t budget_bytes);

  // 1 x C x h x w on the device: EncoderPrefix of the decoded, resized image, computed
  // alone (batch of 1), so it is the same whenever it is computed. Throws vpr::Error
  // naming the image when it cannot be read.
  at::Tensor Get(const std::string& path);

  int64_t first_trained_layer() const { return first_trained_layer_; }
  int64_t hits() const { return hits_; }
  int64_t misses() const { return misses_; }
  int64_t kept_images() const { return static_cast<int64_t>(kept_.size()); }
  int64_t kept_bytes() const { return kept_bytes_; }
  // Images computed but not kept because the budget was full.
  int64_t over_budget() const { return over_budget_; }

 private:
  at::Tensor Compute(const std::string& path);

  VprModel model_;
  int64_t first_trained_layer_;
  ResizeOptions resize_;
  at::Device device_;
  int64_t budget_bytes_;
  std::unordered_map<std::string, at::Tensor> kept_;
  int64_t kept_bytes_ = 0, hits_ = 0, misses_ = 0, over_budget_ = 0;
};

// The trained layers on the frozen features of `paths`: N x DescriptorDim(), with the
// graph for backward when gradients are enabled. One batch when the features share a size.
torch::Tensor DescribeImages(VprModel& model, FrozenFeatureCache& cache, const std::vector<std::string>& paths);

}  // namespace vpr
