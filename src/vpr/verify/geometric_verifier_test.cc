#include "vpr/geometric_verifier.h"

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <chrono>
#include <filesystem>
#include <random>

#include "vpr/test_config.h"
#include "vpr/util/thrown_message.h"

namespace vpr {
namespace {

// A textured scene: shapes of random colours on grey (seeded).
cv::Mat Texture(int seed, cv::Size size = {640, 480}) {
  cv::Mat image(size, CV_8UC3, cv::Scalar(90, 90, 90));
  cv::RNG rng(seed);
  for (int s = 0; s < 300; ++s) {
    cv::Point a(rng.uniform(0, size.width), rng.uniform(0, size.height));
    cv::Scalar colour(rng.uniform(0, 255), rng.uniform(0, 255), rng.uniform(0, 255));
    if (s % 2) cv::rectangle(image, a, a + cv::Point(rng.uniform(5, 40), rng.uniform(5, 40)), colour, cv::FILLED);
    else cv::circle(image, a, rng.uniform(3, 20), colour, cv::FILLED);
  }
  return image;
}

cv::Mat Warp(const cv::Mat& image, const cv::Mat& h) {
  cv::Mat out;
  cv::warpPerspective(image, out, h, image.size());
  return out;
}

cv::Mat KnownHomography() {
  return (cv::Mat_<double>(3, 3) << 0.95, 0.05, 12, -0.03, 0.97, 8, 2e-5, -1e-5, 1);
}

TEST(GeometricVerifier, AcceptsAKnownHomographyPairUnderBothModels) {
  const cv::Mat a = Texture(1);
  const cv::Mat b = Warp(a, KnownHomography());
  for (const char* model : {"homography", "fundamental"}) {
    for (const char* features : {"orb", "sift"}) {
      VerifierOptions o;
      o.model = model;
      o.features = features;
      GeometricVerifier verifier(o);
      const Verification v = verifier.Verify(verifier.Extract(a), verifier.Extract(b));
      EXPECT_TRUE(v.verified) << model << " " << features;
      EXPECT_GT(v.inliers, 100) << model << " " << features;
      EXPECT_LE(v.inliers, v.matches);
    }
  }
}

TEST(GeometricVerifier, RejectsShuffledFeaturesAndAnotherScene) {
  GeometricVerifier verifier;
  const LocalFeatures a = verifier.Extract(Texture(1));
  LocalFeatures shuffled = verifier.Extract(Warp(Texture(1), KnownHomography()));
  // The same descriptors at the positions of other keypoints: matches without geometry.
  std::mt19937 rng(3);
  std::shuffle(shuffled.x.begin(), shuffled.x.end(), rng);
  std::shuffle(shuffled.y.begin(), shuffled.y.end(), rng);
  const Verification v = verifier.Verify(a, shuffled);
  EXPECT_GT(v.matches, 100);
  EXPECT_FALSE(v.verified) << v.inliers << " inliers of " << v.matches;
  const Verification other = verifier.Verify(a, verifier.Extract(Texture(2)));
  EXPECT_FALSE(other.verified) << other.inliers << " inliers";
}

TEST(GeometricVerifier, IsDeterministicAndReportsOriginalPixels) {
  VerifierOptions o;
  o.max_side = 320;
  GeometricVerifier verifier(o);
  const cv::Mat image = Texture(4, {1280, 960});
  const LocalFeatures f = verifier.Extract(image);
  ASSERT_GT(f.size(), 100u);
  EXPECT_EQ(f.width, 1280);
  EXPECT_EQ(f.height, 960);
  EXPECT_GT(*std::max_element(f.x.begin(), f.x.end()), 640.0f);  // keypoints were scaled back up
  EXPECT_LT(*std::max_element(f.x.begin(), f.x.end()), 1280.0f);
  const LocalFeatures g = verifier.Extract(Warp(image, KnownHomography()));
  const Verification v1 = verifier.Verify(f, g), v2 = verifier.Verify(f, g);
  EXPECT_EQ(v1.inliers, v2.inliers);
  EXPECT_EQ(v1.matches, v2.matches);
  cv::Mat gray;
  cv::cvtColor(image, gray, cv::COLOR_BGR2GRAY);
  EXPECT_EQ(verifier.Extract(gray).size(), f.size());
  EXPECT_NE(ThrownMessage([&] { verifier.Extract(cv::Mat()); }).find("empty"), std::string::npos);
}

TEST(VerifierOptions, CheckNamesTheField) {
  VerifierOptions o;
  o.features = "surf";
  EXPECT_NE(ThrownMessage([&] { o.Check(); }).find("--verify-features"), std::string::npos);
  o = {};
  o.ratio = 1.5;
  EXPECT_NE(ThrownMessage([&] { GeometricVerifier{o}; }).find("(0, 1]"), std::string::npos);
  o = {};
  o.min_inliers = 0;
  EXPECT_NE(ThrownMessage([&] { o.Check(); }).find("min_inliers"), std::string::npos);
}

TEST(FeatureCache, DropsTheLeastRecentlyUsed) {
  FeatureCache cache(2);
  LocalFeatures f;
  f.x = {1.0f};
  cache.Put(1, f);
  cache.Put(2, f);
  ASSERT_NE(cache.Get(1), nullptr);  // 1 is now the most recent
  cache.Put(3, f);
  EXPECT_EQ(cache.Get(2), nullptr);
  EXPECT_NE(cache.Get(1), nullptr);
  EXPECT_NE(cache.Get(3), nullptr);
  EXPECT_EQ(cache.size(), 2u);
  cache.Erase(1);
  EXPECT_EQ(cache.Get(1), nullptr);
  EXPECT_EQ(cache.size(), 1u);
}

// Gardens Point: the same place by day and by night (or from the other side of the path)
// against a place 100 frames away. Prints the rates that chose the defaults.
TEST(GeometricVerifier, SeparatesSamePlacePairsFromOthersOnGardensPoint) {
  const std::filesystem::path root = std::filesystem::path(VPR_SHARED_DIR) / "data" / "gardens_point";
  if (!std::filesystem::exists(root / "day_right")) GTEST_SKIP() << "no Gardens Point under " << root;
  auto image = [&](const char* traversal, int i) {
    char name[32];
    std::snprintf(name, sizeof(name), "Image%03d.jpg", i);
    return cv::imread((root / traversal / name).string());
  };
  for (const char* features : {"orb", "sift"}) {
    VerifierOptions o;
    o.features = features;
    GeometricVerifier verifier(o);
    for (const char* other : {"day_left", "night_right"}) {
      int same = 0, different = 0, pairs = 0;
      double ms = 0;
      for (int i = 0; i < 200; i += 5, ++pairs) {
        const auto t0 = std::chrono::steady_clock::now();
        const LocalFeatures q = verifier.Extract(image(other, i));
        const LocalFeatures d = verifier.Extract(image("day_right", i));
        same += verifier.Verify(q, d).verified;
        ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        different += verifier.Verify(q, verifier.Extract(image("day_right", (i + 100) % 200))).verified;
      }
      std::printf("%s %s vs day_right: same place verified %d/%d, 100 frames away %d/%d; %.1f ms per pair\n",
                  features, other, same, pairs, different, pairs, ms / pairs);
      EXPECT_LE(different, pairs / 20) << features << " " << other;
      EXPECT_GT(same, 3 * different + 2) << features << " " << other;
    }
  }
}

// Cost per image at the sizes loop closure runs at (printed, not asserted).
TEST(GeometricVerifier, CostPerImage) {
  for (cv::Size size : {cv::Size(320, 240), cv::Size(640, 480)}) {
    GeometricVerifier verifier;
    const cv::Mat a = Texture(5, size), b = Warp(a, KnownHomography());
    const auto t0 = std::chrono::steady_clock::now();
    const LocalFeatures fa = verifier.Extract(a), fb = verifier.Extract(b);
    const auto t1 = std::chrono::steady_clock::now();
    const Verification v = verifier.Verify(fa, fb);
    const auto t2 = std::chrono::steady_clock::now();
    std::printf("%dx%d: extract %.1f ms per image, verify %.1f ms (%d inliers)\n", size.width, size.height,
                std::chrono::duration<double, std::milli>(t1 - t0).count() / 2,
                std::chrono::duration<double, std::milli>(t2 - t1).count(), v.inliers);
  }
}

}  // namespace
}  // namespace vpr
