#include "vpr/app/report_html.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <set>

#include "vpr/eval/precision_recall.h"
#include "vpr/index/faiss_index.h"
#include "vpr/image/image_io.h"
#include "vpr/util/atomic_file.h"
#include "vpr/util/base64.h"
#include "vpr/util/check.h"

namespace vpr {

using nlohmann::json;

namespace {

std::string Escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

// A JPEG thumbnail `height` px high as a data URI; empty when the image cannot be read
// (the page then shows the name only). As in extraction, only formats whose header vpr
// reads reach OpenCV; JPEGs decode at the largest reduction that keeps twice the height.
std::string Thumbnail(const std::string& path, int height, int quality) {
  std::string bytes;
  try {
    bytes = ReadFileBytes(path);
  } catch (const Error&) {
    return "";
  }
  int64_t w = 0, h = 0;
  if (!DeclaredImageSize(bytes, &w, &h) || !ImageComplete(bytes) ||
      static_cast<double>(w) * h > ResizeOptions().max_pixels)
    return "";
  int reduction = 1;
  while (reduction < 8 && h / (2 * reduction) >= 2 * height) reduction *= 2;
  const int flag = reduction == 8   ? cv::IMREAD_REDUCED_COLOR_8
                   : reduction == 4 ? cv::IMREAD_REDUCED_COLOR_4
                   : reduction == 2 ? cv::IMREAD_REDUCED_COLOR_2
                                    : cv::IMREAD_COLOR;
  cv::Mat image;
  try {
    image = cv::imdecode(cv::_InputArray(bytes.data(), static_cast<int>(bytes.size())), flag);
  } catch (const cv::Exception&) {
    return "";
  }
  if (image.empty()) return "";
  cv::Mat small;
  const int width = std::max(1, image.cols * height / std::max(1, image.rows));
  cv::resize(image, small, cv::Size(width, height), 0, 0, cv::INTER_AREA);
  std::vector<uchar> jpeg;
  cv::imencode(".jpg", small, jpeg, {cv::IMWRITE_JPEG_QUALITY, quality});
  return "data:image/jpeg;base64," + Base64(std::string(jpeg.begin(), jpeg.end()));
}

std::string Figure(const std::string& path, const std::string& caption, const char* css_class, int height) {
  std::string uri = Thumbnail(path, height, 80);
  std::string image = uri.empty() ? fmt::format("<div class=missing style='height:{}px'>unreadable</div>", height)
                                  : fmt::format("<img src='{}' height={} alt=''>", uri, height);
  return fmt::format("<figure class=\"thumb {}\">{}<figcaption>{}</figcaption></figure>", css_class, image, caption);
}

bool Correct(const std::vector<int64_t>& positives, int64_t id) {
  return std::binary_search(positives.begin(), positives.end(), id);
}

bool HasPositions(const Dataset& d) {
  return d.database_positions.size() == 2 * d.database.size() && d.query_positions.size() == 2 * d.queries.size();
}

double PositionDistance(const Dataset& d, int64_t q, int64_t j) {
  return std::hypot(d.query_positions[2 * q] - d.database_positions[2 * j],
                    d.query_positions[2 * q + 1] - d.database_positions[2 * j + 1]);
}

// What the page says about one query.
struct Outcome {
  int64_t top1 = -1;              // -1: the query has no descriptor
  bool correct = false;           // the top-1 is a positive
  int64_t positive_rank = -1;     // 0-based rank of the best-ranked positive in the top k; -1: none there
  int64_t nearest_positive = -1;  // that positive, else the one nearest in position (first listed without
                                  // positions); -1: the query has no positive
  double top1_offset = std::numeric_limits<double>::quiet_NaN();  // top-1 to query, in position units
};

Outcome Assess(const Dataset& dataset, const KnnResult& knn, const std::vector<int64_t>& positives, int64_t q) {
  Outcome o;
  o.top1 = knn.id(q, 0);
  for (int64_t r = 0; r < knn.k && o.positive_rank < 0 && knn.id(q, r) >= 0; ++r)
    if (Correct(positives, knn.id(q, r))) o.positive_rank = r;
  o.correct = o.positive_rank == 0;
  const bool positions = HasPositions(dataset);
  if (o.top1 >= 0 && positions) o.top1_offset = PositionDistance(dataset, q, o.top1);
  if (o.positive_rank >= 0) {
    o.nearest_positive = knn.id(q, o.positive_rank);
  } else {
    for (int64_t j : positives)
      if (o.nearest_positive < 0 ||
          (positions && PositionDistance(dataset, q, j) < PositionDistance(dataset, q, o.nearest_positive)))
        o.nearest_positive = j;
  }
  return o;
}

// "12.3 m", "4 frames"; "n/a" without positions (listed positives) or a top-1.
std::string OffsetText(double offset, const std::string& unit) {
  if (!std::isfinite(offset)) return "n/a";
  if (unit == "frames") return fmt::format("{:.0f} frame{}", offset, offset == 1 ? "" : "s");
  return fmt::format("{:.1f} {}", offset, unit);
}

// ---- header: the run, from metrics.json

std::string Field(const std::string& key, const std::string& value) {
  return "<dt>" + Escape(key) + "</dt><dd>" + Escape(value) + "</dd>";
}

std::string ImageSizeText(const ResizeOptions& resize) {
  if (resize.height > 0) return fmt::format("{} x {} (height x width)", resize.height, resize.width);
  if (resize.max_side > 0) return fmt::format("longer side {} px, aspect kept", resize.max_side);
  return "native (each image at its own size)";
}

std::string DatasetSourceText(const json& d) {
  std::string out;
  if (d.contains("file")) out += "file " + d["file"].get<std::string>() + "; ";
  if (d.contains("database_dir"))
    out += "database " + d["database_dir"].get<std::string>() + ", queries " + d["query_dir"].get<std::string>() + "; ";
  if (d.contains("dir")) out += "folder " + d["dir"].get<std::string>() + "; ";
  return out + "root " + d.value("root", "");
}

std::string PositivesText(const Dataset& dataset) {
  if (dataset.HasExplicitPositives()) return "listed per query by the ground-truth file";
  const json info = dataset.ToJson();
  if (info.contains("frame_tolerance"))
    return fmt::format("frame tolerance {}: query i matches database j when |i - j| <= {}",
                       info["frame_tolerance"].dump(), info["frame_tolerance"].dump());
  return fmt::format("database images within {:g} {} of the query", dataset.positive_radius, dataset.position_unit);
}

std::string Header(const Dataset& dataset, const EvalResult& result) {
  const EvalRun& run = result.run;
  const EvalReport& r = result.report;
  const ModelOptions& model = run.model;
  std::string fields =
      Field("model file", run.model_file.empty() ? "(not from a file)" : run.model_file) +
      Field("model", model.Describe()) + Field("backbone", model.backbone.arch) +
      Field("cut", std::to_string(model.backbone.ResolvedCut())) + Field("pooling", model.pooling) +
      Field("K (clusters)", model.IsNetVLAD() ? std::to_string(model.netvlad.num_clusters) : "none (no NetVLAD)") +
      Field("descriptor dim", fmt::format("{} ({} bytes)", r.dim, r.dim * 4)) +
      Field("image size", ImageSizeText(run.resize)) + Field("normalisation", model.normalize) +
      Field("precision", run.precision) + Field("threads", std::to_string(run.threads)) + Field("device", run.device) +
      Field("index", run.index.factory + ", " + DistanceMeaning(run.index.metric)) +
      Field("top-k", std::to_string(run.top_k)) + Field("dataset", dataset.kind) +
      Field("source", DatasetSourceText(dataset.ToJson())) + Field("positives", PositivesText(dataset)) +
      Field("database", fmt::format("{} images, {} failed", r.num_database, run.failed_database.size())) +
      Field("queries",
            fmt::format("{} images, {} failed (misses at every N)", r.num_queries, run.failed_queries.size())) +
      Field("time", fmt::format("{:.1f} ms per image described, {:.3f} ms per query searched", run.ms_per_image,
                                r.queries_described > 0 ? 1000.0 * r.search_seconds / r.queries_described : 0.0));
  return "<header id=\"run\"><h1>vpr eval</h1><dl class=run>" + fields + "</dl></header>";
}

std::string Headline(const Scores& scores) {
  std::string head = "<tr>", row = "<tr>";
  for (const auto& [n, r] : scores.recall) {
    head += fmt::format("<th>R@{}</th>", n);
    row += fmt::format("<td>{:.1f}%</td>", 100 * r);
  }
  head += "<th>AP (PR AUC)</th><th>recall at 100% precision</th></tr>";
  row += fmt::format("<td>{:.3f}</td><td>{:.1f}%</td></tr>", scores.pr.average_precision,
                     100 * scores.pr.recall_at_full_precision);
  return "<table id=\"headline\">" + head + row + "</table>";
}

// ---- charts

struct Axis {
  std::string title;
  double min = 0, max = 1;
  std::vector<std::pair<double, std::string>> ticks;  // value, label
};

std::vector<std::pair<double, std::string>> PercentTicks() {
  std::vector<std::pair<double, std::string>> ticks;
  for (int pct = 0; pct <= 100; pct += 20) ticks.emplace_back(pct, std::to_string(pct));
  return ticks;
}

// Data coordinates onto an SVG of fixed size, with a frame, grid, ticks and axis titles.
class Plot {
 public:
  Plot(Axis x, Axis y) : x_(std::move(x)), y_(std::move(y)) {}
  double X(double v) const { return kLeft + (kWidth - kLeft - kRight) * (v - x_.min) / (x_.max - x_.min); }
  double Y(double v) const { return kHeight - kBottom - (kHeight - kTop - kBottom) * (v - y_.min) / (y_.max - y_.min); }
  std::string Svg(const std::string& id, const std::string& content) const {
    const double bottom = kHeight - kBottom;
    std::string out = fmt::format("<svg id=\"{}\" class=chart width={} height={} viewBox=\"0 0 {} {}\">", id, kWidth,
                                  kHeight, kWidth, kHeight);
    for (const auto& [v, label] : x_.ticks)
      out += fmt::format("<line class=grid x1={0:.1f} x2={0:.1f} y1={1} y2={2}></line>"
                         "<text class=tick x={0:.1f} y={3} text-anchor=middle>{4}</text>",
                         X(v), kTop, bottom, bottom + 16, Escape(label));
    for (const auto& [v, label] : y_.ticks)
      out += fmt::format("<line class=grid x1={0} x2={1} y1={2:.1f} y2={2:.1f}></line>"
                         "<text class=tick x={3} y={4:.1f} text-anchor=end>{5}</text>",
                         kLeft, kWidth - kRight, Y(v), kLeft - 6, Y(v) + 4, Escape(label));
    out += fmt::format("<rect class=frame x={} y={} width={} height={}></rect>", kLeft, kTop, kWidth - kLeft - kRight,
                       bottom - kTop);
    out += fmt::format("<text class=axis-title x={:.1f} y={} text-anchor=middle>{}</text>",
                       (kLeft + kWidth - kRight) / 2, kHeight - 10, Escape(x_.title));
    out += fmt::format("<text class=axis-title transform=\"translate(16 {:.1f}) rotate(-90)\" text-anchor=middle>{}"
                       "</text>", (kTop + bottom) / 2, Escape(y_.title));
    return out + content + "</svg>";
  }

