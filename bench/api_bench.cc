// Per-frame cost through the public API (include/vpr/vpr.h), what a robot pays for each new
// camera frame: PlaceRecognizer::Describe(cv::Mat) + PlaceDatabase::Add + Query(k=5), on a
// database pre-filled with 10,000 and with 100,000 places; p50/p99 of each stage and of the
// total. In the same run, the library's batch extraction path as `vpr extract` runs it
// (ExtractDescriptors over the JPEG files: decode, resize, network), and the same path over
// images already decoded, so that the ratio API-per-frame / batch-per-image (of p50s: the
// batch path's per-image time is the gap between consecutive descriptors) shows what the
// API adds (the Mat conversion, the per-call options and the std::vector copy).
//
// Model: MobileNetV2 features[:17] with the ImageNet weights of ../shared, NetVLAD K=64
// (10240-d) + a WPCA layer to --dim (4096) with a seeded random projection (only its cost
// matters here), saved as a checkpoint the recognizer loads; 240x320 fp32 as
// vpr_bench_pipeline. 100,000 x 4096 floats = 1.6 GB (10240-d would be 4.1 GB). Frames:
// the Gardens Point day_right JPEGs of ../shared, decoded once with cv::imread (the API's
// input); the database is filled with random L2-normalised descriptors.
// Skips with a message when the images or the weights are absent.
//
//   build/bench/vpr_bench_api [--frames 100] [--threads 2] [--sizes 10000,100000] [--dim 4096]
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <opencv2/imgcodecs.hpp>

#include "bench_model.h"
#include "bench_util.h"
#include "vpr/app/extract.h"
#include "vpr/model/wpca_layer.h"
#include "vpr/image/image_io.h"
#include "vpr/image/image_list.h"
#include "vpr/model/model_io.h"
#include "vpr/test_config.h"
#include "vpr/vpr.h"

