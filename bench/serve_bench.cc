// vpr serve under load: requests/s and p50/p99 latency of POST /v1/localize (a Gardens
// Point day_left JPEG, k=5) at concurrency 1, 4 and 16 against a database of 10,000
// places, and in the same run the library call alone (decode + PlaceRecognizer::Describe
// + PlaceDatabase::Query, one caller) as the reference: the ratios say what HTTP, JSON and
// the queue add, and what batching requests that arrive together gains.
//
// Model as vpr_bench_api (MobileNetV2 features[:17], NetVLAD K=64, WPCA to --dim), at
// 240x320 fp32; the server runs in this process on a loopback port with the model on
// --threads; clients are httplib::Client threads, each sending --requests requests.
// Skips with a message when ../shared is absent.
//
//   build/bench/vpr_bench_serve [--requests 48] [--threads 2] [--places 10000] [--dim 4096]
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <thread>

#include <CLI/CLI.hpp>
#include <opencv2/imgcodecs.hpp>

#include "bench_model.h"
#include "bench_util.h"
#include "vpr/image/image_list.h"
#include "vpr/serve/localization_server.h"
#include "vpr/test_config.h"
#include "vpr/util/atomic_file.h"
#include "vpr/vpr.h"

namespace {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Config {
  int requests = 48;  // per client, at each concurrency
  int threads = 2;
  int places = 10000;
  int dim = 4096;
  std::vector<int> concurrency = {1, 4, 16};
};

const fs::path kShared(VPR_SHARED_DIR);

double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

struct Run {
  std::vector<double> ms;
  double seconds = 0;
  int failed = 0;
  double rate() const { return ms.size() / seconds; }
};

void PrintRow(const std::string& label, const Run& r, double reference_p50, double reference_rate) {
  const double p50 = vpr_bench::Percentile(r.ms, 0.5);
  std::printf("  %-28s %8.1f %9.1f %9.1f %8.2f %9.2f %7d\n", label.c_str(), r.rate(), p50,
              vpr_bench::Percentile(r.ms, 0.99), p50 / reference_p50, r.rate() / reference_rate, r.failed);
}

// The reference: what an embedding program pays per photo, one call after another.
Run LibraryCalls(const vpr::PlaceRecognizer& rec, const vpr::PlaceDatabase& db, const std::vector<std::string>& jpegs,
                 int n) {
  Run run;
  const auto start = Clock::now();
  for (int i = 0; i < n; ++i) {
    const std::string& bytes = jpegs[static_cast<size_t>(i) % jpegs.size()];
    const auto t = Clock::now();
    cv::Mat image = cv::imdecode(cv::_InputArray(bytes.data(), static_cast<int>(bytes.size())), cv::IMREAD_COLOR);
    std::vector<vpr::Match> matches = db.Query(rec.Describe(image), 5);
    run.ms.push_back(MsSince(t));
  }
  run.seconds = MsSince(start) / 1000;
  return run;
}

Run HttpClients(int port, const std::vector<std::string>& jpegs, int clients, int requests) {
  Run run;
  std::mutex mutex;
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      httplib::Client client("127.0.0.1", port);
      client.set_keep_alive(true);
      client.set_tcp_nodelay(true);  // as any latency-minded client
      client.set_read_timeout(120, 0);
      for (int i = 0; i < requests; ++i) {
        const std::string& bytes = jpegs[static_cast<size_t>(c * requests + i) % jpegs.size()];
        const auto t = Clock::now();
        auto res = client.Post("/v1/localize?k=5", bytes, "image/jpeg");
        const double ms = MsSince(t);
        std::lock_guard lock(mutex);
        if (res && res->status == 200)
          run.ms.push_back(ms);
        else
          ++run.failed;
      }
    });
  }
  for (auto& t : threads) t.join();
  run.seconds = MsSince(start) / 1000;
  return run;
}

}  // namespace

int main(int argc, char** argv) {
  Config config;
  CLI::App app("vpr serve: /v1/localize throughput and latency against the library call alone");
  app.add_option("--requests", config.requests, "requests per client at each concurrency")->capture_default_str();
  app.add_option("--threads", config.threads, "CPU threads of the model")->capture_default_str();
  app.add_option("--places", config.places, "database size (random places)")->capture_default_str();
  app.add_option("--dim", config.dim, "descriptor dimension (WPCA; 0 = 10240-d NetVLAD)")->capture_default_str();
  app.add_option("--concurrency", config.concurrency, "client counts")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  const fs::path weights = kShared / "data/weights/mobilenet_v2_imagenet.pth";
  const fs::path queries = kShared / "data/gardens_point/day_left";
  if (!fs::exists(weights) || !fs::is_directory(queries)) {
    std::printf("skipped: %s or %s is absent (../shared)\n", weights.c_str(), queries.c_str());
    return 0;
  }
  vpr_bench::PrintMachine();
  const fs::path scratch = fs::temp_directory_path() / ("vpr_bench_serve_" + std::to_string(::getpid()));
  fs::create_directories(scratch);
  vpr::ServeOptions options;
  vpr::RecognizerOptions& r = options.recognizer;
  r.model = vpr_bench::MakeBenchCheckpoint(weights.string(), 64, config.dim, (scratch / "model.pth").string());
  r.resize_height = 240;
  r.resize_width = 320;
  r.threads = config.threads;
  vpr::PlaceRecognizer recognizer(r);
  vpr::PlaceDatabase db = vpr_bench::FilledDatabase(recognizer.dim(), config.places);
  options.db = (scratch / "map.vprdb").string();
  db.Save(options.db);
  options.port = 0;
  options.http_threads = 16;
  options.queue_capacity = 64;
  std::vector<std::string> jpegs;
  for (const std::string& path : vpr::CollectImages({queries.string()})) jpegs.push_back(vpr::ReadFileBytes(path));

  const int reference_calls = config.requests * 2;
  LibraryCalls(recognizer, db, jpegs, 4);  // warm-up
  const Run library = LibraryCalls(recognizer, db, jpegs, reference_calls);
  std::vector<std::pair<int, Run>> http;
  {
    vpr::LocalizationServer server(options);
    const int port = server.Start();
    server.Load();
    HttpClients(port, jpegs, 1, 4);  // warm-up
    for (int clients : config.concurrency) http.emplace_back(clients, HttpClients(port, jpegs, clients, config.requests));
  }
  const double p50 = vpr_bench::Percentile(library.ms, 0.5);
  std::printf("\n/v1/localize, %d places x %d-d, 240x320 fp32, model on %d threads, k=5\n", config.places,
              recognizer.dim(), config.threads);
  std::printf("  %-28s %8s %9s %9s %8s %9s %7s\n", "", "req/s", "p50 ms", "p99 ms", "p50/lib", "rate/lib", "failed");
  PrintRow("library call, 1 caller", library, p50, library.rate());
  for (const auto& [clients, run] : http)
    PrintRow("HTTP, " + std::to_string(clients) + " client" + (clients > 1 ? "s" : ""), run, p50, library.rate());
  fs::remove_all(scratch);
  return 0;
}
