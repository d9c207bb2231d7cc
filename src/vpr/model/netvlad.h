// The NetVLAD pooling layer (Arandjelovic et al., CVPR 2016), equal to pytorch-NetVlad's:
// soft-assignment of local features to K clusters by a 1x1 convolution, residuals to the
// centroids weighted by the assignment, intra-normalisation, flattening, L2-normalisation.
// Parameters carry pytorch-NetVlad's names: centroids, conv.weight, conv.bias (vladv2).
#pragma once

#include <torch/torch.h>

namespace vpr {

struct NetVLADOptions {
  // Number of clusters K.
  int64_t num_clusters = 64;
  // Dimension D of the local features (channels of the backbone's output).
  int64_t dim = 512;
  // Softness of the assignment used when initialising from centroids.
  double alpha = 100.0;
  // L2-normalise each local feature across channels before pooling.
  bool normalize_input = true;
  // vladv2: the assignment convolution has a bias (pytorch-NetVlad's --vladv2).
  bool vladv2 = false;

  void Check() const;
};

class NetVLADImpl : public torch::nn::Module {
 public:
  explicit NetVLADImpl(const NetVLADOptions& options);

  // x: N x D x H x W local features. Returns N x (K*D), each row L2-normalised.
  torch::Tensor forward(torch::Tensor x);

  // Sets centroids and the assignment convolution as pytorch-NetVlad initialises them
  // from k-means centroids (K x D) and a sample of local features (M x D) used to pick
  // alpha: vladv1 from the gap between the two most similar normalised centroids,
  // vladv2 from the gap between the two nearest centroids' squared distances.
  void InitFromClusters(const torch::Tensor& centroids, const torch::Tensor& samples);

  // Random centroids (uniform [0,1), as pytorch-NetVlad's constructor) with the
  // assignment convolution derived from them with options().alpha.
  void InitRandom();

  const NetVLADOptions& options() const { return options_; }
  torch::Tensor centroids;
  torch::nn::Conv2d conv{nullptr};

 private:
  void SetAssignment(const torch::Tensor& centroids, double alpha);
  NetVLADOptions options_;
};
TORCH_MODULE(NetVLAD);

}  // namespace vpr
