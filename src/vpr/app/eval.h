// `vpr eval`: a model on a dataset: describe database and queries, search the top k
// exactly, recall@N, and every output a benchmark or a re-ranker (hloc) reads.
// Images that cannot be read are skipped and reported; they never shift indices:
// ids in every output are dataset indices, and a query without a descriptor is a miss.
#pragma once

#include <string>
#include <vector>

#include "vpr/app/extract.h"
#include "vpr/app/report_options.h"
#include "vpr/app/rerank.h"
#include "vpr/data/dataset.h"
#include "vpr/eval/evaluate.h"
#include "vpr/index/faiss_index.h"

namespace vpr {

struct EvalOptions {
  // Output folder: metrics.json, predictions.json, submission.json, pairs.txt,
  // database.npy, queries.npy and their .names.txt.
  std::string out_dir;
  // Database images retrieved per query (predictions, submission, pairs.txt).
  int top_k = 20;
  // N of recall@N; each at most top_k.
  std::vector<int> recall_at = {1, 5, 10, 20};
  // Batching, resizing and device of the extraction.
  ExtractOptions extract;
  // Recorded in metrics.json: the model file evaluated.
  std::string model_file;
  // Descriptor cache folder (see DescriptorCache); empty: always extract.
  std::string cache_dir;
  // Search: "Flat" + "l2" is exact search on the descriptors in place (no copy); any
  // other factory string or "ip" builds that FAISS index over the database first.
  IndexOptions index;
  // Descriptor sizes for the recall-vs-dimension table (PCA-whitening fitted on the
  // database descriptors; 0 = full size); empty: no table.
  std::vector<int64_t> pca_dims;
  // report.html: sampled queries with their retrievals.
  ReportOptions report;
  // Re-ranking: each query's top `rerank` database images verified geometrically, those
  // within `rerank_margin` of the top-1's distance reordered (see RerankOptions; 0 = off,
  // at most top_k). Every output then holds the new order; metrics.json's "rerank" holds
  // recall@N before and after.
  int rerank = 0;
  double rerank_margin = RerankOptions{}.margin;  // 0.15 (squared L2 of unit descriptors)
  VerifierOptions verifier;  // used when rerank > 0
  // The re-ranking these options ask for (rerank > 0).
  RerankOptions Rerank() const;
  // The search and scoring part of these options.
  EvaluateOptions Evaluation() const;
  void Check() const;
};

// How the descriptors of a run were made and searched: what metrics.json and report.html
// say beside the scores.
struct EvalRun {
  ModelOptions model;
  std::string model_file;         // EvalOptions::model_file
  std::string model_fingerprint;  // weights and architecture (ModelFingerprint)
  std::string precision = "fp32"; // what the network ran in ("auto" resolved)
  int threads = 0;
  std::string device = "cpu";
  ResizeOptions resize;
  IndexOptions index;
  int top_k = 0;
  std::vector<ExtractFailure> failed_database, failed_queries;
  bool database_from_cache = false, queries_from_cache = false;
  double ms_per_image = 0;        // describing, over database and queries
  std::string dataset_fingerprint;
};

struct EvalResult {
  EvalReport report;  // after re-ranking when there was one
  EvalRun run;
  // With rerank.depth > 0: the scores of the retrieval order, what re-ranking did, and how
  // the top-1s changed.
  RerankOptions rerank_options;
  Scores before_rerank;
  RerankStats rerank;
  Top1Changes top1_changes;
  bool reranked() const { return rerank.depth > 0; }
};

// Scores descriptors made elsewhere (each ExtractResult over all of the dataset's database
// or query images, as ExtractDescriptors or a sharded extraction gives them) and re-ranks
// when asked: no files, no printing. The cached flags are recorded in metrics.json.
EvalResult EvaluateDescribed(VprModel& model, const Dataset& dataset, const EvalOptions& options,
                             const ExtractResult& db, const ExtractResult& queries, bool db_cached = false,
                             bool queries_cached = false);

// Describes the dataset's images with `model` (through the descriptor cache), then
// EvaluateDescribed. `db` and `queries` receive the descriptors when not null.
EvalResult DescribeAndEvaluate(VprModel& model, const Dataset& dataset, const EvalOptions& options,
                               ExtractResult* db = nullptr, ExtractResult* queries = nullptr);

// Throws vpr::Error when options.out_dir holds files vpr eval did not write (it replaces
// the folder whole) or its parent is not writable: checked before any work.
void CheckEvalFolder(const std::string& out_dir);

// Every output (eval_outputs.h) into options.out_dir, replaced whole.
void WriteEvalFolder(const EvalOptions& options, const Dataset& dataset, const EvalResult& result,
                     const ExtractResult& db, const ExtractResult& queries);

// CheckEvalFolder, DescribeAndEvaluate, WriteEvalFolder.
EvalResult RunEval(VprModel& model, const Dataset& dataset, const EvalOptions& options);

// Parses "1,5,10,20" into {1, 5, 10, 20}; throws vpr::Error on anything else.
std::vector<int> ParseRecallAt(const std::string& text);

}  // namespace vpr
