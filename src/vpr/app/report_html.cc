#include "vpr/app/report_html.h"

#include <fmt/format.h>

#include <algorithm>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "vpr/eval/recall.h"

namespace vpr {

std::string Base64(const std::string& bytes) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t n = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) n |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size()) n |= static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? kAlphabet[n & 63] : '=';
  }
  return out;
}

std::vector<std::pair<int, double>> RecallByN(const nlohmann::json& recall_at) {
  std::vector<std::pair<int, double>> out;
  for (const auto& [n, r] : recall_at.items()) out.emplace_back(std::stoi(n), r.get<double>());
  std::sort(out.begin(), out.end());
  return out;
}

namespace {

std::string Escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

// A JPEG thumbnail as a data URI; empty when the image cannot be read (the page then
// shows the name only).
std::string Thumbnail(const std::string& path, int height) {
  cv::Mat image = cv::imread(path, cv::IMREAD_REDUCED_COLOR_2);
  if (image.empty()) return "";
  cv::Mat small;
  int width = std::max(1, image.cols * height / std::max(1, image.rows));
  cv::resize(image, small, cv::Size(width, height), 0, 0, cv::INTER_AREA);
  std::vector<uchar> jpeg;
  cv::imencode(".jpg", small, jpeg, {cv::IMWRITE_JPEG_QUALITY, 80});
  return "data:image/jpeg;base64," + Base64(std::string(jpeg.begin(), jpeg.end()));
}

std::string Figure(const std::string& path, const std::string& caption, const char* css_class, int height) {
  std::string uri = Thumbnail(path, height);
  std::string image = uri.empty() ? fmt::format("<div class=missing style='height:{}px'>unreadable</div>", height)
                                  : fmt::format("<img src='{}' height={} alt=''>", uri, height);
  return fmt::format("<figure class={}>{}<figcaption>{}</figcaption></figure>", css_class, image, Escape(caption));
}

bool Correct(const std::vector<int64_t>& positives, int64_t id) {
  return std::binary_search(positives.begin(), positives.end(), id);
}

// Failures at R@1 first (evenly spread, up to half the sample), then evenly spread others.
std::vector<int64_t> SampleQueries(const KnnResult& knn, const std::vector<std::vector<int64_t>>& positives, int n) {
  std::vector<int64_t> wrong, right;
  for (int64_t q = 0; q < knn.num_queries; ++q)
    (knn.id(q, 0) >= 0 && Correct(positives[q], knn.id(q, 0)) ? right : wrong).push_back(q);
  auto spread = [](const std::vector<int64_t>& from, size_t count, std::vector<int64_t>* to) {
    count = std::min(count, from.size());
    for (size_t i = 0; i < count; ++i) to->push_back(from[i * from.size() / count]);
  };
  std::vector<int64_t> picked;
  spread(wrong, static_cast<size_t>(n / 2), &picked);
  spread(right, static_cast<size_t>(n) - picked.size(), &picked);
  // Too few right ones: more failures fill the sample.
  std::vector<int64_t> rest;
  for (int64_t q : wrong)
    if (std::find(picked.begin(), picked.end(), q) == picked.end()) rest.push_back(q);
  spread(rest, static_cast<size_t>(n) - std::min(picked.size(), static_cast<size_t>(n)), &picked);
  std::sort(picked.begin(), picked.end());
  return picked;
}

std::string CurveSvg(const std::map<int, double>& curve) {
  const double w = 480, h = 240, pad = 36;
  int max_n = curve.empty() ? 1 : curve.rbegin()->first;
  auto x = [&](int n) { return pad + (w - 2 * pad) * (max_n > 1 ? (n - 1.0) / (max_n - 1.0) : 0.0); };
  auto y = [&](double r) { return h - pad - (h - 2 * pad) * r; };
  std::string points, dots;
  for (const auto& [n, r] : curve) {
    points += fmt::format("{:.1f},{:.1f} ", x(n), y(r));
    dots += fmt::format("<circle cx={:.1f} cy={:.1f} r=2.5><title>R@{}: {:.1f}%</title></circle>", x(n), y(r), n,
                        100 * r);
  }
  std::string grid;
  for (int pct = 0; pct <= 100; pct += 25)
    grid += fmt::format("<line x1={} x2={} y1={:.1f} y2={:.1f} class=grid /><text x={} y={:.1f} class=tick>{}%</text>",
                        pad, w - pad, y(pct / 100.0), y(pct / 100.0), 2, y(pct / 100.0) + 4, pct);
  return fmt::format(
      "<svg width={} height={} viewBox='0 0 {} {}'>{}<polyline points='{}' class=curve />{}"
      "<text x={} y={} class=tick>N = 1</text><text x={} y={} class=tick text-anchor=end>N = {}</text></svg>",
      w, h, w, h, grid, points, dots, pad, h - 8, w - pad, h - 8, max_n);
}

std::string RecallTable(const nlohmann::json& metrics) {
  std::string head = "<tr><th></th>", row = "<tr><th>recall</th>";
  for (const auto& [n, r] : RecallByN(metrics.at("recall_at"))) {
    head += fmt::format("<th>R@{}</th>", n);
    row += fmt::format("<td>{:.1f}%</td>", 100 * r);
  }
  return "<table>" + head + "</tr>" + row + "</tr></table>";
}

std::string DimensionTable(const nlohmann::json& metrics) {
  if (!metrics.contains("recall_vs_dim")) return "";
  std::string out = "<h2>Recall against descriptor size (PCA-whitening fitted on the database)</h2><table>"
                    "<tr><th>dimension</th><th>bytes</th>";
  const auto& rows = metrics["recall_vs_dim"];
  if (rows.empty()) return "";
  for (const auto& [n, r] : RecallByN(rows[0].at("recall_at"))) out += fmt::format("<th>R@{}</th>", n);
  out += "</tr>";
  for (const auto& row : rows) {
    out += fmt::format("<tr><td>{}</td><td>{}</td>", row.at("dim").dump(), row.at("bytes_per_descriptor").dump());
    for (const auto& [n, r] : RecallByN(row.at("recall_at"))) out += fmt::format("<td>{:.1f}%</td>", 100 * r);
    out += "</tr>";
  }
  return out + "</table>";
}

std::string QueryRow(const Dataset& dataset, const KnnResult& knn, const std::vector<int64_t>& positives, int64_t q,
                     const ReportOptions& options) {
  std::string row = "<div class=row>" +
                    Figure(dataset.queries[q], fmt::format("query {}: {}", q, dataset.query_names[q]), "query",
                           options.thumb_height);
  for (int64_t r = 0; r < std::min<int64_t>(knn.k, options.thumbs_per_query); ++r) {
    int64_t id = knn.id(q, r);
    if (id < 0) break;
    bool ok = Correct(positives, id);
    row += Figure(dataset.database[id],
                  fmt::format("#{} {} {} d={:.3f}", r + 1, ok ? "✓" : "✗", dataset.database_names[id], knn.distance(q, r)),
                  ok ? "right" : "wrong", options.thumb_height);
  }
  if (knn.id(q, 0) < 0) row += "<p>no descriptor: the query image could not be read</p>";
  return row + "</div>";
}

const char* kStyle =
    "body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}"
    "td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}.row{display:flex;gap:6px;margin:10px 0;"
    "align-items:flex-start}figure{margin:0;font-size:11px;max-width:220px;word-break:break-all}"
    "figure img,.missing{border:4px solid #999;display:block}.query img{border-color:#36c}.right img{border-color:#2a2}"
    ".wrong img{border-color:#d22}.missing{background:#eee;width:128px}.curve{fill:none;stroke:#36c;stroke-width:2}"
    "circle{fill:#36c}.grid{stroke:#ddd}.tick{font-size:10px;fill:#666}pre{background:#f6f6f6;padding:8px}";

}  // namespace

