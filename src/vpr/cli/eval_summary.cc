#include "vpr/cli/eval_summary.h"

#include <fmt/format.h>

#include <string>

namespace vpr {
namespace {

void PrintRecall(const Scores& scores, int64_t num_queries, size_t failed_queries, const std::string& after = "") {
  std::string header = "  ", values = "  ", counts = "  ";
  for (const auto& [n, r] : scores.recall) {
    header += fmt::format("{:>9}", fmt::format("R@{}", n));
    values += fmt::format("{:>9.1f}", 100.0 * r);
    counts += fmt::format("{:>9}", fmt::format("{}/{}", scores.hits.at(n), num_queries));
  }
  fmt::print("\nRecall@N{} on {} queries (percent; failed queries count as misses: {}):\n{}\n{}\n{}\n\n", after,
             num_queries, failed_queries, header, values, counts);
}

void PrintRerank(const EvalResult& result) {
  const RerankStats& s = result.rerank;
  const RerankOptions& o = result.rerank_options;
  const Top1Changes& c = result.top1_changes;
  fmt::print("Re-ranked the top {} of {} queries by geometric verification ({}, {}): {} of {} pairs verified, "
             "{} within {} of the top-1's distance; {} queries changed their top-1 ({} miss to hit, {} hit to "
             "miss); {:.1f} ms per image's features, {:.1f} ms per pair, {:.1f} s in all\n",
             o.depth, s.queries_reranked, o.verifier.features, o.verifier.model, s.verified_pairs, s.pairs,
             s.within_margin, o.margin, c.changed, c.miss_to_hit, c.hit_to_miss, s.extract_ms, s.verify_ms, s.seconds);
}

void PrintRecallVsDimension(const std::vector<DimRecall>& table) {
  if (table.empty()) return;
  std::string out = fmt::format("Recall@N against descriptor size (PCA-whitened on the database):\n  {:>6} {:>7}", "dim",
                                "bytes");
  for (const auto& [n, r] : table[0].recall) out += fmt::format("{:>8}", fmt::format("R@{}", n));
  for (const DimRecall& row : table) {
    out += fmt::format("\n  {:>6} {:>7}", row.dim, row.bytes_per_descriptor);
    for (const auto& [n, r] : row.recall) out += fmt::format("{:>8.1f}", 100 * r);
  }
  fmt::print("{}\n\n", out);
}

}  // namespace

void PrintEvalSummary(const EvalResult& result) {
  const EvalReport& r = result.report;
  const size_t failed = result.run.failed_queries.size();
  if (result.reranked()) {
    PrintRecall(result.before_rerank, r.num_queries, failed);
    PrintRerank(result);
    PrintRecall(r.scores, r.num_queries, failed, fmt::format(" after re-ranking the top {}", result.rerank_options.depth));
  } else {
    PrintRecall(r.scores, r.num_queries, failed);
  }
  fmt::print("Top-1 precision-recall (VPR-Bench): AP {:.3f}, recall at 100% precision {:.1f}%\n\n",
             r.scores.pr.average_precision, 100 * r.scores.pr.recall_at_full_precision);
  PrintRecallVsDimension(r.recall_vs_dim);
}

}  // namespace vpr
