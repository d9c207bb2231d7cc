#include "vpr/model/vpr_model.h"

#include <gtest/gtest.h>

#include "vpr/util/check.h"

namespace vpr {
namespace {

VprModel SmallModel(const std::string& arch, int cut, int64_t wpca_dim) {
  torch::manual_seed(7);
  ModelOptions options;
  options.backbone.arch = arch;
  options.backbone.cut = cut;
  options.netvlad.num_clusters = 4;
  options.wpca_dim = wpca_dim;
  options.Resolve();
  VprModel model(options);
  model->eval();
  return model;
}

// Training keeps the output of frozen layers and runs only the rest: that must be the
// same computation as forward(), for every split point.
TEST(VprModel, ForwardEqualsPrefixThenDescribeFromAtEverySplit) {
  torch::NoGradGuard no_grad;
  for (auto [arch, cut, wpca] : {std::make_tuple("mobilenet_v2", 17, 0), std::make_tuple("resnet18", 7, 8)}) {
    VprModel model = SmallModel(arch, cut, wpca);
    torch::Tensor images = torch::rand({2, 3, 64, 96});
    torch::Tensor expected = model->forward(images);
    const auto layers = static_cast<int64_t>(model->encoder->size());
    for (int64_t split = 0; split <= layers; ++split) {
      torch::Tensor got = model->DescribeFrom(model->EncoderPrefix(images, split), split);
      EXPECT_TRUE(torch::equal(got, expected)) << arch << " split at layer " << split;
    }
    EXPECT_TRUE(torch::equal(model->LocalFeatures(images), model->EncoderPrefix(images, layers))) << arch;
  }
}

TEST(VprModel, SplitOutsideTheEncoderIsRejected) {
  VprModel model = SmallModel("resnet18", 7, 0);
  torch::Tensor images = torch::rand({1, 3, 32, 32});
  EXPECT_THROW(model->EncoderPrefix(images, 99), Error);
  EXPECT_THROW(model->DescribeFrom(images, -1), Error);
}

}  // namespace
}  // namespace vpr
