#include "vpr/loops/loop_evaluation.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "vpr/app/report_html.h"
#include "vpr/image/image_io.h"
#include "vpr/image/image_list.h"
#include "vpr/util/atomic_file.h"
#include "vpr/util/check.h"
#include "vpr/util/logging.h"
#include "vpr/util/progress.h"

namespace vpr {

void LoopGroundTruthOptions::Check() const {
  VPR_CHECK_USAGE(int(aligned_traversals) + int(!revisits.empty()) + int(!positions.empty()) <= 1,
                  "give one ground truth: --aligned-traversals, --revisits or --positions");
  VPR_CHECK_USAGE(tolerance >= 0, "--tolerance must be >= 0 frames, got ", tolerance);
  VPR_CHECK_USAGE(radius > 0, "--radius must be > 0, got ", radius);
}

void LoopsOptions::Check() const {
  VPR_CHECK_USAGE(!recognizer.model.empty(), "--model is required");
  VPR_CHECK_USAGE(!sequences.empty(), "--images needs at least one image folder or list");
  VPR_CHECK_USAGE(!out.empty(), "--out is required");
  VPR_CHECK_USAGE(frame_interval > 0, "--frame-interval must be > 0 seconds, got ", frame_interval);
  VPR_CHECK_USAGE(tune_frames >= 0, "--tune-frames must be >= 0, got ", tune_frames);
  VPR_CHECK_USAGE(tune_frames == 0 || truth.enabled(), "--tune-frames needs ground truth (--aligned-traversals, ",
                  "--revisits or --positions)");
  detector.Check();
  truth.Check();
}

namespace {

std::vector<std::vector<int64_t>> AlignedRevisits(const std::vector<int64_t>& sizes, int tolerance) {
  std::vector<int64_t> offsets = {0};
  for (int64_t n : sizes) offsets.push_back(offsets.back() + n);
  std::vector<std::vector<int64_t>> out(static_cast<size_t>(offsets.back()));
  for (size_t s = 0; s < sizes.size(); ++s)
    for (int64_t i = 0; i < sizes[s]; ++i)
      for (size_t e = 0; e < s; ++e)
        for (int64_t j = std::max<int64_t>(0, i - tolerance); j <= std::min(sizes[e] - 1, i + tolerance); ++j)
          out[static_cast<size_t>(offsets[s] + i)].push_back(offsets[e] + j);
  return out;
}

std::vector<std::vector<double>> CsvRows(const std::string& path, const char* flag) {
  std::ifstream in(path);
  VPR_CHECK(in, "cannot read ", flag, " file '", path, "'");
  std::vector<std::vector<double>> rows;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty() || line[0] == '#') continue;
    std::replace(line.begin(), line.end(), ',', ' ');
    std::istringstream fields(line);
    std::vector<double> row;
    for (double v; fields >> v;) row.push_back(v);
    const bool header = rows.empty() && row.empty();
    VPR_CHECK(header || (!row.empty() && fields.eof()), flag, " '", path, "' line ", n, ": '", line,
              "' is not comma-separated numbers");
    if (!header) rows.push_back(row);
  }
  return rows;
}

std::vector<std::vector<int64_t>> FileRevisits(const std::string& path, int64_t frames) {
  std::vector<std::vector<int64_t>> out(static_cast<size_t>(frames));
  for (const auto& row : CsvRows(path, "--revisits")) {
    const auto f = static_cast<int64_t>(row[0]);
    VPR_CHECK(f >= 0 && f < frames, "--revisits '", path, "' names frame ", f, " of a sequence of ", frames);
    for (size_t c = 1; c < row.size(); ++c) {
      const auto g = static_cast<int64_t>(row[c]);
      VPR_CHECK(g >= 0 && g < f, "--revisits '", path, "': frame ", f, " revisits frame ", g,
                ", which is not an earlier frame");
      out[static_cast<size_t>(f)].push_back(g);
    }
  }
  return out;
}

