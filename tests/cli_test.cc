// The `vpr` binary as a user runs it: exit codes, messages, outputs.
#include <gtest/gtest.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <nlohmann/json.hpp>

#include "vpr/model/model_io.h"
#include "vpr/util/npy.h"
#include "vpr/test_config.h"

namespace vpr {
namespace {
namespace fs = std::filesystem;

struct CliRun {
  int code;
  std::string output;  // stdout and stderr together
};

CliRun Shell(const std::string& command) {
  std::string cmd = command + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf;
  while (size_t n = fread(buf.data(), 1, buf.size(), pipe)) out.append(buf.data(), n);
  int status = pclose(pipe);
  return {WEXITSTATUS(status), out};
}

CliRun Vpr(const std::string& args) { return Shell(std::string(VPR_BINARY_DIR) + "/vpr " + args); }

fs::path Scratch(const std::string& name) {
  fs::path dir = fs::path(VPR_BINARY_DIR) / "test_scratch" / "cli" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string SmallCheckpoint() {
  static std::string path = [] {
    torch::manual_seed(2);
    ModelOptions options;
    options.backbone.cut = 4;
    options.netvlad.num_clusters = 4;
    VprModel model(options);
    std::string p = (Scratch("model") / "small.pth").string();
    SaveModel(p, model);
    return p;
  }();
  return path;
}

TEST(Cli, HelpListsTheCommandsAndOptionsShowDefaults) {
  CliRun help = Vpr("help");
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.output.find("extract"), std::string::npos);
  EXPECT_NE(help.output.find("demo"), std::string::npos);
  CliRun extract_help = Vpr("extract --help");
  EXPECT_EQ(extract_help.code, 0);
  EXPECT_NE(extract_help.output.find("--batch-size INT=1"), std::string::npos) << extract_help.output;
  EXPECT_NE(extract_help.output.find("--device TEXT=cpu"), std::string::npos) << extract_help.output;
  EXPECT_NE(extract_help.output.find("--threads INT=0"), std::string::npos) << extract_help.output;
  EXPECT_NE(extract_help.output.find("--precision TEXT:{fp32,bf16,fp16,auto}=fp32"), std::string::npos)
      << extract_help.output;
  CliRun bad = Vpr("extract --model m --images x --out y.npy --precision half");
  EXPECT_NE(bad.code, 0);
  EXPECT_NE(bad.output.find("--precision"), std::string::npos) << bad.output;
  CliRun unknown = Vpr("frobnicate");
  EXPECT_EQ(unknown.code, 2);
  EXPECT_NE(unknown.output.find("unknown command 'frobnicate'"), std::string::npos);
}

// vpr version names what decides the speed: libraries, the BLAS by its path, threads, CPU.
TEST(Cli, VersionShowsLibrariesBlasThreadsAndCpuFeatures) {
  CliRun version = Vpr("version --threads 3");
  EXPECT_EQ(version.code, 0);
  for (const char* part : {"LibTorch 1.", "oneDNN ", "FAISS ", "OpenCV ", "BLAS: ", "libblas.so", "threads: 3",
                           "avx2", "avx512f", "avx512_bf16", "amx_bf16", "--precision auto: "})
    EXPECT_NE(version.output.find(part), std::string::npos) << part << " missing in:\n" << version.output;
  CliRun json = Vpr("version --json");
  EXPECT_EQ(json.code, 0);
  auto report = nlohmann::json::parse(json.output.substr(json.output.find('{')));
  EXPECT_GE(report["threads"]["used"].get<int>(), 1);
  EXPECT_EQ(report["threads"]["used"], report["threads"]["usable_cpus"]);  // the default is every usable CPU
  EXPECT_FALSE(report["blas"]["path"].get<std::string>().empty());
}

TEST(Cli, ExtractSkipsACorruptImageReportsItAndWritesTheRest) {
  fs::path dir = Scratch("corrupt");
  cv::Mat image(24, 32, CV_8UC3);
  cv::randu(image, 0, 255);
  fs::create_directories(dir / "images");
  cv::imwrite((dir / "images" / "a.png").string(), image);
  cv::imwrite((dir / "images" / "c.png").string(), image);
  std::ofstream(dir / "images" / "b.jpg") << "truncated";
  std::string out = (dir / "desc.npy").string();
  CliRun run = Vpr("extract --model " + SmallCheckpoint() + " --images " + (dir / "images").string() + " --out " + out +
                " --json");
  ASSERT_EQ(run.code, 0) << run.output;
  EXPECT_NE(run.output.find("b.jpg: "), std::string::npos) << "the failure is listed at the end";
  nlohmann::json summary = nlohmann::json::parse(run.output.substr(run.output.find("{\n")));
  EXPECT_EQ(summary["described"], 2);
  EXPECT_EQ(summary["failed"], 1);
  EXPECT_EQ(summary["failures"][0]["path"], (dir / "images" / "b.jpg").string());
  std::ifstream names(dir / "desc.names.txt");
  std::string line;
  int lines = 0;
  while (std::getline(names, line)) ++lines;
  EXPECT_EQ(lines, 2);
  EXPECT_TRUE(fs::exists(out));
}

TEST(Cli, GlobalPoolingBaselineFromABackboneFileAndNotForCluster) {
  fs::path dir = Scratch("pooling");
  StateDict torchvision;
  torch::manual_seed(4);
  ModelOptions options;
  options.backbone.cut = 4;
  VprModel model(options);
  for (const auto& [key, value] : ModelStateDict(*model->encoder)) torchvision.emplace_back("features." + key, value);
  std::string backbone = (dir / "vgg_features.pth").string();
  SaveCheckpoint(backbone, torchvision, nlohmann::json::object());
  cv::Mat image(24, 32, CV_8UC3);
  cv::randu(image, 0, 255);
  fs::create_directories(dir / "images");
  cv::imwrite((dir / "images" / "a.png").string(), image);
  CliRun run = Vpr("extract --model " + backbone + " --backbone vgg16 --cut 4 --pooling max --images " +
                   (dir / "images").string() + " --out " + (dir / "max.npy").string() + " --json");
  ASSERT_EQ(run.code, 0) << run.output;
  EXPECT_NE(run.output.find("global max pooling"), std::string::npos) << run.output;
  nlohmann::json summary = nlohmann::json::parse(run.output.substr(run.output.find("{\n")));
  EXPECT_EQ(summary["dim"], 64);  // conv1_2's channels, no NetVLAD

  CliRun cluster = Vpr("cluster --model " + backbone + " --backbone vgg16 --cut 4 --pooling avg --images " +
                       (dir / "images").string() + " --out " + (dir / "c.pth").string());
  EXPECT_EQ(cluster.code, 1) << cluster.output;
  EXPECT_NE(cluster.output.find("vpr cluster initialises NetVLAD centroids, but the model pools with 'avg'"),
            std::string::npos)
      << cluster.output;
}

TEST(Cli, ExtractOnAnEmptyFolderFailsWithAClearMessage) {
  fs::path dir = Scratch("empty");
  CliRun run = Vpr("extract --model " + SmallCheckpoint() + " --images " + dir.string() + " --out " +
                (dir / "x.npy").string());
  EXPECT_EQ(run.code, 1);
  EXPECT_NE(run.output.find("contains no images"), std::string::npos) << run.output;
  EXPECT_FALSE(fs::exists(dir / "x.npy"));
}

TEST(Cli, ExtractWithMissingRequiredOptionsOrBadValuesSaysWhich) {
  CliRun run = Vpr("extract --images x");
  EXPECT_NE(run.code, 0);
  EXPECT_NE(run.output.find("--model"), std::string::npos) << run.output;
  fs::path dir = Scratch("bad_resize");
  run = Vpr("extract --model " + SmallCheckpoint() + " --images " + dir.string() + " --out x.npy --resize 640");
  EXPECT_EQ(run.code, 2);
  EXPECT_NE(run.output.find("HEIGHTxWIDTH"), std::string::npos) << run.output;
}

// Conventions: `vpr help CMD` is `vpr CMD --help`; a mistyped command or flag gets the
// closest name; usage errors exit 2 with a hint and run nothing, failed runs exit 1.
TEST(Cli, HelpSuggestionsAndExitCodesFollowConventions) {
  CliRun help = Vpr("help extract"), direct = Vpr("extract --help");
  EXPECT_EQ(help.code, 0);
  EXPECT_EQ(help.output, direct.output);
  EXPECT_NE(help.output.find("--log-level"), std::string::npos) << help.output;
  EXPECT_NE(help.output.find("-q,--quiet"), std::string::npos) << help.output;

  CliRun typo = Vpr("extrct --help");
  EXPECT_EQ(typo.code, 2);
  EXPECT_NE(typo.output.find("unknown command 'extrct'; did you mean 'extract'?"), std::string::npos) << typo.output;

  fs::path dir = Scratch("conventions");
  CliRun flag = Vpr("eval --model m --db a --queries b --frame-tolerance 1 --out o --nprob 4");
  EXPECT_EQ(flag.code, 2);
  EXPECT_NE(flag.output.find("vpr eval: unknown option --nprob; did you mean --nprobe?"), std::string::npos)
      << flag.output;
  EXPECT_NE(flag.output.find("Run 'vpr eval --help' for the options."), std::string::npos) << flag.output;

  CliRun range = Vpr("extract --model m --images " + dir.string() + " --out " + (dir / "x.npy").string() +
                     " --num_clusters -4");
  EXPECT_EQ(range.code, 2) << "checked before any file is read: " << range.output;
  EXPECT_NE(range.output.find("--num_clusters is pytorch-NetVlad's name; vpr calls it --clusters"), std::string::npos)
      << range.output;
  EXPECT_NE(range.output.find("--clusters"), std::string::npos) << range.output;

  CliRun missing = Vpr("extract --model " + (dir / "none.pth").string() + " --images " + dir.string() + " --out " +
                       (dir / "x.npy").string());
  EXPECT_EQ(missing.code, 1) << missing.output;

  CliRun quiet = Vpr("extract --quiet --model " + SmallCheckpoint() + " --images " + dir.string() + " --out " +
                     (dir / "x.npy").string());
  EXPECT_EQ(quiet.code, 1);
  EXPECT_EQ(quiet.output.find("[info]"), std::string::npos) << quiet.output;
  EXPECT_NE(quiet.output.find("[error]"), std::string::npos) << quiet.output;
}

// On a terminal, progress is one line redrawn in place; in a pipe or a file, log lines.
TEST(Cli, ProgressIsABarOnATerminalAndLogLinesElsewhere) {
  if (std::system("command -v script > /dev/null") != 0) GTEST_SKIP() << "needs script(1) (util-linux) for a terminal";
  fs::path dir = Scratch("progress");
  fs::create_directories(dir / "images");
  cv::Mat image(240, 320, CV_8UC3);  // enough work for several redraws (0.2 s apart)
  for (int i = 0; i < 40; ++i) {
    cv::randu(image, 0, 255);
    cv::imwrite((dir / "images" / (std::to_string(100 + i) + ".jpg")).string(), image);
  }
  const std::string args = "extract --model " + SmallCheckpoint() + " --images " + (dir / "images").string() +
                           " --out " + (dir / "x.npy").string();
  CliRun terminal = Shell("script -qec '" + std::string(VPR_BINARY_DIR) + "/vpr " + args + "' /dev/null");
  ASSERT_EQ(terminal.code, 0) << terminal.output;
  EXPECT_NE(terminal.output.find("extract: ["), std::string::npos) << terminal.output;
  EXPECT_NE(terminal.output.find("/40 images"), std::string::npos) << terminal.output;
  EXPECT_NE(terminal.output.find("\r\033[K"), std::string::npos) << terminal.output;
  EXPECT_NE(terminal.output.find("extract: done, 40 images"), std::string::npos) << terminal.output;
  CliRun piped = Vpr(args);
  ASSERT_EQ(piped.code, 0) << piped.output;
  EXPECT_EQ(piped.output.find('\r'), std::string::npos) << piped.output;
  EXPECT_EQ(piped.output.find("extract: ["), std::string::npos) << piped.output;
}

// A checkpoint made at a size (vpr cluster --max-side) runs at that size by default, says
// so, and a different size on the command line is honoured with a warning.
TEST(Cli, TheCheckpointsImageSizeIsTheDefault) {
  fs::path dir = Scratch("recorded_size");
  fs::create_directories(dir / "images");
  cv::Mat image(60, 80, CV_8UC3);
  for (const char* name : {"a.png", "b.png", "c.png"}) {
    cv::randu(image, 0, 255);
    cv::imwrite((dir / "images" / name).string(), image);
  }
  const std::string images = " --images " + (dir / "images").string();
  const std::string model = (dir / "k4.pth").string();
  CliRun cluster = Vpr("cluster --model " + SmallCheckpoint() + " --max-side 40 --samples-per-image 10" + images +
                       " --out " + model);
  ASSERT_EQ(cluster.code, 0) << cluster.output;

  CliRun implicit = Vpr("extract --model " + model + images + " --out " + (dir / "implicit.npy").string());
  ASSERT_EQ(implicit.code, 0) << implicit.output;
  EXPECT_NE(implicit.output.find("images at max side 40, the size the checkpoint records"), std::string::npos)
      << implicit.output;
  CliRun explicit_size = Vpr("extract --model " + model + images + " --max-side 40 --out " +
                             (dir / "explicit.npy").string());
  ASSERT_EQ(explicit_size.code, 0) << explicit_size.output;
  EXPECT_EQ(ReadNpy((dir / "implicit.npy").string()).data, ReadNpy((dir / "explicit.npy").string()).data);

  CliRun native = Vpr("extract --model " + model + images + " --max-side 0 --out " + (dir / "native.npy").string());
  ASSERT_EQ(native.code, 0) << native.output;
  EXPECT_NE(native.output.find("the checkpoint was made at max side 40; running at native size as asked"),
            std::string::npos)
      << native.output;
  EXPECT_NE(ReadNpy((dir / "native.npy").string()).data, ReadNpy((dir / "implicit.npy").string()).data);
}

}  // namespace
}  // namespace vpr

