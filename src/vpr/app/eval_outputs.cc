#include "vpr/app/eval_outputs.h"

#include <filesystem>

#include "vpr/util/atomic_file.h"
#include "vpr/util/fingerprint.h"

namespace vpr {
namespace fs = std::filesystem;

const std::vector<std::string>& EvalOutputNames() {
  static const std::vector<std::string> names = {"database.npy",     "database.names.txt", "queries.npy",
                                                 "queries.names.txt", "predictions.json",   "submission.json",
                                                 "pairs.txt",         "metrics.json",       "report.html"};
  return names;
}

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

namespace {

using nlohmann::json;

json Failures(const std::vector<ExtractFailure>& failures) {
  json out = json::array();
  for (const auto& f : failures) out.push_back({{"path", f.path}, {"reason", f.reason}});
  return out;
}

json ByN(const std::map<int, double>& values) {
  json out = json::object();
  for (const auto& [n, v] : values) out[std::to_string(n)] = v;
  return out;
}

json ByN(const std::map<int, int64_t>& values) {
  json out = json::object();
  for (const auto& [n, v] : values) out[std::to_string(n)] = v;
  return out;
}

// The input size the model saw: fixed, longer side capped, or each image's own.
json ImageSizeJson(const ResizeOptions& resize) {
  if (resize.height > 0) return {{"mode", "fixed"}, {"height", resize.height}, {"width", resize.width}};
  if (resize.max_side > 0) return {{"mode", "max_side"}, {"max_side", resize.max_side}};
  return {{"mode", "native"}};
}

json VerifierJson(const VerifierOptions& v) {
  return {{"features", v.features},       {"max_features", v.max_features},
          {"max_side", v.max_side},       {"ratio", v.ratio},
          {"mutual", v.mutual},           {"model", v.model},
          {"ransac_threshold", v.ransac_threshold}, {"ransac_iterations", v.ransac_iterations},
          {"ransac_confidence", v.ransac_confidence}, {"min_inliers", v.min_inliers},
          {"min_inlier_ratio", v.min_inlier_ratio}};
}

json RecallVsDimJson(const std::vector<DimRecall>& table) {
  json rows = json::array();
  for (const DimRecall& row : table)
    rows.push_back({{"dim", row.dim},
                    {"bytes_per_descriptor", row.bytes_per_descriptor},
                    {"whitened", row.whitened},
                    {"recall_at", ByN(row.recall)}});
  return rows;
}

json RerankJson(const EvalResult& result) {
  const RerankStats& s = result.rerank;
  const RerankOptions& o = result.rerank_options;
  return {{"candidates", o.depth},
          {"margin", o.margin},
          {"within_margin", s.within_margin},
          {"recall_at_before", ByN(result.before_rerank.recall)},
          {"hits_at_before", ByN(result.before_rerank.hits)},
          {"recall_at_after", ByN(result.report.scores.recall)},
          {"hits_at_after", ByN(result.report.scores.hits)},
          {"top1_changed", result.top1_changes.changed},
          {"top1_miss_to_hit", result.top1_changes.miss_to_hit},
          {"top1_hit_to_miss", result.top1_changes.hit_to_miss},
          {"queries_reranked", s.queries_reranked},
          {"pairs", s.pairs},
          {"verified_pairs", s.verified_pairs},
          {"database_described", s.database_described},
          {"queries_described", s.queries_described},
          {"failed_images", Failures(s.failures)},
          {"ms_per_extract", s.extract_ms},
          {"ms_per_verify", s.verify_ms},
          {"seconds", s.seconds},
          {"verifier", VerifierJson(o.verifier)}};
}

json Predictions(const Dataset& dataset, const EvalResult& result) {
  const EvalReport& r = result.report;
  json queries = json::array();
  for (int64_t q = 0; q < r.knn.num_queries; ++q) {
    json ids = json::array(), names = ids, distances = ids, correct = ids;
    for (int64_t k = 0; k < r.knn.k && r.knn.id(q, k) >= 0; ++k) {
      const int64_t id = r.knn.id(q, k);
      ids.push_back(id);
      names.push_back(dataset.database_names[id]);
      distances.push_back(r.knn.distance(q, k));
      correct.push_back(r.IsPositive(q, id));
    }
    queries.push_back({{"id", q}, {"name", dataset.query_names[q]}, {"described", static_cast<bool>(r.described[q])},
                       {"top_k_ids", ids}, {"top_k_names", names}, {"distances", distances},
                       {"correct", correct}, {"positives", r.positives[q]}});
    // Re-ranked: the verification inliers of the first --rerank images, in their new order.
    if (result.reranked()) queries.back()["inliers"] = result.rerank.inliers[q];
  }
  return {{"format_version", 1}, {"distance", DistanceMeaning(result.run.index.metric)}, {"queries", queries}};
}

json Submission(const KnnResult& knn) {
  json queries = json::array();
  for (int64_t q = 0; q < knn.num_queries; ++q) {
    std::vector<int64_t> ids;
    for (int64_t k = 0; k < knn.k && knn.id(q, k) >= 0; ++k) ids.push_back(knn.id(q, k));
    queries.push_back({{"id", q}, {"positive", ids}});
  }
  return {{"Query", queries}};
}

std::string Pairs(const Dataset& dataset, const KnnResult& knn) {
  std::string out;
  for (int64_t q = 0; q < knn.num_queries; ++q)
    for (int64_t k = 0; k < knn.k && knn.id(q, k) >= 0; ++k)
      out += dataset.query_names[q] + " " + dataset.database_names[knn.id(q, k)] + "\n";
  return out;
}

}  // namespace

json EvalMetricsJson(const Dataset& dataset, const EvalResult& result) {
  const EvalReport& r = result.report;
  const EvalRun& run = result.run;
  json m = {{"format_version", 1},
            {"recall_at", ByN(r.scores.recall)},
            {"hits_at", ByN(r.scores.hits)},
            {"num_database", r.num_database},
            {"num_queries", r.num_queries},
            {"num_database_described", r.database_described},
            {"num_queries_described", r.queries_described},
            {"failed_database", Failures(run.failed_database)},
            {"failed_queries", Failures(run.failed_queries)},
            {"top_k", run.top_k},
            {"ms_per_image", run.ms_per_image},
            {"ms_per_query", r.queries_described > 0 ? 1000.0 * r.search_seconds / r.queries_described : 0.0},
            {"precision", run.precision},
            {"threads", run.threads},
            {"device", run.device},
            {"image_size", ImageSizeJson(run.resize)},
            {"reduced_decode", run.resize.reduced_decode && run.resize.enabled()},
            {"descriptor_dim", r.dim},
            {"bytes_per_descriptor", r.dim * static_cast<int64_t>(sizeof(float))},
            {"descriptors_from_cache", {{"database", run.database_from_cache}, {"queries", run.queries_from_cache}}},
            {"model", run.model.ToJson()},
            {"model_description", run.model.Describe()},
            {"model_file", run.model_file},
            {"model_fingerprint", run.model_fingerprint},
            {"dataset", dataset.ToJson()},
            {"dataset_fingerprint", run.dataset_fingerprint}};
  m["index"] = {{"factory", run.index.factory}, {"metric", run.index.metric},
                {"distance", DistanceMeaning(run.index.metric)}};
  m["pr_auc"] = r.scores.pr.average_precision;
  m["recall_at_100_precision"] = r.scores.pr.recall_at_full_precision;
  if (!r.recall_vs_dim.empty()) m["recall_vs_dim"] = RecallVsDimJson(r.recall_vs_dim);
  if (result.reranked()) m["rerank"] = RerankJson(result);  // recall_at and hits_at above are after it
  return m;
}

void WriteEvalOutputs(const std::string& dir, const Dataset& dataset, const EvalResult& result,
                      const ExtractResult& db, const ExtractResult& queries, const ReportOptions& report) {
  const fs::path out(dir);
  const json metrics = EvalMetricsJson(dataset, result);
  WriteDescriptors((out / "database.npy").string(), db);
  WriteDescriptors((out / "queries.npy").string(), queries);
  WriteFileAtomic((out / "predictions.json").string(), Predictions(dataset, result).dump(1) + "\n");
  WriteFileAtomic((out / "submission.json").string(), Submission(result.report.knn).dump() + "\n");
  WriteFileAtomic((out / "pairs.txt").string(), Pairs(dataset, result.report.knn));
  const std::string metrics_text = metrics.dump(2) + "\n";
  WriteFileAtomic((out / "metrics.json").string(), metrics_text);
  WriteFileAtomic((out / "report.html").string(), RenderReportHtml(dataset, result, metrics_text, report));
}

}  // namespace vpr
