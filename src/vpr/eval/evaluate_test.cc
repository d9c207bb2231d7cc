#include "vpr/eval/evaluate.h"

#include <gtest/gtest.h>

#include <cmath>

#include "vpr/util/check.h"
#include "vpr/util/thrown_message.h"

namespace vpr {
namespace {

// Four database images 10 m apart on a line, three queries near database 0, 2 and 3;
// positives within 2 m. Database image 1 and query 1 have no descriptor (unreadable).
Dataset Line() {
  Dataset d;
  d.kind = "test";
  for (int i = 0; i < 4; ++i) {
    d.database.push_back("db" + std::to_string(i));
    d.database_names.push_back(d.database.back());
    d.database_positions.insert(d.database_positions.end(), {10.0 * i, 0.0});
  }
  for (double x : {1.0, 19.0, 31.0}) {
    d.queries.push_back("q" + std::to_string(d.queries.size()));
    d.query_names.push_back(d.queries.back());
    d.query_positions.insert(d.query_positions.end(), {x, 0.0});
  }
  d.positive_radius = 2;
  return d;
}

const std::vector<float> kDb = {1, 0, /*db 2*/ 0, 1, /*db 3*/ -1, 0};
const std::vector<float> kQueries = {0.9f, 0.1f, /*query 2*/ 0.2f, 0.9f};

DescriptorRows Database() { return {kDb.data(), 3, 2, {0, 2, 3}}; }
DescriptorRows Queries() { return {kQueries.data(), 2, 2, {0, 2}}; }

EvaluateOptions TopThree() {
  EvaluateOptions o;
  o.top_k = 3;
  o.recall_at = {1, 3};
  return o;
}

TEST(Evaluate, SearchesTheDescribedRowsAndAnswersInDatasetIndices) {
  const EvalReport r = Evaluate(Database(), Queries(), Line(), TopThree());
  EXPECT_EQ(r.num_database, 4);
  EXPECT_EQ(r.num_queries, 3);
  EXPECT_EQ(r.database_described, 3);
  EXPECT_EQ(r.queries_described, 2);
  EXPECT_EQ(r.dim, 2);
  ASSERT_EQ(r.knn.num_queries, 3);
  EXPECT_EQ(r.knn.ids, (std::vector<int64_t>{0, 2, 3, -1, -1, -1, 2, 0, 3}));
  const std::vector<float> want = {0.02f, 1.62f, 3.62f, INFINITY, INFINITY, INFINITY, 0.05f, 1.45f, 2.25f};
  for (size_t i = 0; i < want.size(); ++i)
    if (std::isinf(want[i])) EXPECT_TRUE(std::isinf(r.knn.distances[i])) << i;
    else EXPECT_NEAR(r.knn.distances[i], want[i], 1e-6) << i;
  EXPECT_EQ(r.positives, (std::vector<std::vector<int64_t>>{{0}, {2}, {3}}));
  EXPECT_EQ(r.described, (std::vector<bool>{true, false, true}));
  EXPECT_TRUE(r.IsPositive(2, 3));
  EXPECT_FALSE(r.IsPositive(2, 2));
}

TEST(Evaluate, ScoresCountTheQueryWithoutADescriptorAsAMiss) {
  const EvalReport r = Evaluate(Database(), Queries(), Line(), TopThree());
  EXPECT_NEAR(r.scores.recall.at(1), 1.0 / 3, 1e-12);  // query 0 only
  EXPECT_NEAR(r.scores.recall.at(3), 2.0 / 3, 1e-12);  // query 2's positive is third
  EXPECT_EQ(r.scores.hits.at(1), 1);
  EXPECT_EQ(r.scores.hits.at(3), 2);
  // Top-1s by confidence: query 0 (right, 0.02), query 2 (wrong, 0.05); 3 queries have a positive.
  EXPECT_EQ(r.scores.pr.queries_with_positive, 3);
  ASSERT_EQ(r.scores.pr.curve.size(), 2u);
  EXPECT_EQ(r.scores.pr.curve[1].accepted, 2);
  EXPECT_NEAR(r.scores.pr.average_precision, 1.0 / 3, 1e-12);
  EXPECT_NEAR(r.scores.pr.recall_at_full_precision, 1.0 / 3, 1e-12);
  EXPECT_TRUE(r.recall_vs_dim.empty());
}

TEST(Evaluate, RecallVsDimensionIsOverEveryQuery) {
  EvaluateOptions o = TopThree();
  o.pca_dims = {0, 8};  // 8 > 2 dims: skipped
  const EvalReport r = Evaluate(Database(), Queries(), Line(), o);
  ASSERT_EQ(r.recall_vs_dim.size(), 1u);
  EXPECT_EQ(r.recall_vs_dim[0].dim, 2);
  EXPECT_FALSE(r.recall_vs_dim[0].whitened);
  EXPECT_NEAR(r.recall_vs_dim[0].recall.at(1), r.scores.recall.at(1), 1e-12);
  EXPECT_NEAR(r.recall_vs_dim[0].recall.at(3), r.scores.recall.at(3), 1e-12);
}

TEST(Evaluate, InnerProductAndAFaissIndexRankUnitRowsAsExactL2) {
  EvaluateOptions o = TopThree();
  o.index.factory = "HNSW8";
  o.index.metric = "ip";
  const EvalReport l2 = Evaluate(Database(), Queries(), Line(), TopThree());
  const EvalReport ip = Evaluate(Database(), Queries(), Line(), o);
  EXPECT_TRUE(ip.inner_product);
  EXPECT_EQ(ip.knn.ids, l2.knn.ids);
  EXPECT_EQ(ip.scores.recall, l2.scores.recall);
}

TEST(Evaluate, MismatchedInputsAreClearErrors) {
  const std::vector<float> three(6, 0.5f);
  EXPECT_NE(ThrownMessage([&] { Evaluate(Database(), {three.data(), 2, 3, {0, 2}}, Line(), TopThree()); })
                .find("query descriptors are 3-d but database descriptors 2-d"),
            std::string::npos);
  EXPECT_NE(ThrownMessage([&] { Evaluate({kDb.data(), 3, 2, {0, 2, 7}}, Queries(), Line(), TopThree()); })
                .find("claims dataset index 7 of 4"),
            std::string::npos);
  EXPECT_NE(ThrownMessage([&] { Evaluate({kDb.data(), 3, 2, {2, 0, 3}}, Queries(), Line(), TopThree()); })
                .find("indices must ascend"),
            std::string::npos);
  EXPECT_NE(ThrownMessage([&] { Evaluate({nullptr, 0, 2, {}}, Queries(), Line(), TopThree()); })
                .find("none of the 4 database images could be described"),
            std::string::npos);
  EvaluateOptions o = TopThree();
  o.recall_at = {5};
  EXPECT_NE(ThrownMessage([&] { Evaluate(Database(), Queries(), Line(), o); })
                .find("--recall-at 5 must be between 1 and --top-k (3)"),
            std::string::npos);
}

TEST(CompareTop1, CountsChangesByOutcome) {
  KnnResult before, after;
  before.num_queries = after.num_queries = 3;
  before.k = after.k = 1;
  before.distances = after.distances = {0, 0, 0};
  before.ids = {0, 5, 2};
  after.ids = {1, 5, 3};
  const Top1Changes c = CompareTop1(before, after, {{0}, {5}, {3}});
  EXPECT_EQ(c.changed, 2);
  EXPECT_EQ(c.hit_to_miss, 1);  // query 0
  EXPECT_EQ(c.miss_to_hit, 1);  // query 2
}

}  // namespace
}  // namespace vpr