std::vector<std::vector<int64_t>> PositionRevisits(const std::string& path, double radius, int64_t frames) {
  const auto rows = CsvRows(path, "--positions");
  VPR_CHECK(static_cast<int64_t>(rows.size()) == frames, "--positions '", path, "' has ", rows.size(),
            " positions for ", frames, " frames: one \"x,y\" line per frame, in sequence order");
  for (const auto& r : rows) VPR_CHECK(r.size() >= 2, "--positions '", path, "': every line needs x,y");
  std::vector<std::vector<int64_t>> out(static_cast<size_t>(frames));
  for (int64_t f = 0; f < frames; ++f)
    for (int64_t g = 0; g < f; ++g)
      if (std::hypot(rows[f][0] - rows[g][0], rows[f][1] - rows[g][1]) <= radius) out[f].push_back(g);
  return out;
}

std::string StatusTable(const LoopsReport& report) {
  std::map<std::string, int64_t> counts;
  for (const LoopFrame& f : report.frames) counts[f.error.empty() ? LoopStatusName(f.result.status) : "unreadable"]++;
  std::string rows;
  for (const auto& [status, n] : counts) rows += fmt::format("<tr><td>{}</td><td>{}</td></tr>", status, n);
  return "<h2>Frames by status</h2><table><tr><th>status</th><th>frames</th></tr>" + rows + "</table>";
}

std::string SplitRow(const char* name, const LoopSplitMetrics& m) {
  return fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1f}</td><td>{:.1f}</td></tr>",
                     name, m.frames, m.revisit_frames, m.detected, m.correct, 100 * m.pr.recall_at_full_precision,
                     100 * m.pr.average_precision);
}

std::string RenderLoopsHtml(const LoopsReport& report, const nlohmann::json& metrics) {
  std::string html = fmt::format(
      "<!doctype html><html><head><meta charset=utf-8><title>vpr loops report</title><style>{}</style></head><body>"
      "<h1>Loop closure</h1><p>{} frames; model {}</p>",
      ReportStyle(), report.frames.size(), HtmlEscape(metrics.value("model", "")));
  html += StatusTable(report);
  if (report.has_truth) {
    html += "<h2>Against the ground truth</h2><table><tr><th>frames</th><th>count</th><th>with a revisit</th>"
            "<th>loops detected</th><th>correct</th><th>recall at 100% precision (%)</th><th>AP (%)</th></tr>" +
            SplitRow("all", report.all);
    if (report.tune.frames) html += SplitRow("tune", report.tune) + SplitRow("test", report.test);
    html += "</table>";
    if (report.tune.frames)
      html += fmt::format("<p>Threshold chosen on the tuning frames (distance &le; {:.4f}) applied to the test "
                          "frames: precision {:.1f}%, recall {:.1f}% ({} accepted, {} correct).</p>",
                          -report.tuned_threshold, 100 * report.test_precision, 100 * report.test_recall,
                          report.test_accepted, report.test_correct);
    html += "<h2>Precision-recall (frames ranked by the distance of their loop)</h2>" +
            PrecisionRecallSvg(report.all.pr, "loops-pr-curve");
  }
  html += "<details><summary>metrics.json</summary><pre>" + HtmlEscape(metrics.dump(2)) + "</pre></details>";
  return html + "</body></html>\n";
}

nlohmann::json SplitJson(const LoopSplitMetrics& m) {
  nlohmann::json curve = nlohmann::json::array();
  for (const PrPoint& p : m.pr.curve) curve.push_back({p.threshold, p.precision, p.recall});
  return {{"frames", m.frames},
          {"revisit_frames", m.revisit_frames},
          {"detected", m.detected},
          {"correct", m.correct},
          {"recall_at_100_precision", m.pr.recall_at_full_precision},
          {"average_precision", m.pr.average_precision},
          {"pr_curve", {{"columns", {"min_confidence", "precision", "recall"}}, {"points", curve}}}};
}

