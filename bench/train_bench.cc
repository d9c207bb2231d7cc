// Training-step speed of vpr against the Python reference (python3-torch), same model,
// input size, thread count and run: one step = forward and backward of a tuple batch
// (1 query, 1 positive, 10 negatives) with the triplet loss, then an SGD step; the last
// encoder block and NetVLAD trained (`vpr train --train-blocks 1`). Prints steps/s of
// each and the ratio vpr / reference, twice: vpr computing every layer (as the reference
// does) and vpr as `vpr train` runs, with the frozen layers' output of each image kept
// (frozen_features.h), so a step runs only the trained layers.
//
//   build/bench/vpr_bench_train [--arch mobilenet_v2|vgg16] [--steps 5] [--threads 2] [--height 240] [--width 320]
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <cstdio>
#include <filesystem>

#include <CLI/CLI.hpp>

#include "vpr/model/model_io.h"
#include "vpr/runtime/cpu_features.h"
#include "vpr/runtime/precision.h"
#include "python_reference.h"
#include "vpr/test_config.h"
#include "vpr/train/trainer.h"
#include "vpr/train/triplet_loss.h"

namespace {

struct Config {
  std::string arch = "mobilenet_v2";
  int steps = 5;
  int threads = 2;
  int height = 240;
  int width = 320;
  int negatives = 10;
  int clusters = 64;
};

const std::string kMobileNetWeights = std::string(VPR_SHARED_DIR) + "/data/weights/mobilenet_v2_imagenet.pth";

bool UseWeights(const Config& c) { return c.arch == "mobilenet_v2" && std::filesystem::exists(kMobileNetWeights); }

vpr::VprModel MakeModel(const Config& c) {
  if (UseWeights(c)) {
    vpr::ModelFlags flags;
    flags.arch = c.arch;
    flags.clusters = c.clusters;
    flags.normalize = "tf";
    flags.tf_padding = true;
    return vpr::LoadModel(kMobileNetWeights, flags).model;
  }
  vpr::ModelOptions options;
  options.backbone.arch = c.arch;
  options.backbone.tf_padding = c.arch == "mobilenet_v2";
  options.normalize = c.arch == "mobilenet_v2" ? "tf" : "imagenet";
  options.netvlad.num_clusters = c.clusters;
  vpr::VprModel model(options);
  model->pool->InitRandom();
  return model;
}

double PythonStepsPerSecond(const Config& c) {
  std::string args = "--arch " + c.arch + " --steps " + std::to_string(c.steps) + " --threads " +
                     std::to_string(c.threads) + " --height " + std::to_string(c.height) + " --width " +
                     std::to_string(c.width) + " --negatives " + std::to_string(c.negatives) + " --num-clusters " +
                     std::to_string(c.clusters);
  if (UseWeights(c)) args += " --weights " + kMobileNetWeights;
  return vpr_bench::PythonReference("python_train_step.py", args, "steps_per_s");
}

}  // namespace

