#include "vpr/app/eval.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <sstream>

#include "vpr/app/descriptor_cache.h"
#include "vpr/app/pca.h"
#include "vpr/eval/precision_recall.h"
#include "vpr/eval/recall.h"
#include "vpr/util/fingerprint.h"
#include "vpr/util/atomic_file.h"
#include "vpr/util/check.h"
#include "vpr/util/logging.h"

namespace vpr {
namespace fs = std::filesystem;

void EvalOptions::Check() const {
  VPR_CHECK_USAGE(!out_dir.empty(), "--out must name a folder for the evaluation's outputs");
  VPR_CHECK_USAGE(top_k > 0 && top_k <= 100000, "--top-k must be in [1, 100000], got ", top_k);
  VPR_CHECK_USAGE(!recall_at.empty(), "--recall-at needs at least one N");
  for (int n : recall_at)
    VPR_CHECK_USAGE(n > 0 && n <= top_k, "--recall-at ", n, " must be between 1 and --top-k (", top_k,
              "): raise --top-k or drop it");
  extract.Check();
  index.Check();
  VPR_CHECK_USAGE(rerank >= 0 && rerank <= top_k, "--rerank must be in [0, --top-k] (0 = off; --top-k is ", top_k,
                  "), got ", rerank);
  if (rerank > 0) Rerank().Check();
}

RerankOptions EvalOptions::Rerank() const {
  RerankOptions r;
  r.depth = rerank;
  r.margin = rerank_margin;
  r.inner_product = index.metric == "ip";
  r.verifier = verifier;
  return r;
}

std::vector<int> ParseRecallAt(const std::string& text) {
  std::vector<int> ns;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    size_t used = 0;
    int n = 0;
    try {
      n = std::stoi(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    VPR_CHECK_USAGE(used > 0 && used == item.size() && n > 0, "--recall-at expects positive integers separated by commas, ",
              "e.g. 1,5,10,20; got '", text, "'");
    ns.push_back(n);
  }
  VPR_CHECK_USAGE(!ns.empty() && text.back() != ',', "--recall-at expects e.g. 1,5,10,20; got '", text, "'");
  return ns;
}

namespace {

// Dataset index of each descriptor row. Extraction keeps the input order and drops the
// images it could not describe, so the rows are a subsequence of the input.
std::vector<int64_t> RowToIndex(const std::vector<std::string>& input, const ExtractResult& result) {
  std::vector<int64_t> index;
  size_t i = 0;
  for (const auto& path : result.paths) {
    while (i < input.size() && input[i] != path) ++i;
    VPR_CHECK(i < input.size(), "internal: described image '", path, "' is not in the input list");
    index.push_back(static_cast<int64_t>(i++));
  }
  return index;
}

// Top-k over the described images, re-indexed to the dataset: one row per dataset
// query (id -1, distance +inf for queries without a descriptor).
KnnResult Search(const ExtractResult& db, const std::vector<int64_t>& db_index, const ExtractResult& q,
                 const std::vector<int64_t>& q_index, int64_t num_queries, int64_t k, const IndexOptions& index,
                 double* search_s) {
  at::Tensor d = db.descriptors.contiguous(), x = q.descriptors.contiguous();
  VPR_CHECK(x.size(0) == 0 || x.size(1) == d.size(1), "query descriptors are ", x.size(1),
            "-d but database descriptors ", d.size(1), "-d");
  KnnResult rows;
  const bool exact = index.factory == "Flat" && index.metric == "l2";
  auto start = std::chrono::steady_clock::now();
  if (exact) {
    rows = ExactKnnL2(d.data_ptr<float>(), d.size(0), x.data_ptr<float>(), x.size(0), d.size(1), k);
  } else {
    FaissIndex built = FaissIndex::Build(d.data_ptr<float>(), d.size(0), d.size(1), index);
    built.SetSearchParams(index.nprobe, index.hnsw_ef_search);
    start = std::chrono::steady_clock::now();  // time the search, not the build
    rows = built.Search(x.data_ptr<float>(), x.size(0), x.size(1), k);
  }
  *search_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  KnnResult full;
  full.num_queries = num_queries;
  full.k = k;
  full.ids.assign(num_queries * k, -1);
  full.distances.assign(num_queries * k, std::numeric_limits<float>::infinity());
  for (int64_t r = 0; r < rows.num_queries; ++r) {
    for (int64_t j = 0; j < k; ++j) {
      int64_t id = rows.id(r, j);
      full.ids[q_index[r] * k + j] = id < 0 ? -1 : db_index[id];
      full.distances[q_index[r] * k + j] = rows.distance(r, j);
    }
  }
  return full;
}

// Recall against descriptor size: WPCA fitted on the described database rows; recall
// over all dataset queries (a query without a descriptor is a miss at every size).
nlohmann::json RecallVsDimension(const ExtractResult& db, const std::vector<int64_t>& db_index, const ExtractResult& q,
                                 const std::vector<int64_t>& q_index, int64_t num_queries,
                                 const std::vector<std::vector<int64_t>>& positives, const EvalOptions& options) {
  std::vector<int64_t> row_of(db_index.empty() ? 0 : db_index.back() + 1, -1);
  for (size_t r = 0; r < db_index.size(); ++r) row_of[db_index[r]] = static_cast<int64_t>(r);
  std::vector<std::vector<int64_t>> row_positives;
  for (int64_t i : q_index) {
    row_positives.emplace_back();
    for (int64_t j : positives[i])
      if (j < static_cast<int64_t>(row_of.size()) && row_of[j] >= 0) row_positives.back().push_back(row_of[j]);
  }
  RecallVsDimOptions dim_options;
  dim_options.dims = options.pca_dims;
  dim_options.recall_at = options.recall_at;
  at::Tensor d = db.descriptors.contiguous(), x = q.descriptors.contiguous();
  nlohmann::json table = nlohmann::json::array();
  const double described = static_cast<double>(q_index.size()) / std::max<int64_t>(1, num_queries);
  for (DimRecall& row : RecallVsDim(d.data_ptr<float>(), d.size(0), x.data_ptr<float>(), x.size(0), d.size(1),
                                    row_positives, dim_options)) {
    for (auto& [n, r] : row.recall) r *= described;
    table.push_back(row.ToJson());
  }
  return table;
}

void PrintRecallVsDimension(const nlohmann::json& table) {
  if (table.empty()) return;
  std::string out = fmt::format("Recall@N against descriptor size (PCA-whitened on the database):\n  {:>6} {:>7}", "dim", "bytes");
  for (const auto& [n, r] : RecallByN(table[0]["recall_at"])) out += fmt::format("{:>8}", fmt::format("R@{}", n));
  for (const auto& row : table) {
    out += fmt::format("\n  {:>6} {:>7}", row["dim"].get<int64_t>(), row["bytes_per_descriptor"].get<int64_t>());
    for (const auto& [n, r] : RecallByN(row["recall_at"])) out += fmt::format("{:>8.1f}", 100 * r);
  }
  fmt::print("{}\n\n", out);
}

std::map<int, int64_t> Hits(const std::map<int, double>& recall, int64_t num_queries) {
  std::map<int, int64_t> hits;
  for (const auto& [n, r] : recall) hits[n] = std::llround(r * num_queries);
  return hits;
}

nlohmann::json Failures(const std::vector<ExtractFailure>& failures) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& f : failures) out.push_back({{"path", f.path}, {"reason", f.reason}});
  return out;
}

nlohmann::json Predictions(const Dataset& dataset, const KnnResult& knn,
                           const std::vector<std::vector<int64_t>>& positives, const std::vector<bool>& described,
                           const std::string& metric, const std::vector<std::vector<int>>* inliers) {
  nlohmann::json queries = nlohmann::json::array();
  for (int64_t q = 0; q < knn.num_queries; ++q) {
    nlohmann::json ids = nlohmann::json::array(), names = ids, distances = ids, correct = ids;
    for (int64_t r = 0; r < knn.k && knn.id(q, r) >= 0; ++r) {
      int64_t id = knn.id(q, r);
      ids.push_back(id);
      names.push_back(dataset.database_names[id]);
      distances.push_back(knn.distance(q, r));
      correct.push_back(std::binary_search(positives[q].begin(), positives[q].end(), id));
    }
    queries.push_back({{"id", q}, {"name", dataset.query_names[q]}, {"described", static_cast<bool>(described[q])},
                       {"top_k_ids", ids}, {"top_k_names", names}, {"distances", distances},
                       {"correct", correct}, {"positives", positives[q]}});
    // Re-ranked: the verification inliers of the first --rerank images, in their new order.
    if (inliers) queries.back()["inliers"] = (*inliers)[q];
  }
  return {{"format_version", 1}, {"distance", DistanceMeaning(metric)}, {"queries", queries}};
}

nlohmann::json Submission(const KnnResult& knn) {
  nlohmann::json queries = nlohmann::json::array();
  for (int64_t q = 0; q < knn.num_queries; ++q) {
    std::vector<int64_t> ids;
    for (int64_t r = 0; r < knn.k && knn.id(q, r) >= 0; ++r) ids.push_back(knn.id(q, r));
    queries.push_back({{"id", q}, {"positive", ids}});
  }
  return {{"Query", queries}};
}

// hloc's retrieval pairs: "query_name db_name", one line per retrieved image.
std::string Pairs(const Dataset& dataset, const KnnResult& knn) {
  std::string out;
  for (int64_t q = 0; q < knn.num_queries; ++q)
    for (int64_t r = 0; r < knn.k && knn.id(q, r) >= 0; ++r)
      out += dataset.query_names[q] + " " + dataset.database_names[knn.id(q, r)] + "\n";
  return out;
}

// Images (path, size, mtime), positions and radius or the listed positives: what decides
// the ground truth.
std::string DatasetFingerprint(const Dataset& dataset) {
  Fingerprint f;
  f.Add(FingerprintFiles(dataset.database)).Add(FingerprintFiles(dataset.queries));
  f.Add(dataset.database_positions.data(), dataset.database_positions.size() * sizeof(double));
  f.Add(dataset.query_positions.data(), dataset.query_positions.size() * sizeof(double));
  f.Add(dataset.positive_radius);
  for (const auto& list : dataset.explicit_positives)
    f.Add(static_cast<int64_t>(list.size())).Add(list.data(), list.size() * sizeof(int64_t));
  return f.Hex();
}

// The input size the model saw: fixed, longer side capped, or each image's own.
nlohmann::json ImageSizeJson(const ResizeOptions& resize) {
  if (resize.height > 0) return {{"mode", "fixed"}, {"height", resize.height}, {"width", resize.width}};
  if (resize.max_side > 0) return {{"mode", "max_side"}, {"max_side", resize.max_side}};
  return {{"mode", "native"}};
}

void PrintRecall(const std::map<int, double>& recall, const std::map<int, int64_t>& hits, int64_t num_queries,
                 size_t failed_queries, const std::string& after = "") {
  std::string header = "  ", values = "  ", counts = "  ";
  for (const auto& [n, r] : recall) {
    header += fmt::format("{:>9}", fmt::format("R@{}", n));
    values += fmt::format("{:>9.1f}", 100.0 * r);
    counts += fmt::format("{:>9}", fmt::format("{}/{}", hits.at(n), num_queries));
  }
  fmt::print("\nRecall@N{} on {} queries (percent; failed queries count as misses: {}):\n{}\n{}\n{}\n\n", after,
             num_queries, failed_queries, header, values, counts);
}

nlohmann::json RecallJson(const std::map<int, double>& recall) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [n, r] : recall) out[std::to_string(n)] = r;
  return out;
}

