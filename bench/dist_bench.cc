// Scaling of vpr over processes on one machine, one thread each (issue 16):
//  1. `vpr extract` of the same images by 1 and by 2 processes (wall time, speedup);
//  2. one epoch of `vpr train` by 1 and by 2 processes, same seed and global batch;
//  3. the gradient all-reduce of one step alone (ProcessGroup::AllReduceSum of the trained
//     parameters' size between two processes over loopback), its share of a 2-rank step,
//     and the efficiency N machines would get from it (ring all-reduce: each rank sends
//     and receives 2(N-1)/N of the gradient per step), over loopback and, from the bytes,
//     over 1 and 10 Gbit/s Ethernet.
// MobileNetV2 (ImageNet weights from ../shared when present) + NetVLAD K=64 at 240 px on
// the Gardens Point day_right/day_left frames (else rendered ones).
//
//   GOMP_SPINCOUNT=3000 build/bench/vpr_bench_dist [--images 64] [--places 40]
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

#include <CLI/CLI.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "bench_util.h"
#include "vpr/dist/process_group.h"
#include "vpr/image/image_list.h"
#include "vpr/test_config.h"

namespace {
namespace fs = std::filesystem;

struct Config {
  int images = 64;     // extraction
  int places = 40;     // training route (database and queries)
  int max_side = 240;
  int accumulate = 4;  // tuples per step (global batch)
  int reduce_repeats = 20;
  int port = 29731;
};

const fs::path kShared(VPR_SHARED_DIR);
const std::string kWeights = (kShared / "data/weights/mobilenet_v2_imagenet.pth").string();

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Runs `command` (stdout and stderr captured); fails the bench on a non-zero exit.
std::string Run(const std::string& command) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  std::string out;
  std::array<char, 4096> buf;
  while (size_t n = fread(buf.data(), 1, buf.size(), pipe)) out.append(buf.data(), n);
  const int status = pclose(pipe);
  if (WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "failed (%d): %s\n%s\n", WEXITSTATUS(status), command.c_str(), out.c_str());
    std::exit(1);
  }
  return out;
}

std::string Vpr() { return std::string(VPR_BINARY_DIR) + "/vpr"; }

// Two ranks of `args` at once; returns rank 0's output and the wall time of both.
std::pair<std::string, double> TwoRanks(const std::string& args, int port, const fs::path& log) {
  const std::string env = "env WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(port);
  const auto start = std::chrono::steady_clock::now();
  const std::string out = Run("(" + env + " RANK=1 " + Vpr() + " " + args + " > " + log.string() + " 2>&1 & " + env +
                              " RANK=0 " + Vpr() + " " + args + "; wait)");
  return {out, SecondsSince(start)};
}

// `n` images as a folder of links (the Gardens Point frames, else rendered ones).
std::string Frames(const fs::path& dir, const std::string& traversal, int n, int offset) {
  fs::create_directories(dir);
  std::vector<std::string> all;
  if (fs::exists(kShared / "data/gardens_point" / traversal))
    all = vpr::CollectImages({(kShared / "data/gardens_point" / traversal).string()});
  for (int i = 0; i < n; ++i) {
    const fs::path to = dir / ("f" + std::to_string(1000 + i) + ".jpg");
    if (fs::exists(to)) continue;
    if (!all.empty()) {
      fs::create_symlink(all[(offset + i) % all.size()], to);
    } else {
      cv::Mat image(270, 480, CV_8UC3);
      cv::randu(image, 0, 255);
      cv::GaussianBlur(image, image, cv::Size(0, 0), 3 + (i + offset) % 5);
      cv::imwrite(to.string(), image);
    }
  }
  return dir.string();
}

std::string ModelArgs(const Config& c) {
  const std::string size = " --max-side " + std::to_string(c.max_side);
  if (fs::exists(kWeights))
    return "--model " + kWeights + " --backbone mobilenet_v2 --normalize tf --tf-padding --clusters 64" + size;
  return "--model none --backbone mobilenet_v2 --clusters 64" + size;  // fails clearly without weights
}

double Number(const std::string& text, const std::string& pattern) {
  std::smatch m;
  if (!std::regex_search(text, m, std::regex(pattern))) {
    std::fprintf(stderr, "no '%s' in:\n%s\n", pattern.c_str(), text.c_str());
    std::exit(1);
  }
  return std::stod(m[1]);
}

