#include "vpr/index/faiss_index.h"

#include <faiss/AutoTune.h>
#include <faiss/IVFlib.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVF.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/IndexPQ.h>
#include <faiss/IndexPreTransform.h>
#include <faiss/impl/io.h>
#include <faiss/index_factory.h>
#include <faiss/index_io.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <cstring>
#include <cerrno>
#include <functional>
#include <limits>
#include <numeric>
#include <random>

#include "vpr/index/faiss_error.h"
#include "vpr/util/atomic_file.h"
#include "vpr/util/check.h"
#include "vpr/util/fingerprint.h"
#include "vpr/util/logging.h"
#include "vpr/index/untrusted_faiss.h"
#include "vpr/util/npy.h"
#include "vpr/util/progress.h"

namespace vpr {
namespace {

constexpr char kFactoryExamples[] =
    "examples: \"Flat\" (exact), \"IVF1024,Flat\", \"PQ64\", \"HNSW32\", \"IVF256,PQ32\" "
    "(see the faiss wiki, 'The index factory')";

faiss::MetricType FaissMetric(const std::string& metric) {
  return metric == "ip" ? faiss::METRIC_INNER_PRODUCT : faiss::METRIC_L2;
}

std::unique_ptr<faiss::Index> MakeIndex(int64_t dim, const IndexOptions& options) {
  try {
    return std::unique_ptr<faiss::Index>(
        faiss::index_factory(static_cast<int>(dim), options.factory.c_str(), FaissMetric(options.metric)));
  } catch (const faiss::FaissException& e) {
    VPR_THROW("cannot build a FAISS index from factory string '", options.factory, "' for ", dim,
              "-d vectors (", FaissReason(e), "); ", kFactoryExamples, ". PQm needs dim divisible by m.");
  }
}

// The fewest training rows faiss accepts: one per IVF list and per PQ centroid (it
// recommends 39 times that).
int64_t MinTrainRows(const faiss::Index* index) {
  if (auto* pre = dynamic_cast<const faiss::IndexPreTransform*>(index)) return MinTrainRows(pre->index);
  if (auto* hnsw = dynamic_cast<const faiss::IndexHNSW*>(index)) return MinTrainRows(hnsw->storage);
  int64_t rows = 1;
  if (auto* ivf = dynamic_cast<const faiss::IndexIVF*>(index)) {
    rows = std::max<int64_t>(rows, ivf->nlist);
    if (auto* ivfpq = dynamic_cast<const faiss::IndexIVFPQ*>(index))
      rows = std::max<int64_t>(rows, ivfpq->pq.ksub);
  }
  if (auto* pq = dynamic_cast<const faiss::IndexPQ*>(index)) rows = std::max<int64_t>(rows, pq->pq.ksub);
  return rows;
}

// Seeds faiss' k-means (coarse quantizer, PQ codebooks) so that builds are reproducible,
// and turns off the polysemous training the factory enables for PQ: it only serves
// Hamming-filtered search, which we never use, and takes minutes.
void ConfigureTraining(faiss::Index* index, uint64_t seed) {
  if (auto* pre = dynamic_cast<faiss::IndexPreTransform*>(index)) return ConfigureTraining(pre->index, seed);
  if (auto* hnsw = dynamic_cast<faiss::IndexHNSW*>(index)) return ConfigureTraining(hnsw->storage, seed);
  if (auto* ivf = dynamic_cast<faiss::IndexIVF*>(index)) ivf->cp.seed = static_cast<int>(seed);
  if (auto* ivfpq = dynamic_cast<faiss::IndexIVFPQ*>(index)) {
    ivfpq->do_polysemous_training = false;
    ivfpq->pq.cp.seed = static_cast<int>(seed);
  }
  if (auto* pq = dynamic_cast<faiss::IndexPQ*>(index)) {
    pq->do_polysemous_training = false;
    pq->pq.cp.seed = static_cast<int>(seed);
  }
}

// m distinct row indices out of n, seeded, in increasing order (sequential reads).
std::vector<int64_t> SampleRows(int64_t n, int64_t m, uint64_t seed) {
  std::vector<int64_t> rows(n);
  std::iota(rows.begin(), rows.end(), 0);
  if (m >= n) return rows;
  std::mt19937_64 rng(seed);
  for (int64_t i = 0; i < m; ++i) std::swap(rows[i], rows[i + rng() % (n - i)]);
  rows.resize(m);
  std::sort(rows.begin(), rows.end());
  return rows;
}

IndexInfo NewInfo(const IndexOptions& options, int64_t dim, int64_t n, const std::string& descriptors) {
  IndexInfo info;
  info.factory = options.factory;
  info.metric = options.metric;
  info.dim = dim;
  info.ntotal = n;
  info.descriptors = descriptors;
  return info;
}

int64_t TrainRowCount(int64_t n, const IndexOptions& options) {
  if (options.train_size > n)
    Log().warn("index: --train-size {} is more than the {} database rows: training on all {}", options.train_size, n, n);
  return options.train_size > 0 ? std::min(options.train_size, n) : n;
}

// n of the database's `total` rows train `index`: fails with advice that can be followed
// when faiss cannot train on so few, and warns below the 39 rows per centroid it wants.
void Train(faiss::Index& index, const float* x, int64_t n, int64_t total, const IndexOptions& options) {
  const int64_t need = MinTrainRows(&index);
  const std::string fewer_lists = "IVF" + std::to_string(std::max<int64_t>(1, total / 39)) + ",Flat";
  if (n < need && n < total)
    VPR_THROW("index '", options.factory, "' needs at least ", need, " training rows (faiss recommends ", 39 * need,
              "), got ", n, " (--train-size): raise --train-size to ", std::min(total, 39 * need), " or 0 (all ",
              total, " rows)");
  VPR_CHECK(n >= need, "index '", options.factory, "' needs at least ", need, " training rows (faiss recommends ",
            39 * need, ") but the database has only ", n, ": use fewer IVF lists (", fewer_lists,
            " for ", total, " rows), fewer PQ bits (PQ<m>x4 has 16 centroids), HNSW32 (no training) or Flat (exact)");
  if (n < 39 * need)
    Log().warn("index: '{}' trains on {} rows, fewer than the {} faiss recommends ({} per list or centroid); "
               "{} suits {} rows", options.factory, n, 39 * need, 39, fewer_lists, total);
  Log().info("index: training '{}' on {} rows", options.factory, n);
  try {
    index.train(n, x);
  } catch (const faiss::FaissException& e) {
    VPR_THROW("training FAISS index '", options.factory, "' on ", n, " rows failed: ", FaissReason(e));
  }
}

// Rows per add() call: about 64 MiB of floats unless set, so a streamed build holds
// little besides the index.
int64_t ChunkRows(int64_t dim, const IndexOptions& options) {
  if (options.chunk_rows > 0) return options.chunk_rows;
  return std::clamp<int64_t>((int64_t{64} << 20) / (4 * std::max<int64_t>(dim, 1)), 1, 65536);
}

// Adds n rows chunk by chunk (with progress); rows(begin, count) points at them.
void AddInChunks(faiss::Index& index, int64_t n, int64_t chunk, const std::string& factory,
                 const std::function<const float*(int64_t, int64_t)>& rows) {
  Progress progress("index add", n, "vectors");
  for (int64_t begin = 0; begin < n; begin += chunk) {
    int64_t count = std::min(chunk, n - begin);
    try {
      index.add(count, rows(begin, count));
    } catch (const faiss::FaissException& e) {
      VPR_THROW("adding ", count, " vectors to FAISS index '", factory, "' failed: ", FaissReason(e));
    }
    progress.Add(count);
  }
  progress.Finish();
}

// faiss writes through this into WriteFileAtomic's temporary file.
struct StreamWriter : faiss::IOWriter {
  explicit StreamWriter(std::ostream& out) : out(out) {}
  size_t operator()(const void* ptr, size_t size, size_t nitems) override {
    out.write(static_cast<const char*>(ptr), static_cast<std::streamsize>(size * nitems));
    return out ? nitems : 0;
  }
  std::ostream& out;
};

std::string MetricName(faiss::MetricType metric) {
  return metric == faiss::METRIC_INNER_PRODUCT ? "ip" : "l2";
}

}  // namespace

void IndexOptions::Check() const {
  VPR_CHECK_USAGE(!factory.empty(), "--factory is empty; ", kFactoryExamples);
  VPR_CHECK_USAGE(metric == "l2" || metric == "ip", "unknown --metric '", metric,
            "': use l2 (squared Euclidean) or ip (inner product; cosine on L2-normalised descriptors)");
  VPR_CHECK_USAGE(train_size >= 0, "--train-size must be >= 0 (0 = all rows), got ", train_size);
  VPR_CHECK_USAGE(nprobe >= 0, "--nprobe must be >= 0 (0 = faiss' default), got ", nprobe);
  VPR_CHECK_USAGE(hnsw_ef_search >= 0, "--ef-search must be >= 0 (0 = faiss' default), got ", hnsw_ef_search);
  VPR_CHECK_USAGE(chunk_rows >= 0, "chunk rows must be >= 0 (0 = about 64 MiB), got ", chunk_rows);
}

nlohmann::json IndexInfo::ToJson() const {
  return {{"format_version", format_version},
          {"factory", factory},
          {"metric", metric},
          {"distance", DistanceMeaning(metric)},
          {"dim", dim},
          {"ntotal", ntotal},
          {"descriptors", descriptors},
          {"names", names},
          {"index_fingerprint", index_fingerprint},
          {"names_fingerprint", names_fingerprint}};
}

IndexInfo IndexInfo::FromJson(const nlohmann::json& json, const std::string& source) {
  IndexInfo info;
  try {
    info.format_version = json.at("format_version").get<int>();
    info.factory = json.at("factory").get<std::string>();
    info.metric = json.at("metric").get<std::string>();
    info.dim = json.at("dim").get<int64_t>();
    info.ntotal = json.at("ntotal").get<int64_t>();
    info.descriptors = json.value("descriptors", "");
    info.names = json.value("names", "");
    info.index_fingerprint = json.value("index_fingerprint", "");
    info.names_fingerprint = json.value("names_fingerprint", "");
  } catch (const nlohmann::json::exception& e) {
    VPR_THROW("'", source, "' is not a vpr index sidecar: ", e.what());
  }
  // Version 1 stored absolute paths; 2 stores them relative to the index's folder.
  VPR_CHECK(info.format_version == 1 || info.format_version == 2, "'", source, "' has format_version ",
            info.format_version, "; this vpr reads versions 1 and 2: rebuild the index with this vpr");
  VPR_CHECK(info.metric == "l2" || info.metric == "ip", "'", source, "': unknown metric '", info.metric, "'");
  return info;
}

std::string IndexInfoPath(const std::string& index_path) { return index_path + ".json"; }

std::string DistanceMeaning(const std::string& metric) {
  return metric == "ip" ? "inner_product (larger is closer)" : "squared_l2 (smaller is closer)";
}

FaissIndex::FaissIndex(std::unique_ptr<faiss::Index> index, IndexInfo info)
    : index_(std::move(index)), info_(std::move(info)) {}
FaissIndex::FaissIndex(FaissIndex&&) noexcept = default;
FaissIndex& FaissIndex::operator=(FaissIndex&&) noexcept = default;
FaissIndex::~FaissIndex() = default;

int64_t FaissIndex::dim() const { return index_->d; }
int64_t FaissIndex::ntotal() const { return index_->ntotal; }

FaissIndex FaissIndex::Build(const float* data, int64_t n, int64_t dim, const IndexOptions& options) {
  options.Check();
  VPR_CHECK(n > 0 && dim > 0, "cannot index an empty database (", n, " x ", dim, ")");
  const int64_t bad = FirstNonFiniteRow(data, n, dim);
  VPR_CHECK(bad < 0, "database descriptor ", bad,
            " holds NaN or infinite values; a descriptor with NaN is never found by a search");
  std::unique_ptr<faiss::Index> index = MakeIndex(dim, options);
  ConfigureTraining(index.get(), options.seed);
  if (!index->is_trained) {
    int64_t m = TrainRowCount(n, options);
    if (m == n) {
      Train(*index, data, n, n, options);
    } else {  // gather the sample only: the database itself is never copied
      std::vector<float> sample(m * dim);
      std::vector<int64_t> rows = SampleRows(n, m, options.seed);
      for (int64_t i = 0; i < m; ++i) std::copy_n(data + rows[i] * dim, dim, sample.data() + i * dim);
      Train(*index, sample.data(), m, n, options);
    }
  }
  AddInChunks(*index, n, ChunkRows(dim, options), options.factory,
              [&](int64_t begin, int64_t) { return data + begin * dim; });
  FaissIndex out(std::move(index), NewInfo(options, dim, n, ""));
  out.SetSearchParams(options.nprobe, options.hnsw_ef_search);
  return out;
}

FaissIndex FaissIndex::BuildFromNpy(const std::string& npy_path, const IndexOptions& options) {
  options.Check();
  NpyReader reader(npy_path);
  const int64_t n = reader.rows(), dim = reader.cols();
  VPR_CHECK(n > 0 && dim > 0, "'", npy_path, "' holds no vectors (", n, " x ", dim, ")");
  VPR_CHECK(reader.shape().size() == 2, "'", npy_path, "' is a ", reader.shape().size(),
            "-D array; descriptors must be 2-D, one row per image");
  auto finite = [&](const float* rows, int64_t begin, int64_t count) {
    const int64_t bad = FirstNonFiniteRow(rows, count, dim);
    VPR_CHECK(bad < 0, "'", npy_path, "': row ", begin + bad,
              " holds NaN or infinite values; a descriptor with NaN is never found by a search, re-extract it");
  };
  std::unique_ptr<faiss::Index> index = MakeIndex(dim, options);
  ConfigureTraining(index.get(), options.seed);
  if (!index->is_trained) {  // the sample is freed before the vectors are added
    std::vector<int64_t> rows = SampleRows(n, TrainRowCount(n, options), options.seed);
    const int64_t m = static_cast<int64_t>(rows.size());
    std::vector<float> sample(m * dim);
    if (m == n) {
      reader.ReadRows(0, n, sample.data());
    } else {
      for (int64_t i = 0; i < m; ++i) reader.ReadRows(rows[i], 1, sample.data() + i * dim);
    }
    Train(*index, sample.data(), m, n, options);
  }
  const int64_t chunk = ChunkRows(dim, options);
  std::vector<float> buffer(std::min(chunk, n) * dim);
  AddInChunks(*index, n, chunk, options.factory, [&](int64_t begin, int64_t count) {
    reader.ReadRows(begin, count, buffer.data());
    finite(buffer.data(), begin, count);
    return static_cast<const float*>(buffer.data());
  });
  FaissIndex out(std::move(index), NewInfo(options, dim, n, npy_path));
  out.SetSearchParams(options.nprobe, options.hnsw_ef_search);
  return out;
}

void FaissIndex::SetSources(const std::string& descriptors, const std::string& names) {
  info_.descriptors = descriptors;
  info_.names = names;
  std::error_code ec;
  info_.names_fingerprint = std::filesystem::is_regular_file(names, ec) ? FingerprintFileContent(names) : "";
}

namespace {

std::filesystem::path FolderOf(const std::string& index_path) {
  return std::filesystem::absolute(index_path).lexically_normal().parent_path();
}

// Sidecar paths are relative to the index's folder: the index, its sidecar and the
// files beside them can move together (absolute when no relative path exists).
std::string RelativeToIndex(const std::string& file, const std::string& index_path) {
  if (file.empty()) return file;
  std::filesystem::path relative =
      std::filesystem::absolute(file).lexically_normal().lexically_relative(FolderOf(index_path));
  return relative.empty() ? std::filesystem::absolute(file).string() : relative.string();
}

// A sidecar path as a path to open: relative ones against the index's folder. A file
// that is not there but whose name is beside the index (an index moved without the
// folders around it) is taken from beside the index.
std::string ResolveFromIndex(const std::string& stored, const std::string& index_path) {
  if (stored.empty()) return stored;
  std::filesystem::path path = stored;
  if (path.is_relative()) path = (FolderOf(index_path) / path).lexically_normal();
  if (std::filesystem::exists(path)) return path.string();
  std::filesystem::path beside = FolderOf(index_path) / path.filename();
  if (!std::filesystem::exists(beside)) return path.string();
  Log().info("'{}' is not where the sidecar of '{}' says; using '{}' beside the index", path.string(), index_path,
             beside.string());
  return beside.string();
}

}  // namespace

void FaissIndex::Save(const std::string& path) const {
  FileSet set;  // the index and its sidecar appear together
  const std::string tmp = set.Stage(path);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    VPR_CHECK(out, "cannot write '", tmp, "': ", std::strerror(errno), " (check that the folder is writable)");
    StreamWriter writer(out);
    try {
      faiss::write_index(index_.get(), &writer);
    } catch (const faiss::FaissException& e) {
      VPR_THROW("writing FAISS index '", path, "' failed: ", FaissReason(e));
    }
    out.flush();
    VPR_CHECK(out, "writing '", path, "' failed (disk full?)");
  }
  IndexInfo info = info_;
  info.descriptors = RelativeToIndex(info.descriptors, path);
  info.names = RelativeToIndex(info.names, path);
  info.index_fingerprint = FingerprintFileContent(tmp);
  set.Write(IndexInfoPath(path), info.ToJson().dump(2) + "\n");
  set.Commit();
}

