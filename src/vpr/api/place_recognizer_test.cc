#include "vpr/place_recognizer.h"

#include <gtest/gtest.h>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <unistd.h>

#include <filesystem>

#include "vpr/app/extract.h"
#include "vpr/model/test_model.h"
#include "vpr/model/model_io.h"
#include "vpr/test_config.h"
#include "vpr/util/thrown_message.h"

namespace vpr {
namespace {
namespace fs = std::filesystem;

struct Files {
  fs::path dir;
  std::string model;
  std::vector<std::string> images;
};

// A tiny checkpoint that records max side 40 (as vpr cluster would), and three PNGs.
const Files& Fixture() {
  static const Files files = [] {
    Files f;
    // Per process: ctest runs each test of this binary in its own process, concurrently.
    f.dir = fs::path(VPR_BINARY_DIR) / "test_scratch" / "api" / ("recognizer_" + std::to_string(getpid()));
    fs::remove_all(f.dir);
    fs::create_directories(f.dir);
    VprModel model = TinyTestModel();
    f.model = (f.dir / "tiny.pth").string();
    ResizeOptions resize;
    resize.max_side = 40;
    SaveModel(f.model, model, {{"resize", ResizeRecord(resize)}});
    cv::RNG rng(5);
    for (int i = 0; i < 3; ++i) {
      cv::Mat image(60 + 10 * (i == 2), 80, CV_8UC3);
      rng.fill(image, cv::RNG::UNIFORM, 0, 255);
      f.images.push_back((f.dir / ("img" + std::to_string(i) + ".png")).string());
      cv::imwrite(f.images.back(), image);
    }
    return f;
  }();
  return files;
}

// The library describes a decoded image exactly as `vpr extract` describes its file, at
// the size the checkpoint records.
TEST(PlaceRecognizer, DescribesAsExtractDoesAtTheRecordedSize) {
  const Files& f = Fixture();
  RecognizerOptions options;
  options.model = f.model;
  PlaceRecognizer rec(options);
  EXPECT_EQ(rec.dim(), 256);
  EXPECT_NE(rec.Describe().find("max side 40"), std::string::npos) << rec.Describe();

  LoadedModel loaded = LoadModel(f.model, {});
  ExtractOptions extract;
  extract.resize.max_side = 40;
  extract.resize.reduced_decode = false;
  ExtractResult reference = ExtractDescriptors(loaded.model, f.images, extract);

  std::vector<cv::Mat> mats;
  for (const auto& path : f.images) mats.push_back(cv::imread(path, cv::IMREAD_COLOR));
  std::vector<std::vector<float>> batch = rec.Describe(mats);
  ASSERT_EQ(batch.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    std::vector<float> one = rec.Describe(mats[i]);
    ASSERT_EQ(one.size(), 256u);
    EXPECT_EQ(one, batch[i]);
    at::Tensor row = reference.descriptors[i].contiguous();
    EXPECT_TRUE(at::allclose(at::from_blob(one.data(), {256}), row, 0, 1e-6)) << "image " << i;
  }
  cv::Mat gray;
  cv::cvtColor(mats[0], gray, cv::COLOR_BGR2GRAY);
  EXPECT_EQ(rec.Describe(gray).size(), 256u);
}

TEST(PlaceRecognizer, BadModelOrImageSaysWhatIsWrong) {
  RecognizerOptions options;
  EXPECT_THROW(PlaceRecognizer{options}, UsageError);
  options.model = (Fixture().dir / "missing.pth").string();
  EXPECT_NE(ThrownMessage([&] { PlaceRecognizer{options}; }).find("missing.pth"), std::string::npos);
  options.model = Fixture().model;
  PlaceRecognizer rec(options);
  EXPECT_NE(ThrownMessage([&] { rec.Describe(cv::Mat()); }).find("empty"), std::string::npos);
}

}  // namespace
}  // namespace vpr
