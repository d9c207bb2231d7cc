// `vpr index`, `vpr search` and `vpr pca`: FAISS indexes over descriptor files, and
// PCA-whitening layers fitted on descriptors.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include "vpr/app/extract.h"
#include "vpr/model/wpca_layer.h"
#include "vpr/cli/commands.h"
#include "vpr/cli/flags.h"
#include "vpr/cli/parse_flags.h"
#include "vpr/dist/process_group.h"
#include "vpr/dist/sharded_search.h"
#include "vpr/image/image_list.h"
#include "vpr/index/faiss_index.h"
#include "vpr/util/atomic_file.h"
#include "vpr/util/check.h"
#include "vpr/util/fingerprint.h"
#include "vpr/util/logging.h"
#include "vpr/util/npy.h"
#include "vpr/util/progress.h"
#include "vpr/vpr.h"

namespace vpr {
namespace {
namespace fs = std::filesystem;

std::vector<std::string> ReadNames(const std::string& path) {
  std::ifstream in(path);
  VPR_CHECK(in, "cannot read names file '", path, "'");
  std::vector<std::string> names;
  for (std::string line; std::getline(in, line);) names.push_back(line);
  return names;
}

// The names file for a descriptor file: `given`, or the .names.txt beside it when it
// exists ("" when neither). Its line count must match the rows.
std::string ResolveNames(const std::string& given, const std::string& npy, int64_t rows, const char* what) {
  std::string path = given.empty() ? NamesPathFor(npy) : given;
  if (given.empty() && !fs::exists(path)) {
    Log().warn("{}: no names file '{}' beside '{}': outputs will have ids only", what, path, npy);
    return "";
  }
  size_t lines = ReadNames(path).size();
  VPR_CHECK(static_cast<int64_t>(lines) == rows, "names file '", path, "' has ", lines, " lines but '", npy,
            "' has ", rows, " rows: they do not belong together");
  return fs::absolute(path).string();
}

struct IndexCommandOptions {
  std::string descriptors;
  std::string names;
  std::string out;
  IndexOptions index;
  void Check() const {
    VPR_CHECK(fs::is_regular_file(descriptors), "--descriptors '", descriptors, "' does not exist");
    VPR_CHECK(!out.empty(), "--out must name the index file to write");
    index.Check();
  }
};

struct SearchCommandOptions {
  std::string index;
  std::string database;  // or: exact search over these descriptors in place
  std::string queries;
  std::string query_names;
  std::string out;
  int top_k = 20;
  int nprobe = 0;
  int ef_search = 0;
  void Check() const {
    VPR_CHECK_USAGE(index.empty() != database.empty(),
                    "give exactly one of --index FILE (built by vpr index) or --database DB.npy (exact search over "
                    "the descriptors in place)");
    VPR_CHECK(database.empty() || fs::is_regular_file(database), "--database '", database, "' does not exist");
    VPR_CHECK(fs::is_regular_file(queries), "--queries '", queries, "' does not exist");
    VPR_CHECK(!out.empty(), "--out must name the result .json to write");
    VPR_CHECK(top_k > 0 && top_k <= 100000, "--top-k must be in [1, 100000], got ", top_k);
    VPR_CHECK(nprobe >= 0 && ef_search >= 0, "--nprobe and --ef-search must be >= 0 (0 = faiss' default)");
  }
};

struct PcaCommandOptions {
  std::string model;
  std::string descriptors;
  std::vector<std::string> images;
  std::string out;
  WpcaOptions wpca{4096};
  ExtractOptions extract;
  void Check() const {
    VPR_CHECK(descriptors.empty() != images.empty(),
              "give exactly one of --descriptors DB.npy (descriptors of the model without WPCA) or --images");
    VPR_CHECK(!out.empty(), "--out must name the checkpoint to write");
    wpca.Check();
    extract.Check();
  }
};

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

nlohmann::json QueryJson(const KnnResult& knn, int64_t q, const std::vector<std::string>& query_names,
                         const std::vector<std::string>& db_names) {
  nlohmann::json ids = nlohmann::json::array(), names = nlohmann::json::array(), dists = nlohmann::json::array();
  for (int64_t r = 0; r < knn.k; ++r) {
    int64_t id = knn.id(q, r);
    if (id < 0) continue;  // fewer than k found
    ids.push_back(id);
    dists.push_back(knn.distance(q, r));
    if (!db_names.empty()) names.push_back(db_names[id]);
  }
  nlohmann::json row = {{"id", q}, {"ids", ids}, {"distances", dists}};
  if (!query_names.empty()) row["name"] = query_names[q];
  if (!db_names.empty()) row["names"] = names;
  return row;
}

// A .vprdb is the public PlaceDatabase (the file vpr serve and the C++ API load); any
// other --out / --index is a FAISS index with its .json sidecar.
bool IsPlaceDatabase(const std::string& path) { return fs::path(path).extension() == ".vprdb"; }

std::vector<std::string> QueryNames(const SearchCommandOptions& options, int64_t rows) {
  const std::string path = ResolveNames(options.query_names, options.queries, rows, "search");
  return path.empty() ? std::vector<std::string>{} : ReadNames(path);
}

int64_t TopK(const SearchCommandOptions& options, int64_t entries) {
  const int64_t k = std::min<int64_t>(options.top_k, entries);
  if (k < options.top_k) Log().warn("search: --top-k {} > the {} database entries; returning {}", options.top_k, entries, k);
  return k;
}

// What either kind of index answers, as vpr search writes it.
struct SearchOutput {
  std::string factory, metric;
  int64_t k = 0;
  double seconds = 0;
  nlohmann::json rows = nlohmann::json::array();
};

SearchOutput SearchFaissIndex(const SearchCommandOptions& options) {
  FaissIndex index = FaissIndex::Load(options.index);
  index.SetSearchParams(options.nprobe, options.ef_search);
  NpyMatrix queries = ReadDescriptorMatrix(options.queries, "--queries", index.dim());
  const std::vector<std::string> query_names = QueryNames(options, queries.rows);
  const IndexInfo& info = index.info();
  VPR_CHECK(info.names.empty() || fs::exists(info.names), "database names '", info.names, "' of '", options.index,
            "' not found: its sidecar names it relative to the index's folder; move the names file with the index, "
            "or rebuild the index with vpr index --names FILE");
  std::vector<std::string> db_names = info.names.empty() ? std::vector<std::string>{} : ReadNames(info.names);
  VPR_CHECK(info.names.empty() || info.names_fingerprint.empty() ||
                info.names_fingerprint == FingerprintFileContent(info.names),
            "database names '", info.names, "' changed since '", options.index,
            "' was built (another extract wrote them?): results would be named wrongly; rebuild the index");
  VPR_CHECK(db_names.empty() || static_cast<int64_t>(db_names.size()) == index.ntotal(), "database names '",
            info.names, "' list ", db_names.size(), " images but the index holds ", index.ntotal());
  SearchOutput out{info.factory, info.metric, TopK(options, index.ntotal())};
  auto start = std::chrono::steady_clock::now();
  KnnResult knn = index.Search(queries.data.data(), queries.rows, queries.cols, out.k);
  out.seconds = SecondsSince(start);
  for (int64_t q = 0; q < knn.num_queries; ++q) out.rows.push_back(QueryJson(knn, q, query_names, db_names));
  return out;
}

SearchOutput SearchPlaceDatabase(const SearchCommandOptions& options) {
  const PlaceDatabase db = PlaceDatabase::Load(options.index);
  NpyMatrix queries = ReadDescriptorMatrix(options.queries, "--queries", db.dim());
  const std::vector<std::string> query_names = QueryNames(options, queries.rows);
  SearchOutput out{db.options().factory, db.options().metric, TopK(options, db.size())};
  std::vector<std::vector<float>> rows;
  for (int64_t q = 0; q < queries.rows; ++q)
    rows.emplace_back(queries.data.begin() + q * queries.cols, queries.data.begin() + (q + 1) * queries.cols);
  auto start = std::chrono::steady_clock::now();
  const std::vector<std::vector<Match>> matches = out.k > 0 ? db.QueryMany(rows, static_cast<int>(out.k))
                                                            : std::vector<std::vector<Match>>(rows.size());
  out.seconds = SecondsSince(start);
  for (size_t q = 0; q < matches.size(); ++q) {
    nlohmann::json ids = nlohmann::json::array(), names = nlohmann::json::array(), dists = nlohmann::json::array();
    for (const Match& m : matches[q]) ids.push_back(m.id), dists.push_back(m.distance), names.push_back(m.info.name);
    nlohmann::json row = {{"id", q}, {"ids", ids}, {"distances", dists}, {"names", names}};
    if (!query_names.empty()) row["name"] = query_names[q];
    out.rows.push_back(row);
  }
  return out;
}

// --database DB.npy: exact squared L2 over the rows in place; with a group, each rank
// reads and searches its share, and rank 0 gets the merged lists (the same as alone).
SearchOutput SearchDescriptorFile(const SearchCommandOptions& options, Collective* group) {
  NpyReader database(options.database);
  CheckDescriptorShape(database.shape(), options.database, "--database");
  const int64_t rows = database.rows();
  const std::string names_path = ResolveNames("", options.database, rows, "search");
  const std::vector<std::string> db_names = names_path.empty() ? std::vector<std::string>{} : ReadNames(names_path);
  NpyMatrix queries = ReadDescriptorMatrix(options.queries, "--queries", database.cols());
  const std::vector<std::string> query_names = QueryNames(options, queries.rows);
  SearchOutput out{"Flat", "l2", TopK(options, rows)};
  auto start = std::chrono::steady_clock::now();
  KnnResult knn;
  if (group) {
    knn = ShardedExactSearch(options.database, queries.data.data(), queries.rows, queries.cols, out.k, *group);
  } else {
    knn = ExactKnnL2Npy(database, 0, database.rows(), queries.data.data(), queries.rows, out.k);
  }
  out.seconds = SecondsSince(start);
  for (int64_t q = 0; q < knn.num_queries; ++q) out.rows.push_back(QueryJson(knn, q, query_names, db_names));
  return out;
}

// vpr index --out MAP.vprdb: every row becomes a place named by its line of the names file.
void WritePlaceDatabase(const IndexCommandOptions& options) {
  NpyMatrix m = ReadDescriptorMatrix(options.descriptors, "--descriptors");
  const std::string names_path = ResolveNames(options.names, options.descriptors, m.rows, "index");
  const std::vector<std::string> names = names_path.empty() ? std::vector<std::string>{} : ReadNames(names_path);
  PlaceDatabase db(static_cast<int>(m.cols), DatabaseOptions{options.index.factory, options.index.metric});
  Progress progress("index: adding places", m.rows, "places");
  for (int64_t r = 0; r < m.rows; ++r) {
    db.Add(std::vector<float>(m.data.begin() + r * m.cols, m.data.begin() + (r + 1) * m.cols),
           PlaceInfo{names.empty() ? std::string() : names[r], 0.0, 0.0, static_cast<double>(r)});
    progress.Add(1);
  }
  progress.Finish();
  db.Save(options.out);
}

}  // namespace

int RunIndexCommand(int argc, char** argv) {
  CLI::App app("Build a FAISS index over a descriptor file (float32 N x dim .npy, as vpr extract writes),\n"
               "streaming it in chunks. Writes OUT and OUT.json (factory, metric, dim, count, and the\n"
               "descriptors and names files, so vpr search can name the results); or, for OUT.vprdb, one\n"
               "place database file with the names inside (vpr serve --db and the C++ API load it).",
               "vpr index");
  IndexCommandOptions options;
  app.add_option("--descriptors", options.descriptors, "database descriptors .npy")->required();
  app.add_option("--names", options.names, "names file, line i = row i (default: the .names.txt beside --descriptors)");
  app.add_option("--factory", options.index.factory,
                 "faiss index_factory string: Flat (exact), IVF1024,Flat, PQ64, HNSW32, IVF256,PQ32, ...")
      ->capture_default_str();
  app.add_option("--metric", options.index.metric,
                 "l2 (squared Euclidean, smaller is closer) or ip (inner product, larger is closer)")
      ->capture_default_str()
      ->check(CLI::IsMember({"l2", "ip"}));
  app.add_option("--train-size", options.index.train_size,
                 "rows sampled to train IVF / PQ (0 = all; faiss wants >= 39 per list or centroid)")
      ->capture_default_str();
  app.add_option("--seed", options.index.seed, "seed of the training sample and k-means")->capture_default_str();
  app.add_option("--out", options.out, "index file to write: db.index (FAISS + db.index.json), or map.vprdb (one "
                                       "file with the names inside, as vpr serve and the C++ API load; Flat or HNSW)")
      ->required();
  RuntimeOptions runtime;
  app.add_option("--threads", runtime.threads, "CPU threads of FAISS and BLAS (0 = every usable CPU)")
      ->capture_default_str();
  VPR_PARSE_FLAGS(app, argc, argv);
  options.Check();
  runtime.Apply();
  CheckWritable(options.out, "--out");
  CheckWritable(IndexInfoPath(options.out), "--out");

  auto start = std::chrono::steady_clock::now();
  if (IsPlaceDatabase(options.out)) {
    WritePlaceDatabase(options);
    Log().info("index: wrote {} (a place database, '{}', {}), {:.1f} MB, {:.1f}s", options.out, options.index.factory,
               DistanceMeaning(options.index.metric), fs::file_size(options.out) / 1e6, SecondsSince(start));
    return 0;
  }
  // Names first: a mismatch should fail before minutes of training.
  std::string names = ResolveNames(options.names, options.descriptors, NpyReader(options.descriptors).rows(), "index");
  FaissIndex index = FaissIndex::BuildFromNpy(options.descriptors, options.index);
  index.SetSources(fs::absolute(options.descriptors).string(), names);
  index.Save(options.out);
  Log().info("index: wrote {} ('{}', {}): {} vectors of {} dims, {:.1f} MB, {:.1f}s, {} threads", options.out,
             options.index.factory, DistanceMeaning(options.index.metric), index.ntotal(), index.dim(),
             fs::file_size(options.out) / 1e6, SecondsSince(start), runtime.ResolvedThreads());
  return 0;
}

int RunSearchCommand(int argc, char** argv) {
  CLI::App app("Search a FAISS index built by vpr index with query descriptors (float32 .npy of the same\n"
               "dim). Writes OUT (JSON): per query its id, name, and the top-k database ids, names and\n"
               "distances (squared L2, ascending; or inner products, descending, for --metric ip indexes).",
               "vpr search");
  SearchCommandOptions options;
  app.add_option("--index", options.index, "index written by vpr index (.index, or a .vprdb place database)");
  app.add_option("--database", options.database,
                 "or: database descriptors .npy searched exactly in place (squared L2; names from the .names.txt "
                 "beside it); with --world-size each rank reads and searches only its share of the rows");
  app.add_option("--queries", options.queries, "query descriptors .npy")->required();
  app.add_option("--query-names", options.query_names,
                 "query names file (default: the .names.txt beside --queries, when present)");
  app.add_option("--top-k", options.top_k, "database entries returned per query")->capture_default_str();
  app.add_option("--nprobe", options.nprobe, "IVF lists visited per query (0 = faiss' default, 1)")
      ->capture_default_str();
  app.add_option("--ef-search", options.ef_search, "HNSW efSearch (0 = faiss' default, 16)")->capture_default_str();
  app.add_option("--out", options.out, "result .json")->required();
  RuntimeOptions runtime;
  app.add_option("--threads", runtime.threads, "CPU threads of FAISS and BLAS (0 = every usable CPU)")
      ->capture_default_str();
  DistFlagBinding dist_flags;
  dist_flags.Bind(app);
  VPR_PARSE_FLAGS(app, argc, argv);
  runtime.Apply();
  options.Check();
  const DistOptions dist = dist_flags.Resolve();
  VPR_CHECK_USAGE(!dist.enabled() || !options.database.empty(), "--world-size ", dist.world_size, " shards an exact "
                  "search over descriptors: give --database DB.npy instead of --index (an index is searched whole)");
  if (!dist.enabled() || dist.rank == 0) CheckWritable(options.out, "--out");

  std::unique_ptr<ProcessGroup> group = dist.enabled() ? std::make_unique<ProcessGroup>(dist) : nullptr;
  const SearchOutput out = !options.database.empty()      ? SearchDescriptorFile(options, group.get())
                           : IsPlaceDatabase(options.index) ? SearchPlaceDatabase(options)
                                                            : SearchFaissIndex(options);
  if (group && group->rank() != 0) {
    Log().info("search: rank {} of {} searched its share in {:.3f}s; rank 0 writes {}", group->rank(), group->size(),
               out.seconds, options.out);
    return 0;
  }
  const nlohmann::json result = {{options.database.empty() ? "index" : "database",
                                  options.database.empty() ? options.index : options.database},
                                 {"factory", out.factory},
                                 {"metric", out.metric},
                                 {"distance", DistanceMeaning(out.metric)},
                                 {"top_k", out.k},
                                 {"num_queries", out.rows.size()},
                                 {"search_seconds", out.seconds},
                                 {"queries", out.rows}};
  WriteFileAtomic(options.out, result.dump(1) + "\n");
  const size_t n = out.rows.size();
  Log().info("search: {} queries x top {} in {} ('{}', {}) in {:.3f}s ({:.3f} ms/query, {} threads); wrote {}", n,
             out.k, options.index, out.factory, DistanceMeaning(out.metric), out.seconds,
             n > 0 ? 1e3 * out.seconds / n : 0.0, runtime.ResolvedThreads(), options.out);
  if (n > 0 && !out.rows[0]["ids"].empty())
    Log().info("search: query 0{} -> {}{} (distance {})",
               out.rows[0].contains("name") ? " (" + out.rows[0]["name"].get<std::string>() + ")" : "",
               out.rows[0]["ids"][0].get<int64_t>(),
               out.rows[0].contains("names") ? " (" + out.rows[0]["names"][0].get<std::string>() + ")" : "",
               out.rows[0]["distances"][0].get<float>());
  return 0;
}

namespace {

// The K*D-d descriptors WPCA is fitted on: read from --descriptors, or extracted from
// --images with `model` (which has no WPCA layer).
at::Tensor TrainingDescriptors(VprModel& model, const PcaCommandOptions& options) {
  const int64_t full = model->options().PooledDim();
  at::Tensor x;
  if (!options.descriptors.empty()) {
    NpyMatrix m = ReadDescriptorMatrix(options.descriptors, "--descriptors");
    VPR_CHECK(m.cols == full, "'", options.descriptors, "' holds ", m.cols, "-d descriptors but this model gives K*D = ",
              full, "-d ones without WPCA: extract them with the model before any WPCA layer (e.g. the checkpoint "
              "vpr pca started from)");
    // The tensor takes over the buffer: the descriptors are held once.
    auto* data = new std::vector<float>(std::move(m.data));
    x = torch::from_blob(data->data(), {m.rows, m.cols}, [data](void*) { delete data; }, torch::kFloat);
  } else {
    std::vector<std::string> paths = CollectImages(options.images);
    Log().info("pca: describing {} images", paths.size());
    ExtractResult result = ExtractDescriptors(model, paths, options.extract);
    x = result.descriptors.to(torch::kFloat).contiguous();
  }
  return x;
}

}  // namespace

int RunPcaCommand(int argc, char** argv) {
  CLI::App app("Fit PCA-whitening (WPCA) on a model's NetVLAD descriptors, as Patch-NetVLAD's add_pca.py, and\n"
               "write OUT, the checkpoint with the WPCA.0 layer (Conv2d(K*D, --dim, 1) + L2 norm); vpr extract\n"
               "then gives --dim-d descriptors. Needs more than --dim descriptors.",
               "vpr pca");
  PcaCommandOptions options;
  ModelFlagBinding model_flags;
  ImageFlagBinding image_flags;
  app.add_option("--model", options.model, "checkpoint or pytorch-NetVlad run folder (an existing WPCA layer is replaced)")
      ->required();
  auto* descriptors = app.add_option("--descriptors", options.descriptors,
                                     "K*D-d descriptors .npy of the model without WPCA (vpr extract output)");
  app.add_option("--images", options.images, "or: folders, images or list files to describe with the model")
      ->excludes(descriptors);
  app.add_option("--dim", options.wpca.out_dim, "output dimension (components kept)")->capture_default_str();
  app.add_option("--out", options.out, "output checkpoint (.pth)")->required();
  app.add_option("--batch-size", options.extract.batch_size, "images per forward pass (same-size images only)")
      ->capture_default_str();
  model_flags.Bind(app);
  image_flags.Bind(app);
  BindRuntimeFlags(app, options.extract.runtime);
  VPR_PARSE_FLAGS(app, argc, argv);
  options.extract.runtime.Apply();
  options.extract.resize = image_flags.Resolve();
  options.extract.label = "pca extract";
  options.Check();
  const ModelFlags flags = model_flags.Resolve();
  CheckWritable(options.out, "--out");

  auto start = std::chrono::steady_clock::now();
  LoadedModel loaded = LoadModel(options.model, flags);
  if (!options.images.empty()) image_flags.AdoptCheckpointSize(loaded, &options.extract.resize);
  const int64_t old_wpca = loaded.model->options().wpca_dim;
  if (old_wpca > 0) Log().info("pca: replacing the model's {}-d WPCA layer; fitting on the K*D-d descriptors", old_wpca);
  VprModel base = old_wpca > 0 ? WithoutWpca(loaded.model) : loaded.model;
  at::Tensor x = TrainingDescriptors(base, options);
  Wpca wpca = FitWpca(x.data_ptr<float>(), x.size(0), x.size(1), options.wpca);
  VprModel reduced = SetWpca(base, wpca);
  nlohmann::json info = {{"num_pcs", wpca.out_dim},
                         {"model_file", loaded.path},
                         {"wpca", {{"train_descriptors", x.size(0)},
                                   {"source", options.descriptors.empty() ? "images" : options.descriptors},
                                   {"epsilon", options.wpca.epsilon},
                                   {"eigenvalues", wpca.eigenvalues}}}};
  // Descriptors from a file were made at the size the model records, if any.
  if (!options.images.empty())
    info["resize"] = ResizeRecord(options.extract.resize);
  else if (loaded.info.contains("resize"))
    info["resize"] = loaded.info["resize"];
  SaveModel(options.out, reduced, info);
  Log().info("pca: wrote {} ({}); WPCA fitted on {} descriptors, {} -> {} dims, {:.1f}s, {} threads", options.out,
             reduced->options().Describe(), x.size(0), x.size(1), wpca.out_dim, SecondsSince(start),
             options.extract.runtime.ResolvedThreads());
  return 0;
}

}  // namespace vpr
