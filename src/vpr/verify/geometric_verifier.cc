// Local features (ORB or SIFT) matched with the ratio and mutual tests, then RANSAC.
#include "vpr/geometric_verifier.h"
#include "vpr/verify/feature_matching.h"

#include <opencv2/calib3d.hpp>
#include <opencv2/features2d.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>

#include "vpr/util/check.h"

namespace vpr {

void VerifierOptions::Check() const {
  VPR_CHECK_USAGE(features == "orb" || features == "sift", "VerifierOptions::features (--verify-features) must be ",
                  "\"orb\" or \"sift\", got \"", features, "\"");
  VPR_CHECK_USAGE(max_features >= 8 && max_features <= 100000, "VerifierOptions::max_features (--verify-max-features) ",
                  "must be in [8, 100000], got ", max_features);
  VPR_CHECK_USAGE(max_side == 0 || (max_side >= 32 && max_side <= 8192), "VerifierOptions::max_side ",
                  "(--verify-max-side) must be 0 (native) or in [32, 8192], got ", max_side);
  VPR_CHECK_USAGE(ratio > 0 && ratio <= 1, "VerifierOptions::ratio (--verify-ratio) must be in (0, 1], got ", ratio);
  VPR_CHECK_USAGE(model == "fundamental" || model == "homography", "VerifierOptions::model (--verify-model) must be ",
                  "\"fundamental\" or \"homography\", got \"", model, "\"");
  VPR_CHECK_USAGE(ransac_threshold > 0 && ransac_threshold <= 100, "VerifierOptions::ransac_threshold ",
                  "(--verify-threshold) must be in (0, 100] pixels, got ", ransac_threshold);
  VPR_CHECK_USAGE(ransac_iterations >= 1 && ransac_iterations <= 100000, "VerifierOptions::ransac_iterations ",
                  "(--verify-iterations) must be in [1, 100000], got ", ransac_iterations);
  VPR_CHECK_USAGE(ransac_confidence > 0 && ransac_confidence < 1, "VerifierOptions::ransac_confidence must be in ",
                  "(0, 1), got ", ransac_confidence);
  VPR_CHECK_USAGE(min_inliers >= 1, "VerifierOptions::min_inliers (--verify-min-inliers) must be >= 1, got ",
                  min_inliers);
  VPR_CHECK_USAGE(min_inlier_ratio >= 0 && min_inlier_ratio <= 1, "VerifierOptions::min_inlier_ratio ",
                  "(--verify-min-inlier-ratio) must be in [0, 1], got ", min_inlier_ratio);
}

struct GeometricVerifier::Impl {
  VerifierOptions options;
  cv::Ptr<cv::Feature2D> detector;
  int norm = cv::NORM_HAMMING;
};

GeometricVerifier::GeometricVerifier(const VerifierOptions& options) : impl_(std::make_unique<Impl>()) {
  options.Check();
  impl_->options = options;
  if (options.features == "orb") {
    impl_->detector = cv::ORB::create(options.max_features);
  } else {
    impl_->detector = cv::SIFT::create(options.max_features);
    impl_->norm = cv::NORM_L2;
  }
}

GeometricVerifier::~GeometricVerifier() = default;
GeometricVerifier::GeometricVerifier(GeometricVerifier&&) noexcept = default;
GeometricVerifier& GeometricVerifier::operator=(GeometricVerifier&&) noexcept = default;
const VerifierOptions& GeometricVerifier::options() const { return impl_->options; }

LocalFeatures GeometricVerifier::Extract(const cv::Mat& image) const {
  VPR_CHECK(!image.empty(), "GeometricVerifier::Extract: the image is empty (did cv::imread fail?)");
  VPR_CHECK(image.depth() == CV_8U && (image.channels() == 1 || image.channels() == 3 || image.channels() == 4),
            "GeometricVerifier::Extract: needs an 8-bit gray, BGR or BGRA image, got ", image.channels(),
            " channels of depth ", image.depth());
  cv::Mat gray;
  if (image.channels() == 1) gray = image;
  else cv::cvtColor(image, gray, image.channels() == 3 ? cv::COLOR_BGR2GRAY : cv::COLOR_BGRA2GRAY);
  const int side = std::max(gray.cols, gray.rows);
  const double scale = impl_->options.max_side > 0 && side > impl_->options.max_side
                           ? double(impl_->options.max_side) / side
                           : 1.0;
  if (scale < 1.0) cv::resize(gray, gray, cv::Size(), scale, scale, cv::INTER_AREA);
  std::vector<cv::KeyPoint> keypoints;
  LocalFeatures f;
  // Feature2D objects keep no per-call state for detectAndCompute: const calls may share it.
  impl_->detector->detectAndCompute(gray, cv::noArray(), keypoints, f.descriptors);
  f.width = image.cols;
  f.height = image.rows;
  for (const cv::KeyPoint& k : keypoints) {
    f.x.push_back(static_cast<float>(k.pt.x / scale));
    f.y.push_back(static_cast<float>(k.pt.y / scale));
  }
  return f;
}

Verification GeometricVerifier::Verify(const LocalFeatures& query, const LocalFeatures& candidate) const {
  const VerifierOptions& o = impl_->options;
  VPR_CHECK(query.descriptors.type() == candidate.descriptors.type() || query.size() == 0 || candidate.size() == 0,
            "GeometricVerifier::Verify: the two images' features are of different kinds (ORB and SIFT?)");
  std::vector<cv::Point2f> a, b;
  for (const auto [i, j] : RatioMatches(query.descriptors, candidate.descriptors, impl_->norm, o.ratio, o.mutual)) {
    a.emplace_back(query.x[static_cast<size_t>(i)], query.y[static_cast<size_t>(i)]);
    b.emplace_back(candidate.x[static_cast<size_t>(j)], candidate.y[static_cast<size_t>(j)]);
  }
  Verification v;
  v.matches = static_cast<int>(a.size());
  const bool homography = o.model == "homography";
  if (v.matches < (homography ? 4 : 8)) return v;
  // OpenCV's RANSAC draws from its global generator: seeded per call, a pair gives the same
  // inliers every time (and loop detection is reproducible).
  cv::setRNGSeed(12345);
  cv::Mat mask;
  if (homography)
    cv::findHomography(a, b, cv::RANSAC, o.ransac_threshold, mask, o.ransac_iterations, o.ransac_confidence);
  else
    cv::findFundamentalMat(a, b, cv::FM_RANSAC, o.ransac_threshold, o.ransac_confidence, o.ransac_iterations, mask);
  v.inliers = mask.empty() ? 0 : cv::countNonZero(mask);
  v.verified = v.inliers >= o.min_inliers && v.inliers >= o.min_inlier_ratio * v.matches;
  return v;
}

}  // namespace vpr
