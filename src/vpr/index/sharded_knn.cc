#include "vpr/index/sharded_knn.h"

#include <faiss/utils/distances.h>

#include <algorithm>
#include <limits>

#include "vpr/util/check.h"
#include "vpr/util/npy.h"
#include "vpr/util/progress.h"

namespace vpr {

std::pair<int64_t, int64_t> KnnShard(int64_t n, int rank, int world) {
  const int64_t blocks = (n + kKnnBlockRows - 1) / kKnnBlockRows;
  return {std::min(n, blocks * rank / world * kKnnBlockRows), std::min(n, blocks * (rank + 1) / world * kKnnBlockRows)};
}

namespace {

KnnResult Empty(int64_t n_q, int64_t k) {
  KnnResult r;
  r.num_queries = n_q;
  r.k = k;
  r.ids.assign(n_q * k, -1);
  r.distances.assign(n_q * k, std::numeric_limits<float>::infinity());
  return r;
}

}  // namespace

KnnResult MergeKnn(const std::vector<KnnResult>& parts, int64_t k) {
  VPR_CHECK(!parts.empty(), "internal: nothing to merge");
  const int64_t n_q = parts[0].num_queries;
  KnnResult out = Empty(n_q, k);
  std::vector<std::pair<float, int64_t>> candidates;
  for (int64_t q = 0; q < n_q; ++q) {
    candidates.clear();
    for (const KnnResult& p : parts) {
      VPR_CHECK(p.num_queries == n_q, "internal: k-NN lists of ", p.num_queries, " and ", n_q, " queries");
      for (int64_t r = 0; r < p.k; ++r)
        if (p.id(q, r) >= 0) candidates.emplace_back(p.distance(q, r), p.id(q, r));
    }
    const size_t kept = std::min<size_t>(candidates.size(), static_cast<size_t>(k));
    std::partial_sort(candidates.begin(), candidates.begin() + kept, candidates.end());
    for (size_t r = 0; r < kept; ++r) {
      out.distances[q * k + r] = candidates[r].first;
      out.ids[q * k + r] = candidates[r].second;
    }
  }
  return out;
}

KnnResult ExactKnnL2Rows(const float* database, int64_t first_row, int64_t n_db, const float* queries, int64_t n_q,
                         int64_t dim, int64_t k) {
  VPR_CHECK(dim > 0 && k > 0, "k-NN needs dim > 0 and k > 0 (dim ", dim, ", k ", k, ")");
  VPR_CHECK(first_row % kKnnBlockRows == 0, "internal: a database share must start at a multiple of ", kKnnBlockRows,
            " rows, got ", first_row);
  const int64_t bad_db = FirstNonFiniteRow(database, n_db, dim), bad_q = FirstNonFiniteRow(queries, n_q, dim);
  VPR_CHECK(bad_db < 0, "database descriptor ", first_row + bad_db, " holds NaN or infinite values; it would never be "
            "found");
  VPR_CHECK(bad_q < 0, "query descriptor ", bad_q, " holds NaN or infinite values: it has no nearest neighbours");
  // Per query its best (distance, id) so far; a full distance matrix per block and query
  // chunk, so that ties are settled by id, not by a heap's order.
  constexpr int64_t kQueryChunk = 4096;
  std::vector<std::vector<std::pair<float, int64_t>>> best(n_q);
  std::vector<float> distances;
  for (int64_t begin = 0; begin < n_db; begin += kKnnBlockRows) {
    const int64_t rows = std::min(kKnnBlockRows, n_db - begin);
    for (int64_t q0 = 0; q0 < n_q; q0 += kQueryChunk) {
      const int64_t nq = std::min(kQueryChunk, n_q - q0);
      distances.resize(nq * rows);
      faiss::pairwise_L2sqr(dim, nq, queries + q0 * dim, rows, database + begin * dim, distances.data());
      for (int64_t q = 0; q < nq; ++q) {
        auto& list = best[q0 + q];
        // Clamped: |x|^2 + |y|^2 - 2xy rounds below 0 for (near) duplicates.
        for (int64_t j = 0; j < rows; ++j)
          list.emplace_back(std::max(0.0f, distances[q * rows + j]), first_row + begin + j);
        const size_t kept = std::min<size_t>(list.size(), static_cast<size_t>(k));
        std::partial_sort(list.begin(), list.begin() + kept, list.end());
        list.resize(kept);
      }
    }
  }
  KnnResult out = Empty(n_q, k);
  for (int64_t q = 0; q < n_q; ++q)
    for (size_t r = 0; r < best[q].size(); ++r) {
      out.distances[q * k + r] = best[q][r].first;
      out.ids[q * k + r] = best[q][r].second;
    }
  return out;
}

KnnResult ExactKnnL2Npy(NpyReader& database, int64_t begin, int64_t end, const float* queries, int64_t n_q, int64_t k,
                        int64_t chunk_rows) {
  const int64_t dim = database.cols();
  VPR_CHECK(begin >= 0 && begin <= end && end <= database.rows(), "internal: rows [", begin, ", ", end,
            ") of a database of ", database.rows());
  if (chunk_rows <= 0) chunk_rows = kExactSearchChunkBytes / (dim * static_cast<int64_t>(sizeof(float)));
  chunk_rows = std::max(kKnnBlockRows, chunk_rows / kKnnBlockRows * kKnnBlockRows);
  std::vector<float> chunk(static_cast<size_t>(std::min(chunk_rows, end - begin) * dim));
  KnnResult best = ExactKnnL2Rows(chunk.data(), begin, 0, queries, n_q, dim, k);
  Progress progress("search: database rows", end - begin, "rows");
  for (int64_t first = begin; first < end; first += chunk_rows) {
    const int64_t rows = std::min(chunk_rows, end - first);
    database.ReadRows(first, rows, chunk.data());
    best = MergeKnn({best, ExactKnnL2Rows(chunk.data(), first, rows, queries, n_q, dim, k)}, k);
    progress.Add(rows);
  }
  progress.Finish();
  return best;
}

}  // namespace vpr
