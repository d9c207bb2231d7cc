// `vpr loops`: the loop detector over image sequences walked in time order.
#include <fmt/format.h>

#include <iostream>

#include "vpr/cli/commands.h"
#include "vpr/cli/flags.h"
#include "vpr/cli/parse_flags.h"
#include "vpr/loops/loop_evaluation.h"
#include "vpr/util/logging.h"

namespace vpr {

int RunLoopsCommand(int argc, char** argv) {
  CLI::App app("Detect loop closures frame by frame over image sequences walked in time order.\n"
               "Writes OUT/loops.json (per frame: status, match, distance, inliers, ms), OUT/metrics.json and\n"
               "OUT/report.html; with ground truth, precision, recall and recall at 100% precision.",
               "vpr loops");
  LoopsOptions o;
  LoopDetectorOptions& d = o.detector;
  RecognizerOptions& r = o.recognizer;
  BindRecognizerFlags(app, r);
  app.add_option("--images", o.sequences, "image folders or lists, concatenated in time order")->required();
  app.add_option("--out", o.out, "output folder")->required();
  app.add_option("--frame-interval", o.frame_interval, "seconds between frames")->capture_default_str();
  app.add_option("--exclude-recent-frames", d.exclude_recent_frames, "the last N frames are never loop candidates")
      ->capture_default_str();
  app.add_option("--exclude-recent-seconds", d.exclude_recent_seconds, "... nor frames this recent")
      ->capture_default_str();
  app.add_option("--candidates", d.candidates, "nearest earlier frames retrieved per frame")->capture_default_str();
  app.add_option("--max-distance", d.max_distance, "squared L2 distance a candidate may have (unit descriptors: 0-4)")
      ->capture_default_str();
  app.add_option("--island-gap", d.island_gap, "candidates this many frames apart form one island")
      ->capture_default_str();
  app.add_option("--temporal-consistency", d.temporal_consistency,
                 "consecutive frames that must find the island (1 = off)")
      ->capture_default_str();
  app.add_option("--temporal-window", d.temporal_window, "frames an island may move between consecutive frames")
      ->capture_default_str();
  app.add_flag("--verify", d.verify, "verify loops geometrically (local features + RANSAC)");
  app.add_option("--verify-candidates", d.verify_candidates, "island frames verified, nearest first")
      ->capture_default_str();
  BindVerifierFlags(app, d.verifier);
  app.add_flag("--aligned-traversals", o.truth.aligned_traversals,
               "ground truth: the sequences are traversals of one route, frame i of each = place i");
  app.add_option("--tolerance", o.truth.tolerance, "aligned traversals: frames within this many are the same place")
      ->capture_default_str();
  app.add_option("--revisits", o.truth.revisits, "ground truth: CSV lines frame,earlier_frame[,...]");
  app.add_option("--positions", o.truth.positions, "ground truth: CSV x,y per frame");
  app.add_option("--radius", o.truth.radius, "positions: earlier frames this close are the same place")
      ->capture_default_str();
  app.add_option("--tune-frames", o.tune_frames,
                 "frames with index below N in their sequence tune the threshold, the rest test it (0 = no split)")
      ->capture_default_str();
  VPR_PARSE_FLAGS(app, argc, argv);

  const LoopsReport report = DetectLoops(o);
  const nlohmann::json m = report.Metrics();
  std::cout << "loops: " << report.frames.size() << " frames, written to " << o.out << "\n";
  if (report.has_truth) {
    std::cout << fmt::format("recall at 100% precision: {:.1f}% ({} frames with a revisit; {} loops detected, {} "
                             "correct)\n",
                             100 * report.all.pr.recall_at_full_precision, report.all.revisit_frames,
                             report.all.detected, report.all.correct);
    if (o.tune_frames > 0)
      std::cout << fmt::format("test frames at the distance tuned on the others (<= {:.4f}): precision {:.1f}%, recall {:.1f}%; "
                               "test recall at 100% precision {:.1f}%\n",
                               -report.tuned_threshold, 100 * report.test_precision, 100 * report.test_recall,
                               100 * report.test.pr.recall_at_full_precision);
  }
  return 0;
}

}  // namespace vpr
