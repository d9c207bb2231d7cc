#include "vpr/app/eval.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <sstream>

#include "vpr/eval/recall.h"
#include "vpr/util/atomic_file.h"
#include "vpr/util/check.h"
#include "vpr/util/logging.h"

namespace vpr {
namespace fs = std::filesystem;

void EvalOptions::Check() const {
  VPR_CHECK(!out_dir.empty(), "--out must name a folder for the evaluation's outputs");
  VPR_CHECK(top_k > 0, "--top-k must be positive, got ", top_k);
  VPR_CHECK(!recall_at.empty(), "--recall-at needs at least one N");
  for (int n : recall_at)
    VPR_CHECK(n > 0 && n <= top_k, "--recall-at ", n, " must be between 1 and --top-k (", top_k,
              "): raise --top-k or drop it");
  extract.Check();
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
    VPR_CHECK(used > 0 && used == item.size() && n > 0, "--recall-at expects positive integers separated by commas, ",
              "e.g. 1,5,10,20; got '", text, "'");
    ns.push_back(n);
  }
  VPR_CHECK(!ns.empty() && text.back() != ',', "--recall-at expects e.g. 1,5,10,20; got '", text, "'");
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
                 const std::vector<int64_t>& q_index, int64_t num_queries, int64_t k, double* search_s) {
  at::Tensor d = db.descriptors.contiguous(), x = q.descriptors.contiguous();
  auto start = std::chrono::steady_clock::now();
  KnnResult rows = ExactKnnL2(d.data_ptr<float>(), d.size(0), x.data_ptr<float>(), x.size(0), d.size(1), k);
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
                           const std::vector<std::vector<int64_t>>& positives, const std::vector<bool>& described) {
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
  }
  return {{"format_version", 1}, {"distance", "squared L2"}, {"queries", queries}};
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

void PrintRecall(const EvalResult& result, int64_t num_queries) {
  std::string header = "  ", values = "  ", counts = "  ";
  for (const auto& [n, r] : result.recall) {
    header += fmt::format("{:>9}", fmt::format("R@{}", n));
    values += fmt::format("{:>9.1f}", 100.0 * r);
    counts += fmt::format("{:>9}", fmt::format("{}/{}", result.hits.at(n), num_queries));
  }
  fmt::print("\nRecall@N on {} queries (percent; failed queries count as misses: {}):\n{}\n{}\n{}\n\n", num_queries,
             result.failed_queries.size(), header, values, counts);
}

}  // namespace

EvalResult RunEval(VprModel& model, const Dataset& dataset, const EvalOptions& options) {
  options.Check();
  dataset.Check();
  ExtractOptions extract = options.extract;
  extract.label = "eval: database";
  ExtractResult db = ExtractDescriptors(model, dataset.database, extract);
  extract.label = "eval: queries";
  ExtractResult q = ExtractDescriptors(model, dataset.queries, extract);
  VPR_CHECK(!db.paths.empty(), "none of the ", dataset.database.size(), " database images could be described");
  std::vector<int64_t> db_index = RowToIndex(dataset.database, db), q_index = RowToIndex(dataset.queries, q);

  EvalResult result;
  result.failed_database = db.failures;
  result.failed_queries = q.failures;
  double search_s = 0;
  const int64_t nq = static_cast<int64_t>(dataset.queries.size());
  result.knn = Search(db, db_index, q, q_index, nq, options.top_k, &search_s);
  auto positives = PositivesWithinRadius(dataset.database_positions, dataset.query_positions, dataset.positive_radius);
  result.recall = RecallAtN(result.knn, positives, options.recall_at);
  result.hits = Hits(result.recall, nq);
  PrintRecall(result, nq);

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
       {"descriptor_dim", dim},
       {"bytes_per_descriptor", dim * static_cast<int64_t>(sizeof(float))},
       {"model", model->options().ToJson()},
       {"model_file", options.model_file},
       {"dataset", dataset.ToJson()}};
  for (const auto& [n, r] : result.recall) {
    m["recall_at"][std::to_string(n)] = r;
    m["hits_at"][std::to_string(n)] = result.hits[n];
  }

  fs::path out(options.out_dir);
  WriteDescriptors((out / "database.npy").string(), db);
  WriteDescriptors((out / "queries.npy").string(), q);
  WriteFileAtomic((out / "predictions.json").string(), Predictions(dataset, result.knn, positives, described).dump(1) + "\n");
  WriteFileAtomic((out / "submission.json").string(), Submission(result.knn).dump() + "\n");
  WriteFileAtomic((out / "pairs.txt").string(), Pairs(dataset, result.knn));
  WriteFileAtomic((out / "metrics.json").string(), m.dump(2) + "\n");
  Log().info("eval: wrote metrics.json, predictions.json, submission.json, pairs.txt and descriptors to {}",
             options.out_dir);
  return result;
}

}  // namespace vpr
