// The whole place-recognition network: input normalisation, backbone encoder, NetVLAD
// pooling and an optional PCA-whitening layer, with pytorch-NetVlad / Patch-NetVLAD
// parameter names (encoder.*, pool.*, WPCA.0.*).
#pragma once

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <string>

#include "vpr/model/backbone.h"
#include "vpr/model/netvlad.h"
#include "vpr/runtime/precision.h"

namespace vpr {

struct ModelOptions {
  BackboneOptions backbone;
  // How local features become one descriptor, with pytorch-NetVlad's names: "netvlad",
  // "avg" (global average pooling, L2-normalised) or "max" (global max pooling,
  // L2-normalised): the baselines NetVLAD is measured against.
  std::string pooling = "netvlad";
  // netvlad.dim is set from the backbone by Resolve(); K and vladv2 matter for "netvlad" only.
  NetVLADOptions netvlad;
  // Input normalisation of RGB in [0,1]: "imagenet" (torchvision mean/std) or "tf"
  // (mean = std = 0.5, i.e. [-1,1], Keras' "tf" mode; the MobileNetV2 weights in ../shared).
  std::string normalize = "imagenet";
  // Output dimension of the PCA-whitening layer; 0 = no such layer.
  int64_t wpca_dim = 0;

  // Fills derived fields (netvlad.dim) and checks everything; throws vpr::Error.
  void Resolve();
  void Check() const;
  bool IsNetVLAD() const { return pooling == "netvlad"; }
  // Length of the pooled descriptor: K * D for NetVLAD, D for avg and max.
  int64_t PooledDim() const;
  // Descriptor length: wpca_dim when set, else PooledDim().
  int64_t DescriptorDim() const;
  // One line for logs: "vgg16 cut 29 (512-d) + NetVLAD K=64 vladv1 -> 32768-d, normalize imagenet".
  std::string Describe() const;
  // The "vpr" entry of checkpoints (format_version, arch, cut, num_clusters, dim, ...).
  nlohmann::json ToJson() const;
};

class VprModelImpl : public torch::nn::Module {
 public:
  explicit VprModelImpl(ModelOptions options);

  // images: N x 3 x H x W, RGB in [0,1]. Returns N x DescriptorDim(), rows L2-normalised.
  torch::Tensor forward(torch::Tensor images);
  // The encoder's local features (N x D x h x w) of images in [0,1].
  torch::Tensor LocalFeatures(torch::Tensor images);
  // forward() in two parts, so training can keep the output of frozen layers:
  // forward(images) == DescribeFrom(EncoderPrefix(images, layer), layer) for any layer in
  // [0, encoder->size()]. EncoderPrefix normalises and runs encoder layers [0, end);
  // DescribeFrom runs layers [begin, size), NetVLAD and the WPCA layer.
  torch::Tensor EncoderPrefix(torch::Tensor images, int64_t end);
  torch::Tensor DescribeFrom(torch::Tensor x, int64_t begin);

  // Inference runs a copy of the encoder in `precision` and channels-last memory (oneDNN's
  // fast layout: 20% faster than NCHW for VGG16 in fp32, 2x in bf16), made from the current
  // weights and not registered, so state_dict, parameters and training see only `encoder`'s
  // fp32 weights. The encoder's output is cast back to fp32: NetVLAD and WPCA always run in
  // fp32 (also under autocast). Call again after the weights change.
  void PrepareInference(Precision precision);
  // Back to running `encoder` itself (training; or to free the copy).
  void ReleaseInference();
  // The precision of the inference copy; fp32 when there is none.
  Precision inference_precision() const { return precision_; }
  // Whether PrepareInference made a copy that is still held.
  bool inference_prepared() const { return static_cast<bool>(inference_encoder_); }

  const ModelOptions& options() const { return options_; }
  torch::nn::Sequential encoder{nullptr};
  NetVLAD pool{nullptr};  // null unless options().IsNetVLAD()
  torch::nn::Sequential wpca{nullptr};  // registered as "WPCA" when options.wpca_dim > 0

 private:
  // Encoder layers [begin, end), from the reduced-precision copy when there is one.
  torch::Tensor RunLayers(torch::Tensor x, int64_t begin, int64_t end);

  ModelOptions options_;
  Precision precision_ = Precision::kFp32;
  torch::nn::Sequential inference_encoder_{nullptr};  // PrepareInference's copy
  torch::Tensor mean_, std_;  // not registered: they are not part of the state_dict
};
TORCH_MODULE(VprModel);

}  // namespace vpr
