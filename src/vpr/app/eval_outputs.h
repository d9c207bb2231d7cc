// The files of an evaluation, written from its typed result (app/eval.h), the same for
// `vpr eval`, training's validation and `vpr demo`:
//   metrics.json      the run, counts, recall@N, hits@N, PR AUC, timings (format_version 1)
//   predictions.json  per query: top-k ids, names, distances, correct, positives
//   submission.json   {"Query":[{"id":i,"positive":[top-k database indices]}]}
//   pairs.txt         hloc's retrieval pairs, "query_name db_name" per line
//   report.html       one offline page (report_html.h)
//   database.npy, queries.npy and their .names.txt: the descriptors
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "vpr/app/eval.h"
#include "vpr/app/report_html.h"

namespace vpr {

// The file names above, in the order they are written.
const std::vector<std::string>& EvalOutputNames();

// What metrics.json holds.
nlohmann::json EvalMetricsJson(const Dataset& dataset, const EvalResult& result);

// Writes every file above into `dir` (an existing folder), each atomically; a caller that
// needs them all or none stages the folder (StagedDir).
void WriteEvalOutputs(const std::string& dir, const Dataset& dataset, const EvalResult& result,
                      const ExtractResult& db, const ExtractResult& queries, const ReportOptions& report);

// Images (path, size, mtime), positions and radius or the listed positives: what decides
// the ground truth (metrics.json "dataset_fingerprint").
std::string DatasetFingerprint(const Dataset& dataset);

}  // namespace vpr
