#include "vpr/data/load_dataset.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>

#include "vpr/test_config.h"
#include "vpr/util/check.h"
#include "vpr/util/thrown_message.h"

namespace vpr {
namespace {
namespace fs = std::filesystem;

fs::path Scratch(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / "vpr_load_dataset_test" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void WriteText(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

fs::path Gt(const std::string& rel) { return fs::path(VPR_SHARED_DIR) / "data/gt" / rel; }

#define SKIP_WITHOUT(path) \
  if (!fs::exists(path)) GTEST_SKIP() << "real data absent: " << (path) << " (../shared/data is not on this machine)"

// ---- Patch-NetVLAD .npz

TEST(NpzDataset, Pitts30kTestUsesTheListsWithoutTheSplitSuffix) {
  fs::path file = Gt("patchnetvlad/pitts30k_test.npz");
  SKIP_WITHOUT(file);
  Dataset d = LoadNpzDataset(file.string(), "/data/pitts");
  EXPECT_EQ(d.kind, "patchnetvlad_npz");
  ASSERT_EQ(d.database.size(), 10000u);
  ASSERT_EQ(d.queries.size(), 6816u);
  EXPECT_EQ(d.positive_radius, 25);
  EXPECT_EQ(d.position_unit, "m");
  EXPECT_EQ(d.database_names[0], "./Pittsburgh250k/000/000829_pitch1_yaw1.jpg");
  EXPECT_EQ(d.database[0], "/data/pitts/Pittsburgh250k/000/000829_pitch1_yaw1.jpg");
  EXPECT_EQ(d.query_names[0], "./Pittsburgh250k/queries_real/000/000546_pitch1_yaw1.jpg");
  // np.load(...)['utmDb'][0].tolist() etc.: float64 kept exactly.
  EXPECT_EQ(d.database_positions[0], 584825.9611881467);
  EXPECT_EQ(d.database_positions[1], 4476945.610746089);
  EXPECT_EQ(d.query_positions[0], 584744.9658462318);
  EXPECT_EQ(d.query_positions[2 * 6815 + 1], 4477141.51105614);
  EXPECT_EQ(d.info["database_list"], Gt("patchnetvlad/pitts30k_imageNames_index.txt").string());
}

TEST(NpzDataset, NordlandIntegerPositions) {
  fs::path file = Gt("patchnetvlad/nordland.npz");
  SKIP_WITHOUT(file);
  Dataset d = LoadNpzDataset(file.string(), "");
  EXPECT_EQ(d.database.size(), 27592u);
  EXPECT_EQ(d.queries.size(), 27592u);
  EXPECT_EQ(d.positive_radius, 10);
  EXPECT_EQ(d.database_positions[2 * 5], 5);
  EXPECT_EQ(d.query_positions[2 * 27591], 27591);
  EXPECT_EQ(d.query_names[0], "./nordland/winter/images-00202.png");
  EXPECT_EQ(d.root, file.parent_path().string());
}

TEST(NpzDataset, Tokyo247WithoutItsDatabaseListNamesTheMissingFile) {
  fs::path file = Gt("patchnetvlad/tokyo247.npz");
  SKIP_WITHOUT(file);
  std::string error = ThrownMessage([&] { LoadNpzDataset(file.string(), ""); });
  EXPECT_NE(error.find(Gt("patchnetvlad/tokyo247_imageNames_index.txt").string()), std::string::npos) << error;
  EXPECT_NE(error.find("database image list"), std::string::npos) << error;
}

TEST(NpzDataset, ListLongerThanThePositionsIsAnError) {
  fs::path real = Gt("patchnetvlad/pitts30k_test.npz");
  SKIP_WITHOUT(real);
  fs::path dir = Scratch("npz_mismatch");
  fs::copy_file(real, dir / "toy.npz");
  fs::copy_file(Gt("patchnetvlad/pitts30k_imageNames_index.txt"), dir / "toy_imageNames_index.txt");
  WriteText(dir / "toy_imageNames_query.txt", "./q/a.jpg\n./q/b.jpg\n");
  std::string error = ThrownMessage([&] { LoadNpzDataset((dir / "toy.npz").string(), ""); });
  EXPECT_NE(error.find("utmQ has shape 6816 x 2"), std::string::npos) << error;
  EXPECT_NE(error.find("lists 2 images"), std::string::npos) << error;
}

// ---- CSV

TEST(CsvDataset, EastingNorthingRowsSplitIntoDatabaseAndQueries) {
  fs::path dir = Scratch("csv_utm");
  WriteText(dir / "gt.csv",
            "path,easting,northing,split\n"
            "db/0.jpg,500000.5,4000000.25,database\n"
            "\"q/with,comma.jpg\",500001,4000001,query\n"
            "db/1.jpg, 500010 ,4000010,db\n"
            "\n"
            "q/1.jpg,500011,4000011,queries\n");
  Dataset d = LoadCsvDataset((dir / "gt.csv").string(), "");
  EXPECT_EQ(d.kind, "csv");
  EXPECT_EQ(d.database_names, (std::vector<std::string>{"db/0.jpg", "db/1.jpg"}));
  EXPECT_EQ(d.query_names, (std::vector<std::string>{"q/with,comma.jpg", "q/1.jpg"}));
  EXPECT_EQ(d.database_positions, (std::vector<double>{500000.5, 4000000.25, 500010, 4000010}));
  EXPECT_EQ(d.query_positions, (std::vector<double>{500001, 4000001, 500011, 4000011}));
  EXPECT_EQ(d.database[1], (dir / "db/1.jpg").string());
  EXPECT_EQ(d.positive_radius, 25);
  EXPECT_EQ(d.info["coordinates"], "easting/northing");
}

TEST(CsvDataset, LatLonIsProjectedToUtm) {
  fs::path dir = Scratch("csv_latlon");
  // Zone 31's central meridian is 3 E: easting 500 km there; northing = k0 * meridian arc
  // (0.9996 * 4984944.378 m at 45 N, integrated numerically from the WGS84 ellipse).
  WriteText(dir / "gt.csv",
            "split,Latitude,Longitude,path\n"
            "database,45,3,a.jpg\n"
            "database,0,3,b.jpg\n"
            "query,45,2,c.jpg\n"
            "query,45,4,d.jpg\n");
  Dataset d = LoadCsvDataset((dir / "gt.csv").string(), "");
  EXPECT_NEAR(d.database_positions[0], 500000, 1e-6);
  EXPECT_NEAR(d.database_positions[1], 4982950.400226577, 1e-3);
  EXPECT_NEAR(d.database_positions[2], 500000, 1e-6);
  EXPECT_NEAR(d.database_positions[3], 0, 1e-6);
  // Symmetric about the central meridian.
  EXPECT_NEAR(d.query_positions[0] + d.query_positions[2], 1e6, 1e-6);
  EXPECT_NEAR(d.query_positions[1], d.query_positions[3], 1e-6);
  EXPECT_NEAR(d.query_positions[0], 500000 - 78.8e3, 1e3);  // 1 degree of longitude at 45 N
  EXPECT_EQ(d.info["utm_zone"], "31N");
  EXPECT_EQ(d.info["coordinates"], "lat/lon");
}

TEST(CsvDataset, PointsOutsideTheFirstZoneAndAcrossTheEquatorStayInItsFrame) {
  fs::path dir = Scratch("csv_zone");
  WriteText(dir / "gt.csv",
            "path,lat,lon,split\n"
            "a.jpg,1,3,database\n"
            "b.jpg,-1,3,query\n"     // southern hemisphere: continued below 0, not 9.89e6
            "c.jpg,1,6.5,query\n");  // zone 32, projected in zone 31
  Dataset d = LoadCsvDataset((dir / "gt.csv").string(), "");
  EXPECT_NEAR(d.database_positions[1], 110530.15880237488, 1e-3);
  EXPECT_NEAR(d.query_positions[1], -110530.15880237488, 1e-3);
  EXPECT_GT(d.query_positions[2], 500000 + 3.4 * 111e3);
  EXPECT_EQ(d.info["utm_zone"], "31N");
  EXPECT_EQ(d.info["points_outside_zone"], 1);
}

TEST(CsvDataset, ErrorsNameTheRowOrTheMissingColumns) {
  fs::path dir = Scratch("csv_errors");
  WriteText(dir / "split.csv", "path,easting,northing,split\na.jpg,1,2,database\nb.jpg,1,2,train\n");
  std::string error = ThrownMessage([&] { LoadCsvDataset((dir / "split.csv").string(), ""); });
  EXPECT_NE(error.find("line 3"), std::string::npos) << error;
  EXPECT_NE(error.find("'train'"), std::string::npos) << error;

  WriteText(dir / "columns.csv", "path,x,y,split\na.jpg,1,2,database\n");
  error = ThrownMessage([&] { LoadCsvDataset((dir / "columns.csv").string(), ""); });
  EXPECT_NE(error.find("easting,northing"), std::string::npos) << error;
  EXPECT_NE(error.find("lat,lon"), std::string::npos) << error;

  WriteText(dir / "number.csv", "path,easting,northing,split\na.jpg,1,north,database\n");
  error = ThrownMessage([&] { LoadCsvDataset((dir / "number.csv").string(), ""); });
  EXPECT_NE(error.find("line 2: column northing is 'north'"), std::string::npos) << error;

  WriteText(dir / "lat.csv", "path,lat,lon,split\na.jpg,95,3,database\n");
  error = ThrownMessage([&] { LoadCsvDataset((dir / "lat.csv").string(), ""); });
  EXPECT_NE(error.find("line 2: lat 95, lon 3"), std::string::npos) << error;
  EXPECT_NE(error.find("lat and lon are not swapped"), std::string::npos) << error;

  WriteText(dir / "noquery.csv", "path,easting,northing,split\na.jpg,1,2,database\n");
  EXPECT_NE(ThrownMessage([&] { LoadCsvDataset((dir / "noquery.csv").string(), ""); }).find("0 query"), std::string::npos);
}

// ---- @UTM@ folders

void Touch(const fs::path& path) { WriteText(path, "not really a jpeg"); }

TEST(UtmFolderDataset, ParsesEastingAndNorthingFromTheNames) {
  fs::path dir = Scratch("utm");
  Touch(dir / "database/@0543256.96@4178906.12@10@S@037.75@-122.51@.jpg");
  Touch(dir / "database/sub/@0543300.00@4178950.50@10@S@.jpg");
  Touch(dir / "queries/@0543260@4178910@.jpg");
  Dataset d = LoadUtmFolderDataset(dir.string() + "/");
  EXPECT_EQ(d.kind, "utm_folders");
  EXPECT_EQ(d.root, dir.string());
  ASSERT_EQ(d.database.size(), 2u);
  EXPECT_EQ(d.database_names[0], "database/@0543256.96@4178906.12@10@S@037.75@-122.51@.jpg");
  EXPECT_EQ(d.database_names[1], "database/sub/@0543300.00@4178950.50@10@S@.jpg");
  EXPECT_EQ(d.query_names[0], "queries/@0543260@4178910@.jpg");
  EXPECT_EQ(d.database_positions, (std::vector<double>{543256.96, 4178906.12, 543300.0, 4178950.5}));
  EXPECT_EQ(d.query_positions, (std::vector<double>{543260, 4178910}));
  EXPECT_EQ(d.positive_radius, 25);
}

TEST(UtmFolderDataset, ErrorsNameTheFolderOrTheImage) {
  fs::path dir = Scratch("utm_errors");
  Touch(dir / "database/@1@2@.jpg");
  std::string error = ThrownMessage([&] { LoadUtmFolderDataset(dir.string()); });
  EXPECT_NE(error.find("no 'queries' folder"), std::string::npos) << error;

  fs::create_directories(dir / "queries");
  error = ThrownMessage([&] { LoadUtmFolderDataset(dir.string()); });
  EXPECT_NE(error.find("has no images"), std::string::npos) << error;

  Touch(dir / "queries/street_42.jpg");
  error = ThrownMessage([&] { LoadUtmFolderDataset(dir.string()); });
  EXPECT_NE(error.find("street_42.jpg"), std::string::npos) << error;
  EXPECT_NE(error.find("@UTM_east@UTM_north@"), std::string::npos) << error;
}

// ---- LoadDataset and DatasetSource

TEST(LoadDataset, DispatchesOnTheExtensionAndAppliesTheRadius) {
  fs::path dir = Scratch("dispatch");
  WriteText(dir / "GT.CSV", "path,easting,northing,split\na.jpg,1,2,database\nb.jpg,3,4,query\n");
  DatasetSource source;
  source.file = (dir / "GT.CSV").string();
  source.radius = 10;
  Dataset d = LoadDataset(source);
  EXPECT_EQ(d.kind, "csv");
  EXPECT_EQ(d.positive_radius, 10);
  EXPECT_EQ(d.info["file_positive_radius"], 25);

  Touch(dir / "utm/database/@1@2@.jpg");
  Touch(dir / "utm/queries/@3@4@.jpg");
  source = {};
  source.file = (dir / "utm").string();
  EXPECT_EQ(LoadDataset(source).kind, "utm_folders");

  WriteText(dir / "gt.txt", "a b c\n");
  source.file = (dir / "gt.txt").string();
  std::string error = ThrownMessage([&] { LoadDataset(source); });
  EXPECT_NE(error.find("'.txt'"), std::string::npos) << error;
  EXPECT_NE(error.find(".mat/.db"), std::string::npos) << error;
  EXPECT_NE(error.find(".npz"), std::string::npos) << error;

  source.file = (dir / "absent.mat").string();
  EXPECT_NE(ThrownMessage([&] { LoadDataset(source); }).find("does not exist"), std::string::npos);
}

TEST(LoadDataset, FrameAlignedForm) {
  fs::path dir = Scratch("frames");
  cv::Mat image(8, 8, CV_8UC3, cv::Scalar(1, 2, 3));
  for (const char* sub : {"day", "night"}) {
    fs::create_directories(dir / sub);
    for (int i = 0; i < 2; ++i) cv::imwrite((dir / sub / ("f" + std::to_string(i) + ".png")).string(), image);
  }
  DatasetSource source;
  source.database_dir = (dir / "day").string();
  source.query_dir = (dir / "night").string();
  source.frame_tolerance = 0;
  Dataset d = LoadDataset(source);
  EXPECT_EQ(d.kind, "frame_aligned");
  EXPECT_EQ(d.database.size(), 2u);
}

TEST(DatasetSourceCheck, SaysWhichFlagsToGive) {
  DatasetSource none;
  std::string error = ThrownMessage([&] { none.Check(); });
  EXPECT_NE(error.find("--dataset"), std::string::npos) << error;
  EXPECT_NE(error.find("--frame-tolerance"), std::string::npos) << error;

  DatasetSource both;
  both.file = "gt.mat";
  both.database_dir = "db";
  EXPECT_NE(ThrownMessage([&] { both.Check(); }).find("cannot be combined"), std::string::npos);

  DatasetSource partial;
  partial.database_dir = "db";
  error = ThrownMessage([&] { partial.Check(); });
  EXPECT_NE(error.find("missing: --queries DIR --frame-tolerance N"), std::string::npos) << error;

  DatasetSource root_only;
  root_only.root = "images";
  EXPECT_NE(ThrownMessage([&] { root_only.Check(); }).find("--root"), std::string::npos);

  DatasetSource negative;
  negative.file = "gt.mat";
  negative.radius = -1;
  EXPECT_NE(ThrownMessage([&] { negative.Check(); }).find("--radius"), std::string::npos);

  DatasetSource file;
  file.file = "gt.mat";
  file.root = "images";
  EXPECT_NO_THROW(file.Check());
  DatasetSource frames;
  frames.database_dir = "db";
  frames.query_dir = "q";
  frames.frame_tolerance = 0;
  EXPECT_NO_THROW(frames.Check());
}

}  // namespace
}  // namespace vpr
