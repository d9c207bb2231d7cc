// `vpr doctor`: sanity checks of a place-recognition dataset. The usual failure of place
// recognition is silent (image list and ground truth not lined up, degrees given as
// metres, a wrong radius): recall drops to near zero without any error. Diagnose finds
// these before a model runs; ThrowIfFatal stops a command on the ones that make the
// dataset unusable.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "vpr/data/dataset.h"

namespace vpr {

struct DoctorOptions {
  // Stat every image and check that its first bytes are a signature OpenCV can decode
  // (cv::haveImageReader): cheap, nothing is decoded.
  bool check_files = true;
  // Examples listed per finding.
  int max_listed = 10;
  void Check() const;
};

enum class Severity {
  kWarning,  // the run works but loses something (skipped images, queries that always miss)
  kFatal,    // the results would be meaningless: stop
};

struct DoctorFinding {
  Severity severity = Severity::kWarning;
  std::string code;                   // stable identifier, e.g. "files_missing"
  std::string message;                // what is wrong, with counts
  std::string hint;                   // what to do about it
  int64_t count = 0;                  // how many images / queries / positions are affected
  std::vector<std::string> examples;  // the first DoctorOptions::max_listed of them
};

// min / median / mean / max of a set of values; all 0 when it is empty.
struct DoctorStats {
  int64_t count = 0;
  double min = 0, median = 0, mean = 0, max = 0;
};

struct DoctorBucket {
  std::string label;  // "0", "1", "2-5", ..., ">20"
  int64_t count = 0;
};

struct DoctorReport {
  // What was diagnosed.
  std::string kind;
  std::string root;
  std::string position_unit;
  double positive_radius = 0;
  // The file lists each query's positives (VPR-Bench): no positions, radius or distances.
  bool positives_listed = false;
  int64_t num_database = 0;
  int64_t num_queries = 0;
  int64_t declared_database = -1;
  int64_t declared_queries = -1;
  // Files (only when DoctorOptions::check_files).
  bool files_checked = false;
  int64_t files_missing = 0;
  int64_t files_unreadable = 0;
  // Ground truth (only when it is well formed: positives_checked).
  bool positives_checked = false;
  int64_t queries_without_positive = 0;
  DoctorStats positives;                // positives per query
  std::vector<DoctorBucket> histogram;  // positives per query: 0, 1, 2-5, 6-10, 11-20, >20
  // With positions only: the distance from each query to its nearest database image,
  // and its 90th percentile (a radius that covers 90%).
  DoctorStats nearest;
  double nearest_p90 = 0;
  std::vector<DoctorFinding> findings;  // fatal ones first

  // No fatal finding.
  bool ok() const;
  int64_t CountOf(Severity severity) const;
  // First finding with this code, or nullptr.
  const DoctorFinding* Find(const std::string& code) const;
  // Lines for a person: counts, distributions, then each finding ("FATAL" / "warning") with its hint.
  std::string ToText() const;
  nlohmann::json ToJson() const;
};

DoctorReport Diagnose(const Dataset& dataset, const DoctorOptions& options = {});

// Throws vpr::Error listing every fatal finding (with its hint) when the report has any.
// Call at the start of every command that reads a dataset.
void ThrowIfFatal(const DoctorReport& report);

// What every command that reads a dataset does first: Diagnose, log each warning with
// its hint, and ThrowIfFatal.
DoctorReport CheckDatasetBeforeUse(const Dataset& dataset, const DoctorOptions& options = {});

}  // namespace vpr
