// report.html as a browser renders it: headless Chromium takes a screenshot (kept under
// the build tree as a test artefact) and dumps the DOM after the page's script ran on
// report.html#filter=wrong. Skips when Chromium is not installed
// (scripts/install_deps.sh --tests installs it).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "vpr/app/cluster_images.h"
#include "vpr/app/eval.h"
#include "vpr/model/test_model.h"
#include "vpr/data/load_dataset.h"
#include "vpr/synthetic/synthetic.h"
#include "vpr/image/image_list.h"
#include "vpr/model/model_io.h"
#include "vpr/test_config.h"
#include "vpr/util/atomic_file.h"

namespace vpr {
namespace {
namespace fs = std::filesystem;

struct Command {
  int status;
  std::string out;
};

Command Shell(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return {-1, ""};
  std::string out;
  std::array<char, 4096> buf;
  while (size_t n = fread(buf.data(), 1, buf.size(), pipe)) out.append(buf.data(), n);
  return {WEXITSTATUS(pclose(pipe)), out};
}

std::string FindChromium() {
  for (const char* name : {"chromium", "chromium-browser", "google-chrome"}) {
    Command found = Shell(std::string("command -v ") + name + " 2>/dev/null");
    if (found.status == 0 && !found.out.empty()) return found.out.substr(0, found.out.find('\n'));
  }
  return "";
}

struct Evaluated {
  fs::path dir, report;
  EvalResult result;
};

// A 30-place synthetic route (5 m apart; positives within 5 m: the place and its two
// neighbours) with the tiny random model: a few top-1s right, most wrong.
EvalResult EvaluateSyntheticRoute(const fs::path& dir, const EvalOptions& options) {
  SyntheticOptions synthetic;
  synthetic.num_places = 30;
  synthetic.height = 96;
  synthetic.width = 128;
  SyntheticDataset route = MakeSyntheticRoute(synthetic);
  WriteSyntheticDataset(route, (dir / "data").string());
  std::ofstream csv(dir / "data" / "route.csv");
  csv << "path,easting,northing,split\n";
  for (const auto* set : {&route.database, &route.queries})
    for (const auto& image : *set)
      csv << image.name << "," << image.easting << "," << image.northing << ","
          << (set == &route.database ? "database" : "query") << "\n";
  csv.close();
  Dataset dataset = LoadCsvDataset((dir / "data" / "route.csv").string(), (dir / "data").string());
  dataset.positive_radius = 5;
  VprModel model = TinyTestModel();
  return RunEval(model, dataset, options);
}

// Gardens Point, the first 40 frames of day_right (database) and night_right (queries),
// +-2 frames, MobileNetV2 ImageNet + NetVLAD K=16 clustered on the database at 320 px:
// a report worth looking at.
EvalResult EvaluateGardensPointNight(const fs::path& data, const fs::path& dir, EvalOptions options) {
  for (const char* set : {"day_right", "night_right"}) {
    fs::create_directories(dir / set);
    std::vector<std::string> images = CollectImages({(data / "gardens_point" / set).string()});
    for (size_t i = 0; i < 40; ++i) fs::create_symlink(images[i], dir / set / fs::path(images[i]).filename());
  }
  ModelFlags flags;
  flags.arch = "mobilenet_v2";
  flags.clusters = 16;
  flags.normalize = "tf";
  flags.tf_padding = true;
  options.model_file = (data / "weights" / "mobilenet_v2_imagenet.pth").string();
  VprModel model = LoadModel(options.model_file, flags).model;
  ClusterImagesOptions cluster;
  cluster.resize.max_side = 320;
  ClusterImages(model, CollectImages({(dir / "day_right").string()}), cluster);
  options.extract.resize.max_side = 320;
  return RunEval(model, LoadFrameAlignedDataset((dir / "day_right").string(), (dir / "night_right").string(), 2),
                 options);
}

const Evaluated& Evaluate() {
  static const Evaluated evaluated = [] {
    Evaluated e;
    // One folder per test that evaluates: ctest runs each test in a process of its own.
    e.dir = fs::path(VPR_BINARY_DIR) / "test_scratch" / "report_browser" /
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(e.dir);
    EvalOptions options;
    options.out_dir = (e.dir / "eval").string();
    options.top_k = 5;
    options.recall_at = {1, 5};
    options.report.sample_queries = 6;
    const fs::path data = fs::path(VPR_SHARED_DIR) / "data";
    const bool real =
        fs::is_directory(data / "gardens_point") && fs::exists(data / "weights" / "mobilenet_v2_imagenet.pth");
    std::cout << "report of " << (real ? "Gardens Point (night_right vs day_right, 40 frames)" : "a synthetic route")
              << "\n";
    e.result = real ? EvaluateGardensPointNight(data, e.dir, options) : EvaluateSyntheticRoute(e.dir, options);
    e.report = e.dir / "eval" / "report.html";
    return e;
  }();
  return evaluated;
}

class ReportInBrowser : public ::testing::Test {
 protected:
  void SetUp() override {
    chromium_ = FindChromium();
    if (chromium_.empty())
      GTEST_SKIP() << "chromium is not installed (scripts/install_deps.sh --tests installs it): report.html is not "
                      "rendered";
  }
  // Headless Chromium at 1280 x 2400 with a profile of its own; its stdout, and its
  // stderr in dir/chromium_<name>.log.
  Command Chromium(const fs::path& dir, const std::string& name, const std::string& args) const {
    return Shell("timeout 120 '" + chromium_ + "' --headless=new --no-sandbox --disable-gpu --user-data-dir='" +
                 (dir / ("profile_" + name)).string() + "' --window-size=1280,2400 " + args + " 2>'" +
                 Log(dir, name).string() + "'");
  }
  static fs::path Log(const fs::path& dir, const std::string& name) { return dir / ("chromium_" + name + ".log"); }
  // The end of a failed run's stderr, for the failure message.
  static std::string LogTail(const fs::path& dir, const std::string& name) {
    const std::string log = ReadFileBytes(Log(dir, name).string());
    return Log(dir, name).string() + ":\n" + log.substr(log.size() > 2000 ? log.size() - 2000 : 0);
  }
  std::string chromium_;
};

// The opening tag and content of each table row: (tag, content).
std::vector<std::pair<std::string, std::string>> TableRows(const std::string& dom) {
  std::vector<std::pair<std::string, std::string>> rows;
  const size_t table = dom.find("<table id=\"queries\">");
  for (size_t at = dom.find("<tr data-q=", table); table != std::string::npos && at != std::string::npos;
       at = dom.find("<tr data-q=", at + 1)) {
    const size_t tag_end = dom.find('>', at), row_end = dom.find("</tr>", at);
    rows.emplace_back(dom.substr(at, tag_end + 1 - at), dom.substr(tag_end + 1, row_end - tag_end - 1));
  }
  return rows;
}

std::string Element(const std::string& dom, const std::string& start, const std::string& end) {
  const size_t from = dom.find(start);
  return from == std::string::npos ? "" : dom.substr(from, dom.find(end, from) - from);
}

TEST_F(ReportInBrowser, ScreenshotAt1280PixelsIsKeptAsAnArtefact) {
  const Evaluated& e = Evaluate();
  const fs::path artefacts = fs::path(VPR_BINARY_DIR) / "artefacts";
  fs::create_directories(artefacts);
  const fs::path png = artefacts / "report_screenshot.png";
  fs::remove(png);
  fs::copy_file(e.report, artefacts / "report.html", fs::copy_options::overwrite_existing);
  Command shot = Chromium(e.dir, "shot", "--screenshot='" + png.string() + "' 'file://" + e.report.string() + "'");
  ASSERT_EQ(shot.status, 0) << "chromium failed; " << LogTail(e.dir, "shot");
  cv::Mat image = cv::imread(png.string());
  ASSERT_FALSE(image.empty()) << png;
  EXPECT_EQ(image.cols, 1280);
  EXPECT_EQ(image.rows, 2400);
  // A rendered page, not a blank one: thumbnails and curves put colour on a good part.
  cv::Mat grey, ink;
  cv::cvtColor(image, grey, cv::COLOR_BGR2GRAY);
  cv::threshold(grey, ink, 240, 255, cv::THRESH_BINARY_INV);
  EXPECT_GT(cv::countNonZero(ink), image.total() / 20);
  std::cout << "report screenshot: " << png.string() << "\n";
}

TEST_F(ReportInBrowser, DomAfterFilterWrongShowsHeaderMissesFirstCurvesAndOnlyWrongRows) {
  const Evaluated& e = Evaluate();
  const int64_t nq = e.result.report.knn.num_queries;
  const double r1 = e.result.report.scores.recall.at(1);
  ASSERT_GT(r1, 0.0);  // both kinds of row exist, or the filter is untested
  ASSERT_LT(r1, 1.0);
  // The file as written: the table's thumbnails have no src until a row is in view.
  const std::string raw = ReadFileBytes(e.report.string());
  EXPECT_EQ(Element(raw, "<table id=\"queries\">", "</table>").find("src="), std::string::npos);

  Command dump = Chromium(e.dir, "dom", "--virtual-time-budget=2000 --dump-dom 'file://" + e.report.string() +
                                           "#filter=wrong'");
  ASSERT_EQ(dump.status, 0) << "chromium failed; " << LogTail(e.dir, "dom");
  const std::string& dom = dump.out;

  const nlohmann::json m = nlohmann::json::parse(ReadFileBytes((e.dir / "eval" / "metrics.json").string()));
  const bool frames = m["dataset"].contains("frame_tolerance");
  const std::string header = Element(dom, "<header id=\"run\">", "</header>");
  EXPECT_NE(header.find("<dt>K (clusters)</dt><dd>" + m["model"]["num_clusters"].dump() + "</dd>"), std::string::npos)
      << header;
  EXPECT_NE(header.find("<dt>backbone</dt><dd>" + m["model"]["arch"].get<std::string>()), std::string::npos);
  EXPECT_NE(header.find(frames ? "frame tolerance 2" : "database images within 5 m of the query"), std::string::npos);
  EXPECT_NE(header.find(fmt::format("<dt>queries</dt><dd>{} images, 0 failed", nq)), std::string::npos);

  // Sampled queries: every miss before the first hit.
  const std::string samples = Element(dom, "<section id=\"samples\">", "</section>");
  const size_t first_hit = samples.find("class=\"sample hit\""), last_miss = samples.rfind("class=\"sample miss\"");
  ASSERT_NE(last_miss, std::string::npos);
  ASSERT_NE(first_hit, std::string::npos);
  EXPECT_LT(last_miss, first_hit);
  EXPECT_NE(samples.find(frames ? " frames from the query" : " m from the query"), std::string::npos);

  const std::string recall = Element(dom, "<svg id=\"recall-curve\"", "</svg>");
  EXPECT_NE(recall.find(">N (retrieved candidates)</text>"), std::string::npos);
  EXPECT_NE(recall.find(">recall@N (%)</text>"), std::string::npos);
  EXPECT_NE(recall.find("<polyline class=\"curve\""), std::string::npos);
  const std::string pr = Element(dom, "<svg id=\"pr-curve\"", "</svg>");
  EXPECT_NE(pr.find(">recall (%)</text>"), std::string::npos);
  EXPECT_NE(pr.find(">precision (%)</text>"), std::string::npos);
  EXPECT_NE(pr.find("<path class=\"area\""), std::string::npos);

  // One row per query; the script hid exactly the correct ones, set the thumbnails of
  // the first shown row (in view) and of no hidden row.
  const auto rows = TableRows(dom);
  ASSERT_EQ(static_cast<int64_t>(rows.size()), nq);
  int64_t hidden = 0;
  bool first_shown = true;
  for (const auto& [tag, content] : rows) {
    const bool correct = tag.find("data-result=\"correct\"") != std::string::npos;
    const bool is_hidden = tag.find(" hidden") != std::string::npos;
    const bool loaded = content.find("src=\"data:image/jpeg;base64,") != std::string::npos;
    hidden += is_hidden;
    EXPECT_EQ(is_hidden, correct) << tag;
    if (is_hidden) EXPECT_FALSE(loaded) << tag;
    if (!is_hidden && first_shown) EXPECT_TRUE(loaded) << tag << content;
    first_shown = first_shown && is_hidden;
  }
  EXPECT_EQ(hidden, e.result.report.scores.hits.at(1));
  EXPECT_NE(dom.find(fmt::format("<span id=\"shown\">{} of {} shown</span>", nq - hidden, nq)), std::string::npos);
  EXPECT_NE(dom.find("data-filter=\"wrong\" class=\"active\""), std::string::npos);
}

}  // namespace
}  // namespace vpr
