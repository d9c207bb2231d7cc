#include "vpr/app/demo.h"

#include <torch/torch.h>

#include <chrono>
#include <filesystem>

#include "vpr/app/cluster.h"
#include "vpr/app/descriptor_cache.h"
#include "vpr/app/eval_outputs.h"
#include "vpr/image/image_io.h"
#include "vpr/model/model_io.h"
#include "vpr/util/atomic_file.h"
#include "vpr/util/check.h"
#include "vpr/util/logging.h"

namespace vpr {
namespace fs = std::filesystem;

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

// The rendered route as the dataset `vpr eval` would load from dataset/positions.csv.
Dataset RouteDataset(const SyntheticDataset& route, const std::string& dir, double radius_m) {
  Dataset d;
  d.kind = "synthetic_route";
  d.root = dir;
  auto add = [&dir](const std::vector<SyntheticImage>& images, std::vector<std::string>* paths,
                    std::vector<std::string>* names, std::vector<double>* positions) {
    for (const SyntheticImage& image : images) {
      paths->push_back((fs::path(dir) / image.name).string());
      names->push_back(image.name);
      positions->push_back(image.easting);
      positions->push_back(image.northing);
    }
  };
  add(route.database, &d.database, &d.database_names, &d.database_positions);
  add(route.queries, &d.queries, &d.query_names, &d.query_positions);
  d.positive_radius = radius_m;
  d.position_unit = "m";
  d.info = {{"kind", d.kind}, {"dir", dir}, {"root", dir}, {"positives", "radius"}};
  d.Check();
  return d;
}

std::vector<at::Tensor> ToTensors(const std::vector<SyntheticImage>& images, std::vector<std::string>* names) {
  std::vector<at::Tensor> out;
  for (const auto& image : images) {
    out.push_back(MatToRgbTensor(image.bgr));
    names->push_back(image.name);
  }
  return out;
}

}  // namespace

DemoResult RunDemo(const DemoOptions& options) {
  options.Check();
  auto start = std::chrono::steady_clock::now();
  at::Device device = options.runtime.Apply();

  Log().info("demo: rendering {} places ({}x{})", options.data.num_places, options.data.width, options.data.height);
  SyntheticDataset dataset = MakeSyntheticRoute(options.data);
  const fs::path dataset_dir = fs::path(options.out_dir) / "dataset";
  WriteSyntheticDataset(dataset, dataset_dir.string());
  std::vector<std::string> db_names, q_names;
  std::vector<at::Tensor> db_images = ToTensors(dataset.database, &db_names);
  std::vector<at::Tensor> q_images = ToTensors(dataset.queries, &q_names);

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

  // Scored and written exactly as `vpr eval` scores and writes.
  const Dataset ground_truth = RouteDataset(dataset, dataset_dir.string(), options.positive_radius_m);
  EvalOptions evaluate;
  evaluate.out_dir = options.out_dir;
  evaluate.top_k = options.top_k;
  evaluate.recall_at.clear();
  for (int n : {1, 5, 10, 20})
    if (n <= options.top_k) evaluate.recall_at.push_back(n);
  evaluate.extract = extract;
  evaluate.model_file = (fs::path(options.out_dir) / "model.pth").string();
  DemoResult result;
  result.eval = EvaluateDescribed(model, ground_truth, evaluate, db, queries);
  WriteEvalOutputs(options.out_dir, ground_truth, result.eval, db, queries, evaluate.report);
  result.dataset = ground_truth;
  result.submission_path = (fs::path(options.out_dir) / "submission.json").string();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  Log().info("demo: done in {:.1f}s on {} threads; wrote {}, metrics.json, report.html, model.pth, database/queries "
             ".npy, dataset/", result.seconds, options.runtime.ResolvedThreads(), result.submission_path);
  return result;
}

}  // namespace vpr
