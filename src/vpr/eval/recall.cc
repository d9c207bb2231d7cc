#include "vpr/eval/recall.h"

#include <faiss/IndexFlat.h>
#include <algorithm>
#include <cmath>
#include <faiss/impl/AuxIndexStructures.h>

#include "vpr/util/check.h"

namespace vpr {

std::map<int, double> RecallAtN(const KnnResult& result, const std::vector<std::vector<int64_t>>& positives,
                                const std::vector<int>& ns) {
  VPR_CHECK(static_cast<int64_t>(positives.size()) == result.num_queries, "ground truth has ", positives.size(),
            " queries but the search returned ", result.num_queries);
  std::map<int, double> recall;
  if (result.num_queries == 0) return recall;
  for (int n : ns) {
    VPR_CHECK(n > 0 && n <= result.k, "recall@", n, " needs N between 1 and the search depth ", result.k);
    int64_t hits = 0;
    for (int64_t q = 0; q < result.num_queries; ++q) {
      const auto& pos = positives[q];
      for (int64_t r = 0; r < n; ++r) {
        if (std::find(pos.begin(), pos.end(), result.id(q, r)) != pos.end()) {
          ++hits;
          break;
        }
      }
    }
    recall[n] = static_cast<double>(hits) / result.num_queries;
  }
  return recall;
}

std::vector<std::vector<int64_t>> PositivesWithinRadius(const std::vector<double>& db_positions,
                                                        const std::vector<double>& query_positions,
                                                        double radius) {
  VPR_CHECK(db_positions.size() % 2 == 0 && query_positions.size() % 2 == 0, "positions must be n x 2");
  VPR_CHECK(radius >= 0, "the positive radius must be non-negative, got ", radius);
  // FAISS range search on float positions centred on the first finite database point, so
  // that UTM coordinates (~1e6 m) keep sub-metre precision in float32 and one NaN
  // position loses only its own image.
  size_t n_db = db_positions.size() / 2, n_q = query_positions.size() / 2;
  std::vector<std::vector<int64_t>> positives(n_q);
  if (n_db == 0 || n_q == 0) return positives;
  double ox = 0, oy = 0;
  for (size_t i = 0; i < db_positions.size(); i += 2) {
    if (std::isfinite(db_positions[i]) && std::isfinite(db_positions[i + 1])) {
      ox = db_positions[i];
      oy = db_positions[i + 1];
      break;
    }
  }
  auto centred = [&](const std::vector<double>& p) {
    std::vector<float> out(p.size());
    for (size_t i = 0; i < p.size(); i += 2) {
      out[i] = static_cast<float>(p[i] - ox);
      out[i + 1] = static_cast<float>(p[i + 1] - oy);
    }
    return out;
  };
  std::vector<float> db = centred(db_positions), q = centred(query_positions);
  faiss::IndexFlatL2 index(2);
  index.add(n_db, db.data());
  faiss::RangeSearchResult found(n_q);
  // Squared radius, nudged so that points exactly on the circle count as positives.
  index.range_search(n_q, q.data(), static_cast<float>(radius * radius) * (1.0f + 1e-6f) + 1e-6f, &found);
  for (size_t i = 0; i < n_q; ++i) {
    for (size_t j = found.lims[i]; j < found.lims[i + 1]; ++j) positives[i].push_back(found.labels[j]);
    std::sort(positives[i].begin(), positives[i].end());
  }
  return positives;
}

std::vector<std::vector<int64_t>> DatasetPositives(const Dataset& dataset) {
  if (dataset.HasExplicitPositives()) return dataset.explicit_positives;
  return PositivesWithinRadius(dataset.database_positions, dataset.query_positions, dataset.positive_radius);
}

}  // namespace vpr
