#include "vpr/app/extract.h"

#include <gtest/gtest.h>

#include "vpr/model/test_model.h"

#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>

#include "vpr/util/check.h"
#include "vpr/util/npy.h"

namespace vpr {
namespace {
namespace fs = std::filesystem;

fs::path WriteImages(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / "vpr_extract_test" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  cv::Mat a(24, 32, CV_8UC3), b(24, 32, CV_8UC3), c(30, 20, CV_8UC3);
  cv::randu(a, 0, 255);
  cv::randu(b, 0, 255);
  cv::randu(c, 0, 255);
  cv::imwrite((dir / "a.png").string(), a);
  cv::imwrite((dir / "b.png").string(), b);
  cv::imwrite((dir / "d.png").string(), c);
  std::ofstream(dir / "c.jpg") << "this is not a jpeg";
  return dir;
}

TEST(Extract, CorruptImageIsSkippedListedAndTheRestKeepTheirOrder) {
  fs::path dir = WriteImages("corrupt");
  VprModel model = TinyTestModel();
  std::vector<std::string> paths = {(dir / "a.png").string(), (dir / "b.png").string(), (dir / "c.jpg").string(),
                                    (dir / "d.png").string()};
  ExtractOptions options;
  options.batch_size = 3;
  ExtractResult result = ExtractDescriptors(model, paths, options);
  ASSERT_EQ(result.paths.size(), 3u);
  EXPECT_EQ(result.paths[2], paths[3]);
  EXPECT_EQ(result.indices, (std::vector<int64_t>{0, 1, 3}));  // each row's input position
  ASSERT_EQ(result.failures.size(), 1u);
  EXPECT_EQ(result.failures[0].path, paths[2]);
  EXPECT_NE(result.failures[0].reason.find("cannot decode"), std::string::npos);
  EXPECT_EQ(result.descriptors.sizes(), (std::vector<int64_t>{3, 4 * 64}));
  EXPECT_EQ(result.Summary()["failed"], 1);

  // Batched rows equal one-at-a-time rows.
  options.batch_size = 1;
  ExtractResult single = ExtractDescriptors(model, paths, options);
  EXPECT_LT((single.descriptors - result.descriptors).abs().max().item<double>(), 1e-6);
}

TEST(Extract, DescriptorsAndNamesAreWrittenSideBySide) {
  fs::path dir = WriteImages("write");
  VprModel model = TinyTestModel();
  ExtractResult result = ExtractDescriptors(model, {(dir / "a.png").string(), (dir / "d.png").string()}, {});
  std::string out = (dir / "out" / "desc.npy").string();
  WriteDescriptors(out, result);
  NpyMatrix m = ReadNpy(out);
  EXPECT_EQ(m.rows, 2);
  EXPECT_EQ(m.cols, 256);
  EXPECT_FLOAT_EQ(m.data[5], result.descriptors[0][5].item<float>());
  std::ifstream names(NamesPathFor(out));
  std::string first, second;
  std::getline(names, first);
  std::getline(names, second);
  EXPECT_EQ(NamesPathFor(out), (dir / "out" / "desc.names.txt").string());
  EXPECT_EQ(first, (dir / "a.png").string());
  EXPECT_EQ(second, (dir / "d.png").string());
}

// vpr extract streams batches into the .npy: the same rows as the in-memory result, with
// either way of decoding, and the summary says how it ran.
TEST(Extract, StreamedToNpyEqualsInMemoryWithEitherDecoding) {
  fs::path dir = WriteImages("stream");
  VprModel model = TinyTestModel();
  std::vector<std::string> paths = {(dir / "a.png").string(), (dir / "c.jpg").string(), (dir / "b.png").string(),
                                    (dir / "d.png").string()};
  ExtractOptions options;
  options.batch_size = 1;
  ExtractResult memory = ExtractDescriptors(model, paths, options);
  for (int decode_threads : {0, 2}) {
    options.decode_threads = decode_threads;
    std::string out = (dir / ("s" + std::to_string(decode_threads) + ".npy")).string();
    ExtractResult streamed = ExtractToNpy(model, paths, options, out);
    EXPECT_EQ(streamed.descriptors.size(0), 0);
    EXPECT_EQ(streamed.paths, memory.paths);
    ASSERT_EQ(streamed.failures.size(), 1u);
    NpyMatrix m = ReadNpy(out);
    ASSERT_EQ(m.rows, 3);
    at::Tensor rows = at::from_blob(m.data.data(), {m.rows, m.cols}, at::kFloat);
    EXPECT_TRUE(at::equal(rows, memory.descriptors)) << "decode threads " << decode_threads;
    nlohmann::json summary = streamed.Summary();
    EXPECT_EQ(summary["dim"], 256);
    EXPECT_EQ(summary["threads"], options.runtime.ResolvedThreads());
    EXPECT_EQ(summary["precision"], "fp32");
  }
}

TEST(Extract, Bf16DescriptorsAreCloseToFp32AndTheModelKeepsFp32Weights) {
  fs::path dir = WriteImages("bf16");
  VprModel model = TinyTestModel();
  std::vector<std::string> paths = {(dir / "a.png").string(), (dir / "b.png").string()};
  ExtractOptions options;
  ExtractResult fp32 = ExtractDescriptors(model, paths, options);
  options.runtime.precision = "bf16";
  ExtractResult bf16 = ExtractDescriptors(model, paths, options);
  EXPECT_EQ(bf16.precision, "bf16");
  EXPECT_EQ(bf16.descriptors.scalar_type(), at::kFloat);
  // Unit-length rows: cosine similarity from the dot product.
  at::Tensor cosine = (fp32.descriptors * bf16.descriptors).sum(1);
  EXPECT_GT(cosine.min().item<double>(), 0.99);
  EXPECT_FALSE(at::equal(fp32.descriptors, bf16.descriptors));  // it did run in bf16
  for (const auto& p : model->parameters()) EXPECT_EQ(p.scalar_type(), at::kFloat);
  EXPECT_EQ(model->inference_precision(), Precision::kFp32);  // released after the run
  options.runtime.precision = "fp32";
  EXPECT_TRUE(at::equal(ExtractDescriptors(model, paths, options).descriptors, fp32.descriptors));
}

// A caller that describes frame by frame (PlaceRecognizer) prepares the model once: the
// extractor then runs that copy and leaves it in place, instead of making its own per call.
TEST(Extract, APreparedModelIsRunAsItIsAndKeptPrepared) {
  fs::path dir = WriteImages("prepared");
  VprModel model = TinyTestModel();
  std::vector<std::string> paths = {(dir / "a.png").string(), (dir / "b.png").string()};
  ExtractOptions options;
  options.runtime.precision = "bf16";  // a copy that differs from the fp32 weights
  const ExtractResult own = ExtractDescriptors(model, paths, options);
  EXPECT_FALSE(model->inference_prepared());  // its own copy, released

  model->PrepareInference(Precision::kBf16);
  for (int call = 0; call < 2; ++call) {
    const ExtractResult kept = ExtractDescriptors(model, paths, options);
    EXPECT_TRUE(at::equal(kept.descriptors, own.descriptors)) << "call " << call;
    EXPECT_EQ(kept.precision, "bf16");
    ASSERT_TRUE(model->inference_prepared()) << "call " << call;
    EXPECT_EQ(model->inference_precision(), Precision::kBf16);
  }
  options.runtime.precision = "fp32";  // not what it was prepared for: refused, not silently bf16
  EXPECT_THROW(ExtractDescriptors(model, paths, options), Error);
  EXPECT_TRUE(model->inference_prepared());
  model->ReleaseInference();
}

TEST(Extract, ImageTooSmallForTheNetworkIsAFailureNotACrash) {
  // 1x1 pixels: the max-pool of the VGG cut cannot run on it.
  ModelOptions options;
  options.backbone.cut = 5;
  options.netvlad.num_clusters = 2;
  VprModel pooled(options);
  ExtractResult result = ExtractDescriptors(pooled, {at::rand({3, 1, 1}), at::rand({3, 8, 8})}, {"tiny", "ok"}, {});
  ASSERT_EQ(result.failures.size(), 1u);
  EXPECT_EQ(result.failures[0].path, "tiny");
  EXPECT_EQ(result.paths, std::vector<std::string>{"ok"});
}

TEST(Extract, CudaWithoutAGpuIsAClearError) {
  if (torch::cuda::is_available()) GTEST_SKIP() << "a GPU is present";
  RuntimeOptions runtime;
  runtime.device = "cuda";
  try {
    runtime.Apply();
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("use --device cpu"), std::string::npos);
  }
}

}  // namespace
}  // namespace vpr
