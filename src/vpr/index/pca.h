// PCA-whitening (WPCA) of global descriptors, as Patch-NetVLAD's add_pca.py (after
// relja_PCA.m of NetVLAD): y = normalize(W x + b), W = diag(1 / sqrt(lambda + eps)) U^T,
// b = -W mean, where U holds the top eigenvectors of the covariance (sum over n - 1) and
// lambda their eigenvalues. W and b are the weight and bias of the Conv2d(D, out_dim, 1)
// stored as WPCA.0.weight / WPCA.0.bias.
#pragma once

#include <cstdint>
#include <vector>

namespace vpr {

struct WpcaOptions {
  // Output dimension (number of principal components kept). Must be < the number of
  // training rows (n rows span at most n - 1 directions once centred) and <= dim.
  int64_t out_dim = 512;
  // Added to each eigenvalue before whitening (Patch-NetVLAD: 1e-9).
  double epsilon = 1e-9;
  void Check() const;
};

struct Wpca {
  int64_t in_dim = 0;
  int64_t out_dim = 0;
  std::vector<float> weight;        // out_dim x in_dim, row-major; row i = component i / sqrt(lambda_i + eps)
  std::vector<float> bias;          // out_dim: -weight * mean
  std::vector<double> eigenvalues;  // out_dim, descending: variance along each kept component
  std::vector<float> mean;          // in_dim: mean of the training rows

  // The first `dim` components (top eigenvalues): exactly what fitting at `dim` gives.
  Wpca Truncated(int64_t dim) const;
  // y = W x + b for n rows of in_dim floats (row-major), L2-normalised when `normalize`.
  std::vector<float> Project(const float* x, int64_t n, bool normalize = true) const;
};

// Fits WPCA on n x dim row-major descriptors. When n < dim it diagonalises the n x n
// Gram matrix instead of the dim x dim covariance (the trick of relja_PCA.m), so NetVLAD's
// 32768-d descriptors of a few thousand images are cheap.
Wpca FitWpca(const float* x, int64_t n, int64_t dim, const WpcaOptions& options);

}  // namespace vpr