std::string RenderReportHtml(const Dataset& dataset, const KnnResult& knn,
                             const std::vector<std::vector<int64_t>>& positives, const nlohmann::json& metrics,
                             const ReportOptions& options) {
  std::vector<int> all_n;
  for (int n = 1; n <= knn.k; ++n) all_n.push_back(n);
  std::string html = fmt::format(
      "<!doctype html><html><head><meta charset=utf-8><title>vpr eval report</title><style>{}</style></head><body>"
      "<h1>vpr eval</h1><p>{} database and {} query images; positives within {} {}; descriptor {}-d ({} bytes); "
      "{:.1f} ms per image, {:.3f} ms per query search.</p>",
      kStyle, dataset.database.size(), dataset.queries.size(), dataset.positive_radius, dataset.position_unit,
      metrics.value("descriptor_dim", 0), metrics.value("bytes_per_descriptor", 0), metrics.value("ms_per_image", 0.0),
      metrics.value("ms_per_query", 0.0));
  html += RecallTable(metrics) + "<h2>Recall@N</h2>" + CurveSvg(RecallAtN(knn, positives, all_n));
  html += DimensionTable(metrics);
  html += "<h2>Sample queries</h2><p>Query (blue) and its top retrievals: green correct, red wrong.</p>";
  for (int64_t q : SampleQueries(knn, positives, options.sample_queries))
    html += QueryRow(dataset, knn, positives[q], q, options);
  html += "<h2>Run</h2><pre>" + Escape(metrics.dump(2)) + "</pre></body></html>\n";
  return html;
}

}  // namespace vpr
