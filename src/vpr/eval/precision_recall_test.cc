#include "vpr/eval/precision_recall.h"

#include <gtest/gtest.h>

#include <cmath>

namespace vpr {
namespace {

Top1Match Match(double confidence, bool correct, bool has_positive = true) {
  Top1Match m;
  m.confidence = confidence;
  m.correct = correct;
  m.has_positive = has_positive;
  return m;
}

TEST(PrecisionRecall, HandMadeCaseWithATieAQueryWithoutPositiveAndAnUndescribedQuery) {
  Top1Match undescribed;
  undescribed.retrieved = false;
  // Four queries have a positive (all but the 0.5 one): recall is out of 4.
  PrecisionRecall pr = ComputePrecisionRecall(
      {Match(0.8, false), Match(0.9, true), Match(0.5, false, false), undescribed, Match(0.8, true)});
  EXPECT_EQ(pr.queries_with_positive, 4);
  ASSERT_EQ(pr.curve.size(), 3u);  // thresholds 0.9, 0.8 (two tied queries), 0.5
  EXPECT_EQ(pr.curve[0].threshold, 0.9);
  EXPECT_EQ(pr.curve[0].accepted, 1);
  EXPECT_EQ(pr.curve[0].precision, 1.0);
  EXPECT_EQ(pr.curve[0].recall, 0.25);
  EXPECT_EQ(pr.curve[1].accepted, 3);
  EXPECT_EQ(pr.curve[1].correct, 2);
  EXPECT_DOUBLE_EQ(pr.curve[1].precision, 2.0 / 3);
  EXPECT_EQ(pr.curve[1].recall, 0.5);
  EXPECT_EQ(pr.curve[2].accepted, 4);
  EXPECT_EQ(pr.curve[2].precision, 0.5);
  EXPECT_EQ(pr.curve[2].recall, 0.5);
  // 0.25 * 1 + 0.25 * 2/3 + 0 * 1/2
  EXPECT_DOUBLE_EQ(pr.average_precision, 5.0 / 12);
  EXPECT_EQ(pr.recall_at_full_precision, 0.25);
}

TEST(PrecisionRecall, PerfectRankingHasApEqualToRecallAtOne) {
  // Correct matches all more confident than wrong ones: precision 1 up to recall 3/4.
  PrecisionRecall pr = ComputePrecisionRecall({Match(-1, true), Match(-3, false), Match(-2, true), Match(-1.5, true)});
  EXPECT_DOUBLE_EQ(pr.average_precision, 0.75);
  EXPECT_DOUBLE_EQ(pr.recall_at_full_precision, 0.75);
  EXPECT_EQ(pr.curve.back().precision, 0.75);
}

TEST(PrecisionRecall, MostConfidentMatchWrongGivesNoRecallAtFullPrecision) {
  PrecisionRecall pr = ComputePrecisionRecall({Match(2, false), Match(1, true)});
  EXPECT_EQ(pr.recall_at_full_precision, 0.0);
  EXPECT_DOUBLE_EQ(pr.average_precision, 0.5 * 0.5);
  EXPECT_TRUE(ComputePrecisionRecall({}).curve.empty());
  EXPECT_EQ(ComputePrecisionRecall({}).average_precision, 0.0);
}

TEST(PrecisionRecall, Top1FromASearchUsesNegativeL2OrTheSimilarity) {
  KnnResult knn;
  knn.num_queries = 3;
  knn.k = 2;
  knn.ids = {4, 1, 2, 0, -1, -1};  // the third query has no descriptor
  knn.distances = {0.5f, 0.7f, 0.25f, 1.0f, INFINITY, INFINITY};
  std::vector<std::vector<int64_t>> positives = {{1, 4}, {0}, {3}};
  std::vector<Top1Match> l2 = Top1Matches(knn, positives, false);
  EXPECT_EQ(l2[0].confidence, -0.5);
  EXPECT_TRUE(l2[0].correct);
  EXPECT_FALSE(l2[1].correct);  // database 0 is only its second
  EXPECT_FALSE(l2[2].retrieved);
  EXPECT_TRUE(l2[2].has_positive);
  EXPECT_EQ(Top1Matches(knn, positives, true)[1].confidence, 0.25);
  // The wrong top-1 (distance 0.25) is the most confident under L2: AP = 1/3 * 1/2.
  EXPECT_DOUBLE_EQ(ComputePrecisionRecall(l2).average_precision, 1.0 / 6);
}

}  // namespace
}  // namespace vpr
