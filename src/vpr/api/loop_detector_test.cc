#include "vpr/loop_detector.h"

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include <filesystem>
#include <fstream>
#include <random>

#include "vpr/util/thrown_message.h"

namespace vpr {
namespace {

constexpr int kDim = 64;
constexpr int kPlaces = 60;

std::vector<float> Normalised(std::vector<float> v) {
  double norm = 0;
  for (float x : v) norm += double(x) * x;
  for (float& x : v) x = static_cast<float>(x / std::sqrt(norm));
  return v;
}

// A route of kPlaces places: place i's descriptor is the mean of random vectors i..i+3,
// so neighbouring places look alike (d ~ 0.5) and places 4 or more apart do not (d ~ 2).
class Route {
 public:
  Route() : rng_(7) {
    std::normal_distribution<float> normal;
    std::vector<std::vector<float>> g(kPlaces + 4, std::vector<float>(kDim));
    for (auto& v : g)
      for (float& x : v) x = normal(rng_);
    for (int i = 0; i < kPlaces; ++i) {
      std::vector<float> p(kDim, 0.0f);
      for (int j = 0; j < 4; ++j)
        for (int c = 0; c < kDim; ++c) p[c] += g[i + j][c];
      places_.push_back(Normalised(p));
    }
  }
  // A view of place i: its descriptor with a little noise.
  std::vector<float> View(int i) {
    std::normal_distribution<float> normal(0.0f, 0.05f);
    std::vector<float> v = places_[i];
    for (float& x : v) x += normal(rng_);
    return Normalised(v);
  }

