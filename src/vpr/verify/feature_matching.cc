#include "vpr/verify/feature_matching.h"

#include <limits>

namespace vpr {

namespace {

// T: int (Hamming distances) or float (L2).
template <typename T>
std::vector<std::pair<int, int>> PairsFromDistances(const cv::Mat& d, double ratio, bool mutual) {
  std::vector<std::pair<int, int>> pairs;
  // Back from `to`: each column's nearest row, the first one among equals.
  std::vector<int> back(static_cast<size_t>(d.cols), -1);
  if (mutual) {
    std::vector<T> best(static_cast<size_t>(d.cols), std::numeric_limits<T>::max());
    for (int i = 0; i < d.rows; ++i) {
      const T* row = d.ptr<T>(i);
      for (int j = 0; j < d.cols; ++j)
        if (row[j] < best[j]) best[j] = row[j], back[j] = i;
    }
  }
  for (int i = 0; i < d.rows; ++i) {
    const T* row = d.ptr<T>(i);
    int first = 0;
    T d1 = std::numeric_limits<T>::max(), d2 = d1;
    for (int j = 0; j < d.cols; ++j) {
      if (row[j] < d1) {
        d2 = d1, d1 = row[j], first = j;
      } else if (row[j] < d2) {
        d2 = row[j];
      }
    }
    // As BFMatcher's float distances: the ratio test in float.
    if (d.cols > 1 && !(static_cast<float>(d1) < ratio * static_cast<float>(d2))) continue;
    if (mutual && back[first] != i) continue;
    pairs.emplace_back(i, first);
  }
  return pairs;
}

}  // namespace

std::vector<std::pair<int, int>> RatioMatches(const cv::Mat& from, const cv::Mat& to, int norm, double ratio,
                                              bool mutual) {
  if (from.empty() || to.empty()) return {};
  const bool hamming = norm == cv::NORM_HAMMING || norm == cv::NORM_HAMMING2;
  cv::Mat d;  // from.rows x to.rows
  cv::batchDistance(from, to, d, hamming ? CV_32S : CV_32F, cv::noArray(), norm, 0);
  return hamming ? PairsFromDistances<int>(d, ratio, mutual) : PairsFromDistances<float>(d, ratio, mutual);
}

}  // namespace vpr
