#include "vpr/verify/feature_matching.h"

#include <gtest/gtest.h>

#include <opencv2/features2d.hpp>

namespace vpr {
namespace {

// The matching this replaced: two BFMatcher searches, k=2 forward with the ratio test and
// k=1 back.
std::vector<std::pair<int, int>> TwoSearches(const cv::Mat& from, const cv::Mat& to, int norm, double ratio) {
  cv::BFMatcher matcher(norm);
  std::vector<std::vector<cv::DMatch>> forward, backward;
  matcher.knnMatch(from, to, forward, 2);
  matcher.knnMatch(to, from, backward, 1);
  std::vector<std::pair<int, int>> pairs;
  for (const auto& m : forward) {
    if (m.empty() || (m.size() == 2 && !(m[0].distance < ratio * m[1].distance))) continue;
    if (backward[static_cast<size_t>(m[0].trainIdx)][0].trainIdx != m[0].queryIdx) continue;
    pairs.emplace_back(m[0].queryIdx, m[0].trainIdx);
  }
  return pairs;
}

TEST(RatioMatches, OneDistanceMatrixGivesThePairsOfTwoBruteForceSearches) {
  cv::RNG rng(11);
  // ORB-like binary descriptors with many near-duplicates (ties), and SIFT-like floats.
  cv::Mat a(500, 32, CV_8U), b(600, 32, CV_8U);
  rng.fill(a, cv::RNG::UNIFORM, 0, 4);
  rng.fill(b, cv::RNG::UNIFORM, 0, 4);
  a.rowRange(0, 200).copyTo(b.rowRange(100, 300));
  cv::Mat fa(300, 128, CV_32F), fb(250, 128, CV_32F);
  rng.fill(fa, cv::RNG::UNIFORM, 0, 1);
  rng.fill(fb, cv::RNG::UNIFORM, 0, 1);
  fa.rowRange(0, 100).copyTo(fb.rowRange(50, 150));
  for (double ratio : {0.8, 1.0}) {
    const auto binary = RatioMatches(a, b, cv::NORM_HAMMING, ratio, true);
    EXPECT_EQ(binary, TwoSearches(a, b, cv::NORM_HAMMING, ratio)) << ratio;
    EXPECT_EQ(RatioMatches(fa, fb, cv::NORM_L2, ratio, true), TwoSearches(fa, fb, cv::NORM_L2, ratio)) << ratio;
    EXPECT_GE(binary.size(), 150u);
  }
  EXPECT_TRUE(RatioMatches(a, cv::Mat(), cv::NORM_HAMMING, 0.8, true).empty());
  EXPECT_EQ(RatioMatches(a.rowRange(0, 3), a.rowRange(1, 2), cv::NORM_HAMMING, 0.8, false).size(), 3u)
      << "one candidate: no ratio test";
}

}  // namespace
}  // namespace vpr
