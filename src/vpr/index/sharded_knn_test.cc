#include "vpr/index/sharded_knn.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <random>

#include "vpr/util/npy.h"
#include "vpr/util/thrown_message.h"

namespace vpr {
namespace {

struct Matrix {
  int64_t n = 0, dim = 0;
  std::vector<float> data;
};

Matrix Random(int64_t n, int64_t dim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  Matrix m{n, dim, std::vector<float>(n * dim)};
  for (float& v : m.data) v = normal(rng);
  return m;
}

// Small integers: every distance is exact in float whatever the summation order, and
// ties are everywhere, so the order by (distance, id) is checked against brute force.
Matrix Integers(int64_t n, int64_t dim, uint32_t seed) {
  std::mt19937 rng(seed);
  Matrix m{n, dim, std::vector<float>(n * dim)};
  for (float& v : m.data) v = static_cast<float>(rng() % 3);
  return m;
}

// Any split in whole blocks, merged, is exactly the whole database's search, ties by id.
TEST(ShardedKnn, ShardsMergedAreExactlyTheWholeSearchTiesById) {
  const Matrix db = Integers(3 * kKnnBlockRows + 17, 6, 1), q = Integers(25, 6, 2);
  const int64_t k = 9;
  const KnnResult whole = ExactKnnL2Rows(db.data.data(), 0, db.n, q.data.data(), q.n, q.dim, k);
  for (int64_t i = 0; i < q.n; ++i) {
    std::vector<std::pair<float, int64_t>> all;
    for (int64_t j = 0; j < db.n; ++j) {
      float d = 0;
      for (int64_t c = 0; c < q.dim; ++c) d += (q.data[i * q.dim + c] - db.data[j * q.dim + c]) *
                                               (q.data[i * q.dim + c] - db.data[j * q.dim + c]);
      all.emplace_back(d, j);
    }
    std::sort(all.begin(), all.end());
    for (int64_t r = 0; r < k; ++r) {
      ASSERT_EQ(whole.id(i, r), all[r].second) << "query " << i << " rank " << r;
      ASSERT_EQ(whole.distance(i, r), all[r].first);
    }
  }
  for (int world : {2, 3, 5}) {
    std::vector<KnnResult> parts;
    int64_t covered = 0;
    for (int rank = 0; rank < world; ++rank) {
      const auto [b, e] = KnnShard(db.n, rank, world);
      EXPECT_EQ(b, covered);
      EXPECT_EQ(b % kKnnBlockRows, 0);
      covered = e;
      parts.push_back(ExactKnnL2Rows(db.data.data() + b * db.dim, b, e - b, q.data.data(), q.n, q.dim, k));
    }
    EXPECT_EQ(covered, db.n);
    const KnnResult merged = MergeKnn(parts, k);
    EXPECT_EQ(merged.ids, whole.ids) << world << " shards";
    EXPECT_EQ(merged.distances, whole.distances) << world << " shards";
  }
}

// Real-valued descriptors: the neighbours FAISS's exact search finds.
TEST(ShardedKnn, FindsWhatExactKnnFinds) {
  const Matrix db = Random(2 * kKnnBlockRows + 5, 32, 1), q = Random(30, 32, 2);
  const KnnResult ours = ExactKnnL2Rows(db.data.data(), 0, db.n, q.data.data(), q.n, q.dim, 7);
  const KnnResult faiss = ExactKnnL2(db.data.data(), db.n, q.data.data(), q.n, q.dim, 7);
  EXPECT_EQ(ours.ids, faiss.ids);
  for (size_t i = 0; i < ours.distances.size(); ++i) EXPECT_NEAR(ours.distances[i], faiss.distances[i], 1e-4);
}

TEST(ShardedKnn, FewerRowsThanKArePadded) {
  Matrix db = Random(3, 4, 3), q = Random(2, 4, 4);
  const KnnResult r = ExactKnnL2Rows(db.data.data(), 0, db.n, q.data.data(), q.n, q.dim, 5);
  EXPECT_EQ(r.id(0, 3), -1);
  EXPECT_EQ(r.id(1, 4), -1);
  EXPECT_GE(r.id(1, 2), 0);
  const KnnResult none = ExactKnnL2Rows(db.data.data(), 0, 0, q.data.data(), q.n, q.dim, 5);
  EXPECT_EQ(none.id(0, 0), -1);
}

// Read from the .npy a few blocks at a time, the lists are those of the whole database in
// memory (ids and distances, ties by id), whatever the chunk, and with a shard's range too.
TEST(ShardedKnn, StreamingFromTheNpyInChunksIsTheWholeSearch) {
  const Matrix db = Integers(5 * kKnnBlockRows + 31, 6, 3), q = Integers(20, 6, 4);
  const int64_t k = 7;
  const std::string path =
      (std::filesystem::temp_directory_path() / ("vpr_streamed_knn_" + std::to_string(getpid()) + ".npy")).string();
  WriteNpy(path, db.data.data(), db.n, db.dim);
  const KnnResult whole = ExactKnnL2Rows(db.data.data(), 0, db.n, q.data.data(), q.n, q.dim, k);
  NpyReader reader(path);
  for (int64_t chunk : {int64_t{0}, int64_t{1}, kKnnBlockRows, 3 * kKnnBlockRows + 5, db.n * 2}) {
    const KnnResult streamed = ExactKnnL2Npy(reader, 0, db.n, q.data.data(), q.n, k, chunk);
    EXPECT_EQ(streamed.ids, whole.ids) << "chunk " << chunk;
    EXPECT_EQ(streamed.distances, whole.distances) << "chunk " << chunk;
  }
  const int64_t b = 2 * kKnnBlockRows;
  const KnnResult share = ExactKnnL2Npy(reader, b, db.n, q.data.data(), q.n, k, kKnnBlockRows);
  const KnnResult expected = ExactKnnL2Rows(db.data.data() + b * db.dim, b, db.n - b, q.data.data(), q.n, q.dim, k);
  EXPECT_EQ(share.ids, expected.ids);
  std::filesystem::remove(path);
}

TEST(ShardedKnn, ANonFiniteRowInAStreamedChunkIsNamed) {
  Matrix db = Random(3 * kKnnBlockRows, 4, 5);
  db.data[(2 * kKnnBlockRows + 9) * 4 + 1] = std::numeric_limits<float>::quiet_NaN();
  const Matrix q = Random(3, 4, 6);
  const std::string path =
      (std::filesystem::temp_directory_path() / ("vpr_streamed_nan_" + std::to_string(getpid()) + ".npy")).string();
  WriteNpy(path, db.data.data(), db.n, db.dim);
  NpyReader reader(path);
  const std::string error =
      ThrownMessage([&] { ExactKnnL2Npy(reader, 0, db.n, q.data.data(), q.n, 2, kKnnBlockRows); });
  EXPECT_NE(error.find("database descriptor " + std::to_string(2 * kKnnBlockRows + 9) + " holds NaN"),
            std::string::npos)
      << error;
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace vpr
