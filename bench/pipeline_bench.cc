// Whole-process extraction and batch-1 latency of vpr against the Python reference
// (python3-torch: PIL decode, torchvision resize, torchvision backbone + NetVLAD, fp32),
// in the same run, 2 threads on both sides unless told otherwise:
//  1. `vpr extract` as a user runs it (process start, model load, decode, resize, model,
//     .npy written) in fp32 without --threads (the default), with --threads N, and in
//     bf16, against `python_extract.py --image-list` on the same images: VGG16 conv5_3 at
//     480x640 and MobileNetV2 features[:17] at 240x320, NetVLAD K=64;
//  2. batch-1 latency from the JPEG file to the descriptor (decode, resize, forward),
//     MobileNetV2 at 240x320, p50 and p99, fp32 and bf16, against Python's per-image times.
// Images: the Gardens Point day_right JPEGs (960x540) from ../shared, else rendered ones.
//
//   build/bench/vpr_bench_pipeline [--threads 2] [--vgg-images 24] [--mobilenet-images 200]
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <CLI/CLI.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "bench_util.h"
#include "python_reference.h"
#include "vpr/image/image_io.h"
#include "vpr/image/image_list.h"
#include "vpr/model/model_io.h"
#include "vpr/runtime/runtime_options.h"
#include "vpr/test_config.h"

