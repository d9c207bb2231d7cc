#include "vpr/train/trainer.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>

#include <unistd.h>

#include "vpr/app/extract.h"
#include "vpr/synthetic/synthetic.h"
#include "vpr/model/model_io.h"
#include "vpr/train/run_dir.h"
#include "vpr/test_config.h"
#include "vpr/util/check.h"

namespace vpr {
namespace {
namespace fs = std::filesystem;

// Folders the tests wrote, removed when the test process exits.
std::vector<fs::path>& TempDirs() {
  static struct Dirs {
    std::vector<fs::path> paths;
    ~Dirs() {
      std::error_code ignored;
      for (const auto& p : paths) fs::remove_all(p, ignored);
    }
  } dirs;
  return dirs.paths;
}

// A small rendered route (16 places, 48 x 64), written once per test binary.
const Dataset& Route() {
  static const Dataset dataset = [] {
    fs::path dir = fs::temp_directory_path() / ("vpr_train_route_" + std::to_string(::getpid()));
    SyntheticOptions options;
    options.num_places = 16;
    options.height = 48;
    options.width = 64;
    options.query_dusk = false;
    options.query_max_shift_px = 4;
    WriteSyntheticDataset(MakeSyntheticRoute(options), dir.string());
    TempDirs().push_back(dir);
    return LoadFrameAlignedDataset((dir / "database").string(), (dir / "queries").string(), 1);
  }();
  return dataset;
}

// VGG16 cut after conv1_1 (64-d) + NetVLAD K=4: the shape of TinyTestModel at a tenth of
// its cost, so that several epochs take seconds on two cores.
VprModel TinyTrainModel() {
  torch::manual_seed(9);
  ModelOptions options;
  options.backbone.cut = 2;
  options.netvlad.num_clusters = 4;
  VprModel model(options);
  model->pool->InitRandom();
  return model;
}

std::string FreshDir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("vpr_train_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  TempDirs().push_back(dir);
  return dir.string();
}

TrainOptions TinyOptions(const std::string& out, int epochs) {
  TrainOptions o;
  o.out_dir = out;
  o.epochs = epochs;
  o.optimizer = "sgd";
  o.lr = 0.05;
  o.accumulate = 2;
  o.cache_refresh = 8;  // several refreshes per epoch
  o.mining.negatives_sampled = 50;
  o.mining.negatives_kept = 4;
  o.extract.batch_size = 8;
  o.extract.runtime.threads = 1;  // the CI machine has 2 cores, shared with other tests
  o.seed = 5;
  return o;
}

std::vector<torch::Tensor> Weights(VprModel& model) {
  std::vector<torch::Tensor> out;
  for (auto& p : model->parameters()) out.push_back(p.detach().cpu().clone());
  return out;
}

size_t CountLines(const std::string& path) {
  std::ifstream in(path);
  size_t n = 0;
  for (std::string line; std::getline(in, line);) n += !line.empty();
  return n;
}

TEST(Trainer, TrainedLayersFollowTheBlocks) {
  BackboneOptions b;
  EXPECT_EQ(FirstTrainedEncoderLayer(b, 1), 24);  // vgg16 conv5_1
  EXPECT_EQ(FirstTrainedEncoderLayer(b, 0), 29);
  EXPECT_EQ(FirstTrainedEncoderLayer(b, 2), 17);
  b.arch = "mobilenet_v2";
  EXPECT_EQ(FirstTrainedEncoderLayer(b, 1), 14);  // features[14:17]
  b.cut = 18;
  EXPECT_EQ(FirstTrainedEncoderLayer(b, 1), 17);
  b.arch = "resnet18";
  b.cut = 8;
  EXPECT_EQ(FirstTrainedEncoderLayer(b, 1), 7);  // layer4
  b.cut = 7;
  EXPECT_EQ(FirstTrainedEncoderLayer(b, 1), 6);  // layer3
  EXPECT_EQ(FirstTrainedEncoderLayer(b, 99), 0);
}

TEST(Trainer, FreezesEarlyLayersAndKeepsBatchNormInEvalMode) {
  ModelOptions options;
  options.backbone.arch = "mobilenet_v2";
  options.netvlad.num_clusters = 4;
  VprModel model(options);
  std::vector<torch::Tensor> trained = SetTrainableParameters(model, 1);
  int64_t expected = 0;
  for (size_t i = 14; i < 17; ++i)
    for (auto& p : model->encoder->children()[i]->parameters()) expected += p.numel();
  for (auto& p : model->pool->parameters()) expected += p.numel();
  int64_t count = 0;
  for (auto& p : trained) count += p.numel();
  EXPECT_EQ(count, expected);
  EXPECT_FALSE(model->encoder->children()[13]->parameters()[0].requires_grad());
  SetTrainingMode(model);
  EXPECT_TRUE(model->is_training());
  int bn = 0;
  for (auto& m : model->modules())
    if (m->as<torch::nn::BatchNorm2d>()) {
      ++bn;
      EXPECT_FALSE(m->is_training());
    }
  EXPECT_GT(bn, 10);
}

TEST(Trainer, LearningRateSteps) {
  TrainOptions o;
  EXPECT_DOUBLE_EQ(LearningRateAt(o, 1), 1e-4);
  EXPECT_DOUBLE_EQ(LearningRateAt(o, 4), 1e-4);
  EXPECT_DOUBLE_EQ(LearningRateAt(o, 5), 0.5e-4);
  EXPECT_DOUBLE_EQ(LearningRateAt(o, 10), 0.25e-4);
}

TEST(Trainer, TinyRunLowersTheLossAndWritesTheRunFolder) {
  VprModel model = TinyTrainModel();
  TrainOptions o = TinyOptions(FreshDir("tiny"), 4);
  TrainResult r = Train(model, Route(), &Route(), o);
  ASSERT_EQ(r.epochs.size(), 4u);
  for (const auto& e : r.epochs) EXPECT_GT(e.mining.tuples, 0);
  EXPECT_LT(r.epochs.back().loss, r.epochs.front().loss);
  RunDir run(o.out_dir);
  EXPECT_TRUE(fs::exists(fs::path(o.out_dir) / "flags.json"));
  EXPECT_TRUE(fs::exists(run.CheckpointPath()));
  EXPECT_TRUE(fs::exists(run.BestPath()));
  EXPECT_TRUE(fs::exists(fs::path(run.ValDir(4)) / "metrics.json"));
  EXPECT_EQ(CountLines(run.MetricsPath()), 5u);  // epoch 0 (start) + 4
  EXPECT_EQ(fs::file_size(run.CachePath()), 32u * 256 * sizeof(float));
  LoadedModel loaded = LoadModel(o.out_dir, ModelFlags{});  // the run folder, as pytorch-NetVlad's
  EXPECT_EQ(loaded.path, run.BestPath());
  EXPECT_EQ(loaded.info.value("epoch", -1), r.best_epoch);
  EXPECT_THROW(Train(model, Route(), nullptr, o), Error);  // refuses to overwrite a run

  // Interop: PyTorch loads the best checkpoint strictly into the reference model and
  // computes the descriptors vpr computes with it.
  if (std::system((std::string(VPR_ORACLE_PYTHON) + " -c 'import torch, torchvision' 2>/dev/null").c_str()) != 0)
    GTEST_SKIP() << VPR_ORACLE_PYTHON << " has no torch/torchvision (install python3-torch) for the interop check";
  std::vector<std::string> images(Route().database.begin(), Route().database.begin() + 3);
  const std::string npy = (fs::path(o.out_dir) / "interop.npy").string();
  WriteDescriptors(npy, ExtractDescriptors(loaded.model, images, ExtractOptions{}));
  const std::string cmd = std::string(VPR_ORACLE_PYTHON) + " " + VPR_SOURCE_DIR +
                          "/tests/oracle/check_roundtrip.py " + run.BestPath() + " --images " + NamesPathFor(npy) +
                          " --reference " + npy;
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  // Every file the run wrote opens with torch.load(weights_only=True), the resume state too.
  const std::string load_all = std::string(VPR_ORACLE_PYTHON) + " -c \"import sys; sys.path.insert(0, '" +
                               VPR_SOURCE_DIR + "/tests/oracle'); import weights_only; [weights_only.load(p) for p in "
                               "sys.argv[1:]]\" " + run.CheckpointPath() + " " + run.BestPath() + " " + run.StatePath();
  EXPECT_EQ(std::system(load_all.c_str()), 0) << load_all;
}

// Mixed precision: bf16 forward passes, fp32 weights, gradients and loss; the checkpoint
// is an fp32 one like any other, and the run learns as the fp32 run does.
TEST(Trainer, Bf16MixedPrecisionLearnsAndKeepsFp32Weights) {
  VprModel fp32_model = TinyTrainModel();
  TrainOptions o = TinyOptions(FreshDir("fp32_ref"), 2);
  TrainResult fp32 = Train(fp32_model, Route(), nullptr, o);
  VprModel model = TinyTrainModel();
  o = TinyOptions(FreshDir("bf16"), 2);
  o.extract.runtime.precision = "bf16";
  TrainResult r = Train(model, Route(), nullptr, o);
  ASSERT_EQ(r.epochs.size(), 2u);
  EXPECT_LT(r.epochs.back().loss, r.epochs.front().loss);
  EXPECT_NEAR(r.epochs.back().loss, fp32.epochs.back().loss, 0.5 * fp32.epochs.back().loss);
  for (const auto& p : model->parameters()) EXPECT_EQ(p.scalar_type(), at::kFloat);
  auto a = Weights(model), b = Weights(fp32_model);
  bool differs = false;
  for (size_t i = 0; i < a.size(); ++i) differs |= !at::equal(a[i], b[i]);
  EXPECT_TRUE(differs) << "the bf16 run computed exactly what fp32 computes: it did not run in bf16";
  LoadedModel loaded = LoadModel(RunDir(o.out_dir).CheckpointPath(), ModelFlags{});
  for (const auto& p : loaded.model->parameters()) EXPECT_EQ(p.scalar_type(), at::kFloat);
}

class TrainerResume : public ::testing::TestWithParam<const char*> {};

// The optimizer's state (SGD momentum, Adam moments and steps) goes through train_state.pt.
TEST_P(TrainerResume, ContinuesBitIdentically) {
  VprModel straight = TinyTrainModel();
  TrainOptions a = TinyOptions(FreshDir(std::string("straight_") + GetParam()), 2);
  a.optimizer = GetParam();
  if (a.optimizer == "adam") a.lr = 1e-3;
  Train(straight, Route(), nullptr, a);

  TrainOptions b = TinyOptions(FreshDir(std::string("resumed_") + GetParam()), 1);
  b.optimizer = GetParam();
  b.lr = a.lr;
  VprModel first = TinyTrainModel();
  Train(first, Route(), nullptr, b);
  VprModel resumed = TinyTrainModel();  // a new process: fresh weights, all state from the run folder
  b.epochs = 2;
  b.resume = true;
  TrainResult r = Train(resumed, Route(), nullptr, b);
  ASSERT_EQ(r.epochs.size(), 1u);
  EXPECT_EQ(r.epochs[0].epoch, 2);

  std::vector<torch::Tensor> wa = Weights(straight), wb = Weights(resumed);
  ASSERT_EQ(wa.size(), wb.size());
  for (size_t i = 0; i < wa.size(); ++i) EXPECT_TRUE(torch::equal(wa[i], wb[i])) << "parameter " << i;
  EXPECT_EQ(CountLines(RunDir(b.out_dir).MetricsPath()), 2u);
}

INSTANTIATE_TEST_SUITE_P(SgdAndAdam, TrainerResume, ::testing::Values("sgd", "adam"));

TEST(Trainer, DivergedModelStopsWithAClearMessage) {
  VprModel model = TinyTrainModel();
  {
    torch::NoGradGuard no_grad;
    model->pool->centroids.fill_(std::numeric_limits<float>::quiet_NaN());
  }
  TrainOptions o = TinyOptions(FreshDir("nan"), 1);
  try {
    Train(model, Route(), nullptr, o);
    FAIL() << "expected vpr::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("NaN"), std::string::npos) << e.what();
  }
}

TEST(Trainer, RejectsBadOptions) {
  TrainOptions o = TinyOptions("x", 1);
  o.optimizer = "lbfgs";
  EXPECT_THROW(o.Check(), Error);
  o = TinyOptions("x", 1);
  o.select_recall_at = 3;
  EXPECT_THROW(o.Check(), Error);
  o = TinyOptions("", 1);
  EXPECT_THROW(o.Check(), Error);
}

}  // namespace
}  // namespace vpr
