#include "vpr/app/eval.h"

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "vpr/app/descriptor_cache.h"
#include "vpr/app/eval_outputs.h"
#include "vpr/util/atomic_file.h"
#include "vpr/util/check.h"
#include "vpr/util/logging.h"

namespace vpr {
namespace fs = std::filesystem;

void EvalOptions::Check() const {
  VPR_CHECK_USAGE(!out_dir.empty(), "--out must name a folder for the evaluation's outputs");
  Evaluation().Check();
  extract.Check();
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

EvaluateOptions EvalOptions::Evaluation() const {
  EvaluateOptions e;
  e.top_k = top_k;
  e.recall_at = recall_at;
  e.index = index;
  e.pca_dims = pca_dims;
  return e;
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

DescriptorRows RowsOf(const ExtractResult& r) {
  VPR_CHECK(r.descriptors.is_contiguous() && r.descriptors.scalar_type() == at::kFloat && r.descriptors.dim() == 2,
            "internal: descriptors must be a contiguous float32 matrix");
  return {r.descriptors.data_ptr<float>(), r.descriptors.size(0), r.descriptors.size(1), r.indices};
}

namespace {

// Re-ranks result->report in place, keeping the scores of the retrieval order.
void Rerank(const Dataset& dataset, const EvalOptions& options, EvalResult* result) {
  EvalReport& report = result->report;
  const KnnResult before = report.knn;
  result->rerank_options = options.Rerank();
  result->before_rerank = report.scores;
  result->rerank = RerankByVerification(dataset.database, dataset.queries, &report.knn, result->rerank_options,
                                        options.extract.runtime.ResolvedThreads());
  report.scores = Score(report.knn, report.positives, options.recall_at, report.inner_product);
  result->top1_changes = CompareTop1(before, report.knn, report.positives);
}

}  // namespace

void CheckEvalFolder(const std::string& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return;
  VPR_CHECK(fs::is_directory(dir, ec), "--out '", dir, "' exists and is not a folder");
  const std::vector<std::string>& ours = EvalOutputNames();
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    VPR_CHECK(std::find(ours.begin(), ours.end(), name) != ours.end(), "--out '", dir, "' holds '", name,
              "', which vpr eval did not write; eval replaces its whole output folder, so give a new folder or an "
              "earlier eval's folder");
  }
  const fs::path parent = fs::absolute(dir).parent_path();
  CheckWritable((parent / ".vpr-eval-write-check").string(), "--out");
}

EvalResult EvaluateDescribed(VprModel& model, const Dataset& dataset, const EvalOptions& options,
                             const ExtractResult& db, const ExtractResult& q, bool db_cached, bool q_cached) {
  options.Check();
  dataset.Check();
  EvalResult result;
  EvalRun& run = result.run;
  run.model = model->options();
  run.model_file = options.model_file;
  run.model_fingerprint = ModelFingerprint(model);
  run.precision = db.precision;
  run.threads = options.extract.runtime.ResolvedThreads();
  run.device = options.extract.runtime.device;
  run.resize = options.extract.resize;
  run.index = options.index;
  run.top_k = options.top_k;
  run.failed_database = db.failures;
  run.failed_queries = q.failures;
  run.database_from_cache = db_cached;
  run.queries_from_cache = q_cached;
  const int64_t described = db.descriptors.size(0) + q.descriptors.size(0);
  run.ms_per_image = described > 0 ? 1000.0 * (db.seconds + q.seconds) / described : 0.0;
  run.dataset_fingerprint = DatasetFingerprint(dataset);
  result.report = Evaluate(RowsOf(db), RowsOf(q), dataset, options.Evaluation());
  if (options.rerank > 0) Rerank(dataset, options, &result);
  return result;
}

EvalResult DescribeAndEvaluate(VprModel& model, const Dataset& dataset, const EvalOptions& options,
                               ExtractResult* db_out, ExtractResult* queries_out) {
  options.Check();
  dataset.Check();
  DescriptorCache cache(options.cache_dir);
  const std::string fingerprint = ModelFingerprint(model);
  ExtractOptions extract = options.extract;
  bool db_cached = false, q_cached = false;
  extract.label = "eval: database";
  ExtractResult db = cache.Extract(model, fingerprint, dataset.database, extract, &db_cached);
  extract.label = "eval: queries";
  ExtractResult q = cache.Extract(model, fingerprint, dataset.queries, extract, &q_cached);
  db.descriptors = db.descriptors.contiguous();
  q.descriptors = q.descriptors.contiguous();
  EvalResult result = EvaluateDescribed(model, dataset, options, db, q, db_cached, q_cached);
  if (db_out) *db_out = std::move(db);
  if (queries_out) *queries_out = std::move(q);
  return result;
}

void WriteEvalFolder(const EvalOptions& options, const Dataset& dataset, const EvalResult& result,
                     const ExtractResult& db, const ExtractResult& queries) {
  StagedDir staged(options.out_dir);  // the folder is replaced whole: never two runs' files mixed
  WriteEvalOutputs(staged.path(), dataset, result, db, queries, options.report);
  staged.Commit();
  Log().info("eval: wrote metrics.json, predictions.json, submission.json, pairs.txt, report.html and descriptors to {} "
             "({} threads, {})", options.out_dir, result.run.threads, result.run.precision);
}

EvalResult RunEval(VprModel& model, const Dataset& dataset, const EvalOptions& options) {
  options.Check();
  CheckEvalFolder(options.out_dir);
  ExtractResult db, q;
  EvalResult result = DescribeAndEvaluate(model, dataset, options, &db, &q);
  WriteEvalFolder(options, dataset, result, db, q);
  return result;
}

}  // namespace vpr
