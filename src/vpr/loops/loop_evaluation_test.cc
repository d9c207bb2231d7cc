#include "vpr/loops/loop_evaluation.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "vpr/util/thrown_message.h"

namespace vpr {
namespace {

TEST(LoopRevisits, AlignedTraversalsRevisitEveryEarlierTraversalWithinTheTolerance) {
  LoopGroundTruthOptions truth;
  truth.aligned_traversals = true;
  truth.tolerance = 1;
  const auto r = LoopRevisits(truth, {4, 4, 3});
  ASSERT_EQ(r.size(), 11u);
  for (int f = 0; f < 4; ++f) EXPECT_TRUE(r[f].empty());
  EXPECT_EQ(r[4], (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(r[6], (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(r[10], (std::vector<int64_t>{1, 2, 3, 5, 6, 7}));
}

TEST(LoopRevisits, FilesOfRevisitsAndPositions) {
  const auto dir = std::filesystem::temp_directory_path() / ("vpr_loops_truth_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "revisits.csv") << "frame,revisits\n3,0,1\n# comment\n4,2\n";
  std::ofstream(dir / "positions.csv") << "x,y\n0,0\n50,0\n100,0\n51,3\n";
  LoopGroundTruthOptions truth;
  truth.revisits = (dir / "revisits.csv").string();
  auto r = LoopRevisits(truth, {5});
  EXPECT_EQ(r[3], (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(r[4], (std::vector<int64_t>{2}));
  EXPECT_NE(ThrownMessage([&] { LoopRevisits(truth, {3}); }).find("names frame 3 of a sequence of 3"),
            std::string::npos);
  truth = {};
  truth.positions = (dir / "positions.csv").string();
  truth.radius = 5;
  r = LoopRevisits(truth, {4});
  EXPECT_EQ(r[3], (std::vector<int64_t>{1}));
  EXPECT_TRUE(r[2].empty());
  EXPECT_NE(ThrownMessage([&] { LoopRevisits(truth, {2, 3}); }).find("4 positions for 5 frames"), std::string::npos);
  std::ofstream(dir / "bad.csv") << "1,2\n3;4\n";
  truth.positions = (dir / "bad.csv").string();
  EXPECT_NE(ThrownMessage([&] { LoopRevisits(truth, {2}); }).find("line 2"), std::string::npos);
  std::filesystem::remove_all(dir);
}

LoopFrame Frame(bool detected, int64_t match, float distance, std::vector<int64_t> revisits) {
  LoopFrame f;
  f.result.status = detected ? LoopStatus::kLoopDetected : LoopStatus::kLowScores;
  f.result.match_id = match;
  f.result.distance = distance;
  f.revisits = std::move(revisits);
  return f;
}

TEST(ScoreLoops, RecallAtFullPrecisionRanksDetectionsByDistance) {
  // Two correct loops at 0.1 and 0.3, a wrong one at 0.5, a correct one at 0.7, a frame
  // with a revisit that found none, and a wrong loop where there is no revisit at 0.2.
  const std::vector<LoopFrame> frames = {Frame(true, 1, 0.1f, {1}), Frame(true, 2, 0.3f, {2, 3}),
                                         Frame(true, 9, 0.5f, {4}), Frame(true, 5, 0.7f, {5}),
                                         Frame(false, -1, 0, {6}),  Frame(true, 0, 0.2f, {})};
  std::vector<const LoopFrame*> all;
  for (const auto& f : frames) all.push_back(&f);
  LoopSplitMetrics m = ScoreLoops(all);
  EXPECT_EQ(m.frames, 6);
  EXPECT_EQ(m.revisit_frames, 5);
  EXPECT_EQ(m.detected, 5);
  EXPECT_EQ(m.correct, 3);
  EXPECT_DOUBLE_EQ(m.pr.recall_at_full_precision, 0.2);  // only the first: the wrong one at 0.2 comes next
  all.pop_back();
  m = ScoreLoops(all);
  EXPECT_DOUBLE_EQ(m.pr.recall_at_full_precision, 0.4);
}

TEST(LoopsOptions, ChecksNameTheFlag) {
  LoopsOptions o;
  EXPECT_NE(ThrownMessage([&] { o.Check(); }).find("--model"), std::string::npos);
  o.recognizer.model = "m.pth";
  o.sequences = {"a"};
  o.out = "out";
  o.tune_frames = 10;
  EXPECT_NE(ThrownMessage([&] { o.Check(); }).find("--tune-frames needs ground truth"), std::string::npos);
  o.truth.aligned_traversals = true;
  o.truth.positions = "p.csv";
  EXPECT_NE(ThrownMessage([&] { o.Check(); }).find("one ground truth"), std::string::npos);
}

}  // namespace
}  // namespace vpr
