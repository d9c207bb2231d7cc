// Parity with the Python oracle (python3-torch): descriptors, decoded images and
// backbone features computed by vpr equal PyTorch's; checkpoints vpr writes load in
// Python. Fixtures come from tests/oracle/make_fixtures.py (ctest fixture "oracle").
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "vpr/app/extract.h"
#include "vpr/image/image_io.h"
#include "vpr/model/model_io.h"
#include "vpr/test_config.h"
#include "vpr/util/npy.h"

namespace vpr {
namespace {
namespace fs = std::filesystem;

constexpr double kTolerance = 1e-5;

nlohmann::json ReadJson(const std::string& path) {
  std::ifstream in(path);
  if (!in) return nullptr;
  return nlohmann::json::parse(in);
}

fs::path ScratchDir(const std::string& name) {
  fs::path dir = fs::path(VPR_BINARY_DIR) / "test_scratch" / name;
  fs::create_directories(dir);
  return dir;
}

double MaxAbsDiff(const std::vector<float>& a, const std::vector<float>& b) {
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(static_cast<double>(a[i]) - b[i]));
  return worst;
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

class OracleParity : public ::testing::Test {
 protected:
  void SetUp() override {
    manifest_ = ReadJson(std::string(VPR_ORACLE_DIR) + "/manifest.json");
    ASSERT_FALSE(manifest_.is_null()) << "no oracle manifest in " << VPR_ORACLE_DIR
                                      << ": run the oracle_fixtures test first (ctest does)";
  }

  // Runs `vpr extract` on a case and returns the max abs difference to the reference.
  double RunCliCase(const nlohmann::json& c, const std::string& model_arg) {
    fs::path out = ScratchDir("parity") / (c["name"].get<std::string>() + ".npy");
    std::string cmd = ShellQuote(std::string(VPR_BINARY_DIR) + "/vpr") + " extract --model " + ShellQuote(model_arg) +
                      " --images " + ShellQuote(c["images"]) + " --out " + ShellQuote(out.string()) + " --threads 2" +
                      " --full-decode";  // PIL decodes JPEGs at full size
    for (const auto& f : c["flags"]) cmd += " " + ShellQuote(f.get<std::string>());
    cmd += " 2>" + ShellQuote(out.string() + ".log");
    int rc = std::system(cmd.c_str());
    EXPECT_EQ(rc, 0) << cmd << "\nsee " << out.string() << ".log";
    if (rc != 0) return INFINITY;
    NpyMatrix got = ReadNpy(out.string()), want = ReadNpy(c["reference"]);
    EXPECT_EQ(got.rows, want.rows);
    EXPECT_EQ(got.cols, want.cols);
    if (got.rows != want.rows || got.cols != want.cols) return INFINITY;
    return MaxAbsDiff(got.data, want.data);
  }

