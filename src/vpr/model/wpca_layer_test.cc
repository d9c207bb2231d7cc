#include "vpr/model/wpca_layer.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "vpr/model/model_io.h"
#include "vpr/model/test_model.h"
#include "vpr/util/check.h"

namespace vpr {
namespace {
namespace fs = std::filesystem;

// The model's descriptors of `images`, in eval mode without gradients.
at::Tensor Describe(VprModel& model, const at::Tensor& images) {
  torch::NoGradGuard no_grad;
  model->eval();
  return model->forward(images).contiguous();
}

Wpca FitOn(const at::Tensor& descriptors, int64_t out_dim) {
  WpcaOptions options;
  options.out_dim = out_dim;
  return FitWpca(descriptors.data_ptr<float>(), descriptors.size(0), descriptors.size(1), options);
}

TEST(SetWpca, ModelOutputIsTheNormalisedProjectionOfItsVlad) {
  VprModel model = TinyTestModel();
  torch::manual_seed(3);
  at::Tensor train = Describe(model, torch::rand({24, 3, 32, 32}));
  Wpca wpca = FitOn(train, 8);
  VprModel reduced = SetWpca(model, wpca);
  EXPECT_EQ(reduced->options().wpca_dim, 8);
  EXPECT_EQ(model->options().wpca_dim, 0);  // the input model is left alone

  at::Tensor images = torch::rand({3, 3, 32, 32});
  at::Tensor vlad = Describe(model, images);
  std::vector<float> want = wpca.Project(vlad.data_ptr<float>(), 3);
  at::Tensor got = Describe(reduced, images);
  ASSERT_EQ(got.sizes(), (std::vector<int64_t>{3, 8}));
  at::Tensor want_t = torch::from_blob(want.data(), {3, 8}, torch::kFloat);
  EXPECT_LT((got - want_t).abs().max().item<double>(), 1e-5);

  // Without the layer again: the K*D-d descriptors.
  VprModel full = WithoutWpca(reduced);
  EXPECT_LT((Describe(full, images) - vlad).abs().max().item<double>(), 1e-6);
}

TEST(SetWpca, CheckpointRoundTripInfersTheLayer) {
  VprModel model = TinyTestModel();
  torch::manual_seed(4);
  at::Tensor train = Describe(model, torch::rand({20, 3, 32, 32}));
  VprModel reduced = SetWpca(model, FitOn(train, 6));
  fs::path dir = fs::temp_directory_path() / "vpr_pca_test";
  fs::create_directories(dir);
  std::string path = (dir / "wpca6.pth").string();
  SaveModel(path, reduced);
  LoadedModel loaded = LoadModel(path, {});
  EXPECT_EQ(loaded.model->options().wpca_dim, 6);
  at::Tensor images = torch::rand({2, 3, 32, 32});
  EXPECT_LT((Describe(loaded.model, images) - Describe(reduced, images)).abs().max().item<double>(), 1e-6);
}

TEST(SetWpca, WrongShapesAreClearErrors) {
  VprModel model = TinyTestModel();  // K*D = 4 * 64
  EXPECT_THROW(SetWpca(model, torch::zeros({8, 100}), torch::zeros({8})), Error);
  EXPECT_THROW(SetWpca(model, torch::zeros({8, 256}), torch::zeros({7})), Error);
  EXPECT_EQ(SetWpca(model, torch::zeros({8, 256, 1, 1}), torch::zeros({8}))->options().wpca_dim, 8);
}

}  // namespace
}  // namespace vpr
