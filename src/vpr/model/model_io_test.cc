#include "vpr/model/model_io.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "vpr/util/atomic_file.h"
#include "vpr/util/check.h"
#include "vpr/util/thrown_message.h"

namespace vpr {
namespace {
namespace fs = std::filesystem;

std::string TempPath(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / "vpr_model_io_test";
  fs::create_directories(dir);
  return (dir / name).string();
}

// A small model: VGG16 up to conv1_2 (64-d) + NetVLAD K=4.
VprModel SmallModel(bool vladv2 = false, int64_t wpca = 0) {
  torch::manual_seed(5);
  ModelOptions options;
  options.backbone.cut = 4;
  options.netvlad.num_clusters = 4;
  options.netvlad.vladv2 = vladv2;
  options.wpca_dim = wpca;
  options.normalize = "tf";
  VprModel model(options);
  model->pool->InitRandom();
  return model;
}

TEST(ModelIo, SaveThenLoadGivesTheSameModelAndOptions) {
  VprModel model = SmallModel(true, 8);
  std::string path = TempPath("roundtrip.pth");
  SaveModel(path, model, {{"epoch", 7}});
  LoadedModel loaded = LoadModel(path, {});
  EXPECT_EQ(loaded.format, "zip");
  EXPECT_EQ(loaded.kind, "netvlad");
  EXPECT_EQ(loaded.info["epoch"], 7);
  const ModelOptions& o = loaded.model->options();
  EXPECT_EQ(o.backbone.arch, "vgg16");
  EXPECT_EQ(o.backbone.ResolvedCut(), 4);
  EXPECT_EQ(o.netvlad.num_clusters, 4);
  EXPECT_TRUE(o.netvlad.vladv2);
  EXPECT_EQ(o.wpca_dim, 8);
  EXPECT_EQ(o.normalize, "tf");  // remembered by the checkpoint
  torch::NoGradGuard no_grad;
  model->eval();
  torch::Tensor x = torch::rand({2, 3, 20, 24});
  EXPECT_TRUE(torch::equal(model->forward(x), loaded.model->forward(x)));
}

TEST(ModelIo, ContradictingFlagsAreErrors) {
  VprModel model = SmallModel();
  std::string path = TempPath("flags.pth");
  SaveModel(path, model);
  ModelFlags flags;
  flags.clusters = 8;
  EXPECT_NE(ThrownMessage([&] { LoadModel(path, flags); }).find("--clusters 8 contradicts the checkpoint"),
            std::string::npos);
  flags = {};
  flags.arch = "mobilenet_v2";
  EXPECT_NE(ThrownMessage([&] { LoadModel(path, flags); }).find("--backbone mobilenet_v2 contradicts"), std::string::npos);
  flags = {};
  flags.normalize = "imagenet";
  EXPECT_NE(ThrownMessage([&] { LoadModel(path, flags); }).find("saved with normalize tf"), std::string::npos);
  flags = {};
  flags.vladv2 = true;
  EXPECT_NE(ThrownMessage([&] { LoadModel(path, flags); }).find("--vladv2"), std::string::npos);
}

TEST(ModelIo, MissingUnexpectedAndWrongShapedKeysAreListed) {
  VprModel model = SmallModel();
  StateDict state = ModelStateDict(*model);
  StateDict broken;
  for (auto& [key, value] : state) {
    if (key == "encoder.2.bias") continue;                                   // missing
    if (key == "encoder.2.weight") value = torch::zeros({64, 64, 5, 5});  // wrong shape
    broken.emplace_back(key, value);
  }
  broken.emplace_back("pool.extra", torch::zeros({3}));  // unexpected
  std::string path = TempPath("broken.pth");
  SaveCheckpoint(path, broken, {{"vpr", model->options().ToJson()}});
  std::string message = ThrownMessage([&] { LoadModel(path, {}); });
  EXPECT_NE(message.find("missing keys: encoder.2.bias"), std::string::npos) << message;
  EXPECT_NE(message.find("unexpected keys: pool.extra"), std::string::npos) << message;
  EXPECT_NE(message.find("wrong shapes: encoder.2.weight (file [64, 64, 5, 5], model [64, 64, 3, 3])"),
            std::string::npos)
      << message;
}

TEST(ModelIo, TruncatedCheckpointNamesTheFile) {
  VprModel model = SmallModel();
  std::string path = TempPath("truncated.pth");
  SaveModel(path, model);
  std::string bytes = ReadFileBytes(path);
  WriteFileAtomic(path, bytes.substr(0, bytes.size() / 2));
  std::string message = ThrownMessage([&] { LoadModel(path, {}); });
  EXPECT_NE(message.find(path), std::string::npos) << message;
}

TEST(ModelIo, FileWithoutAModelSaysWhatItExpected) {
  std::string path = TempPath("not_a_model.pth");
  SaveCheckpoint(path, {{"head.weight", torch::zeros({2, 2})}}, nlohmann::json::object());
  std::string message = ThrownMessage([&] { LoadModel(path, {}); });
  EXPECT_NE(message.find("neither a NetVLAD checkpoint"), std::string::npos) << message;
  EXPECT_NE(ThrownMessage([&] { LoadModel(TempPath("absent.pth"), {}); }).find("does not exist"), std::string::npos);
}

TEST(ModelIo, BackboneOnlyFileGetsAFreshNetVLAD) {
  VprModel model = SmallModel();
  StateDict torchvision;
  for (const auto& [key, value] : ModelStateDict(*model->encoder)) torchvision.emplace_back("features." + key, value);
  torchvision.emplace_back("classifier.0.weight", torch::zeros({10, 10}));
  std::string path = TempPath("backbone.pth");
  SaveCheckpoint(path, torchvision, nlohmann::json::object());
  ModelFlags flags;
  flags.cut = 4;
  flags.clusters = 8;
  LoadedModel loaded = LoadModel(path, flags);
  EXPECT_EQ(loaded.kind, "backbone");
  EXPECT_EQ(loaded.model->options().backbone.arch, "vgg16");
  EXPECT_EQ(loaded.model->options().netvlad.num_clusters, 8);
  EXPECT_TRUE(torch::equal(loaded.model->encoder->named_parameters()["0.weight"],
                           model->encoder->named_parameters()["0.weight"]));
}

// avg / max pooling (pytorch-NetVlad's --pooling avg|max): a backbone file with --pooling
// gives the baseline; saved, it keeps only encoder.* keys and remembers its pooling.
TEST(ModelIo, GlobalPoolingModelsLoadFromBackbonesAndRoundTrip) {
  VprModel netvlad = SmallModel();
  StateDict torchvision;
  for (const auto& [key, value] : ModelStateDict(*netvlad->encoder)) torchvision.emplace_back("features." + key, value);
  std::string backbone = TempPath("backbone_for_avg.pth");
  SaveCheckpoint(backbone, torchvision, nlohmann::json::object());
  for (std::string pooling : {"avg", "max"}) {
    ModelFlags flags;
    flags.cut = 4;
    flags.pooling = pooling;
    LoadedModel loaded = LoadModel(backbone, flags);
    VprModel& model = loaded.model;
    ASSERT_EQ(model->options().pooling, pooling);
    EXPECT_EQ(model->options().DescriptorDim(), 64);
    EXPECT_FALSE(model->pool);
    torch::NoGradGuard no_grad;
    model->eval();
    torch::Tensor x = torch::rand({2, 3, 20, 24});
    torch::Tensor local = model->LocalFeatures(x);
    torch::Tensor pooled = pooling == "avg" ? local.mean({2, 3}) : local.amax({2, 3});
    torch::Tensor expected = pooled / pooled.norm(2, 1, true);
    EXPECT_TRUE(torch::allclose(model->forward(x), expected, 1e-5, 1e-6)) << pooling;

    std::string saved = TempPath(pooling + "_model.pth");
    SaveModel(saved, model);
    for (const auto& [key, value] : ExtractStateDict(LoadTorchFile(saved), saved))
      EXPECT_EQ(key.rfind("encoder.", 0), 0u) << key;
    LoadedModel again = LoadModel(saved, {});
    EXPECT_EQ(again.model->options().pooling, pooling);
    EXPECT_TRUE(torch::equal(again.model->forward(x), model->forward(x))) << pooling;
  }
  std::string with_netvlad = TempPath("netvlad_not_avg.pth");
  SaveModel(with_netvlad, netvlad);
  ModelFlags avg;
  avg.pooling = "avg";
  EXPECT_NE(ThrownMessage([&] { LoadModel(with_netvlad, avg); }).find("--pooling avg asked for, but the checkpoint has a "
                                                                   "NetVLAD layer"),
            std::string::npos);
}

}  // namespace
}  // namespace vpr
