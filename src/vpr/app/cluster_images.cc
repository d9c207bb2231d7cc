#include "vpr/app/cluster_images.h"

#include <chrono>

#include "vpr/model/model_io.h"
#include "vpr/util/check.h"
#include "vpr/util/logging.h"
#include "vpr/util/npy.h"

namespace vpr {

void ClusterImagesOptions::Check() const {
  cluster.Check();
  resize.Check();
  runtime.Check();
}

nlohmann::json ClusterImagesResult::Info(const ClusterImagesOptions& options) const {
  nlohmann::json failed = nlohmann::json::array();
  for (const auto& f : failures) failed.push_back({{"path", f.path}, {"reason", f.reason}});
  return {{"source", "vpr cluster"},
          {"num_samples", num_samples},
          {"images", images_used},
          {"failed", failures.size()},
          {"failures", failed},
          {"centroids", centroids},
          {"alpha", alpha},
          {"seed", options.cluster.kmeans.seed},
          {"iterations", options.cluster.kmeans.iterations},
          {"samples_per_image", options.cluster.samples_per_image},
          {"max_samples", options.cluster.max_samples},
          {"resize", ResizeRecord(options.resize)},
          {"seconds", seconds}};
}

at::Tensor ReadCentroids(const std::string& path, const VprModel& model) {
  NpyMatrix m = ReadNpy(path);
  const auto& o = model->options().netvlad;
  std::string shape;
  for (int64_t s : m.shape) shape += (shape.empty() ? "" : " x ") + std::to_string(s);
  VPR_CHECK(m.shape.size() == 2 && m.rows == o.num_clusters && m.cols == o.dim, "centroids file '", path,
            "' must be K x D = ", o.num_clusters, " x ", o.dim, " for this model, got ", shape,
            ": pass --clusters K to match its rows, or centroids of this backbone's ", o.dim, "-d features");
  const int64_t bad = FirstNonFiniteRow(m.data.data(), m.rows, m.cols);
  VPR_CHECK(bad < 0, "centroids file '", path, "': centroid ", bad, " holds NaN or infinite values");
  return at::from_blob(m.data.data(), {m.rows, m.cols}, at::kFloat).clone();
}

ClusterImagesResult ClusterImages(VprModel& model, const std::vector<std::string>& paths,
                                  const ClusterImagesOptions& options) {
  options.Check();
  VPR_CHECK(model->options().IsNetVLAD(), "vpr cluster initialises NetVLAD centroids, but the model pools with '",
            model->options().pooling, "': drop --pooling (or pass --pooling netvlad)");
  auto start = std::chrono::steady_clock::now();
  ClusterImagesResult result;
  // Read the centroids first: a wrong file should fail before minutes of sampling.
  at::Tensor given = options.centroids_path.empty() ? at::Tensor() : ReadCentroids(options.centroids_path, model);
  ImageLoader load = [&](size_t i) {
    try {
      return LoadResizedImage(paths[i], options.resize);
    } catch (const std::exception& e) {
      Log().warn("skipping '{}': {}", paths[i], e.what());
      result.failures.push_back({paths[i], e.what()});
      return at::Tensor();
    }
  };
  const at::Device device = options.runtime.Apply();
  const Precision precision = options.runtime.ResolvedPrecision(device);
  model->to(device);
  model->PrepareInference(precision);
  at::Tensor samples = SampleLocalFeatures(model, paths.size(), load, options.cluster, device);
  model->ReleaseInference();
  model->to(at::kCPU);
  result.threads = options.runtime.ResolvedThreads();
  result.precision = PrecisionName(precision);
  result.num_samples = samples.size(0);
  result.images_used = static_cast<int64_t>(paths.size() - result.failures.size());
  if (given.defined()) {
    model->pool->InitFromClusters(given, samples);
    result.centroids = options.centroids_path;
    Log().info("NetVLAD centroids from '{}'; alpha {:.2f} from {} local features", options.centroids_path,
               model->pool->options().alpha, result.num_samples);
  } else {
    InitNetVLADFromSamples(model, samples, options.cluster);
    result.centroids = "k-means";
  }
  result.alpha = model->pool->options().alpha;
  if (!result.failures.empty()) {
    Log().warn("{} of {} images could not be read and were skipped:", result.failures.size(), paths.size());
    for (const auto& f : result.failures) Log().warn("  {}: {}", f.path, f.reason);
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace vpr
