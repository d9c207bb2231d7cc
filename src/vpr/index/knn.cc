#include "vpr/index/knn.h"

#include <faiss/Clustering.h>
#include <faiss/IndexFlat.h>
#include <faiss/utils/distances.h>

#include <limits>

#include "vpr/util/check.h"
#include "vpr/util/npy.h"

namespace vpr {

KnnResult ExactKnnL2(const float* database, int64_t n_db, const float* queries, int64_t n_q, int64_t dim,
                     int64_t k) {
  VPR_CHECK(dim > 0 && k > 0, "k-NN needs dim > 0 and k > 0 (dim ", dim, ", k ", k, ")");
  VPR_CHECK(n_db > 0, "the database is empty: nothing to search");
  const int64_t bad_db = FirstNonFiniteRow(database, n_db, dim), bad_q = FirstNonFiniteRow(queries, n_q, dim);
  VPR_CHECK(bad_db < 0, "database descriptor ", bad_db, " holds NaN or infinite values; it would never be found");
  VPR_CHECK(bad_q < 0, "query descriptor ", bad_q, " holds NaN or infinite values: it has no nearest neighbours");
  KnnResult result;
  result.num_queries = n_q;
  result.k = k;
  result.ids.assign(n_q * k, -1);
  result.distances.assign(n_q * k, std::numeric_limits<float>::infinity());
  if (n_q == 0) return result;
  faiss::float_maxheap_array_t heaps{static_cast<size_t>(n_q), static_cast<size_t>(k), result.ids.data(),
                                     result.distances.data()};
  faiss::knn_L2sqr(queries, database, dim, n_q, n_db, &heaps);
  return result;
}

void KMeansOptions::Check() const {
  VPR_CHECK_USAGE(iterations > 0, "k-means iterations must be positive, got ", iterations);
}

std::vector<float> KMeans(const float* points, int64_t n, int64_t dim, int64_t k, const KMeansOptions& options) {
  options.Check();
  VPR_CHECK(n >= k, "k-means needs at least as many points as clusters: ", n, " points, ", k, " clusters");
  faiss::ClusteringParameters params;
  params.niter = options.iterations;
  params.seed = static_cast<int>(options.seed);
  params.verbose = false;
  // Use every point given: the caller already sampled (faiss would subsample silently).
  params.max_points_per_centroid = static_cast<int>((n + k - 1) / k);
  faiss::Clustering clustering(dim, k, params);
  faiss::IndexFlatL2 index(dim);
  clustering.train(n, points, index);
  return clustering.centroids;
}

}  // namespace vpr