FaissIndex FaissIndex::Load(const std::string& path) {
  VPR_CHECK(std::filesystem::is_regular_file(path), "index file '", path, "' does not exist; build it with vpr index");
  std::unique_ptr<faiss::Index> index = ReadUntrustedFaissIndex(
      [&] { return faiss::read_index(path.c_str()); }, std::filesystem::file_size(path), "'" + path + "'",
      "rebuild it with vpr index");
  IndexInfo info = NewInfo({"unknown", MetricName(index->metric_type)}, index->d, index->ntotal, "");
  std::string sidecar = IndexInfoPath(path);
  if (std::filesystem::exists(sidecar)) {
    nlohmann::json json;
    try {
      json = nlohmann::json::parse(ReadFileBytes(sidecar));
    } catch (const nlohmann::json::exception& e) {
      VPR_THROW("'", sidecar, "' is not valid JSON: ", e.what());
    }
    info = IndexInfo::FromJson(json, sidecar);
    info.descriptors = ResolveFromIndex(info.descriptors, path);
    info.names = ResolveFromIndex(info.names, path);
    VPR_CHECK(info.index_fingerprint.empty() || info.index_fingerprint == FingerprintFileContent(path), "'", sidecar,
              "' was written for another version of '", path,
              "' (content fingerprints differ: a run was interrupted or one file was replaced); rebuild with vpr index");
    VPR_CHECK(info.dim == index->d && info.ntotal == index->ntotal && info.metric == MetricName(index->metric_type),
              "'", sidecar, "' (", info.ntotal, " x ", info.dim, ", ", info.metric, ") does not describe '", path,
              "' (", index->ntotal, " x ", index->d, ", ", MetricName(index->metric_type),
              "): it belongs to another index; rebuild with vpr index");
  } else {
    Log().warn("'{}' has no sidecar '{}': database names unknown, metric {} read from the index", path, sidecar,
               info.metric);
  }
  return FaissIndex(std::move(index), info);
}