namespace vpr {
namespace {

// The evaluation issue's acceptance check on a ground-truth file whose images we do not
// have: parsed correctly, then stopped with a clear message before any model runs.
TEST(CliDataset, BerlinWithoutImagesIsParsedThenReportedMissing) {
  const fs::path berlin = fs::path(VPR_SHARED_DIR) / "data" / "gt" / "heaputil" / "berlin.mat";
  if (!fs::exists(berlin)) GTEST_SKIP() << "needs " << berlin << " (the shared test data)";
  const fs::path scratch = Scratch("berlin"), root = scratch / "images_not_here";
  CliRun doctor = Vpr("doctor --dataset " + berlin.string() + " --root " + root.string());
  EXPECT_EQ(doctor.code, 1) << doctor.output;
  EXPECT_NE(doctor.output.find("images: 314 database, 280 queries (declared by the file: 314 database, 280 queries)"),
            std::string::npos)
      << doctor.output;
  EXPECT_NE(doctor.output.find("positive radius: 50 m"), std::string::npos) << doctor.output;
  EXPECT_NE(doctor.output.find("FATAL [files_missing] all 594 images are missing"), std::string::npos);

  CliRun json = Vpr("doctor --json --no-file-check --dataset " + berlin.string());
  ASSERT_EQ(json.code, 0) << json.output;
  auto report = nlohmann::json::parse(json.output.substr(json.output.find('{')));
  EXPECT_EQ(report["num_database"], 314);
  EXPECT_EQ(report["num_queries"], 280);
  EXPECT_EQ(report["queries_without_positive"], 0);

  CliRun eval = Vpr("eval --model " + SmallCheckpoint() + " --dataset " + berlin.string() + " --root " +
                    root.string() + " --out " + (scratch / "out").string());
  EXPECT_NE(eval.code, 0);
  EXPECT_NE(eval.output.find("all 594 images are missing (314 database, 280 queries)"), std::string::npos)
      << eval.output;
  EXPECT_NE(eval.output.find("pass --root DIR"), std::string::npos);
  EXPECT_FALSE(fs::exists(scratch / "out" / "metrics.json"));
}

}  // namespace
}  // namespace vpr

