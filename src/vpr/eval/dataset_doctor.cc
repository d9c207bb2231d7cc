#include "vpr/eval/dataset_doctor.h"

#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <opencv2/imgcodecs.hpp>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "vpr/eval/recall.h"
#include "vpr/index/knn.h"
#include "vpr/util/check.h"
#include "vpr/util/logging.h"

namespace vpr {
namespace fs = std::filesystem;

void DoctorOptions::Check() const { VPR_CHECK_USAGE(max_listed >= 0, "doctor: max_listed must be >= 0, got ", max_listed); }

namespace {

// Degrees-as-metres rule: with a radius of at least this many metres and every position
// within +-180 and all of them closer together than kDegreeSpread, the positions are
// almost certainly latitude/longitude (a city is ~0.1-0.3 degrees across). Metric
// coordinates (UTM ~1e5-1e6 m, or local frames) do not fit in 1 m while the radius is >= 1 m,
// and even if they did, every database image would be a positive of every query.
constexpr double kMaxDegree = 180.0;
constexpr double kDegreeSpread = 1.0;
constexpr double kMinMetricRadius = 1.0;
// "Radius covers the database" warning: at least half of the queries have every database
// image as a positive, on a database large enough (>= 10) for that to be a mistake
// rather than a toy example.
constexpr int64_t kMinDatabaseForCoverage = 10;

const char* SeverityName(Severity s) { return s == Severity::kFatal ? "fatal" : "warning"; }

// A number without trailing zeros when integral, else with two decimals.
std::string Num(double v) {
  if (!std::isfinite(v)) return fmt::format("{}", v);
  if (v == std::round(v) && std::abs(v) < 1e15) return fmt::format("{}", static_cast<int64_t>(v));
  return fmt::format("{:.2f}", v);
}

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  double pos = p * (sorted.size() - 1);
  size_t lo = static_cast<size_t>(std::floor(pos)), hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

DoctorStats Summarize(std::vector<double> values) {
  DoctorStats s;
  s.count = static_cast<int64_t>(values.size());
  if (values.empty()) return s;
  std::sort(values.begin(), values.end());
  s.min = values.front();
  s.max = values.back();
  s.median = Percentile(values, 0.5);
  s.mean = std::accumulate(values.begin(), values.end(), 0.0) / values.size();
  return s;
}

// Which image set an index refers to, for names in examples.
struct ImageSet {
  const char* role;  // "database" / "query"
  const std::vector<std::string>& paths;
  const std::vector<std::string>& names;
  const std::vector<double>& positions;
  std::string Name(size_t i) const { return i < names.size() ? names[i] : paths[i]; }
};

// Bounding box of the finite positions.
struct Extent {
  double min_x = INFINITY, max_x = -INFINITY, min_y = INFINITY, max_y = -INFINITY;
  void Add(double x, double y) {
    min_x = std::min(min_x, x), max_x = std::max(max_x, x);
    min_y = std::min(min_y, y), max_y = std::max(max_y, y);
  }
};

// Result of looking at every image file: (set, index) of the missing and unreadable ones.
struct FileScan {
  std::vector<std::pair<const ImageSet*, size_t>> missing, unreadable;
  int64_t missing_database = 0, missing_queries = 0;
  bool set_lost = false;  // every image of the database or of the queries is unusable
};

class Diagnosis {
 public:
  Diagnosis(const Dataset& d, const DoctorOptions& o)
      : d_(d),
        o_(o),
        db_{"database", d.database, d.database_names, d.database_positions},
        q_{"query", d.queries, d.query_names, d.query_positions} {}

  DoctorReport Run();

 private:
  DoctorFinding& Add(Severity severity, std::string code, std::string message, std::string hint, int64_t count) {
    report_.findings.push_back({severity, std::move(code), std::move(message), std::move(hint), count, {}});
    return report_.findings.back();
  }
  void Example(DoctorFinding& f, const std::string& text) const {
    if (static_cast<int>(f.examples.size()) < o_.max_listed) f.examples.push_back(text);
  }
  bool CheckStructure();
  void CheckCounts();
  void CheckFiles();
  void ReportMissing(const FileScan& scan);
  void ReportUnreadable(const FileScan& scan);
  void CheckDuplicates();
  void CheckNamesStayUnderRoot();
  void CheckPositivesOutsideDatabase();
  void CheckPositions();
  void CheckDegrees(const Extent& extent);
  void CheckPositives();
  int64_t Distribution(const std::vector<std::vector<int64_t>>& positives);
  void ReportWithoutPositive(const std::vector<std::vector<int64_t>>& positives);
  void Nearest();
  bool Finite(const ImageSet& s, size_t i) const {
    return std::isfinite(s.positions[2 * i]) && std::isfinite(s.positions[2 * i + 1]);
  }

