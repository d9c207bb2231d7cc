#include "vpr/index/pca.h"

#include <faiss/VectorTransform.h>
#include <faiss/utils/distances.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "vpr/index/faiss_error.h"
#include "vpr/util/check.h"
#include "vpr/util/logging.h"

namespace vpr {

void WpcaOptions::Check() const {
  VPR_CHECK_USAGE(out_dim > 0, "the WPCA dimension must be positive, got ", out_dim);
  VPR_CHECK_USAGE(epsilon >= 0, "the WPCA epsilon must be >= 0, got ", epsilon);
}

Wpca Wpca::Truncated(int64_t dim) const {
  VPR_CHECK(dim > 0 && dim <= out_dim, "cannot keep ", dim, " of ", out_dim, " WPCA components");
  Wpca out;
  out.in_dim = in_dim;
  out.out_dim = dim;
  out.weight.assign(weight.begin(), weight.begin() + dim * in_dim);
  out.bias.assign(bias.begin(), bias.begin() + dim);
  out.eigenvalues.assign(eigenvalues.begin(), eigenvalues.begin() + dim);
  out.mean = mean;
  return out;
}

std::vector<float> Wpca::Project(const float* x, int64_t n, bool normalize) const {
  faiss::LinearTransform transform(static_cast<int>(in_dim), static_cast<int>(out_dim), true);
  transform.A = weight;
  transform.b = bias;
  transform.is_trained = true;
  std::vector<float> y(n * out_dim);
  if (n == 0) return y;
  transform.apply_noalloc(n, x, y.data());
  if (normalize) faiss::fvec_renorm_L2(out_dim, n, y.data());
  return y;
}

namespace {

// Column means, accumulated in double.
std::vector<float> Mean(const float* x, int64_t n, int64_t dim) {
  std::vector<double> sum(dim, 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < dim; ++j) sum[j] += x[i * dim + j];
  std::vector<float> mean(dim);
  for (int64_t j = 0; j < dim; ++j) mean[j] = static_cast<float>(sum[j] / n);
  return mean;
}

// faiss' PCAMatrix gives unit eigenvectors (from the covariance, or from the Gram
// matrix when n < dim) and eigenvalues of the unnormalised scatter matrix; the
// whitening is ours, so it follows Patch-NetVLAD to the letter.
faiss::PCAMatrix Eigenvectors(const float* x, int64_t n, int64_t dim, int64_t out_dim,
                              const std::vector<float>& mean) {
  std::vector<float> centred;
  if (n >= dim) {
    // faiss forms the covariance as sum(x x^T) - n mean mean^T in float, which cancels
    // badly when the mean is large next to the spread: hand it centred rows.
    if (dim > 8192)
      Log().warn("WPCA: {} rows >= {} dims: diagonalising a {}x{} covariance ({:.1f} GB) will be slow; "
                 "fewer rows than dimensions use the much cheaper Gram-matrix route",
                 n, dim, dim, dim, 12.0 * dim * dim / 1e9);
    centred.resize(n * dim);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < dim; ++j) centred[i * dim + j] = x[i * dim + j] - mean[j];
    x = centred.data();
  }
  faiss::PCAMatrix pca(static_cast<int>(dim), static_cast<int>(out_dim), 0.0f, false);
  pca.max_points_per_d = std::numeric_limits<int>::max() / std::max<int64_t>(dim, 1);  // never subsample
  try {
    pca.train(n, x);
  } catch (const faiss::FaissException& e) {
    VPR_THROW("PCA of ", n, " x ", dim, " descriptors to ", out_dim, " dims failed: ", FaissReason(e));
  }
  return pca;
}

}  // namespace

Wpca FitWpca(const float* x, int64_t n, int64_t dim, const WpcaOptions& options) {
  options.Check();
  VPR_CHECK(options.out_dim < n, "WPCA to ", options.out_dim, " dims needs more than ", options.out_dim,
            " training descriptors (n rows give at most n - 1 components), got ", n,
            ": describe more images or lower the dimension");
  VPR_CHECK(options.out_dim <= dim, "WPCA cannot output ", options.out_dim, " dims from ", dim, "-d descriptors");
  Log().info("WPCA: {} descriptors of {} dims -> {} dims ({})", n, dim, options.out_dim,
             n < dim ? "Gram matrix" : "covariance");
  Wpca out;
  out.in_dim = dim;
  out.out_dim = options.out_dim;
  out.mean = Mean(x, n, dim);
  faiss::PCAMatrix pca = Eigenvectors(x, n, dim, options.out_dim, out.mean);
  out.weight.resize(out.out_dim * dim);
  out.bias.resize(out.out_dim);
  out.eigenvalues.resize(out.out_dim);
  for (int64_t i = 0; i < out.out_dim; ++i) {
    double lambda = std::max(0.0, static_cast<double>(pca.eigenvalues[i]) / static_cast<double>(n - 1));
    out.eigenvalues[i] = lambda;
    double scale = 1.0 / std::sqrt(lambda + options.epsilon);
    const float* u = pca.PCAMat.data() + i * dim;
    double b = 0.0;
    for (int64_t j = 0; j < dim; ++j) {
      out.weight[i * dim + j] = static_cast<float>(u[j] * scale);
      b -= static_cast<double>(out.weight[i * dim + j]) * out.mean[j];
    }
    out.bias[i] = static_cast<float>(b);
  }
  double smallest = out.eigenvalues.back(), largest = out.eigenvalues.front();
  if (!(smallest > 1e-7 * largest))
    Log().warn("WPCA: component {} has almost no variance ({:.3g} vs {:.3g} for the first): whitening will amplify "
               "noise; the descriptors span fewer than {} dims, lower the dimension",
               out.out_dim, smallest, largest, out.out_dim);
  return out;
}

}  // namespace vpr
