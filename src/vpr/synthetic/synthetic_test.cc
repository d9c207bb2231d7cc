#include "vpr/synthetic/synthetic.h"

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "vpr/util/check.h"

namespace vpr {
namespace {

// The default route, rendered once for the tests that only read it.
const SyntheticDataset& DefaultRoute() {
  static const SyntheticDataset dataset = MakeSyntheticRoute(SyntheticOptions{});
  return dataset;
}

SyntheticOptions Small() {
  SyntheticOptions o;
  o.num_places = 6;
  o.height = 60;
  o.width = 80;
  o.query_max_shift_px = 4;
  return o;
}

bool SamePixels(const cv::Mat& a, const cv::Mat& b) {
  return a.size() == b.size() && a.type() == b.type() && cv::norm(a, b, cv::NORM_INF) == 0;
}

// A crude global descriptor: a tiny grey thumbnail, mean-subtracted and L2-normalised.
cv::Mat Thumbnail(const cv::Mat& bgr) {
  cv::Mat grey, small;
  cv::cvtColor(bgr, grey, cv::COLOR_BGR2GRAY);
  cv::resize(grey, small, cv::Size(16, 12), 0, 0, cv::INTER_AREA);
  small.convertTo(small, CV_32F);
  small -= cv::mean(small)[0];
  return small.reshape(1, 1) / std::max(1e-6, cv::norm(small));
}

// Fraction of queries whose nearest database thumbnail is within +-1 place.
double ThumbnailRecallAt1(const SyntheticDataset& d) {
  std::vector<cv::Mat> db;
  for (const SyntheticImage& image : d.database) db.push_back(Thumbnail(image.bgr));
  int hits = 0;
  for (size_t q = 0; q < d.queries.size(); ++q) {
    cv::Mat query = Thumbnail(d.queries[q].bgr);
    size_t best = 0;
    double best_dist = 1e30;
    for (size_t i = 0; i < db.size(); ++i) {
      double dist = cv::norm(query, db[i], cv::NORM_L2SQR);
      if (dist < best_dist) best_dist = dist, best = i;
    }
    hits += std::abs(static_cast<long>(best) - static_cast<long>(q)) <= 1;
  }
  return static_cast<double>(hits) / d.queries.size();
}

TEST(Synthetic, ImagesHaveRequestedSizeTypeAndNames) {
  const SyntheticDataset& d = DefaultRoute();
  SyntheticOptions o;
  ASSERT_EQ(d.database.size(), static_cast<size_t>(o.num_places));
  ASSERT_EQ(d.queries.size(), static_cast<size_t>(o.num_places));
  for (const auto* images : {&d.database, &d.queries}) {
    for (const SyntheticImage& image : *images) {
      EXPECT_EQ(image.bgr.type(), CV_8UC3);
      EXPECT_EQ(image.bgr.rows, o.height);
      EXPECT_EQ(image.bgr.cols, o.width);
    }
  }
  EXPECT_EQ(d.database[7].name, "database/place_0007.png");
  EXPECT_EQ(d.queries[7].name, "queries/place_0007.png");
}

TEST(Synthetic, PositionsIncreaseAlongTheRouteAndQueriesMatchTheirPlace) {
  const SyntheticDataset& d = DefaultRoute();
  SyntheticOptions o;
  for (size_t i = 0; i < d.database.size(); ++i) {
    EXPECT_DOUBLE_EQ(d.database[i].easting, i * o.spacing_m);
    EXPECT_DOUBLE_EQ(d.queries[i].easting, d.database[i].easting);
    EXPECT_DOUBLE_EQ(d.queries[i].northing, d.database[i].northing);
    if (i > 0) EXPECT_GT(d.database[i].easting, d.database[i - 1].easting);
  }
}

TEST(Synthetic, SameSeedGivesSamePixelsOtherSeedDiffers) {
  SyntheticOptions o = Small();
  SyntheticDataset a = MakeSyntheticRoute(o);
  SyntheticDataset b = MakeSyntheticRoute(o);
  for (size_t i = 0; i < a.database.size(); ++i) {
    EXPECT_TRUE(SamePixels(a.database[i].bgr, b.database[i].bgr)) << i;
    EXPECT_TRUE(SamePixels(a.queries[i].bgr, b.queries[i].bgr)) << i;
  }
  o.seed += 1;
  SyntheticDataset c = MakeSyntheticRoute(o);
  EXPECT_FALSE(SamePixels(a.database[0].bgr, c.database[0].bgr));
  EXPECT_FALSE(SamePixels(a.queries[0].bgr, c.queries[0].bgr));
}

TEST(Synthetic, QueriesAreDarkerThanTheDatabase) {
  const SyntheticDataset& d = DefaultRoute();
  double db = 0, q = 0;
  for (size_t i = 0; i < d.database.size(); ++i) {
    db += cv::mean(d.database[i].bgr)[1];
    q += cv::mean(d.queries[i].bgr)[1];
  }
  EXPECT_LT(q, 0.85 * db);
}

TEST(Synthetic, NeighbouringPlacesOverlapButDiffer) {
  const SyntheticDataset& d = DefaultRoute();
  EXPECT_FALSE(SamePixels(d.database[10].bgr, d.database[11].bgr));
}

// The task must be neither trivial nor hopeless: a crude thumbnail matcher should find
// many, but far from all, places within +-1 place.
TEST(Synthetic, CrudeBaselineFindsSomeButNotAllPlaces) {
  double recall = ThumbnailRecallAt1(DefaultRoute());
  std::printf("thumbnail recall@1 (+-1 place): %.3f\n", recall);
  EXPECT_GE(recall, 0.3);
  EXPECT_LE(recall, 0.9);
}

TEST(Synthetic, DefaultRouteRendersQuickly) {
  auto start = std::chrono::steady_clock::now();
  MakeSyntheticRoute(SyntheticOptions{});
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("default route rendered in %.3f s\n", seconds);
  EXPECT_LT(seconds, 3.0);  // target is well under 1 s; slack for loaded CI machines
}

TEST(Synthetic, OtherSizesAndExtremeOptionsRender) {
  SyntheticOptions o = Small();
  o.num_places = 1;
  o.height = 32;
  o.width = 200;
  o.query_noise_std = 0;
  o.query_blur_sigma = 0;
  o.query_max_zoom = 1.0;
  o.query_max_shift_px = 0;
  o.query_transient_probability = 1.0;
  SyntheticDataset d = MakeSyntheticRoute(o);
  ASSERT_EQ(d.queries.size(), 1u);
  EXPECT_EQ(d.queries[0].bgr.size(), cv::Size(200, 32));
}

void ExpectRejected(const SyntheticOptions& o, const std::string& field) {
  try {
    o.Check();
    ADD_FAILURE() << "expected " << field << " to be rejected";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
  }
  EXPECT_THROW(MakeSyntheticRoute(o), Error);
}

TEST(Synthetic, CheckRejectsBadOptionsNamingTheField) {
  SyntheticOptions{}.Check();
  SyntheticOptions o;
  o.num_places = 0;
  ExpectRejected(o, "num_places");
  o = {};
  o.height = 8;
  ExpectRejected(o, "height");
  o = {};
  o.width = -1;
  ExpectRejected(o, "width");
  o = {};
  o.query_brightness = 0;
  ExpectRejected(o, "query_brightness");
  o = {};
  o.query_max_shift_px = o.width;
  ExpectRejected(o, "query_max_shift_px");
  o = {};
  o.query_noise_std = -1;
  ExpectRejected(o, "query_noise_std");
  o = {};
  o.spacing_m = std::nan("");
  ExpectRejected(o, "spacing_m");
  o = {};
  o.step_fraction = 0;
  ExpectRejected(o, "step_fraction");
  o = {};
  o.query_max_zoom = 0.9;
  ExpectRejected(o, "query_max_zoom");
  o = {};
  o.query_transient_probability = 1.5;
  ExpectRejected(o, "query_transient_probability");
  o = {};
  o.query_blur_sigma = -0.5;
  ExpectRejected(o, "query_blur_sigma");
}

std::string TempDir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("vpr_synthetic_test_" + name);
  std::filesystem::remove_all(dir);
  return dir.string();
}

TEST(Synthetic, WriteCreatesImagesAndPositionsThatParseBack) {
  SyntheticOptions o = Small();
  o.spacing_m = 2.5;
  SyntheticDataset d = MakeSyntheticRoute(o);
  std::string dir = TempDir("write");
  WriteSyntheticDataset(d, dir);
  for (const auto* images : {&d.database, &d.queries}) {
    for (const SyntheticImage& image : *images) {
      cv::Mat read = cv::imread(dir + "/" + image.name, cv::IMREAD_COLOR);
      EXPECT_TRUE(SamePixels(read, image.bgr)) << image.name;  // PNG is lossless
    }
  }
  std::ifstream csv(dir + "/positions.csv");
  std::string line;
  ASSERT_TRUE(std::getline(csv, line));
  EXPECT_EQ(line, "name,easting,northing");
  std::map<std::string, std::pair<double, double>> rows;
  while (std::getline(csv, line)) {
    std::stringstream fields(line);
    std::string name, easting, northing;
    std::getline(fields, name, ',');
    std::getline(fields, easting, ',');
    std::getline(fields, northing, ',');
    rows[name] = {std::stod(easting), std::stod(northing)};
  }
  EXPECT_EQ(rows.size(), 2 * d.database.size());
  for (const auto* images : {&d.database, &d.queries}) {
    for (const SyntheticImage& image : *images) {
      ASSERT_EQ(rows.count(image.name), 1u) << image.name;
      EXPECT_DOUBLE_EQ(rows[image.name].first, image.easting);
      EXPECT_DOUBLE_EQ(rows[image.name].second, image.northing);
    }
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace vpr