namespace vpr {
namespace {

// vpr index --out X.vprdb writes the public database (names inside), vpr search reads
// it and answers as it does from the FAISS index (vpr serve --db loads the same file).
TEST(Cli, IndexWritesAPlaceDatabaseThatSearchReadsAsItReadsFaissFiles) {
  const fs::path dir = Scratch("vprdb");
  std::vector<float> db(12 * 8), q(3 * 8);
  cv::RNG rng(4);
  for (float& v : db) v = static_cast<float>(rng.uniform(-1.0, 1.0));
  for (size_t i = 0; i < q.size(); ++i) q[i] = db[8 * 5 + i % 8] + (i < 8 ? 0.0f : 0.3f * (i % 3));
  WriteNpy((dir / "db.npy").string(), db.data(), 12, 8);
  WriteNpy((dir / "q.npy").string(), q.data(), 3, 8);
  std::ofstream names(dir / "db.names.txt");
  for (int i = 0; i < 12; ++i) names << "place_" << i << ".jpg\n";
  names.close();
  const std::string npy = (dir / "db.npy").string(), queries = (dir / "q.npy").string();
  ASSERT_EQ(Vpr("index --descriptors " + npy + " --out " + (dir / "map.vprdb").string()).code, 0);
  ASSERT_EQ(Vpr("index --descriptors " + npy + " --out " + (dir / "db.index").string()).code, 0);
  for (const char* index : {"map.vprdb", "db.index"}) {
    const std::string out = (dir / (std::string(index) + ".json")).string();
    const CliRun run = Vpr("search --index " + (dir / index).string() + " --queries " + queries + " --top-k 4 --out " + out);
    ASSERT_EQ(run.code, 0) << run.output;
  }
  auto read = [&](const char* name) { return nlohmann::json::parse(std::ifstream(dir / name)); };
  const nlohmann::json a = read("map.vprdb.json"), b = read("db.index.json");
  ASSERT_EQ(a["queries"].size(), 3u);
  for (int r = 0; r < 3; ++r) {
    EXPECT_EQ(a["queries"][r]["ids"], b["queries"][r]["ids"]);
    EXPECT_EQ(a["queries"][r]["names"], b["queries"][r]["names"]);
    for (int k = 0; k < 4; ++k)
      EXPECT_NEAR(a["queries"][r]["distances"][k].get<float>(), b["queries"][r]["distances"][k].get<float>(), 1e-4);
  }
  EXPECT_EQ(a["queries"][0]["names"][0], "place_5.jpg");
  EXPECT_EQ(a["factory"], "Flat");
  const CliRun ivf = Vpr("index --descriptors " + npy + " --factory IVF2,Flat --out " + (dir / "ivf.vprdb").string());
  EXPECT_EQ(ivf.code, 2) << ivf.output;
  EXPECT_NE(ivf.output.find("needs training"), std::string::npos) << ivf.output;
}

}  // namespace
}  // namespace vpr

