#include "vpr/train/tuple_mining.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "vpr/train/triplet_loss.h"
#include "vpr/util/check.h"

namespace vpr {
namespace {

// A database of 8 images on a line (positions 0..7), one query at position 0.
// Positive radius 1 (database 0 and 1 are "near"), non-trivial radius 1.
Dataset LineDataset() {
  Dataset d;
  d.kind = "test";
  for (int j = 0; j < 8; ++j) {
    d.database.push_back("db" + std::to_string(j));
    d.database_names.push_back(d.database.back());
    d.database_positions.insert(d.database_positions.end(), {double(j), 0.0});
  }
  d.queries = {"q0"};
  d.query_names = {"q0"};
  d.query_positions = {0.0, 0.0};
  d.positive_radius = 1.0;
  return d;
}

// 1-D descriptors (dim 1): the query at 0; database values chosen per test.
struct Fixture {
  std::vector<float> db;
  float query = 0.0f;
};

TEST(TupleMining, CandidatesFromPositions) {
  Dataset d = LineDataset();
  d.non_trivial_radius = 0.5;
  TupleCandidates c = FindTupleCandidates(d);
  EXPECT_EQ(c.positives[0], (std::vector<int64_t>{0}));
  EXPECT_EQ(c.near[0], (std::vector<int64_t>{0, 1}));
}

TEST(TupleMining, ListedPositivesAreTheCandidatesAndAllOthersNegatives) {
  Dataset d = LineDataset();
  d.database_positions.clear();
  d.query_positions.clear();
  d.positive_radius = 0;
  d.explicit_positives = {{2, 5}};
  TupleCandidates c = FindTupleCandidates(d);
  EXPECT_EQ(c.positives[0], (std::vector<int64_t>{2, 5}));
  EXPECT_EQ(c.near[0], (std::vector<int64_t>{2, 5}));
  try {
    FindTupleCandidates(d, 3.0);
    FAIL() << "a negative radius without positions must be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--negative-radius needs positions"), std::string::npos) << e.what();
  }
}

TEST(TupleMining, NegativeRadiusWidensTheBandThatIsNeverNegative) {
  TupleCandidates c = FindTupleCandidates(LineDataset(), 3.0);
  EXPECT_EQ(c.positives[0], (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(c.near[0], (std::vector<int64_t>{0, 1, 2, 3}));
  MiningOptions options;
  options.negatives_kept = 8;
  TupleMiner miner(std::move(c), options);
  std::vector<float> db = {0.5f, 0.4f, 0.0f, 0.0f, 0.1f, 0.1f, 0.1f, 0.1f};  // 2 and 3 are closest of all
  float q = 0.0f;
  std::mt19937_64 rng(1);
  TrainingTuple t;
  ASSERT_EQ(miner.Mine(0, &q, db.data(), 1, rng, &t), MineOutcome::kTuple);
  EXPECT_EQ(t.positive, 1);
  std::sort(t.negatives.begin(), t.negatives.end());
  EXPECT_EQ(t.negatives, (std::vector<int64_t>{4, 5, 6, 7}));
  try {
    FindTupleCandidates(LineDataset(), 0.5);
    FAIL() << "a negative radius inside the positive radius must be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--negative-radius 0.5 m is inside the positive radius 1"), std::string::npos)
        << e.what();
  }
}

