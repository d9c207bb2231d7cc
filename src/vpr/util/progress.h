// Progress for long work: count, rate, ETA at most every few seconds, and a summary.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace vpr {

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
