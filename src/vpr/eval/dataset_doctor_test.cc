#include "vpr/eval/dataset_doctor.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <opencv2/imgcodecs.hpp>

#include "vpr/data/load_dataset.h"
#include "vpr/eval/recall.h"
#include "vpr/test_config.h"
#include "vpr/util/check.h"

namespace vpr {
namespace {
namespace fs = std::filesystem;

fs::path Scratch(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / "vpr_doctor_test" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void WriteImage(const fs::path& path) {
  fs::create_directories(path.parent_path());
  ASSERT_TRUE(cv::imwrite(path.string(), cv::Mat(4, 4, CV_8UC3, cv::Scalar(1, 2, 3))));
}

// A dataset under `root` whose image i of each set is at position (x[i], 0) and named
// db/NNN.png / q/NNN.png; the files are not written.
Dataset LineDataset(const fs::path& root, const std::vector<double>& db_x, const std::vector<double>& q_x,
                    double radius) {
  Dataset d;
  d.kind = "test";
  d.root = root.string();
  d.positive_radius = radius;
  auto fill = [&](const std::vector<double>& xs, const std::string& dir, std::vector<std::string>& paths,
                  std::vector<std::string>& names, std::vector<double>& positions) {
    for (size_t i = 0; i < xs.size(); ++i) {
      names.push_back(dir + "/" + std::to_string(1000 + i).substr(1) + ".png");
      paths.push_back((root / names.back()).string());
      positions.insert(positions.end(), {xs[i], 0.0});
    }
  };
  fill(db_x, "db", d.database, d.database_names, d.database_positions);
  fill(q_x, "q", d.queries, d.query_names, d.query_positions);
  return d;
}

DoctorOptions NoFiles() {
  DoctorOptions o;
  o.check_files = false;
  return o;
}

std::vector<std::string> Codes(const DoctorReport& r) {
  std::vector<std::string> codes;
  for (const auto& f : r.findings) codes.push_back(f.code);
  return codes;
}

TEST(DatasetDoctor, AllFilesMissingIsFatalWithTheCountAndARootHint) {
  Dataset d = LineDataset("/nonexistent/vpr_doctor", {0, 1, 2}, {0, 1}, 1);
  DoctorReport r = Diagnose(d);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.files_missing, 5);
  const DoctorFinding* f = r.Find("files_missing");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->severity, Severity::kFatal);
  EXPECT_EQ(f->count, 5);
  EXPECT_NE(f->message.find("all 5 images are missing"), std::string::npos) << f->message;
  EXPECT_NE(f->message.find("/nonexistent/vpr_doctor/db/000.png"), std::string::npos) << f->message;
  EXPECT_NE(f->hint.find("--root DIR pointing at the folder that holds 'db/000.png'"), std::string::npos) << f->hint;
  EXPECT_NE(f->hint.find("is not a folder"), std::string::npos) << f->hint;
  EXPECT_EQ(f->examples.size(), 5u);
  try {
    ThrowIfFatal(r);
    ADD_FAILURE() << "ThrowIfFatal did not throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("all 5 images are missing"), std::string::npos) << e.what();
  }
}

TEST(DatasetDoctor, SomeMissingFilesAreAWarning) {
  fs::path root = Scratch("some_missing");
  Dataset d = LineDataset(root, {0, 1, 2}, {0, 1}, 1);
  for (const auto& p : d.database) WriteImage(p);
  WriteImage(d.queries[0]);
  DoctorReport r = Diagnose(d);
  EXPECT_TRUE(r.ok()) << r.ToText();
  EXPECT_NO_THROW(ThrowIfFatal(r));
  const DoctorFinding* f = r.Find("files_missing");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->severity, Severity::kWarning);
  EXPECT_EQ(f->count, 1);
  EXPECT_EQ(f->examples, std::vector<std::string>{d.queries[1]});
  EXPECT_NE(f->message.find("1 of 5 images are missing (0 database, 1 queries)"), std::string::npos) << f->message;
}

TEST(DatasetDoctor, AWholeSetMissingIsFatal) {
  fs::path root = Scratch("queries_missing");
  Dataset d = LineDataset(root, {0, 1, 2}, {0, 1}, 1);
  for (const auto& p : d.database) WriteImage(p);
  DoctorReport r = Diagnose(d);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.Find("files_missing")->severity, Severity::kFatal);
}