 private:
  static constexpr double kWidth = 590, kHeight = 340, kLeft = 56, kRight = 20, kTop = 20, kBottom = 50;
  Axis x_, y_;
};

// Recall@N for every N up to k from each query's best positive rank; the polyline keeps
// only the corners of that step function (at most two points per query).
std::string RecallCurve(const std::vector<Outcome>& outcomes, int64_t k, const std::map<int, double>& recall_at) {
  std::vector<int64_t> found_at(k + 1, 0);  // queries whose best positive has rank r (0-based)
  for (const Outcome& o : outcomes)
    if (o.positive_rank >= 0) ++found_at[o.positive_rank];
  const double nq = static_cast<double>(std::max<size_t>(1, outcomes.size()));
  std::set<int64_t> marked = {1, k};
  for (const auto& [n, r] : recall_at) marked.insert(n);
  Axis x{"N (retrieved candidates)", 1, std::max<double>(2, static_cast<double>(k)), {}};
  for (int64_t n : marked) x.ticks.emplace_back(static_cast<double>(n), std::to_string(n));
  Plot plot(x, {"recall@N (%)", 0, 100, PercentTicks()});
  std::string points, dots;
  int64_t hits = 0;
  for (int64_t n = 1; n <= k; ++n) {
    hits += found_at[n - 1];
    const double pct = 100 * hits / nq;
    if (n == 1 || n == k || found_at[n - 1] > 0 || found_at[n] > 0)
      points += fmt::format("{:.1f},{:.1f} ", plot.X(n), plot.Y(pct));
    if (marked.count(n))  // labels inside the frame: the first starts at its dot, the last ends there
      dots += fmt::format("<circle class=dot cx={0:.1f} cy={1:.1f} r=3.5><title>R@{2}: {3:.1f}%</title></circle>"
                          "<text class=label x={0:.1f} y={4:.1f} text-anchor={5}>{3:.1f}</text>",
                          plot.X(n), plot.Y(pct), n, pct, plot.Y(pct) + (pct > 90 ? 16 : -8),
                          n == 1 ? "start" : n == k ? "end" : "middle");
  }
  return plot.Svg("recall-curve", "<polyline class=curve points=\"" + points + "\"></polyline>" + dots);
}

// The step curve whose area is the average precision: precision P_i for recall in
// (R_{i-1}, R_i], shaded beneath.
std::string PrCurve(const PrecisionRecall& pr, const std::string& id) {
  Plot plot({"recall (%)", 0, 100, PercentTicks()}, {"precision (%)", 0, 100, PercentTicks()});
  if (pr.curve.empty())
    return plot.Svg(id, fmt::format("<text x={:.1f} y={:.1f} text-anchor=middle>no query has a top-1</text>",
                                            plot.X(50), plot.Y(50)));
  std::string line = fmt::format("M{:.1f},{:.1f}", plot.X(0), plot.Y(100 * pr.curve[0].precision));
  for (size_t i = 0; i < pr.curve.size(); ++i) {
    if (i > 0) line += fmt::format(" V{:.1f}", plot.Y(100 * pr.curve[i].precision));
    line += fmt::format(" H{:.1f}", plot.X(100 * pr.curve[i].recall));
  }
  const std::string area = line + fmt::format(" V{:.1f} H{:.1f} Z", plot.Y(0), plot.X(0));
  std::string content = "<path class=area d=\"" + area + "\"></path><path class=curve d=\"" + line + "\"></path>";
  if (pr.recall_at_full_precision > 0)
    content += fmt::format("<circle class=dot cx={0:.1f} cy={1:.1f} r=3.5><title>recall at 100% precision: "
                           "{2:.1f}%</title></circle><text class=label x={0:.1f} y={3:.1f} text-anchor={4}>recall "
                           "{2:.1f}% at precision 100%</text>",
                           plot.X(100 * pr.recall_at_full_precision), plot.Y(100), 100 * pr.recall_at_full_precision,
                           plot.Y(100) - 5, pr.recall_at_full_precision > 0.6 ? "end" : "start");
  return plot.Svg(id, content);
}

std::string Charts(const std::vector<Outcome>& outcomes, const EvalReport& r) {
  const PrecisionRecall& pr = r.scores.pr;
  return fmt::format(
      "<div class=charts><figure><figcaption><h2>Recall@N</h2></figcaption>{}<p class=note>Fraction of all {} "
      "queries with a positive among their first N retrievals (a failed query is a miss).</p></figure>"
      "<figure><figcaption><h2>Precision-recall of the top-1 (AP {:.3f})</h2></figcaption>{}<p class=note>The "
      "VPR-Bench way: a query's confidence is the retrieval score of its top-1 ({}); its top-1 is accepted when the "
      "confidence is at least a threshold, swept over every score. Precision = correct accepted / accepted; recall = "
      "correct accepted / queries with a positive ({}). AP (area under the step curve) = &Sigma; (R<sub>i</sub> "
      "&minus; R<sub>i-1</sub>) P<sub>i</sub>. Recall at 100% precision: {:.1f}%.</p></figure></div>",
      RecallCurve(outcomes, r.knn.k, r.scores.recall), outcomes.size(), pr.average_precision, PrCurve(pr, "pr-curve"),
      r.inner_product ? "the inner product" : "minus the squared L2 distance", pr.queries_with_positive,
      100 * pr.recall_at_full_precision);
}

std::string DimensionTable(const std::vector<DimRecall>& rows) {
  if (rows.empty()) return "";
  std::string out = "<h2>Recall against descriptor size (PCA-whitening fitted on the database)</h2><table>"
                    "<tr><th>dimension</th><th>bytes</th>";
  for (const auto& [n, r] : rows[0].recall) out += fmt::format("<th>R@{}</th>", n);
  out += "</tr>";
  for (const DimRecall& row : rows) {
    out += fmt::format("<tr><td>{}</td><td>{}</td>", row.dim, row.bytes_per_descriptor);
    for (const auto& [n, r] : row.recall) out += fmt::format("<td>{:.1f}%</td>", 100 * r);
    out += "</tr>";
  }
  return out + "</table>";
}

// ---- sampled queries

// Misses at R@1 (evenly spread, up to half the sample), then evenly spread hits; more
// misses fill the sample when there are too few hits. Misses come first on the page.
std::vector<int64_t> SampleQueries(const std::vector<Outcome>& outcomes, int n) {
  std::vector<int64_t> wrong, right;
  for (size_t q = 0; q < outcomes.size(); ++q) (outcomes[q].correct ? right : wrong).push_back(static_cast<int64_t>(q));
  auto spread = [](const std::vector<int64_t>& from, size_t count, std::vector<int64_t>* to) {
    count = std::min(count, from.size());
    for (size_t i = 0; i < count; ++i) to->push_back(from[i * from.size() / count]);
  };
  std::vector<int64_t> misses, hits;
  spread(wrong, static_cast<size_t>(n / 2), &misses);
  spread(right, static_cast<size_t>(n) - misses.size(), &hits);
  std::vector<int64_t> rest;
  for (int64_t q : wrong)
    if (!std::binary_search(misses.begin(), misses.end(), q)) rest.push_back(q);
  spread(rest, static_cast<size_t>(n) - std::min(misses.size() + hits.size(), static_cast<size_t>(n)), &misses);
  std::sort(misses.begin(), misses.end());
  misses.insert(misses.end(), hits.begin(), hits.end());
  return misses;
}

std::string Verdict(const Dataset& dataset, const KnnResult& knn, const Outcome& o) {
  if (o.top1 < 0) return "<span class=bad>no descriptor</span>: the query image could not be read (a miss at every N)";
  const std::string offset = HasPositions(dataset)
                                 ? "; top-1 is " + OffsetText(o.top1_offset, dataset.position_unit) + " from the query"
                                 : "";
  if (o.correct) return "<span class=good>hit at R@1</span>" + offset;
  std::string truth = "no positive in the database";
  if (o.nearest_positive >= 0)
    truth = fmt::format("nearest ground truth <code>{}</code>: {}", Escape(dataset.database_names[o.nearest_positive]),
                        o.positive_rank >= 0 ? fmt::format("rank {}", o.positive_rank + 1)
                                             : fmt::format("not in top-{}", knn.k));
  return "<span class=bad>miss at R@1</span>" + offset + "; " + truth;
}

std::string SampleCard(const Dataset& dataset, const KnnResult& knn, const std::vector<int64_t>& positives,
                       const Outcome& o, int64_t q, const ReportOptions& options) {
  std::string figures = Figure(dataset.queries[q], "query " + Escape(dataset.query_names[q]), "query",
                               options.thumb_height);
  for (int64_t r = 0; r < std::min<int64_t>(knn.k, options.thumbs_per_query) && knn.id(q, r) >= 0; ++r) {
    const int64_t id = knn.id(q, r);
    const bool ok = Correct(positives, id);
    figures += Figure(dataset.database[id],
                      fmt::format("#{} {} d={:.3f}<br>{}", r + 1, ok ? "&#10003;" : "&#10007;", knn.distance(q, r),
                                  Escape(dataset.database_names[id])),
                      ok ? "right" : "wrong", options.thumb_height);
  }
  if (!o.correct && o.nearest_positive >= 0)
    figures += Figure(dataset.database[o.nearest_positive],
                      "ground truth " +
                          (o.positive_rank >= 0 ? fmt::format("(rank {}, d={:.3f})", o.positive_rank + 1,
                                                              knn.distance(q, o.positive_rank))
                                                : fmt::format("(not in top-{})", knn.k)) +
                          "<br>" + Escape(dataset.database_names[o.nearest_positive]),
                      "truth", options.thumb_height);
  return fmt::format("<div class=\"sample {}\" data-q=\"{}\"><p><b>query {}</b> <code>{}</code>: {}</p>"
                     "<div class=row>{}</div></div>",
                     o.correct ? "hit" : "miss", q, q, Escape(dataset.query_names[q]), Verdict(dataset, knn, o),
                     figures);
}

std::string Samples(const Dataset& dataset, const KnnResult& knn, const std::vector<std::vector<int64_t>>& positives,
                    const std::vector<Outcome>& outcomes, const std::string& distance, const ReportOptions& options) {
  const std::vector<int64_t> picked = SampleQueries(outcomes, options.sample_queries);
  const auto misses = std::count_if(picked.begin(), picked.end(), [&](int64_t q) { return !outcomes[q].correct; });
  const auto all_misses = std::count_if(outcomes.begin(), outcomes.end(), [](const Outcome& o) { return !o.correct; });
  std::string out = fmt::format(
      "<section id=\"samples\"><h2>Sampled queries: misses at R@1 first</h2><p class=note>{} of {} misses, then {} of "
      "{} hits. Query (blue), its top {} (green correct, red wrong; d = {}) and, for a miss, its nearest ground-truth "
      "image (orange, dashed): the best-ranked positive, else the positive nearest in position.</p>",
      misses, all_misses, picked.size() - misses, outcomes.size() - all_misses, options.thumbs_per_query,
      Escape(distance));
  for (int64_t q : picked) out += SampleCard(dataset, knn, positives[q], outcomes[q], q, options);
  return out + "</section>";
}

// ---- the table of all queries

// Thumbnails of the table as a JS object (key "q<id>" or "d<id>"), set by the script as
// rows scroll into view: data URIs in <img src> would all decode on load.
std::string TableRow(const Dataset& dataset, const KnnResult& knn, const std::vector<int64_t>& positives,
                     const Outcome& o, int64_t q, const ReportOptions& options, json* thumbs) {
  auto thumb = [&](const std::string& key, const std::string& path) -> std::string {
    if (!thumbs) return "";
    if (!thumbs->contains(key))
      (*thumbs)[key] = Thumbnail(path, options.table_thumb_height, options.table_thumb_quality);
    if ((*thumbs)[key].get<std::string>().empty()) return "&ndash;";
    return fmt::format("<img data-thumb=\"{}\" height={} alt=\"\">", key, options.table_thumb_height);
  };
  std::string first_positive = positives.empty()        ? "no positive"
                               : o.positive_rank >= 0   ? std::to_string(o.positive_rank + 1)
                                                        : fmt::format("not in top-{}", knn.k);
  std::string top1_cells = "<td></td><td class=name>&ndash;</td><td>&ndash;</td>";
  if (o.top1 >= 0)
    top1_cells = fmt::format("<td>{}</td><td class=name>{}</td><td>{:.4f}</td>",
                             thumb("d" + std::to_string(o.top1), dataset.database[o.top1]),
                             Escape(dataset.database_names[o.top1]), knn.distance(q, 0));
  return fmt::format("<tr data-q=\"{}\" data-result=\"{}\"><td>{}</td><td>{}</td><td class=name>{}</td>{}"
                     "<td class={}>{}</td><td>{}</td><td>{}</td></tr>",
                     q, o.correct ? "correct" : "wrong", q, thumb("q" + std::to_string(q), dataset.queries[q]),
                     Escape(dataset.query_names[q]), top1_cells, o.correct ? "good" : "bad",
                     o.correct ? "correct" : (o.top1 < 0 ? "wrong (no descriptor)" : "wrong"), first_positive,
                     OffsetText(o.top1_offset, dataset.position_unit));
}

std::string QueryTable(const Dataset& dataset, const KnnResult& knn, const std::vector<std::vector<int64_t>>& positives,
                       const std::vector<Outcome>& outcomes, const ReportOptions& options) {
  const int64_t nq = static_cast<int64_t>(outcomes.size());
  const bool with_thumbs = nq <= options.table_thumb_max_queries;
  json thumbs = json::object();
  std::string rows;
  for (int64_t q = 0; q < nq; ++q)
    rows += TableRow(dataset, knn, positives[q], outcomes[q], q, options, with_thumbs ? &thumbs : nullptr);
  const auto correct = std::count_if(outcomes.begin(), outcomes.end(), [](const Outcome& o) { return o.correct; });
  std::string out = fmt::format(
      "<section id=\"all-queries\"><h2>All queries</h2><p id=\"filter\">show: <a href=\"#filter=all\" "
      "data-filter=\"all\">all ({})</a><a href=\"#filter=correct\" data-filter=\"correct\">correct ({})</a><a "
      "href=\"#filter=wrong\" data-filter=\"wrong\">wrong ({})</a> <span id=\"shown\"></span> <span class=note>(link "
      "a view as report.html#filter=wrong)</span></p>{}",
      nq, correct, nq - correct,
      with_thumbs ? ""
                  : fmt::format("<p class=note>No thumbnails in this table: {} queries is more than {}.</p>", nq,
                                options.table_thumb_max_queries));
  out += "<table id=\"queries\"><thead><tr><th>id</th><th>query</th><th>name</th><th>top-1</th><th>top-1 name</th>"
         "<th>distance</th><th>result</th><th>rank of first positive</th><th>top-1 off by</th></tr></thead><tbody>" +
         rows + "</tbody></table></section>";
  if (with_thumbs) out += "<script>const THUMBS = " + thumbs.dump() + ";</script>";
  return out;
}

const char* kStyle =
    "body{font:14px/1.4 system-ui,sans-serif;color:#222;max-width:1240px;margin:0 auto;padding:12px 20px}"
    "h1{font-size:22px;margin:4px 0 8px}h2{font-size:17px;margin:22px 0 6px}figcaption h2{margin:4px 0}"
    "dl.run{display:grid;grid-template-columns:max-content 1fr max-content 1fr;gap:2px 14px;margin:0;"
    "background:#f6f7f9;padding:8px 12px;border-radius:4px}dt{font-weight:600;color:#555}dd{margin:0;"
    "word-break:break-all}table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 8px;"
    "text-align:right}th{background:#f0f0f0}td.name{text-align:left;word-break:break-all;max-width:300px}"
    ".note{color:#555;font-size:13px;max-width:580px}.charts{display:flex;gap:24px;flex-wrap:wrap}.charts>figure{"
    "margin:0;width:590px}.chart .grid{stroke:#e6e6e6}.chart .frame{fill:none;stroke:#999}.chart .tick{"
    "font-size:11px;fill:#555}.chart .axis-title{font-size:13px;fill:#222}.curve{fill:none;stroke:#36c;"
    "stroke-width:2}.area{fill:#36c;fill-opacity:.15}.dot{fill:#36c}.label{font-size:11px;fill:#235}"
    "#samples .note{max-width:none}.sample{border:1px solid #ddd;border-left-width:5px;border-radius:4px;"
    "padding:4px 8px;margin:8px 0}.sample.miss{border-left-color:#d22}.sample.hit{border-left-color:#2a2}"
    ".sample p{margin:2px 0 6px}.row{display:flex;flex-wrap:wrap;gap:6px;align-items:flex-start}"
    "figure.thumb{margin:0;font-size:11px;max-width:150px;word-break:break-all}figure.thumb img,.missing{"
    "border:3px solid #999;display:block}.query img{border-color:#36c}.right img{border-color:#2a2}"
    ".wrong img{border-color:#d22}.truth img{border-color:#e90;border-style:dashed}.missing{background:#eee;"
    "width:128px}.good{color:#181;font-weight:600}.bad{color:#c11;font-weight:600}#filter a{padding:2px 10px;"
    "margin-right:6px;border:1px solid #aaa;border-radius:3px;text-decoration:none;color:#222}#filter a.active{"
    "background:#36c;border-color:#36c;color:#fff}#queries img{display:block}pre{background:#f6f6f6;padding:8px;"
    "overflow:auto}";

// The table's filter (from the URL hash, so a view can be linked) and lazy thumbnails.
const char* kScript = R"(<script>
(function () {
  const rows = Array.from(document.querySelectorAll('#queries tbody tr'));
  function apply() {
    const m = /filter=(all|correct|wrong)/.exec(location.hash);
    const filter = m ? m[1] : 'all';
    let shown = 0;
    for (const row of rows) {
      row.hidden = filter !== 'all' && row.dataset.result !== filter;
      if (!row.hidden) ++shown;
    }
    for (const a of document.querySelectorAll('#filter a')) a.classList.toggle('active', a.dataset.filter === filter);
    document.getElementById('shown').textContent = shown + ' of ' + rows.length + ' shown';
  }
  window.addEventListener('hashchange', apply);
  apply();
  if (typeof THUMBS === 'undefined') return;
  function load(row) {
    for (const img of row.querySelectorAll('img[data-thumb]')) img.src = THUMBS[img.dataset.thumb];
  }
  const observer = new IntersectionObserver(function (entries) {
    for (const e of entries) {
      if (!e.isIntersecting) continue;
      load(e.target);
      observer.unobserve(e.target);
    }
  }, {rootMargin: '400px'});
  // The observer reports after the next rendering update only: rows in view now get
  // their thumbnails at once (also in a DOM dumped before any frame is drawn).
  for (const row of rows) {
    if (!row.hidden && row.getBoundingClientRect().top < innerHeight + 400) load(row);
    else observer.observe(row);
  }
})();
</script>)";

}  // namespace

