// A growing database of places: descriptors with a name, a position and a time, searched
// for the nearest ones, saved to and loaded from one file. What a robot keeps as its map.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "vpr/error.h"

namespace vpr {

struct PlaceInfo {
  std::string name;  // e.g. the image file or frame id
  double x = 0.0;    // position (metres, or any unit of the caller's)
  double y = 0.0;
  double time = 0.0;  // e.g. seconds; the query filter can leave out recent places
};

struct Match {
  int64_t id = -1;
  float distance = 0.0f;  // squared L2 (smaller is closer), or the inner product for "ip"
  PlaceInfo info;
};

struct DatabaseOptions {
  // A FAISS index_factory string; "Flat" is exact. Others (HNSW32, ...) must support
  // adding without training; ids stay the database's.
  std::string factory = "Flat";
  // "l2" (squared Euclidean) or "ip" (inner product: larger is closer).
  std::string metric = "l2";
};

// Which entries a query may return (loop closure leaves out the recent past).
struct QueryFilter {
  std::vector<int64_t> exclude_ids;
  // Only entries with time < before_time (when set to a finite value).
  double before_time = std::numeric_limits<double>::infinity();
  // Leave out the last N entries added.
  int64_t exclude_last = 0;
};

// Thread-safety: any number of concurrent Query/QueryMany/size/Save calls, or one
// Add/Remove at a time with no query running (a reader-writer lock inside enforces it).
class PlaceDatabase {
 public:
  // An empty database of dim-dimensional descriptors; throws vpr::UsageError on a bad dim,
  // factory or metric.
  explicit PlaceDatabase(int dim, const DatabaseOptions& options = {});
  ~PlaceDatabase();
  PlaceDatabase(PlaceDatabase&&) noexcept;
  PlaceDatabase& operator=(PlaceDatabase&&) noexcept;

  // Adds a descriptor of dim() values; returns its id (0, 1, 2, ... in the order added).
  int64_t Add(const std::vector<float>& descriptor, const PlaceInfo& info = {});
  // Removes an entry; false when there is no such id.
  bool Remove(int64_t id);
  int64_t size() const;
  int dim() const;
  const DatabaseOptions& options() const;
  // The id the next Add returns (ids are never reused, so a replayed log can tell what
  // a saved database already holds).
  int64_t next_id() const;
  // The ids held, in increasing order.
  std::vector<int64_t> Ids() const;

  // The k nearest entries that pass `filter`, nearest first (fewer when fewer pass).
  std::vector<Match> Query(const std::vector<float>& descriptor, int k, const QueryFilter& filter = {}) const;
  std::vector<std::vector<Match>> QueryMany(const std::vector<std::vector<float>>& descriptors, int k,
                                            const QueryFilter& filter = {}) const;
  // The entry's info; throws vpr::Error when there is no such id.
  PlaceInfo Info(int64_t id) const;

  // One versioned file, written atomically (a temporary renamed over `path`): the index,
  // the ids, names, positions and times.
  void Save(const std::string& path) const;
  // Throws vpr::Error naming the file when it is not a database this vpr reads.
  static PlaceDatabase Load(const std::string& path);
  // The same bytes as Save, in memory (to embed a database in another file or a message);
  // `what` names the source in FromBytes' errors.
  std::string ToBytes() const;
  static PlaceDatabase FromBytes(const std::string& bytes, const std::string& what);

 private:
  struct Impl;
  explicit PlaceDatabase(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vpr
