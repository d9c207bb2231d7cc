#include <gtest/gtest.h>
#include <matio.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "vpr/data/load_dataset.h"
#include "vpr/test_config.h"
#include "vpr/util/check.h"
#include "vpr/util/thrown_message.h"

namespace vpr {
namespace {
namespace fs = std::filesystem;

// ---- Writing MAT files with matio, as MATLAB / scipy would.

using Var = matvar_t*;

Var Text(const std::string& s) {
  size_t dims[2] = {1, s.size()};
  return Mat_VarCreate(nullptr, MAT_C_CHAR, MAT_T_UINT8, 2, dims, const_cast<char*>(s.data()), 0);
}

// rows x cols, values given row by row (stored column-major as MATLAB does).
Var Matrix(size_t rows, size_t cols, const std::vector<double>& row_major) {
  std::vector<double> col_major(rows * cols);
  for (size_t r = 0; r < rows; ++r)
    for (size_t c = 0; c < cols; ++c) col_major[r + rows * c] = row_major[r * cols + c];
  size_t dims[2] = {rows, cols};
  return Mat_VarCreate(nullptr, MAT_C_DOUBLE, MAT_T_DOUBLE, 2, dims, col_major.data(), 0);
}

Var Scalar(double v) { return Matrix(1, 1, {v}); }

Var CellOf(std::vector<Var> items, bool column = true) {
  size_t dims[2] = {column ? items.size() : 1, column ? 1 : items.size()};
  return Mat_VarCreate(nullptr, MAT_C_CELL, MAT_T_CELL, 2, dims, items.data(), 0);
}

Var TextCell(const std::vector<std::string>& names) {
  std::vector<Var> items;
  for (const auto& n : names) items.push_back(Text(n));
  return CellOf(items);
}

// MATLAB's char(names): one name per row, padded with spaces.
Var CharMatrix(const std::vector<std::string>& names) {
  size_t width = 0;
  for (const auto& n : names) width = std::max(width, n.size());
  std::string grid(names.size() * width, ' ');
  for (size_t r = 0; r < names.size(); ++r)
    for (size_t c = 0; c < names[r].size(); ++c) grid[r + names.size() * c] = names[r][c];
  size_t dims[2] = {names.size(), width};
  return Mat_VarCreate(nullptr, MAT_C_CHAR, MAT_T_UINT8, 2, dims, grid.data(), 0);
}

Var Struct(const std::vector<std::pair<std::string, Var>>& fields) {
  std::vector<const char*> names;
  for (const auto& f : fields) names.push_back(f.first.c_str());
  names.push_back(nullptr);  // the list ends with NULL
  size_t dims[2] = {1, 1};
  Var s = Mat_VarCreateStruct2(nullptr, 2, dims, names.data());
  for (const auto& f : fields) Mat_VarSetStructFieldByName(s, f.first.c_str(), 0, f.second);
  return s;
}

// Writes `var` as the file's one variable `name` (freed here).
void WriteMat(const fs::path& path, mat_ft version, const std::string& name, Var var) {
  fs::remove(path);
  mat_t* mat = Mat_CreateVer(path.c_str(), nullptr, version);
  ASSERT_NE(mat, nullptr) << path;
  free(var->name);
  var->name = strdup(name.c_str());  // Mat_VarFree frees it
  EXPECT_EQ(Mat_VarWrite(mat, var, MAT_COMPRESSION_NONE), 0);
  Mat_VarFree(var);
  Mat_Close(mat);
}

fs::path Scratch(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / "vpr_mat_dataset_test" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

const std::vector<std::string> kDb = {"db/a.jpg", "db/bb.jpg", "db/ccc.jpg"};
const std::vector<std::string> kQ = {"q/x.jpg", "q/yy.jpg"};

// NetVLAD's dbStruct: utm 2 x N, names in cells.
Var NetVladStruct() {
  return Struct({{"whichSet", Text("test")},
                 {"dataset", Text("toy")},
                 {"dbImageFns", TextCell(kDb)},
                 {"utmDb", Matrix(2, 3, {500000.5, 500010.25, 500020, 4000000, 4000001, 4000002})},
                 {"qImageFns", TextCell(kQ)},
                 {"utmQ", Matrix(2, 2, {500001, 500019, 4000000.5, 4000002.5})},
                 {"numImages", Scalar(3)},
                 {"numQueries", Scalar(2)},
                 {"posDistThr", Scalar(25)},
                 {"posDistSqThr", Scalar(625)},
                 {"nonTrivPosDistSqThr", Scalar(100)}});
}

// HEAPUtil's dbStruct: a 1 x 8 cell, names as a padded char matrix, loc N x 2.
Var HeapUtilCell(double num_db = 3) {
  return CellOf({CharMatrix(kDb), Matrix(3, 2, {10, 20, 11, 21, 12, 22}), CharMatrix(kQ),
                 Matrix(2, 2, {10.5, 20.5, 12, 22}), Scalar(num_db), Scalar(2), Scalar(5), Scalar(25)},
                false);
}

class MatVersions : public ::testing::TestWithParam<mat_ft> {
 protected:
  std::string Expected() const { return GetParam() == MAT_FT_MAT73 ? "7.3" : "5"; }
};

TEST_P(MatVersions, NetVladStructReadsEveryField) {
  fs::path dir = Scratch("netvlad" + Expected());
  WriteMat(dir / "toy.mat", GetParam(), "dbStruct", NetVladStruct());
  Dataset d = LoadMatDataset((dir / "toy.mat").string(), "");
  EXPECT_EQ(d.kind, "netvlad_mat");
  EXPECT_EQ(d.database_names, kDb);
  EXPECT_EQ(d.query_names, kQ);
  EXPECT_EQ(d.root, dir.string());
  EXPECT_EQ(d.database[1], (dir / "db/bb.jpg").string());
  EXPECT_EQ(d.database_positions, (std::vector<double>{500000.5, 4000000, 500010.25, 4000001, 500020, 4000002}));
  EXPECT_EQ(d.query_positions, (std::vector<double>{500001, 4000000.5, 500019, 4000002.5}));
  EXPECT_EQ(d.positive_radius, 25);
  EXPECT_EQ(d.non_trivial_radius, 10);
  EXPECT_EQ(d.declared_database, 3);
  EXPECT_EQ(d.declared_queries, 2);
  EXPECT_EQ(d.position_unit, "m");
  EXPECT_EQ(d.info["whichSet"], "test");
  EXPECT_EQ(d.info["dataset"], "toy");
  EXPECT_EQ(d.info["layout"], "netvlad_struct");
  EXPECT_EQ(d.info["mat_version"], Expected());
}

TEST_P(MatVersions, HeapUtilCellTrimsPaddedNamesAndReadsNBy2) {
  fs::path dir = Scratch("heaputil" + Expected());
  WriteMat(dir / "toy.mat", GetParam(), "dbStruct", HeapUtilCell());
  Dataset d = LoadMatDataset((dir / "toy.mat").string(), "/data/images");
  EXPECT_EQ(d.kind, "heaputil_mat");
  EXPECT_EQ(d.database_names, kDb);  // "db/a.jpg  " in the file
  EXPECT_EQ(d.query_names, kQ);
  EXPECT_EQ(d.root, "/data/images");
  EXPECT_EQ(d.queries[1], "/data/images/q/yy.jpg");
  EXPECT_EQ(d.database_positions, (std::vector<double>{10, 20, 11, 21, 12, 22}));
  EXPECT_EQ(d.query_positions, (std::vector<double>{10.5, 20.5, 12, 22}));
  EXPECT_EQ(d.positive_radius, 5);
  EXPECT_EQ(d.non_trivial_radius, 0);
  EXPECT_EQ(d.info["layout"], "heaputil_cell");
  EXPECT_EQ(d.info["mat_version"], Expected());
}

INSTANTIATE_TEST_SUITE_P(V5AndV73, MatVersions, ::testing::Values(MAT_FT_MAT5, MAT_FT_MAT73),
                         [](const auto& info) { return info.param == MAT_FT_MAT73 ? "v73" : "v5"; });

TEST(MatDataset, HeapUtilAcceptsCellNamesAnd2ByNAndKeepsDeclaredCountsThatDisagree) {
  fs::path dir = Scratch("heaputil_variants");
  Var cell = CellOf({TextCell(kDb), Matrix(2, 3, {10, 11, 12, 20, 21, 22}), TextCell(kQ), Matrix(2, 2, {1, 2, 3, 4}),
                     Scalar(99), Scalar(2), Matrix(0, 0, {}), Scalar(49)},
                    false);
  WriteMat(dir / "v.mat", MAT_FT_MAT73, "dbStruct", cell);
  Dataset d = LoadMatDataset((dir / "v.mat").string(), "");
  EXPECT_EQ(d.database_positions, (std::vector<double>{10, 20, 11, 21, 12, 22}));
  EXPECT_EQ(d.query_positions, (std::vector<double>{1, 2, 3, 4}));  // 2 x 2: HEAPUtil's N x 2 wins
  EXPECT_EQ(d.declared_database, 99);                               // `vpr doctor` reports it; loading must not fail
  EXPECT_EQ(d.database.size(), 3u);
  EXPECT_EQ(d.positive_radius, 7);  // sqrt(posDistSqThr) when posDistThr is empty
}

TEST(MatDataset, OneRowPositionsAreFrameIndices) {
  fs::path dir = Scratch("one_row");
  Var s = Struct({{"dbImageFns", TextCell(kDb)},
                  {"utmDb", Matrix(1, 3, {0, 1, 2})},
                  {"qImageFns", TextCell(kQ)},
                  {"utmQ", Matrix(1, 2, {0, 2})},
                  {"posDistSqThr", Scalar(4)}});
  WriteMat(dir / "n.db", MAT_FT_MAT5, "dbStruct", s);
  Dataset d = LoadMatDataset((dir / "n.db").string(), "");
  EXPECT_EQ(d.database_positions, (std::vector<double>{0, 0, 1, 0, 2, 0}));
  EXPECT_EQ(d.positive_radius, 2);
  EXPECT_EQ(d.declared_database, -1);
}

TEST(MatDataset, MissingFieldNamesItTheFileAndTheFieldsFound) {
  fs::path dir = Scratch("missing");
  Var s = Struct({{"dbImageFns", TextCell(kDb)},
                  {"utmDb", Matrix(2, 3, {1, 2, 3, 4, 5, 6})},
                  {"qImageFns", TextCell(kQ)},
                  {"posDistThr", Scalar(25)}});
  std::string file = (dir / "m.mat").string();
  WriteMat(file, MAT_FT_MAT73, "dbStruct", s);
  std::string error = ThrownMessage([&] { LoadMatDataset(file, ""); });
  EXPECT_NE(error.find("'utmQ'"), std::string::npos) << error;
  EXPECT_NE(error.find(file), std::string::npos) << error;
  EXPECT_NE(error.find("dbImageFns, utmDb, qImageFns, posDistThr"), std::string::npos) << error;
}

TEST(MatDataset, PositionsCountDifferentFromNamesIsAnError) {
  fs::path dir = Scratch("count");
  Var s = Struct({{"dbImageFns", TextCell(kDb)},
                  {"utmDb", Matrix(2, 2, {1, 2, 3, 4})},
                  {"qImageFns", TextCell(kQ)},
                  {"utmQ", Matrix(2, 2, {1, 2, 3, 4})},
                  {"posDistThr", Scalar(25)}});
  std::string file = (dir / "c.mat").string();
  WriteMat(file, MAT_FT_MAT5, "dbStruct", s);
  std::string error = ThrownMessage([&] { LoadMatDataset(file, ""); });
  EXPECT_NE(error.find("utmDb has shape 2 x 2"), std::string::npos) << error;
  EXPECT_NE(error.find("lists 3 names"), std::string::npos) << error;
  EXPECT_NE(error.find(file), std::string::npos) << error;
}

TEST(MatDataset, NotAMatFileAndNoDbStructAreErrors) {
  fs::path dir = Scratch("bad");
  std::string text = (dir / "text.mat").string();
  std::ofstream(text) << "just some text, not MATLAB\n";
  std::string error = ThrownMessage([&] { LoadMatDataset(text, ""); });
  EXPECT_NE(error.find("is not a MAT file"), std::string::npos) << error;
  EXPECT_NE(error.find(text), std::string::npos) << error;

  std::string other = (dir / "other.mat").string();
  WriteMat(other, MAT_FT_MAT73, "gps", Scalar(1));
  error = ThrownMessage([&] { LoadMatDataset(other, ""); });
  EXPECT_NE(error.find("no variable 'dbStruct'"), std::string::npos) << error;
  EXPECT_NE(error.find("gps"), std::string::npos) << error;

  EXPECT_NE(ThrownMessage([&] { LoadMatDataset((dir / "absent.mat").string(), ""); }).find("does not exist"),
            std::string::npos);
}

// ---- The real files in ../shared/data/gt.

fs::path Gt(const std::string& rel) { return fs::path(VPR_SHARED_DIR) / "data/gt" / rel; }

#define SKIP_WITHOUT(path) \
  if (!fs::exists(path)) GTEST_SKIP() << "real data absent: " << (path) << " (../shared/data is not on this machine)"

TEST(MatDatasetReal, HeapUtilBerlin) {
  fs::path file = Gt("heaputil/berlin.mat");
  SKIP_WITHOUT(file);
  Dataset d = LoadMatDataset(file.string(), "");
  EXPECT_EQ(d.kind, "heaputil_mat");
  ASSERT_EQ(d.database.size(), 314u);
  ASSERT_EQ(d.queries.size(), 280u);
  EXPECT_EQ(d.positive_radius, 50);
  EXPECT_EQ(d.declared_database, 314);
  EXPECT_EQ(d.declared_queries, 280);
  EXPECT_EQ(d.info["mat_version"], "5");
  // Values from scipy.io.loadmat (names trimmed of MATLAB's padding).
  EXPECT_EQ(d.database_names.front(), "Reference_resized/Image_(2).jpg");
  EXPECT_EQ(d.database_names.back(), "Reference_resized/seq1Image_195.jpg");
  EXPECT_EQ(d.query_names.front(), "Query_resized/seq2Image_1.jpg");
  EXPECT_EQ(d.query_names.back(), "Query_resized/seq2Image_280.jpg");
  EXPECT_EQ(d.database_positions[0], 383697.1964803383);
  EXPECT_EQ(d.database_positions[1], 5817547.097349912);
  EXPECT_EQ(d.query_positions[0], 383694.25823261554);  // .tolist(): every digit
  EXPECT_EQ(d.query_positions[1], 5817549.214657268);
  EXPECT_EQ(d.database_positions[2 * 313], 387529.2465010872);
  EXPECT_EQ(d.query_positions[2 * 279 + 1], 5818121.971387415);
  EXPECT_EQ(d.database[0], (file.parent_path() / "Reference_resized/Image_(2).jpg").string());
}

TEST(MatDatasetReal, HeapUtilNordlandAndOxford) {
  SKIP_WITHOUT(Gt("heaputil/nordland.mat"));
  Dataset n = LoadMatDataset(Gt("heaputil/nordland.mat").string(), "");
  EXPECT_EQ(n.database.size(), 1000u);
  EXPECT_EQ(n.queries.size(), 467u);
  EXPECT_EQ(n.positive_radius, 5);
  EXPECT_EQ(n.database_names.back(), "Sub_Sampled/summer/999.png");
  EXPECT_EQ(n.database_positions[2 * 999], 6993);
  Dataset o = LoadMatDataset(Gt("heaputil/oxford.mat").string(), "");
  EXPECT_EQ(o.database.size(), 213u);
  EXPECT_EQ(o.queries.size(), 251u);
  EXPECT_EQ(o.positive_radius, 45);
  EXPECT_EQ(o.query_names.back(), "resized/night/250.png");
}

struct SeqNetFile {
  const char* name;
  size_t database, queries;
  double radius, non_trivial;
};

TEST(MatDatasetReal, EverySeqNetDbParsesWithItsDeclaredCounts) {
  SKIP_WITHOUT(Gt("seqnet"));
  // numImages, numQueries, posDistThr and sqrt(nonTrivPosDistSqThr) from scipy.io.loadmat.
  const SeqNetFile files[] = {
      {"msls_amman_d-20_d2-5.db", 953, 835, 10, 10},
      {"msls_austin_d-20_d2-5.db", 4927, 1732, 10, 10},
      {"msls_melbourne_d-20_d2-5.db", 4973, 4474, 10, 10},
      {"nordland_test_d-1_d2-1.db", 3000, 3000, 1, 1},
      {"nordland_train_d-40_d2-10.db", 15000, 15000, 40, 10},
      {"nordland_val_d-1_d2-1.db", 3000, 3000, 1, 1},
      {"oxford-pnv_2015-03-17-11-08-44_2014-12-16-18-44-24_test_d-25_d2-5.db", 1570, 1579, 25, 5},
      {"oxford-pnv_2015-03-17-11-08-44_2014-12-16-18-44-24_train_d-20_d2-5.db", 3029, 2971, 20, 5},
      {"oxford-v1.0_2015-03-17-11-08-44_2014-12-16-18-44-24_test_d-10_d2-5.db", 1574, 1576, 10, 5},
      {"oxford-v1.0_2015-03-17-11-08-44_2014-12-16-18-44-24_train_d-20_d2-5.db", 2981, 2931, 20, 5},
  };
  for (const auto& f : files) {
    SCOPED_TRACE(f.name);
    Dataset d = LoadMatDataset(Gt(std::string("seqnet/") + f.name).string(), "");
    EXPECT_EQ(d.kind, "netvlad_mat");
    EXPECT_EQ(d.database.size(), f.database);
    EXPECT_EQ(d.queries.size(), f.queries);
    EXPECT_EQ(d.declared_database, static_cast<int64_t>(f.database));
    EXPECT_EQ(d.declared_queries, static_cast<int64_t>(f.queries));
    EXPECT_EQ(d.positive_radius, f.radius);
    EXPECT_EQ(d.non_trivial_radius, f.non_trivial);
  }
}

TEST(MatDatasetReal, SeqNetAmmanValuesAndNordlandFrameIndices) {
  SKIP_WITHOUT(Gt("seqnet"));
  Dataset a = LoadMatDataset(Gt("seqnet/msls_amman_d-20_d2-5.db").string(), "");
  EXPECT_EQ(a.info["whichSet"], "test");
  EXPECT_EQ(a.info["dataset"], "msls_amman-v1.0_database_query");
  EXPECT_EQ(a.database_names[0],
            "Mapillary_Street_Level_Sequences/train_val/amman/database/images/ot6eSG8GM1PJ-_fCLHqSNA.jpg");
  EXPECT_EQ(a.query_names.back(),
            "Mapillary_Street_Level_Sequences/train_val/amman/query/images/aA2DTtmSIw3vq-3GpAD-uQ.jpg");
  EXPECT_EQ(a.database_positions[0], 767652.8817907518);  // utmDb[:, 0]
  EXPECT_EQ(a.database_positions[1], 3542131.102653913);
  EXPECT_EQ(a.query_positions[1], 3542123.9255716656);
  // seqNet's Nordland stores utm as 1 x N frame indices.
  Dataset n = LoadMatDataset(Gt("seqnet/nordland_train_d-40_d2-10.db").string(), "");
  EXPECT_EQ(n.database_positions[0], 0);
  EXPECT_EQ(n.database_positions[2 * 14999], 14999);
  EXPECT_EQ(n.database_positions[2 * 14999 + 1], 0);
  EXPECT_EQ(n.database_names[0], "images-00202.png");
}

}  // namespace
}  // namespace vpr
