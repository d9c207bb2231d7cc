// Approximate (or exact) k-NN indexes built by FAISS factory string ("Flat",
// "IVF1024,Flat", "PQ64", "HNSW32", "IVF256,PQ32", ...): build from memory or by
// streaming a .npy file, save atomically with a JSON sidecar, load, search.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <string>

#include "vpr/index/knn.h"

namespace faiss {
struct Index;
}

namespace vpr {

struct IndexOptions {
  // faiss::index_factory description, e.g. "Flat", "IVF1024,Flat", "PQ64", "HNSW32".
  std::string factory = "Flat";
  // "l2" (squared Euclidean, smaller = closer) or "ip" (inner product, larger = closer;
  // equals cosine similarity on L2-normalised descriptors such as NetVLAD's).
  std::string metric = "l2";
  // Rows used to train IVF / PQ indexes: 0 = all, else a seeded random sample of this many.
  int64_t train_size = 0;
  // Seed of the training sample (and of faiss' k-means).
  uint64_t seed = 1234;
  // Inverted lists visited per query (IVF); 0 = keep faiss' default (1).
  int nprobe = 0;
  // HNSW search breadth efSearch; 0 = keep faiss' default (16).
  int hnsw_ef_search = 0;
  // Rows read and added per step; 0 = about 64 MiB worth (a streamed build holds one
  // such chunk besides the index).
  int64_t chunk_rows = 0;
  void Check() const;
};

// What INDEX.json (the sidecar written next to an index file) records, so that search
// knows the metric and the database names without the original command line.
struct IndexInfo {
  int format_version = 2;
  std::string factory;
  std::string metric;
  int64_t dim = 0;
  int64_t ntotal = 0;
  // The .npy the index was built from ("" when built in memory) and its names file, line
  // i = database id i ("" when unknown): paths to open in memory, relative to the index's
  // folder in the sidecar.
  std::string descriptors;
  std::string names;
  // Content fingerprints (FingerprintFileContent) of the index file and of the names
  // file when the sidecar was written: a reader refuses a pair that no longer matches.
  std::string index_fingerprint, names_fingerprint;
  nlohmann::json ToJson() const;
  static IndexInfo FromJson(const nlohmann::json& json, const std::string& source);
};

// The sidecar path of an index file: "DB.index" -> "DB.index.json".
std::string IndexInfoPath(const std::string& index_path);

// One word for outputs: "squared_l2 (smaller is closer)" or "inner_product (larger is closer)".
std::string DistanceMeaning(const std::string& metric);

class FaissIndex {
 public:
  FaissIndex(FaissIndex&&) noexcept;
  FaissIndex& operator=(FaissIndex&&) noexcept;
  ~FaissIndex();

  // Builds from n x dim row-major floats owned by the caller (not copied: only a
  // training sample is gathered when train_size < n). Trains when the index needs it.
  static FaissIndex Build(const float* data, int64_t n, int64_t dim, const IndexOptions& options);
  // Builds by reading a float .npy file in chunks, so the database is held once (inside
  // FAISS) rather than twice. The training sample is read first.
  static FaissIndex BuildFromNpy(const std::string& npy_path, const IndexOptions& options);
  // Reads an index written by Save (or faiss::write_index); `info` from its sidecar.
  static FaissIndex Load(const std::string& path);

  // Writes the index atomically (temporary file, then rename) and its sidecar JSON.
  void Save(const std::string& path) const;
  // What the sidecar records as the database's descriptor and names files.
  void SetSources(const std::string& descriptors, const std::string& names);

  // Sets nprobe / efSearch when > 0; logs a warning when the index has no such knob.
  void SetSearchParams(int nprobe, int hnsw_ef_search);

  // Top-k of n x dim queries. Distances follow the metric: squared L2 (ascending) or
  // inner products (descending). Missing neighbours (k > ntotal, or an approximate
  // index that found fewer) have id -1 and distance +inf (l2) or -inf (ip).
  KnnResult Search(const float* queries, int64_t n, int64_t dim, int64_t k) const;

  int64_t dim() const;
  int64_t ntotal() const;
  const IndexInfo& info() const { return info_; }
  faiss::Index& raw() { return *index_; }

 private:
  FaissIndex(std::unique_ptr<faiss::Index> index, IndexInfo info);
  std::unique_ptr<faiss::Index> index_;
  IndexInfo info_;
};

}  // namespace vpr