nlohmann::json HitsJson(const std::map<int, int64_t>& hits) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [n, h] : hits) out[std::to_string(n)] = h;
  return out;
}

nlohmann::json VerifierJson(const VerifierOptions& v) {
  return {{"features", v.features},       {"max_features", v.max_features},
          {"max_side", v.max_side},       {"ratio", v.ratio},
          {"mutual", v.mutual},           {"model", v.model},
          {"ransac_threshold", v.ransac_threshold}, {"ransac_iterations", v.ransac_iterations},
          {"ransac_confidence", v.ransac_confidence}, {"min_inliers", v.min_inliers},
          {"min_inlier_ratio", v.min_inlier_ratio}};
}

}  // namespace

namespace {

// What vpr eval writes: a folder holding anything else is not replaced.
const char* const kEvalOutputs[] = {"database.npy", "database.names.txt", "queries.npy",  "queries.names.txt",
                                    "predictions.json", "submission.json", "pairs.txt", "metrics.json",
                                    "report.html"};

void CheckEvalFolder(const std::string& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return;
  VPR_CHECK(fs::is_directory(dir, ec), "--out '", dir, "' exists and is not a folder");
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    VPR_CHECK(std::find(std::begin(kEvalOutputs), std::end(kEvalOutputs), name) != std::end(kEvalOutputs), "--out '",
              dir, "' holds '", name, "', which vpr eval did not write; eval replaces its whole output folder, so give "
              "a new folder or an earlier eval's folder");
  }
  const fs::path parent = fs::absolute(dir).parent_path();
  CheckWritable((parent / ".vpr-eval-write-check").string(), "--out");
}

}  // namespace