namespace vpr {
namespace {

int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(a);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &length);
  ::close(fd);
  return ntohs(a.sin_port);
}

// `count` noise images of side x side under dir/images.
std::string NoiseImages(const fs::path& dir, int count, int side) {
  fs::create_directories(dir / "images");
  cv::RNG rng(6);
  for (int i = 0; i < count; ++i) {
    cv::Mat image(side, side + 8, CV_8UC3);
    rng.fill(image, cv::RNG::UNIFORM, 0, 255);
    cv::imwrite((dir / "images" / fmt::format("img{:03d}.png", i)).string(), image);
  }
  return (dir / "images").string();
}

std::string Rank(int rank, int world, int port, const std::string& args) {
  return fmt::format("env RANK={} WORLD_SIZE={} MASTER_ADDR=127.0.0.1 MASTER_PORT={} {}/vpr {}", rank, world, port,
                     VPR_BINARY_DIR, args);
}

std::string Bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// torchrun's variables, two processes over loopback: rank 0 writes the very bytes one
// process writes (descriptors and names), the other rank writes nothing.
TEST(CliDist, TwoRanksExtractTheFilesOneProcessWrites) {
  const fs::path dir = Scratch("dist_extract");
  const std::string images = NoiseImages(dir, 7, 40);
  const std::string args = "extract --threads 1 --model " + SmallCheckpoint() + " --images " + images + " --out ";
  ASSERT_EQ(Vpr(args + (dir / "one.npy").string()).code, 0);
  const int port = FreePort();
  const CliRun two = Shell("(" + Rank(1, 2, port, args + (dir / "two.npy").string()) + " > " +
                           (dir / "rank1.log").string() + " 2>&1 &) ; " + Rank(0, 2, port, args + (dir / "two.npy").string()));
  ASSERT_EQ(two.code, 0) << two.output;
  EXPECT_NE(two.output.find("rank 0 of 2: images 0-3 of 7"), std::string::npos) << two.output;
  EXPECT_EQ(Bytes(dir / "one.npy"), Bytes(dir / "two.npy"));
  EXPECT_EQ(Bytes(dir / "one.names.txt"), Bytes(dir / "two.names.txt"));
  EXPECT_EQ(Bytes(dir / "two.names.txt").find("img003.png"), Bytes(dir / "one.names.txt").find("img003.png"));
}