TEST(DatasetDoctor, GarbageInAJpgIsReportedAsUnreadable) {
  fs::path root = Scratch("unreadable");
  Dataset d = LineDataset(root, {0, 1}, {0, 1}, 1);
  d.database[1] = (root / "db/garbage.jpg").string();
  for (const auto& p : d.queries) WriteImage(p);
  WriteImage(d.database[0]);
  std::ofstream(d.database[1], std::ios::binary) << "<html>404 Not Found</html>";
  DoctorReport r = Diagnose(d);
  EXPECT_EQ(r.files_unreadable, 1);
  EXPECT_EQ(r.files_missing, 0);
  const DoctorFinding* f = r.Find("files_unreadable");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->severity, Severity::kWarning);
  EXPECT_EQ(f->examples, std::vector<std::string>{d.database[1]});
  EXPECT_TRUE(r.ok());
}

TEST(DatasetDoctor, NoFileCheckSkipsFiles) {
  Dataset d = LineDataset("/nonexistent/vpr_doctor", {0, 1}, {0, 1}, 1);
  DoctorReport r = Diagnose(d, NoFiles());
  EXPECT_FALSE(r.files_checked);
  EXPECT_TRUE(r.ok()) << r.ToText();
  EXPECT_NE(r.ToText().find("files: not checked"), std::string::npos);
}

TEST(DatasetDoctor, DeclaredCountsThatDisagreeAreFatal) {
  Dataset d = LineDataset("/x", {0, 1, 2}, {0, 1}, 1);
  d.declared_database = 5;
  d.declared_queries = 2;
  DoctorReport r = Diagnose(d, NoFiles());
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(Codes(r), std::vector<std::string>{"declared_count_mismatch"});
  EXPECT_NE(r.findings[0].message.find("numDb = 5 database images but lists 3"), std::string::npos)
      << r.findings[0].message;
  EXPECT_EQ(r.findings[0].count, 2);
  d.declared_database = 3;
  EXPECT_TRUE(Diagnose(d, NoFiles()).ok());
}

TEST(DatasetDoctor, InconsistentListsAreFatalNotAnException) {
  Dataset d = LineDataset("/x", {0, 1, 2}, {0, 1}, 1);
  d.query_positions.pop_back();
  DoctorReport r = Diagnose(d, NoFiles());
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(Codes(r), std::vector<std::string>{"malformed"});
  EXPECT_FALSE(r.positives_checked);
}

TEST(DatasetDoctor, EmptySetIsFatal) {
  Dataset d = LineDataset("/x", {0, 1}, {}, 1);
  DoctorReport r = Diagnose(d, NoFiles());
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(Codes(r), std::vector<std::string>{"empty_queries"});
}

// Berlin-like latitude/longitude (HEAPUtil berlin area) read as metres with a 25 m radius.
TEST(DatasetDoctor, DegreesGivenAsMetresAreFatal) {
  Dataset d;
  d.kind = "test";
  for (int i = 0; i < 20; ++i) {
    std::string name = "img" + std::to_string(i) + ".jpg";
    (i < 12 ? d.database : d.queries).push_back("/x/" + name);
    (i < 12 ? d.database_names : d.query_names).push_back(name);
    auto& pos = i < 12 ? d.database_positions : d.query_positions;
    pos.insert(pos.end(), {52.5163 + 0.0007 * i, 13.3777 + 0.0011 * i});
  }
  d.positive_radius = 25;
  DoctorReport r = Diagnose(d, NoFiles());
  EXPECT_FALSE(r.ok());
  const DoctorFinding* f = r.Find("degrees_as_metres");
  ASSERT_NE(f, nullptr) << r.ToText();
  EXPECT_EQ(f->severity, Severity::kFatal);
  EXPECT_NE(r.Find("radius_covers_database"), nullptr) << r.ToText();
  EXPECT_EQ(r.positives.min, 12);

  // The same route in UTM metres (zone 33U) is fine; and so is lat/lon with unit "frames"
  // (not a metric radius) or a sub-metre radius.
  Dataset utm = d;
  for (size_t i = 0; i < utm.database_positions.size(); i += 2) {
    utm.database_positions[i] = 389000 + 1e5 * (utm.database_positions[i] - 52.5);
    utm.database_positions[i + 1] = 5819000 + 1e5 * (utm.database_positions[i + 1] - 13.3);
  }
  for (size_t i = 0; i < utm.query_positions.size(); i += 2) {
    utm.query_positions[i] = 389000 + 1e5 * (utm.query_positions[i] - 52.5);
    utm.query_positions[i + 1] = 5819000 + 1e5 * (utm.query_positions[i + 1] - 13.3);
  }
  EXPECT_EQ(Diagnose(utm, NoFiles()).Find("degrees_as_metres"), nullptr);
  d.positive_radius = 0.5;
  EXPECT_EQ(Diagnose(d, NoFiles()).Find("degrees_as_metres"), nullptr);
}

