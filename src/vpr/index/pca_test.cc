#include "vpr/index/pca.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "vpr/util/check.h"

namespace vpr {
namespace {

// n rows whose coordinate j has standard deviation scales[j] around a non-zero mean.
std::vector<float> Anisotropic(int64_t n, const std::vector<float>& scales, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> gauss;
  int64_t dim = static_cast<int64_t>(scales.size());
  std::vector<float> x(n * dim);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < dim; ++j) x[i * dim + j] = 3.0f + 0.5f * j + scales[j] * gauss(rng);
  return x;
}

// Covariance (sum over n - 1) of the projected rows, before normalisation.
std::vector<double> Covariance(const std::vector<float>& y, int64_t n, int64_t d) {
  std::vector<double> mean(d, 0.0), cov(d * d, 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t a = 0; a < d; ++a) mean[a] += y[i * d + a] / n;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t a = 0; a < d; ++a)
      for (int64_t b = 0; b < d; ++b) cov[a * d + b] += (y[i * d + a] - mean[a]) * (y[i * d + b] - mean[b]) / (n - 1);
  return cov;
}

void ExpectIdentityCovariance(const Wpca& wpca, const std::vector<float>& x, int64_t n, double tolerance) {
  std::vector<float> y = wpca.Project(x.data(), n, false);
  std::vector<double> cov = Covariance(y, n, wpca.out_dim);
  for (int64_t a = 0; a < wpca.out_dim; ++a)
    for (int64_t b = 0; b < wpca.out_dim; ++b)
      EXPECT_NEAR(cov[a * wpca.out_dim + b], a == b ? 1.0 : 0.0, tolerance) << a << "," << b;
  // The bias centres the training data.
  for (int64_t a = 0; a < wpca.out_dim; ++a) {
    double mean = 0;
    for (int64_t i = 0; i < n; ++i) mean += y[i * wpca.out_dim + a] / n;
    EXPECT_NEAR(mean, 0.0, 1e-3);
  }
}

TEST(Wpca, MoreRowsThanDimsWhitensAndFindsTheLargestAxes) {
  std::vector<float> scales = {0.1f, 4.0f, 0.2f, 2.0f, 0.3f, 1.0f, 0.05f, 0.4f};
  const int64_t n = 3000, dim = 8;
  std::vector<float> x = Anisotropic(n, scales, 1);
  WpcaOptions options;
  options.out_dim = 3;
  Wpca wpca = FitWpca(x.data(), n, dim, options);
  ASSERT_EQ(wpca.weight.size(), 3u * 8u);
  ExpectIdentityCovariance(wpca, x, n, 1e-3);
  // Components 0, 1, 2 are axes 1, 3, 5 (variances 16, 4, 1), in that order.
  const int axes[] = {1, 3, 5};
  for (int i = 0; i < 3; ++i) {
    EXPECT_NEAR(wpca.eigenvalues[i], scales[axes[i]] * scales[axes[i]], 0.1 * scales[axes[i]] * scales[axes[i]]);
    EXPECT_NEAR(std::abs(wpca.weight[i * dim + axes[i]]) * std::sqrt(wpca.eigenvalues[i]), 1.0, 1e-2);
  }
  EXPECT_NEAR(wpca.mean[3], 3.0 + 1.5, 0.2);
}

TEST(Wpca, FewerRowsThanDimsUsesTheGramMatrixAndStillWhitens) {
  const int64_t n = 60, dim = 500;
  std::vector<float> scales(dim);
  for (int64_t j = 0; j < dim; ++j) scales[j] = 1.0f / (1.0f + j % 37);
  std::vector<float> x = Anisotropic(n, scales, 2);
  WpcaOptions options;
  options.out_dim = 40;
  Wpca wpca = FitWpca(x.data(), n, dim, options);
  ExpectIdentityCovariance(wpca, x, n, 1e-2);
  for (int64_t i = 1; i < wpca.out_dim; ++i) EXPECT_GE(wpca.eigenvalues[i - 1], wpca.eigenvalues[i]);
  // Each row of W is a unit eigenvector scaled by 1 / sqrt(lambda + eps).
  for (int64_t i = 0; i < wpca.out_dim; ++i) {
    double norm2 = 0;
    for (int64_t j = 0; j < dim; ++j) norm2 += wpca.weight[i * dim + j] * wpca.weight[i * dim + j];
    EXPECT_NEAR(norm2 * (wpca.eigenvalues[i] + 1e-9), 1.0, 1e-3);
  }
  // Projections are L2-normalised by default, as the WPCA layer's L2Norm.
  std::vector<float> y = wpca.Project(x.data(), 2);
  double norm2 = 0;
  for (int64_t a = 0; a < wpca.out_dim; ++a) norm2 += y[a] * y[a];
  EXPECT_NEAR(norm2, 1.0, 1e-5);
}

TEST(Wpca, TruncatingEqualsFittingAtTheSmallerDim) {
  const int64_t n = 50, dim = 120;
  std::vector<float> scales(dim);
  for (int64_t j = 0; j < dim; ++j) scales[j] = 5.0f / (1.0f + j);
  std::vector<float> x = Anisotropic(n, scales, 3);
  WpcaOptions big, small;
  big.out_dim = 30;
  small.out_dim = 10;
  Wpca truncated = FitWpca(x.data(), n, dim, big).Truncated(10);
  Wpca direct = FitWpca(x.data(), n, dim, small);
  std::vector<float> a = truncated.Project(x.data(), n), b = direct.Project(x.data(), n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < 10; ++c)  // eigenvector signs are arbitrary
      EXPECT_NEAR(std::abs(a[i * 10 + c]), std::abs(b[i * 10 + c]), 1e-3);
}

TEST(Wpca, OutDimMustBeBelowTheNumberOfRows) {
  std::vector<float> x = Anisotropic(20, std::vector<float>(100, 1.0f), 4);
  WpcaOptions options;
  options.out_dim = 20;
  try {
    FitWpca(x.data(), 20, 100, options);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("n - 1 components"), std::string::npos) << e.what();
  }
  options.out_dim = 19;
  EXPECT_EQ(FitWpca(x.data(), 20, 100, options).out_dim, 19);
}

}  // namespace
}  // namespace vpr
