#include "vpr/model/netvlad.h"

#include <cmath>

#include "vpr/util/check.h"

namespace vpr {

void NetVLADOptions::Check() const {
  VPR_CHECK_USAGE(num_clusters > 0, "NetVLAD needs at least one cluster, got --clusters ", num_clusters);
  VPR_CHECK_USAGE(dim > 0, "NetVLAD feature dimension must be positive, got ", dim);
  VPR_CHECK_USAGE(alpha > 0, "NetVLAD alpha must be positive, got ", alpha);
}

NetVLADImpl::NetVLADImpl(const NetVLADOptions& options) : options_(options) {
  options_.Check();
  centroids = register_parameter("centroids", torch::rand({options_.num_clusters, options_.dim}));
  conv = register_module(
      "conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(options_.dim, options_.num_clusters, 1)
                                    .bias(options_.vladv2)));
}

torch::Tensor NetVLADImpl::forward(torch::Tensor x) {
  VPR_CHECK(x.dim() == 4 && x.size(1) == options_.dim, "NetVLAD expects N x ", options_.dim,
            " x H x W features, got ", x.sizes());
  const int64_t n = x.size(0), d = x.size(1), k = options_.num_clusters;
  if (options_.normalize_input) x = torch::nn::functional::normalize(x, torch::nn::functional::NormalizeFuncOptions().dim(1));
  // N x K x P soft-assignment over clusters.
  torch::Tensor assign = torch::softmax(conv->forward(x).view({n, k, -1}), 1);
  torch::Tensor flat = x.view({n, d, -1});  // N x D x P
  // sum_p a[k,p] (x[:,p] - c[k]) = (A X^T)[k] - c[k] * sum_p a[k,p]: one matmul instead of
  // a K x D x P residual tensor, so memory stays O(K*D + K*P) for large images.
  torch::Tensor vlad = torch::bmm(assign, flat.transpose(1, 2)) -
                       centroids.unsqueeze(0) * assign.sum(2).unsqueeze(2);
  namespace F = torch::nn::functional;
  vlad = F::normalize(vlad, F::NormalizeFuncOptions().dim(2));  // intra-normalisation
  vlad = vlad.reshape({n, -1});
  return F::normalize(vlad, F::NormalizeFuncOptions().dim(1));
}

void NetVLADImpl::SetAssignment(const torch::Tensor& c, double alpha) {
  torch::NoGradGuard no_grad;
  centroids.copy_(c);
  if (options_.vladv2) {
    conv->weight.copy_((2.0 * alpha * c).unsqueeze(-1).unsqueeze(-1));
    conv->bias.copy_(-alpha * c.norm(2, 1));
  } else {
    torch::Tensor unit = torch::nn::functional::normalize(c, torch::nn::functional::NormalizeFuncOptions().dim(1));
    conv->weight.copy_((alpha * unit).unsqueeze(-1).unsqueeze(-1));
  }
}

void NetVLADImpl::InitRandom() { SetAssignment(torch::rand_like(centroids), options_.alpha); }

void NetVLADImpl::InitFromClusters(const torch::Tensor& clusters, const torch::Tensor& samples) {
  VPR_CHECK(clusters.dim() == 2 && clusters.size(0) == options_.num_clusters &&
                clusters.size(1) == options_.dim,
            "centroids must be ", options_.num_clusters, " x ", options_.dim, ", got ", clusters.sizes());
  VPR_CHECK(samples.dim() == 2 && samples.size(1) == options_.dim && samples.size(0) > 0,
            "local feature samples must be M x ", options_.dim, ", got ", samples.sizes());
  torch::NoGradGuard no_grad;
  torch::Tensor c = clusters.to(torch::kFloat), s = samples.to(torch::kFloat);
  double gap;
  if (options_.vladv2) {
    // Squared distances from each centroid to its two nearest samples (pytorch-NetVlad
    // squares the neighbour indices here, an evident slip; we use the distances).
    torch::Tensor d2 = torch::cdist(c, s).pow(2);
    torch::Tensor two = std::get<0>(d2.topk(2, 1, /*largest=*/false, /*sorted=*/true));
    gap = (two.select(1, 1) - two.select(1, 0)).mean().item<double>();
  } else {
    namespace F = torch::nn::functional;
    torch::Tensor dots = torch::matmul(F::normalize(c, F::NormalizeFuncOptions().dim(1)), s.t());
    torch::Tensor two = std::get<0>(dots.topk(std::min<int64_t>(2, dots.size(0)), 0));
    gap = (two.select(0, 0) - two.select(0, two.size(0) - 1)).mean().item<double>();
  }
  VPR_CHECK(gap > 0 && std::isfinite(gap), "cannot derive NetVLAD alpha: centroids are degenerate (gap ", gap, ")");
  double alpha = -std::log(0.01) / gap;
  options_.alpha = alpha;
  SetAssignment(c, alpha);
}

}  // namespace vpr
