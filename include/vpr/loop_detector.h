// Loop closure, frame by frame: "this frame closes a loop with that earlier frame", with
// almost no false positives, because one wrong loop bends a whole map. As DLoopDetector
// does around bag-of-words, with NetVLAD descriptors: the recent past is left out, the
// nearest earlier frames are grouped into islands of neighbouring frames, an island must
// be found again over consecutive frames (temporal consistency), and its frame can be
// verified geometrically.
#pragma once

#include <opencv2/core/mat.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "vpr/error.h"
#include "vpr/geometric_verifier.h"
#include "vpr/place_database.h"
#include "vpr/place_recognizer.h"

namespace vpr {

struct LoopDetectorOptions {
  // Frames added within this many seconds before the current one are never candidates.
  double exclude_recent_seconds = 0.0;
  // ... nor the last this many frames (the robot has not left the place yet).
  int exclude_recent_frames = 20;
  // Nearest earlier frames retrieved per frame, grouped into islands.
  int candidates = 10;
  // A candidate counts only when its squared L2 distance to the frame is at most this
  // (descriptors are L2-normalised: 0 identical, 2 orthogonal, 4 opposite).
  float max_distance = 1.0f;
  // Candidates whose frame ids differ by at most this many frames form one island.
  int island_gap = 3;
  // The best island must be found on this many consecutive frames, each within
  // `temporal_window` frames of the previous one's island (1 = no temporal check).
  int temporal_consistency = 3;
  int temporal_window = 3;
  // Verify the island's frames geometrically (needs images, or features passed in).
  bool verify = false;
  // At most this many of the island's frames are verified, nearest first.
  int verify_candidates = 3;
  VerifierOptions verifier;
  void Check() const;  // throws vpr::UsageError naming the field and its range
};

enum class LoopStatus {
  kLoopDetected,
  kNoDbResults,             // the database is empty
  kCloseMatchesOnly,        // every earlier frame is in the excluded recent past
  kLowScores,               // no candidate within max_distance
  kNoTemporalConsistency,   // the island was not found on enough consecutive frames
  kNoGeometricalConsistency // no frame of the island passed verification
};
// "loop_detected", "no_db_results", ... (as loops.json writes them).
const char* LoopStatusName(LoopStatus status);

struct LoopResult {
  LoopStatus status = LoopStatus::kNoDbResults;
  int64_t id = -1;           // the id this frame got in the detector's database
  int64_t match_id = -1;     // the loop's earlier frame; else the best candidate, or -1
  float distance = 0.0f;     // of match_id
  int inliers = -1;          // of match_id, when verified (-1 when not verified)
  int consistent_frames = 0; // consecutive frames that found this island so far
  bool detected() const { return status == LoopStatus::kLoopDetected; }
};

// Thread-safety: one Process at a time; the detector keeps state between frames.
class LoopDetector {
 public:
  // On descriptors only (Process(descriptor, ...)); verification then needs features.
  LoopDetector(int dim, const LoopDetectorOptions& options = {});
  // On images: describes each frame with `recognizer` (kept alive by the detector).
  LoopDetector(std::shared_ptr<const PlaceRecognizer> recognizer, const LoopDetectorOptions& options = {});
  ~LoopDetector();
  LoopDetector(LoopDetector&&) noexcept;
  LoopDetector& operator=(LoopDetector&&) noexcept;

  // Feeds the next frame (times must not decrease), adds it to the database and says
  // whether it closes a loop.
  LoopResult Process(const cv::Mat& image, double time, const std::string& name = {});
  // `features` is required when options().verify (GeometricVerifier::Extract of the frame).
  LoopResult Process(const std::vector<float>& descriptor, double time, const std::string& name = {},
                     const LocalFeatures* features = nullptr);

  const PlaceDatabase& database() const;
  const LoopDetectorOptions& options() const;

  // One versioned file, written atomically: options, the database, the frames' local
  // features and the temporal state, so a restarted robot continues where it stopped.
  void Save(const std::string& path) const;
  // `recognizer` may be null for a detector fed descriptors.
  static LoopDetector Load(const std::string& path, std::shared_ptr<const PlaceRecognizer> recognizer = nullptr);

 private:
  struct Impl;
  explicit LoopDetector(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vpr
