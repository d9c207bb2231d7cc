// `vpr loops`: the loop detector over image sequences walked in time order, what it found
// per frame, and, with ground truth, how often it was right (precision, recall, recall at
// 100% precision, the precision-recall curve).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "vpr/eval/precision_recall.h"
#include "vpr/loop_detector.h"

namespace vpr {

struct LoopGroundTruthOptions {
  // The sequences are traversals of one route with aligned frames: frame i of one shows
  // the place of frame i of every other (Gardens Point's day_right, day_left, night_right).
  bool aligned_traversals = false;
  // Aligned: frames within this many of the same index are the same place.
  int tolerance = 2;
  // Or a CSV file, one line per frame with a revisit: frame,earlier_frame[,earlier_frame...]
  std::string revisits;
  // Or a CSV of positions, "x,y" per frame in sequence order: earlier frames within
  // `radius` are the same place.
  std::string positions;
  double radius = 10.0;
  bool enabled() const { return aligned_traversals || !revisits.empty() || !positions.empty(); }
  void Check() const;
};

struct LoopsOptions {
  RecognizerOptions recognizer;
  LoopDetectorOptions detector;
  // Image folders (or lists) concatenated in time order.
  std::vector<std::string> sequences;
  // Seconds between frames (frame i is at time i * frame_interval).
  double frame_interval = 1.0;
  LoopGroundTruthOptions truth;
  // Frames whose index within their sequence is below this form the tuning split, the
  // rest the test split: a confidence threshold chosen at 100% precision on the first is
  // reported on the second. 0 = no split.
  int tune_frames = 0;
  std::string out;  // folder for loops.json, metrics.json and report.html
  void Check() const;
};

struct LoopFrame {
  std::string path;
  int sequence = 0;     // which of the sequences
  int64_t index = 0;    // within its sequence
  LoopResult result;
  double ms = 0;        // describe + query (+ verification)
  std::vector<int64_t> revisits;  // true earlier frames outside the recent past (sorted)
  std::string error;    // the image could not be read (the frame is skipped)
};

struct LoopSplitMetrics {
  PrecisionRecall pr;  // frames ranked by the distance of their detected loop
  int64_t frames = 0, revisit_frames = 0, detected = 0, correct = 0;
};

struct LoopsReport {
  std::vector<LoopFrame> frames;
  bool has_truth = false;
  LoopSplitMetrics all, tune, test;
  // The tuning split's confidence threshold (-distance) at 100% precision (infinite when
  // none is 100% precise) applied to the test split.
  double tuned_threshold = 0;
  int64_t test_accepted = 0, test_correct = 0;
  double test_precision = 0, test_recall = 0;
  nlohmann::json Metrics() const;  // metrics.json
};

// Runs the detector and writes loops.json, metrics.json and report.html under options.out
// (all three committed together).
LoopsReport DetectLoops(const LoopsOptions& options);

// The ground-truth revisits of each frame (sorted earlier frames), from the options.
std::vector<std::vector<int64_t>> LoopRevisits(const LoopGroundTruthOptions& truth,
                                               const std::vector<int64_t>& sequence_sizes);

// Precision-recall over frames: a frame is accepted when it detected a loop whose
// distance clears the threshold, correct when the match is one of its revisits.
LoopSplitMetrics ScoreLoops(const std::vector<const LoopFrame*>& frames);

}  // namespace vpr
