#include "vpr/app/cluster_images.h"

#include <gtest/gtest.h>

#include "vpr/model/test_model.h"

#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>

#include "vpr/model/model_io.h"
#include "vpr/util/check.h"
#include "vpr/util/npy.h"

namespace vpr {
namespace {
namespace fs = std::filesystem;

// Five random images and one that is not an image.
std::vector<std::string> WriteImages(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / "vpr_cluster_images_test" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::vector<std::string> paths;
  cv::theRNG().state = 5;
  for (int i = 0; i < 5; ++i) {
    cv::Mat image(24, 32, CV_8UC3);
    cv::randu(image, 0, 255);
    paths.push_back((dir / ("img" + std::to_string(i) + ".png")).string());
    cv::imwrite(paths.back(), image);
  }
  paths.push_back((dir / "broken.jpg").string());
  std::ofstream(paths.back()) << "not a jpeg";
  return paths;
}

ClusterImagesOptions Options(uint64_t seed) {
  ClusterImagesOptions options;
  options.cluster.samples_per_image = 20;
  options.cluster.kmeans.iterations = 10;
  options.cluster.kmeans.seed = seed;
  return options;
}

// The checkpoint written and read back, as a user of `vpr cluster` would see it.
StateDict SavedState(const std::vector<std::string>& paths, uint64_t seed, const std::string& file) {
  VprModel model = TinyTestModel();
  ClusterImagesOptions options = Options(seed);
  ClusterImagesResult result = ClusterImages(model, paths, options);
  SaveModel(file, model, result.Info(options));
  return ModelStateDict(*LoadModel(file, {}).model);
}

TEST(ClusterImages, SameSeedGivesIdenticalCheckpointTensors) {
  std::vector<std::string> paths = WriteImages("seed");
  fs::path dir = fs::path(paths[0]).parent_path();
  StateDict a = SavedState(paths, 7, (dir / "a.pth").string());
  StateDict b = SavedState(paths, 7, (dir / "b.pth").string());
  StateDict c = SavedState(paths, 8, (dir / "c.pth").string());
  ASSERT_EQ(a.size(), b.size());
  ASSERT_EQ(a.size(), c.size());
  bool centroids_differ = false;
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].first, b[i].first);
    EXPECT_TRUE(a[i].second.equal(b[i].second)) << a[i].first;
    if (a[i].first == "pool.centroids") centroids_differ = !a[i].second.equal(c[i].second);
  }
  EXPECT_TRUE(centroids_differ) << "another seed gave the same centroids";
}

TEST(ClusterImages, UnreadableImageIsSkippedAndListedAndSamplesAreCounted) {
  std::vector<std::string> paths = WriteImages("broken");
  VprModel model = TinyTestModel();
  at::Tensor before = model->pool->centroids.clone();
  ClusterImagesOptions options = Options(1);
  ClusterImagesResult result = ClusterImages(model, paths, options);
  ASSERT_EQ(result.failures.size(), 1u);
  EXPECT_EQ(result.failures[0].path, paths.back());
  EXPECT_EQ(result.images_used, 5);
  EXPECT_EQ(result.num_samples, 5 * 20);
  EXPECT_EQ(result.centroids, "k-means");
  EXPECT_GT(result.alpha, 0);
  EXPECT_FALSE(model->pool->centroids.equal(before));
  nlohmann::json info = result.Info(options);
  EXPECT_EQ(info["source"], "vpr cluster");
  EXPECT_EQ(info["num_samples"], 100);
  EXPECT_EQ(info["failures"][0]["path"], paths.back());
}

TEST(ClusterImages, GivenCentroidsAreUsedAndAlphaComesFromSamples) {
  std::vector<std::string> paths = WriteImages("given");
  fs::path dir = fs::path(paths[0]).parent_path();
  at::Tensor given = at::randn({4, 64});
  WriteNpy((dir / "c.npy").string(), given.data_ptr<float>(), 4, 64);
  VprModel model = TinyTestModel();
  ClusterImagesOptions options = Options(1);
  options.centroids_path = (dir / "c.npy").string();
  ClusterImagesResult result = ClusterImages(model, paths, options);
  EXPECT_TRUE(model->pool->centroids.equal(given));
  EXPECT_EQ(result.centroids, options.centroids_path);
  EXPECT_GT(result.alpha, 0);

  WriteNpy((dir / "bad.npy").string(), given.data_ptr<float>(), 2, 128);
  options.centroids_path = (dir / "bad.npy").string();
  try {
    ClusterImages(model, paths, options);
    FAIL() << "a 2 x 128 centroid file was accepted for K = 4, D = 64";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("must be K x D = 4 x 64"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace vpr
