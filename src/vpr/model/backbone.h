// CNN backbones in torchvision's layout, cut and wrapped as pytorch-NetVlad wraps them:
// `encoder` = the backbone's layers in sequence, so parameter names read encoder.<i>.*.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

namespace vpr {

struct BackboneOptions {
  // vgg16 | mobilenet_v2 | resnet18 | resnet50.
  std::string arch = "vgg16";
  // Number of the backbone's top-level layers kept in the encoder; 0 = the default cut:
  // vgg16 29 (conv5_3, without its ReLU and the last max-pool, 512-d);
  // mobilenet_v2 17 (features[:17], 160-d at stride 32; 18 gives 320-d, 19 gives 1280-d);
  // resnet18/resnet50 8 (after layer4; 7 = after layer3).
  int cut = 0;
  // TensorFlow "SAME" padding on stride-2 convolutions (pad 0 top/left, 1 bottom/right
  // on even sizes), as the MobileNetV2 ImageNet weights in ../shared were trained.
  bool tf_padding = false;

  // Throws vpr::Error for an unknown arch or an out-of-range cut.
  void Check() const;
  // The cut with 0 replaced by the arch's default.
  int ResolvedCut() const;
  // Channels of the encoder's output for this arch and cut.
  int64_t OutputDim() const;
};

// The architectures vpr builds, for messages and --help.
const std::vector<std::string>& SupportedArchs();

// Builds the encoder with torchvision's random initialisation (seed with torch::manual_seed).
torch::nn::Sequential MakeEncoder(const BackboneOptions& options);

// Maps a key of a torchvision state_dict (features.3.conv.0.0.weight, layer2.0.bn1.bias, ...)
// to the encoder's key without the "encoder." prefix; returns "" for keys outside the cut
// (classifier, fc, layers after the cut).
std::string TorchvisionKeyToEncoderKey(const BackboneOptions& options, const std::string& key);

}  // namespace vpr
