// Search speed and quality: exact k-NN (vpr's ExactKnnL2 over FAISS and the loaded BLAS)
// of 1,000 queries against 10,000 and 100,000 database descriptors at 4096-d, against
// Python's faiss.IndexFlatL2 on the same sizes in the same run; and an IVF-PQ index
// (IVF4096,PQ32 by default) over 1,000,000 x 256-d: ms per query and recall@1 against
// the exact top-1 at several nprobe. Data: clustered unit vectors (places), queries near
// database entries (revisits), so that the nearest neighbour means something. Also:
// vpr search --database's exact search streamed from a .npy in bounded chunks, against
// the same search over the rows held in memory.
//
//   build/bench/vpr_bench_search [--threads 2] [--ivf-rows 1000000] [--factory IVF4096,PQ32]
#include <torch/torch.h>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>

#include <CLI/CLI.hpp>

#include "python_reference.h"
#include "vpr/index/faiss_index.h"
#include "vpr/index/knn.h"
#include "vpr/index/sharded_knn.h"
#include "vpr/util/npy.h"
#include "vpr/runtime/blas.h"
#include "vpr/runtime/cpu_features.h"
#include "vpr/runtime/runtime_options.h"

namespace {

struct Config {
  int threads = 2;
  int queries = 1000;
  int64_t ivf_rows = 1000000;
  std::string factory = "IVF4096,PQ32";
  int64_t train_size = 200000;
  int64_t streamed_rows = 100000;
};

// n unit vectors of dimension d around n / 10 centres; queries: noisy copies of rows.
std::vector<float> Clustered(int64_t n, int64_t d, uint64_t seed, std::vector<float>* queries, int nq) {
  torch::manual_seed(seed);
  at::Tensor centres = at::randn({std::max<int64_t>(1, n / 10), d});
  at::Tensor rows = centres.index_select(0, at::randint(centres.size(0), {n})) + 0.5 * at::randn({n, d});
  rows = rows / rows.norm(2, 1, true);
  at::Tensor q = rows.index_select(0, at::randint(n, {nq})) + 0.02 * at::randn({nq, d});
  q = (q / q.norm(2, 1, true)).contiguous();
  queries->assign(q.data_ptr<float>(), q.data_ptr<float>() + q.numel());
  rows = rows.contiguous();
  return std::vector<float>(rows.data_ptr<float>(), rows.data_ptr<float>() + rows.numel());
}

double Ms(const std::function<void()>& f) {
  auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

void Exact(const Config& c) {
  std::printf("\n1. Exact search, %d queries x top 20, 4096-d, %d threads: ms per query\n", c.queries, c.threads);
  std::printf("%10s %10s %16s %8s\n", "database", "vpr", "python faiss", "ratio");
  for (int64_t n : {10000, 100000}) {
    std::vector<float> q;
    std::vector<float> db = Clustered(n, 4096, 1, &q, c.queries);
    vpr::ExactKnnL2(db.data(), n, q.data(), 10, 4096, 20);  // warm-up
    const double ms = Ms([&] { vpr::ExactKnnL2(db.data(), n, q.data(), c.queries, 4096, 20); }) / c.queries;
    const double py = vpr_bench::PythonReference(
        "python_search.py", "--rows " + std::to_string(n) + " --queries " + std::to_string(c.queries) +
                                " --dim 4096 --threads " + std::to_string(c.threads), "ms_per_query");
    std::printf("%10lld %10.3f %16.3f %8.2f\n", static_cast<long long>(n), ms, py, ms > 0 ? py / ms : 0.0);
  }
  std::printf("(ratio = python ms / vpr ms: above 1 is faster than Python)\n");
}

// vpr search --database: the rows read from the .npy kNN-block-aligned chunks at a time.
void Streamed(const Config& c) {
  const int64_t n = c.streamed_rows, dim = 4096;
  std::printf("\n3. Exact search streamed from a .npy (vpr search --database), %d queries x top 20, %lld x %lld-d, "
              "%d threads\n", c.queries, static_cast<long long>(n), static_cast<long long>(dim), c.threads);
  std::vector<float> q;
  std::vector<float> db = Clustered(n, dim, 3, &q, c.queries);
  const std::string path =
      (std::filesystem::temp_directory_path() / ("vpr_bench_streamed_" + std::to_string(getpid()) + ".npy")).string();
  vpr::WriteNpy(path, db.data(), n, dim);
  vpr::KnnResult whole, streamed;
  const double memory_ms = Ms([&] { whole = vpr::ExactKnnL2Rows(db.data(), 0, n, q.data(), c.queries, dim, 20); });
  const double faiss_ms = Ms([&] { vpr::ExactKnnL2(db.data(), n, q.data(), c.queries, dim, 20); });
  db = {};
  vpr::NpyReader reader(path);
  const double streamed_ms = Ms([&] { streamed = vpr::ExactKnnL2Npy(reader, 0, n, q.data(), c.queries, 20); });
  std::filesystem::remove(path);
  const double held_mb = std::min<double>(vpr::kExactSearchChunkBytes, n * dim * 4.0) / (1 << 20);
  std::printf("%-44s %12s %16s\n", "", "ms per query", "database held");
  std::printf("%-44s %12.3f %13.0f MB\n", "in memory, blocks ordered by (distance, id)", memory_ms / c.queries,
              n * dim * 4.0 / (1 << 20));
  std::printf("%-44s %12.3f %13.0f MB\n", "in memory, FAISS knn_L2sqr (ties unordered)", faiss_ms / c.queries,
              n * dim * 4.0 / (1 << 20));
  std::printf("%-44s %12.3f %13.0f MB\n", "streamed from the .npy (file in page cache)", streamed_ms / c.queries,
              held_mb);
  std::printf("streamed / in memory: %.2fx the time; lists identical: %s\n", streamed_ms / memory_ms,
              streamed.ids == whole.ids && streamed.distances == whole.distances ? "yes" : "NO");
}

void Approximate(const Config& c) {
  std::printf("\n2. %s over %lld x 256-d (trained on %lld rows), %d queries x top 1, %d threads\n",
              c.factory.c_str(), static_cast<long long>(c.ivf_rows), static_cast<long long>(c.train_size), c.queries,
              c.threads);
  std::vector<float> q;
  std::vector<float> db = Clustered(c.ivf_rows, 256, 2, &q, c.queries);
  vpr::KnnResult exact;
  const double exact_ms = Ms([&] { exact = vpr::ExactKnnL2(db.data(), c.ivf_rows, q.data(), c.queries, 256, 1); });
  vpr::IndexOptions options;
  options.factory = c.factory;
  options.train_size = c.train_size;
  vpr::FaissIndex index = vpr::FaissIndex::Build(db.data(), c.ivf_rows, 256, {});
  const double build_s = Ms([&] { index = vpr::FaissIndex::Build(db.data(), c.ivf_rows, 256, options); }) / 1000;
  std::printf("built in %.1f s; exact search %.3f ms per query\n", build_s, exact_ms / c.queries);
  std::printf("%8s %14s %22s\n", "nprobe", "ms per query", "recall@1 vs exact");
  for (int nprobe : {8, 16, 32, 64, 128}) {
    index.SetSearchParams(nprobe, 0);
    vpr::KnnResult r;
    const double ms = Ms([&] { r = index.Search(q.data(), c.queries, 256, 1); }) / c.queries;
    int same = 0;
    for (int i = 0; i < c.queries; ++i) same += r.id(i, 0) == exact.id(i, 0);
    std::printf("%8d %14.3f %22.3f\n", nprobe, ms, static_cast<double>(same) / c.queries);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Config c;
  CLI::App app("vpr search benchmark: exact k-NN against Python faiss, IVF-PQ speed and recall");
  app.add_option("--threads", c.threads, "threads on both sides")->capture_default_str();
  app.add_option("--queries", c.queries)->capture_default_str();
  app.add_option("--ivf-rows", c.ivf_rows, "database rows of the IVF-PQ part (0 = skip it)")->capture_default_str();
  app.add_option("--factory", c.factory, "FAISS factory string of the approximate index")->capture_default_str();
  app.add_option("--train-size", c.train_size, "rows that train it")->capture_default_str();
  app.add_option("--streamed-rows", c.streamed_rows, "database rows of the streamed search (0 = skip it)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  vpr::RuntimeOptions runtime;
  runtime.threads = c.threads;
  runtime.Apply();
  std::printf("CPU %s\nBLAS %s (%s)\n", vpr::HostCpuFeatures().Line().c_str(), vpr::LoadedBlas().name.c_str(),
              vpr::LoadedBlas().path.c_str());
  Exact(c);
  if (c.streamed_rows > 0) Streamed(c);
  if (c.ivf_rows > 0) Approximate(c);
  return 0;
}