TEST(CliDist, ARankThatNeverComesOrDiesEndsTheOthersWithAnErrorNotAHang) {
  const fs::path dir = Scratch("dist_dead");
  const std::string images = NoiseImages(dir, 40, 400);
  const std::string args = "extract --threads 1 --model " + SmallCheckpoint() + " --images " + images +
                           " --out " + (dir / "x.npy").string();
  CliRun alone = Shell(Rank(0, 2, FreePort(), args + " --dist-timeout 3"));
  EXPECT_EQ(alone.code, 1) << alone.output;
  EXPECT_NE(alone.output.find("rank 0 of 2: the rendezvous failed"), std::string::npos) << alone.output;
  EXPECT_NE(alone.output.find("another rank died, was never started"), std::string::npos) << alone.output;
  // Rank 1 killed once the group has formed, while both are describing.
  const int port = FreePort();
  const auto start = std::chrono::steady_clock::now();
  CliRun killed = Shell("(timeout -s KILL 3 " + Rank(1, 2, port, args) + " > /dev/null 2>&1 &) ; " +
                        Rank(0, 2, port, args + " --dist-timeout 8"));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(killed.code, 1) << killed.output;
  EXPECT_NE(killed.output.find("gathering the descriptors failed"), std::string::npos) << killed.output;
  EXPECT_LT(seconds, 60);
  EXPECT_FALSE(fs::exists(dir / "x.npy")) << "no partial output";
}

}  // namespace
}  // namespace vpr

