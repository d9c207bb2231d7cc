#include "vpr/model/backbone.h"

#include <gtest/gtest.h>

#include <set>

#include "vpr/util/check.h"

namespace vpr {
namespace {

std::set<std::string> Keys(torch::nn::Module& module) {
  std::set<std::string> keys;
  for (const auto& p : module.named_parameters()) keys.insert(p.key());
  for (const auto& b : module.named_buffers()) keys.insert(b.key());
  return keys;
}

class BackboneCuts : public ::testing::TestWithParam<std::tuple<std::string, int>> {};

TEST_P(BackboneCuts, OutputDimMatchesTheForwardPass) {
  auto [arch, cut] = GetParam();
  BackboneOptions options;
  options.arch = arch;
  options.cut = cut;
  auto encoder = MakeEncoder(options);
  encoder->eval();
  torch::NoGradGuard no_grad;
  torch::Tensor y = encoder->forward(torch::rand({1, 3, 64, 96}));
  EXPECT_EQ(y.size(1), options.OutputDim());
}

INSTANTIATE_TEST_SUITE_P(Archs, BackboneCuts,
                         ::testing::Values(std::make_tuple("vgg16", 0), std::make_tuple("vgg16", 23),
                                           std::make_tuple("mobilenet_v2", 0), std::make_tuple("mobilenet_v2", 18),
                                           std::make_tuple("mobilenet_v2", 19), std::make_tuple("resnet18", 7),
                                           std::make_tuple("resnet18", 8), std::make_tuple("resnet50", 7)));

TEST(Backbone, Vgg16KeysAreTorchvisionFeaturesUpToConv53) {
  BackboneOptions options;
  auto keys = Keys(*MakeEncoder(options));
  EXPECT_EQ(keys.size(), 26u);  // 13 convolutions, weight and bias
  EXPECT_TRUE(keys.count("0.weight"));
  EXPECT_TRUE(keys.count("28.bias"));
  EXPECT_FALSE(keys.count("30.weight"));
}

TEST(Backbone, MobileNetV2KeysFollowTorchvision) {
  BackboneOptions options;
  options.arch = "mobilenet_v2";
  auto keys = Keys(*MakeEncoder(options));
  for (const char* key : {"0.0.weight", "0.1.running_var", "1.conv.0.0.weight", "1.conv.1.weight", "1.conv.2.bias",
                          "2.conv.0.0.weight", "2.conv.1.1.num_batches_tracked", "16.conv.3.running_mean"})
    EXPECT_TRUE(keys.count(key)) << key;
  EXPECT_FALSE(keys.count("17.conv.0.0.weight"));
}

TEST(Backbone, ResNetKeysFollowTorchvision) {
  BackboneOptions options;
  options.arch = "resnet50";
  options.cut = 7;
  auto keys = Keys(*MakeEncoder(options));
  for (const char* key : {"0.weight", "1.running_mean", "4.0.conv3.weight", "4.0.downsample.0.weight",
                          "6.5.bn2.bias"})
    EXPECT_TRUE(keys.count(key)) << key;
  EXPECT_FALSE(keys.count("7.0.conv1.weight"));
}

TEST(Backbone, TfPaddingPadsBottomRightOnEvenSizes) {
  BackboneOptions options;
  options.arch = "mobilenet_v2";
  options.cut = 1;
  options.tf_padding = true;
  auto tf = MakeEncoder(options);
  options.tf_padding = false;
  auto symmetric = MakeEncoder(options);
  tf->eval();
  symmetric->eval();
  // Same weights. On even sizes TF pads 0 top/left and 1 bottom/right, symmetric
  // padding 1/1: the outputs differ. On odd sizes both pad 1/1.
  torch::NoGradGuard no_grad;
  auto src = symmetric->named_parameters(), dst = tf->named_parameters();
  for (const auto& p : src) dst[p.key()].copy_(p.value());
  for (int size : {8, 9}) {
    torch::Tensor x = torch::rand({1, 3, size, size});
    torch::Tensor a = tf->forward(x), b = symmetric->forward(x);
    EXPECT_EQ(a.sizes(), b.sizes()) << size;  // SAME keeps ceil(size / 2) either way
    if (size % 2 == 0) EXPECT_GT((a - b).abs().max().item<double>(), 1e-4) << "even sizes differ";
    else EXPECT_LT((a - b).abs().max().item<double>(), 1e-6) << "odd sizes pad 1/1 in both";
  }
}

TEST(Backbone, TorchvisionKeysMapIntoTheEncoder) {
  BackboneOptions vgg;
  EXPECT_EQ(TorchvisionKeyToEncoderKey(vgg, "features.28.weight"), "28.weight");
  EXPECT_EQ(TorchvisionKeyToEncoderKey(vgg, "classifier.0.weight"), "");
  BackboneOptions resnet;
  resnet.arch = "resnet18";
  resnet.cut = 7;
  EXPECT_EQ(TorchvisionKeyToEncoderKey(resnet, "bn1.bias"), "1.bias");
  EXPECT_EQ(TorchvisionKeyToEncoderKey(resnet, "layer3.1.conv2.weight"), "6.1.conv2.weight");
  EXPECT_EQ(TorchvisionKeyToEncoderKey(resnet, "layer4.0.conv1.weight"), "");
  EXPECT_EQ(TorchvisionKeyToEncoderKey(resnet, "fc.weight"), "");
}

TEST(Backbone, CheckRejectsUnknownArchAndMisplacedOptions) {
  BackboneOptions options;
  options.arch = "alexnet";
  EXPECT_THROW(options.Check(), Error);
  options.arch = "vgg16";
  options.tf_padding = true;
  EXPECT_THROW(options.Check(), Error);
  options.tf_padding = false;
  options.cut = 40;
  EXPECT_THROW(options.Check(), Error);
}

}  // namespace
}  // namespace vpr
