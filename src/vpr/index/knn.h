// Exact nearest-neighbour search and k-means through FAISS, on caller-owned arrays
// (no copy of the database is made).
#pragma once

#include <cstdint>
#include <vector>

namespace vpr {

// Top-k neighbours of each query, row-major num_queries x k. Rows with fewer than k
// database entries are padded with id -1 and distance +inf.
struct KnnResult {
  int64_t num_queries = 0;
  int64_t k = 0;
  std::vector<int64_t> ids;       // num_queries * k database indices, nearest first
  std::vector<float> distances;   // squared L2 distances, same layout

  int64_t id(int64_t query, int64_t rank) const { return ids[query * k + rank]; }
  float distance(int64_t query, int64_t rank) const { return distances[query * k + rank]; }
};

// Exact squared-L2 k-NN. database: n_db x dim, queries: n_q x dim, both row-major.
KnnResult ExactKnnL2(const float* database, int64_t n_db, const float* queries, int64_t n_q,
                     int64_t dim, int64_t k);

struct KMeansOptions {
  // Number of Lloyd iterations (pytorch-NetVlad's faiss.Kmeans uses 100).
  int iterations = 100;
  // Seed of the initial centroid sampling: the same seed gives the same centroids.
  uint64_t seed = 1234;
  void Check() const;
};

// k-means of n points of dimension dim (row-major); returns k x dim centroids.
std::vector<float> KMeans(const float* points, int64_t n, int64_t dim, int64_t k, const KMeansOptions& options);

}  // namespace vpr
