#include "vpr/train/frozen_features.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <unistd.h>

#include <opencv2/imgcodecs.hpp>

#include "vpr/train/trainer.h"
#include "vpr/util/check.h"

namespace vpr {
namespace {
namespace fs = std::filesystem;

class FrozenFeatures : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("vpr_frozen_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    cv::RNG rng(3);
    for (int i = 0; i < 3; ++i) {
      cv::Mat image(40, 56, CV_8UC3);
      rng.fill(image, cv::RNG::UNIFORM, 0, 255);
      paths_.push_back((dir_ / ("im" + std::to_string(i) + ".png")).string());
      cv::imwrite(paths_.back(), image);
    }
    torch::manual_seed(5);
    ModelOptions options;
    options.backbone.arch = "mobilenet_v2";
    options.backbone.cut = 17;
    options.netvlad.num_clusters = 4;
    options.Resolve();
    model_ = VprModel(options);
    first_ = FirstTrainedEncoderLayer(options.backbone, 1);
  }
  void TearDown() override { fs::remove_all(dir_); }

  torch::Tensor Forward(const std::vector<std::string>& paths) {
    std::vector<at::Tensor> images;
    for (const auto& p : paths) images.push_back(ResizeImage(LoadImageRgb(p), {}));
    return ForwardImages(model_, images, at::kCPU);
  }

  fs::path dir_;
  std::vector<std::string> paths_;
  VprModel model_{nullptr};
  int64_t first_ = 0;
};

TEST_F(FrozenFeatures, DescriptorsAndGradientsEqualTheFullForward) {
  SetTrainableParameters(model_, 1);
  SetTrainingMode(model_);
  FrozenFeatureCache cache(model_, first_, {}, at::kCPU, int64_t{1} << 30);
  ASSERT_EQ(first_, 14);  // MobileNetV2's last stage trains: features[14:17]

  torch::Tensor expected = Forward(paths_);
  expected.sum().backward();
  std::vector<torch::Tensor> expected_grads;
  for (auto& p : model_->parameters())
    if (p.requires_grad()) expected_grads.push_back(p.grad().clone()), p.mutable_grad().zero_();

  for (int pass = 0; pass < 2; ++pass) {  // the second pass reads the kept features
    torch::Tensor got = DescribeImages(model_, cache, paths_);
    EXPECT_TRUE(torch::allclose(got, expected, 1e-5, 1e-6)) << "pass " << pass;
    got.sum().backward();
    size_t k = 0;
    for (auto& p : model_->parameters()) {
      if (!p.requires_grad()) continue;
      // Float sums in another order: equal up to rounding relative to the gradient's scale.
      const double scale = expected_grads[k].abs().max().item<double>();
      EXPECT_LT((p.grad() - expected_grads[k]).abs().max().item<double>(), 1e-5 * scale) << "pass " << pass;
      ++k;
      p.mutable_grad().zero_();
    }
  }
  EXPECT_EQ(cache.misses(), 3);
  EXPECT_EQ(cache.hits(), 3);
  EXPECT_EQ(cache.kept_images(), 3);
}

TEST_F(FrozenFeatures, KeepsWhatFitsTheBudgetAndRecomputesTheRest) {
  FrozenFeatureCache probe(model_, first_, {}, at::kCPU, 0);
  at::Tensor one = probe.Get(paths_[0]);
  const int64_t bytes = one.numel() * static_cast<int64_t>(one.element_size());
  EXPECT_EQ(probe.kept_images(), 0);
  EXPECT_EQ(probe.over_budget(), 1);

  FrozenFeatureCache cache(model_, first_, {}, at::kCPU, bytes + bytes / 2);
  for (int round = 0; round < 2; ++round)
    for (const auto& p : paths_) EXPECT_TRUE(torch::equal(cache.Get(p), probe.Get(p)));
  EXPECT_EQ(cache.kept_images(), 1);
  EXPECT_EQ(cache.kept_bytes(), bytes);
  EXPECT_EQ(cache.hits(), 1);       // the first image, on the second round
  EXPECT_EQ(cache.over_budget(), 4);  // the two others, both rounds
}

TEST_F(FrozenFeatures, UnreadableImageIsNamed) {
  std::string broken = (dir_ / "broken.jpg").string();
  std::ofstream(broken) << "not a jpeg";
  FrozenFeatureCache cache(model_, first_, {}, at::kCPU, 1 << 20);
  try {
    cache.Get(broken);
    FAIL() << "expected vpr::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("training image '" + broken + "' cannot be read"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace vpr
