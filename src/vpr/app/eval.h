// `vpr eval`: a model on a dataset: describe database and queries, search the top k
// exactly, recall@N, and every output a benchmark or a re-ranker (hloc) reads.
// Images that cannot be read are skipped and reported; they never shift indices:
// ids in every output are dataset indices, and a query without a descriptor is a miss.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

#include "vpr/app/extract.h"
#include "vpr/app/rerank.h"
#include "vpr/app/report_html.h"
#include "vpr/data/dataset.h"
#include "vpr/index/faiss_index.h"
#include "vpr/index/knn.h"

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
  void Check() const;
};

struct EvalResult {
  std::map<int, double> recall;         // N -> fraction of all queries, failed ones included
  std::map<int, int64_t> hits;          // N -> queries with a positive in their top N
  KnnResult knn;                        // num_queries = dataset queries; ids are dataset indices
  std::vector<ExtractFailure> failed_database, failed_queries;
  nlohmann::json metrics;               // what metrics.json holds
  // With options.rerank > 0: recall and hits of the retrieval order (recall and hits
  // above are after re-ranking), and what re-ranking did.
  std::map<int, double> recall_before_rerank;
  std::map<int, int64_t> hits_before_rerank;
  RerankStats rerank;
};

EvalResult RunEval(VprModel& model, const Dataset& dataset, const EvalOptions& options);

// Parses "1,5,10,20" into {1, 5, 10, 20}; throws vpr::Error on anything else.
std::vector<int> ParseRecallAt(const std::string& text);

}  // namespace vpr
