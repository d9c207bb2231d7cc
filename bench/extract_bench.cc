// Extraction throughput of vpr against the Python reference (python3-torch: torchvision
// backbone + NetVLAD), same input size, thread count and run. Prints images/s of each
// and the ratio vpr / reference. Both time the network on the same random input size
// (normalisation, backbone, NetVLAD); decoding is not part of either.
//
//   build/bench/vpr_bench_extract [--images 6] [--threads 2] [--height 480] [--width 640]
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <cstdio>
#include <filesystem>
#include <map>

#include <CLI/CLI.hpp>

#include "vpr/model/model_io.h"
#include "python_reference.h"
#include "vpr/test_config.h"

namespace {

struct Config {
  int images = 6;
  int threads = 2;
  int height = 480;
  int width = 640;
  int clusters = 64;
  std::string precision = "fp32";
};

const std::string kMobileNetWeights = std::string(VPR_SHARED_DIR) + "/data/weights/mobilenet_v2_imagenet.pth";

// The model each side runs: VGG16 conv5_3 with random weights; MobileNetV2
// features[:17] with the ImageNet weights when ../shared has them (realistic activations).
vpr::VprModel MakeModel(const std::string& arch, const Config& config) {
  if (arch == "mobilenet_v2" && std::filesystem::exists(kMobileNetWeights)) {
    vpr::ModelFlags flags;
    flags.arch = arch;
    flags.clusters = config.clusters;
    flags.normalize = "tf";
    return vpr::LoadModel(kMobileNetWeights, flags).model;
  }
  vpr::ModelOptions options;
  options.backbone.arch = arch;
  options.netvlad.num_clusters = config.clusters;
  return vpr::VprModel(options);
}

// Records the real time per iteration of each benchmark run.
class Recorder : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& run : runs) seconds_per_image[run.run_name.function_name] = run.GetAdjustedRealTime() / 1e3;
    ConsoleReporter::ReportRuns(runs);
  }
  std::map<std::string, double> seconds_per_image;  // by benchmark name ("vpr/vgg16")
};

double PythonImagesPerSecond(const std::string& arch, const std::string& netvlad, const Config& c) {
  std::string args = "--arch " + arch + " --netvlad " + netvlad + " --images " + std::to_string(c.images) +
                     " --threads " + std::to_string(c.threads) + " --height " + std::to_string(c.height) +
                     " --width " + std::to_string(c.width) + " --num-clusters " + std::to_string(c.clusters);
  if (arch == "mobilenet_v2" && std::filesystem::exists(kMobileNetWeights)) args += " --weights " + kMobileNetWeights;
  return vpr_bench::PythonReference("python_extract.py", args, "images_per_s");
}

}  // namespace

int main(int argc, char** argv) {
  Config config;
  CLI::App app("vpr extraction benchmark against the Python reference");
  app.add_option("--images", config.images, "timed images per side")->capture_default_str();
  app.add_option("--threads", config.threads, "threads for both sides")->capture_default_str();
  app.add_option("--height", config.height)->capture_default_str();
  app.add_option("--width", config.width)->capture_default_str();
  app.add_option("--clusters", config.clusters)->capture_default_str();
  app.add_option("--precision", config.precision, "fp32 | bf16")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  torch::set_num_threads(config.threads);

  const std::vector<std::string> archs = {"vgg16", "mobilenet_v2"};
  std::map<std::string, vpr::VprModel> models;
  torch::Tensor input = torch::rand({1, 3, config.height, config.width});
  for (const auto& arch : archs) {
    models.emplace(arch, MakeModel(arch, config));
    models.at(arch)->PrepareInference(config.precision == "bf16" ? vpr::Precision::kBf16 : vpr::Precision::kFp32);
    benchmark::RegisterBenchmark(("vpr/" + arch).c_str(),
                                 [&, arch](benchmark::State& state) {
                                   torch::NoGradGuard no_grad;
                                   auto& model = models.at(arch);
                                   model->eval();
                                   for (int i = 0; i < 2; ++i) model->forward(input);  // warm-up
                                   for (auto _ : state) benchmark::DoNotOptimize(model->forward(input));
                                   state.SetItemsProcessed(state.iterations());
                                 })
        ->Iterations(config.images)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
  int bench_argc = 1;
  benchmark::Initialize(&bench_argc, argv);
  Recorder recorder;
  benchmark::RunSpecifiedBenchmarks(&recorder);

  std::printf("\nExtraction throughput, %dx%d input, NetVLAD K=%d, %d threads, batch 1 (images/s)\n", config.height,
              config.width, config.clusters, config.threads);
  std::printf("%-14s %10s %16s %8s %18s %8s\n", "model", "vpr", "python (loop)", "ratio", "python (bmm)", "ratio");
  for (const auto& arch : archs) {
    double vpr = 1.0 / recorder.seconds_per_image["vpr/" + arch];
    double loop = PythonImagesPerSecond(arch, "loop", config);
    double bmm = PythonImagesPerSecond(arch, "vectorised", config);
    std::printf("%-14s %10.3f %16.3f %8.2f %18.3f %8.2f\n", arch.c_str(), vpr, loop, loop > 0 ? vpr / loop : 0.0, bmm,
                bmm > 0 ? vpr / bmm : 0.0);
  }
  std::printf("(python (loop): NetVLAD with the reference's per-cluster loop; python (bmm): vectorised)\n");
  return 0;
}