namespace {
namespace fs = std::filesystem;

struct Config {
  int threads = 2;
  int vgg_images = 24;
  int mobilenet_images = 200;
  int latency_images = 100;
};

const fs::path kShared(VPR_SHARED_DIR);
const std::string kMobileNetWeights = (kShared / "data/weights/mobilenet_v2_imagenet.pth").string();

// The first `n` images of Gardens Point day_right (repeated as needed), or rendered ones.
std::vector<std::string> Images(int n, const fs::path& scratch) {
  std::vector<std::string> all;
  const fs::path gp = kShared / "data/gardens_point/day_right";
  if (fs::exists(gp)) all = vpr::CollectImages({gp.string()});
  if (all.empty()) {
    fs::create_directories(scratch / "rendered");
    for (int i = 0; i < 50; ++i) {
      cv::Mat image(540, 960, CV_8UC3);
      cv::randu(image, 0, 255);
      cv::GaussianBlur(image, image, cv::Size(0, 0), 3 + i % 5);
      all.push_back((scratch / "rendered" / ("r" + std::to_string(i) + ".jpg")).string());
      cv::imwrite(all.back(), image);
    }
  }
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(all[i % all.size()]);
  return out;
}

std::string WriteList(const std::vector<std::string>& paths, const fs::path& file) {
  std::ofstream out(file);
  for (const auto& p : paths) out << p << "\n";
  return file.string();
}

double Seconds(const std::string& command) {
  auto start = std::chrono::steady_clock::now();
  int rc = std::system((command + " > /dev/null 2>&1").c_str());
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (rc != 0) std::fprintf(stderr, "failed (%d): %s\n", rc, command.c_str());
  return rc == 0 ? s : 0;
}

struct Case {
  std::string arch;
  int height, width, images;
  std::string model_args;   // vpr extract's model flags
  std::string python_args;  // python_extract.py's
};

void WholeProcess(const Config& c, const fs::path& scratch) {
  // VGG16: random weights (no ImageNet VGG16 weights here): a saved vpr checkpoint.
  const std::string vgg = (scratch / "vgg16_k64.pth").string();
  {
    torch::manual_seed(0);
    vpr::ModelOptions options;
    options.netvlad.num_clusters = 64;
    vpr::VprModel model(options);
    model->pool->InitRandom();
    vpr::SaveModel(vgg, model);
  }
  const bool weights = fs::exists(kMobileNetWeights);
  std::vector<Case> cases = {
      {"vgg16", 480, 640, c.vgg_images, "--model " + vgg, ""},
      {"mobilenet_v2", 240, 320, c.mobilenet_images,
       weights ? "--model " + kMobileNetWeights + " --backbone mobilenet_v2 --clusters 64 --normalize tf" : "",
       weights ? "--weights " + kMobileNetWeights : ""}};
  std::printf("\n1. Whole process (start, load, decode, resize, model, write), images/s; %d threads unless said\n",
              c.threads);
  std::printf("%-13s %-8s %6s %9s %11s %9s %12s %9s %9s %7s\n", "model", "size", "images", "python", "vpr fp32",
              "ratio", "--threads N", "default/N", "vpr bf16", "ratio");
  for (const auto& k : cases) {
    if (k.model_args.empty()) {
      std::printf("%-13s skipped: %s is missing\n", k.arch.c_str(), kMobileNetWeights.c_str());
      continue;
    }
    const std::string list = WriteList(Images(k.images, scratch), scratch / (k.arch + ".txt"));
    const std::string size = std::to_string(k.height) + "x" + std::to_string(k.width);
    const std::string vpr = std::string(VPR_BINARY_DIR) + "/vpr extract " + k.model_args + " --images " + list +
                            " --resize " + size + " --out " + (scratch / "out.npy").string();
    const std::string py = std::string(VPR_ORACLE_PYTHON) + " " + VPR_SOURCE_DIR + "/bench/python_extract.py --arch " +
                           k.arch + " --image-list " + list + " --height " + std::to_string(k.height) + " --width " +
                           std::to_string(k.width) + " --threads " + std::to_string(c.threads) + " " + k.python_args;
    const double n = k.images;
    const double python = n / Seconds(py);
    const double fp32_default = n / Seconds(vpr);
    const double fp32_n = n / Seconds(vpr + " --threads " + std::to_string(c.threads));
    const double bf16 = n / Seconds(vpr + " --threads " + std::to_string(c.threads) + " --precision bf16");
    std::printf("%-13s %-8s %6d %9.2f %11.2f %9.2f %12.2f %9.2f %9.2f %7.2f\n", k.arch.c_str(), size.c_str(), k.images,
                python, fp32_default, fp32_default / python, fp32_n, fp32_default / fp32_n, bf16, bf16 / python);
  }
  std::printf("(ratio = vpr / python; default/N = vpr without --threads against --threads %d; bf16 = --precision "
              "bf16 --threads %d)\n", c.threads, c.threads);
}

void Latency(const Config& c, const fs::path& scratch) {
  std::printf("\n2. Batch-1 latency, JPEG file -> descriptor (decode, resize, forward), MobileNetV2 240x320 K=64, "
              "%d threads, ms\n", c.threads);
  if (!fs::exists(kMobileNetWeights)) {
    std::printf("skipped: %s is missing\n", kMobileNetWeights.c_str());
    return;
  }
  vpr::RuntimeOptions runtime;
  runtime.threads = c.threads;
  runtime.Apply();
  vpr::ModelFlags flags;
  flags.arch = "mobilenet_v2";
  flags.clusters = 64;
  flags.normalize = "tf";
  vpr::VprModel model = vpr::LoadModel(kMobileNetWeights, flags).model;
  model->eval();
  vpr::ResizeOptions resize;
  resize.ParseFixed("240x320");
  const std::vector<std::string> images = Images(c.latency_images, scratch);
  const std::string list = WriteList(images, scratch / "latency.txt");
  std::printf("%-22s %8s %8s\n", "", "p50", "p99");
  for (auto precision : {vpr::Precision::kFp32, vpr::Precision::kBf16}) {
    model->PrepareInference(precision);
    torch::NoGradGuard no_grad;
    std::vector<double> ms;
    for (int i = -5; i < static_cast<int>(images.size()); ++i) {  // 5 warm-up runs
      auto start = std::chrono::steady_clock::now();
      model->forward(vpr::LoadResizedImage(images[std::max(i, 0)], resize).unsqueeze(0));
      if (i >= 0) ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    }
    std::printf("vpr %-18s %8.2f %8.2f\n", vpr::PrecisionName(precision), vpr_bench::Percentile(ms, 0.5),
                vpr_bench::Percentile(ms, 0.99));
  }
  model->ReleaseInference();
  const std::string args = "--arch mobilenet_v2 --image-list " + list + " --height 240 --width 320 --threads " +
                           std::to_string(c.threads) + " --weights " + kMobileNetWeights;
  std::printf("python fp32 (PIL)      %8.2f %8.2f\n", vpr_bench::PythonReference("python_extract.py", args, "ms_p50"),
              vpr_bench::PythonReference("python_extract.py", args, "ms_p99"));
}

}  // namespace

int main(int argc, char** argv) {
  Config config;
  CLI::App app("vpr whole-process extraction and batch-1 latency against the Python reference");
  app.add_option("--threads", config.threads, "threads on both sides")->capture_default_str();
  app.add_option("--vgg-images", config.vgg_images, "images of the VGG16 480x640 run")->capture_default_str();
  app.add_option("--mobilenet-images", config.mobilenet_images, "images of the MobileNetV2 240x320 run")
      ->capture_default_str();
  app.add_option("--latency-images", config.latency_images, "images timed one by one")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  const fs::path scratch = fs::temp_directory_path() / ("vpr_bench_pipeline_" + std::to_string(getpid()));
  fs::create_directories(scratch);
  vpr_bench::PrintMachine();
  WholeProcess(config, scratch);
  Latency(config, scratch);
  fs::remove_all(scratch);
  return 0;
}
