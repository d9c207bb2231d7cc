#include "vpr/index/faiss_index.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>

#include "vpr/test_config.h"
#include "vpr/util/check.h"
#include "vpr/util/npy.h"
#include "vpr/util/thrown_message.h"

namespace vpr {
namespace {
namespace fs = std::filesystem;

struct Points {
  std::vector<float> data;
  int64_t n = 0, dim = 0;
};

// n points around `clusters` random centres (seeded by centre_seed; spread 0.1 next to
// centres ~N(0,1)), optionally L2-normalised: the shape approximate indexes are made
// for. Database and queries share centre_seed and differ in point_seed.
Points Clustered(int64_t n, int64_t dim, int clusters, uint32_t point_seed, bool normalise = false,
                 uint32_t centre_seed = 100) {
  std::mt19937 centre_rng(centre_seed), rng(point_seed);
  std::normal_distribution<float> gauss;
  std::vector<float> centres(clusters * dim);
  for (float& c : centres) c = gauss(centre_rng);
  Points p{std::vector<float>(n * dim), n, dim};
  for (int64_t i = 0; i < n; ++i) {
    int64_t c = rng() % clusters;
    double norm = 0;
    for (int64_t j = 0; j < dim; ++j) {
      float v = centres[c * dim + j] + 0.1f * gauss(rng);
      p.data[i * dim + j] = v;
      norm += v * v;
    }
    for (int64_t j = 0; normalise && j < dim; ++j) p.data[i * dim + j] /= static_cast<float>(std::sqrt(norm));
  }
  return p;
}

// Fraction of queries whose exact nearest neighbour is in the approximate top k.
double RecallOfNearest(const KnnResult& approx, const KnnResult& exact) {
  int64_t hits = 0;
  for (int64_t q = 0; q < exact.num_queries; ++q)
    for (int64_t r = 0; r < approx.k; ++r) hits += approx.id(q, r) == exact.id(q, 0);
  return static_cast<double>(hits) / exact.num_queries;
}

fs::path TempDir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / "vpr_faiss_index_test" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

TEST(FaissIndex, FlatL2EqualsExactKnnExactly) {
  Points db = Clustered(500, 32, 10, 1), q = Clustered(40, 32, 10, 2);
  FaissIndex index = FaissIndex::Build(db.data.data(), db.n, db.dim, {});
  KnnResult got = index.Search(q.data.data(), q.n, q.dim, 7);
  KnnResult want = ExactKnnL2(db.data.data(), db.n, q.data.data(), q.n, q.dim, 7);
  EXPECT_EQ(got.ids, want.ids);
  EXPECT_EQ(got.distances, want.distances);
  EXPECT_EQ(index.ntotal(), 500);
  EXPECT_EQ(index.dim(), 32);
}

TEST(FaissIndex, InnerProductOnNormalisedVectorsRanksLikeL2) {
  Points db = Clustered(400, 16, 8, 3, true), q = Clustered(30, 16, 8, 4, true);
  IndexOptions options;
  options.metric = "ip";
  FaissIndex index = FaissIndex::Build(db.data.data(), db.n, db.dim, options);
  KnnResult ip = index.Search(q.data.data(), q.n, q.dim, 5);
  KnnResult l2 = ExactKnnL2(db.data.data(), db.n, q.data.data(), q.n, q.dim, 5);
  EXPECT_EQ(ip.ids, l2.ids);
  for (size_t i = 0; i < ip.distances.size(); ++i)  // |a-b|^2 = 2 - 2 a.b on the unit sphere
    EXPECT_NEAR(l2.distances[i], 2.0f - 2.0f * ip.distances[i], 1e-4);
  EXPECT_GE(ip.distance(0, 0), ip.distance(0, 4));  // larger is closer
}

TEST(FaissIndex, KBeyondTheDatabaseIsPaddedWithMinusOne) {
  Points db = Clustered(3, 8, 2, 5);
  FaissIndex index = FaissIndex::Build(db.data.data(), db.n, db.dim, {});
  KnnResult r = index.Search(db.data.data(), 1, db.dim, 5);
  EXPECT_EQ(r.id(0, 0), 0);
  EXPECT_EQ(r.id(0, 3), -1);
  EXPECT_TRUE(std::isinf(r.distance(0, 4)));
}

struct ApproxCase {
  std::string factory;
  int nprobe;
  int ef_search;
  double min_recall;
};

void PrintTo(const ApproxCase& c, std::ostream* os) { *os << c.factory; }

class ApproximateIndex : public ::testing::TestWithParam<ApproxCase> {};

TEST_P(ApproximateIndex, ReachesHighRecallOnClusteredData) {
  const ApproxCase& c = GetParam();
  Points db = Clustered(3000, 32, 50, 6), q = Clustered(200, 32, 50, 7);
  IndexOptions options;
  options.factory = c.factory;
  options.nprobe = c.nprobe;
  options.hnsw_ef_search = c.ef_search;
  options.train_size = 1000;
  FaissIndex index = FaissIndex::Build(db.data.data(), db.n, db.dim, options);
  KnnResult approx = index.Search(q.data.data(), q.n, q.dim, 10);
  KnnResult exact = ExactKnnL2(db.data.data(), db.n, q.data.data(), q.n, q.dim, 1);
  EXPECT_GE(RecallOfNearest(approx, exact), c.min_recall) << c.factory;
}

INSTANTIATE_TEST_SUITE_P(Factories, ApproximateIndex,
                         ::testing::Values(ApproxCase{"IVF64,Flat", 8, 0, 0.95}, ApproxCase{"HNSW32", 0, 64, 0.95},
                                           ApproxCase{"PQ16", 0, 0, 0.9}, ApproxCase{"IVF64,PQ8", 16, 0, 0.8}),
                         [](const auto& info) {
                           std::string name = info.param.factory;
                           for (char& ch : name)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return name;
                         });

TEST(FaissIndex, SaveLoadRoundTripKeepsResultsAndSidecar) {
  fs::path dir = TempDir("roundtrip");
  Points db = Clustered(1000, 32, 20, 8), q = Clustered(20, 32, 20, 9);
  IndexOptions options;
  options.factory = "IVF16,Flat";
  options.metric = "ip";
  options.nprobe = 4;
  FaissIndex index = FaissIndex::Build(db.data.data(), db.n, db.dim, options);
  index.SetSources((dir / "db.npy").string(), (dir / "db.names.txt").string());
  std::string path = (dir / "db.index").string();
  index.Save(path);
  ASSERT_TRUE(fs::exists(IndexInfoPath(path)));

  FaissIndex loaded = FaissIndex::Load(path);
  EXPECT_EQ(loaded.info().factory, "IVF16,Flat");
  EXPECT_EQ(loaded.info().metric, "ip");
  EXPECT_EQ(loaded.info().names, (dir / "db.names.txt").string());
  EXPECT_EQ(loaded.info().ntotal, 1000);
  loaded.SetSearchParams(4, 0);  // nprobe is not stored in the file
  KnnResult a = index.Search(q.data.data(), q.n, q.dim, 5), b = loaded.Search(q.data.data(), q.n, q.dim, 5);
  EXPECT_EQ(a.ids, b.ids);
  EXPECT_EQ(a.distances, b.distances);
}

// The sidecar names its files relative to the index's folder: a moved folder (or an
// index moved with its files beside it) stays searchable with names.
TEST(FaissIndex, SidecarPathsAreRelativeSoAMovedIndexFindsItsFiles) {
  fs::path dir = TempDir("portable");
  fs::create_directories(dir / "a" / "names");
  Points db = Clustered(100, 8, 4, 3);
  FaissIndex index = FaissIndex::Build(db.data.data(), db.n, db.dim, {});
  index.SetSources((dir / "a" / "db.npy").string(), (dir / "a" / "names" / "db.names.txt").string());
  index.Save((dir / "a" / "db.index").string());
  std::ofstream((dir / "a" / "names" / "db.names.txt").string()) << "x\n";
  std::ifstream sidecar(IndexInfoPath((dir / "a" / "db.index").string()));
  nlohmann::json json = nlohmann::json::parse(sidecar);
  EXPECT_EQ(json["names"], "names/db.names.txt");
  EXPECT_EQ(json["descriptors"], "db.npy");
  EXPECT_EQ(json["format_version"], 2);

  fs::rename(dir / "a", dir / "b");
  EXPECT_EQ(FaissIndex::Load((dir / "b" / "db.index").string()).info().names,
            (dir / "b" / "names" / "db.names.txt").string());
  // Only the index, its sidecar and the names file moved, all into one folder.
  fs::create_directories(dir / "c");
  for (const char* name : {"db.index", "db.index.json", "names/db.names.txt"})
    fs::rename(dir / "b" / name, dir / "c" / fs::path(name).filename());
  EXPECT_EQ(FaissIndex::Load((dir / "c" / "db.index").string()).info().names, (dir / "c" / "db.names.txt").string());
}

TEST(FaissIndex, StreamingBuildFromNpyEqualsInMemoryBuild) {
  fs::path dir = TempDir("stream");
  Points db = Clustered(3000, 24, 16, 10), q = Clustered(25, 24, 16, 11);
  std::string npy = (dir / "db.npy").string();
  WriteNpy(npy, db.data.data(), db.n, db.dim);
  NpyReader reader(npy);
  ASSERT_EQ(reader.rows(), 3000);
  ASSERT_EQ(reader.cols(), 24);
  std::vector<float> rows(2 * 24);
  reader.ReadRows(1234, 2, rows.data());
  EXPECT_EQ(rows, std::vector<float>(db.data.begin() + 1234 * 24, db.data.begin() + 1236 * 24));

  for (std::string factory : {"Flat", "IVF32,Flat", "IVF16,PQ8x4"}) {
    IndexOptions options;
    options.factory = factory;
    options.train_size = 1000;
    options.nprobe = 4;
    FaissIndex memory = FaissIndex::Build(db.data.data(), db.n, db.dim, options);
    options.chunk_rows = 700;  // several chunks, the last one short
    FaissIndex streamed = FaissIndex::BuildFromNpy(npy, options);
    EXPECT_EQ(streamed.info().descriptors, npy);
    KnnResult a = memory.Search(q.data.data(), q.n, q.dim, 10), b = streamed.Search(q.data.data(), q.n, q.dim, 10);
    EXPECT_EQ(a.ids, b.ids) << factory;
    EXPECT_EQ(a.distances, b.distances) << factory;
  }
}

// A float64 .npy of shape (rows, cols) holding 0, 1, 2, ..., truncated by `cut` bytes.
std::string WriteFloat64Npy(const fs::path& path, int rows, int cols, int cut) {
  std::string dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (" + std::to_string(rows) + ", " +
                     std::to_string(cols) + "), }";
  dict.append(64 - (10 + dict.size() + 1) % 64, ' ');
  dict.push_back('\n');
  std::string bytes = std::string("\x93NUMPY\x01\x00", 8);
  bytes.push_back(static_cast<char>(dict.size() & 0xff));
  bytes.push_back(static_cast<char>(dict.size() >> 8));
  bytes += dict;
  for (int i = 0; i < rows * cols; ++i) {
    double v = i;
    bytes.append(reinterpret_cast<const char*>(&v), 8);
  }
  bytes.resize(bytes.size() - cut);
  std::ofstream(path, std::ios::binary) << bytes;
  return path.string();
}

TEST(NpyReader, ConvertsFloat64RowsAndRejectsTruncatedFiles) {
  fs::path dir = TempDir("npy64");
  NpyReader reader(WriteFloat64Npy(dir / "a.npy", 4, 3, 0));
  std::vector<float> rows(6);
  reader.ReadRows(2, 2, rows.data());
  EXPECT_EQ(rows, (std::vector<float>{6, 7, 8, 9, 10, 11}));
  EXPECT_THROW(reader.ReadRows(3, 2, rows.data()), Error);
  EXPECT_THROW(NpyReader(WriteFloat64Npy(dir / "b.npy", 4, 3, 8)), Error);
}

TEST(FaissIndex, BadFactoryStringNamesItAndGivesExamples) {
  Points db = Clustered(100, 16, 4, 12);
  IndexOptions options;
  options.factory = "IVF12,Flatt";
  std::string message = ThrownMessage([&] { FaissIndex::Build(db.data.data(), db.n, db.dim, options); });
  EXPECT_NE(message.find("'IVF12,Flatt'"), std::string::npos) << message;
  EXPECT_NE(message.find("\"HNSW32\""), std::string::npos) << message;
  EXPECT_NE(message.find("\"IVF256,PQ32\""), std::string::npos) << message;
}

TEST(FaissIndex, TooFewTrainingRowsAndDimMismatchAreClearErrors) {
  Points db = Clustered(100, 16, 4, 13);
  IndexOptions options;
  options.factory = "IVF256,Flat";
  std::string message = ThrownMessage([&] { FaissIndex::Build(db.data.data(), db.n, db.dim, options); });
  EXPECT_NE(message.find("at least 256 training rows"), std::string::npos) << message;
  EXPECT_NE(message.find("the database has only 100: use fewer IVF lists (IVF2,Flat for 100 rows)"),
            std::string::npos) << message;
  EXPECT_EQ(message.find("--train-size"), std::string::npos) << "more training rows cannot help: " << message;
  options.factory = "IVF64,Flat";
  options.train_size = 50;
  message = ThrownMessage([&] { FaissIndex::Build(db.data.data(), db.n, db.dim, options); });
  EXPECT_NE(message.find("raise --train-size to 100 or 0 (all 100 rows)"), std::string::npos) << message;
  options.train_size = 0;

  options.factory = "PQ4";
  options.train_size = 200;  // more than there are: all 100 are used, PQ needs 256
  message = ThrownMessage([&] { FaissIndex::Build(db.data.data(), db.n, db.dim, options); });
  EXPECT_NE(message.find("at least 256 training rows"), std::string::npos) << message;

  FaissIndex flat = FaissIndex::Build(db.data.data(), db.n, db.dim, {});
  message = ThrownMessage([&] { flat.Search(db.data.data(), 2, 8, 1); });
  EXPECT_NE(message.find("queries are 8-d but the index holds 16-d"), std::string::npos) << message;

  IndexOptions bad;
  bad.metric = "cosine";
  EXPECT_THROW(bad.Check(), Error);
}

// A 200-byte index whose header claims 12 GB of vectors: an error naming the file, not
// 12 GB taken (FAISS sizes its vectors from the header).
TEST(FaissIndex, ACorruptIndexClaimingGigabytesIsAnError) {
  const std::string path =
      std::string(VPR_SOURCE_DIR) + "/tests/fuzz/corpus/faiss_index_fuzz/claims_12gb_vectors.index";
  const std::string error = ThrownMessage([&] { FaissIndex::Load(path); });
  EXPECT_NE(error.find(path), std::string::npos) << error;
  EXPECT_TRUE(error.find("corrupt") != std::string::npos || error.find("not a FAISS index") != std::string::npos)
      << error;
}

// Found by faiss_index_fuzz: a PQ header with zero sub-quantizers makes FAISS's reader
// divide by zero (SIGFPE); one whose codes are shorter than its count reads past them in
// search (SIGSEGV); a metric outside faiss::MetricType is undefined behaviour to load.
// Each must be an error naming the file, never a crash of vpr.
TEST(FaissIndex, IndexesThatCrashFaissAreErrors) {
  const std::string dir = std::string(VPR_SOURCE_DIR) + "/tests/fuzz/corpus/faiss_index_fuzz/";
  const std::pair<std::string, std::string> cases[] = {
      {"crash_pq_divides_by_zero.index", "signal FPE"},
      {"crash_pq_search_reads_past_codes.index", "signal SEGV"},
      {"crash_metric_out_of_enum.index", "uses FAISS metric 16777216"}};
  for (const auto& [file, reason] : cases) {
    const std::string path = dir + file;
    const std::string error = ThrownMessage([&] { FaissIndex::Load(path); });
    EXPECT_NE(error.find("'" + path + "'"), std::string::npos) << error;
    EXPECT_NE(error.find(reason), std::string::npos) << error;
    EXPECT_NE(error.find("rebuild it with vpr index"), std::string::npos) << error;
  }
}

}  // namespace
}  // namespace vpr
