#include "vpr/eval/precision_recall.h"

#include <algorithm>

#include "vpr/util/check.h"

namespace vpr {

PrecisionRecall ComputePrecisionRecall(const std::vector<Top1Match>& matches) {
  PrecisionRecall out;
  std::vector<const Top1Match*> accepted;
  for (const Top1Match& m : matches) {
    out.queries_with_positive += m.has_positive;
    if (m.retrieved) accepted.push_back(&m);
  }
  std::stable_sort(accepted.begin(), accepted.end(),
                   [](const Top1Match* a, const Top1Match* b) { return a->confidence > b->confidence; });
  const double denominator = static_cast<double>(std::max<int64_t>(1, out.queries_with_positive));
  int64_t correct = 0;
  bool all_correct = true;
  for (size_t i = 0; i < accepted.size(); ++i) {
    correct += accepted[i]->correct;
    all_correct = all_correct && accepted[i]->correct;
    // One point per distinct score: a threshold cannot split tied queries.
    if (i + 1 < accepted.size() && accepted[i + 1]->confidence == accepted[i]->confidence) continue;
    PrPoint p;
    p.threshold = accepted[i]->confidence;
    p.accepted = static_cast<int64_t>(i + 1);
    p.correct = correct;
    p.precision = static_cast<double>(correct) / p.accepted;
    p.recall = correct / denominator;
    out.average_precision += (p.recall - (out.curve.empty() ? 0.0 : out.curve.back().recall)) * p.precision;
    if (all_correct) out.recall_at_full_precision = p.recall;
    out.curve.push_back(p);
  }
  return out;
}

std::vector<Top1Match> Top1Matches(const KnnResult& knn, const std::vector<std::vector<int64_t>>& positives,
                                   bool larger_is_closer) {
  VPR_CHECK(static_cast<int64_t>(positives.size()) == knn.num_queries, "ground truth has ", positives.size(),
            " queries but the search returned ", knn.num_queries);
  std::vector<Top1Match> out(knn.num_queries);
  for (int64_t q = 0; q < knn.num_queries; ++q) {
    Top1Match& m = out[q];
    const int64_t id = knn.k > 0 ? knn.id(q, 0) : -1;
    m.has_positive = !positives[q].empty();
    m.retrieved = id >= 0;
    if (!m.retrieved) continue;
    m.confidence = larger_is_closer ? knn.distance(q, 0) : -knn.distance(q, 0);
    m.correct = std::binary_search(positives[q].begin(), positives[q].end(), id);
  }
  return out;
}

}  // namespace vpr