namespace vpr {
namespace {

// A frame-aligned route of `count` places: database frames of smooth random texture,
// each query its frame with noise and a small shift (the positive is the same frame).
std::pair<std::string, std::string> RouteImages(const fs::path& dir, int count) {
  cv::RNG rng(8);
  for (const char* side : {"db", "queries"}) fs::create_directories(dir / side);
  for (int i = 0; i < count; ++i) {
    cv::Mat small(6, 7, CV_8UC3), place, query;
    rng.fill(small, cv::RNG::UNIFORM, 0, 255);
    cv::resize(small, place, cv::Size(56, 48), 0, 0, cv::INTER_CUBIC);
    cv::Mat noise(place.size(), CV_8UC3);
    rng.fill(noise, cv::RNG::UNIFORM, 0, 40);
    query = place(cv::Rect(2, 0, 54, 48)).clone() + noise(cv::Rect(0, 0, 54, 48));
    cv::imwrite((dir / "db" / fmt::format("f{:03d}.png", i)).string(), place);
    cv::imwrite((dir / "queries" / fmt::format("f{:03d}.png", i)).string(), query);
  }
  return {(dir / "db").string(), (dir / "queries").string()};
}

// Largest absolute difference between the weights of two checkpoints, over every tensor.
double MaxWeightDifference(const std::string& a, const std::string& b) {
  LoadedModel x = LoadModel(a, ModelFlags{}), y = LoadModel(b, ModelFlags{});
  const StateDict sx = ModelStateDict(*x.model), sy = ModelStateDict(*y.model);
  EXPECT_EQ(sx.size(), sy.size());
  double worst = 0;
  for (size_t i = 0; i < std::min(sx.size(), sy.size()); ++i) {
    EXPECT_EQ(sx[i].first, sy[i].first);
    worst = std::max(worst, (sx[i].second - sy[i].second).abs().max().item<double>());
  }
  return worst;
}

std::vector<nlohmann::json> MetricLines(const fs::path& path) {
  std::ifstream in(path);
  std::vector<nlohmann::json> lines;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

// Both ranks started at once; rank 0's run (the other's output goes to `log`).
CliRun TwoRanks(int port, const std::string& args, const fs::path& log) {
  return Shell("(" + Rank(1, 2, port, args) + " > " + log.string() + " 2>&1 &) ; " + Rank(0, 2, port, args));
}

std::string TrainArgs(const std::pair<std::string, std::string>& route) {
  // Steps of 3 tuples split 2 + 1 over two ranks; refreshes of 5 queries with batches
  // of 4 images (15 images: batches split 2 + 2); the validation set is the training set.
  return "train -q --threads 1 --model " + SmallCheckpoint() + " --db " + route.first + " --queries " + route.second +
         " --frame-tolerance 1 --val-db " + route.first + " --val-queries " + route.second +
         " --val-frame-tolerance 1 --accumulate 3 --cache-refresh 5 --batch-size 4 --negatives-sampled 12 "
         "--negatives 3 --lr 0.05 --seed 5 --recall-at 1,5 --select-recall-at 1 --feature-cache-mb 64";
}

// Data-parallel training: with the same seed and global batch, 2 ranks end with the
// weights of 1 process (float rounding of the gradient sum apart), the same metrics,
// and a resume of the group continues as the resume of one process does.
TEST(CliDist, TwoRanksTrainTheWeightsOneProcessTrains) {
  const fs::path dir = Scratch("dist_train");
  const auto route = RouteImages(dir, 10);
  const std::string args = TrainArgs(route);
  const std::string one = (dir / "one").string(), two = (dir / "two").string();
  const CliRun alone = Vpr(args + " --epochs 2 --out " + one);
  ASSERT_EQ(alone.code, 0) << alone.output;
  const CliRun pair = TwoRanks(FreePort(), args + " --epochs 2 --out " + two, dir / "rank1.log");
  ASSERT_EQ(pair.code, 0) << pair.output << Bytes(dir / "rank1.log");
  const double after_two = MaxWeightDifference(one + "/checkpoints/checkpoint.pth.tar",
                                               two + "/checkpoints/checkpoint.pth.tar");
  EXPECT_LT(after_two, 1e-5);
  EXPECT_GT(MaxWeightDifference(SmallCheckpoint(), one + "/checkpoints/checkpoint.pth.tar"), 1e-3)
      << "training changed nothing: the comparison would prove nothing";
  const auto m1 = MetricLines(fs::path(one) / "metrics.jsonl"), m2 = MetricLines(fs::path(two) / "metrics.jsonl");
  ASSERT_EQ(m1.size(), 3u);  // the start and 2 epochs, written once (rank 0)
  ASSERT_EQ(m2.size(), 3u);
  for (size_t e = 1; e < 3; ++e) {
    EXPECT_EQ(m1[e]["steps"], m2[e]["steps"]);
    EXPECT_EQ(m1[e]["tuples"], m2[e]["tuples"]);
    EXPECT_NEAR(m1[e]["loss"].get<double>(), m2[e]["loss"].get<double>(), 1e-5);
    EXPECT_EQ(m1[e]["recall_at"], m2[e]["recall_at"]);
    EXPECT_TRUE(m2[e].contains("allreduce_seconds"));
  }
  EXPECT_FALSE(fs::exists(fs::path(two) / "cache" / "descriptors.f32") &&
               !fs::exists(fs::path(two) / "cache" / "descriptors.rank1.f32"))
      << "each rank keeps its own mining cache";
  // --resume for the group: both ranks read the same run folder and train one more epoch.
  ASSERT_EQ(Vpr("train -q --resume " + one + " --epochs 3").code, 0);
  const CliRun resumed = TwoRanks(FreePort(), "train -q --resume " + two + " --epochs 3", dir / "rank1_resume.log");
  ASSERT_EQ(resumed.code, 0) << resumed.output << Bytes(dir / "rank1_resume.log");
  EXPECT_LT(MaxWeightDifference(one + "/checkpoints/checkpoint.pth.tar", two + "/checkpoints/checkpoint.pth.tar"),
            1e-5);
  EXPECT_EQ(MetricLines(fs::path(two) / "metrics.jsonl").size(), 4u);
}

// vpr eval over two ranks: each describes its share of database and queries, rank 0
// scores and writes the files one process writes (timings in metrics.json apart).
TEST(CliDist, TwoRanksEvaluateAsOneProcessEvaluates) {
  const fs::path dir = Scratch("dist_eval");
  const auto route = RouteImages(dir, 9);
  const std::string args = "eval --threads 1 --no-cache --model " + SmallCheckpoint() + " --db " + route.first +
                           " --queries " + route.second + " --frame-tolerance 1 --top-k 4 --recall-at 1,4 --out ";
  const CliRun alone = Vpr(args + (dir / "one").string());
  ASSERT_EQ(alone.code, 0) << alone.output;
  const CliRun two = TwoRanks(FreePort(), args + (dir / "two").string(), dir / "rank1.log");
  ASSERT_EQ(two.code, 0) << two.output << Bytes(dir / "rank1.log");
  EXPECT_NE(two.output.find("rank 0 of 2: images 0-4 of 9"), std::string::npos) << two.output;
  EXPECT_NE(Bytes(dir / "rank1.log").find("rank 1: described 5 database and 5 query images"), std::string::npos)
      << Bytes(dir / "rank1.log");
  for (const char* file : {"predictions.json", "submission.json", "pairs.txt", "database.npy", "queries.names.txt"})
    EXPECT_EQ(Bytes(dir / "one" / file), Bytes(dir / "two" / file)) << file;
  const auto metrics = [&](const char* run) { return nlohmann::json::parse(Bytes(dir / run / "metrics.json")); };
  const nlohmann::json m1 = metrics("one"), m2 = metrics("two");
  EXPECT_EQ(m1["recall_at"], m2["recall_at"]);
  EXPECT_EQ(m1["hits_at"], m2["hits_at"]);
  EXPECT_EQ(m1["num_queries_described"], 9);
  EXPECT_GT(m1["recall_at"]["4"].get<double>(), 0) << "a route nothing is found on would prove little";
}

// A rank that dies while the group trains ends the other with the group's error.
TEST(CliDist, ATrainingRankKilledEndsTheOtherWithAnError) {
  const fs::path dir = Scratch("dist_train_dead");
  const auto route = RouteImages(dir, 10);
  const std::string args = TrainArgs(route) + " --epochs 100 --patience 0 --out " + (dir / "run").string();
  const int port = FreePort();
  const auto start = std::chrono::steady_clock::now();
  const CliRun killed = Shell("(timeout -s KILL 4 " + Rank(1, 2, port, args) + " > /dev/null 2>&1 &) ; " +
                              Rank(0, 2, port, args + " --dist-timeout 10"));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(killed.code, 1) << killed.output;
  EXPECT_NE(killed.output.find("rank 0 of 2: "), std::string::npos) << killed.output;
  EXPECT_NE(killed.output.find("another rank died, was never started"), std::string::npos) << killed.output;
  EXPECT_LT(seconds, 60);
}

}  // namespace
}  // namespace vpr

namespace vpr {
namespace {

// vpr search --database over two ranks: each searches its share of the rows, rank 0
// writes what one process writes, ties (everywhere with small integers) settled by id.
TEST(CliDist, TwoRanksSearchTheShardsAsOneProcessSearchesTheWhole) {
  const fs::path dir = Scratch("dist_search");
  const int64_t rows = 700, nq = 30, dim = 8;
  std::vector<float> db(rows * dim), q(nq * dim);
  cv::RNG rng(12);
  for (float& v : db) v = static_cast<float>(rng.uniform(0, 3));
  for (float& v : q) v = static_cast<float>(rng.uniform(0, 3));
  WriteNpy((dir / "db.npy").string(), db.data(), rows, dim);
  WriteNpy((dir / "q.npy").string(), q.data(), nq, dim);
  std::ofstream names(dir / "db.names.txt");
  for (int i = 0; i < rows; ++i) names << "place_" << i << ".jpg\n";
  names.close();
  const std::string args = "search --threads 1 --database " + (dir / "db.npy").string() + " --queries " +
                           (dir / "q.npy").string() + " --top-k 12 --out ";
  const CliRun alone = Vpr(args + (dir / "one.json").string());
  ASSERT_EQ(alone.code, 0) << alone.output;
  const CliRun two = TwoRanks(FreePort(), args + (dir / "two.json").string(), dir / "rank1.log");
  ASSERT_EQ(two.code, 0) << two.output << Bytes(dir / "rank1.log");
  EXPECT_NE(two.output.find("rank 0 of 2: database rows 0-256 of 700"), std::string::npos) << two.output;
  const auto read = [&](const char* name) { return nlohmann::json::parse(std::ifstream(dir / name)); };
  const nlohmann::json one_json = read("one.json"), two_json = read("two.json");
  EXPECT_EQ(one_json["queries"], two_json["queries"]);
  EXPECT_EQ(two_json["database"], (dir / "db.npy").string());
  int ties = 0;
  for (const auto& row : one_json["queries"]) {
    ASSERT_EQ(row["ids"].size(), 12u);
    for (size_t r = 1; r < 12; ++r) {
      const float a = row["distances"][r - 1], b = row["distances"][r];
      EXPECT_LE(a, b);
      if (a != b) continue;
      ++ties;
      EXPECT_LT(row["ids"][r - 1].get<int64_t>(), row["ids"][r].get<int64_t>());
    }
  }
  EXPECT_GT(ties, 50) << "the data must tie for the test to check the tie order";
  const CliRun index_too = Shell(Rank(0, 2, FreePort(), "search --index x.index --queries " +
                                                             (dir / "q.npy").string() + " --out y.json"));
  EXPECT_EQ(index_too.code, 2) << index_too.output;
  EXPECT_NE(index_too.output.find("give --database DB.npy instead of --index"), std::string::npos) << index_too.output;
}

}  // namespace
}  // namespace vpr
