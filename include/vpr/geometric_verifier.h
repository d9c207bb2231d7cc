// Geometric verification: do two images show the same scene from two viewpoints? Local
// features are matched (mutual nearest neighbours plus Lowe's ratio test) and RANSAC fits
// a fundamental matrix or a homography; the inlier count is the score. Loop closure uses
// it to reject a wrong loop, retrieval to re-rank its shortlist.
#pragma once

#include <opencv2/core/mat.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "vpr/error.h"

namespace vpr {

struct VerifierOptions {
  // "orb" (fast, binary) or "sift" (slower, more robust to light).
  std::string features = "orb";
  // Keypoints kept per image (the strongest).
  int max_features = 1000;
  // Images are resized so that the longer side has this many pixels before detection
  // (0 = native); keypoints are reported in the original image's pixels.
  int max_side = 640;
  // Lowe's ratio test: best distance < ratio * second best. 1 = off.
  double ratio = 0.8;
  // Keep a match only when it is also the other image's nearest neighbour.
  bool mutual = true;
  // "fundamental" (any scene, what loops use) or "homography" (planar or distant scenes).
  std::string model = "fundamental";
  // RANSAC: maximum distance in pixels of an inlier (epipolar distance or reprojection).
  double ransac_threshold = 3.0;
  int ransac_iterations = 500;
  double ransac_confidence = 0.999;
  // An image pair is verified when it has at least this many inliers.
  int min_inliers = 12;
  // ... and at least this fraction of the tentative matches: RANSAC fits some inliers to
  // any large set of random matches (a fundamental matrix explains 7 by construction).
  double min_inlier_ratio = 0.1;
  void Check() const;  // throws vpr::UsageError naming the field and its range
};

// The local features of one image: keypoint positions (original pixels) and descriptors.
struct LocalFeatures {
  std::vector<float> x, y;  // one entry per keypoint
  cv::Mat descriptors;      // one row per keypoint (CV_8U for ORB, CV_32F for SIFT)
  int width = 0, height = 0;
  size_t size() const { return x.size(); }
};

struct Verification {
  int matches = 0;    // tentative correspondences after the ratio/mutual tests
  int inliers = 0;    // RANSAC inliers of the fitted model (0 when too few matches)
  bool verified = false;  // inliers >= min_inliers and >= min_inlier_ratio * matches
};

// Thread-safety: const methods may run concurrently; FeatureCache serialises itself.
class GeometricVerifier {
 public:
  explicit GeometricVerifier(const VerifierOptions& options = {});  // Check()s options
  ~GeometricVerifier();
  GeometricVerifier(GeometricVerifier&&) noexcept;
  GeometricVerifier& operator=(GeometricVerifier&&) noexcept;

  // 8-bit BGR, BGRA or grayscale, as cv::imread gives it; throws vpr::Error when empty.
  LocalFeatures Extract(const cv::Mat& image) const;
  Verification Verify(const LocalFeatures& query, const LocalFeatures& candidate) const;
  const VerifierOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Local features of database images, kept so that a query does not recompute them.
// Bounded: the least recently used entries are dropped beyond `capacity`.
class FeatureCache {
 public:
  explicit FeatureCache(size_t capacity = 10000);
  ~FeatureCache();
  void Put(int64_t id, LocalFeatures features);
  // nullptr when absent. The pointer stays valid until the entry is dropped.
  std::shared_ptr<const LocalFeatures> Get(int64_t id) const;
  void Erase(int64_t id);
  size_t size() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vpr
