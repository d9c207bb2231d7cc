#include "vpr/data/dataset.h"

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include <filesystem>

#include "vpr/util/check.h"
#include "vpr/util/thrown_message.h"

namespace vpr {
namespace {
namespace fs = std::filesystem;

fs::path Scratch(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / "vpr_dataset_test" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void WriteFrames(const fs::path& dir, int n) {
  fs::create_directories(dir);
  cv::Mat image(8, 8, CV_8UC3, cv::Scalar(10, 20, 30));
  for (int i = 0; i < n; ++i) cv::imwrite((dir / ("frame" + std::to_string(i) + ".png")).string(), image);
}

TEST(FrameAlignedDataset, PairsTheIthImagesAndNamesThemUnderTheCommonFolder) {
  fs::path root = Scratch("ok");
  WriteFrames(root / "day", 3);
  WriteFrames(root / "night", 3);
  Dataset d = LoadFrameAlignedDataset((root / "day").string(), (root / "night").string(), 1);
  ASSERT_EQ(d.database.size(), 3u);
  ASSERT_EQ(d.queries.size(), 3u);
  EXPECT_EQ(d.database_names[2], "day/frame2.png");
  EXPECT_EQ(d.query_names[0], "night/frame0.png");
  EXPECT_EQ(d.root, root.string());
  EXPECT_EQ(d.query_positions, (std::vector<double>{0, 0, 1, 0, 2, 0}));
  EXPECT_EQ(d.positive_radius, 1.0);
  EXPECT_EQ(d.ToJson()["frame_tolerance"], 1);
  EXPECT_EQ(d.ToJson()["num_queries"], 3);
}

TEST(FrameAlignedDataset, DifferentImageCountsAreAClearError) {
  fs::path root = Scratch("mismatch");
  WriteFrames(root / "day", 3);
  WriteFrames(root / "night", 2);
  std::string error = ThrownMessage([&] { LoadFrameAlignedDataset((root / "day").string(), (root / "night").string(), 0); });
  EXPECT_NE(error.find("has 3 images"), std::string::npos) << error;
  EXPECT_NE(error.find("has 2"), std::string::npos) << error;
}

TEST(FrameAlignedDataset, EmptyOrMissingFolderIsAClearError) {
  fs::path root = Scratch("empty");
  WriteFrames(root / "day", 2);
  fs::create_directories(root / "night");
  std::string empty = ThrownMessage([&] { LoadFrameAlignedDataset((root / "day").string(), (root / "night").string(), 0); });
  EXPECT_NE(empty.find("query folder"), std::string::npos) << empty;
  EXPECT_NE(empty.find("no images"), std::string::npos) << empty;
  std::string missing = ThrownMessage([&] { LoadFrameAlignedDataset((root / "nope").string(), (root / "day").string(), 0); });
  EXPECT_NE(missing.find("database folder"), std::string::npos) << missing;
  EXPECT_NE(missing.find("does not exist"), std::string::npos) << missing;
  std::string negative = ThrownMessage([&] { LoadFrameAlignedDataset((root / "day").string(), (root / "day").string(), -1); });
  EXPECT_NE(negative.find("--frame-tolerance"), std::string::npos) << negative;
}


TEST(Dataset, TrainingPositiveRadiusNarrowsPositivesUpToThePositiveRadius) {
  Dataset d;
  d.positive_radius = 2;
  d.position_unit = "frames";
  EXPECT_EQ(d.TrainingPositiveRadius(), 2);
  d.SetTrainingPositiveRadius(1);
  EXPECT_EQ(d.TrainingPositiveRadius(), 1);
  EXPECT_EQ(d.positive_radius, 2);  // negatives still start beyond 2
  EXPECT_NE(ThrownMessage([&] { d.SetTrainingPositiveRadius(3); }).find("must be in (0, 2] frames"), std::string::npos);
  EXPECT_NE(ThrownMessage([&] { d.SetTrainingPositiveRadius(0); }).find("got 0"), std::string::npos);
}

}  // namespace
}  // namespace vpr
