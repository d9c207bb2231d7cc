// Loss and gradients of a tuple batch against the Python oracle (tests/oracle/
// train_reference.py: a pytorch-NetVlad-style model with the same weights and images).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include "vpr/model/test_model.h"
#include "vpr/model/model_io.h"
#include "vpr/test_config.h"
#include "vpr/train/trainer.h"
#include "vpr/train/triplet_loss.h"
#include "vpr/util/npy.h"

namespace vpr {
namespace {
namespace fs = std::filesystem;

bool OracleAvailable() {
  static const bool ok = std::system((std::string(VPR_ORACLE_PYTHON) + " -c 'import torch, torchvision' 2>/dev/null").c_str()) == 0;
  return ok;
}

struct Case {
  int tuples = 2, negatives = 3, height = 40, width = 48, train_blocks = 1;
};

torch::Tensor ReadGrad(const fs::path& dir, const std::string& name, int64_t numel) {
  fs::path file = dir / (name + ".npy");
  EXPECT_TRUE(fs::exists(file)) << name << " is trained by vpr but not by the oracle";
  if (!fs::exists(file)) return torch::zeros({numel}, torch::kDouble);
  NpyMatrix m = ReadNpy(file.string());
  EXPECT_EQ(m.rows * m.cols, numel) << name;
  return torch::from_blob(m.data.data(), {m.rows * m.cols}, torch::kFloat).to(torch::kDouble);
}

// vpr's loss of the batch, gradients accumulated tuple by tuple as the trainer's step does.
double VprLoss(VprModel& model, const torch::Tensor& images, const Case& c) {
  SetTrainableParameters(model, c.train_blocks);
  SetTrainingMode(model);
  for (auto& p : model->parameters()) p.mutable_grad() = torch::Tensor();
  const int per = 2 + c.negatives;
  double total = 0;
  for (int t = 0; t < c.tuples; ++t) {
    std::vector<at::Tensor> tuple;
    for (int i = 0; i < per; ++i) tuple.push_back(images[t * per + i]);
    torch::Tensor loss = TupleTripletLossSum(ForwardImages(model, tuple, at::kCPU), std::sqrt(0.1)) /
                         static_cast<double>(c.tuples * c.negatives);
    loss.backward();
    total += loss.item<double>();
  }
  return total;
}

void CompareWithOracle(VprModel& model, const Case& c, const std::string& name) {
  if (!OracleAvailable()) GTEST_SKIP() << VPR_ORACLE_PYTHON << " has no torch/torchvision (install python3-torch)";
  fs::path dir = fs::temp_directory_path() / ("vpr_train_oracle_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  SaveModel((dir / "model.pth").string(), model);
  torch::manual_seed(3);
  const int n = c.tuples * (2 + c.negatives);
  // Smooth random images: a low-resolution pattern upsampled, plus a little noise.
  torch::Tensor images = torch::nn::functional::interpolate(
      torch::rand({n, 3, c.height / 8, c.width / 8}),
      torch::nn::functional::InterpolateFuncOptions().size(std::vector<int64_t>{c.height, c.width})
          .mode(torch::kBilinear).align_corners(false));
  images = (images + 0.1 * torch::rand_like(images)).clamp(0, 1).contiguous();
  WriteNpy((dir / "images.npy").string(), images.data_ptr<float>(), n, 3 * c.height * c.width);

  double loss = VprLoss(model, images, c);
  int first = FirstTrainedEncoderLayer(model->options().backbone, c.train_blocks);
  std::string cmd = std::string(VPR_ORACLE_PYTHON) + " " + VPR_SOURCE_DIR + "/tests/oracle/train_reference.py" +
                    " --checkpoint " + (dir / "model.pth").string() + " --images " + (dir / "images.npy").string() +
                    " --height " + std::to_string(c.height) + " --width " + std::to_string(c.width) + " --tuples " +
                    std::to_string(c.tuples) + " --train-from " + std::to_string(first) + " --out " + dir.string();
  struct Cleanup {
    fs::path dir;
    ~Cleanup() {
      std::error_code ignored;
      fs::remove_all(dir, ignored);
    }
  } cleanup{dir};
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::ifstream in(dir / "loss.json");
  nlohmann::json ref = nlohmann::json::parse(in);
  ASSERT_GT(ref["loss"].get<double>(), 0.0) << "no margin violated: the test would check nothing";
  EXPECT_NEAR(loss, ref["loss"].get<double>(), 1e-5 * std::max(1.0, std::abs(loss)));

  size_t compared = 0;
  for (const auto& item : model->named_parameters()) {
    if (!item.value().requires_grad()) continue;
    ++compared;
    torch::Tensor got = item.value().grad().flatten().to(torch::kDouble);
    torch::Tensor f32 = ReadGrad(dir / "grad", item.key(), got.numel());
    torch::Tensor f64 = ReadGrad(dir / "grad64", item.key(), got.numel());
    // vpr must be as close to the exact (float64) gradient as PyTorch's float32 is.
    double scale = std::max(f64.abs().max().item<double>(), 1e-8);
    double torch_error = (f32 - f64).abs().max().item<double>() / scale;
    double vpr_error = (got - f64).abs().max().item<double>() / scale;
    EXPECT_LE(vpr_error, std::max(3 * torch_error, 1e-4)) << item.key() << " (PyTorch float32: " << torch_error << ")";
  }
  EXPECT_EQ(compared, ref["trained"].size());
  EXPECT_GT(compared, 2u);
}

TEST(TrainOracle, VggTupleBatchLossAndGradients) {
  VprModel model = TinyTestModel();
  CompareWithOracle(model, Case{}, "vgg");
}

TEST(TrainOracle, MobileNetWithFrozenLayersBatchNormAndTfPadding) {
  torch::manual_seed(11);
  ModelOptions options;
  options.backbone.arch = "mobilenet_v2";
  options.backbone.cut = 4;  // features[2:4] trained, features[0:2] frozen
  options.backbone.tf_padding = true;
  options.netvlad.num_clusters = 4;
  options.normalize = "tf";
  VprModel model(options);
  model->pool->InitRandom();
  {
    torch::NoGradGuard no_grad;  // BN statistics away from the identity, so eval mode matters
    for (auto& b : model->named_buffers()) {
      if (b.key().find("running_mean") != std::string::npos) b.value().normal_(0, 0.1);
      if (b.key().find("running_var") != std::string::npos) b.value().uniform_(0.5, 1.5);
    }
  }
  CompareWithOracle(model, Case{}, "mnv2");
}

}  // namespace
}  // namespace vpr
