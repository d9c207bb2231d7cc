#include "vpr/app/demo.h"

#include <torch/torch.h>

#include <chrono>
#include <filesystem>

#include "vpr/app/cluster.h"
#include "vpr/eval/recall.h"
#include "vpr/image/image_io.h"
#include "vpr/model/model_io.h"
#include "vpr/util/atomic_file.h"
#include "vpr/util/check.h"
#include "vpr/util/logging.h"

namespace vpr {

void DemoOptions::Check() const {
  VPR_CHECK_USAGE(!out_dir.empty(), "--out must name a folder");
  data.Check();
  VPR_CHECK_USAGE(clusters > 0, "--clusters must be positive, got ", clusters);
  VPR_CHECK_USAGE(top_k > 0 && top_k <= data.num_places, "--top-k must be between 1 and the number of places (",
            data.num_places, "), got ", top_k);
  VPR_CHECK_USAGE(positive_radius_m >= 0, "the positive radius must be non-negative");
  runtime.Check();
}

namespace {

std::vector<at::Tensor> ToTensors(const std::vector<SyntheticImage>& images, std::vector<std::string>* names,
                                  std::vector<double>* positions) {
  std::vector<at::Tensor> out;
  for (const auto& image : images) {
    out.push_back(MatToRgbTensor(image.bgr));
    names->push_back(image.name);
    positions->push_back(image.easting);
    positions->push_back(image.northing);
  }
  return out;
}

nlohmann::json Submission(const KnnResult& knn) {
  nlohmann::json queries = nlohmann::json::array();
  for (int64_t q = 0; q < knn.num_queries; ++q) {
    std::vector<int64_t> ids(knn.ids.begin() + q * knn.k, knn.ids.begin() + (q + 1) * knn.k);
    queries.push_back({{"id", q}, {"positive", ids}});
  }
  return {{"Query", queries}};
}

void PrintRecallTable(const std::map<int, double>& recall, int64_t num_queries) {
  std::string header = "  ", values = "  ";
  for (const auto& [n, r] : recall) {
    header += fmt::format("{:>8}", fmt::format("R@{}", n));
    values += fmt::format("{:>8.1f}", 100.0 * r);
  }
  fmt::print("\nRecall@N on {} synthetic queries (percent):\n{}\n{}\n\n", num_queries, header, values);
}

}  // namespace

DemoResult RunDemo(const DemoOptions& options) {
  options.Check();
  namespace fs = std::filesystem;
  auto start = std::chrono::steady_clock::now();
  at::Device device = options.runtime.Apply();

  Log().info("demo: rendering {} places ({}x{})", options.data.num_places, options.data.width, options.data.height);
  SyntheticDataset dataset = MakeSyntheticRoute(options.data);
  WriteSyntheticDataset(dataset, (fs::path(options.out_dir) / "dataset").string());
  std::vector<std::string> db_names, q_names;
  std::vector<double> db_pos, q_pos;
  std::vector<at::Tensor> db_images = ToTensors(dataset.database, &db_names, &db_pos);
  std::vector<at::Tensor> q_images = ToTensors(dataset.queries, &q_names, &q_pos);

  torch::manual_seed(options.seed);
  ModelOptions model_options;
  model_options.backbone.arch = options.arch;
  model_options.backbone.cut = options.cut;
  model_options.netvlad.num_clusters = options.clusters;
  VprModel model(model_options);
  Log().info("demo: untrained {}", model->options().Describe());

  ClusterOptions cluster;
  cluster.samples_per_image = options.samples_per_image;
  cluster.kmeans.seed = options.seed;
  InitNetVLADFromSamples(model, SampleLocalFeatures(model, db_images, cluster, device), cluster);
  SaveModel((fs::path(options.out_dir) / "model.pth").string(), model, {{"source", "vpr demo"}});

  ExtractOptions extract;
  extract.runtime = options.runtime;
  extract.label = "demo: database";
  ExtractResult db = ExtractDescriptors(model, db_images, db_names, extract);
  extract.label = "demo: queries";
  ExtractResult queries = ExtractDescriptors(model, q_images, q_names, extract);
  WriteDescriptors((fs::path(options.out_dir) / "database.npy").string(), db);
  WriteDescriptors((fs::path(options.out_dir) / "queries.npy").string(), queries);

  at::Tensor d = db.descriptors.contiguous(), q = queries.descriptors.contiguous();
  KnnResult knn = ExactKnnL2(d.data_ptr<float>(), d.size(0), q.data_ptr<float>(), q.size(0), d.size(1),
                             options.top_k);
  auto positives = PositivesWithinRadius(db_pos, q_pos, options.positive_radius_m);
  std::vector<int> ns;
  for (int n : {1, 5, 10, 20})
    if (n <= options.top_k) ns.push_back(n);
  DemoResult result;
  result.recall = RecallAtN(knn, positives, ns);
  PrintRecallTable(result.recall, knn.num_queries);

  result.submission_path = (fs::path(options.out_dir) / "submission.json").string();
  WriteFileAtomic(result.submission_path, Submission(knn).dump() + "\n");
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  nlohmann::json metrics = {{"format_version", 1},
                            {"recall_at", nlohmann::json::object()},
                            {"num_database", d.size(0)},
                            {"num_queries", q.size(0)},
                            {"descriptor_dim", d.size(1)},
                            {"positive_radius_m", options.positive_radius_m},
                            {"model", model->options().ToJson()},
                            {"seconds", result.seconds}};
  for (const auto& [n, r] : result.recall) metrics["recall_at"][std::to_string(n)] = r;
  WriteFileAtomic((fs::path(options.out_dir) / "metrics.json").string(), metrics.dump(2) + "\n");
  Log().info("demo: done in {:.1f}s on {} threads; wrote {}, metrics.json, model.pth, database/queries .npy, dataset/",
             result.seconds, options.runtime.ResolvedThreads(), result.submission_path);
  return result;
}

}  // namespace vpr
