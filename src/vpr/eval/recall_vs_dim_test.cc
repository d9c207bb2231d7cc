#include "vpr/eval/recall_vs_dim.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace vpr {
namespace {

TEST(RecallVsDim, ReportsEachUsableDimAndSkipsTheOthers) {
  // 150 places in 40-d; each query is its place's database row plus noise.
  const int64_t n = 150, dim = 40;
  std::mt19937 rng(5);
  std::normal_distribution<float> gauss;
  std::vector<float> db(n * dim), queries(n * dim);
  std::vector<std::vector<int64_t>> positives(n);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < dim; ++j) {
      db[i * dim + j] = gauss(rng) / (1.0f + j);  // decaying spectrum, as real descriptors
      queries[i * dim + j] = db[i * dim + j] + 0.02f * gauss(rng);
    }
    positives[i] = {i};
  }
  RecallVsDimOptions options;
  options.dims = {0, 64, 150, 16, 4};
  options.recall_at = {1, 5};
  std::vector<DimRecall> rows = RecallVsDim(db.data(), n, queries.data(), n, dim, positives, options);
  ASSERT_EQ(rows.size(), 3u);  // 64 > dim and 150 >= n are skipped
  EXPECT_EQ(rows[0].dim, 40);
  EXPECT_FALSE(rows[0].whitened);
  EXPECT_EQ(rows[1].dim, 16);
  EXPECT_EQ(rows[1].bytes_per_descriptor, 64);
  EXPECT_TRUE(rows[1].whitened);
  EXPECT_EQ(rows[2].dim, 4);
  EXPECT_GE(rows[0].recall.at(1), 0.95);
  EXPECT_GE(rows[1].recall.at(5), 0.9);
  EXPECT_LE(rows[2].recall.at(1), rows[1].recall.at(1));  // 4 dims cannot tell 150 places apart as well
  EXPECT_EQ(rows[1].recall.size(), 2u);
}

}  // namespace
}  // namespace vpr