namespace {
namespace fs = std::filesystem;

struct Config {
  int frames = 100;
  int threads = 2;
  int height = 240;
  int width = 320;
  int clusters = 64;
  int dim = 4096;  // WPCA output; 0 = none (10240-d)
  std::vector<int> sizes = {10000, 100000};
  int k = 5;
};

const fs::path kShared(VPR_SHARED_DIR);
const std::string kMobileNetWeights = (kShared / "data/weights/mobilenet_v2_imagenet.pth").string();
const fs::path kFrames = kShared / "data/gardens_point/day_right";

using Clock = std::chrono::steady_clock;
double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Setup, not measured: the benchmark's checkpoint (see the top of the file).
std::string MakeCheckpoint(const Config& c, const fs::path& scratch) {
  return vpr_bench::MakeBenchCheckpoint(kMobileNetWeights, c.clusters, c.dim,
                                        (scratch / "mobilenet_v2_k64_wpca.pth").string());
}

// Per-stage samples (ms) of one case, printed as p50/p99 rows.
struct Stages {
  std::vector<std::string> names;
  std::vector<std::vector<double>> ms;  // [stage][frame]
  explicit Stages(std::vector<std::string> stage_names)
      : names(std::move(stage_names)), ms(names.size() + 1) {}  // + total
  void Record(const std::vector<double>& frame) {
    double total = 0.0;
    for (size_t s = 0; s < frame.size(); ++s) ms[s].push_back(frame[s]), total += frame[s];
    ms.back().push_back(total);
  }
  double MeanTotal() const { return vpr_bench::Mean(ms.back()); }
  double MeanOf(size_t s) const { return vpr_bench::Mean(ms[s]); }
  double P50Of(size_t s) const { return vpr_bench::Percentile(ms[s], 0.5); }
  double P50Total() const { return vpr_bench::Percentile(ms.back(), 0.5); }
  void Print(const std::string& label) const {
    for (size_t s = 0; s <= names.size(); ++s)
      std::printf("  %-26s %-10s %9.3f %9.3f %9.3f\n", s == 0 ? label.c_str() : "",
                  s < names.size() ? names[s].c_str() : "total", vpr_bench::Percentile(ms[s], 0.5),
                  vpr_bench::Percentile(ms[s], 0.99), vpr_bench::Mean(ms[s]));
  }
};

// Case: recognise-and-map per frame (Describe, Add, Query k) on a database of `n` places.
// Only the public API is called in the timed loop.
Stages PerFrameRecognition(const vpr::PlaceRecognizer& rec, const std::vector<cv::Mat>& frames, int n,
                           const Config& c) {
  vpr::PlaceDatabase db = vpr_bench::FilledDatabase(rec.dim(), n);
  Stages stages({"Describe", "Add", "Query"});
  for (int i = 0; i < c.frames; ++i) {
    const cv::Mat& frame = frames[static_cast<size_t>(i) % frames.size()];
    auto t0 = Clock::now();
    std::vector<float> d = rec.Describe(frame);
    const double describe = MsSince(t0);
    auto t1 = Clock::now();
    db.Add(d, {"frame " + std::to_string(i), 0.0, 0.0, static_cast<double>(n + i)});
    const double add = MsSince(t1);
    auto t2 = Clock::now();
    std::vector<vpr::Match> matches = db.Query(d, c.k);
    const double query = MsSince(t2);
    if (matches.size() != static_cast<size_t>(c.k)) std::fprintf(stderr, "query gave %zu matches\n", matches.size());
    stages.Record({describe, add, query});
  }
  return stages;
}

// The library's batch path (batch 1), ms per image: the time between consecutive images'
// descriptors handed out, over `paths` (decoded by the extractor) or `images` when given.
std::vector<double> BatchMsPerImage(vpr::VprModel& model, const std::vector<std::string>& paths,
                                    const std::vector<at::Tensor>& images, const Config& c,
                                    double* first_ms = nullptr) {
  vpr::ExtractOptions options;
  options.log_progress = false;
  options.runtime.threads = c.threads;
  options.resize.ParseFixed(std::to_string(c.height) + "x" + std::to_string(c.width));
  std::vector<double> ms;
  auto last = Clock::now();
  options.on_rows = [&](const at::Tensor& rows, const std::vector<std::string>&) {
    for (int64_t r = 0; r < rows.size(0); ++r) ms.push_back(MsSince(last) / static_cast<double>(rows.size(0)));
    last = Clock::now();
  };
  last = Clock::now();
  vpr::ExtractResult result = images.empty() ? vpr::ExtractDescriptors(model, paths, options)
                                             : vpr::ExtractDescriptors(model, images, paths, options);
  if (!result.failures.empty()) std::fprintf(stderr, "%zu images failed\n", result.failures.size());
  if (!ms.empty()) {  // the first also pays the call's setup (model to device, inference copy of the encoder)
    if (first_ms) *first_ms = ms.front();
    ms.erase(ms.begin());
  }
  return ms;
}

}  // namespace