// The all-reduce alone: `floats` summed between two processes, seconds per call (median).
int ReduceWorker(int rank, int64_t floats, int repeats, int port) {
  vpr::DistOptions o;
  o.rank = rank;
  o.world_size = 2;
  o.master_port = port;
  o.timeout_s = 60;
  vpr::ProcessGroup group(o);
  std::vector<float> grads(static_cast<size_t>(floats), 1.0f);
  std::vector<double> seconds;
  for (int i = 0; i < repeats + 2; ++i) {
    group.Barrier("bench");
    const auto start = std::chrono::steady_clock::now();
    group.AllReduceSum(grads.data(), floats, "bench");
    if (i >= 2) seconds.push_back(SecondsSince(start));  // the first two warm the connections
  }
  if (rank == 0) std::printf("%.9f\n", vpr_bench::Percentile(seconds, 0.5));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Config c;
  int worker_rank = -1;
  int64_t worker_floats = 0;
  CLI::App app("vpr over 1 and 2 processes: extraction, a training epoch, the gradient all-reduce");
  app.add_option("--images", c.images, "images extracted")->capture_default_str();
  app.add_option("--places", c.places, "training places (database = queries count)")->capture_default_str();
  app.add_option("--max-side", c.max_side)->capture_default_str();
  app.add_option("--accumulate", c.accumulate, "tuples per step")->capture_default_str();
  app.add_option("--port", c.port, "first of the loopback ports used")->capture_default_str();
  app.add_option("--reduce-worker", worker_rank)->group("");  // internal: one rank of the all-reduce alone
  app.add_option("--floats", worker_floats)->group("");
  CLI11_PARSE(app, argc, argv);
  if (worker_rank >= 0) return ReduceWorker(worker_rank, worker_floats, c.reduce_repeats, c.port);

  vpr_bench::PrintMachine();
  const fs::path scratch = fs::path(VPR_BINARY_DIR) / "bench_scratch" / "dist";
  fs::remove_all(scratch);
  const std::string model = ModelArgs(c);

  // 1. Extraction.
  const std::string images = Frames(scratch / "extract", "day_right", c.images, 0);
  const std::string extract = "extract -q --threads 1 " + model + " --images " + images + " --out ";
  auto start = std::chrono::steady_clock::now();
  Run(Vpr() + " " + extract + (scratch / "one.npy").string());
  const double extract1 = SecondsSince(start);
  const double extract2 = TwoRanks(extract + (scratch / "two.npy").string(), c.port, scratch / "extract_rank1.log").second;
  std::printf("extract %d images, 1 thread per process: 1 process %.2f s (%.2f images/s), 2 processes %.2f s "
              "(%.2f images/s): speedup %.2fx, efficiency %.0f%%\n",
              c.images, extract1, c.images / extract1, extract2, c.images / extract2, extract1 / extract2,
              50 * extract1 / extract2);

  // 2. One training epoch.
  const std::string db = Frames(scratch / "route" / "db", "day_right", c.places, 0);
  const std::string queries = Frames(scratch / "route" / "queries", "day_left", c.places, 0);
  const std::string train = "train --log-level info --threads 1 " + model + " --db " + db + " --queries " + queries +
                            " --frame-tolerance 2 --epochs 1 --accumulate " + std::to_string(c.accumulate) +
                            " --batch-size 8 --seed 3 --out ";
  start = std::chrono::steady_clock::now();
  const std::string out1 = Run(Vpr() + " " + train + (scratch / "run1").string());
  const double train1 = SecondsSince(start);
  const auto [out2, train2] = TwoRanks(train + (scratch / "run2").string(), c.port + 1, scratch / "train_rank1.log");
  const double steps = Number(out2, R"(train epoch 1/1: loss [0-9.e+-]+, ([0-9]+) steps)");
  const double reduce_in_steps = Number(out2, R"(rank 0 of 2, ([0-9.]+) s of [0-9.]+ s stepping)");
  const double step_seconds2 = Number(out2, R"(rank 0 of 2, [0-9.]+ s of ([0-9.]+) s stepping)");
  const double params = Number(out1, R"(train: ([0-9]+) parameters trained)");
  std::printf("train 1 epoch (%d queries, %d database images, %.0f steps of %d tuples), 1 thread per process: "
              "1 process %.1f s, 2 processes %.1f s: speedup %.2fx, efficiency %.0f%%\n",
              c.places, c.places, steps, c.accumulate, train1, train2, train1 / train2, 50 * train1 / train2);
  std::printf("train, 2 processes: rank 0 spent %.3f s of %.2f s of steps in the gradient all-reduce (%.1f%%, "
              "waiting for the slower rank included), %.1f ms per step\n",
              reduce_in_steps, step_seconds2, 100 * reduce_in_steps / step_seconds2, 1e3 * reduce_in_steps / steps);

  // 3. The all-reduce alone, of the trained parameters' size.
  const std::string worker = std::string(argv[0]) + " --reduce-worker ";
  const std::string size = " --floats " + std::to_string(static_cast<int64_t>(params)) + " --port " +
                           std::to_string(c.port + 2);
  const std::string reduce_out = Run("(" + worker + "1" + size + " > /dev/null & " + worker + "0" + size + "; wait)");
  const double reduce = std::stod(reduce_out.substr(reduce_out.find_last_of('\n', reduce_out.size() - 2) + 1));
  const double bytes = 4 * params;
  const double step2 = step_seconds2 / steps, compute2 = step2 - reduce;
  std::printf("all-reduce of %.0f gradients (%.1f MB) between 2 processes over loopback: %.2f ms (median of %d), "
              "%.1f%% of a 2-process step (%.1f ms)\n",
              params, bytes / 1e6, 1e3 * reduce, c.reduce_repeats, 100 * reduce / step2, 1e3 * step2);
  // Each machine keeps its share of tuples per step (the global batch grows with N):
  // efficiency = compute / (compute + all-reduce(N)), ring all-reduce 2(N-1)/N of the bytes.
  std::printf("efficiency on N machines (%.1f ms of compute per step and rank; all-reduce over loopback as measured, "
              "over Ethernet from the bytes):\n", 1e3 * compute2);
  for (int n : {2, 4, 8, 16}) {
    const double share = 2.0 * (n - 1) / n;
    auto efficiency = [&](double seconds) { return 100 * compute2 / (compute2 + seconds); };
    std::printf("  N=%-2d loopback %.0f%%, 10 GbE %.0f%%, 1 GbE %.0f%%\n", n, efficiency(reduce * share),
                efficiency(share * bytes / 1.25e9), efficiency(share * bytes / 1.25e8));
  }
  return 0;
}
