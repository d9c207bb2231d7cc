// The public place database: a FAISS index under an id map (our ids survive removals),
// the places' info beside it, one reader-writer lock, and a one-file format.
#include "vpr/place_database.h"

#include <faiss/IndexIDMap.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/io.h>
#include <faiss/index_factory.h>
#include <faiss/index_io.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <unordered_set>

#include "vpr/index/faiss_error.h"
#include "vpr/util/atomic_file.h"
#include "vpr/util/check.h"
#include "vpr/index/untrusted_faiss.h"
#include "vpr/util/versioned_file.h"

namespace vpr {
namespace {

// File layout: magic, format version (u32), header length (u64), JSON header (dim,
// factory, metric, next id, places), FAISS index bytes to the end of the file.
constexpr char kMagic[8] = {'V', 'P', 'R', 'D', 'B', '\0', '\r', '\n'};
constexpr uint32_t kFormatVersion = 1;

faiss::MetricType Metric(const std::string& metric) {
  VPR_CHECK_USAGE(metric == "l2" || metric == "ip", "DatabaseOptions::metric must be \"l2\" or \"ip\", got \"", metric,
                  "\"");
  return metric == "ip" ? faiss::METRIC_INNER_PRODUCT : faiss::METRIC_L2;
}

std::unique_ptr<faiss::IndexIDMap2> MakeIdMap(int dim, const DatabaseOptions& options) {
  VPR_CHECK_USAGE(dim > 0, "a PlaceDatabase needs a positive descriptor dimension, got ", dim);
  std::unique_ptr<faiss::Index> index;
  try {
    index.reset(faiss::index_factory(dim, options.factory.c_str(), Metric(options.metric)));
  } catch (const faiss::FaissException& e) {
    throw UsageError("DatabaseOptions::factory '" + options.factory + "' is not a FAISS index for " +
                     std::to_string(dim) + "-d vectors (" + FaissReason(e) + "); e.g. Flat or HNSW32");
  }
  VPR_CHECK_USAGE(index->is_trained, "DatabaseOptions::factory '", options.factory,
                  "' needs training before anything is added; a growing database takes Flat or HNSW32");
  auto map = std::make_unique<faiss::IndexIDMap2>(index.release());
  map->own_fields = true;
  return map;
}

}  // namespace

struct PlaceDatabase::Impl {
  DatabaseOptions options;
  int dim = 0;
  std::unique_ptr<faiss::IndexIDMap2> index;
  std::map<int64_t, PlaceInfo> places;  // by id
  int64_t next_id = 0;
  mutable std::shared_mutex mutex;

  void CheckDescriptor(const std::vector<float>& d, const char* what) const {
    VPR_CHECK(static_cast<int>(d.size()) == dim, what, " has ", d.size(), " values but the database holds ", dim,
              "-d descriptors: describe with the model the database was built with");
    VPR_CHECK(std::all_of(d.begin(), d.end(), [](float v) { return std::isfinite(v); }), what,
              " holds NaN or infinite values: it has no nearest places");
  }

  bool Passes(int64_t id, const QueryFilter& filter, const std::unordered_set<int64_t>& excluded) const {
    if (excluded.count(id) || id >= next_id - filter.exclude_last) return false;
    return places.at(id).time < filter.before_time;
  }