TEST(TupleMining, NearestPositiveAndHardestViolatingNegatives) {
  MiningOptions options;
  options.negatives_kept = 2;
  options.margin = 0.5;
  TupleMiner miner(FindTupleCandidates(LineDataset()), options);
  // Positives 0 (d=0.9) and 1 (d=0.4): positive = 1, d_pos = 0.4, threshold 0.9.
  // Negatives 2..7 at 0.85, 0.2, 3.0, 0.6, 0.95, 0.3: violating (< 0.9): 3 (0.2),
  // 7 (0.3), 5 (0.6), 2 (0.85); the two hardest: 3 then 7.
  std::vector<float> db = {0.9f, -0.4f, 0.85f, -0.2f, 3.0f, 0.6f, 0.95f, 0.3f};
  float q = 0.0f;
  std::mt19937_64 rng(1);
  TrainingTuple t;
  ASSERT_EQ(miner.Mine(0, &q, db.data(), 1, rng, &t), MineOutcome::kTuple);
  EXPECT_EQ(t.query, 0);
  EXPECT_EQ(t.positive, 1);
  EXPECT_EQ(t.negatives, (std::vector<int64_t>{3, 7}));
  EXPECT_EQ(miner.negative_cache()[0], (std::vector<int64_t>{3, 7}));
}

TEST(TupleMining, NegativesNeverNearAndSampledUniformly) {
  MiningOptions options;
  options.negatives_sampled = 1;
  options.negatives_kept = 1;
  options.margin = 100;  // every negative violates
  TupleMiner miner(FindTupleCandidates(LineDataset()), options);
  std::vector<float> db(8, 1.0f);
  float q = 0.0f;
  std::mt19937_64 rng(3);
  std::vector<int> counts(8, 0);
  for (int i = 0; i < 6000; ++i) {
    miner.set_negative_cache({{}});
    TrainingTuple t;
    ASSERT_EQ(miner.Mine(0, &q, db.data(), 1, rng, &t), MineOutcome::kTuple);
    ASSERT_EQ(t.negatives.size(), 1u);
    ++counts[t.negatives[0]];
  }
  EXPECT_EQ(counts[0] + counts[1], 0);
  for (int j = 2; j < 8; ++j) EXPECT_NEAR(counts[j], 1000, 150) << j;
}

TEST(TupleMining, CachedHardNegativesComeBack) {
  MiningOptions options;
  options.negatives_sampled = 1;
  options.negatives_kept = 3;
  options.margin = 0.5;
  TupleMiner miner(FindTupleCandidates(LineDataset()), options);
  std::vector<float> db = {0.1f, 5.f, 0.2f, 0.3f, 0.25f, 5.f, 5.f, 5.f};
  miner.set_negative_cache({{2, 3, 4}});
  float q = 0.0f;
  std::mt19937_64 rng(5);
  TrainingTuple t;
  ASSERT_EQ(miner.Mine(0, &q, db.data(), 1, rng, &t), MineOutcome::kTuple);
  // Whatever the single sample, the cached 2, 3, 4 violate (< 0.1 + 0.5) and are hardest.
  EXPECT_EQ(t.negatives, (std::vector<int64_t>{2, 4, 3}));
}

TEST(TupleMining, SkipsWithoutViolatingNegativeOrPositive) {
  MiningOptions options;
  options.margin = 0.5;
  TupleMiner miner(FindTupleCandidates(LineDataset()), options);
  std::vector<float> db = {0.1f, 0.2f, 5.f, 5.f, 5.f, 5.f, 5.f, 5.f};
  float q = 0.0f;
  std::mt19937_64 rng(1);
  TrainingTuple t;
  EXPECT_EQ(miner.Mine(0, &q, db.data(), 1, rng, &t), MineOutcome::kNoViolatingNegative);
  EXPECT_TRUE(miner.negative_cache()[0].empty());

  Dataset far = LineDataset();
  far.query_positions = {100.0, 0.0};
  TupleMiner lonely(FindTupleCandidates(far), options);
  EXPECT_EQ(lonely.Mine(0, &q, db.data(), 1, rng, &t), MineOutcome::kNoPositive);
  MiningStats stats;
  stats.Add(MineOutcome::kNoPositive);
  stats.Add(MineOutcome::kTuple);
  EXPECT_EQ(stats.skipped(), 1);
  EXPECT_EQ(stats.tuples, 1);
}