TEST(DatasetDoctor, NonFinitePositionsAreReported) {
  Dataset d = LineDataset("/x", {0, 1, 2}, {0, 1}, 1);
  d.database_positions[2] = NAN;
  d.query_positions[3] = INFINITY;
  DoctorReport r = Diagnose(d, NoFiles());
  const DoctorFinding* f = r.Find("positions_not_finite");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->severity, Severity::kWarning);
  EXPECT_EQ(f->count, 2);
  EXPECT_EQ(f->examples, (std::vector<std::string>{"database db/001.png", "query q/001.png"}));
  EXPECT_EQ(r.nearest.count, 1);  // only the finite query is measured
}

TEST(DatasetDoctor, QueriesWithoutPositiveAreCountedExactly) {
  // Database every 10 units; queries at 0 (on one), 12 (2 away: on the circle), 100 (10
  // from 90), 200 (110 from 90), 41 (1 away).
  Dataset d = LineDataset("/x", {0, 10, 20, 30, 40, 50, 60, 70, 80, 90}, {0, 12, 100, 200, 41}, 2);
  DoctorReport r = Diagnose(d, NoFiles());
  EXPECT_TRUE(r.ok()) << r.ToText();
  EXPECT_EQ(r.queries_without_positive, 2);
  const DoctorFinding* f = r.Find("queries_without_positive");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->severity, Severity::kWarning);
  EXPECT_EQ(f->examples, (std::vector<std::string>{"#2 q/002.png", "#3 q/003.png"}));
  EXPECT_NEAR(r.nearest.median, 2.0, 1e-4);
  EXPECT_NEAR(r.nearest.max, 110.0, 1e-3);
  EXPECT_EQ(r.nearest.count, 5);

  d.positive_radius = 0.5;
  d.query_positions = {5, 0, 15, 0, 25, 0, 35, 0, 45, 0};
  DoctorReport none = Diagnose(d, NoFiles());
  EXPECT_FALSE(none.ok());
  EXPECT_EQ(none.Find("queries_without_positive")->severity, Severity::kFatal);
  EXPECT_EQ(none.queries_without_positive, 5);
  EXPECT_NE(none.Find("queries_without_positive")->hint.find("--radius"), std::string::npos);
}

TEST(DatasetDoctor, MaxListedLimitsExamples) {
  Dataset d = LineDataset("/nonexistent/vpr_doctor", {0, 1, 2, 3}, {0, 1, 2}, 1);
  DoctorOptions o;
  o.max_listed = 2;
  DoctorReport r = Diagnose(d, o);
  EXPECT_EQ(r.Find("files_missing")->examples.size(), 2u);
  EXPECT_NE(r.ToText().find("... 7 in all"), std::string::npos) << r.ToText();
  o.max_listed = -1;
  EXPECT_THROW(Diagnose(d, o), Error);
}

TEST(DatasetDoctor, DuplicatesAndSharedImagesAreWarnings) {
  Dataset d = LineDataset("/x", {0, 1, 2, 3, 4}, {0, 1, 2}, 1);
  d.database = {"/x/a.png", "/x/b.png", "/x/a.png", "/x/c.png", "/x/./a.png"};
  d.queries = {"/x/q.png", "/x/q.png", "/x/b.png"};
  DoctorReport r = Diagnose(d, NoFiles());
  EXPECT_TRUE(r.ok());
  const DoctorFinding* db = r.Find("duplicate_database");
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->count, 2);
  EXPECT_EQ(db->examples, std::vector<std::string>{"/x/a.png"});
  ASSERT_NE(r.Find("duplicate_queries"), nullptr);
  EXPECT_EQ(r.Find("duplicate_queries")->count, 1);
  ASSERT_NE(r.Find("query_in_database"), nullptr);
  EXPECT_EQ(r.Find("query_in_database")->examples, std::vector<std::string>{"/x/b.png"});
}

