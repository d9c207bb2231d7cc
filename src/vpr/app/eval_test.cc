#include "vpr/app/eval.h"

#include <gtest/gtest.h>

#include "vpr/model/test_model.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <regex>

#include "vpr/app/cluster_images.h"
#include "vpr/app/report_html.h"
#include "vpr/eval/recall.h"
#include "vpr/image/image_list.h"
#include "vpr/model/model_io.h"
#include "vpr/test_config.h"
#include "vpr/util/atomic_file.h"
#include "vpr/util/check.h"
#include "vpr/util/logging.h"
#include "vpr/util/npy.h"

namespace vpr {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

std::string Name(int i) { return fmt::format("{:03d}.png", i); }

// Six distinct random places; query i shows place i + 1 (the last shows itself) with a
// little noise, so its nearest database image is one frame away.
fs::path WriteOffByOneRoute(const std::string& name) {
  fs::path root = fs::temp_directory_path() / "vpr_eval_test" / name;
  fs::remove_all(root);
  fs::create_directories(root / "db");
  fs::create_directories(root / "q");
  cv::theRNG().state = 11;
  std::vector<cv::Mat> places;
  for (int i = 0; i < 6; ++i) {
    places.emplace_back(32, 32, CV_8UC3);
    cv::randu(places.back(), 0, 255);
    cv::imwrite((root / "db" / Name(i)).string(), places.back());
  }
  for (int i = 0; i < 6; ++i) {
    cv::Mat noise(32, 32, CV_8UC3), query;
    cv::randu(noise, 0, 3);
    cv::add(places[std::min(i + 1, 5)], noise, query);
    cv::imwrite((root / "q" / Name(i)).string(), query);
  }
  return root;
}

EvalOptions Options(const fs::path& out) {
  EvalOptions options;
  options.out_dir = out.string();
  options.top_k = 3;
  options.recall_at = {1, 2};
  return options;
}

json ReadJson(const fs::path& path) { return json::parse(ReadFileBytes(path.string())); }

TEST(Eval, FrameToleranceDecidesWhatIsCorrect) {
  fs::path root = WriteOffByOneRoute("tolerance");
  VprModel model = TinyTestModel();
  EvalResult strict = RunEval(model, LoadFrameAlignedDataset((root / "db").string(), (root / "q").string(), 0),
                              Options(root / "out0"));
  EvalResult loose = RunEval(model, LoadFrameAlignedDataset((root / "db").string(), (root / "q").string(), 1),
                             Options(root / "out1"));
  // Query i retrieves database i + 1 first: a miss at tolerance 0 except the last query.
  for (int q = 0; q < 6; ++q) EXPECT_EQ(loose.report.knn.id(q, 0), std::min(q + 1, 5)) << "query " << q;
  EXPECT_NEAR(strict.report.scores.recall.at(1), 1.0 / 6, 1e-9);
  EXPECT_EQ(strict.report.scores.hits.at(1), 1);
  EXPECT_EQ(loose.report.scores.recall.at(1), 1.0);
  EXPECT_EQ(loose.report.scores.hits.at(2), 6);
}

TEST(Eval, WritesEveryOutputAndTheyAgree) {
  fs::path root = WriteOffByOneRoute("outputs");
  VprModel model = TinyTestModel();
  fs::path out = root / "out";
  EvalResult result =
      RunEval(model, LoadFrameAlignedDataset((root / "db").string(), (root / "q").string(), 1), Options(out));

  json metrics = ReadJson(out / "metrics.json");
  EXPECT_EQ(metrics["format_version"], 1);
  EXPECT_EQ(metrics["recall_at"]["1"], 1.0);
  EXPECT_EQ(metrics["hits_at"]["2"], 6);
  EXPECT_EQ(metrics["num_queries"], 6);
  EXPECT_EQ(metrics["bytes_per_descriptor"], 4 * 64 * 4);
  EXPECT_GT(metrics["ms_per_image"].get<double>(), 0);
  EXPECT_GE(metrics["ms_per_query"].get<double>(), 0);
  EXPECT_EQ(metrics["model"]["num_clusters"], 4);
  EXPECT_EQ(metrics["dataset"]["frame_tolerance"], 1);
  EXPECT_EQ(metrics["image_size"], json({{"mode", "native"}}));
  EXPECT_NE(metrics["model_description"].get<std::string>().find("K=4"), std::string::npos);
  EXPECT_EQ(metrics["pr_auc"], 1.0);  // every top-1 correct: precision 1 at every threshold
  EXPECT_EQ(metrics["recall_at_100_precision"], 1.0);

  json predictions = ReadJson(out / "predictions.json");
  const json& q0 = predictions["queries"][0];
  EXPECT_EQ(q0["name"], "q/000.png");
  EXPECT_EQ(q0["top_k_ids"][0], 1);
  EXPECT_EQ(q0["top_k_names"][0], "db/001.png");
  EXPECT_EQ(q0["correct"][0], true);
  EXPECT_EQ(q0["positives"], json({0, 1}));
  EXPECT_EQ(q0["distances"].size(), 3u);
  EXPECT_LE(q0["distances"][0].get<double>(), q0["distances"][1].get<double>());

  json submission = ReadJson(out / "submission.json");
  ASSERT_EQ(submission["Query"].size(), 6u);
  EXPECT_EQ(submission["Query"][4]["id"], 4);
  EXPECT_EQ(submission["Query"][4]["positive"], predictions["queries"][4]["top_k_ids"]);

  std::ifstream pairs(out / "pairs.txt");
  std::string line;
  std::vector<std::string> lines;
  while (std::getline(pairs, line)) lines.push_back(line);
  ASSERT_EQ(lines.size(), 6u * 3);
  EXPECT_EQ(lines[0], "q/000.png db/001.png");

  EXPECT_EQ(ReadNpy((out / "database.npy").string()).rows, 6);
  EXPECT_EQ(ReadNpy((out / "queries.npy").string()).cols, 256);
  EXPECT_TRUE(fs::exists(out / "queries.names.txt"));
}

TEST(Eval, UnreadableQueryIsAReportedMissAndUnreadableDatabaseImageShiftsNothing) {
  fs::path root = WriteOffByOneRoute("broken");
  std::ofstream(root / "q" / Name(2)) << "not a png";
  std::ofstream(root / "db" / Name(0)) << "not a png";
  VprModel model = TinyTestModel();
  fs::path out = root / "out";
  EvalResult result =
      RunEval(model, LoadFrameAlignedDataset((root / "db").string(), (root / "q").string(), 1), Options(out));
  ASSERT_EQ(result.run.failed_queries.size(), 1u);
  EXPECT_EQ(result.run.failed_queries[0].path, (root / "q" / Name(2)).string());
  ASSERT_EQ(result.run.failed_database.size(), 1u);
  // Queries keep their own ids and database ids stay dataset indices (row 0 is db/001).
  EXPECT_EQ(result.report.knn.id(0, 0), 1);
  EXPECT_EQ(result.report.knn.id(3, 0), 4);
  EXPECT_EQ(result.report.knn.id(2, 0), -1);
  EXPECT_NEAR(result.report.scores.recall.at(1), 5.0 / 6, 1e-9);

  json metrics = ReadJson(out / "metrics.json");
  EXPECT_EQ(metrics["num_queries"], 6);
  EXPECT_EQ(metrics["num_queries_described"], 5);
  EXPECT_EQ(metrics["failed_queries"][0]["path"], (root / "q" / Name(2)).string());
  EXPECT_EQ(metrics["failed_database"].size(), 1u);
  json predictions = ReadJson(out / "predictions.json");
  EXPECT_EQ(predictions["queries"][2]["described"], false);
  EXPECT_TRUE(predictions["queries"][2]["top_k_ids"].empty());
  EXPECT_EQ(predictions["queries"][3]["name"], "q/003.png");
  EXPECT_TRUE(ReadJson(out / "submission.json")["Query"][2]["positive"].empty());
}

TEST(Eval, SecondRunReusesCachedDescriptorsAndAChangedImageInvalidatesThem) {
  fs::path root = WriteOffByOneRoute("cache");
  VprModel model = TinyTestModel();
  Dataset dataset = LoadFrameAlignedDataset((root / "db").string(), (root / "q").string(), 1);
  EvalOptions options = Options(root / "out1");
  options.cache_dir = (root / "cache").string();
  EvalResult first = RunEval(model, dataset, options);
  options.out_dir = (root / "out2").string();
  EvalResult second = RunEval(model, dataset, options);
  json m1 = ReadJson(root / "out1" / "metrics.json"), m2 = ReadJson(root / "out2" / "metrics.json");
  EXPECT_EQ(m1["descriptors_from_cache"], json({{"database", false}, {"queries", false}}));
  EXPECT_EQ(m2["descriptors_from_cache"], json({{"database", true}, {"queries", true}}));
  EXPECT_EQ(first.report.knn.ids, second.report.knn.ids);
  EXPECT_EQ(first.report.knn.distances, second.report.knn.distances);
  EXPECT_EQ(m1["model_fingerprint"], m2["model_fingerprint"]);
  EXPECT_EQ(m1["dataset_fingerprint"].get<std::string>().size(), 32u);

  // Another model, or a query image rewritten, is a miss for what changed only.
  std::ofstream(root / "q" / Name(0)) << "now unreadable";
  options.out_dir = (root / "out3").string();
  EvalResult third = RunEval(model, dataset, options);
  EXPECT_EQ(ReadJson(root / "out3" / "metrics.json")["descriptors_from_cache"],
            json({{"database", true}, {"queries", false}}));
  EXPECT_EQ(third.run.failed_queries.size(), 1u);
  VprModel other = TinyTestModel(10);
  options.out_dir = (root / "out4").string();
  RunEval(other, dataset, options);
  json m4 = ReadJson(root / "out4" / "metrics.json");
  EXPECT_EQ(m4["descriptors_from_cache"], json({{"database", false}, {"queries", false}}));
  EXPECT_NE(m4["model_fingerprint"], m1["model_fingerprint"]);
}

int Count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

std::string Between(const std::string& text, const std::string& begin, const std::string& end) {
  const size_t from = text.find(begin);
  if (from == std::string::npos) return "";
  return text.substr(from, text.find(end, from) - from);
}

TEST(Eval, ReportIsOneOfflinePageWithMissesFirstCurvesAndALazyTableOfEveryQuery) {
  fs::path root = WriteOffByOneRoute("report");
  VprModel model = TinyTestModel();
  EvalOptions options = Options(root / "out");
  options.report.sample_queries = 4;
  RunEval(model, LoadFrameAlignedDataset((root / "db").string(), (root / "q").string(), 0), options);
  std::string html = ReadFileBytes((root / "out" / "report.html").string());
  EXPECT_NE(html.find("<dt>K (clusters)</dt><dd>4</dd>"), std::string::npos);
  EXPECT_NE(html.find("frame tolerance 0"), std::string::npos);
  EXPECT_NE(html.find("<th>R@2</th>"), std::string::npos);
  EXPECT_NE(html.find("<td>16.7%</td>"), std::string::npos);  // R@1 at tolerance 0: 1 of 6
  EXPECT_NE(html.find("id=\"recall-curve\""), std::string::npos);
  EXPECT_NE(html.find("id=\"pr-curve\""), std::string::npos);
  EXPECT_EQ(html.find("src='http"), std::string::npos);  // nothing fetched from the network
  EXPECT_EQ(html.find("src=\"http"), std::string::npos);

  // Query i retrieves database i + 1 first: queries 0-4 miss, 5 hits. Two misses spread
  // over five, one hit, one more miss; misses first.
  const std::string samples = Between(html, "<section id=\"samples\">", "</section>");
  std::regex card("class=\"sample (miss|hit)\" data-q=\"(\\d+)\"");
  std::vector<std::string> order;
  for (auto it = std::sregex_iterator(samples.begin(), samples.end(), card); it != std::sregex_iterator(); ++it)
    order.push_back((*it)[1].str() + (*it)[2].str());
  EXPECT_EQ(order, (std::vector<std::string>{"miss0", "miss1", "miss2", "hit5"}));
  EXPECT_NE(samples.find("top-1 is 1 frame from the query"), std::string::npos);
  // Each miss: query, 3 retrievals and its ground truth (database i); the hit: query and 3.
  EXPECT_EQ(Count(samples, "data:image/jpeg;base64,"), 3 * 5 + 4);
  EXPECT_EQ(Count(samples, "class=\"thumb truth\""), 3);

  // The table: every query, thumbnails kept aside (6 queries and the 5 distinct top-1s)
  // and no <img src> until the script sets it.
  const std::string table = Between(html, "<table id=\"queries\">", "</table>");
  EXPECT_EQ(Count(table, "<tr data-q="), 6);
  EXPECT_EQ(Count(table, "data-result=\"correct\""), 1);
  EXPECT_EQ(Count(table, "<img data-thumb="), 12);
  EXPECT_EQ(Count(table, "src="), 0);
  const std::string thumbs = Between(html, "const THUMBS = ", ";</script>");
  ASSERT_FALSE(thumbs.empty());
  json parsed = json::parse(thumbs.substr(std::string("const THUMBS = ").size()));
  EXPECT_EQ(parsed.size(), 11u);
  EXPECT_TRUE(parsed.contains("q5") && parsed.contains("d5") && !parsed.contains("d0"));
}

TEST(Eval, ReportWithoutPositionsNamesTheRankOfTheTruthAndNoDistanceOnTheGround) {
  // Listed positives (VPR-Bench): no positions, so no offsets; query 1 has no positive.
  fs::path root = WriteOffByOneRoute("report_listed");
  Dataset dataset;
  for (int i = 0; i < 2; ++i) {
    dataset.database.push_back((root / "db" / Name(i)).string());
    dataset.database_names.push_back("db/" + Name(i));
    dataset.queries.push_back((root / "q" / Name(i)).string());
    dataset.query_names.push_back("q/" + Name(i));
  }
  KnnResult knn;
  knn.num_queries = 2;
  knn.k = 2;
  knn.ids = {1, 0, 1, 0};
  knn.distances = {0.5f, 0.75f, 0.25f, 1.0f};
  EvalResult result;
  result.report.num_database = result.report.num_queries = 2;
  result.report.knn = knn;
  result.report.positives = {{0}, {}};
  result.report.described = {true, true};
  result.report.scores = Score(knn, result.report.positives, {1, 2}, false);
  const std::string html = RenderReportHtml(dataset, result, "{}");
  EXPECT_NE(html.find("miss at R@1</span>; nearest ground truth <code>db/000.png</code>: rank 2"), std::string::npos);
  EXPECT_NE(html.find("no positive in the database"), std::string::npos);
  EXPECT_EQ(html.find("from the query"), std::string::npos);
  EXPECT_EQ(Count(html, "<td>n/a</td>"), 2);
  EXPECT_EQ(Count(html, "<td>no positive</td>"), 1);
  // Query 1 is the most confident (distance 0.25) and wrong; query 0's top-1 is wrong too.
  EXPECT_NE(html.find("<td>0.000</td><td>0.0%</td>"), std::string::npos);
}

TEST(Eval, FaissIndexAndInnerProductRankLikeExactL2AndTheDimensionTableIsWritten) {
  fs::path root = WriteOffByOneRoute("index");
  VprModel model = TinyTestModel();
  Dataset dataset = LoadFrameAlignedDataset((root / "db").string(), (root / "q").string(), 1);
  EvalResult exact = RunEval(model, dataset, Options(root / "exact"));
  EvalOptions options = Options(root / "hnsw_ip");
  options.index.factory = "HNSW8";
  options.index.metric = "ip";
  options.pca_dims = {0, 4, 2};
  EvalResult hnsw = RunEval(model, dataset, options);
  // NetVLAD descriptors are unit length: inner product orders like L2.
  EXPECT_EQ(hnsw.report.knn.ids, exact.report.knn.ids);
  EXPECT_EQ(hnsw.report.scores.recall, exact.report.scores.recall);
  json metrics = ReadJson(root / "hnsw_ip" / "metrics.json");
  EXPECT_EQ(metrics["index"]["factory"], "HNSW8");
  const json& table = metrics["recall_vs_dim"];
  ASSERT_EQ(table.size(), 3u);
  EXPECT_EQ(table[0]["whitened"], false);
  EXPECT_EQ(table[0]["recall_at"]["1"], metrics["recall_at"]["1"]);
  EXPECT_EQ(table[1]["dim"], 4);
  EXPECT_EQ(table[1]["bytes_per_descriptor"], 16);
  EXPECT_NE(ReadFileBytes((root / "hnsw_ip" / "report.html").string()).find("Recall against descriptor size"),
            std::string::npos);
  EXPECT_NE(ReadJson(root / "hnsw_ip" / "predictions.json")["distance"].get<std::string>().find("inner"),
            std::string::npos);
}

TEST(Eval, OptionsAreChecked) {
  EXPECT_EQ(ParseRecallAt("1,5,10"), (std::vector<int>{1, 5, 10}));
  EXPECT_THROW(ParseRecallAt("1,x"), Error);
  EXPECT_THROW(ParseRecallAt("5,"), Error);
  EvalOptions options = Options("out");
  options.recall_at = {1, 5};
  try {
    options.Check();
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--recall-at 5 must be between 1 and --top-k (3)"), std::string::npos);
  }
}

// Gardens Point: the first 40 frames of day_right (database) and day_left (queries),
// MobileNetV2 ImageNet weights + NetVLAD K=16 by k-means on the database, 320 px.
TEST(Eval, GardensPointSubsetWithMobileNetV2ImageNet) {
  const fs::path data = fs::path(VPR_SHARED_DIR) / "data";
  const fs::path weights = data / "weights" / "mobilenet_v2_imagenet.pth";
  if (!fs::is_directory(data / "gardens_point") || !fs::exists(weights))
    GTEST_SKIP() << "needs " << data / "gardens_point" << " and " << weights << " (the shared test data)";
  auto start = std::chrono::steady_clock::now();
  fs::path root = fs::temp_directory_path() / "vpr_eval_test" / "gardens_point";
  fs::remove_all(root);
  for (const char* set : {"day_right", "day_left"}) {
    fs::create_directories(root / set);
    std::vector<std::string> images = CollectImages({(data / "gardens_point" / set).string()});
    for (size_t i = 0; i < 40; ++i) fs::create_symlink(images[i], root / set / fs::path(images[i]).filename());
  }
  ModelFlags flags;
  flags.arch = "mobilenet_v2";
  flags.clusters = 16;
  flags.normalize = "tf";
  flags.tf_padding = true;
  VprModel model = LoadModel(weights.string(), flags).model;
  ClusterImagesOptions cluster;
  cluster.resize.max_side = 320;
  ClusterImages(model, CollectImages({(root / "day_right").string()}), cluster);

  EvalOptions options;
  options.out_dir = (root / "out").string();
  options.extract.resize.max_side = 320;
  Dataset dataset = LoadFrameAlignedDataset((root / "day_right").string(), (root / "day_left").string(), 2);
  EvalResult result = RunEval(model, dataset, options);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  auto exact = RecallAtN(result.report.knn,
                         PositivesWithinRadius(dataset.database_positions, dataset.query_positions, 0), {1, 5});
  std::cout << fmt::format("Gardens Point day_left vs day_right, 40 frames: tolerance 2: R@1 {:.3f} R@5 {:.3f} "
                           "R@10 {:.3f}; tolerance 0: R@1 {:.3f} R@5 {:.3f}; {:.1f}s\n",
                           result.report.scores.recall.at(1), result.report.scores.recall.at(5),
                           result.report.scores.recall.at(10), exact.at(1), exact.at(5), seconds);
  // Measured (2 cores): R@1 0.975 at tolerance 2; R@1 0.55, R@5 0.95 at tolerance 0.
  // Chance is about 0.125 for R@1 at tolerance 2 (5 positives of 40) and for R@5 at
  // tolerance 0 (one positive, five tries).
  EXPECT_GE(result.report.scores.recall.at(1), 0.8);
  EXPECT_GE(exact.at(5), 0.75);
  EXPECT_TRUE(result.run.failed_queries.empty());
  EXPECT_EQ(ReadJson(root / "out" / "metrics.json")["image_size"], json({{"mode", "max_side"}, {"max_side", 320}}));
}


// The order rule of --rerank: verified first by inliers (ties in retrieval order), then
// the unverified ones in retrieval order.
TEST(Rerank, VerifiedFirstByInliersThenRetrievalOrder) {
  auto v = [](int inliers, bool verified) { return Verification{inliers, inliers, verified}; };
  EXPECT_EQ(RerankOrder({v(40, false), v(20, true), v(50, true), v(3, false), v(20, true)}),
            (std::vector<int>{2, 1, 4, 0, 3}));
  EXPECT_EQ(RerankOrder({v(0, false), v(0, false)}), (std::vector<int>{0, 1}));
  EXPECT_TRUE(RerankOrder({}).empty());
}

// The rule --rerank applies: only candidates within the margin of the top-1's distance
// move; a far candidate keeps its rank however many inliers it has ("same scene" from
// 20 frames away is not the nearest place).
TEST(Rerank, OnlyCandidatesWithinTheMarginOfTheTopOneMove) {
  auto v = [](int inliers, bool verified) { return Verification{inliers, inliers, verified}; };
  const std::vector<Verification> verifications = {v(5, false), v(20, true), v(30, true), v(90, true), v(0, false)};
  const std::vector<float> distances = {1.00f, 1.05f, 1.10f, 1.30f, 1.40f};
  EXPECT_EQ(RerankOrder(verifications, distances, 0.15), (std::vector<int>{2, 1, 0, 3, 4}));
  EXPECT_EQ(RerankOrder(verifications, distances, 0.0), (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(RerankOrder(verifications, distances, 4.0), RerankOrder(verifications));  // 4: the whole top N
  EXPECT_EQ(RerankOrder(verifications, distances, 4.0), (std::vector<int>{3, 2, 1, 0, 4}));
  EXPECT_TRUE(RerankOrder({}, {}, 0.15).empty());
  RerankOptions options;
  EXPECT_EQ(options.margin, 0.15);
  options.Check();
  options.margin = 4.5;
  EXPECT_THROW(options.Check(), UsageError);
  options.margin = -0.1;
  EXPECT_THROW(options.Check(), UsageError);
}

// A textured scene of shapes (seeded), as the verifier tests draw it.
cv::Mat Shapes(int seed, cv::Size size) {
  cv::Mat image(size, CV_8UC3, cv::Scalar(90, 90, 90));
  cv::RNG rng(seed);
  for (int s = 0; s < 200; ++s) {
    cv::Point a(rng.uniform(0, size.width), rng.uniform(0, size.height));
    cv::Scalar colour(rng.uniform(0, 255), rng.uniform(0, 255), rng.uniform(0, 255));
    if (s % 2) cv::rectangle(image, a, a + cv::Point(rng.uniform(4, 30), rng.uniform(4, 30)), colour, cv::FILLED);
    else cv::circle(image, a, rng.uniform(3, 15), colour, cv::FILLED);
  }
  return image;
}

// The 4x4 tiles of an image in a fixed shuffled order: the same local content (what an
// orderless NetVLAD descriptor sees), no consistent geometry.
cv::Mat ShuffleTiles(const cv::Mat& image) {
  const int order[16] = {5, 14, 2, 11, 8, 0, 15, 6, 13, 3, 10, 1, 7, 12, 4, 9};
  const int tw = image.cols / 4, th = image.rows / 4;
  cv::Mat out = image.clone();
  for (int t = 0; t < 16; ++t) {
    const cv::Rect from((order[t] % 4) * tw, (order[t] / 4) * th, tw, th), to((t % 4) * tw, (t / 4) * th, tw, th);
    image(from).copyTo(out(to));
  }
  return out;
}

// Each place has its image and a decoy made of the query's own tiles shuffled: retrieval
// tends to prefer the decoy, verification the place.
TEST(Eval, RerankReordersByVerificationAndCountsTheChanges) {
  const fs::path root = fs::temp_directory_path() / "vpr_eval_test" / "rerank";
  fs::remove_all(root);
  fs::create_directories(root / "db");
  fs::create_directories(root / "q");
  const cv::Mat h = (cv::Mat_<double>(3, 3) << 0.97, 0.04, 6, -0.03, 0.98, 4, 2e-5, -1e-5, 1);
  const int places = 5;
  for (int i = 0; i < places; ++i) {
    const cv::Mat place = Shapes(100 + i, {320, 240});
    cv::Mat query;
    cv::warpPerspective(place, query, h, place.size(), cv::INTER_LINEAR, cv::BORDER_REFLECT);
    cv::imwrite((root / "db" / fmt::format("{:02d}a.png", i)).string(), place);
    cv::imwrite((root / "db" / fmt::format("{:02d}b.png", i)).string(), ShuffleTiles(query));
    cv::imwrite((root / "q" / fmt::format("{:02d}.png", i)).string(), query);
  }
  Dataset dataset = LoadFolderPair((root / "db").string(), (root / "q").string());
  dataset.kind = "listed";
  for (int i = 0; i < places; ++i) dataset.explicit_positives.push_back({2 * i});  // the place, not its decoy
  VprModel model = TinyTestModel();
  EvalOptions options = Options(root / "plain");
  options.top_k = 4;
  EvalResult plain = RunEval(model, dataset, options);
  options.out_dir = (root / "reranked").string();
  options.rerank = 3;
  EvalResult reranked = RunEval(model, dataset, options);

  const json before = ReadJson(root / "plain" / "metrics.json"), after = ReadJson(root / "reranked" / "metrics.json");
  EXPECT_FALSE(before.contains("rerank"));
  ASSERT_TRUE(after.contains("rerank"));
  const json& r = after["rerank"];
  EXPECT_EQ(r["candidates"], 3);
  EXPECT_EQ(r["margin"], 0.15);
  EXPECT_GE(r["within_margin"].get<int>(), places);  // each query's top-1 at least
  EXPECT_LE(r["within_margin"].get<int>(), places * 3);
  EXPECT_EQ(r["recall_at_before"], before["recall_at"]);
  EXPECT_EQ(r["hits_at_before"], before["hits_at"]);
  EXPECT_EQ(r["recall_at_after"], after["recall_at"]);
  EXPECT_EQ(r["hits_at_after"], after["hits_at"]);
  EXPECT_EQ(r["queries_reranked"], places);
  EXPECT_EQ(r["pairs"], places * 3);
  EXPECT_EQ(r["database_described"].get<int>() + r["queries_described"].get<int>() > places, true);
  EXPECT_LE(r["database_described"].get<int>(), 2 * places);  // each once
  EXPECT_EQ(r["verifier"]["features"], "orb");
  EXPECT_GT(r["ms_per_verify"].get<double>(), 0);

  // The changes, counted from the two runs' top-1.
  int changed = 0, miss_to_hit = 0, hit_to_miss = 0;
  for (int q = 0; q < places; ++q) {
    const int64_t a = plain.report.knn.id(q, 0), b = reranked.report.knn.id(q, 0);
    changed += a != b;
    miss_to_hit += a != b && b == 2 * q;
    hit_to_miss += a != b && a == 2 * q;
    // The first 3 are the same images reordered; the 4th is untouched.
    std::vector<int64_t> x(plain.report.knn.ids.begin() + q * 4, plain.report.knn.ids.begin() + q * 4 + 3),
        y(reranked.report.knn.ids.begin() + q * 4, reranked.report.knn.ids.begin() + q * 4 + 3);
    std::sort(x.begin(), x.end());
    std::sort(y.begin(), y.end());
    EXPECT_EQ(x, y) << "query " << q;
    EXPECT_EQ(plain.report.knn.id(q, 3), reranked.report.knn.id(q, 3));
    EXPECT_EQ(reranked.report.knn.id(q, 0), 2 * q) << "query " << q << ": verification puts the place first";
  }
  EXPECT_EQ(r["top1_changed"], changed);
  EXPECT_EQ(r["top1_miss_to_hit"], miss_to_hit);
  EXPECT_EQ(r["top1_hit_to_miss"], hit_to_miss);
  EXPECT_EQ(r["hits_at_after"]["1"].get<int>() - r["hits_at_before"]["1"].get<int>(), miss_to_hit - hit_to_miss);
  EXPECT_GT(changed, 0) << "retrieval put no decoy first: the test shows nothing";
  EXPECT_EQ(reranked.report.scores.recall.at(1), 1.0);
  EXPECT_EQ(reranked.before_rerank.recall.at(1), plain.report.scores.recall.at(1));

  // predictions.json holds the new order and its inliers, most first among the verified.
  const json predictions = ReadJson(root / "reranked" / "predictions.json");
  const json& q0 = predictions["queries"][0];
  EXPECT_EQ(q0["top_k_ids"][0], 0);
  ASSERT_EQ(q0["inliers"].size(), 3u);
  EXPECT_GE(q0["inliers"][0].get<int>(), q0["inliers"][1].get<int>());
  EXPECT_FALSE(ReadJson(root / "plain" / "predictions.json")["queries"][0].contains("inliers"));

  // With no margin nothing can move ahead of the top-1: retrieval's first image stays.
  options.out_dir = (root / "no_margin").string();
  options.rerank_margin = 0;
  const EvalResult kept = RunEval(model, dataset, options);
  for (int q = 0; q < places; ++q) EXPECT_EQ(kept.report.knn.id(q, 0), plain.report.knn.id(q, 0)) << "query " << q;
  EXPECT_EQ(kept.top1_changes.changed, 0);

  options.rerank = 5;  // more than --top-k
  EXPECT_THROW(options.Check(), UsageError);
  options.rerank = 2;
  options.rerank_margin = 5;  // squared L2 of unit descriptors is at most 4
  EXPECT_THROW(options.Check(), UsageError);
  options.rerank_margin = 4;
  options.verifier.ratio = 0;
  EXPECT_THROW(options.Check(), UsageError);
}

}  // namespace
}  // namespace vpr
