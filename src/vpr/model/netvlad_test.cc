#include "vpr/model/netvlad.h"

#include <gtest/gtest.h>

#include <cmath>

#include "vpr/util/check.h"

namespace vpr {
namespace {

// The reference formulation: an explicit loop over clusters, as pytorch-NetVlad writes it.
torch::Tensor LoopNetVLAD(NetVLADImpl& layer, torch::Tensor x) {
  namespace F = torch::nn::functional;
  int64_t n = x.size(0), d = x.size(1), k = layer.options().num_clusters;
  x = F::normalize(x, F::NormalizeFuncOptions().dim(1));
  torch::Tensor assign = torch::softmax(layer.conv->forward(x).view({n, k, -1}), 1);
  torch::Tensor flat = x.view({n, d, -1});
  torch::Tensor vlad = torch::zeros({n, k, d});
  for (int64_t c = 0; c < k; ++c) {
    torch::Tensor residual = flat - layer.centroids[c].view({1, d, 1});
    vlad.select(1, c).copy_((residual * assign.select(1, c).unsqueeze(1)).sum(-1));
  }
  vlad = F::normalize(vlad, F::NormalizeFuncOptions().dim(2)).view({n, -1});
  return F::normalize(vlad, F::NormalizeFuncOptions().dim(1));
}

class NetVLADSizes : public ::testing::TestWithParam<std::tuple<int, bool>> {};

TEST_P(NetVLADSizes, VectorisedForwardEqualsTheClusterLoop) {
  auto [k, vladv2] = GetParam();
  torch::manual_seed(3);
  NetVLADOptions options;
  options.num_clusters = k;
  options.dim = 32;
  options.vladv2 = vladv2;
  NetVLAD layer(options);
  layer->InitRandom();
  torch::Tensor x = torch::randn({2, 32, 7, 9});
  torch::NoGradGuard no_grad;
  torch::Tensor fast = layer->forward(x), slow = LoopNetVLAD(*layer, x);
  ASSERT_EQ(fast.sizes(), (std::vector<int64_t>{2, k * 32}));
  EXPECT_LT((fast - slow).abs().max().item<double>(), 1e-6);
  EXPECT_LT((fast.norm(2, 1) - 1).abs().max().item<double>(), 1e-6);
}

INSTANTIATE_TEST_SUITE_P(KAndVersion, NetVLADSizes,
                         ::testing::Combine(::testing::Values(1, 16, 64), ::testing::Bool()));

TEST(NetVLAD, InitFromClustersV1UsesTheGapOfTheTwoMostSimilarCentroids) {
  NetVLADOptions options;
  options.num_clusters = 2;
  options.dim = 2;
  NetVLAD layer(options);
  // Centroids along x and y; samples whose dot products with them are (0.9, 0.1) and (0.3, 0.7):
  // gaps 0.8 and 0.4, mean 0.6, so alpha = -ln(0.01) / 0.6.
  torch::Tensor centroids = torch::tensor({{2.0f, 0.0f}, {0.0f, 3.0f}});
  torch::Tensor samples = torch::tensor({{0.9f, 0.1f}, {0.3f, 0.7f}});
  layer->InitFromClusters(centroids, samples);
  double alpha = -std::log(0.01) / 0.6;
  EXPECT_NEAR(layer->options().alpha, alpha, 1e-4);
  EXPECT_TRUE(torch::allclose(layer->centroids, centroids));
  torch::Tensor expected = torch::tensor({{1.0f, 0.0f}, {0.0f, 1.0f}}) * alpha;
  EXPECT_TRUE(torch::allclose(layer->conv->weight.view({2, 2}), expected, 1e-4));
  EXPECT_FALSE(layer->conv->bias.defined());
}

TEST(NetVLAD, InitFromClustersV2SetsWeightAndBiasFromAlpha) {
  NetVLADOptions options;
  options.num_clusters = 2;
  options.dim = 1;
  options.vladv2 = true;
  NetVLAD layer(options);
  // Centroid 0 at 0 with nearest samples at 1 and 2 (squared 1, 4: gap 3); centroid 1 at
  // 10 with samples 9 and 12 (squared 1, 4: gap 3). alpha = -ln(0.01) / 3.
  layer->InitFromClusters(torch::tensor({{0.0f}, {10.0f}}), torch::tensor({{1.0f}, {2.0f}, {9.0f}, {12.0f}}));
  double alpha = -std::log(0.01) / 3.0;
  EXPECT_NEAR(layer->options().alpha, alpha, 1e-4);
  EXPECT_NEAR(layer->conv->weight.view({2})[1].item<double>(), 2 * alpha * 10, 1e-3);
  EXPECT_NEAR(layer->conv->bias[1].item<double>(), -alpha * 10, 1e-3);
}

TEST(NetVLAD, WrongInputShapeIsRejectedWithTheExpectedShape) {
  NetVLADOptions options;
  options.num_clusters = 4;
  options.dim = 8;
  NetVLAD layer(options);
  try {
    layer->forward(torch::zeros({1, 16, 3, 3}));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("N x 8 x H x W"), std::string::npos) << e.what();
  }
}

TEST(NetVLAD, OptionsCheckNamesTheBadValue) {
  NetVLADOptions options;
  options.num_clusters = 0;
  EXPECT_THROW(options.Check(), Error);
}

}  // namespace
}  // namespace vpr