// Database: a line of 30 images one unit apart, and stacks of 8, 15 and 25 images at one
// position each; radius 2. Queries get 0, 1, 3, 5, 8, 15 and 25 positives.
TEST(DatasetDoctor, PositivesHistogramIsExact) {
  std::vector<double> db_x;
  for (int i = 0; i < 30; ++i) db_x.push_back(i);
  for (int i = 0; i < 8; ++i) db_x.push_back(1000);
  for (int i = 0; i < 15; ++i) db_x.push_back(2000);
  for (int i = 0; i < 25; ++i) db_x.push_back(3000);
  Dataset d = LineDataset("/x", db_x, {-5, -1.5, 0, 10, 1000, 2000, 3000}, 2);
  DoctorReport r = Diagnose(d, NoFiles());
  ASSERT_EQ(r.histogram.size(), 6u);
  std::vector<std::string> labels;
  std::vector<int64_t> counts;
  for (const auto& b : r.histogram) labels.push_back(b.label), counts.push_back(b.count);
  EXPECT_EQ(labels, (std::vector<std::string>{"0", "1", "2-5", "6-10", "11-20", ">20"}));
  EXPECT_EQ(counts, (std::vector<int64_t>{1, 1, 2, 1, 1, 1}));
  EXPECT_EQ(r.positives.min, 0);
  EXPECT_EQ(r.positives.median, 5);
  EXPECT_NEAR(r.positives.mean, 57.0 / 7, 1e-12);
  EXPECT_EQ(r.positives.max, 25);
  EXPECT_EQ(r.queries_without_positive, 1);
  EXPECT_EQ(r.Find("radius_covers_database"), nullptr);
}

TEST(DatasetDoctor, JsonHasTheFields) {
  Dataset d = LineDataset("/nonexistent/vpr_doctor", {0, 10}, {0, 50}, 2);
  d.declared_database = 2;
  nlohmann::json j = Diagnose(d).ToJson();
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["fatal"], 1);
  EXPECT_EQ(j["warnings"], 1);
  EXPECT_EQ(j["num_database"], 2);
  EXPECT_EQ(j["num_queries"], 2);
  EXPECT_EQ(j["declared_database"], 2);
  EXPECT_EQ(j["declared_queries"], -1);
  EXPECT_EQ(j["positive_radius"], 2.0);
  EXPECT_EQ(j["position_unit"], "m");
  EXPECT_EQ(j["root"], "/nonexistent/vpr_doctor");
  EXPECT_EQ(j["files"]["missing"], 4);
  EXPECT_EQ(j["files"]["unreadable"], 0);
  EXPECT_EQ(j["queries_without_positive"], 1);
  EXPECT_EQ(j["positives_per_query"]["max"], 1.0);
  EXPECT_EQ(j["positives_per_query"]["histogram"][1]["positives"], "1");
  EXPECT_EQ(j["positives_per_query"]["histogram"][1]["queries"], 1);
  EXPECT_NEAR(j["nearest_database_distance"]["max"].get<double>(), 40.0, 1e-4);
  ASSERT_EQ(j["findings"].size(), 2u);
  EXPECT_EQ(j["findings"][0]["severity"], "fatal");
  EXPECT_EQ(j["findings"][0]["code"], "files_missing");
  EXPECT_EQ(j["findings"][0]["count"], 4);
  EXPECT_EQ(j["findings"][0]["examples"].size(), 4u);
  EXPECT_EQ(j["findings"][1]["severity"], "warning");
  EXPECT_EQ(j["findings"][1]["code"], "queries_without_positive");
  EXPECT_FALSE(j["findings"][1]["hint"].get<std::string>().empty());
}

