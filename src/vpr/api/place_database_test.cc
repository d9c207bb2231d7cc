#include "vpr/place_database.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "vpr/index/knn.h"
#include "vpr/test_config.h"
#include "vpr/util/thrown_message.h"

namespace vpr {
namespace {
namespace fs = std::filesystem;

std::vector<std::vector<float>> RandomRows(int n, int dim, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<std::vector<float>> rows(n, std::vector<float>(dim));
  for (auto& row : rows)
    for (float& v : row) v = normal(rng);
  return rows;
}

std::vector<float> Flat(const std::vector<std::vector<float>>& rows) {
  std::vector<float> out;
  for (const auto& r : rows) out.insert(out.end(), r.begin(), r.end());
  return out;
}

fs::path Scratch(const std::string& name) {
  fs::path dir = fs::path(VPR_BINARY_DIR) / "test_scratch" / "api" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

TEST(PlaceDatabase, QueryIsExactNearestFirstWithInfo) {
  const auto db_rows = RandomRows(300, 16, 1), queries = RandomRows(20, 16, 2);
  PlaceDatabase db(16);
  for (int i = 0; i < 300; ++i) EXPECT_EQ(db.Add(db_rows[i], {"p" + std::to_string(i), 1.0 * i, -1.0 * i, 0.5 * i}), i);
  EXPECT_EQ(db.size(), 300);
  const std::vector<float> flat_db = Flat(db_rows), flat_q = Flat(queries);
  KnnResult exact = ExactKnnL2(flat_db.data(), 300, flat_q.data(), 20, 16, 5);
  for (int q = 0; q < 20; ++q) {
    std::vector<Match> m = db.Query(queries[q], 5);
    ASSERT_EQ(m.size(), 5u);
    for (int r = 0; r < 5; ++r) {
      EXPECT_EQ(m[r].id, exact.id(q, r));
      EXPECT_NEAR(m[r].distance, exact.distance(q, r), 1e-3f);
      EXPECT_EQ(m[r].info.name, "p" + std::to_string(m[r].id));
      EXPECT_DOUBLE_EQ(m[r].info.y, -1.0 * m[r].id);
    }
  }
  EXPECT_EQ(db.QueryMany(queries, 3).size(), 20u);
}

// What loop closure needs: leave out given ids, the recent past, and removed places.
TEST(PlaceDatabase, FiltersAndRemovalLeaveEntriesOut) {
  const auto rows = RandomRows(50, 8, 3);
  PlaceDatabase db(8);
  for (int i = 0; i < 50; ++i) db.Add(rows[i], {"", 0, 0, static_cast<double>(i)});
  EXPECT_EQ(db.Query(rows[10], 1).front().id, 10);
  QueryFilter not_itself;
  not_itself.exclude_ids = {10};
  EXPECT_NE(db.Query(rows[10], 1, not_itself).front().id, 10);
  QueryFilter recent;
  recent.exclude_last = 45;  // only ids 0..4 remain
  for (const Match& m : db.Query(rows[49], 10, recent)) EXPECT_LT(m.id, 5);
  EXPECT_EQ(db.Query(rows[49], 10, recent).size(), 5u);
  QueryFilter older;
  older.before_time = 20.0;
  for (const Match& m : db.Query(rows[30], 50, older)) EXPECT_LT(m.info.time, 20.0);
  EXPECT_EQ(db.Query(rows[30], 50, older).size(), 20u);
  EXPECT_TRUE(db.Remove(10));
  EXPECT_FALSE(db.Remove(10));
  EXPECT_EQ(db.size(), 49);
  EXPECT_NE(db.Query(rows[10], 1).front().id, 10);
  EXPECT_EQ(db.Add(rows[10]), 50) << "ids are never reused";
}

TEST(PlaceDatabase, SaveLoadGivesIdenticalResultsAndBadFilesAreClearErrors) {
  const fs::path dir = Scratch("save");
  const auto rows = RandomRows(100, 12, 4), queries = RandomRows(10, 12, 5);
  PlaceDatabase db(12);
  for (int i = 0; i < 100; ++i) db.Add(rows[i], {"frame_" + std::to_string(i), 2.0 * i, 3.0, 0.1 * i});
  db.Remove(7);
  const std::string path = (dir / "map.vprdb").string();
  db.Save(path);
  PlaceDatabase loaded = PlaceDatabase::Load(path);
  EXPECT_EQ(loaded.size(), 99);
  EXPECT_EQ(loaded.dim(), 12);
  for (const auto& q : queries) {
    std::vector<Match> a = db.Query(q, 7), b = loaded.Query(q, 7);
    ASSERT_EQ(a.size(), b.size());
    for (size_t r = 0; r < a.size(); ++r) {
      EXPECT_EQ(a[r].id, b[r].id);
      EXPECT_EQ(a[r].distance, b[r].distance);
      EXPECT_EQ(a[r].info.name, b[r].info.name);
      EXPECT_EQ(a[r].info.x, b[r].info.x);
    }
  }
  EXPECT_EQ(loaded.Add(rows[0]), 100) << "the next id survives the file";

  std::ofstream((dir / "not.vprdb").string()) << "hello";
  EXPECT_NE(ThrownMessage([&] { PlaceDatabase::Load((dir / "not.vprdb").string()); }).find("not a vpr place database"),
            std::string::npos);
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::ofstream((dir / "cut.vprdb").string(), std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  EXPECT_NE(ThrownMessage([&] { PlaceDatabase::Load((dir / "cut.vprdb").string()); }).find("cut.vprdb"),
            std::string::npos);
}

TEST(PlaceDatabase, WrongInputsSayWhatToDo) {
  EXPECT_THROW(PlaceDatabase(0), UsageError);
  DatabaseOptions ivf;
  ivf.factory = "IVF16,Flat";
  EXPECT_NE(ThrownMessage([&] { PlaceDatabase(8, ivf); }).find("needs training"), std::string::npos);
  PlaceDatabase db(8);
  EXPECT_NE(ThrownMessage([&] { db.Add(std::vector<float>(7, 0.f)); }).find("has 7 values but the database holds 8-d"),
            std::string::npos);
  std::vector<float> nan(8, 0.f);
  nan[3] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_NE(ThrownMessage([&] { db.Add(nan); }).find("NaN"), std::string::npos);
  EXPECT_TRUE(db.Query(std::vector<float>(8, 0.f), 3).empty());
  EXPECT_THROW(db.Info(3), Error);
}

// Concurrent queries beside one writer: the lock keeps every result consistent.
TEST(PlaceDatabase, ConcurrentQueriesWithAWriter) {
  const auto rows = RandomRows(400, 8, 6);
  PlaceDatabase db(8);
  for (int i = 0; i < 200; ++i) db.Add(rows[i]);
  std::thread writer([&] {
    for (int i = 200; i < 400; ++i) db.Add(rows[i]);
  });
  std::vector<std::thread> readers;
  std::atomic<int> bad{0};
  for (int t = 0; t < 3; ++t)
    readers.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        std::vector<Match> m = db.Query(rows[(i * 7 + t) % 200], 1);
        if (m.empty() || m[0].id != (i * 7 + t) % 200) ++bad;
      }
    });
  writer.join();
  for (auto& r : readers) r.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(db.size(), 400);
}

}  // namespace
}  // namespace vpr
