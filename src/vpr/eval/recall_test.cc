#include "vpr/eval/recall.h"

#include <gtest/gtest.h>

#include <cmath>

namespace vpr {
namespace {

using Positives = std::vector<std::vector<int64_t>>;

TEST(PositivesWithinRadius, UtmScaleKeepsSubMetrePrecisionAndTheCircleIsInclusive) {
  // Database along a line 1 m apart at UTM-like coordinates; query between 1 and 2.
  std::vector<double> db, q = {500001.5, 5800000.0};
  for (int i = 0; i < 5; ++i) db.insert(db.end(), {500000.0 + i, 5800000.0});
  EXPECT_EQ(PositivesWithinRadius(db, q, 0.5), (Positives{{1, 2}}));
  EXPECT_EQ(PositivesWithinRadius(db, q, 0.49), (Positives{{}}));
  EXPECT_EQ(PositivesWithinRadius(db, q, 1.5), (Positives{{0, 1, 2, 3}}));
}

TEST(PositivesWithinRadius, ANonFinitePositionLosesOnlyItsOwnImage) {
  std::vector<double> db = {NAN, NAN, 10.0, 0.0, 20.0, 0.0}, q = {11.0, 0.0, 19.0, 0.0};
  EXPECT_EQ(PositivesWithinRadius(db, q, 2.0), (Positives{{1}, {2}}));
}

TEST(RecallAtN, CountsQueriesWithAPositiveInTheirTopN) {
  KnnResult knn;
  knn.num_queries = 3;
  knn.k = 2;
  knn.ids = {0, 1, 2, 0, -1, -1};  // the third query has no descriptor
  knn.distances = {0, 1, 0, 1, INFINITY, INFINITY};
  auto recall = RecallAtN(knn, {{1}, {2}, {0}}, {1, 2});
  EXPECT_NEAR(recall.at(1), 1.0 / 3, 1e-12);
  EXPECT_NEAR(recall.at(2), 2.0 / 3, 1e-12);
}

}  // namespace
}  // namespace vpr