TEST(DatasetDoctor, TextHasTheKeyLines) {
  Dataset d = LineDataset("/nonexistent/vpr_doctor", {0, 10, 20}, {0, 50}, 2);
  std::string text = Diagnose(d).ToText();
  for (const char* line :
       {"dataset: test  root: /nonexistent/vpr_doctor\n",
        "images: 3 database, 2 queries (declared by the file: - database, - queries)\n", "positive radius: 2 m\n",
        "files: 5 checked, 5 missing, 0 unreadable\n", "queries without a positive: 1\n",
        "positives per query: min 0, median 0.50, mean 0.50, max 1\n",
        "  histogram:  0: 1  1: 1  2-5: 0  6-10: 0  11-20: 0  >20: 0\n",
        "nearest database image per query: median 15 m, 90% within 27 m, max 30 m\n",
        "FATAL [files_missing] all 5 images are missing",
        "  hint: pass --root DIR pointing at the folder that holds 'db/000.png'",
        "warning [queries_without_positive] 1 of 2 queries have no database image within 2 m",
        "result: UNUSABLE (1 fatal, 1 warnings)\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << "missing: " << line << "\nin:\n" << text;
  }
  // Fatal findings come before warnings.
  EXPECT_LT(text.find("FATAL"), text.find("warning ["));
}

// Gardens Point day_right vs night_right, frame tolerance 2: every query has 3 to 5 positives.
TEST(DatasetDoctor, GardensPointFrameAligned) {
  fs::path gp = fs::path(VPR_SHARED_DIR) / "data" / "gardens_point";
  if (!fs::is_directory(gp / "day_right") || !fs::is_directory(gp / "night_right"))
    GTEST_SKIP() << "real data absent: " << gp << " (../shared/data/gardens_point) not found";
  Dataset d = LoadFrameAlignedDataset((gp / "day_right").string(), (gp / "night_right").string(), 2);
  DoctorReport r = Diagnose(d);
  EXPECT_TRUE(r.ok()) << r.ToText();
  EXPECT_TRUE(r.findings.empty()) << r.ToText();
  EXPECT_EQ(r.num_database, 200);
  EXPECT_EQ(r.num_queries, 200);
  EXPECT_EQ(r.files_missing, 0);
  EXPECT_EQ(r.files_unreadable, 0);
  EXPECT_EQ(r.queries_without_positive, 0);
  EXPECT_EQ(r.positives.min, 3);
  EXPECT_EQ(r.positives.median, 5);
  EXPECT_NEAR(r.positives.mean, (2 * 3 + 2 * 4 + 196 * 5) / 200.0, 1e-12);
  EXPECT_EQ(r.positives.max, 5);
  EXPECT_EQ(r.histogram[2].count, 200);
  EXPECT_EQ(r.nearest.max, 0);
  auto positives = PositivesWithinRadius(d.database_positions, d.query_positions, d.positive_radius);
  for (size_t q = 0; q < positives.size(); ++q) {
    size_t expected = (q == 0 || q == 199) ? 3 : (q == 1 || q == 198) ? 4 : 5;
    EXPECT_EQ(positives[q].size(), expected) << "query " << q;
  }
  std::cout << r.ToText();
}

// HEAPUtil's Berlin ground truth read with a root that holds no images: counts and radius
// from the file, and every image reported missing (what `vpr doctor` prints and exits 1 on).
TEST(DatasetDoctor, HeapUtilBerlinWithoutImages) {
  fs::path file = fs::path(VPR_SHARED_DIR) / "data" / "gt" / "heaputil" / "berlin.mat";
  if (!fs::is_regular_file(file)) GTEST_SKIP() << "real data absent: " << file << " not found";
  DatasetSource source;
  source.file = file.string();
  source.root = (fs::temp_directory_path() / "vpr_doctor_test" / "nothing").string();
  Dataset d = LoadDataset(source);
  DoctorReport r = Diagnose(d);
  EXPECT_EQ(r.num_database, 314);
  EXPECT_EQ(r.num_queries, 280);
  EXPECT_EQ(r.positive_radius, 50);
  EXPECT_FALSE(r.ok());
  const DoctorFinding* missing = r.Find("files_missing");
  ASSERT_NE(missing, nullptr) << r.ToText();
  EXPECT_EQ(missing->severity, Severity::kFatal);
  EXPECT_EQ(missing->count, 594);
  EXPECT_EQ(r.queries_without_positive, 0);
  EXPECT_NE(r.ToText().find("FATAL [files_missing] all 594 images are missing"), std::string::npos) << r.ToText();
  // The positions themselves are fine: metres, and every query has a positive within 50 m.
  EXPECT_EQ(r.Find("degrees_as_metres"), nullptr) << r.ToText();
  std::cout << r.ToText();
}


// ---- Listed positives (VPR-Bench)

// LineDataset's images with the positives given as lists instead of positions.
Dataset ListedDataset(size_t n_db, std::vector<std::vector<int64_t>> lists) {
  Dataset d = LineDataset("/x", std::vector<double>(n_db, 0.0), std::vector<double>(lists.size(), 0.0), 0);
  d.kind = "vprbench_npy";
  d.database_positions.clear();
  d.query_positions.clear();
  d.explicit_positives = std::move(lists);
  return d;
}

TEST(DatasetDoctor, VprBenchGardensPointIsUsableAndReportsTheDroppedReferences) {
  const fs::path gp = fs::path(VPR_SHARED_DIR) / "data" / "gardens_point";
  if (!fs::is_regular_file(gp / "vprbench_ground_truth.npy")) GTEST_SKIP() << "real data absent: " << gp;
  DatasetSource source;
  source.file = (gp / "vprbench_ground_truth.npy").string();
  source.database_dir = (gp / "day_right").string();
  source.query_dir = (gp / "day_left").string();
  Dataset d = LoadDataset(source);
  DoctorReport r = Diagnose(d);
  EXPECT_TRUE(r.ok()) << r.ToText();
  EXPECT_TRUE(r.positives_listed);
  EXPECT_TRUE(r.positives_checked);
  EXPECT_EQ(r.files_missing, 0);
  EXPECT_EQ(r.declared_queries, 200);
  EXPECT_EQ(r.queries_without_positive, 0);
  // 3 positives at both ends of the route, 5 in between.
  EXPECT_EQ(r.positives.min, 3);
  EXPECT_EQ(r.positives.median, 5);
  EXPECT_EQ(r.positives.max, 5);
  ASSERT_EQ(Codes(r), std::vector<std::string>{"positives_outside_database"});
  const DoctorFinding& dropped = r.findings[0];
  EXPECT_EQ(dropped.severity, Severity::kWarning);
  EXPECT_EQ(dropped.count, 3);
  EXPECT_NE(dropped.message.find(source.file), std::string::npos) << dropped.message;
  EXPECT_EQ(dropped.examples.front(), "query #198 day_left/Image198.jpg -> database #200");
  const std::string text = r.ToText();
  EXPECT_NE(text.find("positives: listed per query by the file"), std::string::npos) << text;
  EXPECT_EQ(text.find("nearest database image"), std::string::npos) << text;
  EXPECT_EQ(text.find("radius"), std::string::npos) << text;
  EXPECT_FALSE(r.ToJson().contains("nearest_database_distance"));
  EXPECT_EQ(r.ToJson()["positives_listed"], true);
  // The file is the |i - j| <= 2 ground truth: eval scores exactly as --frame-tolerance 2.
  EXPECT_EQ(DatasetPositives(d),
            DatasetPositives(LoadFrameAlignedDataset(source.database_dir, source.query_dir, 2)));
  std::cout << text;
}

TEST(DatasetDoctor, VprBenchRowsShortOfTheQueriesAreFatal) {
  Dataset d = ListedDataset(3, {{0}, {1, 2}, {}});
  d.declared_queries = 2;
  DoctorReport r = Diagnose(d, NoFiles());
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(Codes(r), (std::vector<std::string>{"declared_count_mismatch", "queries_without_positive"}));
  EXPECT_EQ(r.findings[0].message, "the file has 2 query rows but 3 query images were found");
  const DoctorFinding& without = r.findings[1];
  EXPECT_EQ(without.severity, Severity::kWarning);
  EXPECT_EQ(without.message, "1 of 3 queries have no database image listed by the ground truth: they always count "
                             "as misses");
  EXPECT_EQ(without.examples, std::vector<std::string>{"#2 q/002.png"});
}

TEST(DatasetDoctor, VprBenchListsWithoutAnyPositiveAreFatal) {
  DoctorReport r = Diagnose(ListedDataset(3, {{}, {}}), NoFiles());
  EXPECT_FALSE(r.ok());
  ASSERT_NE(r.Find("queries_without_positive"), nullptr) << r.ToText();
  EXPECT_EQ(r.Find("queries_without_positive")->severity, Severity::kFatal);
}

TEST(DatasetDoctor, VprBenchListsOutsideTheDatabaseAreMalformed) {
  DoctorReport r = Diagnose(ListedDataset(3, {{0}, {3}}), NoFiles());
  EXPECT_EQ(Codes(r), std::vector<std::string>{"malformed"});
  EXPECT_NE(r.findings[0].message.find("the positives of query 1 must be sorted, unique database indices below 3"),
            std::string::npos)
      << r.findings[0].message;
}

}  // namespace
}  // namespace vpr
