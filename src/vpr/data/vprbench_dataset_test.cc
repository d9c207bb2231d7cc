#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "vpr/data/load_dataset.h"
#include "vpr/test_config.h"
#include "vpr/util/atomic_file.h"
#include "vpr/util/thrown_message.h"

namespace vpr {
namespace {
namespace fs = std::filesystem;

fs::path Scratch(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / "vpr_vprbench_test" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

fs::path Shared(const std::string& rel) { return fs::path(VPR_SHARED_DIR) / "data" / rel; }

#define SKIP_WITHOUT(path) \
  if (!fs::exists(path)) GTEST_SKIP() << "real data absent: " << (path) << " (../shared/data is not on this machine)"

// ---- .npy files as np.save writes them, built by hand for hostile variants.

std::string NpyHeaderBytes(const std::string& descr, const std::string& shape) {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  dict.append((64 - (10 + dict.size() + 1) % 64) % 64, ' ');
  dict.push_back('\n');
  std::string out = std::string("\x93NUMPY\x01\x00", 8);
  out.push_back(static_cast<char>(dict.size() & 0xff));
  out.push_back(static_cast<char>(dict.size() >> 8));
  return out + dict;
}

// Pickle opcodes of protocol 2 values.
std::string Int(int32_t v) {
  std::string out = "J";
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((static_cast<uint32_t>(v) >> (8 * i)) & 0xff));
  return out;
}
std::string Str(const std::string& s) { return "U" + std::string(1, static_cast<char>(s.size())) + s; }
std::string List(const std::vector<std::string>& items) {
  std::string out = "](";
  for (const auto& item : items) out += item;
  return out + "e";
}
std::string Refs(const std::vector<int32_t>& refs) {
  std::vector<std::string> items;
  for (int32_t r : refs) items.push_back(Int(r));
  return List(items);
}

// numpy's pickle of an object array: _reconstruct(ndarray, (0,), 'b') BUILD (1, shape,
// dtype('O8'), False, [elements]).
std::string ObjectPickle(const std::vector<int32_t>& shape, const std::vector<std::string>& elements) {
  std::string shape_tuple = "(";
  for (int32_t d : shape) shape_tuple += Int(d);
  shape_tuple += "t";
  std::string dtype = "cnumpy\ndtype\n" + Str("O8") + "\x89\x88\x87R" + "(" + Int(3) + Str("|") + "NNN" + Int(-1) +
                      Int(-1) + Int(63) + "tb";
  std::string elems;
  for (const auto& e : elements) elems += e;
  return std::string("\x80\x02") + "cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n" + Int(0) + "\x85" +
         Str("b") + "\x87R" + "(" + Int(1) + shape_tuple + dtype + "\x89" + "](" + elems + "e" + "tb.";
}

// An object array of [query, [refs]] rows; header_shape overrides what the header declares.
std::string ObjectNpy(const std::vector<std::pair<int32_t, std::vector<int32_t>>>& rows,
                      const std::string& header_shape = "") {
  std::vector<std::string> elements;
  for (const auto& [q, refs] : rows) elements.insert(elements.end(), {Int(q), Refs(refs)});
  const int32_t n = static_cast<int32_t>(rows.size());
  return NpyHeaderBytes("|O", header_shape.empty() ? "(" + std::to_string(n) + ", 2)" : header_shape) +
         ObjectPickle({n, 2}, elements);
}

std::string Int64Npy(const std::vector<int64_t>& values, const std::string& shape) {
  return NpyHeaderBytes("<i8", shape) + std::string(reinterpret_cast<const char*>(values.data()), 8 * values.size());
}

std::string Write(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
  return path.string();
}

std::vector<std::pair<int64_t, std::vector<int64_t>>> AsPairs(const std::vector<VprBenchRow>& rows) {
  std::vector<std::pair<int64_t, std::vector<int64_t>>> out;
  for (const auto& r : rows) out.push_back({r.query, r.refs});
  return out;
}

std::vector<fs::path> VprBenchFiles() {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(Shared("gt/vprbench")))
    if (e.path().extension() == ".npy") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

// ---- the real files against numpy

// Saves an object array as numpy writes it today (pickle protocol 3; VPR-Bench's files
// are protocol 2) as the last file, then writes every file's rows as np.load sees them.
constexpr char kOracle[] = R"PY(
import json, sys
import numpy as np
shared = [5, 4]
rows = [[0, [0, 1]], [1, shared], [2, [-1]], [3, shared], [4, np.array([2, 3]).tolist()]]
a = np.empty((len(rows), 2), dtype=object)
for i, (q, refs) in enumerate(rows):
    a[i, 0], a[i, 1] = np.int64(q) if q == 4 else q, refs
np.save(sys.argv[-1], a)
out = {}
for f in sys.argv[2:]:
    a = np.load(f, allow_pickle=True)
    out[f] = [[int(q), [int(r) for r in refs]] for q, refs in a]
json.dump(out, open(sys.argv[1], 'w'))
)PY";

TEST(VprBenchOracle, EveryFileReadsAsNumpyLoadsIt) {
  SKIP_WITHOUT(Shared("gt/vprbench"));
  fs::path dir = Scratch("oracle");
  std::vector<fs::path> files = VprBenchFiles();
  ASSERT_EQ(files.size(), 11u);
  files.push_back(Shared("gardens_point/vprbench_ground_truth.npy"));
  // The hand-built pickle must be what numpy itself loads, or the hostile cases test nothing.
  files.push_back(Write(dir / "built.npy", ObjectNpy({{0, {3, 1}}, {2, {}}, {1, {-1}}})));
  files.push_back(dir / "numpy_today.npy");  // written by the oracle
  std::string cmd = std::string(VPR_ORACLE_PYTHON) + " " + Write(dir / "oracle.py", kOracle) + " " +
                    (dir / "expected.json").string();
  for (const auto& f : files) cmd += " " + f.string();
  if (std::system((cmd + " > " + (dir / "log.txt").string() + " 2>&1").c_str()) != 0)
    GTEST_SKIP() << "the oracle " << VPR_ORACLE_PYTHON << " with numpy did not run: "
                 << ReadFileBytes((dir / "log.txt").string());
  const auto expected = nlohmann::json::parse(ReadFileBytes((dir / "expected.json").string()));
  for (const auto& f : files) {
    SCOPED_TRACE(f.string());
    std::vector<std::pair<int64_t, std::vector<int64_t>>> want = expected.at(f.string());
    EXPECT_EQ(AsPairs(ReadVprBenchGroundTruth(f.string())), want);
  }
}

TEST(VprBench, GardensPointWalkingRowsAsPythonPrintsThem) {
  fs::path file = Shared("gt/vprbench/gt_GardensPointWalking.npy");
  SKIP_WITHOUT(file);
  auto rows = ReadVprBenchGroundTruth(file.string());
  ASSERT_EQ(rows.size(), 200u);
  EXPECT_EQ(rows[0].query, 0);
  EXPECT_EQ(rows[0].refs, (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(rows[199].query, 199);
  EXPECT_EQ(rows[199].refs, (std::vector<int64_t>{197, 198, 199, 200, 201}));
  size_t total = 0;
  for (const auto& r : rows) total += r.refs.size();
  EXPECT_EQ(total, 997u);  // sum(len(r[1]) for r in np.load(f, allow_pickle=True))
}

TEST(VprBench, TrueNegativesAreMarkedMinusOne) {
  fs::path file = Shared("gt/vprbench/gt_GardensPoint_TN.npy");
  SKIP_WITHOUT(file);
  auto rows = ReadVprBenchGroundTruth(file.string());
  ASSERT_EQ(rows.size(), 400u);
  EXPECT_EQ(rows[0].refs, (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(rows[399].refs, (std::vector<int64_t>{-1}));
}

// ---- over image folders

TEST(VprBench, GardensPointListsAreTheFrameToleranceOfTwo) {
  fs::path gt = Shared("gardens_point/vprbench_ground_truth.npy");
  SKIP_WITHOUT(gt);
  Dataset d = LoadVprBenchDataset(gt.string(), Shared("gardens_point/day_right").string(),
                                  Shared("gardens_point/day_left").string());
  EXPECT_EQ(d.kind, "vprbench_npy");
  ASSERT_EQ(d.database.size(), 200u);
  ASSERT_EQ(d.queries.size(), 200u);
  EXPECT_EQ(d.database_names[0], "day_right/Image000.jpg");
  EXPECT_EQ(d.query_names[199], "day_left/Image199.jpg");
  EXPECT_EQ(d.declared_queries, 200);
  EXPECT_TRUE(d.database_positions.empty());
  ASSERT_EQ(d.explicit_positives.size(), 200u);
  for (int64_t q = 0; q < 200; ++q) {
    std::vector<int64_t> within;
    for (int64_t j = std::max<int64_t>(0, q - 2); j <= std::min<int64_t>(199, q + 2); ++j) within.push_back(j);
    EXPECT_EQ(d.explicit_positives[q], within) << "query " << q;
  }
  // The file's 200 and 201 are not images: dropped, and remembered for the doctor.
  EXPECT_EQ(d.positives_outside_database,
            (std::vector<std::pair<int64_t, int64_t>>{{198, 200}, {199, 200}, {199, 201}}));
  EXPECT_EQ(d.ToJson()["positives"], "listed");
  EXPECT_FALSE(d.ToJson().contains("positive_radius"));
}

// Three database and three query images a.png, b.png, c.png.
std::pair<std::string, std::string> TinyFolders(const fs::path& dir) {
  for (const char* set : {"db", "q"}) {
    fs::create_directories(dir / set);
    for (const char* name : {"a.png", "b.png", "c.png"})
      cv::imwrite((dir / set / name).string(), cv::Mat(4, 4, CV_8UC3, cv::Scalar(1, 2, 3)));
  }
  return {(dir / "db").string(), (dir / "q").string()};
}

TEST(VprBench, UnsortedRepeatedAndMissingEntries) {
  fs::path dir = Scratch("tiny");
  auto [db, q] = TinyFolders(dir);
  std::string gt = Write(dir / "gt.npy", ObjectNpy({{2, {2, 0, 2, 7}}, {0, {-1}}}));
  Dataset d = LoadVprBenchDataset(gt, db, q);
  EXPECT_EQ(d.explicit_positives, (std::vector<std::vector<int64_t>>{{}, {}, {0, 2}}));
  EXPECT_EQ(d.positives_outside_database, (std::vector<std::pair<int64_t, int64_t>>{{2, 7}}));
  EXPECT_EQ(d.declared_queries, 2);  // a row short: the doctor's declared_count_mismatch
}

TEST(VprBench, IntegerArrayIsOneReferencePerQuery) {
  fs::path dir = Scratch("int");
  auto [db, q] = TinyFolders(dir);
  std::string gt = Write(dir / "gt.npy", Int64Npy({0, 1, 1, 2, 2, 0}, "(3, 2)"));
  EXPECT_EQ(AsPairs(ReadVprBenchGroundTruth(gt)),
            (std::vector<std::pair<int64_t, std::vector<int64_t>>>{{0, {1}}, {1, {2}}, {2, {0}}}));
  EXPECT_EQ(LoadVprBenchDataset(gt, db, q).explicit_positives, (std::vector<std::vector<int64_t>>{{1}, {2}, {0}}));
}

TEST(VprBench, QueryPastTheFolderIsAnErrorNamingTheRow) {
  fs::path dir = Scratch("past");
  auto [db, q] = TinyFolders(dir);
  std::string gt = Write(dir / "gt.npy", ObjectNpy({{0, {0}}, {5, {1}}}));
  std::string error = ThrownMessage([&] { LoadVprBenchDataset(gt, db, q); });
  EXPECT_NE(error.find("row 1 names query 5 but the query folder '" + q + "' holds 3 images"), std::string::npos)
      << error;
}

TEST(VprBench, HostileFilesGiveClearErrors) {
  fs::path real = Shared("gt/vprbench/gt_GardensPointWalking.npy");
  SKIP_WITHOUT(real);
  const std::string good = ReadFileBytes(real.string());
  const std::string two_rows = NpyHeaderBytes("|O", "(2, 2)");
  struct Case {
    const char* name;
    std::string bytes;
    const char* error;
  };
  const std::vector<Case> cases = {
      {"truncated", good.substr(0, good.size() / 2), "the object array's pickle is unreadable"},
      {"truncated_header", good.substr(0, 40), "truncated .npy header"},
      {"not_npy", "PK\x03\x04 not a numpy file", "bad magic"},
      {"float_dtype", NpyHeaderBytes("<f8", "(1, 2)") + std::string(16, '\0'), "holds <f8 values"},
      {"string_dtype", NpyHeaderBytes("<U3", "(1, 2)") + std::string(24, '\0'), "holds <U3 values"},
      {"three_columns", NpyHeaderBytes("|O", "(1, 3)") + ObjectPickle({1, 3}, {Int(0), Refs({0}), Int(1)}),
       "has shape (1, 3)"},
      {"one_dimensional", NpyHeaderBytes("|O", "(2,)") + ObjectPickle({2}, {Int(0), Refs({0})}), "has shape (2,)"},
      {"string_refs", two_rows + ObjectPickle({2, 2}, {Int(0), Refs({0}), Int(1), Str("abc")}),
       "row 1: the database indices are str 'abc'"},
      {"string_query", two_rows + ObjectPickle({2, 2}, {Str("q"), Refs({0}), Int(1), Refs({1})}),
       "row 0: the query index is str 'q'"},
      {"string_in_refs", two_rows + ObjectPickle({2, 2}, {Int(0), List({Int(0), Str("x")}), Int(1), Refs({1})}),
       "row 0: the database index is str 'x'"},
      {"float_in_refs",
       two_rows + ObjectPickle({2, 2}, {Int(0), Refs({0}), Int(1), List({std::string("G@\0\0\0\0\0\0\0", 9)})}),
       "row 1: the database index is float"},
      {"negative_query", ObjectNpy({{0, {0}}, {-3, {1}}}), "row 1 names query -3"},
      {"negative_ref", ObjectNpy({{0, {0, -5}}}), "row 0 (query 0) lists database index -5"},
      {"repeated_query", ObjectNpy({{4, {0}}, {4, {1}}}), "row 1 repeats query 4 of row 0"},
      {"huge_declared_shape", ObjectNpy({{0, {0}}, {1, {1}}}, "(1000000000000, 2)"),
       "declares (1000000000000, 2) but only"},
      {"shape_disagrees", ObjectNpy({{0, {0}}, {1, {1}}}, "(3, 2)"),
       "the pickled array has shape (2, 2) but the header says (3, 2)"},
      {"not_an_array", two_rows + "\x80\x02" + Refs({1, 2}) + ".", "holds list of 2, not a numpy array"},
      {"huge_integer_array", Int64Npy({0, 1}, "(1000000000000, 2)"), "file is truncated"},
      {"absurd_integer", NpyHeaderBytes("<u8", "(1, 2)") + std::string(8, '\0') + std::string(8, '\xff'),
       "row 0 holds an absurd index"},
      {"too_big", NpyHeaderBytes("|O", "(1, 2)") + std::string(9 << 20, 'N'), "such files are well under"},
  };
  fs::path dir = Scratch("hostile");
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string path = Write(dir / (std::string(c.name) + ".npy"), c.bytes);
    const std::string error = ThrownMessage([&] { ReadVprBenchGroundTruth(path); });
    EXPECT_NE(error.find(c.error), std::string::npos) << error;
    EXPECT_NE(error.find(path), std::string::npos) << "the message names the file: " << error;
  }
  EXPECT_NE(ThrownMessage([&] { ReadVprBenchGroundTruth((dir / "absent.npy").string()); }).find("does not exist"),
            std::string::npos);
}

// ---- DatasetSource

TEST(VprBenchSource, NeedsBothFoldersAndNothingElse) {
  DatasetSource s;
  s.file = "gt_GardensPointWalking.NPY";
  std::string error = ThrownMessage([&] { s.Check(); });
  EXPECT_NE(error.find("VPR-Bench ground truth"), std::string::npos) << error;
  EXPECT_NE(error.find("also pass --db DIR --queries DIR"), std::string::npos) << error;
  s.database_dir = "db";
  error = ThrownMessage([&] { s.Check(); });
  EXPECT_NE(error.find("also pass --queries DIR,"), std::string::npos) << error;
  s.query_dir = "q";
  EXPECT_EQ(ThrownMessage([&] { s.Check(); }), "");
  for (auto edit : std::vector<std::pair<const char*, void (*)(DatasetSource&)>>{
           {"--frame-tolerance", [](DatasetSource& x) { x.frame_tolerance = 2; }},
           {"--root", [](DatasetSource& x) { x.root = "/data"; }},
           {"--radius", [](DatasetSource& x) { x.radius = 25; }}}) {
    DatasetSource wrong = s;
    edit.second(wrong);
    error = ThrownMessage([&] { wrong.Check(); });
    EXPECT_NE(error.find(std::string(edit.first) + " does not apply to --dataset"), std::string::npos) << error;
  }
  DatasetSource mat;
  mat.file = "berlin.mat";
  mat.database_dir = "db";
  mat.query_dir = "q";
  error = ThrownMessage([&] { mat.Check(); });
  EXPECT_NE(error.find("only a VPR-Bench .npy takes --db and --queries"), std::string::npos) << error;
}

TEST(VprBenchSource, LoadDatasetReadsTheNpyOverTheFolders) {
  fs::path dir = Scratch("source");
  auto [db, q] = TinyFolders(dir);
  DatasetSource s;
  s.file = Write(dir / "gt.npy", ObjectNpy({{0, {0, 1}}, {1, {1}}, {2, {2}}}));
  s.database_dir = db;
  s.query_dir = q;
  Dataset d = LoadDataset(s);
  EXPECT_EQ(d.kind, "vprbench_npy");
  EXPECT_EQ(d.explicit_positives, (std::vector<std::vector<int64_t>>{{0, 1}, {1}, {2}}));
  EXPECT_EQ(d.info["file"], s.file);
}

}  // namespace
}  // namespace vpr