 private:
  std::mt19937 rng_;
  std::vector<std::vector<float>> places_;
};

// A textured image for place i (seeded by i), seen from a slightly different viewpoint
// when `revisit`.
// Blurred noise: an image that shares nothing with the places.
cv::Mat NoiseImage() {
  cv::Mat noise(240, 320, CV_8UC3);
  cv::randu(noise, cv::Scalar::all(0), cv::Scalar::all(255));
  cv::GaussianBlur(noise, noise, cv::Size(0, 0), 2.0);
  return noise;
}

cv::Mat PlaceImage(int i, bool revisit) {
  cv::Mat image(240, 320, CV_8UC3, cv::Scalar(90, 90, 90));
  cv::RNG rng(1000 + i);
  for (int s = 0; s < 120; ++s) {
    cv::Point a(rng.uniform(0, 320), rng.uniform(0, 240));
    cv::Scalar colour(rng.uniform(0, 255), rng.uniform(0, 255), rng.uniform(0, 255));
    if (s % 2) cv::rectangle(image, a, a + cv::Point(rng.uniform(5, 30), rng.uniform(5, 30)), colour, cv::FILLED);
    else cv::circle(image, a, rng.uniform(3, 15), colour, cv::FILLED);
  }
  if (!revisit) return image;
  const cv::Point2f from[4] = {{0, 0}, {319, 0}, {319, 239}, {0, 239}};
  const cv::Point2f to[4] = {{6, 4}, {310, 0}, {316, 236}, {2, 232}};
  cv::Mat warped;
  cv::warpPerspective(image, warped, cv::getPerspectiveTransform(from, to), image.size());
  return warped;
}

LoopDetectorOptions Options() {
  LoopDetectorOptions o;
  o.exclude_recent_frames = 20;
  o.candidates = 8;
  o.max_distance = 1.0f;
  o.temporal_consistency = 3;
  return o;
}

TEST(LoopDetector, StatusesOnARouteWalkedTwice) {
  Route route;
  LoopDetector detector(kDim, Options());
  std::vector<LoopResult> results;
  for (int f = 0; f < 2 * kPlaces; ++f) results.push_back(detector.Process(route.View(f % kPlaces), f));
  EXPECT_EQ(results[0].status, LoopStatus::kNoDbResults);
  for (int f = 1; f <= 20; ++f) EXPECT_EQ(results[f].status, LoopStatus::kCloseMatchesOnly) << "frame " << f;
  for (int f = 21; f < kPlaces; ++f) EXPECT_EQ(results[f].status, LoopStatus::kLowScores) << "frame " << f;
  // The second walk: the first two revisits are not yet consistent, the rest are loops.
  EXPECT_EQ(results[kPlaces].status, LoopStatus::kNoTemporalConsistency);
  EXPECT_EQ(results[kPlaces + 1].status, LoopStatus::kNoTemporalConsistency);
  EXPECT_EQ(results[kPlaces + 1].consistent_frames, 2);
  for (int f = kPlaces + 2; f < 2 * kPlaces - 20; ++f) {
    EXPECT_EQ(results[f].status, LoopStatus::kLoopDetected) << "frame " << f;
    EXPECT_LE(std::abs(results[f].match_id - (f - kPlaces)), 1) << "frame " << f;
    EXPECT_EQ(results[f].id, f);
  }
  EXPECT_EQ(detector.database().size(), 2 * kPlaces);
  EXPECT_STREQ(LoopStatusName(results[kPlaces + 5].status), "loop_detected");
}

TEST(LoopDetector, RecentSecondsAndTimeOrder) {
  Route route;
  LoopDetectorOptions o = Options();
  o.exclude_recent_frames = 0;
  o.exclude_recent_seconds = 10.0;
  o.temporal_consistency = 1;
  LoopDetector detector(kDim, o);
  detector.Process(route.View(0), 0.0);
  // The same place 5 s later is too recent; 20 s later it is a loop.
  EXPECT_EQ(detector.Process(route.View(0), 5.0).status, LoopStatus::kCloseMatchesOnly);
  const LoopResult later = detector.Process(route.View(0), 20.0);
  EXPECT_EQ(later.status, LoopStatus::kLoopDetected);
  EXPECT_LT(later.match_id, 2);
  EXPECT_NE(ThrownMessage([&] { detector.Process(route.View(1), 19.0); }).find("time order"), std::string::npos);
  LoopDetectorOptions bad = Options();
  bad.max_distance = 5;
  EXPECT_NE(ThrownMessage([&] { LoopDetector(kDim, bad); }).find("max_distance"), std::string::npos);
}

TEST(LoopDetector, VerificationRejectsALoopWhoseImagesDisagree) {
  Route route;
  LoopDetectorOptions o = Options();
  o.verify = true;
  LoopDetector detector(kDim, o);
  GeometricVerifier verifier(o.verifier);
  EXPECT_NE(ThrownMessage([&] { detector.Process(route.View(0), 0.0); }).find("local features"), std::string::npos);
  const int fake = kPlaces + 30;  // a revisit whose image shows another place
  for (int f = 0; f < 2 * kPlaces - 20; ++f) {
    const int place = f % kPlaces;
    const LocalFeatures features = verifier.Extract(f == fake ? NoiseImage() : PlaceImage(place, f >= kPlaces));
    const LoopResult r = detector.Process(route.View(place), f, "frame" + std::to_string(f), &features);
    if (f == fake) {
      EXPECT_EQ(r.status, LoopStatus::kNoGeometricalConsistency);
      EXPECT_GE(r.match_id, 0);
    } else if (f >= kPlaces + 2) {
      EXPECT_EQ(r.status, LoopStatus::kLoopDetected) << "frame " << f;
      EXPECT_GE(r.inliers, o.verifier.min_inliers) << "frame " << f;
    }
  }
}

TEST(LoopDetector, SaveAndLoadContinueTheSequenceIdentically) {
  Route route;
  LoopDetectorOptions o = Options();
  o.verify = true;
  GeometricVerifier verifier(o.verifier);
  LoopDetector detector(kDim, o);
  std::vector<std::vector<float>> views;
  std::vector<LocalFeatures> features;
  for (int f = 0; f < 2 * kPlaces; ++f) {
    views.push_back(route.View(f % kPlaces));
    features.push_back(verifier.Extract(PlaceImage(f % kPlaces, f >= kPlaces)));
  }
  const int stop = kPlaces + 1;  // mid-way through a run of consistent frames
  for (int f = 0; f < stop; ++f) detector.Process(views[f], f, "", &features[f]);
  const auto dir = std::filesystem::temp_directory_path() / ("vpr_loop_test_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "map.vprloop").string();
  detector.Save(path);
  LoopDetector loaded = LoopDetector::Load(path);
  EXPECT_EQ(loaded.database().size(), stop);
  int loops = 0;
  for (int f = stop; f < 2 * kPlaces; ++f) {
    const LoopResult a = detector.Process(views[f], f, "", &features[f]);
    const LoopResult b = loaded.Process(views[f], f, "", &features[f]);
    EXPECT_EQ(a.status, b.status) << "frame " << f;
    EXPECT_EQ(a.match_id, b.match_id) << "frame " << f;
    EXPECT_EQ(a.inliers, b.inliers) << "frame " << f;
    EXPECT_EQ(a.consistent_frames, b.consistent_frames) << "frame " << f;
    loops += a.detected();
  }
  EXPECT_GT(loops, 30);
  // A cut file is a clear error naming it.
  const std::string bytes = [&] {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }();
  for (size_t cut : {size_t{5}, size_t{40}, bytes.size() / 2, bytes.size() - 3}) {
    std::ofstream(dir / "cut.vprloop", std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(cut));
    EXPECT_NE(ThrownMessage([&] { LoopDetector::Load((dir / "cut.vprloop").string()); }).find("cut.vprloop"),
              std::string::npos)
        << "cut at " << cut;
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace vpr