nlohmann::json FramesJson(const LoopsReport& report) {
  nlohmann::json frames = nlohmann::json::array();
  for (size_t f = 0; f < report.frames.size(); ++f) {
    const LoopFrame& x = report.frames[f];
    nlohmann::json row = {{"frame", f}, {"name", x.path}, {"sequence", x.sequence}, {"index", x.index}};
    if (!x.error.empty()) {
      row["error"] = x.error;
    } else {
      row.update({{"status", LoopStatusName(x.result.status)},
                  {"match", x.result.match_id},
                  {"distance", x.result.distance},
                  {"inliers", x.result.inliers},
                  {"consistent_frames", x.result.consistent_frames},
                  {"ms", x.ms}});
      if (report.has_truth) row["revisits"] = x.revisits;
    }
    frames.push_back(row);
  }
  return {{"version", 1}, {"frames", frames}};
}

// The sequences' images in time order, with their sequence and index.
std::vector<LoopFrame> ListFrames(const std::vector<std::string>& sequences, std::vector<int64_t>* sizes) {
  std::vector<LoopFrame> frames;
  for (size_t s = 0; s < sequences.size(); ++s) {
    const std::vector<std::string> paths = CollectImages({sequences[s]});
    sizes->push_back(static_cast<int64_t>(paths.size()));
    for (size_t i = 0; i < paths.size(); ++i) frames.push_back({paths[i], static_cast<int>(s), int64_t(i), {}, 0, {}, {}});
  }
  return frames;
}

}  // namespace

std::vector<std::vector<int64_t>> LoopRevisits(const LoopGroundTruthOptions& truth,
                                               const std::vector<int64_t>& sizes) {
  int64_t frames = 0;
  for (int64_t n : sizes) frames += n;
  if (truth.aligned_traversals) return AlignedRevisits(sizes, truth.tolerance);
  if (!truth.revisits.empty()) return FileRevisits(truth.revisits, frames);
  if (!truth.positions.empty()) return PositionRevisits(truth.positions, truth.radius, frames);
  return std::vector<std::vector<int64_t>>(static_cast<size_t>(frames));
}

LoopSplitMetrics ScoreLoops(const std::vector<const LoopFrame*>& frames) {
  LoopSplitMetrics m;
  std::vector<Top1Match> matches;
  for (const LoopFrame* f : frames) {
    Top1Match t;
    t.has_positive = !f->revisits.empty();
    t.retrieved = f->error.empty() && f->result.detected();
    // Ranked by distance, verified or not: on Gardens Point ranking verified loops by inliers
    // was worse (wrong loops a few frames off the place have many inliers).
    t.confidence = -f->result.distance;
    t.correct = t.retrieved && std::binary_search(f->revisits.begin(), f->revisits.end(), f->result.match_id);
    matches.push_back(t);
    ++m.frames;
    m.revisit_frames += t.has_positive;
    m.detected += t.retrieved;
    m.correct += t.correct;
  }
  m.pr = ComputePrecisionRecall(matches);
  return m;
}

nlohmann::json LoopsReport::Metrics() const {
  nlohmann::json m = {{"frames", frames.size()}};
  if (!has_truth) return m;
  m["all"] = SplitJson(all);
  if (tune.frames) {
    m["tune"] = SplitJson(tune);
    m["test"] = SplitJson(test);
    m["tuned_max_distance"] = std::isfinite(tuned_threshold) ? nlohmann::json(-tuned_threshold) : nlohmann::json();
    m["test_at_tuned_threshold"] = {
        {"accepted", test_accepted}, {"correct", test_correct}, {"precision", test_precision}, {"recall", test_recall}};
  }
  return m;
}