EvalResult RunEval(VprModel& model, const Dataset& dataset, const EvalOptions& options) {
  options.Check();
  dataset.Check();
  CheckEvalFolder(options.out_dir);
  const std::string model_fingerprint = ModelFingerprint(model);
  DescriptorCache cache(options.cache_dir);
  ExtractOptions extract = options.extract;
  extract.label = "eval: database";
  bool db_cached = false, q_cached = false;
  ExtractResult db = cache.Extract(model, model_fingerprint, dataset.database, extract, &db_cached);
  extract.label = "eval: queries";
  ExtractResult q = cache.Extract(model, model_fingerprint, dataset.queries, extract, &q_cached);
  VPR_CHECK(!db.paths.empty(), "none of the ", dataset.database.size(), " database images could be described");
  std::vector<int64_t> db_index = RowToIndex(dataset.database, db), q_index = RowToIndex(dataset.queries, q);

  EvalResult result;
  result.failed_database = db.failures;
  result.failed_queries = q.failures;
  double search_s = 0;
  const int64_t nq = static_cast<int64_t>(dataset.queries.size());
  result.knn = Search(db, db_index, q, q_index, nq, options.top_k, options.index, &search_s);
  auto positives = DatasetPositives(dataset);
  result.recall = RecallAtN(result.knn, positives, options.recall_at);
  result.hits = Hits(result.recall, nq);
  PrintRecall(result.recall, result.hits, nq, result.failed_queries.size());
  nlohmann::json rerank_json;
  if (options.rerank > 0) {
    const KnnResult before = result.knn;
    result.recall_before_rerank = result.recall;
    result.hits_before_rerank = result.hits;
    result.rerank = RerankByVerification(dataset.database, dataset.queries, &result.knn, options.Rerank(),
                                         options.extract.runtime.ResolvedThreads());
    result.recall = RecallAtN(result.knn, positives, options.recall_at);
    result.hits = Hits(result.recall, nq);
    // Top-1 changes by outcome: a miss made a hit, a hit made a miss, or neither.
    int64_t fixed = 0, broken = 0;
    for (int64_t q = 0; q < nq; ++q) {
      if (before.id(q, 0) == result.knn.id(q, 0)) continue;
      const bool was = std::binary_search(positives[q].begin(), positives[q].end(), before.id(q, 0));
      const bool is = std::binary_search(positives[q].begin(), positives[q].end(), result.knn.id(q, 0));
      fixed += !was && is;
      broken += was && !is;
    }
    const RerankStats& s = result.rerank;
    rerank_json = {{"candidates", options.rerank},
                   {"margin", options.rerank_margin},
                   {"within_margin", s.within_margin},
                   {"recall_at_before", RecallJson(result.recall_before_rerank)},
                   {"hits_at_before", HitsJson(result.hits_before_rerank)},
                   {"recall_at_after", RecallJson(result.recall)},
                   {"hits_at_after", HitsJson(result.hits)},
                   {"top1_changed", s.top1_changed},
                   {"top1_miss_to_hit", fixed},
                   {"top1_hit_to_miss", broken},
                   {"queries_reranked", s.queries_reranked},
                   {"pairs", s.pairs},
                   {"verified_pairs", s.verified_pairs},
                   {"database_described", s.database_described},
                   {"queries_described", s.queries_described},
                   {"failed_images", Failures(s.failures)},
                   {"ms_per_extract", s.extract_ms},
                   {"ms_per_verify", s.verify_ms},
                   {"seconds", s.seconds},
                   {"verifier", VerifierJson(options.verifier)}};
    fmt::print("Re-ranked the top {} of {} queries by geometric verification ({}, {}): {} of {} pairs verified, "
               "{} within {} of the top-1's distance; {} queries changed their top-1 ({} miss to hit, {} hit to "
               "miss); {:.1f} ms per image's features, {:.1f} ms per pair, {:.1f} s in all\n",
               options.rerank, s.queries_reranked, options.verifier.features, options.verifier.model, s.verified_pairs,
               s.pairs, s.within_margin, options.rerank_margin, s.top1_changed, fixed, broken, s.extract_ms,
               s.verify_ms, s.seconds);
    PrintRecall(result.recall, result.hits, nq, result.failed_queries.size(),
                fmt::format(" after re-ranking the top {}", options.rerank));
  }

  std::vector<bool> described(nq, false);
  for (int64_t i : q_index) described[i] = true;
  const int64_t dim = db.descriptors.size(1);
  const int64_t num_described = db.descriptors.size(0) + q.descriptors.size(0);
  nlohmann::json& m = result.metrics;
  m = {{"format_version", 1},
       {"recall_at", nlohmann::json::object()},
       {"hits_at", nlohmann::json::object()},
       {"num_database", dataset.database.size()},
       {"num_queries", nq},
       {"num_database_described", db.paths.size()},
       {"num_queries_described", q.paths.size()},
       {"failed_database", Failures(db.failures)},
       {"failed_queries", Failures(q.failures)},
       {"top_k", options.top_k},
       {"ms_per_image", num_described > 0 ? 1000.0 * (db.seconds + q.seconds) / num_described : 0.0},
       {"ms_per_query", q.paths.empty() ? 0.0 : 1000.0 * search_s / q.paths.size()},
       {"precision", db.precision},
       {"threads", options.extract.runtime.ResolvedThreads()},
       {"device", options.extract.runtime.device},
       {"image_size", ImageSizeJson(options.extract.resize)},
       {"reduced_decode", options.extract.resize.reduced_decode && options.extract.resize.enabled()},
       {"descriptor_dim", dim},
       {"bytes_per_descriptor", dim * static_cast<int64_t>(sizeof(float))},
       {"descriptors_from_cache", {{"database", db_cached}, {"queries", q_cached}}},
       {"model", model->options().ToJson()},
       {"model_description", model->options().Describe()},
       {"model_file", options.model_file},
       {"model_fingerprint", model_fingerprint},
       {"dataset", dataset.ToJson()},
       {"dataset_fingerprint", DatasetFingerprint(dataset)}};
  m["index"] = {{"factory", options.index.factory}, {"metric", options.index.metric},
                {"distance", DistanceMeaning(options.index.metric)}};
  const PrecisionRecall pr = ComputePrecisionRecall(Top1Matches(result.knn, positives, options.index.metric == "ip"));
  m["pr_auc"] = pr.average_precision;
  m["recall_at_100_precision"] = pr.recall_at_full_precision;
  fmt::print("Top-1 precision-recall (VPR-Bench): AP {:.3f}, recall at 100% precision {:.1f}%\n\n",
             pr.average_precision, 100 * pr.recall_at_full_precision);
  if (!options.pca_dims.empty() && !q.paths.empty()) {
    m["recall_vs_dim"] = RecallVsDimension(db, db_index, q, q_index, nq, positives, options);
    PrintRecallVsDimension(m["recall_vs_dim"]);
  }
  for (const auto& [n, r] : result.recall) {
    m["recall_at"][std::to_string(n)] = r;
    m["hits_at"][std::to_string(n)] = result.hits[n];
  }
  if (options.rerank > 0) m["rerank"] = rerank_json;  // recall_at and hits_at above are after it

  StagedDir staged(options.out_dir);  // the folder is replaced whole: never two runs' files mixed
  fs::path out(staged.path());
  WriteDescriptors((out / "database.npy").string(), db);
  WriteDescriptors((out / "queries.npy").string(), q);
  WriteFileAtomic((out / "predictions.json").string(), Predictions(dataset, result.knn, positives, described, options.index.metric,
                                                                         options.rerank > 0 ? &result.rerank.inliers : nullptr).dump(1) + "\n");
  WriteFileAtomic((out / "submission.json").string(), Submission(result.knn).dump() + "\n");
  WriteFileAtomic((out / "pairs.txt").string(), Pairs(dataset, result.knn));
  WriteFileAtomic((out / "metrics.json").string(), m.dump(2) + "\n");
  WriteFileAtomic((out / "report.html").string(), RenderReportHtml(dataset, result.knn, positives, m, options.report));
  staged.Commit();
  Log().info("eval: wrote metrics.json, predictions.json, submission.json, pairs.txt, report.html and descriptors to {} "
             "({} threads, {})", options.out_dir, options.extract.runtime.ResolvedThreads(), db.precision);
  return result;
}

}  // namespace vpr
