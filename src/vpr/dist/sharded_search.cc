#include "vpr/dist/sharded_search.h"

#include <nlohmann/json.hpp>

#include <cstring>

#include "vpr/util/check.h"
#include "vpr/util/fingerprint.h"
#include "vpr/util/logging.h"
#include "vpr/util/npy.h"

namespace vpr {
namespace {

template <typename T>
nlohmann::json Binary(const std::vector<T>& v) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(v.data());
  return nlohmann::json::binary(std::vector<uint8_t>(bytes, bytes + v.size() * sizeof(T)));
}

template <typename T>
std::vector<T> FromBinary(const nlohmann::json& j, size_t count, int rank) {
  const auto& bytes = j.get_binary();
  VPR_CHECK(bytes.size() == count * sizeof(T), "rank ", rank, " sent ", bytes.size(), " bytes of results for ", count,
            " entries");
  std::vector<T> v(count);
  std::memcpy(v.data(), bytes.data(), bytes.size());
  return v;
}

}  // namespace

KnnResult ShardedExactSearch(const std::string& database_npy, const float* queries, int64_t n_q, int64_t dim,
                             int64_t k, Collective& group) {
  NpyReader reader(database_npy);
  CheckDescriptorShape(reader.shape(), database_npy, "--database");
  VPR_CHECK(reader.cols() == dim, "'", database_npy, "' holds ", reader.cols(), "-d descriptors but the queries are ",
            dim, "-d: describe both with the same model");
  const auto [begin, end] = KnnShard(reader.rows(), group.rank(), group.size());
  Log().info("rank {} of {}: database rows {}-{} of {}", group.rank(), group.size(), begin, end, reader.rows());
  KnnResult mine = ExactKnnL2Npy(reader, begin, end, queries, n_q, k);
  // What every rank must agree on: the database's shape and the queries' bytes.
  Fingerprint inputs;
  inputs.Add(reader.rows()).Add(dim).Add(queries, static_cast<size_t>(n_q * dim) * sizeof(float));
  const nlohmann::json packed = {{"inputs", inputs.Hex()}, {"ids", Binary(mine.ids)}, {"distances", Binary(mine.distances)}};
  const std::vector<uint8_t> bytes = nlohmann::json::to_msgpack(packed);
  const std::vector<std::string> shares =
      group.AllGather(std::string(bytes.begin(), bytes.end()), "gathering the top-k lists");
  if (group.rank() != 0) return mine;
  std::vector<KnnResult> parts;
  for (size_t r = 0; r < shares.size(); ++r) {
    const nlohmann::json j = nlohmann::json::from_msgpack(shares[r]);
    VPR_CHECK(j.at("inputs").get<std::string>() == inputs.Hex(), "rank ", r, " searched another database or other "
              "queries than rank 0: every rank must get the same --database and --queries (the same files)");
    KnnResult part;
    part.num_queries = n_q;
    part.k = k;
    part.ids = FromBinary<int64_t>(j.at("ids"), static_cast<size_t>(n_q * k), static_cast<int>(r));
    part.distances = FromBinary<float>(j.at("distances"), static_cast<size_t>(n_q * k), static_cast<int>(r));
    parts.push_back(std::move(part));
  }
  return MergeKnn(parts, k);
}

}  // namespace vpr
