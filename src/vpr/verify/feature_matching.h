// Tentative matches between two images' local features: nearest neighbours that pass
// Lowe's ratio test and, optionally, are mutual.
#pragma once

#include <opencv2/core.hpp>

#include <utility>
#include <vector>

namespace vpr {

// (row of `from`, row of `to`) pairs, in `from` order. One distance matrix serves both
// directions: the same pairs as a k=2 BFMatcher search from `from` (ratio test) checked
// against a k=1 search back from `to` (ties to the lower index, as BFMatcher), for half
// the distance computations. `norm`: cv::NORM_HAMMING (ORB) or cv::NORM_L2 (SIFT).
std::vector<std::pair<int, int>> RatioMatches(const cv::Mat& from, const cv::Mat& to, int norm, double ratio,
                                              bool mutual);

}  // namespace vpr
