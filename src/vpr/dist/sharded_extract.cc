#include "vpr/dist/sharded_extract.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>

#include "vpr/util/check.h"
#include "vpr/util/fingerprint.h"
#include "vpr/util/logging.h"

namespace vpr {
namespace {

// One rank's share as MessagePack: descriptors as raw float bytes, paths, failures.
std::string Pack(const ExtractResult& r, const std::string& list_fingerprint) {
  const at::Tensor d = r.descriptors.to(at::kFloat).contiguous();
  const auto* bytes = reinterpret_cast<const uint8_t*>(d.data_ptr<float>());
  nlohmann::json failures = nlohmann::json::array();
  for (const ExtractFailure& f : r.failures) failures.push_back({f.path, f.reason});
  const nlohmann::json j = {{"rows", d.size(0)},
                            {"dim", r.dim},
                            {"descriptors", nlohmann::json::binary(std::vector<uint8_t>(bytes, bytes + d.numel() * 4))},
                            {"paths", r.paths},
                            {"indices", r.indices},
                            {"failures", failures},
                            {"seconds", r.seconds},
                            {"threads", r.threads},
                            {"precision", r.precision},
                            {"list", list_fingerprint}};
  const std::vector<uint8_t> packed = nlohmann::json::to_msgpack(j);
  return std::string(packed.begin(), packed.end());
}

void Append(const std::string& packed, const std::string& list_fingerprint, int rank, ExtractResult* all,
            std::vector<at::Tensor>* blocks) {
  const nlohmann::json j = nlohmann::json::from_msgpack(packed);
  VPR_CHECK(j.at("list").get<std::string>() == list_fingerprint, "rank ", rank,
            " was given another image list than rank 0: every rank must get the same --images (same files, same "
            "order); each takes its share of it");
  const int64_t rows = j.at("rows"), dim = j.at("dim");
  const auto& bytes = j.at("descriptors").get_binary();
  VPR_CHECK(static_cast<int64_t>(bytes.size()) == rows * dim * 4, "a rank sent ", bytes.size(),
            " descriptor bytes for ", rows, " x ", dim);
  if (rows > 0) {
    at::Tensor block = at::empty({rows, dim}, at::kFloat);
    std::memcpy(block.data_ptr<float>(), bytes.data(), bytes.size());
    blocks->push_back(block);
  }
  for (const auto& p : j.at("paths")) all->paths.push_back(p);
  for (const auto& i : j.at("indices")) all->indices.push_back(i);
  for (const auto& f : j.at("failures")) all->failures.push_back({f.at(0), f.at(1)});
  if (dim > 0) all->dim = dim;
  all->seconds = std::max(all->seconds, j.at("seconds").get<double>());
}

}  // namespace

ExtractResult ShardedExtract(VprModel& model, const std::vector<std::string>& paths, const ExtractOptions& options,
                             ProcessGroup& group) {
  const auto [begin, end] = Shard(static_cast<int64_t>(paths.size()), group.rank(), group.size());
  Log().info("rank {} of {}: images {}-{} of {}", group.rank(), group.size(), begin, end, paths.size());
  const std::vector<std::string> mine(paths.begin() + begin, paths.begin() + end);
  ExtractResult result;  // a rank with no images (fewer images than ranks) still joins in
  result.descriptors = at::empty({0, 0}, at::kFloat);
  if (!mine.empty()) result = ExtractDescriptors(model, mine, options);
  for (int64_t& i : result.indices) i += begin;  // positions in `paths`, not in the share
  Fingerprint list;
  for (const std::string& p : paths) list.Add(p);
  const std::vector<std::string> shares = group.AllGather(Pack(result, list.Hex()), "gathering the descriptors");
  if (group.rank() != 0) return result;
  ExtractResult all;
  all.threads = result.threads;
  all.precision = result.precision;
  std::vector<at::Tensor> blocks;
  for (size_t r = 0; r < shares.size(); ++r) Append(shares[r], list.Hex(), static_cast<int>(r), &all, &blocks);
  all.descriptors = blocks.empty() ? at::empty({0, all.dim}, at::kFloat) : at::cat(blocks, 0);
  return all;
}

}  // namespace vpr