TEST(TupleMining, RandomModeTakesOneNegativeBeyondTheRadius) {
  MiningOptions options;
  options.mode = "random";
  TupleMiner miner(FindTupleCandidates(LineDataset()), options);
  std::vector<float> db = {0.1f, 0.2f, 5.f, 5.f, 5.f, 5.f, 5.f, 5.f};
  float q = 0.0f;
  std::mt19937_64 rng(1);
  TrainingTuple t;
  ASSERT_EQ(miner.Mine(0, &q, db.data(), 1, rng, &t), MineOutcome::kTuple);
  EXPECT_EQ(t.positive, 0);
  ASSERT_EQ(t.negatives.size(), 1u);
  EXPECT_GE(t.negatives[0], 2);
}

// A rank mining a later share skips the earlier queries' draws: Draws must be what Mine
// draws, whatever the outcome (a tuple, no violating negative, no positive) and mode.
TEST(TupleMining, DrawsAreWhatMineDrawsWhateverTheOutcome) {
  Dataset far = LineDataset();
  far.query_positions = {100.0, 0.0};
  std::vector<float> violating = {0.9f, -0.4f, 0.85f, -0.2f, 3.0f, 0.6f, 0.95f, 0.3f};
  std::vector<float> clear = {0.1f, 0.2f, 5.f, 5.f, 5.f, 5.f, 5.f, 5.f};
  float q = 0.0f;
  int cases = 0;
  for (const char* mode : {"hard", "random"})
    for (const Dataset& d : {LineDataset(), far})
      for (const auto* db : {&violating, &clear}) {
        MiningOptions options;
        options.mode = mode;
        options.negatives_sampled = 7;
        options.margin = 0.5;
        TupleMiner miner(FindTupleCandidates(d), options);
        std::mt19937_64 mined(11), skipped(11);
        TrainingTuple t;
        miner.Mine(0, &q, db->data(), 1, mined, &t);
        skipped.discard(miner.Draws(0));
        EXPECT_EQ(mined, skipped) << mode << " case " << cases;
        ++cases;
      }
  MiningOptions hard;
  EXPECT_EQ(TupleMiner(FindTupleCandidates(LineDataset()), hard).Draws(0), 1000u);
  EXPECT_EQ(TupleMiner(FindTupleCandidates(far), hard).Draws(0), 0u);
  // Adopt records another rank's tuple as Mine would (the negative cache of hard mining).
  TupleMiner miner(FindTupleCandidates(LineDataset()), hard);
  miner.Adopt(TrainingTuple{0, 1, {3, 7}});
  EXPECT_EQ(miner.negative_cache()[0], (std::vector<int64_t>{3, 7}));
}

TEST(TupleMining, RejectsBadOptions) {
  MiningOptions options;
  options.mode = "semi";
  EXPECT_THROW(options.Check(), Error);
}

TEST(TripletLoss, MatchesTheDefinition) {
  torch::Tensor q = torch::tensor({{0.0f, 0.0f}});
  torch::Tensor p = torch::tensor({{0.3f, 0.4f}});                      // d = 0.5
  torch::Tensor n = torch::tensor({{0.6f, 0.8f}, {3.0f, 4.0f}, {0.0f, 0.2f}});  // d = 1, 5, 0.2
  double m = 0.6;
  // max(0.5 - 1 + 0.6, 0) + max(0.5 - 5 + 0.6, 0) + max(0.5 - 0.2 + 0.6, 0) = 0.1 + 0 + 0.9
  EXPECT_NEAR(TripletLossSum(q, p, n, m).item<double>(), 1.0, 1e-5);
  torch::Tensor rows = torch::cat({q, p, n});
  EXPECT_NEAR(TupleTripletLossSum(rows, m).item<double>(), 1.0, 1e-5);
  EXPECT_THROW(TupleTripletLossSum(rows.slice(0, 0, 2), m), Error);
}

}  // namespace
}  // namespace vpr