void FaissIndex::SetSearchParams(int nprobe, int hnsw_ef_search) {
  faiss::ParameterSpace space;
  auto set = [&](const char* name, int value, const char* flag) {
    if (value <= 0) return;
    try {
      space.set_index_parameter(index_.get(), name, value);
    } catch (const faiss::FaissException&) {
      Log().warn("{} {} ignored: index '{}' has no {} parameter", flag, value, info_.factory, name);
    }
  };
  set("nprobe", nprobe, "--nprobe");
  const faiss::IndexIVF* ivf = faiss::ivflib::try_extract_index_ivf(index_.get());
  if (ivf && nprobe > 0 && static_cast<size_t>(nprobe) > ivf->nlist)
    Log().warn("--nprobe {} is more than the {} lists of '{}': all {} are visited (an exhaustive search)", nprobe,
               ivf->nlist, info_.factory, ivf->nlist);
  set("efSearch", hnsw_ef_search, "--ef-search");
}

KnnResult FaissIndex::Search(const float* queries, int64_t n, int64_t dim, int64_t k) const {
  VPR_CHECK(dim == index_->d, "queries are ", dim, "-d but the index holds ", index_->d,
            "-d vectors: describe the queries with the same model (and WPCA) as the database");
  VPR_CHECK(k > 0, "top-k must be positive, got ", k);
  VPR_CHECK(index_->ntotal > 0, "the index is empty: nothing to search");
  const int64_t bad = FirstNonFiniteRow(queries, n, dim);
  VPR_CHECK(bad < 0, "query ", bad, " holds NaN or infinite values: it has no nearest neighbours; re-extract it");
  KnnResult result;
  result.num_queries = n;
  result.k = k;
  result.ids.assign(n * k, -1);
  result.distances.assign(n * k, 0.0f);
  if (n > 0) {
    try {
      index_->search(n, queries, k, result.distances.data(), result.ids.data());
    } catch (const faiss::FaissException& e) {
      VPR_THROW("FAISS search in index '", info_.factory, "' failed: ", FaissReason(e));
    }
  }
  const float missing = info_.metric == "ip" ? -std::numeric_limits<float>::infinity()
                                             : std::numeric_limits<float>::infinity();
  for (size_t i = 0; i < result.ids.size(); ++i)
    if (result.ids[i] < 0) result.distances[i] = missing;
  return result;
}

}  // namespace vpr
