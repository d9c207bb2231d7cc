#include "vpr/cli/commands.h"

#include <iostream>

#include "vpr/app/cluster_images.h"
#include "vpr/app/demo.h"
#include "vpr/cli/eval_summary.h"
#include "vpr/app/eval.h"
#include "vpr/app/extract.h"
#include "vpr/app/version_report.h"
#include "vpr/cli/flags.h"
#include "vpr/cli/parse_flags.h"
#include "vpr/dist/sharded_extract.h"
#include "vpr/image/image_list.h"
#include "vpr/util/atomic_file.h"
#include "vpr/util/logging.h"
#include "vpr/util/npy.h"

namespace vpr {

const std::vector<Command>& Commands() {
  static const std::vector<Command> kCommands = {
      {"cluster", "initialise a model's NetVLAD centroids by k-means on local features of images", RunClusterCommand},
      {"demo", "run the whole pipeline on a synthetic route the project renders itself", RunDemoCommand},
      {"doctor", "check a dataset: files, counts, units, positives per query (exit 1 when unusable)", RunDoctorCommand},
      {"eval", "recall@N of a model on a dataset, with predictions, submission and hloc pairs", RunEvalCommand},
      {"extract", "compute NetVLAD descriptors of images into a .npy file", RunExtractCommand},
      {"train", "fine-tune a model: triplet loss with hard-negative mining, validation, checkpoints, resume", RunTrainCommand},
      {"loops", "detect loop closures frame by frame over image sequences; precision, recall at 100% precision",
       RunLoopsCommand},
      {"index", "build a FAISS index (Flat, IVF, PQ, HNSW...) over a descriptor .npy file", RunIndexCommand},
      {"pca", "fit PCA-whitening on a model's descriptors and write the checkpoint with the WPCA layer", RunPcaCommand},
      {"version", "versions of vpr and its libraries, the BLAS loaded, threads, CPU features", RunVersionCommand},
      {"serve", "an HTTP localisation service with a web viewer: send a photo, get its nearest places", RunServeCommand},
      {"search", "search a FAISS index with query descriptors; top-k ids, names and distances as JSON", RunSearchCommand},
  };
  return kCommands;
}

int RunExtractCommand(int argc, char** argv) {
  CLI::App app("Compute global descriptors of images.\n"
               "Writes OUT (float32 N x dim .npy) and OUT with .npy replaced by .names.txt: the image\n"
               "paths, one per line, line i = row i. Unreadable images are skipped and listed.",
               "vpr extract");
  std::string model_path, out;
  std::vector<std::string> images;
  bool json = false;
  ModelFlagBinding model_flags;
  ImageFlagBinding image_flags;
  ExtractOptions options;
  app.add_option("--model", model_path,
                 "checkpoint (.pth/.pth.tar, zip or legacy), pytorch-NetVlad run folder, or torchvision backbone file")
      ->required();
  app.add_option("--images", images, "folders (recursive, sorted), images, or text files listing images")
      ->required();
  app.add_option("--out", out, "output .npy file")->required();
  app.add_option("--batch-size", options.batch_size, "images per forward pass (same-size images only)")
      ->capture_default_str();
  app.add_option("--decode-threads", options.decode_threads,
                 "0 = the compute threads decode, between forward passes; N = N threads decode ahead of the model")
      ->capture_default_str();
  app.add_flag("--json", json, "print a machine-readable summary on stdout");
  model_flags.Bind(app);
  image_flags.Bind(app);
  BindRuntimeFlags(app, options.runtime);
  DistFlagBinding dist_flags;
  dist_flags.Bind(app);
  VPR_PARSE_FLAGS(app, argc, argv);

  const DistOptions dist = dist_flags.Resolve();
  options.resize = image_flags.Resolve();
  options.Check();
  const ModelFlags flags = model_flags.Resolve();
  CheckWritable(out, "--out");  // before minutes of work, not after
  CheckWritable(NamesPathFor(out), "--out");
  std::vector<std::string> paths = CollectImages(images);
  LoadedModel loaded = LoadModel(model_path, flags);
  image_flags.AdoptCheckpointSize(loaded, &options.resize);
  Log().info("extracting {} images", paths.size());
  ExtractResult result;
  if (dist.enabled()) {
    // Every rank describes its share; rank 0 writes the files one process would.
    ProcessGroup group(dist);
    result = ShardedExtract(loaded.model, paths, options, group);
    if (group.rank() != 0) {
      Log().info("rank {}: described {} images ({} failed); rank 0 writes {}", group.rank(), result.paths.size(),
                 result.failures.size(), out);
      return 0;
    }
    WriteDescriptors(out, result);
  } else {
    result = ExtractToNpy(loaded.model, paths, options, out);
  }
  Log().info("wrote {} descriptors ({}-d) to {} and names to {}; {} failed; {:.2f} images/s, {} threads, {}",
             result.paths.size(), result.dim, out, NamesPathFor(out), result.failures.size(),
             result.seconds > 0 ? result.paths.size() / result.seconds : 0.0, result.threads, result.precision);
  if (json) {
    nlohmann::json summary = result.Summary();
    summary["out"] = out;
    summary["names"] = NamesPathFor(out);
    summary["model"] = loaded.model->options().ToJson();
    std::cout << summary.dump(2) << std::endl;
  }
  return result.paths.empty() ? 1 : 0;
}

int RunVersionCommand(int argc, char** argv) {
  CLI::App app("Print the versions of vpr, LibTorch, oneDNN, FAISS and OpenCV, the BLAS library actually loaded\n"
               "(by its path), the thread count and the CPU features that matter (AVX2, AVX-512, AVX512_BF16, AMX).",
               "vpr version");
  RuntimeOptions runtime;
  bool json = false;
  app.add_option("--threads", runtime.threads, "threads to report as used (0 = every usable CPU)")->capture_default_str();
  app.add_flag("--json", json, "print the same as JSON");
  VPR_PARSE_FLAGS(app, argc, argv);
  nlohmann::json report = VersionReport(VPR_VERSION, runtime);
  std::cout << (json ? report.dump(2) + "\n" : FormatVersionReport(report));
  return 0;
}

int RunDemoCommand(int argc, char** argv) {
  CLI::App app("Render a synthetic street route (database by day; queries on an overcast late afternoon, or at\n"
               "dusk with --query-dusk 1, with viewpoint change, blur, noise and passers-by), build an untrained\n"
               "network, initialise NetVLAD by k-means, extract, search the top 20 with FAISS, print\n"
               "recall@1/5/10/20 and write OUT/submission.json.",
               "vpr demo");
  DemoOptions options;
  app.add_option("--out", options.out_dir, "output folder")->capture_default_str();
  app.add_option("--places", options.data.num_places, "places along the route")->capture_default_str();
  app.add_option("--backbone", options.arch, "untrained backbone: vgg16 | mobilenet_v2 | resnet18 | resnet50")
      ->capture_default_str();
  app.add_option("--cut", options.cut, "encoder cut (0 = the backbone's default)")->capture_default_str();
  app.add_option("--clusters", options.clusters, "NetVLAD clusters")->capture_default_str();
  app.add_option("--seed", options.seed, "seed of the weights and sampling")->capture_default_str();
  app.add_option("--samples-per-image", options.samples_per_image, "local features per database image for k-means")
      ->capture_default_str();
  app.add_option("--height", options.data.height, "image height")->capture_default_str();
  app.add_option("--width", options.data.width, "image width")->capture_default_str();
  app.add_option("--data-seed", options.data.seed, "seed of the rendered route")->capture_default_str();
  app.add_option("--query-dusk", options.data.query_dusk, "queries at dusk (1) or on an overcast afternoon (0)")
      ->capture_default_str();
  app.add_option("--query-brightness", options.data.query_brightness, "query brightness relative to the database")
      ->capture_default_str();
  app.add_option("--query-shift", options.data.query_max_shift_px, "largest viewpoint shift of a query, pixels")
      ->capture_default_str();
  app.add_option("--query-zoom", options.data.query_max_zoom, "largest extra zoom of a query")->capture_default_str();
  app.add_option("--query-noise", options.data.query_noise_std, "query pixel noise (0-255 scale)")
      ->capture_default_str();
  app.add_option("--query-blur", options.data.query_blur_sigma, "query blur sigma, pixels")->capture_default_str();
  app.add_option("--query-transients", options.data.query_transient_probability,
                 "probability of a car / a pedestrian in a query")
      ->capture_default_str();
  BindRuntimeFlags(app, options.runtime);
  VPR_PARSE_FLAGS(app, argc, argv);
  PrintEvalSummary(RunDemo(options).eval);
  return 0;
}

int RunClusterCommand(int argc, char** argv) {
  CLI::App app("Initialise NetVLAD from images, as pytorch-NetVlad's cluster step: sample L2-normalised local\n"
               "features image by image, k-means them (seeded: the same seed gives the same checkpoint), set\n"
               "the centroids and the assignment (alpha from the centroids and samples), and write OUT, a vpr\n"
               "checkpoint (PyTorch loads it). With --centroids FILE.npy (K x D float32) those centroids are\n"
               "used instead of k-means; local features are still sampled, to derive alpha.",
               "vpr cluster");
  std::string model_path, out;
  std::vector<std::string> images;
  ModelFlagBinding model_flags;
  ImageFlagBinding image_flags;
  ClusterImagesOptions options;
  app.add_option("--model", model_path,
                 "backbone file (torchvision state_dict) or checkpoint whose NetVLAD to re-initialise")
      ->required();
  app.add_option("--images", images, "folders (recursive, sorted), images, or text files listing images")
      ->required();
  app.add_option("--out", out, "output checkpoint (.pth)")->required();
  app.add_option("--samples-per-image", options.cluster.samples_per_image, "local features sampled per image")
      ->capture_default_str();
  app.add_option("--max-samples", options.cluster.max_samples,
                 "upper bound on all samples (fewer per image when there are many images)")
      ->capture_default_str();
  app.add_option("--iterations", options.cluster.kmeans.iterations, "k-means iterations")->capture_default_str();
  app.add_option("--centroids", options.centroids_path,
                 "K x D float32 .npy of centroids to use instead of k-means (K defaults to its rows)");
  // --seed (from the model flags) seeds the sampling and k-means here.
  model_flags.flags.seed = options.cluster.kmeans.seed;
  model_flags.Bind(app);
  app.get_option("--seed")->description("seed of the feature sampling and k-means");
  image_flags.Bind(app);
  BindRuntimeFlags(app, options.runtime);
  VPR_PARSE_FLAGS(app, argc, argv);

  options.resize = image_flags.Resolve();
  options.cluster.kmeans.seed = model_flags.flags.seed;
  options.Check();
  CheckWritable(out, "--out");
  ModelFlags flags = model_flags.Resolve();
  if (!options.centroids_path.empty() && flags.clusters == 0) flags.clusters = ReadNpy(options.centroids_path).rows;
  std::vector<std::string> paths = CollectImages(images);
  LoadedModel loaded = LoadModel(model_path, flags);
  image_flags.AdoptCheckpointSize(loaded, &options.resize);
  Log().info("cluster: {} images, up to {} local features each", paths.size(), options.cluster.samples_per_image);
  ClusterImagesResult result = ClusterImages(loaded.model, paths, options);
  nlohmann::json info = result.Info(options);
  info["model_file"] = loaded.path;
  SaveModel(out, loaded.model, info);
  Log().info("wrote {} ({}; {} samples from {} images, {} skipped) in {:.1f}s, {} threads, {}", out,
             loaded.model->options().Describe(), result.num_samples, result.images_used, result.failures.size(),
             result.seconds, result.threads, result.precision);
  return 0;
}

}  // namespace vpr
