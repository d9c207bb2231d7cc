#include "vpr/app/descriptor_cache.h"

#include <cstdlib>
#include <filesystem>

#include "vpr/util/atomic_file.h"
#include "vpr/util/check.h"
#include "vpr/util/fingerprint.h"
#include "vpr/util/logging.h"
#include "vpr/util/npy.h"

namespace vpr {
namespace fs = std::filesystem;

std::string ModelFingerprint(VprModel& model) {
  Fingerprint f;
  f.Add(model->options().ToJson().dump());
  auto add = [&f](const std::string& name, const at::Tensor& t) {
    at::Tensor c = t.detach().to(at::kCPU).contiguous();
    f.Add(name).Add(std::string(c.dtype().name())).Add(c.numel());
    f.Add(c.data_ptr(), c.numel() * c.element_size());
  };
  for (const auto& p : model->named_parameters()) add(p.key(), p.value());
  for (const auto& b : model->named_buffers()) add(b.key(), b.value());
  return f.Hex();
}

std::string DefaultCacheDir() {
  if (const char* dir = std::getenv("VPR_CACHE_DIR"); dir && *dir) return dir;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return (fs::path(xdg) / "vpr").string();
  if (const char* home = std::getenv("HOME"); home && *home) return (fs::path(home) / ".cache" / "vpr").string();
  return "";
}

namespace {

std::string CacheKey(const std::string& model_fingerprint, const std::vector<std::string>& paths,
                     const ExtractOptions& options) {
  Fingerprint f;
  f.Add(int64_t{4});  // cache format version (3: entries carry a content checksum; 4: and input indices)
  f.Add(model_fingerprint).Add(FingerprintFiles(paths));
  f.Add(int64_t{options.resize.height}).Add(int64_t{options.resize.width}).Add(int64_t{options.resize.max_side});
  f.Add(int64_t{options.resize.reduced_decode && options.resize.enabled()});
  // CPU and GPU kernels round differently, and so do precisions; the thread count does
  // not change results.
  const at::Device device(options.runtime.device);
  f.Add(std::string(device.is_cuda() ? "cuda" : "cpu"));
  f.Add(std::string(PrecisionName(options.runtime.ResolvedPrecision(device))));
  return f.Hex();
}

std::string ContentFingerprint(const at::Tensor& descriptors) {
  at::Tensor d = descriptors.to(at::kFloat).contiguous();
  return Fingerprint().Add(d.size(0)).Add(d.size(1)).Add(d.data_ptr(), d.numel() * sizeof(float)).Hex();
}

// A complete, untampered entry of paths.size() images and `dim`-d descriptors, or false
// (with a warning where an entry is there but wrong).
bool Load(const fs::path& base, const std::vector<std::string>& paths, int64_t dim, ExtractResult* out) {
  fs::path meta_path = base.string() + ".json";
  if (!fs::exists(meta_path)) return false;
  try {
    nlohmann::json meta = nlohmann::json::parse(ReadFileBytes(meta_path.string()));
    ExtractResult r;
    r.paths = meta.at("paths").get<std::vector<std::string>>();
    r.indices = meta.at("indices").get<std::vector<int64_t>>();
    VPR_CHECK(r.indices.size() == r.paths.size(), "it lists ", r.paths.size(), " images but ", r.indices.size(),
              " input indices");
    for (size_t i = 0; i < r.indices.size(); ++i)
      VPR_CHECK(r.indices[i] >= 0 && r.indices[i] < static_cast<int64_t>(paths.size()) &&
                    (i == 0 || r.indices[i] > r.indices[i - 1]) && paths[r.indices[i]] == r.paths[i],
                "its row ", i, " is not the input image it names");
    for (const auto& f : meta.at("failures")) r.failures.push_back({f.at("path"), f.at("reason")});
    r.dim = meta.at("dim").get<int64_t>();
    VPR_CHECK(r.total() == static_cast<int64_t>(paths.size()) && r.dim == dim, "it lists ", r.total(), " images of ",
              r.dim, "-d descriptors, not ", paths.size(), " of ", dim, "-d");
    r.threads = meta.value("threads", 0);
    r.precision = meta.value("precision", std::string("fp32"));
    if (!r.paths.empty()) {
      NpyMatrix m = ReadNpy(base.string() + ".npy");
      VPR_CHECK(m.rows == static_cast<int64_t>(r.paths.size()) && m.cols == r.dim, "its .npy is ", m.rows, " x ",
                m.cols, ", not ", r.paths.size(), " x ", r.dim);
      r.descriptors = at::from_blob(m.data.data(), {m.rows, m.cols}, at::kFloat).clone();
      VPR_CHECK(meta.value("content", std::string()) == ContentFingerprint(r.descriptors),
                "its descriptors do not match the checksum it was written with (changed or corrupt on disk)");
    } else {
      r.descriptors = at::empty({0, r.dim}, at::kFloat);
    }
    *out = std::move(r);
    return true;
  } catch (const std::exception& e) {
    Log().warn("descriptor cache entry {} is not used: {}; extracting again", base.string(), e.what());
    return false;
  }
}

void Store(const fs::path& base, const ExtractResult& r) {
  nlohmann::json meta = r.Summary();
  meta["format_version"] = 1;
  meta["paths"] = r.paths;
  meta["indices"] = r.indices;
  meta["content"] = ContentFingerprint(r.descriptors);
  fs::create_directories(base.parent_path());
  if (!r.paths.empty()) WriteDescriptors(base.string() + ".npy", r);
  // The .json last: its presence marks a complete entry.
  WriteFileAtomic(base.string() + ".json", meta.dump() + "\n");
}

}  // namespace

ExtractResult DescriptorCache::Extract(VprModel& model, const std::string& model_fingerprint,
                                       const std::vector<std::string>& paths, const ExtractOptions& options,
                                       bool* hit) const {
  *hit = false;
  if (dir_.empty()) return ExtractDescriptors(model, paths, options);
  fs::path base = fs::path(dir_) / "descriptors" / CacheKey(model_fingerprint, paths, options);
  ExtractResult result;
  if (Load(base, paths, model->options().DescriptorDim(), &result)) {
    *hit = true;
    Log().info("{}: {} descriptors from the cache ({}.npy)", options.label, result.paths.size(), base.string());
    return result;
  }
  result = ExtractDescriptors(model, paths, options);
  try {
    Store(base, result);
  } catch (const std::exception& e) {
    Log().warn("could not write the descriptor cache under {}: {}", dir_, e.what());
  }
  return result;
}

}  // namespace vpr