  // Searches ever more candidates until k pass the filter or the database is exhausted.
  std::vector<Match> Query(const float* d, int k, const QueryFilter& filter) const {
    const int64_t n = static_cast<int64_t>(places.size());
    std::unordered_set<int64_t> excluded(filter.exclude_ids.begin(), filter.exclude_ids.end());
    const int64_t skipped = static_cast<int64_t>(excluded.size()) + std::max<int64_t>(0, filter.exclude_last);
    int64_t want = std::min<int64_t>(n, k + skipped);
    std::vector<Match> out;
    while (want > 0) {
      std::vector<float> distances(want);
      std::vector<faiss::Index::idx_t> ids(want);
      index->search(1, d, want, distances.data(), ids.data());
      out.clear();
      for (int64_t r = 0; r < want && static_cast<int>(out.size()) < k; ++r) {
        if (ids[r] < 0 || !Passes(ids[r], filter, excluded)) continue;
        out.push_back({ids[r], distances[r], places.at(ids[r])});
      }
      if (static_cast<int>(out.size()) == k || want == n) break;
      want = std::min(n, 2 * want);
    }
    return out;
  }
};

PlaceDatabase::PlaceDatabase(int dim, const DatabaseOptions& options) : impl_(std::make_unique<Impl>()) {
  impl_->options = options;
  impl_->dim = dim;
  impl_->index = MakeIdMap(dim, options);
}

PlaceDatabase::PlaceDatabase(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PlaceDatabase::~PlaceDatabase() = default;
PlaceDatabase::PlaceDatabase(PlaceDatabase&&) noexcept = default;
PlaceDatabase& PlaceDatabase::operator=(PlaceDatabase&&) noexcept = default;

int64_t PlaceDatabase::Add(const std::vector<float>& descriptor, const PlaceInfo& info) {
  std::unique_lock lock(impl_->mutex);
  impl_->CheckDescriptor(descriptor, "the descriptor to add");
  const faiss::Index::idx_t id = impl_->next_id;
  impl_->index->add_with_ids(1, descriptor.data(), &id);
  impl_->places.emplace(id, info);
  ++impl_->next_id;
  return id;
}

bool PlaceDatabase::Remove(int64_t id) {
  std::unique_lock lock(impl_->mutex);
  if (!impl_->places.count(id)) return false;
  try {
    faiss::IDSelectorArray selector(1, &id);
    impl_->index->remove_ids(selector);
  } catch (const faiss::FaissException& e) {
    VPR_THROW("cannot remove place ", id, ": the '", impl_->options.factory, "' index does not support removal (",
              FaissReason(e), "); use Flat, or leave it out with QueryFilter::exclude_ids");
  }
  impl_->places.erase(id);
  return true;
}

int64_t PlaceDatabase::size() const {
  std::shared_lock lock(impl_->mutex);
  return static_cast<int64_t>(impl_->places.size());
}

int PlaceDatabase::dim() const { return impl_->dim; }

const DatabaseOptions& PlaceDatabase::options() const { return impl_->options; }

int64_t PlaceDatabase::next_id() const {
  std::shared_lock lock(impl_->mutex);
  return impl_->next_id;
}

std::vector<int64_t> PlaceDatabase::Ids() const {
  std::shared_lock lock(impl_->mutex);
  std::vector<int64_t> ids;
  ids.reserve(impl_->places.size());
  for (const auto& entry : impl_->places) ids.push_back(entry.first);
  return ids;
}

std::vector<Match> PlaceDatabase::Query(const std::vector<float>& descriptor, int k, const QueryFilter& filter) const {
  return QueryMany({descriptor}, k, filter).front();
}

std::vector<std::vector<Match>> PlaceDatabase::QueryMany(const std::vector<std::vector<float>>& descriptors, int k,
                                                         const QueryFilter& filter) const {
  VPR_CHECK_USAGE(k > 0, "Query needs k > 0, got ", k);
  std::shared_lock lock(impl_->mutex);
  std::vector<std::vector<Match>> out;
  for (const auto& d : descriptors) {
    impl_->CheckDescriptor(d, "the query descriptor");
    out.push_back(impl_->Query(d.data(), k, filter));
  }
  return out;
}

PlaceInfo PlaceDatabase::Info(int64_t id) const {
  std::shared_lock lock(impl_->mutex);
  auto it = impl_->places.find(id);
  VPR_CHECK(it != impl_->places.end(), "the database has no place ", id, " (removed, or never added)");
  return it->second;
}

void PlaceDatabase::Save(const std::string& path) const { WriteFileAtomic(path, ToBytes()); }

PlaceDatabase PlaceDatabase::Load(const std::string& path) { return FromBytes(ReadFileBytes(path), "'" + path + "'"); }

std::string PlaceDatabase::ToBytes() const {
  std::shared_lock lock(impl_->mutex);
  nlohmann::json places = nlohmann::json::array();
  for (const auto& [id, p] : impl_->places) places.push_back({id, p.name, p.x, p.y, p.time});
  const std::string header = nlohmann::json{{"dim", impl_->dim},
                                            {"factory", impl_->options.factory},
                                            {"metric", impl_->options.metric},
                                            {"next_id", impl_->next_id},
                                            {"places", places}}
                                 .dump();
  faiss::VectorIOWriter index_bytes;
  faiss::write_index(impl_->index.get(), &index_bytes);
  std::string bytes = VersionedPrefix(kMagic, kFormatVersion, header);
  bytes.append(reinterpret_cast<const char*>(index_bytes.data.data()), index_bytes.data.size());
  return bytes;
}

PlaceDatabase PlaceDatabase::FromBytes(const std::string& bytes, const std::string& what) {
  size_t body = 0;
  const std::string header_text =
      ReadVersionedHeader(bytes, kMagic, kFormatVersion, what, "vpr place database", "PlaceDatabase::Save", &body);
  auto impl = std::make_unique<Impl>();
  try {
    const nlohmann::json header = nlohmann::json::parse(header_text);
    impl->dim = header.at("dim").get<int>();
    // NetVLAD gives at most K*D = 64 x 512 = 32768 values; a FAISS header may agree with
    // any absurd dim (with no vectors), which every query would then allocate.
    VPR_CHECK(impl->dim > 0 && impl->dim <= (1 << 20), what, " declares ", impl->dim,
              "-d descriptors (1 to 1048576 are possible): the file is corrupt");
    impl->options = {header.at("factory").get<std::string>(), header.at("metric").get<std::string>()};
    impl->next_id = header.at("next_id").get<int64_t>();
    for (const auto& p : header.at("places"))
      impl->places[p.at(0).get<int64_t>()] = {p.at(1).get<std::string>(), p.at(2).get<double>(), p.at(3).get<double>(),
                                               p.at(4).get<double>()};
  } catch (const nlohmann::json::exception& e) {
    VPR_THROW(what, " has a corrupt header: ", e.what());
  }
  faiss::VectorIOReader reader;
  reader.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(body), bytes.end());
  std::unique_ptr<faiss::Index> index = ReadUntrustedFaissIndex(
      [&] {
        reader.rp = 0;
        return faiss::read_index(&reader);
      },
      reader.data.size(), what + "'s FAISS index", "the file is corrupt");
  impl->index.reset(dynamic_cast<faiss::IndexIDMap2*>(index.get()));
  VPR_CHECK(impl->index, what, " holds a FAISS index without the database's ids");
  index.release();
  VPR_CHECK(impl->index->d == impl->dim && impl->index->ntotal == static_cast<int64_t>(impl->places.size()), what,
            ": the index (", impl->index->ntotal, " x ", impl->index->d, ") does not match its header (",
            impl->places.size(), " places of ", impl->dim, " dims)");
  return PlaceDatabase(std::move(impl));
}

}  // namespace vpr
