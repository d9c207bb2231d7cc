#include "vpr/app/pca.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "vpr/app/test_model.h"
#include "vpr/model/model_io.h"
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

TEST(RecallVsDim, ReportsEachUsableDimAndSkipsTheOthers) {
  // 150 places in 40-d; each query is its place's database row plus noise.
  const int64_t n = 150, dim = 40;
  std::mt19937 rng(5);
  std::normal_distribution<float> gauss;
  std::vector<float> db(n * dim), queries(n * dim);
  std::vector<std::vector<int64_t>> positives(n);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < dim; ++j) {
      db[i * dim + j] = gauss(rng) / (1.0f + j);  // decaying spectrum, as real descriptors
      queries[i * dim + j] = db[i * dim + j] + 0.02f * gauss(rng);
    }
    positives[i] = {i};
  }
  RecallVsDimOptions options;
  options.dims = {0, 64, 150, 16, 4};
  options.recall_at = {1, 5};
  std::vector<DimRecall> rows = RecallVsDim(db.data(), n, queries.data(), n, dim, positives, options);
  ASSERT_EQ(rows.size(), 3u);  // 64 > dim and 150 >= n are skipped
  EXPECT_EQ(rows[0].dim, 40);
  EXPECT_FALSE(rows[0].whitened);
  EXPECT_EQ(rows[1].dim, 16);
  EXPECT_EQ(rows[1].bytes_per_descriptor, 64);
  EXPECT_TRUE(rows[1].whitened);
  EXPECT_EQ(rows[2].dim, 4);
  EXPECT_GE(rows[0].recall.at(1), 0.95);
  EXPECT_GE(rows[1].recall.at(5), 0.9);
  EXPECT_LE(rows[2].recall.at(1), rows[1].recall.at(1));  // 4 dims cannot tell 150 places apart as well
  EXPECT_EQ(rows[1].ToJson()["recall_at"].size(), 2u);
}

}  // namespace
}  // namespace vpr