namespace {

// The loosest threshold at which the tuning split is 100% precise, applied to the test split.
void ApplyTunedThreshold(const std::vector<const LoopFrame*>& test, LoopsReport& r) {
  r.tuned_threshold = std::numeric_limits<double>::infinity();
  for (const PrPoint& p : r.tune.pr.curve)
    if (p.precision == 1.0) r.tuned_threshold = p.threshold;
  for (const LoopFrame* f : test) {
    if (!f->error.empty() || !f->result.detected() || -f->result.distance < r.tuned_threshold) continue;
    ++r.test_accepted;
    r.test_correct += std::binary_search(f->revisits.begin(), f->revisits.end(), f->result.match_id);
  }
  r.test_precision = r.test_accepted ? double(r.test_correct) / r.test_accepted : 0;
  r.test_recall = r.test.revisit_frames ? double(r.test_correct) / r.test.revisit_frames : 0;
}

// Ground truth without the frames the detector may not return (the recent past).
void KeepEligibleRevisits(const LoopsOptions& o, std::vector<LoopFrame>& frames,
                          std::vector<std::vector<int64_t>> truth) {
  for (size_t f = 0; f < frames.size(); ++f) {
    const double time = double(f) * o.frame_interval;
    for (int64_t g : truth[f])
      if (g < int64_t(f) - o.detector.exclude_recent_frames &&
          double(g) * o.frame_interval < time - o.detector.exclude_recent_seconds + 1e-9)
        frames[f].revisits.push_back(g);
    std::sort(frames[f].revisits.begin(), frames[f].revisits.end());
  }
}

}  // namespace

LoopsReport DetectLoops(const LoopsOptions& options) {
  options.Check();
  CheckWritable(options.out + "/loops.json", "--out");
  LoopsReport report;
  std::vector<int64_t> sizes;
  report.frames = ListFrames(options.sequences, &sizes);
  report.has_truth = options.truth.enabled();
  KeepEligibleRevisits(options, report.frames, LoopRevisits(options.truth, sizes));

  auto recognizer = std::make_shared<const PlaceRecognizer>(options.recognizer);
  Log().info("loops: {} frames in {} sequences; {}", report.frames.size(), sizes.size(), recognizer->Describe());
  LoopDetector detector(recognizer, options.detector);
  Progress progress("loops", static_cast<int64_t>(report.frames.size()), "frames");
  int64_t loops = 0, failed = 0;
  for (size_t f = 0; f < report.frames.size(); ++f) {
    LoopFrame& frame = report.frames[f];
    try {
      const cv::Mat image = LoadImageBgr(frame.path);
      const auto start = std::chrono::steady_clock::now();
      frame.result = detector.Process(image, double(f) * options.frame_interval, frame.path);
      frame.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
      loops += frame.result.detected();
    } catch (const Error& e) {
      frame.error = e.what();
      ++failed;
      Log().warn("loops: frame {} skipped: {}", f, e.what());
    }
    progress.Add();
  }
  progress.Finish();

  if (report.has_truth) {
    std::vector<const LoopFrame*> all, tune, test;
    for (const LoopFrame& f : report.frames) {
      all.push_back(&f);
      (f.index < options.tune_frames ? tune : test).push_back(&f);
    }
    report.all = ScoreLoops(all);
    if (options.tune_frames > 0) {
      report.tune = ScoreLoops(tune);
      report.test = ScoreLoops(test);
      ApplyTunedThreshold(test, report);
    }
  }
  nlohmann::json metrics = report.Metrics();
  metrics["model"] = recognizer->Describe();
  metrics["loops_detected"] = loops;
  metrics["unreadable_frames"] = failed;
  FileSet files;
  files.Write(options.out + "/loops.json", FramesJson(report).dump(1) + "\n");
  files.Write(options.out + "/report.html", RenderLoopsHtml(report, metrics));
  files.Write(options.out + "/metrics.json", metrics.dump(2) + "\n");
  files.Commit();
  Log().info("loops: {} loops in {} frames ({} unreadable); outputs in {}", loops, report.frames.size(), failed,
             options.out);
  return report;
}

}  // namespace vpr
