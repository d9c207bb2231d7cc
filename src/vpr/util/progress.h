// Progress for long work: count, rate, ETA at most every few seconds, and a summary.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace vpr {

// One report of a Progress, for a sink that is not the log (the CLI's terminal bar).
struct ProgressUpdate {
  std::string label;
  std::string unit;
  int64_t done = 0;
  int64_t total = 0;  // 0 when unknown
  double rate = 0.0;  // items per second so far
  double eta_s = 0.0;
  bool finished = false;  // the last update of this Progress
};
using ProgressSink = std::function<void(const ProgressUpdate&)>;

// Sends every Progress's reports to `sink`, at most every `interval_s`, instead of a log
// line every few seconds; the closing line is still logged. nullptr: log lines again.
void SetProgressSink(ProgressSink sink, double interval_s = 0.2);

class Progress {
 public:
  // total: expected number of items (0 when unknown); unit: "images", "queries", ...
  Progress(std::string label, int64_t total, std::string unit = "images",
           double report_every_s = 2.0);

  // Records n more finished items; logs a line when report_every_s has passed.
  void Add(int64_t n = 1);
  // Logs the closing line (count, time, rate). Idempotent.
  void Finish();

  int64_t done() const { return done_; }
  double elapsed_s() const;
  double rate() const;  // items per second so far

 private:
  ProgressUpdate Update(bool finished) const;

  std::string label_;
  int64_t total_;
  std::string unit_;
  double report_every_s_;
  int64_t done_ = 0;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_report_;
};

}  // namespace vpr
