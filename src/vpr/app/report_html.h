// report.html of `vpr eval`: one self-contained static page (thumbnails inlined as
// data URIs, the curves as inline SVG, a little inline JavaScript) that opens offline
// and can be mailed around. It shows the run (model, input, dataset, counts), recall@N
// and the top-1 precision-recall curve, sampled queries with misses first, and a table
// of every query that `report.html#filter=wrong` (or =correct, =all) filters.
#pragma once

#include <string>

#include "vpr/app/eval.h"
#include "vpr/app/report_options.h"
#include "vpr/data/dataset.h"
#include "vpr/eval/precision_recall.h"

namespace vpr {

// The page of one evaluation, from its typed result; `metrics_json` (the text of its
// metrics.json) is shown as is at the end. Positions in `dataset` give how far the top-1
// is from the query (metres or frames).
std::string RenderReportHtml(const Dataset& dataset, const EvalResult& result, const std::string& metrics_json,
                             const ReportOptions& options = {});

// The step precision-recall curve as inline SVG (recall at 100% precision marked), and
// the page style, for other reports (vpr loops) that look like this one.
std::string PrecisionRecallSvg(const PrecisionRecall& pr, const std::string& id = "pr-curve");
const char* ReportStyle();
std::string HtmlEscape(const std::string& text);

}  // namespace vpr