int main(int argc, char** argv) {
  Config config;
  CLI::App app("vpr training-step benchmark against the Python reference");
  app.add_option("--arch", config.arch)->capture_default_str()->check(CLI::IsMember({"mobilenet_v2", "vgg16"}));
  app.add_option("--steps", config.steps, "timed steps per side")->capture_default_str();
  app.add_option("--threads", config.threads, "threads for both sides")->capture_default_str();
  app.add_option("--height", config.height)->capture_default_str();
  app.add_option("--width", config.width)->capture_default_str();
  app.add_option("--negatives", config.negatives)->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  torch::set_num_threads(config.threads);

  vpr::VprModel model = MakeModel(config);
  std::vector<torch::Tensor> params = vpr::SetTrainableParameters(model, 1);
  vpr::SetTrainingMode(model);
  vpr::TrainOptions options;
  auto optimizer = vpr::MakeOptimizer(options, params);
  torch::manual_seed(1);
  std::vector<at::Tensor> images;
  for (int i = 0; i < 2 + config.negatives; ++i) images.push_back(torch::rand({3, config.height, config.width}));
  const int64_t first = vpr::FirstTrainedEncoderLayer(model->options().backbone, 1);
  // The frozen layers' output per image, as vpr train keeps it (in the step's precision).
  auto keep = [&](vpr::Precision precision) {
    torch::NoGradGuard no_grad;
    vpr::AutocastScope mixed(precision, at::kCPU);
    std::vector<torch::Tensor> rows;
    for (const auto& image : images) rows.push_back(model->EncoderPrefix(image.unsqueeze(0), first));
    return torch::cat(rows, 0);
  };
  const torch::Tensor kept[] = {keep(vpr::Precision::kFp32), keep(vpr::Precision::kBf16)};
  auto step = [&](bool frozen_kept, vpr::Precision precision) {
    optimizer->zero_grad();
    torch::Tensor descriptors;
    {
      vpr::AutocastScope mixed(precision, at::kCPU);  // as vpr train --precision: forward only
      descriptors = frozen_kept ? model->DescribeFrom(kept[precision == vpr::Precision::kBf16], first)
                                : vpr::ForwardImages(model, images, at::kCPU);
    }
    torch::Tensor loss =
        vpr::TupleTripletLossSum(descriptors, options.mining.margin) / static_cast<double>(config.negatives);
    loss.backward();
    optimizer->step();
  };
  for (auto precision : {vpr::Precision::kFp32, vpr::Precision::kBf16})
    for (bool frozen_kept : {false, true})
      benchmark::RegisterBenchmark(("vpr/" + config.arch + "/" + vpr::PrecisionName(precision) +
                                    (frozen_kept ? "/frozen_kept" : "")).c_str(),
                                   [&step, frozen_kept, precision](benchmark::State& state) {
                                     step(frozen_kept, precision);  // warm-up
                                     for (auto _ : state) step(frozen_kept, precision);
                                   })
          ->Iterations(config.steps)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
  int bench_argc = 1;
  benchmark::Initialize(&bench_argc, argv);
  struct Recorder : benchmark::ConsoleReporter {
    std::vector<double> seconds;  // per benchmark, in registration order
    void ReportRuns(const std::vector<Run>& runs) override {
      for (const auto& run : runs) seconds.push_back(run.GetAdjustedRealTime() / 1e3);
      ConsoleReporter::ReportRuns(runs);
    }
  } recorder;
  benchmark::RunSpecifiedBenchmarks(&recorder);

  auto rate = [&](size_t i) {
    return i < recorder.seconds.size() && recorder.seconds[i] > 0 ? 1.0 / recorder.seconds[i] : 0.0;
  };
  double python = PythonStepsPerSecond(config);
  std::printf("\nTraining step (1 query + 1 positive + %d negatives, %dx%d, forward + backward + SGD), %s%s, "
              "NetVLAD K=%d, %d threads (steps/s)\n",
              config.negatives, config.height, config.width, config.arch.c_str(),
              UseWeights(config) ? " (ImageNet weights)" : " (random weights)", config.clusters, config.threads);
  std::printf("CPU %s\n", vpr::HostCpuFeatures().Line().c_str());
  std::printf("%-46s %10s %10s %8s %10s\n", "vpr step", "vpr", "python", "ratio", "bf16/fp32");
  const char* rows[] = {"fp32, every layer computed (as the reference)", "fp32, frozen layers kept (as vpr train)",
                        "bf16, every layer computed", "bf16, frozen layers kept (train --precision bf16)"};
  for (size_t i = 0; i < 4; ++i)
    std::printf("%-46s %10.3f %10.3f %8.2f %10s\n", rows[i], rate(i), python, python > 0 ? rate(i) / python : 0.0,
                i < 2 ? "" : std::to_string(rate(i) / std::max(1e-9, rate(i - 2))).substr(0, 4).c_str());
  return 0;
}