  const Dataset& d_;
  const DoctorOptions& o_;
  ImageSet db_, q_;
  DoctorReport report_;
};

DoctorReport Diagnosis::Run() {
  report_.kind = d_.kind;
  report_.root = d_.root;
  report_.position_unit = d_.position_unit;
  report_.positive_radius = d_.positive_radius;
  report_.positives_listed = d_.HasExplicitPositives();
  report_.num_database = static_cast<int64_t>(d_.database.size());
  report_.num_queries = static_cast<int64_t>(d_.queries.size());
  report_.declared_database = d_.declared_database;
  report_.declared_queries = d_.declared_queries;
  bool well_formed = CheckStructure();
  CheckCounts();
  if (o_.check_files) CheckFiles();
  CheckDuplicates();
  CheckNamesStayUnderRoot();
  CheckPositivesOutsideDatabase();
  if (well_formed) {
    if (!report_.positives_listed) CheckPositions();
    if (!d_.database.empty() && !d_.queries.empty()) CheckPositives();
  }
  // Fatal findings first, each group in the order found.
  std::stable_sort(report_.findings.begin(), report_.findings.end(),
                   [](const DoctorFinding& a, const DoctorFinding& b) { return a.severity > b.severity; });
  return report_;
}

// Sizes of names/positions must agree with the lists; otherwise nothing positional is meaningful.
bool Diagnosis::CheckStructure() {
  try {
    d_.Check();
    return true;
  } catch (const Error& e) {
    Add(Severity::kFatal, "malformed", e.what(), "the reader produced inconsistent lists: report it with the file", 1);
    return false;
  }
}

void Diagnosis::CheckCounts() {
  for (const ImageSet* s : {&db_, &q_}) {
    if (!s->paths.empty()) continue;
    Add(Severity::kFatal, fmt::format("empty_{}", s == &db_ ? "database" : "queries"),
        fmt::format("the {} set is empty", s->role), "check the dataset file and the split it describes", 0);
  }
  auto declared = [&](const ImageSet& s, int64_t n, const char* field) {
    if (n < 0 || n == static_cast<int64_t>(s.paths.size())) return;
    // A VPR-Bench file declares its queries by its rows; the images come from a folder.
    Add(Severity::kFatal, "declared_count_mismatch",
        report_.positives_listed
            ? fmt::format("the file has {} {} rows but {} {} images were found", n, s.role, s.paths.size(),
                          s.role)
            : fmt::format("the file declares {} = {} {} images but lists {}", field, n, s.role, s.paths.size()),
        "the image list and the ground truth are not lined up: use the ground truth file that belongs to these "
        "images, or report the reader bug",
        std::abs(n - static_cast<int64_t>(s.paths.size())));
  };
  declared(db_, d_.declared_database, "numDb");
  declared(q_, d_.declared_queries, "numQ");
}

// A name that is absolute or climbs out with ".." reads a file outside --root: fine for
// a local run the user controls, never for a server that serves dataset images.
void Diagnosis::CheckNamesStayUnderRoot() {
  std::vector<std::string> outside;
  for (const auto* names : {&d_.database_names, &d_.query_names})
    for (const auto& name : *names) {
      const fs::path p(name);
      bool climbs = false;
      for (const auto& part : p) climbs = climbs || part == "..";
      if (p.is_absolute() || climbs) outside.push_back(name);
    }
  if (outside.empty()) return;
  auto& f = Add(Severity::kWarning, "names_outside_root",
                fmt::format("{} image names are absolute or leave the root with '..'", outside.size()),
                "they read files outside --root: make the names relative to the dataset's root; vpr serve "
                "refuses to serve them",
                static_cast<int64_t>(outside.size()));
  for (const auto& name : outside) Example(f, name);
}

// Listed positives past the database (VPR-Bench's Gardens Point names 200 and 201 of its
// 200 images): the reader dropped them, which is harmless unless there are many.
void Diagnosis::CheckPositivesOutsideDatabase() {
  const auto& outside = d_.positives_outside_database;
  if (outside.empty()) return;
  const int64_t n = static_cast<int64_t>(outside.size());
  auto& f = Add(Severity::kWarning, "positives_outside_database",
                fmt::format("the ground truth{} lists {} database indices past the {} database images (the first: "
                            "query {} -> database {}); they are dropped",
                            d_.info.contains("file") ? fmt::format(" '{}'", d_.info["file"].get<std::string>()) : "",
                            n, report_.num_database, outside.front().first, outside.front().second),
                "harmless when they are a few at the end of the route; many mean the database folder is not the one "
                "the ground truth belongs to",
                n);
  for (const auto& [q, j] : outside)
    Example(f, fmt::format("query #{} {} -> database #{}", q,
                           q >= 0 && q < report_.num_queries ? q_.Name(q) : std::string("?"), j));
}

void Diagnosis::CheckFiles() {
  report_.files_checked = true;
  Log().info("doctor: checking {} image files", d_.database.size() + d_.queries.size());
  FileScan scan;
  for (const ImageSet* s : {&db_, &q_}) {
    size_t lost = 0;
    for (size_t i = 0; i < s->paths.size(); ++i) {
      std::error_code ec;
      if (!fs::is_regular_file(s->paths[i], ec)) {
        scan.missing.push_back({s, i});
        ++lost;
        ++(s == &db_ ? scan.missing_database : scan.missing_queries);
      } else if (!cv::haveImageReader(s->paths[i])) {
        scan.unreadable.push_back({s, i});
        ++lost;
      }
    }
    scan.set_lost = scan.set_lost || (!s->paths.empty() && lost == s->paths.size());
  }
  report_.files_missing = static_cast<int64_t>(scan.missing.size());
  report_.files_unreadable = static_cast<int64_t>(scan.unreadable.size());
  if (!scan.missing.empty()) ReportMissing(scan);
  if (!scan.unreadable.empty()) ReportUnreadable(scan);
}

// The hint names the first missing image relative to the root, which is what a user
// needs to find the right --root.
void Diagnosis::ReportMissing(const FileScan& scan) {
  int64_t total = report_.num_database + report_.num_queries;
  std::string what = static_cast<int64_t>(scan.missing.size()) == total
                         ? fmt::format("all {} images are missing", total)
                         : fmt::format("{} of {} images are missing", scan.missing.size(), total);
  auto [s, i] = scan.missing.front();
  std::error_code ec;
  std::string root_note = !d_.root.empty() && !fs::is_directory(d_.root, ec)
                              ? fmt::format(" (the root '{}' is not a folder)", d_.root)
                              : "";
  auto& f = Add(scan.set_lost ? Severity::kFatal : Severity::kWarning, "files_missing",
                fmt::format("{} ({} database, {} queries); the first is '{}'", what, scan.missing_database,
                            scan.missing_queries, s->paths[i]),
                fmt::format("pass --root DIR pointing at the folder that holds '{}'{}{}", s->Name(i), root_note,
                            scan.set_lost ? "" : "; otherwise the missing images are skipped and count as misses"),
                static_cast<int64_t>(scan.missing.size()));
  for (auto& [set, j] : scan.missing) Example(f, set->paths[j]);
}

void Diagnosis::ReportUnreadable(const FileScan& scan) {
  auto& f = Add(scan.set_lost ? Severity::kFatal : Severity::kWarning, "files_unreadable",
                fmt::format("{} of {} files exist but do not start with an image signature OpenCV can decode",
                            scan.unreadable.size(), report_.num_database + report_.num_queries),
                "re-download or re-extract them (truncated files, HTML error pages, Git LFS pointers); they are "
                "skipped otherwise",
                static_cast<int64_t>(scan.unreadable.size()));
  for (auto& [set, j] : scan.unreadable) Example(f, set->paths[j]);
}

void Diagnosis::CheckDuplicates() {
  auto normal = [](const std::string& p) { return fs::path(p).lexically_normal().string(); };
  std::unordered_set<std::string> in_database;
  for (const ImageSet* s : {&db_, &q_}) {
    std::unordered_map<std::string, int> seen;
    for (const auto& p : s->paths) ++seen[normal(p)];
    int64_t extra = 0;
    std::vector<std::string> repeated;
    for (const auto& p : s->paths) {
      int& n = seen[normal(p)];
      if (n > 1) {
        repeated.push_back(p);
        extra += n - 1;
      }
      n = std::min(n, 1);  // list each repeated path once, in list order
    }
    if (extra > 0) {
      auto& f = Add(Severity::kWarning, fmt::format("duplicate_{}", s == &db_ ? "database" : "queries"),
                    fmt::format("{} {} entries repeat an earlier path ({} distinct paths repeated)", extra, s->role,
                                repeated.size()),
                    "a repeated image is searched or scored twice: deduplicate the list", extra);
      for (const auto& p : repeated) Example(f, p);
    }
    if (s == &db_)
      for (const auto& [p, n] : seen) in_database.insert(p);
  }
  // A query that is also a database image finds itself: recall is inflated.
  std::vector<std::string> shared;
  for (const auto& p : d_.queries)
    if (in_database.count(normal(p))) shared.push_back(p);
  if (!shared.empty()) {
    auto& f = Add(Severity::kWarning, "query_in_database",
                  fmt::format("{} query images are also database images", shared.size()),
                  "a query then retrieves itself and recall is inflated: use disjoint database and query images",
                  static_cast<int64_t>(shared.size()));
    for (const auto& p : shared) Example(f, p);
  }
}

void Diagnosis::CheckPositions() {
  int64_t bad = 0;
  bool set_lost = false;
  DoctorFinding examples;
  Extent extent;
  for (const ImageSet* s : {&db_, &q_}) {
    size_t set_bad = 0;
    for (size_t i = 0; i < s->paths.size(); ++i) {
      if (Finite(*s, i)) {
        extent.Add(s->positions[2 * i], s->positions[2 * i + 1]);
        continue;
      }
      ++set_bad;
      Example(examples, fmt::format("{} {}", s->role, s->Name(i)));
    }
    bad += set_bad;
    set_lost = set_lost || (!s->paths.empty() && set_bad == s->paths.size());
  }
  if (bad > 0) {
    auto& f = Add(set_lost ? Severity::kFatal : Severity::kWarning, "positions_not_finite",
                  fmt::format("{} images have a NaN or infinite position", bad),
                  "fix the ground truth file: these images can never be matched", bad);
    f.examples = examples.examples;
  }
  CheckDegrees(extent);
}

void Diagnosis::CheckDegrees(const Extent& e) {
  double spread = std::max(e.max_x - e.min_x, e.max_y - e.min_y);
  bool degree_range = std::min(e.min_x, e.min_y) >= -kMaxDegree && std::max(e.max_x, e.max_y) <= kMaxDegree;
  if (d_.position_unit != "m" || !std::isfinite(spread) || !degree_range || spread >= kDegreeSpread ||
      d_.positive_radius < kMinMetricRadius)
    return;
  Add(Severity::kFatal, "degrees_as_metres",
      fmt::format("positions look like latitude/longitude in degrees (every value within +-180, all within {:.4f} "
                  "of each other) but are read as metres with a radius of {} m: every database image would be a "
                  "positive of every query",
                  spread, Num(d_.positive_radius)),
      "give UTM easting/northing in metres (a CSV with lat,lon columns is converted by the reader) or check which "
      "columns hold the positions",
      report_.num_database + report_.num_queries);
}

void Diagnosis::CheckPositives() {
  report_.positives_checked = true;
  // The same ground truth the evaluation uses, so that the doctor sees what recall will see.
  auto positives = DatasetPositives(d_);
  int64_t covers_all = Distribution(positives);
  if (!report_.positives_listed) Nearest();
  if (report_.queries_without_positive > 0) ReportWithoutPositive(positives);
  if (report_.num_database >= kMinDatabaseForCoverage && 2 * covers_all >= report_.num_queries) {
    Add(Severity::kWarning, "radius_covers_database",
        fmt::format("{} of {} queries have every database image as a positive: recall is trivially high", covers_all,
                    report_.num_queries),
        report_.positives_listed
            ? std::string("the ground truth lists every database image for them: check that it belongs to these "
                          "folders")
            : fmt::format("the radius {} {} is too large for positions that span this little: check the unit and "
                          "radius",
                          Num(d_.positive_radius), d_.position_unit),
        covers_all);
  }
}

// Positives per query: summary and histogram. Returns how many queries have every
// database image as a positive.
int64_t Diagnosis::Distribution(const std::vector<std::vector<int64_t>>& positives) {
  // Upper bound (inclusive) of each bucket.
  const std::vector<std::pair<std::string, int64_t>> buckets = {{"0", 0},     {"1", 1},      {"2-5", 5},
                                                                {"6-10", 10}, {"11-20", 20}, {">20", INT64_MAX}};
  for (const auto& [label, upper] : buckets) report_.histogram.push_back({label, 0});
  std::vector<double> counts;
  int64_t covers_all = 0;
  for (const auto& p : positives) {
    int64_t n = static_cast<int64_t>(p.size());
    counts.push_back(static_cast<double>(n));
    size_t b = 0;
    while (n > buckets[b].second) ++b;
    ++report_.histogram[b].count;
    if (n == report_.num_database) ++covers_all;
  }
  report_.positives = Summarize(counts);
  report_.queries_without_positive = report_.histogram[0].count;
  return covers_all;
}

// The hint proposes a radius from the nearest-database distances (needs Nearest() first).
void Diagnosis::ReportWithoutPositive(const std::vector<std::vector<int64_t>>& positives) {
  int64_t without = report_.queries_without_positive;
  bool all = without == report_.num_queries;
  const std::string& unit = d_.position_unit;
  std::string flag = unit == "frames" ? "--frame-tolerance" : "--radius";
  const std::string where = report_.positives_listed
                                ? std::string("listed by the ground truth")
                                : fmt::format("within {} {}", Num(d_.positive_radius), unit);
  const std::string hint =
      report_.positives_listed
          ? std::string("the file lists no database image of this folder for them (no row, -1, or only indices past "
                        "the database): check that --db and --queries are the folders the ground truth belongs to")
          : fmt::format("the nearest database image is {} {} away for the median query and {} {} for 90% of "
                        "queries: check that positions and images are lined up and the unit, or set {} "
                        "(a value of {} gives 90% of the queries a positive)",
                        Num(report_.nearest.median), unit, Num(report_.nearest_p90), unit, flag,
                        Num(std::ceil(report_.nearest_p90)));
  auto& f = Add(all ? Severity::kFatal : Severity::kWarning, "queries_without_positive",
                fmt::format("{} of {} queries have no database image {}{}", without, report_.num_queries, where,
                            all ? "" : ": they always count as misses"),
                hint, without);
  for (size_t q = 0; q < positives.size(); ++q)
    if (positives[q].empty()) Example(f, fmt::format("#{} {}", q, q_.Name(q)));
}

// Distance from each query to its nearest database image (finite positions only), the
// figure that tells which radius would give queries a positive.
void Diagnosis::Nearest() {
  std::vector<float> db, q;
  double ox = NAN, oy = NAN;
  for (size_t i = 0; i < db_.paths.size(); ++i) {
    if (!Finite(db_, i)) continue;
    if (std::isnan(ox)) ox = db_.positions[2 * i], oy = db_.positions[2 * i + 1];
    // Centred on one database point so that UTM coordinates keep sub-metre precision in float.
    db.insert(db.end(),
              {static_cast<float>(db_.positions[2 * i] - ox), static_cast<float>(db_.positions[2 * i + 1] - oy)});
  }
  for (size_t i = 0; i < q_.paths.size() && !db.empty(); ++i) {
    if (!Finite(q_, i)) continue;
    q.insert(q.end(), {static_cast<float>(q_.positions[2 * i] - ox), static_cast<float>(q_.positions[2 * i + 1] - oy)});
  }
  if (db.empty() || q.empty()) return;
  KnnResult knn = ExactKnnL2(db.data(), db.size() / 2, q.data(), q.size() / 2, 2, 1);
  std::vector<double> distances;
  for (float d2 : knn.distances) distances.push_back(std::sqrt(std::max(0.0f, d2)));
  report_.nearest = Summarize(distances);
  std::sort(distances.begin(), distances.end());
  report_.nearest_p90 = Percentile(distances, 0.9);
}

nlohmann::json SummaryJson(const DoctorStats& s) {
  return {{"count", s.count}, {"min", s.min}, {"median", s.median}, {"mean", s.mean}, {"max", s.max}};
}

}  // namespace

DoctorReport Diagnose(const Dataset& dataset, const DoctorOptions& options) {
  options.Check();
  return Diagnosis(dataset, options).Run();
}

bool DoctorReport::ok() const { return CountOf(Severity::kFatal) == 0; }

int64_t DoctorReport::CountOf(Severity severity) const {
  return std::count_if(findings.begin(), findings.end(),
                       [&](const DoctorFinding& f) { return f.severity == severity; });
}

const DoctorFinding* DoctorReport::Find(const std::string& code) const {
  for (const auto& f : findings)
    if (f.code == code) return &f;
  return nullptr;
}

std::string DoctorReport::ToText() const {
  std::ostringstream out;
  auto declared = [](int64_t n) { return n < 0 ? std::string("-") : std::to_string(n); };
  out << fmt::format("dataset: {}  root: {}\n", kind.empty() ? "?" : kind, root.empty() ? "-" : root);
  out << fmt::format("images: {} database, {} queries (declared by the file: {} database, {} queries)\n", num_database,
                     num_queries, declared(declared_database), declared(declared_queries));
  if (positives_listed)
    out << "positives: listed per query by the file\n";
  else
    out << fmt::format("positive radius: {} {}\n", Num(positive_radius), position_unit);
  if (files_checked)
    out << fmt::format("files: {} checked, {} missing, {} unreadable\n", num_database + num_queries, files_missing,
                       files_unreadable);
  else
    out << "files: not checked\n";
  if (positives_checked) {
    out << fmt::format("queries without a positive: {}\n", queries_without_positive);
    out << fmt::format("positives per query: min {}, median {}, mean {:.2f}, max {}\n", Num(positives.min),
                       Num(positives.median), positives.mean, Num(positives.max));
    out << "  histogram:";
    for (const auto& b : histogram) out << fmt::format("  {}: {}", b.label, b.count);
    out << "\n";
    if (!positives_listed)
      out << fmt::format("nearest database image per query: median {1} {0}, 90% within {2} {0}, max {3} {0}\n",
                         position_unit, Num(nearest.median), Num(nearest_p90), Num(nearest.max));
  }
  for (const auto& f : findings) {
    out << fmt::format("{} [{}] {}\n", f.severity == Severity::kFatal ? "FATAL" : "warning", f.code, f.message);
    for (const auto& e : f.examples) out << "    " << e << "\n";
    if (f.count > static_cast<int64_t>(f.examples.size()) && !f.examples.empty())
      out << fmt::format("    ... {} in all\n", f.count);
    out << "  hint: " << f.hint << "\n";
  }
  out << fmt::format("result: {} ({} fatal, {} warnings)\n", ok() ? "OK" : "UNUSABLE", CountOf(Severity::kFatal),
                     CountOf(Severity::kWarning));
  return out.str();
}

nlohmann::json DoctorReport::ToJson() const {
  nlohmann::json findings_json = nlohmann::json::array();
  for (const auto& f : findings)
    findings_json.push_back({{"severity", SeverityName(f.severity)},
                             {"code", f.code},
                             {"message", f.message},
                             {"hint", f.hint},
                             {"count", f.count},
                             {"examples", f.examples}});
  nlohmann::json histogram_json = nlohmann::json::array();
  for (const auto& b : histogram) histogram_json.push_back({{"positives", b.label}, {"queries", b.count}});
  nlohmann::json out = {{"ok", ok()},
                        {"fatal", CountOf(Severity::kFatal)},
                        {"warnings", CountOf(Severity::kWarning)},
                        {"kind", kind},
                        {"root", root},
                        {"num_database", num_database},
                        {"num_queries", num_queries},
                        {"declared_database", declared_database},
                        {"declared_queries", declared_queries},
                        {"positive_radius", positive_radius},
                        {"position_unit", position_unit},
                        {"positives_listed", positives_listed},
                        {"findings", findings_json}};
  if (files_checked) out["files"] = {{"missing", files_missing}, {"unreadable", files_unreadable}};
  if (positives_checked) {
    out["queries_without_positive"] = queries_without_positive;
    out["positives_per_query"] = SummaryJson(positives);
    out["positives_per_query"]["histogram"] = histogram_json;
  }
  if (positives_checked && !positives_listed) {
    out["nearest_database_distance"] = SummaryJson(nearest);
    out["nearest_database_distance"]["p90"] = nearest_p90;
  }
  return out;
}

void ThrowIfFatal(const DoctorReport& report) {
  if (report.ok()) return;
  std::string message =
      fmt::format("the dataset is unusable ({} fatal problem{}; run `vpr doctor` for the full report):",
                  report.CountOf(Severity::kFatal), report.CountOf(Severity::kFatal) == 1 ? "" : "s");
  for (const auto& f : report.findings)
    if (f.severity == Severity::kFatal)
      message += fmt::format("\n  FATAL [{}] {}\n    hint: {}", f.code, f.message, f.hint);
  throw Error(message);
}

DoctorReport CheckDatasetBeforeUse(const Dataset& dataset, const DoctorOptions& options) {
  DoctorReport report = Diagnose(dataset, options);
  for (const auto& f : report.findings)
    if (f.severity == Severity::kWarning) Log().warn("dataset: {} ({})", f.message, f.hint);
  ThrowIfFatal(report);
  return report;
}

}  // namespace vpr