  nlohmann::json manifest_;
};

TEST_F(OracleParity, EveryCaseMatchesPyTorchThroughTheCli) {
  ASSERT_GE(manifest_.size(), 8u);
  for (const auto& c : manifest_) {
    SCOPED_TRACE(c["name"].get<std::string>());
    double diff = RunCliCase(c, c["checkpoint"]);
    std::cout << "  " << c["name"].get<std::string>() << " (" << c["format"].get<std::string>()
              << "): max |vpr - torch| = " << diff << "\n";
    EXPECT_LE(diff, kTolerance);
  }
}

TEST_F(OracleParity, PytorchNetVladRunFolderLoadsWithFlagsJson) {
  for (const auto& c : manifest_) {
    if (!c.contains("run_dir") || c["run_dir"].is_null()) continue;
    EXPECT_LE(RunCliCase(c, c["run_dir"]), kTolerance);
    return;
  }
  FAIL() << "the oracle wrote no run-folder case";
}

TEST_F(OracleParity, LegacyCheckpointOnGardensPointNightMatches) {
  for (const auto& c : manifest_) {
    if (c["name"] != "mnv2_c17_k64_tfpad_gp_night") continue;
    EXPECT_EQ(c["format"], "legacy");
    EXPECT_LE(RunCliCase(c, c["checkpoint"]), kTolerance);
    return;
  }
  GTEST_SKIP() << "no Gardens Point images in " << VPR_SHARED_DIR << "/data: the real-image case was not generated";
}

TEST_F(OracleParity, DecodedImagesMatchPil) {
  nlohmann::json decoded = ReadJson(std::string(VPR_ORACLE_DIR) + "/decoded/manifest.json");
  ASSERT_FALSE(decoded.is_null());
  for (const auto& d : decoded) {
    SCOPED_TRACE(d["reference"].get<std::string>());
    ResizeOptions resize;
    if (!d["resize"].is_null()) {
      resize.height = d["resize"][0];
      resize.width = d["resize"][1];
    }
    if (!d["max_side"].is_null()) resize.max_side = d["max_side"];
    at::Tensor image = ResizeImage(LoadImageRgb(d["image"]), resize).contiguous();
    NpyMatrix want = ReadNpy(d["reference"]);
    ASSERT_EQ(std::vector<int64_t>(image.sizes().begin(), image.sizes().end()), want.shape);
    std::vector<float> got(image.data_ptr<float>(), image.data_ptr<float>() + image.numel());
    EXPECT_LE(MaxAbsDiff(got, want.data), 1e-6);
  }
}

TEST_F(OracleParity, TorchvisionBackboneFilesInitialiseTheEncoder) {
  nlohmann::json backbones = ReadJson(std::string(VPR_ORACLE_DIR) + "/backbones/manifest.json");
  ASSERT_FALSE(backbones.is_null());
  ASSERT_FALSE(backbones.empty());
  for (const auto& b : backbones) {
    SCOPED_TRACE(b["name"].get<std::string>());
    ModelFlags flags;
    flags.arch = b["arch"];
    flags.cut = b["cut"];
    flags.normalize = b["normalize"];
    flags.tf_padding = b["tf_padding"].get<bool>();
    LoadedModel loaded = LoadModel(b["file"], flags);
    EXPECT_EQ(loaded.kind, "backbone");
    ResizeOptions resize;
    if (!b["max_side"].is_null()) resize.max_side = b["max_side"];
    torch::NoGradGuard no_grad;
    loaded.model->eval();
    at::Tensor features =
        loaded.model->LocalFeatures(ResizeImage(LoadImageRgb(b["image"]), resize).unsqueeze(0)).contiguous();
    NpyMatrix want = ReadNpy(b["reference"]);
    ASSERT_EQ(std::vector<int64_t>(features.sizes().begin(), features.sizes().end()), want.shape);
    std::vector<float> got(features.data_ptr<float>(), features.data_ptr<float>() + features.numel());
    EXPECT_LE(MaxAbsDiff(got, want.data), 1e-4);  // raw activations, not normalised
  }
}

TEST_F(OracleParity, CheckpointsWrittenByVprLoadInPythonWithTheSameDescriptors) {
  // A VGG with WPCA, a legacy vladv2, a TF-padded MobileNetV2 and a ResNet-50.
  const std::set<std::string> kCases = {"vgg16_k16_v2_wpca128", "vgg16_k64_v2_resize", "mnv2_c18_k16_tfpad_gen",
                                        "resnet50_layer4_k8"};
  int checked = 0;
  for (const auto& c : manifest_) {
    if (!kCases.count(c["name"].get<std::string>())) continue;
    SCOPED_TRACE(c["name"].get<std::string>());
    ModelFlags flags;
    flags.normalize = c["normalize"];
    flags.tf_padding = c["tf_padding"].get<bool>();
    LoadedModel loaded = LoadModel(c["checkpoint"], flags);
    fs::path dir = ScratchDir("roundtrip");
    std::string ckpt = (dir / (c["name"].get<std::string>() + ".pth")).string();
    SaveModel(ckpt, loaded.model, {{"epoch", 0}});
    // The re-saved checkpoint must give vpr the same descriptors as the original...
    double diff = RunCliCase(c, ckpt);
    EXPECT_LE(diff, kTolerance);
    // ...and Python, loading it with torch.load + load_state_dict(strict=True), too.
    std::string cmd = ShellQuote(VPR_ORACLE_PYTHON) + " " +
                      ShellQuote(std::string(VPR_SOURCE_DIR) + "/tests/oracle/check_roundtrip.py") + " " +
                      ShellQuote(ckpt) + " --images " + ShellQuote(c["images"]) + " --reference " +
                      ShellQuote((ScratchDir("parity") / (c["name"].get<std::string>() + ".npy")).string());
    if (!c["resize"].is_null())
      cmd += " --resize " + std::to_string(c["resize"][0].get<int>()) + "x" + std::to_string(c["resize"][1].get<int>());
    if (!c["max_side"].is_null()) cmd += " --max-side " + std::to_string(c["max_side"].get<int>());
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(kCases.size()));
}

}  // namespace
}  // namespace vpr