int main(int argc, char** argv) {
  Config config;
  CLI::App app("per-frame cost of the public API (Describe + Add + Query) against the batch extraction path");
  app.add_option("--frames", config.frames, "frames timed per database size")->capture_default_str();
  app.add_option("--threads", config.threads, "CPU threads")->capture_default_str();
  app.add_option("--sizes", config.sizes, "database sizes (places before the first frame)")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--dim", config.dim, "WPCA output dimension (0: none, 10240-d)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  vpr_bench::PrintMachine();
  if (!fs::exists(kFrames) || !fs::exists(kMobileNetWeights)) {
    std::printf("skipped: needs %s and %s (../shared, see its README)\n", kFrames.c_str(), kMobileNetWeights.c_str());
    return 0;
  }
  const fs::path scratch = fs::temp_directory_path() / ("vpr_bench_api_" + std::to_string(getpid()));
  fs::create_directories(scratch);
  const std::string checkpoint = MakeCheckpoint(config, scratch);

  std::vector<std::string> paths = vpr::CollectImages({kFrames.string()});
  std::vector<cv::Mat> frames;
  for (const auto& p : paths) frames.push_back(cv::imread(p, cv::IMREAD_COLOR));

  vpr::RecognizerOptions options;
  options.model = checkpoint;
  options.resize_height = config.height;
  options.resize_width = config.width;
  options.threads = config.threads;
  vpr::PlaceRecognizer rec(options);
  for (int i = 0; i < 5; ++i) rec.Describe(frames[static_cast<size_t>(i)]);  // warm-up

  std::printf("\nModel %s (%d-d), fp32, %d threads, %d frames per case\n", rec.Describe().c_str(), rec.dim(),
              config.threads, config.frames);

  // The batch path first, on the same frames with the same checkpoint, in the same process.
  vpr::VprModel model = vpr::LoadModel(checkpoint, vpr::ModelFlags{}).model;
  std::vector<std::string> batch_paths;
  for (int i = 0; i < config.frames; ++i) batch_paths.push_back(paths[static_cast<size_t>(i) % paths.size()]);
  std::vector<at::Tensor> decoded;  // decoded as the API's frames are (full size), resized by the extractor
  for (const auto& p : batch_paths) decoded.push_back(vpr::MatToRgbTensor(cv::imread(p, cv::IMREAD_COLOR)));
  BatchMsPerImage(model, {batch_paths.begin(), batch_paths.begin() + 5}, {}, config);  // warm-up
  const std::vector<double> files = BatchMsPerImage(model, batch_paths, {}, config);
  double first_ms = 0.0;
  const std::vector<double> tensors = BatchMsPerImage(model, batch_paths, decoded, config, &first_ms);
  decoded.clear();
  model = vpr::VprModel(nullptr);
  const double files_p50 = vpr_bench::Percentile(files, 0.5);
  const double tensors_p50 = vpr_bench::Percentile(tensors, 0.5);

  std::printf("\n1. Per frame through the public API, ms\n");
  std::printf("  %-26s %-10s %9s %9s %9s\n", "case", "stage", "p50", "p99", "mean");
  std::vector<std::pair<int, Stages>> results;
  for (int n : config.sizes) {
    results.emplace_back(n, PerFrameRecognition(rec, frames, n, config));
    results.back().second.Print("recognise+map, db " + std::to_string(n));
  }

  std::printf("\n2. Library batch path (ExtractDescriptors, batch 1, as vpr extract), ms per image\n");
  std::printf("  %-46s %9s %9s %9s %9s\n", "input", "p50", "p99", "mean", "images/s");
  auto row = [](const char* what, const std::vector<double>& ms) {
    std::printf("  %-46s %9.3f %9.3f %9.3f %9.2f\n", what, vpr_bench::Percentile(ms, 0.5),
                vpr_bench::Percentile(ms, 0.99), vpr_bench::Mean(ms), 1e3 / vpr_bench::Mean(ms));
  };
  row("JPEG files (decode+resize+net)", files);
  row("decoded images (resize+net)", tensors);
  std::printf("  %-46s %9.3f  (the set-up each call pays: model to device, inference copy; a PlaceRecognizer "
              "pays it once)\n",
              "first decoded image of the call", first_ms);

  std::printf("\n3. Ratios of p50s (API per frame / batch per image; 1.00 = the API adds nothing)\n");
  for (const auto& [n, stages] : results)
    std::printf("  db %-7d Describe/decoded %5.2f   Describe/files %5.2f   total/files %5.2f   "
                "Add+Query %5.1f%% of total\n",
                n, stages.P50Of(0) / tensors_p50, stages.P50Of(0) / files_p50, stages.P50Total() / files_p50,
                100.0 * (stages.MeanOf(1) + stages.MeanOf(2)) / stages.MeanTotal());
  std::printf("(Describe takes a cv::Mat already decoded; the files path also decodes each JPEG)\n");
  fs::remove_all(scratch);
  return 0;
}