std::string PrecisionRecallSvg(const PrecisionRecall& pr, const std::string& id) { return PrCurve(pr, id); }
const char* ReportStyle() { return kStyle; }
std::string HtmlEscape(const std::string& text) { return Escape(text); }

std::string RenderReportHtml(const Dataset& dataset, const EvalResult& result, const std::string& metrics_json,
                             const ReportOptions& options) {
  const EvalReport& r = result.report;
  const KnnResult& knn = r.knn;
  VPR_CHECK(static_cast<int64_t>(r.positives.size()) == knn.num_queries && knn.k > 0, "internal: report of ",
            knn.num_queries, " queries (k = ", knn.k, ") with ground truth for ", r.positives.size());
  std::vector<Outcome> outcomes;
  for (int64_t q = 0; q < knn.num_queries; ++q) outcomes.push_back(Assess(dataset, knn, r.positives[q], q));
  std::string html = fmt::format(
      "<!doctype html><html><head><meta charset=utf-8><meta name=viewport content=\"width=device-width\">"
      "<title>vpr eval report</title><style>{}</style></head><body>",
      kStyle);
  html += Header(dataset, result) + Headline(r.scores) + Charts(outcomes, r) + DimensionTable(r.recall_vs_dim);
  const std::string distance = DistanceMeaning(result.run.index.metric);
  html += Samples(dataset, knn, r.positives, outcomes, distance, options) +
          QueryTable(dataset, knn, r.positives, outcomes, options);
  html += "<details><summary>metrics.json</summary><pre>" + Escape(metrics_json) + "</pre></details>";
  return html + kScript + "</body></html>\n";
}

}  // namespace vpr
